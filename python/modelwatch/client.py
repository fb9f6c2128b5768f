"""``mw.Client`` and ``mw.Model``: define a model, log its predictions and labels in the
background, read its metrics, drift and quality back as DataFrames.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from . import _convert, _records, frames, parameters
from ._http import Transport
from ._resources import process_sampler
from ._sender import Chunk, Sender
from .definition import definition as _definition
from .errors import ApiError, RejectedRecords

_log = logging.getLogger("modelwatch")

#: Records a model's queue holds before ``log`` drops (and counts) what does not fit.
DEFAULT_MAX_QUEUE = 100_000
#: How long interpreter exit waits for queued records.
EXIT_FLUSH_SECONDS = 30.0

_live_models: weakref.WeakSet[Model] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    for model in list(_live_models):
        try:
            model._sender.wait_idle(EXIT_FLUSH_SECONDS)
        except Exception:  # noqa: BLE001 - exit must go on
            _log.exception("modelwatch: flushing %s at exit", model.name)


def _query_time(value: Any) -> int | None:
    return None if value is None else _convert.timestamp_ms(value)


class Client:
    """A modelwatch server. ``url`` and ``token`` default to ``$MODELWATCH_URL`` (else
    ``http://127.0.0.1:8480``) and ``$MODELWATCH_TOKEN``.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        max_queue: int = DEFAULT_MAX_QUEUE,
        sample_resources: bool = True,
    ) -> None:
        """Connects lazily: nothing is sent before the first call. With
        ``sample_resources`` (and psutil installed), every model object sends this
        process's CPU, memory and GPU use every 10 s from its background thread.
        """
        url = url or os.environ.get("MODELWATCH_URL") or "http://127.0.0.1:8480"
        token = token if token is not None else os.environ.get("MODELWATCH_TOKEN")
        self._transport = Transport(url, token, timeout)
        self._max_queue = max_queue
        self._sample_resources = sample_resources

    @property
    def url(self) -> str:
        """The server's URL."""
        return self._transport.url

    def _call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = "application/json",
        query: dict[str, Any] | None = None,
        attempts: int = 8,
    ) -> Any:
        """One API call, retried on ``503``, ``429`` and connection errors."""
        for attempt in range(attempts):
            try:
                answer = self._transport.request(method, path, body, content_type, query)
            except ConnectionError:
                if attempt == attempts - 1:
                    raise
                time.sleep(min(5.0, 0.1 * 2**attempt))
                continue
            if answer.status in (429, 503) and attempt < attempts - 1:
                time.sleep(answer.retry_after() or min(5.0, 0.1 * 2**attempt))
                continue
            answer.raise_for_status(f"{method} {path}")
            return answer.json() if answer.body else None
        raise AssertionError("unreachable")

    def define_model(
        self,
        name: str,
        task: str,
        reference: Any = None,
        reference_predictions: Any = None,
        reference_scores: Any = None,
        reference_labels: Any = None,
        *,
        classes: Sequence[Any] | None = None,
        positive_class: Any = None,
        estimator: Any = None,
        features: pd.DataFrame | Sequence[dict[str, Any]] | None = None,
    ) -> Model:
        """Creates (or updates) the model ``name`` and uploads its reference in one call.

        Features are inferred from ``reference``'s dtypes (numbers numeric, everything
        else categorical; a 2-D array's columns are ``f0``, ``f1``, ...). The classes
        come from ``classes``, else ``estimator.classes_``, else the distinct labels and
        predictions; the positive class of a binary model from ``positive_class``, else
        ``"1"`` when it is a class, else the second class (``predict_proba[:, 1]``).
        Scores are ``predict_proba``'s output, its columns in the order of the classes.
        """
        frame = _convert.as_frame(reference) if reference is not None else None
        if classes is None and estimator is not None and hasattr(estimator, "classes_"):
            classes = list(estimator.classes_)
        observed: list[str | None] = []
        if task != "regression":
            for values in (reference_labels, reference_predictions):
                if values is not None:
                    observed += _convert.class_labels(values)
        if features is not None and not isinstance(features, pd.DataFrame):
            spec_features = [dict(f) for f in features]
            spec = _definition(
                task,
                pd.DataFrame(),
                classes=classes,
                positive_class=positive_class,
                observed=observed,
            )
            spec["features"] = spec_features
        else:
            spec = _definition(
                task,
                frame if frame is not None else pd.DataFrame(),
                classes=classes,
                positive_class=positive_class,
                observed=observed,
            )
        self._call("PUT", f"/api/v1/models/{name}", json.dumps(spec).encode())
        score_columns = (
            [_convert.class_label(c) for c in classes]
            if classes is not None
            else spec.get("classes", [])
        )
        model = Model(self, name, spec, score_columns)
        if frame is not None:
            model.upload_reference(
                frame,
                predictions=reference_predictions,
                scores=reference_scores,
                labels=reference_labels,
            )
        return model

    def model(self, name: str) -> Model:
        """An existing model, with the definition the server has."""
        answer = self._call("GET", f"/api/v1/models/{name}")
        spec = answer.get("definition", answer) if isinstance(answer, dict) else answer
        classes = spec.get("classes") or []
        return Model(self, name, spec, _convert.sorted_classes(classes))


