"""The task handle, track() and the logging handler against a real server."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from conftest import eventually
from taskpulse import Client, LogHandler, current_task, track


@pytest.fixture
def client(server):
    c = Client(server.url, flush_interval=0.05)
    yield c
    c.close()


def test_block_reports_running_then_completed(server, client):
    with client.task("scrape-react", task_type="scrape_docs", name="Scrape React", steps_total=20) as t:
        t.update(progress=35, step="scraping", message="140 pages", steps_done=7)
    client.flush()
    state = server.wait_task("scrape-react", "completed", 3)
    assert state["progress"] == 100
    assert state["steps_done"] == 20 and state["steps_total"] == 20
    assert state["task_type"] == "scrape_docs" and state["task_name"] == "Scrape React"
    middle = server.task_events("scrape-react")[1]
    assert (middle["progress"], middle["current_step"], middle["message"]) == (35, "scraping", "140 pages")
    assert client.stats.sent == 3 and client.stats.dropped == 0


def test_exception_fails_the_task_and_is_raised(server, client):
    with pytest.raises(ValueError, match="no pages"):
        with client.task("failing") as t:
            t.update(progress=10)
            raise ValueError("no pages")
    client.flush()
    state = server.wait_task("failing", "failed", 3)
    assert state["error"] == "ValueError: no pages"


def test_keyboard_interrupt_cancels_the_task(server, client):
    with pytest.raises(KeyboardInterrupt):
        with client.task("interrupted"):
            raise KeyboardInterrupt
    client.flush()
    server.wait_task("interrupted", "cancelled", 2)


def test_decorator_reports_each_call_as_a_run(server, client):
    @client.task(task_type="nightly")
    def job(n: int) -> str:
        t = current_task()
        assert t is not None
        t.update(progress=50, message=f"half of {n}")
        return t.id

    first, second = job(1), job(2)
    assert first != second
    client.flush()
    for task_id in (first, second):
        assert server.wait_task(task_id, "completed", 3)["task_type"] == "nightly"


def test_track_reports_a_few_updates_and_always_the_last(server, client):
    with client.task("tracked") as t:
        for _ in track(range(10_000), task=t, interval=3600):
            pass
    client.flush()
    # running, the first item, the last item, completed: the hour-long
    # interval leaves nothing in between.
    server.wait_task("tracked", "completed", 4)
    events = server.task_events("tracked")
    assert [e.get("steps_done", 0) for e in events[1:3]] == [1, 10_000]
    assert events[2]["progress"] == 100


def test_track_stops_reporting_where_the_loop_broke(server, client):
    with client.task("broken-loop"):
        for i in track(iter(range(100))):  # no len(): counts only
            if i == 41:
                break
    client.flush()
    server.wait_task("broken-loop", "completed", 4)
    assert server.task_events("broken-loop")[2]["steps_done"] == 41


def test_log_handler_sends_records_with_their_task(server, client):
    logger = logging.getLogger("scraper")
    logger.setLevel(logging.DEBUG)
    handler = LogHandler(client)
    logger.addHandler(handler)
    try:
        with client.task("logged"):
            logger.warning("timeout on %s", "/docs/hooks")
        logger.info("outside any task")
    finally:
        logger.removeHandler(handler)
    client.flush()
    server.wait_task("logged", "completed", 2)
    logs = server.task_logs("logged")
    assert [(r["level"], r["message"], r["source"]) for r in logs] == [("WARNING", "timeout on /docs/hooks", "scraper")]
    outside = server.get("/v1/logs", text="outside")["logs"]
    assert len(outside) == 1 and "task_id" not in outside[0]


def test_metric_of_a_task(server, client):
    with client.task("measured") as t:
        t.metric("pages_fetched_total", 140, {"site": "react.dev"}, kind="counter")
    client.flush()
    server.wait_task("measured", "completed", 2)
    answer = server.get("/v1/metrics/series", **{"name": "pages_fetched_total", "agg": "sum", "from": "-1h",
                                                 "group_by": "site"})
    values = [p["v"] for s in answer["series"] for p in s["points"] if p["v"] is not None]
    assert values == [140]
    assert answer["series"][0]["labels"] == {"site": "react.dev"}


@pytest.mark.parametrize("program", [
    # Nothing wakes the sender before the exit: only the exit's flush sends.
    "c = taskpulse.Client(URL, flush_interval=3600)\n"
    "c.log('INFO', 'sent at exit', task_id=TASK)\n",
    # The loop ends with the line unsent; the exit sends what it left.
    "async def main():\n"
    "    c = taskpulse.AsyncClient(URL, flush_interval=3600)\n"
    "    c.log('INFO', 'sent at exit', task_id=TASK)\n"
    "asyncio.run(main())\n",
], ids=["sync", "async"])
def test_interpreter_exit_sends_what_is_queued(server, program, request):
    task = f"at-exit-{request.node.callspec.id}"
    prelude = f"import asyncio, taskpulse\nURL, TASK = {server.url!r}, {task!r}\n"
    subprocess.run([sys.executable, "-c", prelude + program], check=True, timeout=60)
    eventually(lambda: [r["message"] for r in server.task_logs(task)] == ["sent at exit"], "the line sent at exit")
