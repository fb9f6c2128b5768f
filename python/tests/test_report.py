"""`mw.report` in process: scikit-learn's numbers, the CLI's report byte for byte, and
Python exceptions for bad input and panics."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pandas as pd
import pytest
from conftest import binary
from datasets import load, timestamps
from oracle import assert_metrics, expected

import modelwatch as mw

DATASETS = ["breast_cancer", "wine", "digits", "diabetes"]


def frames(name: str):
    Xr, yr, Xc, yc, model, task = load(name)
    ref, cur = Xr.copy(), Xc.copy()
    for frame, X, y in ((ref, Xr, yr), (cur, Xc, yc)):
        frame["prediction"] = model.predict(X)
        frame["label"] = y.to_numpy()
    score = None
    if task == "binary_classification":
        ref["score"] = model.predict_proba(Xr)[:, 1]
        cur["score"] = model.predict_proba(Xc)[:, 1]
        score = "score"
    elif task == "multiclass_classification":
        classes = list(model.classes_)
        score = [f"p{c}" for c in classes]
        for frame, X in ((ref, Xr), (cur, Xc)):
            frame[score] = model.predict_proba(X)
    cur["ts"] = timestamps(len(cur))
    return ref, cur, task, score, model


@pytest.mark.parametrize("name", DATASETS)
def test_every_metric_equals_scikit_learn_whole_range_and_per_day(name: str) -> None:
    ref, cur, task, score, model = frames(name)
    r = mw.report(ref, cur, task=task, score=score, timestamp="ts")
    proba = None
    if task == "binary_classification":
        proba = cur["score"].to_numpy()
    elif task == "multiclass_classification":
        proba = cur[score].to_numpy()
    classes = getattr(model, "classes_", None)
    assert r.summary["count"] == len(cur)
    assert_metrics(
        r.summary,
        expected(task, cur["label"], cur["prediction"], proba, classes),
        f"{name} whole range",
    )
    assert len(r.metrics) == 3
    day = cur["ts"].dt.floor("1D")
    for start, row in r.metrics.iterrows():
        rows = (day == start).to_numpy()
        assert row["count"] == rows.sum()
        assert_metrics(
            row,
            expected(
                task,
                cur["label"][rows],
                cur["prediction"][rows],
                None if proba is None else proba[rows],
                classes,
            ),
            f"{name} {start}",
        )


def test_a_shifted_copy_drifts_and_an_unshifted_one_does_not() -> None:
    Xr, _, Xc, _, model, _ = load("digits")
    same = mw.report(
        Xr.assign(prediction=model.predict(Xr)),
        Xc.assign(prediction=model.predict(Xc)),
        task="multiclass_classification",
        label=None,
    )
    shifted = Xc.copy()
    pixel = "pixel_3_4"
    shifted[pixel] = shifted[pixel] + 8  # one pixel brightened
    drifted = mw.report(
        Xr.assign(prediction=model.predict(Xr)),
        shifted.assign(prediction=model.predict(Xc)),
        task="multiclass_classification",
        label=None,
    )
    by_name = drifted.drift.set_index("name")
    assert bool(by_name.loc[pixel, "drifted"]) is True
    assert not bool(same.drift.set_index("name").loc[pixel, "drifted"])
    assert drifted.quality.set_index("name").loc[pixel, "out_of_range"] > 0


def test_nan_features_are_missing() -> None:
    Xr, yr, Xc, yc, model, task = load("breast_cancer")
    cur = Xc.assign(prediction=model.predict(Xc), label=yc)
    cur.loc[:9, "mean radius"] = np.nan
    cur["mean texture"] = cur["mean texture"].astype("Float64")
    cur.loc[:4, "mean texture"] = pd.NA
    r = mw.report(Xr.assign(prediction=model.predict(Xr), label=yr), cur, task=task)
    q = r.quality.set_index("name")
    assert q.loc["mean radius", "missing"] == 10
    assert q.loc["mean texture", "missing"] == 5
    assert q.loc["mean radius", "count"] == len(cur)


def test_the_report_is_the_cli_report_byte_for_byte(tmp_path) -> None:
    ref, cur, task, score, model = frames("breast_cancer")
    cur = cur.rename(columns={"ts": "timestamp"})
    cur.insert(0, "id", [f"r{i}" for i in range(len(cur))])
    r = mw.report(ref, cur, task=task, score=score, timestamp="timestamp", id="id")
    schema = tmp_path / "schema.json"
    schema.write_text(
        json.dumps(
            {
                "task": task,
                "classes": ["0", "1"],
                "positive_class": "1",
                "features": [{"name": c, "type": "numeric"} for c in ref.columns[:-3]],
            }
        )
    )
    out = cur.copy()
    out["timestamp"] = out["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    ref.to_csv(tmp_path / "ref.csv", index=False, float_format=None)
    out.to_csv(tmp_path / "cur.csv", index=False)

    def cli(fmt: str) -> str:
        return subprocess.run(
            [
                binary(),
                "report",
                "--schema",
                str(schema),
                "--reference",
                str(tmp_path / "ref.csv"),
                "--current",
                str(tmp_path / "cur.csv"),
                "--format",
                fmt,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    cli_json = json.loads(cli("json"))
    ours = r.to_dict()
    # Rows are numbered by CSV line there and by position here; nothing was rejected.
    assert ours["current"]["rejected"] == cli_json["current"]["rejected"] == 0
    assert ours == cli_json
    assert r.to_html(tmp_path / "report.html") == cli("html")
    assert (tmp_path / "report.html").read_text() == cli("html")
    assert r.to_markdown() == cli("md")


def test_bad_input_names_the_column() -> None:
    Xr, yr, Xc, yc, model, task = load("breast_cancer")
    ref = Xr.assign(prediction=model.predict(Xr))
    with pytest.raises(KeyError, match="prediction column `pred`"):
        mw.report(ref, Xc.assign(prediction=model.predict(Xc)), task=task, prediction="pred")
    bad = Xc.assign(prediction=model.predict(Xc))
    bad["mean area"] = bad["mean area"].astype(object)
    bad.loc[3, "mean area"] = "big"
    with pytest.raises(TypeError, match="column `mean area`"):
        mw.report(ref, bad, task=task)
    unknown = Xc.assign(prediction=model.predict(Xc))
    unknown.loc[2, "prediction"] = 7
    with pytest.raises(ValueError, match="current row 2: column `prediction`"):
        mw.report(ref, unknown, task=task, classes=[0, 1])
    skipped = mw.report(ref, unknown, task=task, classes=[0, 1], on_invalid="skip")
    assert skipped.to_dict()["current"]["rejected"] == 1


def test_a_panic_in_the_core_is_a_python_exception() -> None:
    with pytest.raises(RuntimeError, match="panicked: on purpose"):
        mw._core._panic()


def test_version_is_the_crates() -> None:
    import re
    from pathlib import Path

    cargo = (Path(__file__).resolve().parents[2] / "Cargo.toml").read_text()
    assert mw.__version__ == re.search(r'(?m)^version = "([^"]+)"', cargo).group(1)
