"""Client-side speed: events/s a Client sustains against a running
server, and what t.update and track() cost the caller per call.

    python bench/bench.py --url http://127.0.0.1:8080 --events 100000
"""

from __future__ import annotations

import argparse
import time

from taskpulse import Client, track


def events_per_second(url: str, n: int, senders: int) -> None:
    # The queue holds all n, so that none is dropped and the figure is
    # what the client sustains; the rest is the default but for the
    # number of senders, compared within one run.
    client = Client(url, max_queue=n, senders=senders)
    start = time.perf_counter()
    for i in range(n):
        client.log("INFO", "fetched 140 pages from react.dev", task_id="bench", source="scraper")
    client.close(timeout=600)
    elapsed = time.perf_counter() - start
    stats = client.stats
    print(f"senders={senders}: {stats.sent} sent in {elapsed:.2f}s = {stats.sent / elapsed:,.0f} events/s "
          f"(dropped {stats.dropped}, unsent {stats.unsent})")


def per_call(url: str, n: int) -> None:
    client = Client(url, max_queue=n + 10)
    with client.task("bench-update", steps_total=n) as t:
        start = time.perf_counter()
        for i in range(n):
            t.update(progress=50, steps_done=i + 1)
        update = (time.perf_counter() - start) / n
    with client.task("bench-track") as t:
        start = time.perf_counter()
        for _ in track(range(n), task=t):
            pass
        tracked = (time.perf_counter() - start) / n
        start = time.perf_counter()
        for _ in range(n):
            pass
        bare = (time.perf_counter() - start) / n
    client.close(timeout=600)
    print(f"t.update: {update * 1e6:.2f} µs/call over {n} calls")
    print(f"track(): {(tracked - bare) * 1e6:.3f} µs/iteration over {n} iterations (loop alone {bare * 1e6:.3f} µs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the server's base URL")
    parser.add_argument("--events", type=int, default=100_000, help="log lines to send")
    parser.add_argument("--calls", type=int, default=100_000, help="t.update calls and track() iterations to time")
    args = parser.parse_args()
    per_call(args.url, args.calls)
    for senders in (1, 4):
        events_per_second(args.url, args.events, senders)


if __name__ == "__main__":
    main()
