"""The package's exceptions."""

from __future__ import annotations

from dataclasses import dataclass


class ApiError(Exception):
    """The server refused a request: its status, error code, message and field."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        """Keeps the server's error."""
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Rejection:
    """One record the server did not store: its position among the records logged to the
    model (from 0, in the order of ``log`` calls), its id, the field at fault and why.
    """

    index: int
    id: str | None
    field: str | None
    reason: str


class RejectedRecords(Exception):
    """Raised by ``flush()`` when records were rejected since the last flush."""

    def __init__(self, rejections: list[Rejection]) -> None:
        """Keeps every rejection (``.rejections``)."""
        first = rejections[0] if rejections else None
        detail = f"; first: record {first.index}: {first.reason}" if first else ""
        super().__init__(f"{len(rejections)} records rejected{detail}")
        self.rejections = rejections
