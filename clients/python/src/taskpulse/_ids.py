"""Event ids: UUIDv7, made by the client so that a retried batch is stored once.

The standard library makes UUIDv7 only from Python 3.14 on, and the layout
(RFC 9562) is a dozen lines, so it is written here rather than pulled in.
"""

from __future__ import annotations

import os
import threading
import time

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7() -> str:
    """A UUIDv7 string. Ids made by one process increase: within a
    millisecond a 12-bit counter (method 1 of RFC 9562) follows the time,
    so ids also sort in the order they were made."""
    global _last_ms, _counter
    rand = int.from_bytes(os.urandom(8), "big")
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms > _last_ms:
            _last_ms, _counter = ms, rand >> 52  # a random start, as the RFC suggests
        elif _counter < 0xFFF:
            _counter += 1
        else:  # more than 4096 ids this millisecond: borrow the next one
            _last_ms, _counter = _last_ms + 1, 0
        ms, counter = _last_ms, _counter
    high = (ms & 0xFFFF_FFFF_FFFF) << 16 | 0x7000 | counter
    low = 0b10 << 62 | rand & ((1 << 62) - 1)
    h = f"{high:016x}{low:016x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
