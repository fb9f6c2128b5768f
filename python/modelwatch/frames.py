"""The server's answers (and a report's parts) as typed pandas DataFrames: datetimes in
UTC, floats for every metric and statistic, ready for ``plot()``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: Columns of a drift frame, before the statistics.
DRIFT_COLUMNS = [
    "name",
    "role",
    "type",
    "method",
    "statistic",
    "threshold",
    "drifted",
    "current_count",
]


def _floats(frame: pd.DataFrame, skip: set[str]) -> pd.DataFrame:
    for name in frame.columns:
        if name in skip:
            continue
        values = frame[name]
        if values.map(lambda v: v is None or isinstance(v, (int, float, np.number))).all() and not (
            values.map(lambda v: isinstance(v, bool)).any()
        ):
            frame[name] = pd.to_numeric(values, errors="coerce").astype(np.float64)
    return frame


def metrics_frame(answer: dict[str, Any]) -> pd.DataFrame:
    """A metrics answer: one row per window of its series (the summary alone, at the
    answer's ``from``, when it has no series), indexed by the window's start.
    """
    series = answer.get("series")
    if series is None:
        rows = [dict(answer.get("summary") or {}, start=answer.get("from"))]
    else:
        rows = [dict(point.get("metrics") or {}, start=point.get("start")) for point in series]
    frame = pd.DataFrame(rows)
    if "start" not in frame:
        frame["start"] = pd.Series(dtype="datetime64[ns, UTC]")
    frame["start"] = pd.to_datetime(frame["start"], utc=True)
    frame = frame.set_index("start")
    return _floats(frame, skip={"confusion_matrix"})


def _drift_row(entry: dict[str, Any], role: str) -> dict[str, Any]:
    row = {name: entry.get(name) for name in DRIFT_COLUMNS if name != "role"}
    row["role"] = role
    for key, value in (entry.get("stats") or {}).items():
        row[key] = value
    return row


def drift_frame(answer: dict[str, Any] | None) -> pd.DataFrame:
    """A drift answer: one row per feature, then the prediction and the score (``role``
    says which), with each statistic as a column.
    """
    rows = []
    if answer:
        rows += [_drift_row(e, "feature") for e in answer.get("features") or []]
        for role in ("prediction", "score"):
            if answer.get(role):
                rows.append(_drift_row(answer[role], role))
    frame = pd.DataFrame(rows, columns=None if rows else DRIFT_COLUMNS)
    frame = _floats(frame, skip={"name", "role", "type", "method", "drifted"})
    if "drifted" in frame:
        frame["drifted"] = frame["drifted"].astype("boolean")
    return frame


def quality_frame(answer: dict[str, Any] | None) -> pd.DataFrame:
    """A quality answer: one row per feature (``top`` and ``new_categories`` as lists)."""
    rows = list((answer or {}).get("features") or [])
    frame = pd.DataFrame(rows, columns=None if rows else ["name", "type", "count", "missing"])
    return _floats(frame, skip={"name", "type", "top", "new_categories"})


def windowed(frames: list[tuple[Any, pd.DataFrame]]) -> pd.DataFrame:
    """Per-window frames stacked, with the window's start as the first column."""
    parts = []
    for start, frame in frames:
        frame = frame.copy()
        frame.insert(0, "start", pd.Timestamp(start).tz_convert("UTC"))
        parts.append(frame)
    if not parts:
        return pd.DataFrame({"start": pd.Series(dtype="datetime64[ns, UTC]")})
    return pd.concat(parts, ignore_index=True)
