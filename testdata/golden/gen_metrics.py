#!/usr/bin/env python3
"""Generate golden test data for modelwatch metric computations.

Usage (from the repository root):

    python3 testdata/golden/gen_metrics.py

Writes, next to this script, for each task in (binary, multiclass, regression):

    <task>.schema.json    model definition
    <task>.csv            ~600 prediction rows over 3 UTC days (2024-03-11..13)
    <task>.expected.json  expected metrics computed with scikit-learn / numpy

The expected values are computed by reading the CSV back as strings, so they
correspond exactly to what a consumer parsing the CSV will see.
Deterministic: fixed seed, no dependence on wall-clock time.
"""

import csv
import datetime as dt
import json
import math
import os
import warnings

import numpy as np
import sklearn
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
)

OUT_DIR = os.path.dirname(os.path.abspath(__file__))
SEED = 20240311
START = dt.datetime(2024, 3, 11, tzinfo=dt.timezone.utc)
N_DAYS = 3
REGIONS = ["north", "south", "east", "west"]
FEATURES = [
    {"name": "income", "type": "numeric"},
    {"name": "region", "type": "categorical"},
]
MC_CLASSES = ["bird", "cat", "dog"]  # sorted
MC_NO_DOG_DAY = 1  # 0-based day index (2024-03-12) with no "dog" at all

P_NO_LABEL = 0.10
P_ERROR = 0.02
P_NO_LATENCY = 0.03
P_NO_INCOME = 0.05


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def fmt_ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt_sig6(x):
    """Positional (never scientific) decimal with 6 significant digits."""
    return np.format_float_positional(
        float(x), precision=6, unique=False, fractional=False, trim="-"
    )


def common_rows(rng, prefix):
    """Per-row fields shared by all tasks, sorted by timestamp."""
    rows = []
    for day in range(N_DAYS):
        n = int(rng.integers(190, 211))
        day_start = START + dt.timedelta(days=day)
        secs = np.sort(rng.integers(0, 86400, size=n))
        for s in secs:
            rows.append({"day": day, "ts": day_start + dt.timedelta(seconds=int(s))})
    for i, r in enumerate(rows, start=1):
        r["id"] = f"{prefix}-{i:06d}"
        r["version"] = "v1" if rng.random() < 0.55 else "v2"
        r["has_label"] = rng.random() >= P_NO_LABEL
        r["error"] = "true" if rng.random() < P_ERROR else "false"
        if rng.random() < P_NO_LATENCY:
            r["latency_ms"] = ""
        else:
            lat = max(0.05, float(rng.lognormal(mean=math.log(12.0), sigma=0.9)))
            r["latency_ms"] = f"{lat:.3f}"
        if rng.random() < P_NO_INCOME:
            r["income"] = ""
        else:
            r["income"] = f"{float(rng.lognormal(mean=math.log(52000.0), sigma=0.5)):.2f}"
        r["region"] = REGIONS[int(rng.integers(0, len(REGIONS)))]
    return rows


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            w.writerow([r[h] for h in header])


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, allow_nan=False)
        f.write("\n")


def parse_day(ts):
    t = dt.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    return t.replace(hour=0, minute=0, second=0)


# --------------------------------------------------------------------------
# data generation
# --------------------------------------------------------------------------

def gen_binary(rng):
    rows = common_rows(rng, "b")
    for r in rows:
        y = 1 if rng.random() < 0.4 else 0
        sep = 1.15 if r["version"] == "v1" else 1.35  # v2 slightly better
        logit = -0.55 + sep * y + rng.normal(0.0, 1.0)
        p = 1.0 / (1.0 + math.exp(-logit))
        p = min(max(p, 0.0005), 0.9995)
        s = fmt_sig6(p)
        assert 0.0 < float(s) < 1.0
        pred = 1 if float(s) >= 0.5 else 0
        if rng.random() < 0.07:  # imperfect thresholding
            pred = 1 - pred
        r["score"] = s
        r["prediction"] = str(pred)
        r["label"] = str(y) if r["has_label"] else ""
    header = ["id", "timestamp", "version", "prediction", "label", "score",
              "latency_ms", "error", "income", "region"]
    return header, rows


