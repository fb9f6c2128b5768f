#!/usr/bin/env python3
"""The `exact` drift case (issue 12): values in their shortest form with all 17 digits, where a
parser that is 1 ulp off shows up.

Usage (from the repository root): python3 testdata/drift/gen_exact.py

Writes `exact.schema.json`, `exact.reference.csv` and `exact.current.csv`: the current rows
hold exactly the reference's values (other ids and times). Whatever way the current rows are
sent (JSON array, NDJSON, or the CSV of `modelwatch report`), every KS statistic must be 0, no
value out of range, and the drift and quality answers identical. Deterministic: fixed seed.
"""

import csv
import json
import os

import numpy as np

OUT_DIR = os.path.dirname(os.path.abspath(__file__))
ROWS = 400


def main():
    rng = np.random.default_rng(20261202)
    a = rng.normal(0.0, 0.2, size=ROWS)
    b = rng.lognormal(2.0, 1.0, size=ROWS)
    c = rng.choice(["x", "y", "z"], size=ROWS)
    prediction = rng.integers(0, 2, size=ROWS)
    schema = {
        "task": "binary_classification",
        "features": [
            {"name": "a", "type": "numeric"},
            {"name": "b", "type": "numeric"},
            {"name": "c", "type": "categorical"},
        ],
    }
    with open(os.path.join(OUT_DIR, "exact.schema.json"), "w") as f:
        json.dump(schema, f, indent=2)
        f.write("\n")
    for name, prefix, day in [("reference", "ref", "01"), ("current", "cur", "02")]:
        with open(os.path.join(OUT_DIR, f"exact.{name}.csv"), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["id", "timestamp", "prediction", "a", "b", "c"])
            for i in range(ROWS):
                ts = f"2024-03-{day}T{i // 60 % 24:02d}:{i % 60:02d}:00Z"
                w.writerow([f"{prefix}-{i:04d}", ts, int(prediction[i]),
                            repr(float(a[i])), repr(float(b[i])), c[i]])


if __name__ == "__main__":
    main()
