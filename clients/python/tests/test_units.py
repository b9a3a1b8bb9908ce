"""Parts that need no server: ids, the answer's fields, Retry-After."""

from __future__ import annotations

import uuid

import pytest

from taskpulse import Backoff, Client, TaskCancelled, uuid7
from taskpulse._delivery import Delivery, parse_controls, retry_after
from taskpulse._queue import Queue


def test_uuid7_is_a_version_7_uuid_that_increases():
    ids = [uuid7() for _ in range(10_000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    parsed = uuid.UUID(ids[0])
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122


CANCEL = {"task_id": "a", "action": "cancel", "requested_at": "2026-12-04T06:20:00.000Z", "requested_by": "ana"}


@pytest.mark.parametrize(
    "answer, want",
    [
        ({"accepted": 2}, []),
        ({"accepted": 2, "control": "cancel"}, []),
        ({"accepted": 2, "control": {"a": "cancel"}}, []),
        ({"accepted": 2, "control": [CANCEL, {"task_id": 1}, "x"]}, [CANCEL]),
    ],
)
def test_parse_controls(answer, want):
    assert parse_controls(answer) == want


@pytest.mark.parametrize("value, want", [(None, None), ("", None), ("3", 3.0), ("-1", 0.0), ("soon", None),
                                         ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)])
def test_retry_after(value, want):
    assert retry_after(value) == want


def test_control_answer_cancels_the_next_update():
    client = Client("http://127.0.0.1:1", flush_interval=3600)
    try:
        with pytest.raises(TaskCancelled):
            with client.task("asked-to-stop") as t:
                batch = Delivery("progress", [{"task_id": t.id}], Queue(10), Backoff(), client._control)
                assert batch.answered(202, {}, b'{"accepted":1,"control":[{"task_id":"asked-to-stop","action":"cancel"}]}') is None
                assert t.cancel_requested
                t.update(progress=50)
        assert client._queue.stats().queued == 2  # running, then cancelled
    finally:
        client.close(timeout=0)
