"""Conversions from numpy and pandas values to the JSON that the server reads.

Missing values (``None``, ``NaN``, ``pd.NA``, ``NaT``) become ``None`` (JSON ``null``,
which the server reads as missing); numpy scalars become Python numbers; timestamps
become integer epoch milliseconds in UTC (a naive timestamp is taken as UTC, with one
warning per process); class labels become the strings the server compares
(``1``, ``1.0`` and ``"1"`` are the class ``"1"``).
"""

from __future__ import annotations

import datetime as _dt
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

_naive_warned = False


def _warn_naive() -> None:
    global _naive_warned
    if not _naive_warned:
        _naive_warned = True
        warnings.warn(
            "modelwatch: naive timestamps are taken as UTC",
            UserWarning,
            stacklevel=4,
        )


def scalar(value: Any) -> Any:
    """One value as JSON: ``None`` for missing, Python numbers, strings, bools."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, str):
        return value
    if isinstance(value, (pd.Timestamp, _dt.datetime, np.datetime64)):
        return timestamp_ms(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def column(values: Any) -> list[Any]:
    """A column (Series, array or sequence) as a list of JSON values."""
    if isinstance(values, pd.Series):
        if pd.api.types.is_float_dtype(values.dtype) and not isinstance(
            values.dtype, pd.api.extensions.ExtensionDtype
        ):
            return float_column(values.to_numpy())
        if pd.api.types.is_integer_dtype(values.dtype) and not values.hasnans:
            return values.to_numpy(dtype=np.int64).tolist()
        if pd.api.types.is_bool_dtype(values.dtype) and not values.hasnans:
            return values.to_numpy(dtype=bool).tolist()
        return [scalar(v) for v in values.astype(object).tolist()]
    array = np.asarray(values)
    if array.dtype.kind == "f":
        return float_column(array)
    if array.dtype.kind in "iub":
        return array.tolist()
    return [scalar(v) for v in array.tolist()]


def float_column(array: np.ndarray) -> list[Any]:
    """A float array as a list, with ``None`` where it is NaN or infinite."""
    array = np.asarray(array, dtype=np.float64)
    bad = ~np.isfinite(array)
    if not bad.any():
        return array.tolist()
    objects = array.astype(object)
    objects[bad] = None
    return objects.tolist()


def timestamp_ms(value: Any) -> int | None:
    """One timestamp (datetime, pd.Timestamp, np.datetime64, RFC 3339 text or epoch ms)."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    stamp = pd.Timestamp(value)
    if stamp is pd.NaT:
        return None
    if stamp.tzinfo is None:
        _warn_naive()
        stamp = stamp.tz_localize("UTC")
    return int((stamp - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(1, "ms"))


def timestamps_ms(values: Any, rows: int) -> list[int | None]:
    """A column of timestamps as epoch milliseconds in UTC."""
    if isinstance(values, (pd.Timestamp, _dt.datetime, np.datetime64, str)):
        return [timestamp_ms(values)] * rows
    if isinstance(values, (int, np.integer)):
        return [int(values)] * rows
    series = pd.Series(values) if not isinstance(values, pd.Series) else values
    if pd.api.types.is_integer_dtype(series.dtype):
        return series.astype("int64").tolist()
    stamps = pd.to_datetime(series.reset_index(drop=True), utc=False)
    if getattr(stamps.dt, "tz", None) is None:
        if stamps.notna().any():
            _warn_naive()
        stamps = stamps.dt.tz_localize("UTC")
    else:
        stamps = stamps.dt.tz_convert("UTC")
    millis = (stamps - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(1, "ms")
    return [None if pd.isna(v) else int(v) for v in millis.astype(object).tolist()]


def class_label(value: Any) -> str | None:
    """A class label as the server compares it: ``1``, ``1.0`` and ``"1"`` are ``"1"``."""
    value = scalar(value)
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    text = str(value)
    head, dot, tail = text.partition(".")
    digits = head[1:] if head.startswith("-") else head
    if dot and digits.isdigit() and tail and set(tail) == {"0"}:
        return "0" if head == "-0" else head
    return text


def class_labels(values: Any) -> list[str | None]:
    """A column of class labels."""
    return [class_label(v) for v in column(values)]


def ids(values: Any) -> list[str]:
    """Event ids as strings (integer ids become their decimal text)."""
    return [str(v) for v in column(values)]


def as_frame(x: Any) -> pd.DataFrame:
    """Model inputs as a DataFrame: a 2-D array gets the columns ``f0``, ``f1``, ..."""
    if isinstance(x, pd.DataFrame):
        return x
    if isinstance(x, pd.Series):
        return x.to_frame()
    if isinstance(x, dict):
        return pd.DataFrame(x)
    array = np.asarray(x)
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise ValueError(f"inputs must be 2-D (rows × features), not {array.ndim}-D")
    return pd.DataFrame(array, columns=[f"f{i}" for i in range(array.shape[1])])


def feature_types(frame: pd.DataFrame) -> list[dict[str, str]]:
    """Feature definitions from dtypes: numbers are numeric, the rest categorical."""
    features = []
    for name, dtype in frame.dtypes.items():
        numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        features.append({"name": str(name), "type": "numeric" if numeric else "categorical"})
    return features


def sorted_classes(classes: Sequence[str]) -> list[str]:
    """Class labels in the order of ``np.unique`` on their values: numerically when all
    are numbers (as scikit-learn's ``classes_`` are), else as text.
    """
    try:
        return sorted(classes, key=float)
    except ValueError:
        return sorted(classes)
