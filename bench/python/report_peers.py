"""The offline report against Evidently's DataDriftPreset (issues 14 and 16).

Subcommands
-----------
    # CSV files and a schema for `modelwatch report` (rows as peers.py builds them,
    # plus an id and a timestamp spread evenly over one day, ascending):
    python3 report_peers.py write --rows 200000 --seed 7 --out /tmp/rp/ref200k.csv
    python3 report_peers.py write --rows 1000000 --seed 42 --shift --out /tmp/rp/cur1m.csv
    python3 report_peers.py schema --out /tmp/rp/schema.json
    # Evidently 0.4.x DataDriftPreset on the same CSV files (read with pandas, not timed),
    # prints JSON: wall seconds of `run`, verdicts per column:
    python3 report_peers.py evidently --reference R.csv --current C.csv
    # mw.report on the same frames (needs the modelwatch package):
    python3 report_peers.py mwreport --reference R.csv --current C.csv
    # Verdicts of a `modelwatch report` JSON file, for comparison:
    python3 report_peers.py verdicts --report report.json

`--shift` moves the current rows so that some features drift: n0..n4 by +150 (of a
range of 1000) and c0 towards cat0 (half of its rows), and leaves the others alone.
Peak memory is measured from outside with `/usr/bin/time -v`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("EVIDENTLY_DISABLE_TELEMETRY", "1")

import numpy as np
import pandas as pd

NUMERIC = [f"n{i}" for i in range(20)]
CATEGORICAL = [f"c{i}" for i in range(5)]
CATEGORIES = 12
DAY_MS = 86_400_000
START_MS = 1_733_011_200_000  # 2024-12-01T00:00:00Z


def make_frame(rows: int, seed: int, shift: bool, offset: int = 0) -> pd.DataFrame:
    """Rows `offset..offset+rows` of a data set: every feature drawn afresh from `seed`."""
    rng = np.random.default_rng([seed, offset])
    n = np.arange(offset, offset + rows, dtype=np.uint64)
    columns: dict[str, np.ndarray] = {"id": np.char.add("r", n.astype(str))}
    columns["timestamp"] = START_MS + (n.astype(np.int64) * DAY_MS) // max(total_rows, 1)
    numeric = np.round(rng.random((rows, len(NUMERIC))) * 1000.0, 3)
    if shift:
        numeric[:, :5] += 150.0
    for i, name in enumerate(NUMERIC):
        columns[name] = numeric[:, i]
    names = np.array([f"cat{i}" for i in range(CATEGORIES)], dtype=object)
    categorical = rng.integers(0, CATEGORIES, size=(rows, len(CATEGORICAL)))
    if shift:
        categorical[rng.random(rows) < 0.5, 0] = 0
    for i, name in enumerate(CATEGORICAL):
        columns[name] = names[categorical[:, i]]
    score = (n * np.uint64(2_654_435_761) % np.uint64(1000)).astype(np.float64) / 1000.0
    prediction = np.where(score >= 0.5, "1", "0")
    label = np.where(n % np.uint64(3) == 0, prediction, np.where(n % np.uint64(2) == 0, "1", "0"))
    columns["prediction"] = prediction
    columns["score"] = score
    columns["label"] = label
    columns["latency_ms"] = np.round(5.0 + (n % np.uint64(97)).astype(np.float64) * 0.37, 2)
    return pd.DataFrame(columns)


total_rows = 0


def write(args) -> None:
    global total_rows
    total_rows = args.rows
    chunk = 500_000
    with open(args.out, "w", encoding="utf-8", newline="") as out:
        for offset in range(0, args.rows, chunk):
            frame = make_frame(min(chunk, args.rows - offset), args.seed, args.shift, offset)
            frame.to_csv(out, index=False, header=offset == 0)


def schema(args) -> None:
    definition = {
        "task": "binary_classification",
        "positive_class": "1",
        "classes": ["0", "1"],
        "features": [{"name": n, "type": "numeric"} for n in NUMERIC]
        + [{"name": c, "type": "categorical"} for c in CATEGORICAL],
    }
    with open(args.out, "w", encoding="utf-8") as out:
        json.dump(definition, out, indent=2)


def read(path: str) -> pd.DataFrame:
    dtypes = {c: "string" for c in CATEGORICAL + ["id", "prediction", "label"]}
    return pd.read_csv(path, dtype=dtypes)


def evidently(args) -> None:
    from evidently import ColumnMapping
    from evidently.metric_preset import DataDriftPreset
    from evidently.report import Report

    started = time.perf_counter()
    reference = read(args.reference)[NUMERIC + CATEGORICAL]
    current = read(args.current)[NUMERIC + CATEGORICAL]
    for c in CATEGORICAL:
        reference[c] = reference[c].astype(object)
        current[c] = current[c].astype(object)
    read_seconds = time.perf_counter() - started
    mapping = ColumnMapping(numerical_features=NUMERIC, categorical_features=CATEGORICAL)
    started = time.perf_counter()
    cpu = time.process_time()
    report = Report(metrics=[DataDriftPreset()])
    report.run(reference_data=reference, current_data=current, column_mapping=mapping)
    result = report.as_dict()
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    table = next(m for m in result["metrics"] if m["metric"] == "DataDriftTable")["result"]
    verdicts = {
        name: {
            "drift": bool(c["drift_detected"]),
            "method": c["stattest_name"],
            "score": float(c["drift_score"]),
        }
        for name, c in table["drift_by_columns"].items()
    }
    print(
        json.dumps(
            {
                "evidently_run_seconds": seconds,
                "evidently_cpu_seconds": cpu,
                "csv_read_seconds": read_seconds,
                "verdicts": verdicts,
            },
            indent=1,
        )
    )


def mwreport(args) -> None:
    import modelwatch as mw

    reference = read(args.reference)
    current = read(args.current)
    started = time.perf_counter()
    cpu = time.process_time()
    report = mw.report(
        reference,
        current,
        task="binary_classification",
        prediction="prediction",
        score="score",
        label="label",
        positive_class="1",
        id="id",
        timestamp="timestamp",
        latency_ms="latency_ms",
    )
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    print(
        json.dumps(
            {
                "mw_report_seconds": seconds,
                "mw_report_cpu_seconds": cpu,
                "verdicts": verdicts_of(report.to_dict()),
            },
            indent=1,
        )
    )


def verdicts_of(report: dict) -> dict:
    out = {}
    for entry in report["drift"]["features"]:
        out[entry["name"]] = {
            "drift": bool(entry["drifted"]),
            "method": entry["method"],
            "score": entry["statistic"],
        }
    return out


def verdicts(args) -> None:
    with open(args.report, encoding="utf-8") as f:
        print(json.dumps(verdicts_of(json.load(f)), indent=1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("write")
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--shift", action="store_true")
    p.add_argument("--out", required=True)
    p = sub.add_parser("schema")
    p.add_argument("--out", required=True)
    for name in ("evidently", "mwreport"):
        p = sub.add_parser(name)
        p.add_argument("--reference", required=True)
        p.add_argument("--current", required=True)
    p = sub.add_parser("verdicts")
    p.add_argument("--report", required=True)
    args = parser.parse_args(argv)
    {"write": write, "schema": schema, "evidently": evidently, "mwreport": mwreport,
     "verdicts": verdicts}[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
