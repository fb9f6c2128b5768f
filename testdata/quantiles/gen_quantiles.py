#!/usr/bin/env python3
"""Oracle for the quantiles of numeric features (issue 12, item 2).

Usage (from the repository root):

    python3 testdata/quantiles/gen_quantiles.py

For each data set writes `<name>.csv` (one value per line, in the order they are sent, in
Python's shortest repr) and adds to `expected.json`, for q in (0.05, 0.25, 0.5, 0.75, 0.95):
numpy's default (linear) quantile at q, and at q - 0.005 and q + 0.005 (clipped to [0, 1]),
the bounds API.md's rank guarantee allows. Deterministic: fixed seed.

Data sets: `skewed` (log-normal, 20,000 values), `integers` (Poisson counts, 30,000),
`ties` (90% of 30,000 values are one of three numbers), `small_integers` (3,000 integers:
under 4,096 values, so the answer must equal numpy's exactly).
"""

import json
import os

import numpy as np

OUT_DIR = os.path.dirname(os.path.abspath(__file__))
QS = [0.05, 0.25, 0.5, 0.75, 0.95]


def datasets(rng):
    ties = rng.normal(10.0, 3.0, size=30_000)
    tied = rng.random(30_000) < 0.9
    ties[tied] = rng.choice([4.0, 7.0, 34.0], size=int(tied.sum()), p=[0.5, 0.3, 0.2])
    return {
        "skewed": rng.lognormal(mean=3.0, sigma=1.2, size=20_000),
        "integers": rng.poisson(lam=30.0, size=30_000).astype(float),
        "ties": ties,
        "small_integers": rng.integers(0, 50, size=3_000).astype(float),
    }


def main():
    rng = np.random.default_rng(20261201)
    expected = {"generated_by": "gen_quantiles.py", "numpy": np.__version__, "sets": {}}
    for name, values in datasets(rng).items():
        with open(os.path.join(OUT_DIR, f"{name}.csv"), "w") as f:
            f.write("x\n")
            f.writelines(f"{float(v)!r}\n" for v in values)
        entry = {"count": int(values.size), "quantiles": []}
        for q in QS:
            entry["quantiles"].append({
                "q": q,
                "exact": float(np.quantile(values, q)),
                "low": float(np.quantile(values, max(q - 0.005, 0.0))),
                "high": float(np.quantile(values, min(q + 0.005, 1.0))),
            })
        expected["sets"][name] = entry
    with open(os.path.join(OUT_DIR, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
