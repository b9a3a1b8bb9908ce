"""The bounded queue between the code that reports and the sender."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Deque, Dict, List, Optional, Tuple

Event = Dict[str, Any]

# The ingest routes, one per signal; a batch holds one signal.
ROUTES = {"progress": "/v1/progress", "logs": "/v1/logs", "metrics": "/v1/metrics"}


@dataclass(frozen=True)
class Stats:
    """What became of the events handed to a client so far."""

    queued: int  # waiting to be sent, or being sent
    sent: int  # acknowledged: durable on the server
    dropped: int  # refused because the queue was full
    rejected: int  # refused by the server as invalid
    unsent: int  # still unsent when the client closed
    retries: int  # requests sent again after a failure or a 429/503


class Queue:
    """Events waiting to be sent, per signal, safe to use from any thread.

    The queue holds at most max_size events; past it a new event is
    dropped and counted, except a task's final status, which is always
    taken: losing it would leave the task running for ever.
    """

    def __init__(self, max_size: int) -> None:
        self._max_size = max_size
        self._lock = threading.Lock()
        self._pending: Dict[str, Deque[Event]] = {signal: deque() for signal in ROUTES}
        self._size = 0  # pending, not yet taken by a sender
        self._order = list(ROUTES)
        self._turn = 0  # the signal next() looks at first
        self._added = 0
        self._settled = 0  # sent, rejected or given up
        self._sent = self._dropped = self._rejected = self._unsent = self._retries = 0

    def put(self, signal: str, event: Event, final: bool = False) -> Tuple[bool, int]:
        """Queue an event. Returns whether it was taken and how many
        events wait now."""
        with self._lock:
            if self._size >= self._max_size and not final:
                self._dropped += 1
                return False, self._size
            self._pending[signal].append(event)
            self._size += 1
            self._added += 1
            return True, self._size

    def next(self, max_batch: int) -> Optional[Tuple[str, List[Event]]]:
        """Take the next batch of at most max_batch events, the signals
        taking turns; None when nothing waits."""
        with self._lock:
            for _ in ROUTES:
                signal = self._order[self._turn]
                self._turn = (self._turn + 1) % len(self._order)
                pending = self._pending[signal]
                if pending:
                    n = min(max_batch, len(pending))
                    self._size -= n
                    return signal, [pending.popleft() for _ in range(n)]
        return None

    def waiting(self) -> int:
        with self._lock:
            return self._size

    def put_back(self, signal: str, events: List[Event]) -> None:
        """Return a taken batch, unsent, to the front of its queue."""
        with self._lock:
            self._pending[signal].extendleft(reversed(events))
            self._size += len(events)

    def settle(self, sent: int = 0, rejected: int = 0, unsent: int = 0) -> None:
        with self._lock:
            self._sent += sent
            self._rejected += rejected
            self._unsent += unsent
            self._settled += sent + rejected + unsent

    def retried(self) -> None:
        with self._lock:
            self._retries += 1

    def added(self) -> int:
        """How many events were ever queued; flush waits until as many are settled."""
        with self._lock:
            return self._added

    def settled(self) -> int:
        with self._lock:
            return self._settled

    def give_up(self) -> int:
        """Count everything still pending as unsent, and forget it."""
        lost = 0
        while True:
            batch = self.next(1 << 30)
            if batch is None:
                break
            lost += len(batch[1])
        self.settle(unsent=lost)
        return lost

    def stats(self) -> Stats:
        with self._lock:
            return Stats(
                queued=self._added - self._settled,
                sent=self._sent,
                dropped=self._dropped,
                rejected=self._rejected,
                unsent=self._unsent,
                retries=self._retries,
            )
