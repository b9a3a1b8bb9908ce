"""track(): report a loop's progress as it runs, like tqdm."""

from __future__ import annotations

import time
from collections.abc import Sized
from typing import AsyncIterable, AsyncIterator, Iterable, Iterator, Optional, TypeVar, Union, overload

from ._task import Task, current_task

T = TypeVar("T")


class _Reporter:
    """Reports items done at most once per interval, and always the last
    count: the tail of a loop is never left unreported."""

    def __init__(self, task: Optional[Task], total: Optional[int], interval: float) -> None:
        task = task or current_task()
        if task is None:
            raise ValueError("track needs a task: pass task= or call it inside a task block")
        self.task = task
        self.total = total
        self.interval = interval
        self.done = 0
        self.reported = -1
        self.next_at = 0.0

    def step(self) -> None:
        self.done += 1
        if time.monotonic() >= self.next_at:
            self.report()

    def report(self) -> None:
        self.next_at = time.monotonic() + self.interval
        self.reported = self.done
        progress = min(100.0, 100.0 * self.done / self.total) if self.total else None
        self.task.update(progress, steps_done=self.done, steps_total=self.total)

    def finish(self) -> None:
        if self.reported != self.done:
            self.report()


@overload
def track(iterable: Iterable[T], task: Optional[Task] = None, total: Optional[int] = None,
          *, interval: float = 0.25) -> Iterator[T]: ...


@overload
def track(iterable: AsyncIterable[T], task: Optional[Task] = None, total: Optional[int] = None,
          *, interval: float = 0.25) -> AsyncIterator[T]: ...


def track(
    iterable: Union[Iterable[T], AsyncIterable[T]],
    task: Optional[Task] = None,
    total: Optional[int] = None,
    *,
    interval: float = 0.25,
) -> Union[Iterator[T], AsyncIterator[T]]:
    """Yield the items of iterable (sync or async), reporting to task (by
    default the one the caller runs in) how many are done, and the
    percentage when the total is known (given, or the iterable's len()).
    At most one update per interval seconds is sent, and always the last."""
    if total is None and isinstance(iterable, Sized):
        total = len(iterable)
    reporter = _Reporter(task, total, interval)
    if isinstance(iterable, AsyncIterable):
        return _track_async(iterable, reporter)
    return _track(iterable, reporter)


def _track(iterable: Iterable[T], reporter: _Reporter) -> Iterator[T]:
    try:
        for item in iterable:
            yield item
            reporter.step()
    finally:
        reporter.finish()


async def _track_async(iterable: AsyncIterable[T], reporter: _Reporter) -> AsyncIterator[T]:
    try:
        async for item in iterable:
            yield item
            reporter.step()
    finally:
        reporter.finish()
