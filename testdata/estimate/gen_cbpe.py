"""Oracle of estimated performance (issue 18): data with known probabilities and
covariate shift, NannyML 0.13's CBPE on the same chunks, and statsmodels' Wilson
intervals.

Run with the venv of README.md (nannyml==0.13.1, statsmodels==0.14.4, scipy==1.15.3):
    /tmp/nannyml-venv/bin/python testdata/estimate/gen_cbpe.py
It writes, next to itself, for each scenario `<name>.reference.csv`,
`<name>.analysis.csv` (column `chunk`) and, for all, `expected.json`. The tests read
those files; CI does not run NannyML.

Scenarios (binary, positive class 1, prediction = score >= 0.5):
- `calibrated`: the score is the probability the labels are drawn from;
- `skewed`: the score is the square root of that probability (monotone, miscalibrated),
  so calibration is needed.
The analysis chunks move the feature's mean step by step (covariate shift); the labels
are drawn from the probabilities, so the truth is known.
"""

import json
import os
import pathlib

import numpy as np
import pandas as pd

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")
import nannyml as nml
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)
from statsmodels.stats.proportion import proportion_confint

HERE = pathlib.Path(__file__).parent
REFERENCE_ROWS = 10_000
CHUNK_ROWS = 3_000
SHIFTS = [0.0, 0.3, 0.6, 0.9, 1.2, 1.5]


def probability(x):
    return 1.0 / (1.0 + np.exp(-(1.3 * x - 0.4)))


def frame(rng, n, mean, skew):
    x = rng.normal(mean, 1.0, n)
    p = probability(x)
    y = (rng.random(n) < p).astype(int)
    score = np.sqrt(p) if skew else p
    score = np.round(score, 12)
    return pd.DataFrame({"x": np.round(x, 12), "score": score, "prediction": (score >= 0.5).astype(int), "label": y})


def scenario(name, skew, seed):
    rng = np.random.default_rng(seed)
    reference = frame(rng, REFERENCE_ROWS, 0.0, skew)
    chunks = []
    for i, shift in enumerate(SHIFTS):
        chunk = frame(rng, CHUNK_ROWS, shift, skew)
        chunk["chunk"] = i
        chunks.append(chunk)
    analysis = pd.concat(chunks, ignore_index=True)
    reference.to_csv(HERE / f"{name}.reference.csv", index=False, float_format="%.17g")
    analysis.to_csv(HERE / f"{name}.analysis.csv", index=False, float_format="%.17g")
    # Read back what the tests read, so both see the same doubles.
    reference = pd.read_csv(HERE / f"{name}.reference.csv")
    analysis = pd.read_csv(HERE / f"{name}.analysis.csv")

    estimator = nml.CBPE(
        y_pred_proba="score",
        y_pred="prediction",
        y_true="label",
        problem_type="classification_binary",
        metrics=["roc_auc", "f1", "precision", "recall", "accuracy"],
        chunk_size=CHUNK_ROWS,
    )
    estimator.fit(reference)
    needs = bool(estimator.needs_calibration)
    results = estimator.estimate(analysis.drop(columns=["label", "chunk"])).to_df()
    results = results[results[("chunk", "period")] == "analysis"].reset_index(drop=True)
    assert len(results) == len(SHIFTS), results
    out_chunks = []
    for i in range(len(SHIFTS)):
        part = analysis[analysis["chunk"] == i]
        realised = {
            "accuracy": accuracy_score(part.label, part.prediction),
            "precision": precision_score(part.label, part.prediction, zero_division=0),
            "recall": recall_score(part.label, part.prediction, zero_division=0),
            "f1": f1_score(part.label, part.prediction, zero_division=0),
            "roc_auc": roc_auc_score(part.label, part.score),
        }
        nannyml = {m: float(results[(m, "value")].iloc[i]) for m in ["accuracy", "precision", "recall", "f1", "roc_auc"]}
        out_chunks.append({"chunk": i, "rows": len(part), "realised": realised, "nannyml": nannyml})
    return {"needs_calibration": needs, "chunks": out_chunks}


def wilson():
    cases = [(0, 1), (1, 1), (0, 10), (3, 10), (10, 10), (50, 100), (7, 1000), (999, 1000), (1, 2), (123_456, 200_000)]
    out = []
    for count, nobs in cases:
        lower, upper = proportion_confint(count, nobs, alpha=0.05, method="wilson")
        out.append({"count": count, "nobs": nobs, "lower": float(lower), "upper": float(upper)})
    return out


def main():
    expected = {
        "versions": {"nannyml": nml.__version__, "statsmodels": __import__("statsmodels").__version__},
        "calibrated": scenario("calibrated", False, 18),
        "skewed": scenario("skewed", True, 1818),
        "wilson": wilson(),
    }
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")


if __name__ == "__main__":
    main()
