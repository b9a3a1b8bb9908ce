"""Client and AsyncClient: queue reports, send them in the background."""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import time
import weakref
from urllib.parse import quote
from typing import Any, Callable, Dict, Iterator, List, Optional

import httpx

from ._delivery import Backoff, Delivery
from ._ids import uuid7
from ._queue import ROUTES, Event, Queue, Stats
from ._task import Task, current_task, truncate

log = logging.getLogger("taskpulse")

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class BaseClient:
    """What Client and AsyncClient share: making and queueing reports.

    Reports are batched by signal: a batch leaves when it holds max_batch
    events or its oldest is flush_interval seconds old; up to `senders`
    requests are in flight at once. Events are ordered by their
    timestamps and sequence numbers, not by the order requests arrive in,
    so parallel requests keep a task's order. At most max_queue events
    wait; past that new ones are dropped and counted in stats.dropped (a
    task's final status is always kept).
    """

    def __init__(
        self,
        base_url: str,
        api_key: Optional[str] = None,
        *,
        max_batch: int = 500,
        flush_interval: float = 0.2,
        max_queue: int = 100_000,
        timeout: float = 10.0,
        senders: int = 4,
        backoff: Optional[Backoff] = None,
    ) -> None:
        if max_batch < 1 or max_queue < 1 or senders < 1 or flush_interval <= 0:
            raise ValueError("max_batch, max_queue and senders must be at least 1, flush_interval positive")
        self.base_url = base_url.rstrip("/")
        self._headers = {"Content-Type": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._timeout = timeout
        self._max_batch = max_batch
        self._flush_interval = flush_interval
        self._senders = senders
        self._backoff = backoff or Backoff()
        self._queue = Queue(max_queue)
        # Tasks running now, so that a control answer reaches their handle.
        self._tasks: "weakref.WeakValueDictionary[str, Task]" = weakref.WeakValueDictionary()

    @property
    def stats(self) -> Stats:
        return self._queue.stats()

    def task(
        self,
        task_id: Optional[str] = None,
        *,
        task_type: Optional[str] = None,
        name: Optional[str] = None,
        user_id: Optional[str] = None,
        steps_total: Optional[int] = None,
        attributes: Optional[Dict[str, str]] = None,
    ) -> Task:
        """A task handle, to use with `with`/`async with` or as a decorator.
        Without a task_id each run gets a new UUIDv7."""
        return Task(
            self, task_id, task_type=task_type, name=name, user_id=user_id,
            steps_total=steps_total, attributes=attributes,
        )

    def log(
        self,
        level: str,
        message: str,
        *,
        task_id: Optional[str] = None,
        source: Optional[str] = None,
        attributes: Optional[Dict[str, str]] = None,
        **fields: Any,
    ) -> None:
        """Queue a log line (level DEBUG, INFO, WARNING, ERROR or CRITICAL).
        task_id defaults to the task the caller runs in."""
        if level not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}")
        event = {"level": level, "message": truncate(message), **fields}
        self._enqueue("logs", _with_task(event, task_id, source=source, attributes=attributes))

    def metric(
        self,
        name: str,
        value: float,
        labels: Optional[Dict[str, str]] = None,
        *,
        task_id: Optional[str] = None,
        kind: Optional[str] = None,
        unit: Optional[str] = None,
        **fields: Any,
    ) -> None:
        """Queue a metric sample (kind gauge, the default, or counter).
        task_id defaults to the task the caller runs in."""
        event = {"name": name, "value": value, **fields}
        self._enqueue("metrics", _with_task(event, task_id, labels=labels, kind=kind, unit=unit))

    def _enqueue(self, signal: str, event: Event, final: bool = False) -> None:
        if "event_id" not in event:
            event["event_id"] = uuid7()
        if "timestamp" not in event:
            event["timestamp"] = time.time_ns() // 1_000_000
        taken, waiting = self._queue.put(signal, event, final)
        if not taken:
            dropped = self._queue.stats().dropped
            if dropped & (dropped - 1) == 0:  # 1, 2, 4, 8...: visible, not flooding
                log.warning("taskpulse queue full: %d events dropped so far", dropped)
        elif final or waiting >= self._max_batch:
            self._wake()

    def _wake(self) -> None:
        raise NotImplementedError

    def _watch(self, task: Task) -> None:
        self._tasks[task.id] = task

    def _unwatch(self, task: Task) -> None:
        if self._tasks.get(task.id) is task:
            del self._tasks[task.id]

    def _control(self, requests: List[Dict[str, Any]]) -> None:
        for request in requests:
            task = self._tasks.get(request["task_id"])
            if task is not None:
                task._asked(request)

    def wait_control(self, task_id: str, wait: float = 30.0) -> Optional[Dict[str, Any]]:
        """Wait up to wait seconds (at most 60) for a control request of the
        task, by long poll, for a worker that reports rarely: the request
        (task_id, action, requested_at, requested_by, ack_deadline), or
        None when none came. A task the client runs records it too, as
        the answer to a report would."""
        if not 0 <= wait <= 60:
            raise ValueError("wait must be from 0 to 60 seconds")
        url = f"{self.base_url}/v1/tasks/{quote(task_id, safe='')}/control"
        headers = {k: v for k, v in self._headers.items() if k != "Content-Type"}
        r = httpx.get(url, params={"wait": f"{wait:g}s"}, headers=headers, timeout=wait + self._timeout)
        if r.status_code == 204:
            return None
        r.raise_for_status()
        request: Dict[str, Any] = r.json()
        self._control([request])
        return request

    def _deliveries(self) -> Iterator[Delivery]:
        """The queued batches, one at a time. While one is sent another
        sender is woken for the rest: with several requests in flight the
        server acknowledges them together, at one bus sync."""
        while True:
            batch = self._queue.next(self._max_batch)
            if batch is None:
                return
            if self._queue.waiting():
                self._wake()
            yield Delivery(batch[0], batch[1], self._queue, self._backoff, self._control)

    def _url(self, delivery: Delivery) -> str:
        return self.base_url + ROUTES[delivery.signal]

    def _send_blocking(self, http: httpx.Client, delivery: Delivery, sleep: Callable[[float], bool]) -> None:
        """Send one batch until it is settled; sleep(seconds) returns True
        when the client is closing and the batch should be given up."""
        while True:
            wait: Optional[float]
            try:
                r = http.post(self._url(delivery), content=delivery.body(), headers=self._headers)
            except httpx.TransportError as err:
                wait = delivery.failed(err)
            else:
                wait = delivery.answered(r.status_code, r.headers, r.content)
            if wait is None:
                return
            if sleep(wait):
                delivery.give_up()
                return