def gen_multiclass(rng):
    rows = common_rows(rng, "m")
    for r in rows:
        no_dog = r["day"] == MC_NO_DOG_DAY
        if no_dog:
            y = 0 if rng.random() < 0.45 else 1
        else:
            y = int(rng.choice(3, p=[0.3, 0.4, 0.3]))
        strength = 1.5 if r["version"] == "v1" else 1.8
        logits = rng.normal(0.0, 1.0, size=3)
        logits[y] += strength
        if no_dog:
            logits[2] -= 1.5
        p = np.exp(logits - logits.max())
        p /= p.sum()
        p = np.clip(p, 0.0005, None)
        p /= p.sum()
        a = round(float(p[0]), 6)
        b = round(float(p[1]), 6)
        c = round(1.0 - a - b, 6)
        strs = [f"{a:.6f}", f"{b:.6f}", f"{c:.6f}"]
        vals = [float(x) for x in strs]
        assert all(0.0 < v < 1.0 for v in vals)
        assert abs(sum(vals) - 1.0) < 1e-9
        candidates = [0, 1] if no_dog else [0, 1, 2]
        pred = max(candidates, key=lambda k: vals[k])
        if rng.random() < 0.08:  # not always argmax
            others = [k for k in candidates if k != pred]
            pred = others[int(rng.integers(0, len(others)))]
        r["score_bird"], r["score_cat"], r["score_dog"] = strs
        r["prediction"] = MC_CLASSES[pred]
        r["label"] = MC_CLASSES[y] if r["has_label"] else ""
    header = ["id", "timestamp", "version", "prediction", "label",
              "score_bird", "score_cat", "score_dog",
              "latency_ms", "error", "income", "region"]
    return header, rows


def gen_regression(rng):
    rows = common_rows(rng, "r")
    # a few rows with labels near (never exactly) zero, spread over the days
    near_zero = set()
    for day in range(N_DAYS):
        idx = [i for i, r in enumerate(rows) if r["day"] == day]
        near_zero.update(int(i) for i in rng.choice(idx, size=2, replace=False))
    for i, r in enumerate(rows):
        if i in near_zero:
            r["has_label"] = True
            y = float(rng.uniform(0.05, 3.0))
            pred = y + float(rng.normal(0.0, 1.5))
        else:
            y = float(rng.uniform(100.0, 500.0))
            bias = 0.0 if r["version"] == "v1" else 4.0
            pred = y + bias + float(rng.normal(0.0, 0.06 * y + 5.0))
        ys = f"{y:.4f}"
        assert float(ys) != 0.0
        r["label"] = ys if r["has_label"] else ""
        r["prediction"] = f"{pred:.4f}"
    header = ["id", "timestamp", "version", "prediction", "label",
              "latency_ms", "error", "income", "region"]
    return header, rows


# --------------------------------------------------------------------------
# expected metrics (computed from the CSV as read back, all strings)
# --------------------------------------------------------------------------

def base_metrics(rows):
    lat = np.array([float(r["latency_ms"]) for r in rows if r["latency_ms"] != ""])
    assert lat.size > 0
    return {
        "count": len(rows),
        "labelled_count": sum(1 for r in rows if r["label"] != ""),
        "error_rate": sum(1 for r in rows if r["error"] == "true") / len(rows),
        "latency_p50": float(np.percentile(lat, 50)),
        "latency_p95": float(np.percentile(lat, 95)),
        "latency_p99": float(np.percentile(lat, 99)),
    }


def cm_obj(labels, m):
    return {"labels": list(labels), "matrix": [[int(v) for v in row] for row in m]}


def binary_metrics(rows):
    m = base_metrics(rows)
    lab = [r for r in rows if r["label"] != ""]
    y_true = [r["label"] for r in lab]
    y_pred = [r["prediction"] for r in lab]
    score = np.array([float(r["score"]) for r in lab])
    assert set(y_true) == {"0", "1"}, "both classes must be present"
    classes = ["0", "1"]
    m.update({
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision": float(precision_score(y_true, y_pred, pos_label="1", zero_division=0)),
        "recall": float(recall_score(y_true, y_pred, pos_label="1", zero_division=0)),
        "f1": float(f1_score(y_true, y_pred, pos_label="1", zero_division=0)),
        "roc_auc": float(roc_auc_score(np.array(y_true) == "1", score)),
        "log_loss": float(log_loss(y_true, score, labels=classes)),
        "confusion_matrix": cm_obj(classes, confusion_matrix(y_true, y_pred, labels=classes)),
    })
    return m


