"""Python peers of `modelwatch bench`: whylogs profiling, scikit-learn metrics, drift.

What it measures
----------------
It builds, in memory, the same kind of rows that `modelwatch bench`
(crates/bench/src/workload.rs) sends to the server:

* 20 numeric features n0..n19, uniform in [0, 1000) and rounded to 3 decimals,
  and 5 categorical features c0..c4 with values cat0..cat11. Like workload.rs, the
  feature values come from a pool of 997 random rows (seeded) that row n takes
  as pool[n % 997]; `--feature-pool 0` draws every row afresh instead.
* prediction "0"/"1" from score = (n * 2654435761 mod 1000) / 1000, in [0, 1),
  with prediction "1" when score >= 0.5;
* label: the prediction when n % 3 == 0, else "1" for even n and "0" for odd n;
* latency_ms = 5 + (n mod 97) * 0.37.

The event id and timestamp that workload.rs also sends are left out: neither peer
has a use for them.

Then it times, in this one process, after the rows are built:

a. whylogs: `why.log(pandas=df)` profiling every column of the DataFrame. Only
   that call is timed, not building the DataFrame. Reported as rows/s.
b. scikit-learn: accuracy, precision, recall, F1, ROC AUC, log loss and the
   confusion matrix over the N rows, from int8 label/prediction arrays and a
   float64 score array (the string-to-int conversion is not timed). rows/s is
   N divided by the time of all seven calls together; each call's time is
   reported too. The calls are warmed up once on a 1,000-row slice.
c. numpy: p50/p95/p99 of latency_ms with np.percentile (for reference).
d. scipy: drift of the 20 numeric features between a reference and the N rows,
   as modelwatch's `GET .../drift` computes it for numeric features:
   `scipy.stats.ks_2samp` (statistic and p-value) and
   `scipy.stats.wasserstein_distance` for each column. The reference is
   `--reference-rows` rows (default 100,000) built like the others but with
   every row drawn afresh from `--reference-seed` (see `--write-reference`).
   Only the 40 calls are timed, from float64 arrays already extracted.
   rows/s is N (the current rows) divided by their time.
e. Evidently (only with `--evidently`): `Report([DataDriftPreset()]).run(current,
   reference)` over the 25 feature columns (20 numeric, 5 categorical, declared
   with a DataDefinition), the same reference and current rows as (d). Only
   `run` is timed; building the two `Dataset`s is timed apart and reported as
   `dataset_build_seconds`. It runs `--evidently-repeats` times (default 1),
   after a warm-up on 1,000-row slices. rows/s is N divided by the `run` time.

Each measurement runs `--repeats` times (default 3); the median is the figure,
and every run's time is in the output, as wall-clock seconds and as CPU seconds
of this process (time.process_time, all threads), so that rows per CPU-second
can be set beside `modelwatch bench`'s events per server CPU-second.

whylogs 1.6.4, its latest release, still uses `np.unicode_`, which NumPy 2.0
removed; the script restores that alias (of `np.str_`) before importing it.
Evidently 0.7.23 imports `pandas.core.dtypes.common.infer_dtype_from_object`,
which pandas 3 removed; with `--evidently` the script defines it again (only an
import in Evidently's legacy tests needs it) before importing evidently.

It prints one JSON object on stdout with the figures, the versions of Python,
numpy, pandas, whylogs, scikit-learn, scipy (and evidently with `--evidently`),
the BLAS and OpenMP thread pools as threadpoolctl sees them, and the
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE variables it ran under.

How to run it
-------------
    python3 bench/python/peers.py                  # 1,000,000 rows
    python3 bench/python/peers.py --rows 100000    # quicker
    python3 bench/python/peers.py --evidently      # also Evidently's DataDriftPreset
    # The reference of (d) and (e) as NDJSON, to upload to modelwatch with
    # PUT /api/v1/models/bench/reference (writes the file and exits):
    python3 bench/python/peers.py --write-reference /tmp/reference.ndjson
    # On machines that set OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (they slow a
    # current numpy), also run it once with both unset, in that command alone:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 bench/python/peers.py

Needs numpy, pandas, whylogs, scikit-learn and scipy; threadpoolctl is
optional, and evidently is needed only for `--evidently`.
Run it on an otherwise idle machine, not while `modelwatch bench` runs.
whylogs' usage telemetry is switched off (WHYLOGS_NO_ANALYTICS) before it is
imported, and Evidently's (DO_NOT_TRACK, EVIDENTLY_DISABLE_TELEMETRY) before
it is, so the script makes no network calls.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

# whylogs sends usage statistics from a background thread unless told not to.
os.environ.setdefault("WHYLOGS_NO_ANALYTICS", "True")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("EVIDENTLY_DISABLE_TELEMETRY", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

# whylogs 1.6.4 (its latest release) still names np.unicode_, an alias of np.str_
# that NumPy 2.0 removed; restore the alias so that it runs on a current numpy.
if not hasattr(np, "unicode_"):
    np.unicode_ = np.str_

NUMERIC = 20
CATEGORICAL = 5
CATEGORIES = 12
POOL = 997  # as in workload.rs: feature_pool()
REFERENCE_ROWS = 100_000
REFERENCE_SEED = 7
FEATURES_NUMERIC = [f"n{i}" for i in range(NUMERIC)]
FEATURES_CATEGORICAL = [f"c{i}" for i in range(CATEGORICAL)]


def make_rows(rows: int, seed: int, pool: int) -> pd.DataFrame:
    """The rows `modelwatch bench` sends, as a DataFrame (see the module docstring)."""
    rng = np.random.default_rng(seed)
    n = np.arange(rows, dtype=np.uint64)
    draws = pool if pool > 0 else rows
    numeric = np.round(rng.random((draws, NUMERIC)) * 1000.0, 3)
    categorical = rng.integers(0, CATEGORIES, size=(draws, CATEGORICAL))
    index = (n % np.uint64(draws)).astype(np.int64) if pool > 0 else np.arange(rows)
    names = np.array([f"cat{i}" for i in range(CATEGORIES)], dtype=object)

    columns: dict[str, np.ndarray] = {}
    for i in range(NUMERIC):
        columns[f"n{i}"] = numeric[index, i]
    for i in range(CATEGORICAL):
        columns[f"c{i}"] = names[categorical[index, i]]

    # n * 2654435761 wraps in u64 in Rust; for n < 2**30 it does not overflow here either.
    score = (n * np.uint64(2_654_435_761) % np.uint64(1000)).astype(np.float64) / 1000.0
    prediction = np.where(score >= 0.5, "1", "0").astype(object)
    label = np.where(
        n % np.uint64(3) == 0,
        prediction,
        np.where(n % np.uint64(2) == 0, "1", "0").astype(object),
    ).astype(object)
    latency = 5.0 + (n % np.uint64(97)).astype(np.float64) * 0.37

    columns["prediction"] = prediction
    columns["score"] = score
    columns["label"] = label
    columns["latency_ms"] = latency
    return pd.DataFrame(columns)


def timed(fn, repeats: int):
    """Runs fn `repeats` times; returns (last result, wall seconds, CPU seconds) per run."""
    seconds = []
    cpu_seconds = []
    result = None
    for _ in range(repeats):
        cpu_started = time.process_time()
        started = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - started)
        cpu_seconds.append(time.process_time() - cpu_started)
    return result, seconds, cpu_seconds


def summary(rows: int, seconds: list[float], cpu_seconds: list[float] | None = None) -> dict:
    median = statistics.median(seconds)
    out = {
        "seconds_median": median,
        "seconds_all": seconds,
        "rows_per_second": rows / median,
    }
    if cpu_seconds:
        cpu = statistics.median(cpu_seconds)
        out["cpu_seconds_median"] = cpu
        out["cpu_seconds_all"] = cpu_seconds
        out["rows_per_cpu_second"] = rows / cpu if cpu > 0 else None
    return out


def bench_whylogs(df: pd.DataFrame, repeats: int) -> dict:
    import whylogs as why

    # One small warm-up call, so that imports and lazy set-up are not timed.
    why.log(pandas=df.head(1000))
    results, seconds, cpu_seconds = timed(lambda: why.log(pandas=df), repeats)
    view = results.view()
    out = summary(len(df), seconds, cpu_seconds)
    out["columns_profiled"] = len(view.get_columns())
    count = view.get_column("n0").get_metric("counts").n.value
    out["n0_count"] = int(count)
    return out


def bench_sklearn(df: pd.DataFrame, repeats: int) -> dict:
    from sklearn import metrics

    # Not timed: the labels arrive as "0"/"1" strings.
    y_true = df["label"].to_numpy(dtype=str).astype(np.int8)
    y_pred = df["prediction"].to_numpy(dtype=str).astype(np.int8)
    score = df["score"].to_numpy(dtype=np.float64)

    def calls(t, p, s):
        return {
            "accuracy": lambda: metrics.accuracy_score(t, p),
            "precision": lambda: metrics.precision_score(t, p),
            "recall": lambda: metrics.recall_score(t, p),
            "f1": lambda: metrics.f1_score(t, p),
            "roc_auc": lambda: metrics.roc_auc_score(t, s),
            "log_loss": lambda: metrics.log_loss(t, s),
            "confusion_matrix": lambda: metrics.confusion_matrix(t, p).tolist(),
        }

    # Warm-up on a slice, so that imports and lazy set-up are not timed.
    for call in calls(y_true[:1000], y_pred[:1000], score[:1000]).values():
        call()

    full = calls(y_true, y_pred, score)
    seconds = []
    cpu_seconds = []
    per_call_runs = []
    values = {}
    for _ in range(repeats):
        per_call = {}
        cpu_started = time.process_time()
        for name, call in full.items():
            started = time.perf_counter()
            values[name] = call()
            per_call[name] = time.perf_counter() - started
        cpu_seconds.append(time.process_time() - cpu_started)
        per_call_runs.append(per_call)
        seconds.append(sum(per_call.values()))

    out = summary(len(df), seconds, cpu_seconds)
    out["seconds_per_call_median"] = {
        name: statistics.median(run[name] for run in per_call_runs) for name in full
    }
    out["values"] = {k: (v if isinstance(v, list) else float(v)) for k, v in values.items()}
    return out


def bench_percentiles(df: pd.DataFrame, repeats: int) -> dict:
    latency = df["latency_ms"].to_numpy(dtype=np.float64)
    values, seconds, cpu_seconds = timed(lambda: np.percentile(latency, [50, 95, 99]), repeats)
    out = summary(len(df), seconds, cpu_seconds)
    out["p50_p95_p99_ms"] = [float(v) for v in values]
    return out


def make_reference(rows: int, seed: int) -> pd.DataFrame:
    """The reference rows: built like make_rows, every row drawn afresh."""
    return make_rows(rows, seed, 0)


def write_reference(df: pd.DataFrame, path: str) -> None:
    """Writes rows as NDJSON, in the shape of workload.rs's events without id and timestamp."""
    numeric = df[FEATURES_NUMERIC].to_numpy(dtype=np.float64)
    categorical = df[FEATURES_CATEGORICAL].to_numpy(dtype=object)
    prediction = df["prediction"].to_numpy()
    score = df["score"].to_numpy(dtype=np.float64)
    label = df["label"].to_numpy()
    latency = df["latency_ms"].to_numpy(dtype=np.float64)
    with open(path, "w", encoding="utf-8") as out:
        for i in range(len(df)):
            features = {name: float(numeric[i, j]) for j, name in enumerate(FEATURES_NUMERIC)}
            features.update({name: categorical[i, j] for j, name in enumerate(FEATURES_CATEGORICAL)})
            row = {
                "prediction": prediction[i],
                "score": float(score[i]),
                "label": label[i],
                "latency_ms": float(latency[i]),
                "features": features,
            }
            out.write(json.dumps(row, separators=(",", ":")))
            out.write("\n")


