"""``mw.report``: the report of ``modelwatch report`` and the server, computed in process
by the Rust core on the DataFrames' columns.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import _convert, _core, frames
from .definition import definition as _definition

_TASKS = ("binary_classification", "multiclass_classification", "regression")


class Report:
    """A report: ``metrics`` (one row per window of the series), ``drift`` (one row per
    feature, then the prediction and the score) and ``quality`` (one row per feature)
    as DataFrames; ``summary`` the metrics of the whole range; ``to_dict()`` the JSON of
    ``modelwatch report``; ``to_html(path)`` the server's page.
    """

    def __init__(self, core: Any) -> None:
        """Wraps core's report."""
        self._core = core
        self._dict: dict[str, Any] = json.loads(core.json())
        metrics = self._dict["metrics"]
        self.summary: dict[str, Any] = metrics["summary"]
        self.metrics: pd.DataFrame = frames.metrics_frame(metrics)
        self.drift: pd.DataFrame = frames.drift_frame(self._dict.get("drift"))
        self.quality: pd.DataFrame = frames.quality_frame(self._dict.get("quality"))

    def to_dict(self) -> dict[str, Any]:
        """The report as ``modelwatch report --format json`` writes it."""
        return json.loads(json.dumps(self._dict))

    def to_html(self, path: str | Path | None = None) -> str:
        """The server's self-contained HTML page; written to ``path`` when given."""
        page: str = self._core.html()
        if path is not None:
            Path(path).write_text(page, encoding="utf-8")
        return page

    def to_markdown(self) -> str:
        """The report as the server's Markdown."""
        return str(self._core.markdown())

    def _repr_html_(self) -> str:
        return self.to_html()


