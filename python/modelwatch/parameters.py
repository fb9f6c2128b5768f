"""Model internals on the client: tensors summarised with numpy the way the server
summarises raw values (count, min, max, mean, std with ddof=0, zeros, NaN, Inf, L2 norm
and ``numpy.histogram`` with 64 bins, each over the finite values), so a summary of a
million weights is sent instead of the weights.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

#: Bins of a histogram, as the server's.
HISTOGRAM_BINS = 64
#: Tensors sent per request (the server takes at most 10,000).
TENSORS_PER_REQUEST = 1_000
#: Name prefix of the training record's scalars (loss and metrics per epoch).
TRAINING_PREFIX = "training/"


def as_array(value: Any) -> np.ndarray:
    """A tensor of any framework (numpy, a PyTorch tensor, a Keras or TensorFlow
    variable, a list) as a flat float64 array.
    """
    for method in ("detach", "cpu"):
        if hasattr(value, method) and not isinstance(value, np.ndarray):
            value = getattr(value, method)()
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    return np.asarray(value, dtype=np.float64).ravel()


def summarise(values: np.ndarray) -> dict[str, Any]:
    """The summary ``POST .../parameters`` takes for one tensor."""
    finite = values[np.isfinite(values)]
    summary: dict[str, Any] = {
        "count": int(values.size),
        "zeros": int(np.count_nonzero(finite == 0)),
        "nan": int(np.count_nonzero(np.isnan(values))),
        "inf": int(np.count_nonzero(np.isinf(values))),
    }
    if finite.size == 0:
        summary.update(min=None, max=None, mean=None, std=None, l2_norm=None)
        summary["histogram"] = {"edges": [], "counts": []}
        return summary
    counts, edges = np.histogram(finite, bins=HISTOGRAM_BINS)
    summary.update(
        min=float(finite.min()),
        max=float(finite.max()),
        mean=float(finite.mean()),
        std=float(finite.std()),
        l2_norm=float(np.linalg.norm(finite)),
        histogram={"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]},
    )
    return summary


def tensor_entries(tensors: Mapping[str, Any], raw: bool) -> Iterator[dict[str, Any]]:
    """One request entry per tensor: its summary, or its raw values when ``raw``."""
    for name, value in tensors.items():
        values = as_array(value)
        if raw:
            yield {"name": str(name), "values": values.tolist()}
        else:
            yield {"name": str(name), "summary": summarise(values)}


def series_frame(answer: dict[str, Any]) -> pd.DataFrame:
    """``GET .../parameters``: one row per tensor, version and step, with the summary's
    statistics as float columns (the histogram as its ``edges`` and ``counts`` lists).
    """
    rows = []
    for series in answer["tensors"]:
        for point in series["points"]:
            summary = point["summary"]
            rows.append(
                {
                    "tensor": series["tensor"],
                    "version": series["version"],
                    "step": int(point["step"]),
                    "timestamp": point["timestamp"],
                    **{k: summary[k] for k in ("count", "zeros", "nan", "inf")},
                    **{
                        k: np.nan if summary[k] is None else float(summary[k])
                        for k in ("min", "max", "mean", "std", "l2_norm")
                    },
                    "edges": summary["histogram"]["edges"],
                    "counts": summary["histogram"]["counts"],
                }
            )
    frame = pd.DataFrame(
        rows,
        columns=[
            "tensor",
            "version",
            "step",
            "timestamp",
            "count",
            "zeros",
            "nan",
            "inf",
            "min",
            "max",
            "mean",
            "std",
            "l2_norm",
            "edges",
            "counts",
        ],
    )
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame


def diff_frame(answer: dict[str, Any]) -> pd.DataFrame:
    """``GET .../parameters/diff``: one row per tensor present on both sides."""
    columns = [
        "tensor",
        "from_step",
        "to_step",
        "mean_change",
        "std_change",
        "l2_norm_change",
        "wasserstein",
    ]
    frame = pd.DataFrame(answer["tensors"], columns=columns)
    for name in columns[3:]:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(np.float64)
    return frame
