"""Model inputs, outputs and labels as the records of the HTTP API: one dict per row,
features nested under ``features``, ``null`` for every missing value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import _convert


@dataclass
class Schema:
    """What the client knows of a model: its task, its classes (as the server compares
    them), the positive class, and the order of ``predict_proba``'s columns.
    """

    task: str
    classes: list[str]
    positive_class: str | None
    score_columns: list[str]

    @property
    def is_classification(self) -> bool:
        """Whether the model predicts classes."""
        return self.task != "regression"

    def score_column(self, columns: Sequence[str] | None, width: int) -> int:
        """The column of P(positive class) in a ``width``-column score array."""
        order = list(columns) if columns is not None else self.score_columns
        if len(order) != width:
            raise ValueError(
                f"scores have {width} columns, the model's classes are {order}; "
                "pass classes= in the order of predict_proba's columns"
            )
        if self.positive_class not in order:
            raise ValueError(f"the positive class {self.positive_class!r} is not in {order}")
        return order.index(self.positive_class)


def scores(schema: Schema, values: Any, rows: int, columns: Sequence[str] | None) -> list[Any]:
    """Scores as the API takes them: P(positive) for a binary model, ``{class: p}`` for a
    multiclass one. ``values`` is ``predict_proba``'s output as it comes.
    """
    array = np.asarray(values, dtype=np.float64)
    if array.shape[0] != rows:
        raise ValueError(f"scores have {array.shape[0]} rows where the inputs have {rows}")
    if schema.task == "binary_classification":
        if array.ndim == 2:
            array = array[:, schema.score_column(columns, array.shape[1])]
        return _convert.float_column(array)
    if schema.task == "multiclass_classification":
        if array.ndim != 2:
            raise ValueError("multiclass scores must be 2-D, one column per class")
        order = [_convert.class_label(c) for c in columns] if columns else schema.score_columns
        if len(order) != array.shape[1]:
            raise ValueError(f"scores have {array.shape[1]} columns, the classes are {order}")
        per_class = [_convert.float_column(array[:, i]) for i in range(array.shape[1])]
        return [
            {c: v for c, v in zip(order, row) if v is not None} or None for row in zip(*per_class)
        ]
    raise ValueError("a regression model takes no scores")


def targets(schema: Schema, values: Any) -> list[Any]:
    """Predictions or labels: class labels as strings, regression targets as numbers."""
    if schema.is_classification:
        return _convert.class_labels(values)
    return _convert.float_column(np.asarray(values, dtype=np.float64).reshape(-1))


def argmax_classes(schema: Schema, values: Any, columns: Sequence[str] | None) -> list[Any]:
    """The class of each row's highest score: what ``predict`` would answer."""
    array = np.asarray(values, dtype=np.float64)
    order = [_convert.class_label(c) for c in columns] if columns else schema.score_columns
    if array.ndim == 1:
        positive = schema.positive_class
        negative = next(c for c in order if c != positive)
        return [positive if p >= 0.5 else negative for p in array.tolist()]
    return [order[i] for i in np.argmax(array, axis=1).tolist()]


def feature_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """One ``{feature: value}`` dict per row."""
    names = [str(c) for c in frame.columns]
    columns = [_convert.column(frame.iloc[:, i]) for i in range(frame.shape[1])]
    return (
        [dict(zip(names, row)) for row in zip(*columns)]
        if columns
        else [{} for _ in range(len(frame))]
    )


def events(
    schema: Schema,
    frame: pd.DataFrame | None,
    rows: int,
    *,
    ids: list[str] | None,
    predictions: Any = None,
    scores_: Any = None,
    score_classes: Sequence[str] | None = None,
    labels: Any = None,
    timestamps: Any = None,
    latency_ms: Any = None,
    version: str | None = None,
) -> list[dict[str, Any]]:
    """Prediction events (or reference rows, without ids)."""
    records: list[dict[str, Any]] = (
        [{"features": f} for f in feature_rows(frame)]
        if frame is not None
        else [{} for _ in range(rows)]
    )
    if predictions is None and scores_ is not None and schema.is_classification:
        predictions = argmax_classes(schema, scores_, score_classes)
    columns: dict[str, list[Any]] = {}
    if ids is not None:
        columns["id"] = ids
    if predictions is not None:
        columns["prediction"] = targets(schema, predictions)
    if scores_ is not None:
        columns["score"] = scores(schema, scores_, rows, score_classes)
    if labels is not None:
        columns["label"] = targets(schema, labels)
    if timestamps is not None:
        columns["timestamp"] = _convert.timestamps_ms(timestamps, rows)
    if latency_ms is not None:
        if np.ndim(latency_ms) == 0:
            columns["latency_ms"] = [_convert.scalar(latency_ms)] * rows
        else:
            columns["latency_ms"] = _convert.float_column(np.asarray(latency_ms, dtype=float))
    for name, values in columns.items():
        if len(values) != rows:
            raise ValueError(f"`{name}` has {len(values)} values where the inputs have {rows}")
        for record, value in zip(records, values):
            if value is not None:
                record[name] = value
    if version is not None:
        for record in records:
            record["version"] = version
    return records
