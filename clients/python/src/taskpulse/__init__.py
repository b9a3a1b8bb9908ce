"""Report task progress, logs and metrics to TaskPulse.

    from taskpulse import Client, track

    client = Client("http://127.0.0.1:8080", api_key=KEY)
    with client.task("scrape-react", task_type="scrape_docs", steps_total=20) as t:
        for page in track(pages):
            scrape(page)

Reports are queued and sent in the background in batches, each event with
its own UUIDv7 so that a retried batch is stored once; see Client.
"""

from ._client import AsyncClient, BaseClient, Client
from ._delivery import Backoff
from ._handler import LogHandler
from ._ids import uuid7
from ._queue import Stats
from ._task import Task, TaskCancelled, current_task
from ._track import track

__all__ = [
    "AsyncClient",
    "Backoff",
    "BaseClient",
    "Client",
    "LogHandler",
    "Stats",
    "Task",
    "TaskCancelled",
    "current_task",
    "track",
    "uuid7",
]
