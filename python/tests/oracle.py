"""scikit-learn's values of every metric modelwatch reports (the independent oracle)."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm


def expected(task: str, y_true, y_pred, proba=None, classes=None) -> dict[str, float]:
    if task == "regression":
        y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
        return {
            "mae": skm.mean_absolute_error(y_true, y_pred),
            "rmse": float(np.sqrt(skm.mean_squared_error(y_true, y_pred))),
            "r2": skm.r2_score(y_true, y_pred),
            "mape": skm.mean_absolute_percentage_error(y_true, y_pred),
            "mean_error": float(np.mean(y_pred - y_true)),
        }
    y_true = [str(v) for v in y_true]
    y_pred = [str(v) for v in y_pred]
    out = {"accuracy": skm.accuracy_score(y_true, y_pred)}
    if task == "binary_classification":
        for name, fn in (
            ("precision", skm.precision_score),
            ("recall", skm.recall_score),
            ("f1", skm.f1_score),
        ):
            out[name] = fn(y_true, y_pred, pos_label="1", zero_division=0)
        if proba is not None:
            out["roc_auc"] = skm.roc_auc_score([v == "1" for v in y_true], proba)
            out["log_loss"] = skm.log_loss(y_true, proba, labels=["0", "1"])
        return out
    for avg in ("macro", "weighted"):
        out[f"precision_{avg}"] = skm.precision_score(y_true, y_pred, average=avg, zero_division=0)
        out[f"recall_{avg}"] = skm.recall_score(y_true, y_pred, average=avg, zero_division=0)
        out[f"f1_{avg}"] = skm.f1_score(y_true, y_pred, average=avg, zero_division=0)
    if proba is not None:
        out["log_loss"] = skm.log_loss(y_true, proba, labels=[str(c) for c in classes])
    return out


def assert_metrics(actual, wanted: dict[str, float], where: str) -> None:
    for name, value in wanted.items():
        tolerance = 1e-3 if name == "roc_auc" else 1e-9
        got = float(actual[name])
        assert abs(got - value) <= tolerance * max(1.0, abs(value)), (
            f"{where}: {name} {got} != {value}"
        )
