"""The background sender of a model: a bounded queue of records that ``log`` fills
without ever blocking, and one daemon thread that converts them, sends NDJSON batches
and retries. The same thread takes a resource sample of the process every
``SAMPLE_SECONDS`` when it has a sampler, and ships log records; those are numbered
apart (index ``-1``), so the indexes of rejected predictions stay the caller's.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._http import Response, Transport
from ._resources import SAMPLE_SECONDS
from .errors import Rejection

_log = logging.getLogger("modelwatch")

#: Largest batch sent in one request.
BATCH_RECORDS = 5_000
#: A partial batch waits at most this long for more records.
LINGER_SECONDS = 1.0
#: Backoff between retries: doubles from the first to the last.
BACKOFF_FIRST, BACKOFF_LAST = 0.1, 10.0


@dataclass
class Chunk:
    """Records queued by one call: ``build`` makes their dicts, on the sender's thread."""

    kind: str  # "predictions", "labels", "telemetry" or "logs"
    first_index: int
    rows: int
    build: Callable[[], list[dict[str, Any]]]


@dataclass
class _Batch:
    kind: str
    chunks: list[Chunk] = field(default_factory=list)
    rows: int = 0


class Sender:
    """Queue and thread of one model's records."""

    def __init__(self, transport: Transport, model: str, max_queue: int) -> None:
        """Starts nothing yet: the thread starts with the first record."""
        self._transport = transport
        self._path = f"/api/v1/models/{model}/"
        self._max_queue = max_queue
        self._queue: deque[Chunk] = deque()
        self._queued = 0
        self._in_flight = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._next_index = 0
        self._hurry = 0
        self._rejections: list[Rejection] = []
        self.sent = 0
        self.rejected = 0
        self.dropped = 0
        self.retried = 0
        self._sampler: Callable[[], dict[str, Any] | None] | None = None
        self._next_sample = 0.0
        # Telemetry samples and log records: queued beside the caller's records, bounded
        # and counted apart, so neither takes the caller's room nor changes their counts.
        self._ops_queued = 0
        self.ops_sent = 0
        self.ops_rejected = 0
        self.ops_dropped = 0

    def reserve(self, rows: int) -> int | None:
        """Numbers ``rows`` records, or ``None`` (and counts them dropped) when the queue
        has no room for them.
        """
        with self._cond:
            first = self._next_index
            self._next_index += rows
            if self._queued - self._ops_queued + rows > self._max_queue:
                self.dropped += rows
                return None
            return first

    def put(self, chunk: Chunk) -> None:
        """Queues a chunk numbered by :meth:`reserve`."""
        with self._cond:
            self._queue.append(chunk)
            self._queued += chunk.rows
            self._start()
            self._cond.notify_all()

    def _start(self) -> None:
        """Starts the thread if it is not running (call with the lock held)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"modelwatch-sender{self._path}", daemon=True
            )
            self._thread.start()

    def queue_operation(self, kind: str, record: dict[str, Any]) -> bool:
        """Queues one telemetry sample or log record (unnumbered); ``False`` (and counted
        dropped) when the queue is full. Never blocks.
        """
        with self._cond:
            if self._ops_queued + 1 > self._max_queue:
                self.ops_dropped += 1
                return False
            self._queue.append(Chunk(kind, -1, 1, lambda: [record]))
            self._queued += 1
            self._ops_queued += 1
            self._start()
            self._cond.notify_all()
            return True

    def start_sampling(self, sampler: Callable[[], dict[str, Any] | None]) -> None:
        """Takes a resource sample with ``sampler`` now and every ``SAMPLE_SECONDS``."""
        with self._cond:
            self._sampler = sampler
            self._next_sample = 0.0
            # The first sample is queued before this returns, so a flush sends it.
            self._sample_if_due()
            self._start()
            self._cond.notify_all()

    def _sample_if_due(self) -> float | None:
        """Queues a resource sample when one is due (call with the lock held); the
        seconds until the next, or ``None`` without a sampler.
        """
        if self._sampler is None:
            return None
        now = time.monotonic()
        if now >= self._next_sample:
            self._next_sample = now + SAMPLE_SECONDS
            record = self._sampler()
            if record is not None and self._ops_queued < self._max_queue:
                self._queue.append(Chunk("telemetry", -1, 1, lambda: [record]))
                self._queued += 1
                self._ops_queued += 1
        return max(0.0, self._next_sample - now)

    def stats(self) -> dict[str, int]:
        """Counts of records sent, rejected, dropped, retried and still queued; the
        telemetry samples and log records apart (``operations_*``).
        """
        with self._cond:
            return {
                "sent": self.sent,
                "rejected": self.rejected,
                "dropped": self.dropped,
                "retried": self.retried,
                "queued": self._queued + self._in_flight,
                "operations_sent": self.ops_sent,
                "operations_rejected": self.ops_rejected,
                "operations_dropped": self.ops_dropped,
            }

    def wait_idle(self, timeout: float | None) -> bool:
        """Waits until every queued record is sent or rejected."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            # A partial batch need not wait out its linger for a flush.
            self._hurry += 1
            self._cond.notify_all()
            try:
                while self._queued or self._in_flight:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._cond.wait(0.5 if remaining is None else min(remaining, 0.5))
            finally:
                self._hurry -= 1
        return True

    def take_rejections(self) -> list[Rejection]:
        """The rejections since the last call."""
        with self._cond:
            rejections, self._rejections = self._rejections, []
            return rejections

    def _next_batch(self) -> _Batch:
        """Blocks until a batch is due: ``BATCH_RECORDS`` records of one kind, or
        whatever is queued ``LINGER_SECONDS`` after the oldest arrived.
        """
        with self._cond:
            self._sample_if_due()
            while not self._queue:
                self._cond.wait(self._sample_if_due())
            deadline = time.monotonic() + LINGER_SECONDS
            while (
                not self._hurry
                and self._queued < BATCH_RECORDS
                and len({c.kind for c in self._queue}) == 1
            ):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            batch = _Batch(self._queue[0].kind)
            while self._queue and self._queue[0].kind == batch.kind:
                chunk = self._queue[0]
                if batch.rows and batch.rows + chunk.rows > BATCH_RECORDS:
                    break
                self._queue.popleft()
                self._queued -= chunk.rows
                if chunk.first_index < 0:
                    self._ops_queued -= chunk.rows
                self._in_flight += chunk.rows
                batch.chunks.append(chunk)
                batch.rows += chunk.rows
            return batch

    def _build(self, batch: _Batch) -> tuple[list[int], list[dict[str, Any]]]:
        """The records of a batch's chunks and their indexes; a chunk whose values cannot
        be converted is rejected whole, with the reason.
        """
        indexes: list[int] = []
        records: list[dict[str, Any]] = []
        for chunk in batch.chunks:
            try:
                built = chunk.build()
                if len(built) != chunk.rows:
                    raise ValueError(f"{len(built)} records built for {chunk.rows} rows")
            except Exception as error:  # noqa: BLE001 - bad input is reported, never raised
                reason = f"{type(error).__name__}: {error}"
                with self._cond:
                    for i in range(chunk.rows):
                        self._reject(chunk.first_index + i, None, None, reason)
                continue
            indexes.extend(range(chunk.first_index, chunk.first_index + chunk.rows))
            records.extend(built)
        return indexes, records

    def _reject(self, index: int, id_: str | None, field_: str | None, reason: str) -> None:
        if index < 0:
            # A telemetry sample or log record: the caller never numbered it.
            self.ops_rejected += 1
            _log.debug("modelwatch: a sample or log record was rejected: %s", reason)
            return
        self.rejected += 1
        self._rejections.append(Rejection(index, id_, field_, reason))

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            indexes: list[int] = []
            records: list[dict[str, Any]] = []
            try:
                indexes, records = self._build(batch)
                if records:
                    self._send(batch.kind, indexes, records)
            except Exception as error:  # noqa: BLE001 - the thread must outlive any bug
                _log.exception("modelwatch: a batch could not be sent")
                with self._cond:
                    for index, record in zip(indexes, records):
                        self._reject(index, record.get("id"), None, f"client error: {error}")
            finally:
                with self._cond:
                    self._in_flight -= batch.rows
                    self._cond.notify_all()

    def _send(self, kind: str, indexes: list[int], records: list[dict[str, Any]]) -> None:
        """Sends one batch until the server answers it; splits it on ``413``."""
        body = "\n".join(json.dumps(r, allow_nan=False) for r in records).encode("utf-8")
        attempt = 0
        while True:
            try:
                answer: Response | None = self._transport.request(
                    "POST", self._path + kind, body, "application/x-ndjson"
                )
            except ConnectionError as error:
                _log.debug("modelwatch: %s", error)
                answer = None
            if answer is not None and answer.status == 413 and len(records) > 1:
                half = len(records) // 2
                self._send(kind, indexes[:half], records[:half])
                self._send(kind, indexes[half:], records[half:])
                return
            if answer is None or answer.status in (429, 503) or answer.status >= 500:
                attempt += 1
                with self._cond:
                    if not (indexes and indexes[0] < 0):
                        self.retried += len(records)
                wait = answer.retry_after() if answer is not None else None
                if wait is None:
                    wait = min(BACKOFF_LAST, BACKOFF_FIRST * 2 ** min(attempt, 10))
                    wait *= 0.5 + random.random()
                time.sleep(wait)
                continue
            self._settle(answer, indexes, records, retried=attempt > 0)
            return

    def _settle(
        self, answer: Response, indexes: list[int], records: list[dict[str, Any]], retried: bool
    ) -> None:
        """Counts what the server stored and keeps what it rejected."""
        try:
            rejected = answer.json().get("rejected", []) if answer.status in (200, 422) else None
        except ValueError:
            rejected = None
        with self._cond:
            if rejected is None:
                try:
                    reason = answer.json()["error"]["message"]
                except (ValueError, KeyError, TypeError):
                    reason = answer.body.decode("utf-8", "replace")[:200]
                for index, record in zip(indexes, records):
                    self._reject(index, record.get("id"), None, f"{answer.status}: {reason}")
                return
            refused = 0
            for entry in rejected:
                i = entry.get("index", -1)
                if not 0 <= i < len(records):
                    continue
                reason = str(entry.get("error", ""))
                field_ = entry.get("field")
                # A retried batch may have been stored by an attempt whose answer was lost:
                # its ids are then duplicates of themselves.
                if retried and field_ == "id" and ("duplicate" in reason or "already" in reason):
                    continue
                refused += 1
                self._reject(indexes[i], records[i].get("id"), field_, reason)
            if indexes and indexes[0] < 0:
                self.ops_sent += len(records) - refused
            else:
                self.sent += len(records) - refused
