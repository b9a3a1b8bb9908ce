"""A person's control requests reaching a worker written with the client,
against a real server."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from conftest import eventually
from taskpulse import Client, TaskCancelled


@pytest.fixture
def client(server):
    c = Client(server.url, flush_interval=0.02)
    yield c
    c.close()


def ask(server, task_id: str, action: str) -> None:
    """A person's request, as the web UI sends it."""
    r = httpx.post(f"{server.url}/v1/tasks/{task_id}/{action}", json={"requested_by": "ana"})
    assert r.status_code == 202, r.text


def test_a_cancel_in_the_answer_stops_the_next_update(server, client):
    def person():
        eventually(lambda: (server.get("/v1/tasks/stop-me") or {}).get("status") == "running", "stop-me running")
        ask(server, "stop-me", "cancel")

    asking = threading.Thread(target=person, daemon=True)
    asking.start()
    with pytest.raises(TaskCancelled):
        with client.task("stop-me", task_type="scrape_docs") as t:
            for i in range(1, 10_000):
                t.update(progress=min(i, 99))
                time.sleep(0.02)
    asking.join()
    assert t.cancel_requested and t.requested["requested_by"] == "ana"
    client.flush()

    def acknowledged():
        state = server.get("/v1/tasks/stop-me")
        return state["status"] == "cancelled" and "acknowledged_at" in state.get("control", {})
    eventually(acknowledged, "the cancel acknowledged")


def test_a_worker_waits_for_a_pause(server, client):
    with client.task("long-poller") as t:
        client.flush()
        eventually(lambda: server.get("/v1/tasks/long-poller"), "long-poller stored")
        assert t.wait_control(wait=0) is None

        person = threading.Thread(target=ask, args=(server, "long-poller", "pause"), daemon=True)
        person.start()
        request = t.wait_control(wait=30)
        person.join()
        assert request["action"] == "pause" and request["task_id"] == "long-poller"
        assert t.requested == request and not t.cancel_requested
        with pytest.raises(ValueError):
            client.wait_control("long-poller", wait=61)