def _numeric(name: str, values: pd.Series) -> np.ndarray:
    try:
        return np.ascontiguousarray(
            pd.to_numeric(values, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
        )
    except (TypeError, ValueError) as error:
        raise TypeError(f"column `{name}` is not numeric: {error}") from None


def _columns(
    frame: pd.DataFrame,
    features: Sequence[str],
    kinds: Mapping[str, str],
    roles: Mapping[str, Any],
    task: str,
) -> dict[str, Any]:
    """The frame's columns under the names of ``modelwatch report``'s CSV columns."""
    out: dict[str, Any] = {}
    for name in features:
        if name not in frame:
            raise KeyError(f"feature column `{name}` is missing")
        values = frame[name]
        out[name] = _numeric(name, values) if kinds[name] == "numeric" else _convert.column(values)
    for role, source in roles.items():
        if source is None:
            continue
        if role == "score" and task == "multiclass_classification":
            for cls, column in source.items():
                if column not in frame:
                    raise KeyError(f"score column `{column}` is missing")
                out[f"score_{cls}"] = _numeric(column, frame[column])
            continue
        if source not in frame:
            raise KeyError(f"{role} column `{source}` is missing")
        values = frame[source]
        if role in ("score", "latency_ms") or (
            role in ("prediction", "label") and task == "regression"
        ):
            out[role] = _numeric(source, values)
        elif role in ("prediction", "label"):
            out[role] = _convert.class_labels(values)
        elif role == "timestamp":
            out[role] = _convert.timestamps_ms(values, len(frame))
        elif role == "id":
            out[role] = _convert.ids(values)
        else:
            out[role] = _convert.column(values)
    return out


def report(
    reference_df: pd.DataFrame,
    current_df: pd.DataFrame,
    task: str,
    prediction: str | None = "prediction",
    score: str | Sequence[str] | Mapping[Any, str] | None = None,
    label: str | None = "label",
    *,
    features: Sequence[str] | None = None,
    classes: Sequence[Any] | None = None,
    positive_class: Any = None,
    timestamp: str | None = None,
    id: str | None = None,  # noqa: A002 - the column's name in the API
    version: str | None = None,
    latency_ms: str | None = None,
    step: str = "1d",
    on_invalid: str = "raise",
    definition: Mapping[str, Any] | None = None,
) -> Report:
    """The report of ``current_df`` against ``reference_df``, computed in process by the
    same Rust core as ``modelwatch report`` and the server (no server is needed).

    ``prediction``, ``score``, ``label``, ``timestamp``, ``id``, ``version`` and
    ``latency_ms`` name the frames' columns of those roles (a ``label`` or ``score``
    column absent from the reference is fine). A multiclass ``score`` is a list of
    columns in the order of ``classes`` or a ``{class: column}`` mapping. Every other
    column is a feature (or pass ``features``): numeric by dtype, else categorical.
    Rows without a timestamp get the time of the call; ``step`` is the metric series'
    step. A row the core rejects raises ``ValueError`` naming its row and column, unless
    ``on_invalid="skip"`` (it is then counted in ``to_dict()["current"]``).
    """
    if task not in _TASKS:
        raise ValueError(f"task must be one of {', '.join(_TASKS)}, not {task!r}")
    if on_invalid not in ("raise", "skip"):
        raise ValueError("on_invalid must be 'raise' or 'skip'")
    reference_df = _convert.as_frame(reference_df)
    current_df = _convert.as_frame(current_df)
    if task == "multiclass_classification" and score is not None and isinstance(score, str):
        raise TypeError("a multiclass score is a list of columns or a {class: column} mapping")
    if label is not None and label not in current_df and label not in reference_df:
        label = None  # the default name, and no labels
    for role, column in (
        ("prediction", prediction),
        ("timestamp", timestamp),
        ("id", id),
        ("version", version),
        ("latency_ms", latency_ms),
    ):
        if column is not None and column not in current_df:
            raise KeyError(f"{role} column `{column}` is missing")
    role_columns = {
        "prediction": prediction,
        "label": label,
        "timestamp": timestamp,
        "id": id,
        "version": version,
        "latency_ms": latency_ms,
    }
    score_columns: list[str] = []
    if isinstance(score, str):
        score_columns = [score]
    elif isinstance(score, Mapping):
        score_columns = list(score.values())
    elif score is not None:
        score_columns = list(score)
    taken = {c for c in role_columns.values() if c is not None} | set(score_columns)
    if features is None:
        features = [str(c) for c in reference_df.columns if c not in taken]
    feature_frame = reference_df[list(features)]
    labels_seen: list[Any] = []
    for frame in (reference_df, current_df):
        for column in (prediction, label):
            if column is not None and column in frame and task != "regression":
                labels_seen += _convert.class_labels(frame[column])
    spec = (
        dict(definition)
        if definition is not None
        else _definition(
            task,
            feature_frame,
            classes=classes,
            positive_class=positive_class,
            observed=labels_seen,
        )
    )
    kinds = {f["name"]: f["type"] for f in spec["features"]}
    if task == "multiclass_classification" and score is not None and not isinstance(score, Mapping):
        order = [_convert.class_label(c) for c in (classes or [])] or _convert.sorted_classes(
            spec["classes"]
        )
        if len(order) != len(score_columns):
            raise ValueError(f"{len(score_columns)} score columns for the classes {order}")
        score = dict(zip(order, score_columns))
    elif isinstance(score, Mapping):
        score = {_convert.class_label(k): v for k, v in score.items()}
    role_columns["score"] = score
    reference_roles = {r: c for r, c in role_columns.items() if r != "id"}
    reference_roles = {
        r: c
        for r, c in reference_roles.items()
        if c is not None and (r == "score" or c in reference_df)
    }
    if "score" in reference_roles and not all(c in reference_df for c in score_columns):
        del reference_roles["score"]
    reference = _columns(reference_df, features, kinds, reference_roles, task)
    current = _columns(current_df, features, kinds, role_columns, task)
    if id is None:
        # Events need ids; without an id column a row's is its position.
        current["id"] = [str(i) for i in range(len(current_df))]
    step_ms = _step_ms(step)
    core = _core.report(json.dumps(spec), reference, current, step_ms, int(time.time() * 1000))
    result = Report(core)
    if on_invalid == "raise":
        for part in ("reference", "current"):
            rows = result.to_dict().get(part) or {}
            if rows.get("rejected"):
                first = rows["first_rejections"][0]
                raise ValueError(
                    f"{part} row {first['line']}: column `{first['field']}`: {first['error']}"
                    f" ({rows['rejected']} rows rejected; on_invalid='skip' counts them)"
                )
    return result


def _step_ms(step: str) -> int:
    units = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
    number, unit = step[:-1], step[-1:]
    if unit not in units or not number.isdigit() or int(number) == 0:
        raise ValueError(f"step must be a whole number of minutes, hours, days or weeks: {step!r}")
    return int(number) * units[unit]
