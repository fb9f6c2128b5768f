"""Fairness oracle: fairlearn 0.15 on generated data with a planted bias.

Writes rows.csv (group, label, prediction) and expected.json (per group selection
rate, TPR, FPR; overall demographic parity difference and ratio, equalized odds
difference, equal opportunity difference). Run from the repository root:

    python3 -m venv /tmp/fairvenv && /tmp/fairvenv/bin/pip install "fairlearn==0.15.*"
    /tmp/fairvenv/bin/python testdata/fairness/oracle.py

The bias: group "a" is selected far more often than "b" and "c", and "c" is small,
so that the ratio falls under the four-fifths rule.
"""

import json
import pathlib

import numpy as np
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
import fairlearn

HERE = pathlib.Path(__file__).parent


def main():
    rng = np.random.default_rng(20261202)
    n = 5000
    groups = rng.choice(["a", "b", "c"], size=n, p=[0.55, 0.35, 0.10])
    base = {"a": 0.5, "b": 0.4, "c": 0.3}
    y_true = np.array([int(rng.random() < base[g]) for g in groups])
    # The planted bias: a positive label is found more often in "a", and "a" gets
    # more false positives.
    tpr = {"a": 0.9, "b": 0.7, "c": 0.55}
    fpr = {"a": 0.3, "b": 0.1, "c": 0.08}
    y_pred = np.array(
        [
            int(rng.random() < (tpr[g] if t == 1 else fpr[g]))
            for g, t in zip(groups, y_true)
        ]
    )
    with open(HERE / "rows.csv", "w") as out:
        out.write("group,label,prediction\n")
        for g, t, p in zip(groups, y_true, y_pred):
            out.write(f"{g},{t},{p}\n")
    frame = MetricFrame(
        metrics={
            "selection_rate": selection_rate,
            "true_positive_rate": true_positive_rate,
            "false_positive_rate": false_positive_rate,
        },
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=groups,
    )
    by_group = {
        str(g): {k: float(v) for k, v in row.items()}
        for g, row in frame.by_group.to_dict(orient="index").items()
    }
    args = dict(y_true=y_true, y_pred=y_pred, sensitive_features=groups)
    expected = {
        "fairlearn": fairlearn.__version__,
        "groups": by_group,
        "demographic_parity_difference": float(demographic_parity_difference(**args)),
        "demographic_parity_ratio": float(demographic_parity_ratio(**args)),
        "equalized_odds_difference": float(equalized_odds_difference(**args)),
        "equal_opportunity_difference": float(equal_opportunity_difference(**args)),
    }
    (HERE / "expected.json").write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
