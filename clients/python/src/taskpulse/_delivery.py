"""How one batch reaches the server, apart from the I/O.

A Delivery says what to post and, from each answer or failure, how long
to wait before posting again (None: done). The sync and async senders
only move bytes and sleep, so both follow the same rules:

- 2xx: the batch is durable. The answer's `accepted` is all that is read,
  beside `control`, the requests pending for the tasks it reported on:
  `{"control":[{"task_id":"job-1","action":"cancel",...}]}`.
- 400 naming bad items: those are dropped (logged, counted as rejected)
  and the rest are sent again at once; the server took nothing.
- 408, 429 and 5xx, or no answer at all: sent again after an exponential
  backoff with full jitter, or after Retry-After when the server gives
  one. The events keep their ids, so a batch whose answer was lost is
  stored once however often it is sent.
- Any other answer: the batch is rejected, logged and counted.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import time
from typing import Any, Callable, Dict, List, Mapping, Optional

from ._queue import Event, Queue

log = logging.getLogger("taskpulse")

ControlHandler = Callable[[List[Dict[str, Any]]], None]


class Backoff:
    """Exponential backoff with full jitter: attempt n waits a random time
    below min(cap, base * 2**n)."""

    def __init__(self, base: float = 0.1, cap: float = 30.0) -> None:
        self.base = base
        self.cap = cap

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.cap, self.base * 2 ** min(attempt, 30)))


class Delivery:
    def __init__(
        self, signal: str, events: List[Event], queue: Queue, backoff: Backoff, on_control: ControlHandler
    ) -> None:
        self.signal = signal
        self.events = events
        self._queue = queue
        self._backoff = backoff
        self._on_control = on_control
        self._attempt = 0

    def body(self) -> bytes:
        return json.dumps(self.events, separators=(",", ":"), ensure_ascii=False).encode()

    def answered(self, status: int, headers: Mapping[str, str], content: bytes) -> Optional[float]:
        """The wait before the next attempt after this answer, or None when done."""
        if 200 <= status < 300:
            self._queue.settle(sent=len(self.events))
            controls = parse_controls(_json(content))
            if controls:
                self._on_control(controls)
            return None
        error = _json(content).get("error")
        error = error if isinstance(error, dict) else {}
        if status == 400 and self._drop_bad_items(error.get("details")):
            return 0.0 if self.events else None
        if status in (408, 429) or status >= 500:
            return self._retry(retry_after(headers.get("retry-after")))
        log.error(
            "taskpulse refused %d %s events: %d %s: %s",
            len(self.events), self.signal, status, error.get("code", ""), error.get("message", ""),
        )
        self._queue.settle(rejected=len(self.events))
        return None

    def failed(self, err: Exception) -> float:
        """The wait before the next attempt after a request got no answer."""
        log.debug("taskpulse %s request failed: %s", self.signal, err)
        return self._retry(None)

    def give_up(self) -> None:
        log.error("taskpulse gave up on %d %s events: the client closed before the server took them",
                  len(self.events), self.signal)
        self._queue.settle(unsent=len(self.events))

    def _retry(self, after: Optional[float]) -> float:
        self._queue.retried()
        wait = self._backoff.delay(self._attempt)
        self._attempt += 1
        if after is not None:  # the server knows best; jitter only spreads clients out
            wait = after + wait * 0.1
        return wait

    def _drop_bad_items(self, details: object) -> bool:
        """Drop the items a 400 names, keeping the rest; False when it names none."""
        if not isinstance(details, list):
            return False
        bad = {d["index"] for d in details if isinstance(d, dict) and isinstance(d.get("index"), int)}
        if not bad or not bad <= set(range(len(self.events))):
            return False
        for d in details:
            log.error("taskpulse refused a %s event: %s %s", self.signal, d.get("field", ""), d.get("reason", ""))
        self._queue.settle(rejected=len(bad))
        self.events = [e for i, e in enumerate(self.events) if i not in bad]
        return True


def parse_controls(answer: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The control requests of an answer: each a dict with task_id,
    action, requested_at, requested_by and ack_deadline."""
    control = answer.get("control")
    if not isinstance(control, list):
        return []
    return [r for r in control if isinstance(r, dict) and isinstance(r.get("task_id"), str) and isinstance(r.get("action"), str)]


def retry_after(value: Optional[str]) -> Optional[float]:
    """Retry-After in seconds, given as seconds or as an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _json(content: bytes) -> Dict[str, Any]:
    try:
        value = json.loads(content)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