def bench_scipy_drift(reference: pd.DataFrame, current: pd.DataFrame, repeats: int) -> dict:
    from scipy import stats

    # Not timed: the columns as contiguous float64 arrays.
    columns = [
        (
            name,
            np.ascontiguousarray(reference[name].to_numpy(dtype=np.float64)),
            np.ascontiguousarray(current[name].to_numpy(dtype=np.float64)),
        )
        for name in FEATURES_NUMERIC
    ]

    def drift(pairs):
        out = {}
        for name, ref, cur in pairs:
            ks = stats.ks_2samp(ref, cur)
            out[name] = {
                "ks_statistic": float(ks.statistic),
                "ks_p_value": float(ks.pvalue),
                "wasserstein": float(stats.wasserstein_distance(ref, cur)),
            }
        return out

    # Warm-up on slices, so that imports and lazy set-up are not timed.
    drift([(name, ref[:1000], cur[:1000]) for name, ref, cur in columns])
    values, seconds, cpu_seconds = timed(lambda: drift(columns), repeats)
    out = summary(len(current), seconds, cpu_seconds)
    out["reference_rows"] = len(reference)
    out["columns"] = len(columns)
    out["n0"] = values["n0"]
    return out


def import_evidently():
    # Evidently 0.7.23 imports infer_dtype_from_object, which pandas 3 removed.
    import pandas.core.dtypes.common as common

    if not hasattr(common, "infer_dtype_from_object"):

        def infer_dtype_from_object(dtype):
            return dtype if isinstance(dtype, type) else np.dtype(dtype).type

        common.infer_dtype_from_object = infer_dtype_from_object
    import evidently

    return evidently