def multiclass_metrics(rows):
    m = base_metrics(rows)
    lab = [r for r in rows if r["label"] != ""]
    y_true = [r["label"] for r in lab]
    y_pred = [r["prediction"] for r in lab]
    proba = np.array([[float(r["score_" + c]) for c in MC_CLASSES] for r in lab])
    out = {"accuracy": float(accuracy_score(y_true, y_pred))}
    for avg in ("macro", "weighted"):
        out[f"precision_{avg}"] = float(precision_score(y_true, y_pred, average=avg, zero_division=0))
        out[f"recall_{avg}"] = float(recall_score(y_true, y_pred, average=avg, zero_division=0))
        out[f"f1_{avg}"] = float(f1_score(y_true, y_pred, average=avg, zero_division=0))
    m.update({
        "accuracy": out["accuracy"],
        "precision_macro": out["precision_macro"],
        "recall_macro": out["recall_macro"],
        "f1_macro": out["f1_macro"],
        "precision_weighted": out["precision_weighted"],
        "recall_weighted": out["recall_weighted"],
        "f1_weighted": out["f1_weighted"],
        "log_loss": float(log_loss(y_true, proba, labels=MC_CLASSES)),
        "confusion_matrix": cm_obj(MC_CLASSES, confusion_matrix(y_true, y_pred, labels=MC_CLASSES)),
    })
    return m


def regression_metrics(rows):
    m = base_metrics(rows)
    lab = [r for r in rows if r["label"] != ""]
    y_true = np.array([float(r["label"]) for r in lab])
    y_pred = np.array([float(r["prediction"]) for r in lab])
    m.update({
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "rmse": float(math.sqrt(mean_squared_error(y_true, y_pred))),
        "mape": float(mean_absolute_percentage_error(y_true, y_pred)),
        "r2": float(r2_score(y_true, y_pred)),
        "mean_error": float(np.mean(y_pred - y_true)),
    })
    return m


def expected(rows, metric_fn):
    daily = []
    for day in range(N_DAYS):
        start = START + dt.timedelta(days=day)
        sel = [r for r in rows if parse_day(r["timestamp"]) == start]
        daily.append({"start": fmt_ts(start), "metrics": metric_fn(sel)})
    return {
        "generated_by": "gen_metrics.py",
        "versions": {"sklearn": sklearn.__version__, "numpy": np.__version__},
        "summary": metric_fn(rows),
        "daily": daily,
        "by_version": {v: metric_fn([r for r in rows if r["version"] == v])
                       for v in ("v1", "v2")},
    }


# --------------------------------------------------------------------------

SCHEMAS = {
    "binary": {"task": "binary_classification", "positive_class": "1",
               "classes": ["0", "1"], "features": FEATURES},
    "multiclass": {"task": "multiclass_classification",
                   "classes": MC_CLASSES, "features": FEATURES},
    "regression": {"task": "regression", "features": FEATURES},
}

TASKS = [
    ("binary", gen_binary, binary_metrics),
    ("multiclass", gen_multiclass, multiclass_metrics),
    ("regression", gen_regression, regression_metrics),
]


def check_edge_cases(task, rows):
    if task == "multiclass":
        day = fmt_ts(START + dt.timedelta(days=MC_NO_DOG_DAY))[:10]
        sel = [r for r in rows if r["timestamp"].startswith(day)]
        assert not any("dog" in (r["label"], r["prediction"]) for r in sel)
        others = [r for r in rows if not r["timestamp"].startswith(day)]
        assert any(r["label"] == "dog" for r in others)
    for r in rows:
        if r["latency_ms"]:
            assert float(r["latency_ms"]) > 0
        if task == "binary":
            assert 0.0 < float(r["score"]) < 1.0
        if task == "regression" and r["label"]:
            assert float(r["label"]) != 0.0


def main():
    warnings.simplefilter("error")  # any sklearn warning = bad golden data
    for i, (task, gen, metric_fn) in enumerate(TASKS):
        rng = np.random.default_rng([SEED, i])
        header, rows = gen(rng)
        for r in rows:
            r["timestamp"] = fmt_ts(r["ts"])
        assert len({r["id"] for r in rows}) == len(rows)
        write_json(os.path.join(OUT_DIR, f"{task}.schema.json"), SCHEMAS[task])
        csv_path = os.path.join(OUT_DIR, f"{task}.csv")
        write_csv(csv_path, header, rows)
        back = read_csv(csv_path)
        check_edge_cases(task, back)
        write_json(os.path.join(OUT_DIR, f"{task}.expected.json"), expected(back, metric_fn))
        print(f"{task}: {len(back)} rows")


if __name__ == "__main__":
    main()
