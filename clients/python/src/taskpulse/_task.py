"""The task handle: a context manager and a decorator that reports a task's
life, and the task the running code is in."""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, TypeVar, Union

from ._ids import uuid7

if TYPE_CHECKING:
    from ._client import BaseClient

F = TypeVar("F", bound=Callable[..., Any])

_current: ContextVar[Optional["Task"]] = ContextVar("taskpulse_task", default=None)

FINAL = frozenset(("completed", "failed", "cancelled"))

# The server refuses a longer message or error.
MAX_TEXT_BYTES = 16 << 10


def current_task() -> Optional["Task"]:
    """The task whose block the calling code runs in, if any."""
    return _current.get()


class TaskCancelled(Exception):
    """Raised by Task.update once the server asked the task to stop."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"task {task_id} was asked to stop")
        self.task_id = task_id


def truncate(text: str, limit: int = MAX_TEXT_BYTES) -> str:
    raw = text.encode()
    return text if len(raw) <= limit else raw[:limit].decode(errors="ignore")


class Task:
    """One run of a task. Entering it reports the task running; leaving it
    reports it completed, failed (on an exception, with its type and
    message, which is re-raised) or cancelled (on KeyboardInterrupt,
    asyncio cancellation or TaskCancelled). As a decorator it runs each
    call of the function as a fresh run of the task.

    Every report is queued and sent in the background; none blocks.
    """

    def __init__(
        self,
        client: "BaseClient",
        task_id: Optional[str] = None,
        *,
        task_type: Optional[str] = None,
        name: Optional[str] = None,
        user_id: Optional[str] = None,
        steps_total: Optional[int] = None,
        attributes: Optional[Dict[str, str]] = None,
    ) -> None:
        self._client = client
        self._given_id = task_id
        self.id = task_id or uuid7()
        self._fixed: Dict[str, Any] = _present(
            task_id=self.id, task_type=task_type, task_name=name, user_id=user_id, attributes=attributes
        )
        # What every report repeats, so that the task's latest event
        # always describes it whole.
        self._state: Dict[str, Any] = _present(steps_total=steps_total)
        self._seq = 0
        self._finished = False
        self._cancel_requested = False
        self._requested: Optional[Dict[str, Any]] = None
        self._token: "Optional[Token[Optional[Task]]]" = None

    @property
    def cancel_requested(self) -> bool:
        """Whether the server asked the task to stop."""
        return self._cancel_requested

    def update(
        self,
        progress: Optional[float] = None,
        step: Optional[str] = None,
        message: Optional[str] = None,
        *,
        steps_done: Optional[int] = None,
        steps_total: Optional[int] = None,
        eta: Optional[int] = None,
        status: str = "running",
        attributes: Optional[Dict[str, str]] = None,
    ) -> None:
        """Report progress (0-100), the current step, a message, steps
        done and total, and an ETA in seconds. Raises TaskCancelled once
        the server asked the task to stop."""
        if self._cancel_requested:
            raise TaskCancelled(self.id)
        state = self._state
        if step is not None:
            state["current_step"] = step
        if steps_done is not None:
            state["steps_done"] = steps_done
        if steps_total is not None:
            state["steps_total"] = steps_total
        self._report(status, progress=progress, message=message, eta=eta, attributes=attributes)

    def metric(self, name: str, value: float, labels: Optional[Dict[str, str]] = None, **fields: Any) -> None:
        """Record a metric sample of this task (fields: kind, unit, timestamp)."""
        self._client.metric(name, value, labels, task_id=self.id, **fields)

    def log(self, level: str, message: str, **fields: Any) -> None:
        """Record a log line of this task (fields: source, attributes...)."""
        self._client.log(level, message, task_id=self.id, **fields)

    def complete(self, message: Optional[str] = None) -> None:
        if "steps_total" in self._state:
            self._state["steps_done"] = self._state["steps_total"]
        self._finish("completed", progress=100, message=message)

    def fail(self, error: Union[str, BaseException]) -> None:
        if isinstance(error, BaseException):
            error = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        self._finish("failed", error=truncate(error))

    def cancel(self, message: Optional[str] = None) -> None:
        self._finish("cancelled", message=message)

    @property
    def requested(self) -> Optional[Dict[str, Any]]:
        """The latest control request a person made of the task (action
        "cancel", "pause" or "resume"), from the answer to its reports or
        Client.wait_control; None while there was none. Acknowledge it by
        reporting the status it asks for: cancel(), or update(status="paused")
        and update(status="running")."""
        return self._requested

    def wait_control(self, wait: float = 30.0) -> Optional[Dict[str, Any]]:
        """Client.wait_control for this task."""
        return self._client.wait_control(self.id, wait)

    def _asked(self, request: Dict[str, Any]) -> None:
        self._requested = request
        if request.get("action") == "cancel":
            self.request_cancel()

    def request_cancel(self) -> None:
        """Mark the task as asked to stop: the next update raises."""
        self._cancel_requested = True

    def _finish(self, status: str, **fields: Any) -> None:
        if self._finished:
            return
        self._finished = True
        self._report(status, **fields)

    def _report(self, status: str, **fields: Any) -> None:
        self._seq += 1
        event = {
            "event_id": uuid7(),
            "timestamp": time.time_ns() // 1_000_000,
            # The server orders a task's events by (timestamp, seq), so
            # the order holds however batches are retried.
            "seq": self._seq,
            "status": status,
            **self._fixed,
            **self._state,
        }
        for key, value in fields.items():
            if value is not None:
                event[key] = truncate(value) if key == "message" else value
        self._client._enqueue("progress", event, final=status in FINAL)

    def _enter(self) -> "Task":
        self._token = _current.set(self)
        self._client._watch(self)
        self._report("running", progress=0)
        return self

    def _exit(self, exc: Optional[BaseException]) -> None:
        if self._token is not None:
            _current.reset(self._token)
            self._token = None
        self._client._unwatch(self)
        if exc is None:
            self.complete()
        elif isinstance(exc, (KeyboardInterrupt, TaskCancelled, asyncio.CancelledError)):
            self.cancel(str(exc) or None)
        else:
            self.fail(exc)

    def __enter__(self) -> "Task":
        return self._enter()

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> None:
        self._exit(exc)

    async def __aenter__(self) -> "Task":
        return self._enter()

    async def __aexit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> None:
        self._exit(exc)

    def _fresh(self) -> "Task":
        run = Task(self._client, self._given_id)
        run._fixed = {**self._fixed, "task_id": run.id}
        run._state = dict(self._state)
        return run

    def __call__(self, fn: F) -> F:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                async with self._fresh():
                    return await fn(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return fn(*args, **kwargs)

        return run  # type: ignore[return-value]


def _present(**fields: Any) -> Dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}
