#!/usr/bin/env python3
"""Oracle of the correlations answer: numpy.cov (ddof=1) and numpy.corrcoef per pair of
columns over the rows where both are present (pairwise-complete), for a current data set
and a reference. Writes oracle.json next to this script.

Run: python3 testdata/correlations/oracle.py   (numpy, pinned in .ci/install)
"""
import json
import math
import pathlib

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
COLUMNS = ["a", "b", "c", "d", "e", "score"]


def data(seed, rows, slope):
    rng = np.random.default_rng(seed)
    a = 1e6 + 1e3 * rng.standard_normal(rows)          # far from zero: tests stability
    b = slope * (a - 1e6) / 1e3 + 0.5 * rng.standard_normal(rows)
    c = -2.0 * b + rng.standard_normal(rows)
    c[rng.random(rows) < 0.2] = np.nan                  # 20 % missing
    d = np.full(rows, 3.25)                             # constant: pearson undefined
    e = np.full(rows, np.nan)
    e[7] = 1.5                                          # one value: covariance undefined
    score = 1.0 / (1.0 + np.exp(-(0.8 * b - 0.3 * rng.standard_normal(rows))))
    a[rng.random(rows) < 0.05] = np.nan                 # 5 % missing
    return np.column_stack([a, b, c, d, e, score])


def pairwise(matrix):
    k = matrix.shape[1]
    cov = [[None] * k for _ in range(k)]
    pearson = [[None] * k for _ in range(k)]
    for i in range(k):
        for j in range(k):
            both = ~np.isnan(matrix[:, i]) & ~np.isnan(matrix[:, j])
            x, y = matrix[both, i], matrix[both, j]
            if both.sum() >= 2:
                c = float(np.cov(x, y, ddof=1)[0, 1])
                cov[i][j] = c if math.isfinite(c) else None
                with np.errstate(divide="ignore", invalid="ignore"):
                    r = float(np.corrcoef(x, y)[0, 1])
                pearson[i][j] = r if math.isfinite(r) else None
    return cov, pearson


def rows_of(matrix):
    return [[None if math.isnan(v) else float(v) for v in row] for row in matrix]


def main():
    current = data(17, 600, 0.9)
    reference = data(18, 400, -0.4)
    cov, pearson = pairwise(current)
    _, reference_pearson = pairwise(reference)
    out = {
        "columns": COLUMNS,
        "rows": rows_of(current),
        "reference_rows": rows_of(reference),
        "covariance": cov,
        "pearson": pearson,
        "reference_pearson": reference_pearson,
    }
    changes = [
        abs(pearson[i][j] - reference_pearson[i][j])
        for i in range(len(COLUMNS))
        for j in range(i + 1, len(COLUMNS))
        if pearson[i][j] is not None and reference_pearson[i][j] is not None
    ]
    out["max_abs_change"] = max(changes)
    (HERE / "oracle.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