def bench_evidently(reference: pd.DataFrame, current: pd.DataFrame, repeats: int) -> dict:
    import_evidently()
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    columns = FEATURES_NUMERIC + FEATURES_CATEGORICAL
    definition = DataDefinition(
        numerical_columns=FEATURES_NUMERIC, categorical_columns=FEATURES_CATEGORICAL
    )

    def datasets(ref: pd.DataFrame, cur: pd.DataFrame):
        return (
            Dataset.from_pandas(ref[columns], data_definition=definition),
            Dataset.from_pandas(cur[columns], data_definition=definition),
        )

    # Warm-up on 1,000-row slices.
    ref_small, cur_small = datasets(reference.head(1000), current.head(1000))
    Report([DataDriftPreset()]).run(cur_small, ref_small)

    build_started = time.perf_counter()
    ref_data, cur_data = datasets(reference, current)
    build_seconds = time.perf_counter() - build_started
    snapshot, seconds, cpu_seconds = timed(
        lambda: Report([DataDriftPreset()]).run(cur_data, ref_data), repeats
    )
    out = summary(len(current), seconds, cpu_seconds)
    out["reference_rows"] = len(reference)
    out["columns"] = len(columns)
    out["dataset_build_seconds"] = build_seconds
    metrics = snapshot.dict()["metrics"]
    out["methods"] = sorted({m["config"].get("method", "") for m in metrics} - {""})
    out["drifted_columns"] = next(
        (m["value"] for m in metrics if m["metric_name"].startswith("DriftedColumnsCount")), None
    )
    out["drifted_columns"] = {k: float(v) for k, v in (out["drifted_columns"] or {}).items()}
    return out


