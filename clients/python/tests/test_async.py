"""AsyncClient: the same surface on an event loop."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from taskpulse import AsyncClient, LogHandler, current_task, track


async def test_task_block_and_exception(server):
    async with AsyncClient(server.url, flush_interval=0.05) as client:
        async with client.task("async-done", steps_total=4):
            async def pages():
                for i in range(4):
                    await asyncio.sleep(0)
                    yield i
            async for _ in track(pages(), interval=0):
                pass
        with pytest.raises(RuntimeError):
            async with client.task("async-failed"):
                raise RuntimeError("lost the connection")
        assert await client.flush()
    state = server.wait_task("async-done", "completed", 6)
    assert state["steps_done"] == 4
    assert server.wait_task("async-failed", "failed", 2)["error"] == "RuntimeError: lost the connection"


async def test_decorated_coroutine_cancelled(server):
    client = AsyncClient(server.url, flush_interval=0.05)
    started = asyncio.Event()

    @client.task("async-cancelled")
    async def job():
        started.set()
        await asyncio.sleep(3600)

    run = asyncio.ensure_future(job())
    await started.wait()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    await client.aclose()
    server.wait_task("async-cancelled", "cancelled", 2)


async def test_each_asyncio_task_logs_to_its_own_task(server):
    client = AsyncClient(server.url, flush_interval=0.05)
    logger = logging.getLogger("async-worker")
    logger.setLevel(logging.INFO)
    handler = LogHandler(client, source="worker")
    logger.addHandler(handler)

    async def work(name: str) -> None:
        async with client.task(name):
            await asyncio.sleep(0.01)
            logger.info("working on %s", current_task().id)

    try:
        await asyncio.gather(work("job-a"), work("job-b"))
        # A report from another thread reaches the loop's sender too.
        threading.Thread(target=client.log, args=("INFO", "from a thread"), kwargs={"task_id": "job-a"}).start()
        await asyncio.sleep(0.05)
        await client.aclose()
    finally:
        logger.removeHandler(handler)
    for name in ("job-a", "job-b"):
        server.wait_task(name, "completed", 2)
    assert [r["message"] for r in server.task_logs("job-b")] == ["working on job-b"]
    assert sorted(r["message"] for r in server.task_logs("job-a")) == ["from a thread", "working on job-a"]
    assert client.stats.sent == 7
