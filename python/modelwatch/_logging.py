"""``mw.logging_handler(m)``: a :class:`logging.Handler` that ships records to
``POST /api/v1/models/{m}/logs`` through the model's background queue. ``emit`` never
blocks and never raises: a record that finds the queue full is dropped (counted in
``m.stats()["operations_dropped"]``), and a record that cannot be formatted is left out.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import Model

#: Longest message sent (the server takes 16 KiB).
MAX_MESSAGE_BYTES = 16 * 1024


def level_name(levelno: int) -> str:
    """The server's level of a :mod:`logging` level number: ``CRITICAL`` (Python's
    ``FATAL``) is ``fatal``, a crash.
    """
    if levelno >= logging.CRITICAL:
        return "fatal"
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warn"
    if levelno >= logging.INFO:
        return "info"
    if levelno >= logging.DEBUG:
        return "debug"
    return "trace"


def _attribute(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    return str(value)[:200]


class ModelwatchHandler(logging.Handler):
    """Ships log records of a model to the server (see the module's doc)."""

    def __init__(
        self,
        model: Model,
        level: int = logging.NOTSET,
        instance: str | None = None,
        version: str | None = None,
    ) -> None:
        """A handler for ``model``; ``instance`` names this process (``host:pid``)."""
        super().__init__(level)
        from ._resources import default_instance

        self.model = model
        self.instance = instance or default_instance()
        self.version = version

    def emit(self, record: logging.LogRecord) -> None:
        """Queues the record; never blocks, never raises."""
        try:
            message = self.format(record) if self.formatter else record.getMessage()
            if record.exc_info and not self.formatter:
                message = f"{message}\n{logging.Formatter().formatException(record.exc_info)}"
            encoded = message.encode("utf-8", "replace")
            if len(encoded) > MAX_MESSAGE_BYTES:
                message = encoded[: MAX_MESSAGE_BYTES - 3].decode("utf-8", "ignore") + "..."
            entry: dict[str, Any] = {
                "timestamp": int((record.created or time.time()) * 1000),
                "level": level_name(record.levelno),
                "message": message,
                "instance": self.instance,
                "attributes": {
                    "logger": _attribute(record.name),
                    "module": _attribute(record.module),
                    "line": _attribute(record.lineno),
                    "thread": _attribute(record.threadName),
                },
            }
            if self.version is not None:
                entry["version"] = self.version
            self.model._queue_operation("logs", entry)
        except Exception:  # noqa: BLE001 - logging must never fail the caller
            pass

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        """Ignores the error: a monitoring handler must not print to the caller's stderr."""


def logging_handler(
    model: Model,
    level: int = logging.NOTSET,
    *,
    instance: str | None = None,
    version: str | None = None,
) -> logging.Handler:
    """A :class:`logging.Handler` that ships records to ``model``'s logs, through the
    same background queue as its predictions: attach it with
    ``logging.getLogger().addHandler(mw.logging_handler(m))``.
    """
    return ModelwatchHandler(model, level, instance=instance, version=version)
