#!/usr/bin/env python3
"""Golden data for the class order of the confusion matrix (issue 12, item 3).

Usage (from the repository root):

    python3 testdata/golden/gen_classes.py

Writes `classes12.schema.json` (a multiclass model with the 12 integer classes 0..11,
declared in numeric order), `classes12.csv` (400 labelled rows on 2024-03-11) and
`classes12.expected.json`: scikit-learn's metrics of those rows with the labels read as
integers, so `confusion_matrix` orders them numerically (0, 1, 2, ..., 10, 11), not as
text (0, 1, 10, 11, 2, ...). Deterministic: fixed seed.
"""

import csv
import json
import os

import numpy as np
import sklearn
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
)

OUT_DIR = os.path.dirname(os.path.abspath(__file__))
CLASSES = list(range(12))
ROWS = 400


def main():
    rng = np.random.default_rng(20240312)
    y_true = rng.integers(0, len(CLASSES), size=ROWS)
    # Right about 60% of the time, otherwise a neighbouring class.
    noise = rng.integers(-2, 3, size=ROWS)
    right = rng.random(ROWS) < 0.6
    y_pred = np.where(right, y_true, np.clip(y_true + noise, 0, len(CLASSES) - 1))
    schema = {
        "task": "multiclass_classification",
        "classes": [str(c) for c in CLASSES],
        "features": [{"name": "x", "type": "numeric"}],
    }
    with open(os.path.join(OUT_DIR, "classes12.schema.json"), "w") as f:
        json.dump(schema, f, indent=2)
        f.write("\n")
    with open(os.path.join(OUT_DIR, "classes12.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", "timestamp", "prediction", "label", "x"])
        for i, (t, p) in enumerate(zip(y_true, y_pred)):
            second = i * 60
            ts = f"2024-03-11T{second // 3600:02d}:{second // 60 % 60:02d}:00Z"
            w.writerow([f"c-{i:04d}", ts, int(p), int(t), f"{rng.normal():.6f}"])
    # Read back as integers: scikit-learn sorts integer labels numerically.
    with open(os.path.join(OUT_DIR, "classes12.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    t = [int(r["label"]) for r in rows]
    p = [int(r["prediction"]) for r in rows]
    matrix = confusion_matrix(t, p)
    labels = sorted(set(t) | set(p))
    summary = {
        "count": len(rows),
        "labelled_count": len(rows),
        "accuracy": float(accuracy_score(t, p)),
        "confusion_matrix": {
            "labels": [str(c) for c in labels],
            "matrix": [[int(v) for v in row] for row in matrix],
        },
    }
    for avg in ("macro", "weighted"):
        summary[f"precision_{avg}"] = float(precision_score(t, p, average=avg, zero_division=0))
        summary[f"recall_{avg}"] = float(recall_score(t, p, average=avg, zero_division=0))
        summary[f"f1_{avg}"] = float(f1_score(t, p, average=avg, zero_division=0))
    expected = {
        "generated_by": "gen_classes.py",
        "versions": {"sklearn": sklearn.__version__, "numpy": np.__version__},
        "summary": summary,
    }
    with open(os.path.join(OUT_DIR, "classes12.expected.json"), "w") as f:
        json.dump(expected, f, indent=2)
        f.write("\n")
    print(f"classes12: {len(rows)} rows, labels {summary['confusion_matrix']['labels']}")


if __name__ == "__main__":
    main()