class Model:
    """One model on the server: ``log`` and ``log_labels`` queue records that a background
    thread sends; ``metrics``, ``drift`` and ``quality`` read the answers back.
    """

    def __init__(
        self, client: Client, name: str, spec: dict[str, Any], score_columns: list[str]
    ) -> None:
        """Use :meth:`Client.define_model` or :meth:`Client.model`."""
        self.client = client
        self.name = name
        self.definition = spec
        self.schema = _records.Schema(
            task=spec["task"],
            classes=list(spec.get("classes") or []),
            positive_class=spec.get("positive_class", "1")
            if spec["task"] == "binary_classification"
            else None,
            score_columns=score_columns,
        )
        self._sender = Sender(client._transport, name, client._max_queue)
        if client._sample_resources:
            sampler = process_sampler()
            if sampler is not None:
                self._sender.start_sampling(sampler)
        # Generated ids: random per Model object, so none collide across objects or runs.
        self._id_prefix = os.urandom(6).hex()
        _live_models.add(self)

    def __repr__(self) -> str:
        """The model's name and task."""
        return f"Model({self.name!r}, task={self.schema.task!r})"

    @property
    def _path(self) -> str:
        return f"/api/v1/models/{self.name}"

    def upload_reference(
        self,
        reference: Any,
        predictions: Any = None,
        scores: Any = None,
        labels: Any = None,
        *,
        classes: Sequence[Any] | None = None,
    ) -> dict[str, Any]:
        """Replaces the model's reference (one NDJSON upload); returns the server's answer."""
        frame = _convert.as_frame(reference)
        records = _records.events(
            self.schema,
            frame,
            len(frame),
            ids=None,
            predictions=predictions,
            scores_=scores,
            score_classes=None if classes is None else [_convert.class_label(c) for c in classes],
            labels=labels,
        )
        body = "\n".join(json.dumps(r, allow_nan=False) for r in records).encode()
        answer: dict[str, Any] = self.client._call(
            "PUT", self._path + "/reference", body, "application/x-ndjson"
        )
        return answer

    def log(
        self,
        X: Any = None,  # noqa: N803 - scikit-learn's name for the inputs
        predictions: Any = None,
        scores: Any = None,
        ids: Any = None,
        timestamps: Any = None,
        labels: Any = None,
        latency_ms: Any = None,
        version: str | None = None,
        *,
        classes: Sequence[Any] | None = None,
    ) -> None:
        """Queues one prediction event per row; never blocks and never raises.

        ``X`` is a DataFrame or a 2-D array (columns ``f0``, ...); ``scores`` is
        ``predict_proba``'s output (``classes`` names its columns when they are not the
        model's classes in ``np.unique`` order); without ``predictions``, a classifier's
        prediction is the class of the highest score. ``ids`` default to generated ones,
        ``timestamps`` to now. A full queue drops the records (``stats()["dropped"]``);
        a record the server rejects is reported by :meth:`flush`.
        """
        try:
            self._log(X, predictions, scores, ids, timestamps, labels, latency_ms, version, classes)
        except Exception:  # noqa: BLE001 - never into the serving path
            _log.exception("modelwatch: log() could not queue its records")

    def _log(
        self,
        X: Any,  # noqa: N803
        predictions: Any,
        scores: Any,
        ids: Any,
        timestamps: Any,
        labels: Any,
        latency_ms: Any,
        version: str | None,
        classes: Sequence[Any] | None,
    ) -> None:
        # Copies (vectorised, cheap) so that the caller may reuse its arrays at once.
        frame = _convert.as_frame(X).copy() if X is not None else None
        rows = _rows(frame, predictions, scores)
        first = self._sender.reserve(rows)
        if first is None:
            return
        copies = [_copy(v) for v in (predictions, scores, ids, timestamps, labels, latency_ms)]
        predictions, scores, ids, timestamps, labels, latency_ms = copies
        if timestamps is None:
            timestamps = int(time.time() * 1000)
        score_classes = None if classes is None else [_convert.class_label(c) for c in classes]
        schema = self.schema
        prefix = self._id_prefix

        def build() -> list[dict[str, Any]]:
            names = (
                _convert.ids(ids)
                if ids is not None
                else [f"{prefix}-{first + i}" for i in range(rows)]
            )
            return _records.events(
                schema,
                frame,
                rows,
                ids=names,
                predictions=predictions,
                scores_=scores,
                score_classes=score_classes,
                labels=labels,
                timestamps=timestamps,
                latency_ms=latency_ms,
                version=version,
            )

        self._sender.put(Chunk("predictions", first, rows, build))

    def log_labels(self, ids: Any, labels: Any) -> None:
        """Queues ground truth for earlier predictions, joined by id; never raises."""
        try:
            ids, labels = _copy(ids), _copy(labels)
            rows = len(ids)
            first = self._sender.reserve(rows)
            if first is None:
                return
            schema = self.schema

            def build() -> list[dict[str, Any]]:
                values = _records.targets(schema, labels)
                if len(values) != rows:
                    raise ValueError(f"{len(values)} labels for {rows} ids")
                return [{"id": i, "label": v} for i, v in zip(_convert.ids(ids), values)]

            self._sender.put(Chunk("labels", first, rows, build))
        except Exception:  # noqa: BLE001 - never into the serving path
            _log.exception("modelwatch: log_labels() could not queue its records")

    def flush(self, timeout: float | None = 30.0) -> None:
        """Waits until every queued record is sent; raises :class:`RejectedRecords` with
        each record the server rejected since the last flush, and ``TimeoutError`` when
        records are still queued after ``timeout`` seconds.
        """
        if not self._sender.wait_idle(timeout):
            raise TimeoutError(
                f"modelwatch: {self._sender.stats()['queued']} records still queued "
                f"after {timeout} s"
            )
        rejections = self._sender.take_rejections()
        if rejections:
            raise RejectedRecords(rejections)

    def _queue_operation(self, kind: str, record: dict[str, Any]) -> bool:
        """Queues a telemetry sample or log record (``"telemetry"`` or ``"logs"``)."""
        return self._sender.queue_operation(kind, record)

    def log_telemetry(self, **sample: Any) -> bool:
        """Queues one resource sample (``cpu_percent``, ``memory_bytes``,
        ``gpu_utilization``, ``gpu_memory_bytes``, ``instance``, ``version``,
        ``timestamp``: epoch ms, default now); never blocks.
        """
        sample.setdefault("timestamp", int(time.time() * 1000))
        return self._queue_operation("telemetry", sample)

    def stats(self) -> dict[str, int]:
        """Records ``sent``, ``rejected``, ``dropped`` (queue full), ``retried`` (sent
        again after a 503, 429 or connection error) and ``queued``.
        """
        return self._sender.stats()

    def log_parameters(
        self,
        tensors: Mapping[str, Any],
        step: int,
        version: str | None = None,
        *,
        timestamp: Any = None,
        raw: bool = False,
    ) -> dict[str, Any]:
        """Sends the model's tensors at one training ``step`` (an epoch, an iteration):
        ``{name: array}`` of any framework (numpy arrays, a PyTorch ``state_dict()``,
        Keras weights). Each tensor is summarised here with numpy, as the server
        summarises raw values; ``raw=True`` sends the values instead. Unlike
        :meth:`log`, this call is synchronous: it returns once the server has stored
        them (``{"accepted", "step", "version"}``) and raises :class:`ApiError` when it
        refuses them.
        """
        entries = list(parameters.tensor_entries(tensors, raw))
        if not entries:
            raise ValueError("log_parameters: no tensors")
        accepted = 0
        answer: dict[str, Any] = {}
        for first in range(0, len(entries), parameters.TENSORS_PER_REQUEST):
            body: dict[str, Any] = {
                "step": int(step),
                "tensors": entries[first : first + parameters.TENSORS_PER_REQUEST],
            }
            if version is not None:
                body["version"] = str(version)
            if timestamp is not None:
                body["timestamp"] = _convert.timestamp_ms(timestamp)
            # NaN and Infinity go as Python's tokens, which the server reads.
            answer = self.client._call(
                "POST", self._path + "/parameters", json.dumps(body).encode()
            )
            accepted += int(answer["accepted"])
        return dict(answer, accepted=accepted)

    def parameters(
        self,
        version: str | None = None,
        tensor: str | None = None,
        from_step: int | None = None,
        to_step: int | None = None,
    ) -> pd.DataFrame:
        """The stored tensor summaries: one row per tensor, version and step."""
        query = {"version": version, "tensor": tensor, "from_step": from_step, "to_step": to_step}
        return parameters.series_frame(
            self.client._call("GET", self._path + "/parameters", query=query)
        )

    def parameter_diff(
        self,
        from_version: str | None = None,
        to_version: str | None = None,
        *,
        from_step: int | None = None,
        to_step: int | None = None,
        version: str | None = None,
    ) -> pd.DataFrame:
        """The change of each tensor between two versions (each at its last step) or two
        steps: ``mean_change``, ``std_change``, relative ``l2_norm_change``,
        ``wasserstein``.
        """
        query = {
            "from_version": from_version,
            "to_version": to_version,
            "from_step": from_step,
            "to_step": to_step,
            "version": version,
        }
        return parameters.diff_frame(
            self.client._call("GET", self._path + "/parameters/diff", query=query)
        )

    def logs(
        self,
        start: Any = None,
        end: Any = None,
        level: str | None = None,
        q: str | None = None,
        limit: int = 100,
    ) -> pd.DataFrame:
        """The stored log records, newest first: one row per record (``level`` may
        list several, separated by commas; ``q`` is text the message holds).
        """
        query = {
            "from": _query_time(start),
            "to": _query_time(end),
            "level": level,
            "q": q,
            "limit": limit,
        }
        answer = self.client._call("GET", self._path + "/logs", query=query)
        columns = [
            "timestamp",
            "level",
            "message",
            "template",
            "instance",
            "id",
            "version",
            "attributes",
        ]
        frame = pd.DataFrame(answer["records"], columns=columns)
        try:
            # Some stamps carry milliseconds and some not; pandas before 2 has no ISO8601.
            frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
        except (TypeError, ValueError):
            frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
        return frame

    def log_patterns(self, start: Any = None, end: Any = None) -> pd.DataFrame:
        """The message templates of the logs with their counts, newest first."""
        query = {"from": _query_time(start), "to": _query_time(end)}
        answer = self.client._call("GET", self._path + "/logs/patterns", query=query)
        return pd.DataFrame(answer["patterns"], columns=["template", "level", "count", "last_seen"])

    def _range(self, start: Any, end: Any, version: str | None) -> dict[str, Any]:
        return {"from": _query_time(start), "to": _query_time(end), "version": version}

    def metrics(
        self,
        start: Any = None,
        end: Any = None,
        step: str | None = "1d",
        version: str | None = None,
    ) -> pd.DataFrame:
        """One row per window of ``step`` (the summary alone without a step), indexed by
        the window's start (UTC), one float column per metric.
        """
        query = dict(self._range(start, end, version), step=step)
        return frames.metrics_frame(self.client._call("GET", self._path + "/metrics", query=query))

    def _per_window(
        self,
        what: str,
        start: Any,
        end: Any,
        step: str | None,
        version: str | None,
    ) -> list[tuple[Any, dict[str, Any]]]:
        if step is None:
            answer = self.client._call(
                "GET", f"{self._path}/{what}", query=self._range(start, end, version)
            )
            return [(None, answer)]
        series = self.metrics(start, end, step, version)
        step_ms = _step_ms(step)
        windows = []
        for window_start, count in series["count"].items():
            if not count:
                continue
            first = _convert.timestamp_ms(window_start)
            query = self._range(first, first + step_ms, version)
            windows.append(
                (window_start, self.client._call("GET", f"{self._path}/{what}", query=query))
            )
        return windows

    def drift(
        self,
        start: Any = None,
        end: Any = None,
        step: str | None = None,
        version: str | None = None,
    ) -> pd.DataFrame:
        """Drift against the reference: one row per feature (then the prediction and the
        score), and per window of ``step`` when one is given (column ``start``).
        """
        windows = self._per_window("drift", start, end, step, version)
        if step is None:
            return frames.drift_frame(windows[0][1])
        return frames.windowed([(s, frames.drift_frame(a)) for s, a in windows])

    def quality(
        self,
        start: Any = None,
        end: Any = None,
        step: str | None = None,
        version: str | None = None,
    ) -> pd.DataFrame:
        """Data quality: one row per feature, and per window of ``step`` when given."""
        windows = self._per_window("quality", start, end, step, version)
        if step is None:
            return frames.quality_frame(windows[0][1])
        return frames.windowed([(s, frames.quality_frame(a)) for s, a in windows])


def _step_ms(step: str) -> int:
    from .report import _step_ms as parse

    return parse(step)


def _rows(frame: pd.DataFrame | None, predictions: Any, scores: Any) -> int:
    for values in (frame, predictions, scores):
        if values is not None:
            return len(values)
    raise ValueError("log() needs inputs, predictions or scores")


def _copy(values: Any) -> Any:
    if values is None or np.ndim(values) == 0:
        return values
    if isinstance(values, (pd.Series, pd.Index)):
        return values.copy()
    return np.array(values, copy=True)


__all__ = ["ApiError", "Client", "Model", "RejectedRecords"]
