"""Evidently's drift verdicts, matched on the same frames.

The oracle, `oracles/evidently_verdicts.json`, is Evidently 0.4.40's `DataDriftPreset` on
these frames, written by `oracles/evidently_verdicts.py` (Evidently is not installed in CI).

One known difference, by definition: for a column with few distinct values Evidently runs
`scipy.stats.chisquare` with the reference counts as the expectation, so a value the
reference never took divides by zero and gives p = 0 (drift), while modelwatch's contract
is `chi2_contingency` on the 2×K table, which judges such a value by its count. Those
columns are checked to be exactly the ones that differ.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datasets import load, shifted

import modelwatch as mw

ORACLE = json.loads((Path(__file__).parent / "oracles" / "evidently_verdicts.json").read_text())


@pytest.mark.parametrize("name", sorted(ORACLE["datasets"]))
@pytest.mark.parametrize("copy", ["same", "shifted"])
def test_every_feature_gets_evidentlys_verdict(name: str, copy: str) -> None:
    Xr, _, Xc, _, model, task = load(name)
    current = shifted(Xc) if copy == "shifted" else Xc
    r = mw.report(
        Xr.assign(prediction=model.predict(Xr)),
        current.assign(prediction=model.predict(Xc)),
        task=task,
        label=None,
    )
    oracle = ORACLE["datasets"][name][copy]
    ours = {
        row["name"]: bool(row["drifted"]) for _, row in r.drift.iterrows() if row["name"] in oracle
    }
    assert set(ours) == set(oracle)
    differ = {c for c in oracle if ours[c] != oracle[c]["drifted"]}
    division_by_zero = {
        c
        for c, v in oracle.items()
        if v["test"] == "chi-square p_value" and v["unseen_in_reference"] and v["score"] == 0.0
    }
    assert differ <= division_by_zero, f"verdicts differ on {sorted(differ - division_by_zero)}"
    assert sum(ours.values()) == sum(v["drifted"] for v in oracle.values()) - len(differ)
