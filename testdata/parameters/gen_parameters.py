"""Oracle of the tensor summaries (crates/core/tests/parameters_golden.rs).

Writes cases.json: for each case the raw values (with Python's NaN and Infinity
tokens, as json.dumps writes them) and numpy's summary over the finite values:
min, max, mean, std (ddof=0), zeros, nan, inf, L2 norm (numpy.linalg.norm) and
numpy.histogram(finite, bins=64). Run from this folder: python3 gen_parameters.py
"""

import json

import numpy as np

rng = np.random.default_rng(17)


def case(name, values):
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size:
        counts, edges = np.histogram(finite, bins=64)
        stats = {
            "min": float(finite.min()),
            "max": float(finite.max()),
            "mean": float(finite.mean()),
            "std": float(finite.std(ddof=0)),
            "l2_norm": float(np.linalg.norm(finite)),
            "histogram": {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]},
        }
    else:
        stats = {"min": None, "max": None, "mean": None, "std": None, "l2_norm": None,
                 "histogram": {"edges": [], "counts": []}}
    return {
        "name": name,
        "values": [float(v) for v in values],
        "expected": {
            "count": int(values.size),
            "zeros": int(np.sum(finite == 0)),
            "nan": int(np.sum(np.isnan(values))),
            "inf": int(np.sum(np.isinf(values))),
            **stats,
        },
    }


with_holes = rng.normal(0.0, 0.05, 500)
with_holes[[3, 77, 140]] = np.nan
with_holes[[10, 11]] = [np.inf, -np.inf]
with_holes[200:230] = 0.0

cases = [
    case("glorot_kernel", rng.uniform(-0.3, 0.3, 4096)),
    case("normal_large_mean", rng.normal(1e3, 2.0, 10_000)),
    case("bias_zeros", np.zeros(32)),
    case("constant", np.full(17, 0.25)),
    case("with_holes", with_holes),
    case("all_nan", [np.nan, np.nan, np.inf]),
    case("tiny", [1e-300, -1e-300, 0.0, 3e-300]),
    case("integers_on_edges", np.arange(0, 129, dtype=np.float64)),
    case("heavy_tail", rng.standard_cauchy(2000)),
    case("single", [-7.5]),
]

with open("cases.json", "w") as out:
    json.dump({"numpy": np.__version__, "cases": cases}, out, indent=None)
    out.write("\n")
