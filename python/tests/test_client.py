"""The client against the real server: scikit-learn's numbers, late labels, NaN features,
rejections, a full queue, a 503 storm, and the server equal to `mw.report`."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pandas as pd
import pytest
from datasets import load, timestamps
from oracle import assert_metrics, expected

import modelwatch as mw


@pytest.mark.parametrize("name", ["breast_cancer", "wine", "diabetes"])
def test_monitored_estimator_with_late_labels_equals_scikit_learn(server, name: str) -> None:
    Xr, yr, Xc, yc, model, task = load(name)
    client = mw.Client(server.url)
    m = client.define_model(
        name,
        task,
        reference=Xr,
        reference_predictions=model.predict(Xr),
        reference_labels=yr,
        estimator=model,
    )
    monitored = mw.sklearn.monitor(model, m)
    ts = timestamps(len(Xc))
    ids = []
    for day in range(3):
        rows = (ts.dt.floor("1D") == ts.iloc[0].floor("1D") + pd.Timedelta(days=day)).to_numpy()
        # predict logs with the time of the call; log again with event times instead.
        m.log(
            Xc[rows],
            predictions=model.predict(Xc[rows]),
            scores=model.predict_proba(Xc[rows]) if task != "regression" else None,
            ids=np.flatnonzero(rows),
            timestamps=ts[rows],
            classes=getattr(model, "classes_", None),
        )
        ids += list(np.flatnonzero(rows))
    out = monitored.predict(Xc.iloc[:5])
    assert len(monitored.last_ids) == 5 and list(out) == list(model.predict(Xc.iloc[:5]))
    m.flush()
    m.log_labels(np.arange(len(Xc)), yc)  # late labels, integer ids
    m.flush()
    assert m.stats()["sent"] == 2 * len(Xc) + 5 and m.stats()["rejected"] == 0
    frame = m.metrics(start="2024-03-11T00:00:00Z", end="2024-03-14T00:00:00Z", step="1d")
    proba = model.predict_proba(Xc) if task != "regression" else None
    if task == "binary_classification":
        proba = proba[:, 1]
    classes = getattr(model, "classes_", None)
    day = ts.dt.floor("1D")
    assert len(frame) == 3
    for start, row in frame.iterrows():
        rows = (day == start).to_numpy()
        assert row["count"] == rows.sum()
        assert_metrics(
            row,
            expected(
                task,
                yc[rows],
                model.predict(Xc[rows]),
                None if proba is None else proba[rows],
                classes,
            ),
            f"{name} {start}",
        )
    whole = m.metrics(start="2024-03-11T00:00:00Z", end="2024-03-14T00:00:00Z", step=None)
    assert_metrics(whole.iloc[0], expected(task, yc, model.predict(Xc), proba, classes), name)
    assert whole.index.tz is not None and whole["count"].dtype == np.float64


def test_the_server_equals_mw_report_on_the_same_data(server) -> None:
    Xr, yr, Xc, yc, model, task = load("breast_cancer")
    predictions, proba = model.predict(Xc), model.predict_proba(Xc)
    Xc = Xc.copy()
    Xc.loc[:20, "mean radius"] = np.nan  # NaN features are missing, on both paths
    # No resource samples: they would add today's window (and its columns) to the answer.
    m = mw.Client(server.url, sample_resources=False).define_model(
        "same",
        task,
        reference=Xr,
        reference_predictions=model.predict(Xr),
        reference_scores=model.predict_proba(Xr),
        reference_labels=yr,
        estimator=model,
    )
    ts = timestamps(len(Xc))
    m.log(
        Xc, predictions=predictions, scores=proba, labels=yc, ids=np.arange(len(Xc)), timestamps=ts
    )
    m.flush()
    r = mw.report(
        Xr.assign(prediction=model.predict(Xr), score=model.predict_proba(Xr)[:, 1], label=yr),
        Xc.assign(prediction=predictions, score=proba[:, 1], label=yc, ts=ts),
        task=task,
        score="score",
        timestamp="ts",
    )
    served = m.metrics(step="1d")
    pd.testing.assert_frame_equal(served, r.metrics, check_like=True)
    pd.testing.assert_frame_equal(m.drift(), r.drift, check_like=True)
    pd.testing.assert_frame_equal(m.quality(), r.quality, check_like=True)
    assert m.quality().set_index("name").loc["mean radius", "missing"] == 21
    per_day = m.drift(step="1d")
    assert sorted(per_day["start"].unique()) == list(served.index)


def test_rejected_records_are_raised_by_flush_with_index_and_reason(server) -> None:
    m = mw.Client(server.url).define_model(
        "rej",
        "binary_classification",
        reference=pd.DataFrame({"x": [1.0, 2.0]}),
        reference_labels=[0, 1],
    )
    m.log(pd.DataFrame({"x": [1.0, 2.0, 3.0]}), predictions=[0, 7, 1], ids=["a", "b", "c"])
    with pytest.raises(mw.RejectedRecords) as raised:
        m.flush()
    [rejection] = raised.value.rejections
    assert (rejection.index, rejection.id, rejection.field) == (1, "b", "prediction")
    assert "7" in rejection.reason
    m.flush()  # reported once
    assert m.stats()["sent"] == 2 and m.stats()["rejected"] == 1


def test_a_full_queue_drops_and_counts_and_log_never_raises(server) -> None:
    client = mw.Client(server.url, max_queue=10)
    m = client.define_model("full", "regression", reference=pd.DataFrame({"x": [1.0, 2.0]}))
    gate = threading.Event()
    m._sender._transport.request = lambda *a, **k: (gate.wait(), None)[1]  # the sender is stuck
    m.log(pd.DataFrame({"x": np.arange(8.0)}), predictions=np.arange(8.0))
    m.log(pd.DataFrame({"x": np.arange(8.0)}), predictions=np.arange(8.0))
    m.log(object(), predictions="not rows")  # bad input: logged, never raised
    assert m.stats()["dropped"] == 8


def test_conversions_nan_na_timestamps_and_integer_ids(server) -> None:
    m = mw.Client(server.url).define_model(
        "conv",
        "binary_classification",
        reference=pd.DataFrame(
            {"x": [1.0, 2.0], "c": ["a", "b"], "n": pd.array([1, 2], dtype="Int64")}
        ),
        reference_labels=[False, True],
        positive_class=True,
    )
    assert m.definition["classes"] == ["false", "true"] and m.definition["positive_class"] == "true"
    naive = pd.Timestamp("2024-03-11 12:00")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m.log(
            pd.DataFrame(
                {
                    "x": [np.nan, np.float32(2)],
                    "c": [pd.NA, "b"],
                    "n": pd.array([pd.NA, 3], dtype="Int64"),
                }
            ),
            predictions=np.array([True, False]),
            ids=np.array([1, 2]),
            timestamps=[naive, naive],
        )
        m.flush()
    assert any("naive timestamps" in str(w.message) for w in caught)
    q = m.quality(start="2024-03-11T00:00:00Z", end="2024-03-12T00:00:00Z").set_index("name")
    assert list(q["missing"]) == [1, 1, 1] and q.loc["x", "count"] == 2
    m.log_labels(np.array([1, 2]), [True, False])
    m.flush()
    metrics = m.metrics(start=pd.Timestamp("2024-03-11", tz="Europe/Paris"), step=None)
    assert metrics["labelled_count"].iloc[0] == 2 and metrics["accuracy"].iloc[0] == 1.0


def test_a_503_storm_loses_and_duplicates_nothing(start_server) -> None:
    server = start_server("[limits]\nmax_concurrent_ingest = 1\n")
    client = mw.Client(server.url)
    client.define_model("storm", "regression", reference=pd.DataFrame({"x": [1.0, 2.0]}))
    models = [client.model("storm") for _ in range(12)]

    def serve(k: int, m: mw.Model) -> None:
        for b in range(10):
            first = (k * 10 + b) * 400
            m.log(
                pd.DataFrame({"x": np.arange(400.0)}),
                predictions=np.arange(400.0),
                ids=np.arange(first, first + 400),
                timestamps=1710115200000,
            )
            m.flush(120)  # one request per batch, twelve senders at once

    threads = [threading.Thread(target=serve, args=(k, m)) for k, m in enumerate(models)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = [m.stats() for m in models]
    assert sum(s["retried"] for s in stats) > 0  # the storm happened
    assert sum(s["sent"] for s in stats) == 12 * 10 * 400
    assert sum(s["rejected"] for s in stats) == 0
    assert models[0].metrics(step=None)["count"].iloc[0] == 12 * 10 * 400
