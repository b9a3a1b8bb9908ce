"""LogHandler: the standard logging module's records, sent to /v1/logs."""

from __future__ import annotations

import logging
from typing import Optional

from ._client import BaseClient


def _level(levelno: int) -> str:
    for threshold, name in (
        (logging.CRITICAL, "CRITICAL"),
        (logging.ERROR, "ERROR"),
        (logging.WARNING, "WARNING"),
        (logging.INFO, "INFO"),
    ):
        if levelno >= threshold:
            return name
    return "DEBUG"


class LogHandler(logging.Handler):
    """Sends each record, formatted, with the task the logging code runs
    in (its contextvars, so threads and asyncio tasks each see their own).
    The source is the logger's name unless one is given. Records of the
    client's own logger, "taskpulse", are skipped: sending them could
    report the sending's own trouble in a loop."""

    def __init__(self, client: BaseClient, level: int = logging.NOTSET, *, source: Optional[str] = None) -> None:
        super().__init__(level)
        self._client = client
        self._source = source

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "taskpulse" or record.name.startswith("taskpulse."):
            return
        try:
            self._client.log(
                _level(record.levelno),
                self.format(record),
                source=self._source or record.name,
                timestamp=int(record.created * 1000),
            )
        except Exception:
            self.handleError(record)