def environment() -> dict:
    import scipy
    import sklearn
    import whylogs

    info = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "whylogs": getattr(whylogs, "__version__", "unknown"),
        "sklearn": sklearn.__version__,
        "scipy": scipy.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
    }
    try:
        from threadpoolctl import threadpool_info

        info["threadpoolctl"] = threadpool_info()
    except ImportError:
        info["threadpoolctl"] = None
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows (default 1,000,000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each (default 3)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the feature pool")
    parser.add_argument(
        "--feature-pool",
        type=int,
        default=POOL,
        help="distinct feature rows, cycled as in workload.rs (default 997; 0: every row drawn afresh)",
    )
    parser.add_argument(
        "--only",
        choices=["whylogs", "sklearn", "percentiles", "scipy"],
        action="append",
        help="run only these measurements (repeatable; --evidently adds Evidently)",
    )
    parser.add_argument(
        "--reference-rows",
        type=int,
        default=REFERENCE_ROWS,
        help="reference rows for the drift peers (default 100,000)",
    )
    parser.add_argument(
        "--reference-seed", type=int, default=REFERENCE_SEED, help="seed of the reference rows"
    )
    parser.add_argument(
        "--write-reference",
        metavar="PATH",
        help="write the reference rows as NDJSON to PATH and exit",
    )
    parser.add_argument(
        "--evidently",
        action="store_true",
        help="also time Evidently's DataDriftPreset (reference vs the N rows)",
    )
    parser.add_argument(
        "--evidently-repeats", type=int, default=1, help="timed runs of Evidently (default 1)"
    )
    args = parser.parse_args(argv)
    if args.rows <= 0 or args.repeats <= 0 or args.reference_rows <= 0:
        parser.error("--rows, --repeats and --reference-rows must be positive")
    if args.evidently_repeats <= 0:
        parser.error("--evidently-repeats must be positive")
    if args.write_reference:
        write_reference(make_reference(args.reference_rows, args.reference_seed), args.write_reference)
        return 0

    started = time.perf_counter()
    df = make_rows(args.rows, args.seed, args.feature_pool)
    build_seconds = time.perf_counter() - started

    only = set(args.only or ["whylogs", "sklearn", "percentiles", "scipy"])
    if args.evidently:
        only.add("evidently")
    reference = None
    if only & {"scipy", "evidently"}:
        reference = make_reference(args.reference_rows, args.reference_seed)
    result: dict = {
        "rows": args.rows,
        "columns": list(df.columns),
        "feature_pool": args.feature_pool,
        "repeats": args.repeats,
        "dataframe_build_seconds": build_seconds,
        "environment": environment(),
    }
    if "whylogs" in only:
        result["whylogs_profile"] = bench_whylogs(df, args.repeats)
    if "sklearn" in only:
        result["sklearn_metrics"] = bench_sklearn(df, args.repeats)
    if "percentiles" in only:
        result["numpy_percentiles"] = bench_percentiles(df, args.repeats)
    if "scipy" in only:
        result["scipy_drift"] = bench_scipy_drift(reference, df, args.repeats)
    if "evidently" in only:
        result["evidently_drift"] = bench_evidently(reference, df, args.evidently_repeats)
        result["environment"]["evidently"] = import_evidently().__version__
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
