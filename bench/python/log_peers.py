"""`m.log` of a DataFrame against a local server, beside whylogs' `why.log` (issue 14).

    python3 log_peers.py modelwatch --url http://127.0.0.1:8480 --rows 1000000 --batch 1000
    python3 log_peers.py whylogs --rows 1000000          # in a venv with whylogs

The frame is 25 feature columns (20 numeric, 5 categorical), built as
report_peers.py builds the current rows, with a prediction and a score. modelwatch:
`m.log(X[i:i+batch], predictions=..., scores=..., ids=..., timestamps=...)` for every
batch of `--batch` rows, then `m.flush()`; reported are the caller thread's CPU time
(time.thread_time, the serving thread's cost) per row, the wall time of the `log`
calls alone, and rows/s end to end (the first `log` until `flush` returns, everything
accepted by the server). whylogs: `why.log(pandas=df)` on the same frame, wall and
CPU time (single-threaded: its thread time is its whole cost). The frame is built
before any timing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("WHYLOGS_NO_ANALYTICS", "True")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np
import report_peers


def frame(rows: int):
    report_peers.total_rows = rows
    df = report_peers.make_frame(rows, 42, True)
    features = df[report_peers.NUMERIC + report_peers.CATEGORICAL]
    return df, features


def run_modelwatch(args) -> dict:
    import modelwatch as mw

    df, X = frame(args.rows)
    # A queue that holds the whole frame, so that nothing is dropped and every row is timed.
    client = mw.Client(args.url, max_queue=2 * args.rows)
    name = f"logbench{int(time.time())}"
    m = client.define_model(
        name,
        task="binary_classification",
        reference=X.head(10_000),
        reference_predictions=df["prediction"].head(10_000),
        reference_scores=df["score"].head(10_000),
        reference_labels=df["label"].head(10_000),
        classes=["0", "1"],
        positive_class="1",
    )
    ids = df["id"].to_numpy()
    now = int(time.time() * 1000)
    timestamps = (now - 3_600_000 + np.arange(args.rows) * 3_600_000 // args.rows).astype("int64")
    timestamps = timestamps.astype("datetime64[ms]")
    predictions = df["prediction"].to_numpy()
    scores = df["score"].to_numpy()
    started = time.perf_counter()
    thread_cpu = time.thread_time()
    for i in range(0, args.rows, args.batch):
        m.log(
            X.iloc[i : i + args.batch],
            predictions=predictions[i : i + args.batch],
            scores=scores[i : i + args.batch],
            ids=ids[i : i + args.batch],
            timestamps=timestamps[i : i + args.batch],
        )
    log_cpu = time.thread_time() - thread_cpu
    log_wall = time.perf_counter() - started
    m.flush(timeout=3600)
    total = time.perf_counter() - started
    stats = m.stats()
    return {
        "rows": args.rows,
        "batch": args.batch,
        "caller_cpu_seconds": log_cpu,
        "caller_cpu_us_per_row": log_cpu / args.rows * 1e6,
        "log_calls_wall_seconds": log_wall,
        "end_to_end_seconds": total,
        "rows_per_second_end_to_end": args.rows / total,
        "process_cpu_seconds": time.process_time(),
        "stats": stats,
    }


def run_whylogs(args) -> dict:
    if not hasattr(np, "unicode_"):
        np.unicode_ = np.str_
    import whylogs as why

    df, X = frame(args.rows)
    data = X.assign(prediction=df["prediction"], score=df["score"])
    why.log(pandas=data.head(1000))  # warm-up
    started = time.perf_counter()
    cpu = time.thread_time()
    why.log(pandas=data)
    cpu = time.thread_time() - cpu
    seconds = time.perf_counter() - started
    return {
        "rows": args.rows,
        "whylogs": why.__version__ if hasattr(why, "__version__") else "",
        "seconds": seconds,
        "thread_cpu_seconds": cpu,
        "thread_cpu_us_per_row": cpu / args.rows * 1e6,
        "rows_per_second": args.rows / seconds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("which", choices=["modelwatch", "whylogs"])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--url", default="http://127.0.0.1:8480")
    args = parser.parse_args()
    out = run_modelwatch(args) if args.which == "modelwatch" else run_whylogs(args)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
