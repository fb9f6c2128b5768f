"""Writes Evidently's per-column drift verdicts for the frames of the Python tests.

The oracle of `test_evidently.py`: Evidently 0.4.40's `DataDriftPreset`, with its default
tests, on the same reference and current frames (`datasets.load`) and on a shifted copy
of the current frame. Run it by hand (Evidently is not installed in CI) and commit its
output:

    python -m venv /tmp/evenv && /tmp/evenv/bin/pip install evidently==0.4.40 scikit-learn==1.5.2
    cd python/tests && /tmp/evenv/bin/python oracles/evidently_verdicts.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import evidently  # noqa: E402
from datasets import load, shifted  # noqa: E402
from evidently import ColumnMapping  # noqa: E402
from evidently.metric_preset import DataDriftPreset  # noqa: E402
from evidently.report import Report  # noqa: E402


def verdicts(reference, current) -> dict:
    """Evidently's verdict, test and score for every column of the frames."""
    mapping = ColumnMapping(
        numerical_features=list(reference.columns), categorical_features=[], target=None
    )
    mapping.prediction = None
    report = Report(metrics=[DataDriftPreset()])
    report.run(reference_data=reference, current_data=current, column_mapping=mapping)
    table = next(
        m["result"] for m in report.as_dict()["metrics"] if m["metric"] == "DataDriftTable"
    )
    return {
        name: {
            "drifted": bool(column["drift_detected"]),
            "test": column["stattest_name"],
            "score": float(column["drift_score"]),
            # Evidently's chi-square is a goodness-of-fit test with the reference as the
            # expectation: a value the reference never took divides by zero (p = 0).
            "unseen_in_reference": bool(
                set(current[name].dropna()) - set(reference[name].dropna())
            ),
        }
        for name, column in table["drift_by_columns"].items()
    }


def main() -> None:
    out = {"evidently": evidently.__version__, "datasets": {}}
    for name in ["breast_cancer", "wine", "digits", "diabetes"]:
        Xr, _, Xc, _, _, _ = load(name)
        out["datasets"][name] = {
            "same": verdicts(Xr, Xc),
            "shifted": verdicts(Xr, shifted(Xc)),
        }
    (HERE / "evidently_verdicts.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
