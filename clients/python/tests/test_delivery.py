"""Retries, lost answers, a server killed and restarted, a full queue and
refused items: every acknowledged event stored once, the rest counted."""

from __future__ import annotations

import pytest

from taskpulse import Backoff, Client
from conftest import PATIENCE, eventually

FAST = Backoff(base=0.02, cap=0.2)


def settle(server, client):
    """Flush, then wait until sentinels sent after everything else are
    stored: the writer keeps each topic's order, so what came before them
    is stored too, and counts can be compared exactly."""
    assert client.flush(PATIENCE)
    with Client(server.url) as direct:
        sentinel = direct.task("sentinel")
        sentinel.log("INFO", "sentinel")
        sentinel.complete()
    server.wait_task("sentinel", "completed", 1)
    eventually(lambda: len(server.task_logs("sentinel")) == 1, "the sentinel log")


def test_503_with_retry_after_then_recovery(server, proxy):
    proxy.faults = ["503", "503"]
    with Client(proxy.url, flush_interval=0.05, backoff=FAST) as client:
        with client.task("through-503") as t:
            t.update(progress=50)
        assert client.flush(PATIENCE)
        stats = client.stats
    server.wait_task("through-503", "completed", 3)
    assert stats.retries >= 2 and stats.sent == 3
    # Retry-After: 1 was honoured both times.
    assert proxy.arrivals[1] - proxy.arrivals[0] >= 0.9
    assert proxy.arrivals[2] - proxy.arrivals[1] >= 0.9


def test_batch_retried_after_a_lost_answer_is_stored_once(server, proxy):
    proxy.faults = ["lose"]
    client = Client(proxy.url, flush_interval=3600, max_batch=1000, backoff=FAST)
    with client.task("lost-answer") as t:
        for i in range(50):
            t.log("INFO", f"line {i}")
        t.update(progress=50)
    settle(server, client)
    client.close()
    # The first batch reached the server twice: once unanswered, once again.
    assert len(proxy.arrivals) >= 3 and client.stats.retries >= 1
    assert server.get("/v1/tasks/lost-answer")["events"] == 3
    assert len(server.task_logs("lost-answer")) == 50


def test_server_killed_and_restarted(server):
    client = Client(server.url, flush_interval=0.05, backoff=FAST)
    server.kill()
    with client.task("outage", steps_total=10) as t:
        for i in range(10):
            t.update(steps_done=i + 1)
    eventually(lambda: client.stats.retries >= 3, "the client retrying")
    server.start()
    settle(server, client)
    client.close()
    assert server.get("/v1/tasks/outage")["events"] == 12
    assert client.stats.sent == 12 and client.stats.unsent == 0


def test_rate_limit_429_is_waited_out(server_factory):
    server = server_factory("--ingest-events-rate", "200", "--ingest-events-burst", "100")
    with Client(server.url, max_batch=50, flush_interval=0.05, backoff=FAST) as client:
        with client.task("limited") as t:
            for i in range(400):
                t.log("INFO", f"line {i}")
        assert client.flush(PATIENCE)
        stats = client.stats
    assert stats.retries >= 1 and stats.sent == 402
    server.wait_task("limited", "completed", 2)
    eventually(lambda: len(server.task_logs("limited")) == 400, "400 logs")


def test_full_queue_drops_and_counts_but_keeps_the_final_status(server):
    # No batch leaves before the final status, so the queue fills.
    client = Client(server.url, max_queue=10, max_batch=1000, flush_interval=3600)
    with client.task("overflow") as t:
        for i in range(30):
            t.update(progress=i)
    settle(server, client)
    client.close()
    assert client.stats.dropped == 21
    state = server.get("/v1/tasks/overflow")
    assert (state["status"], state["events"]) == ("completed", 11)


def test_items_the_server_refuses_are_dropped_and_the_rest_sent(server):
    client = Client(server.url, flush_interval=3600, max_batch=1000)
    client.log("INFO", "first", task_id="refusals")
    client.log("INFO", "too long an id", task_id="x" * 300)
    client.log("INFO", "third", task_id="refusals")
    settle(server, client)
    client.close()
    assert (client.stats.sent, client.stats.rejected) == (2, 1)
    assert sorted(r["message"] for r in server.task_logs("refusals")) == ["first", "third"]


def test_close_counts_what_it_could_not_send(server):
    server.kill()
    client = Client(server.url, backoff=FAST)
    for i in range(5):
        client.metric("queue_depth", i)
    client.close(timeout=0.3)
    assert (client.stats.unsent, client.stats.sent, client.stats.queued) == (5, 0, 0)


@pytest.mark.parametrize("bad", [{"max_batch": 0}, {"max_queue": 0}, {"flush_interval": 0}])
def test_settings_that_cannot_work_are_refused(bad):
    with pytest.raises(ValueError):
        Client("http://127.0.0.1:1", **bad)