class Client(BaseClient):
    """Sends reports from a background thread. close() (or leaving a
    `with Client(...)` block, or the interpreter's exit) sends what is
    queued, waiting up to its timeout."""

    def __init__(self, base_url: str, api_key: Optional[str] = None, **options: Any) -> None:
        super().__init__(base_url, api_key, **options)
        self._http = httpx.Client(timeout=self._timeout)
        self._wakeup = threading.Event()
        self._closing = threading.Event()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._run, name=f"taskpulse-sender-{i}", daemon=True) for i in range(self._senders)
        ]
        for thread in self._threads:
            thread.start()
        atexit.register(self.close)

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Wait until every event queued so far is sent (or refused);
        False when the timeout passed first."""
        target = self._queue.added()
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._queue.settled() < target:
            self._wake()
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Send what is queued, waiting up to timeout seconds, then stop.
        Events still unsent are counted in stats.unsent and logged."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        self.flush(timeout)
        self._closing.set()
        self._wake()
        for thread in self._threads:
            thread.join()
        lost = self._queue.give_up()
        if lost:
            log.error("taskpulse closed with %d events unsent", lost)
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _wake(self) -> None:
        self._wakeup.set()

    def _run(self) -> None:
        while not self._closing.is_set():
            self._wakeup.wait(self._flush_interval)
            self._wakeup.clear()
            for delivery in self._deliveries():
                self._send_blocking(self._http, delivery, self._closing.wait)


class AsyncClient(BaseClient):
    """Sends reports from a task on the running event loop, started by the
    first report made in a loop or by `async with`. Reports may be made
    from any thread. `await aclose()` (or leaving `async with`) sends what
    is queued; at the interpreter's exit, what a closed loop left behind is
    sent synchronously."""

    def __init__(self, base_url: str, api_key: Optional[str] = None, **options: Any) -> None:
        super().__init__(base_url, api_key, **options)
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._wakeup: Optional[asyncio.Event] = None
        self._sender: Optional["asyncio.Future[List[None]]"] = None
        self._closing = False
        atexit.register(self._send_leftovers)

    async def flush(self, timeout: Optional[float] = None) -> bool:
        """Wait until every event queued so far is sent (or refused);
        False when the timeout passed first."""
        self._start()
        target = self._queue.added()
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._queue.settled() < target:
            self._wake()
            if deadline is not None and time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.005)
        return True

    async def aclose(self, timeout: float = 10.0) -> None:
        """Send what is queued, waiting up to timeout seconds, then stop."""
        if self._closing:
            return
        flushed = await self.flush(timeout)
        self._closing = True
        atexit.unregister(self._send_leftovers)
        self._wake()
        if self._sender is not None:
            if not flushed:
                self._sender.cancel()
            try:
                await self._sender
            except asyncio.CancelledError:
                pass
        lost = self._queue.give_up()
        if lost:
            log.error("taskpulse closed with %d events unsent", lost)

    async def __aenter__(self) -> "AsyncClient":
        self._start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    def _enqueue(self, signal: str, event: Event, final: bool = False) -> None:
        super()._enqueue(signal, event, final)
        if self._sender is None or self._sender.done():
            self._start()

    def _start(self) -> None:
        if self._sender is not None and not self._sender.done():
            return
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop in this thread: the first report made in one starts the sender
        self._wakeup = asyncio.Event()
        self._sender = asyncio.gather(*(self._run() for _ in range(self._senders)))

    def _wake(self) -> None:
        loop, wakeup = self._loop, self._wakeup
        if loop is None or wakeup is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            wakeup.set()
        else:
            loop.call_soon_threadsafe(wakeup.set)

    async def _run(self) -> None:
        assert self._wakeup is not None
        async with httpx.AsyncClient(timeout=self._timeout) as http:
            while not self._closing:
                try:
                    await asyncio.wait_for(self._wakeup.wait(), self._flush_interval)
                except asyncio.TimeoutError:
                    pass
                self._wakeup.clear()
                for delivery in self._deliveries():
                    await self._send(http, delivery)

    async def _send(self, http: httpx.AsyncClient, delivery: Delivery) -> None:
        try:
            while True:
                wait: Optional[float]
                try:
                    r = await http.post(self._url(delivery), content=delivery.body(), headers=self._headers)
                except httpx.TransportError as err:
                    wait = delivery.failed(err)
                else:
                    wait = delivery.answered(r.status_code, r.headers, r.content)
                if wait is None:
                    return
                if self._closing:
                    delivery.give_up()
                    return
                await asyncio.sleep(wait)
        except asyncio.CancelledError:
            # The loop is going away: what it could not send waits for
            # aclose or the interpreter's exit.
            self._queue.put_back(delivery.signal, delivery.events)
            raise

    def _send_leftovers(self, timeout: float = 5.0) -> None:
        """At exit, send what the loop did not: its sender is gone with it."""
        deadline = time.monotonic() + timeout

        def sleep(seconds: float) -> bool:
            if time.monotonic() + seconds > deadline:
                return True
            time.sleep(seconds)
            return False

        with httpx.Client(timeout=min(self._timeout, timeout)) as http:
            for delivery in self._deliveries():
                self._send_blocking(http, delivery, sleep)


def _with_task(event: Event, task_id: Optional[str], **optional: Any) -> Event:
    if task_id is None:
        task = current_task()
        task_id = task.id if task is not None else None
    if task_id is not None:
        event["task_id"] = task_id
    event.update({k: v for k, v in optional.items() if v is not None})
    return event
