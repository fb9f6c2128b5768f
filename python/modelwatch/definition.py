"""Model definitions inferred from data: features from dtypes, classes and the positive
class from labels, predictions or an estimator's ``classes_``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from . import _convert


def definition(
    task: str,
    features: pd.DataFrame,
    *,
    classes: Sequence[Any] | None = None,
    positive_class: Any = None,
    observed: Iterable[str | None] = (),
) -> dict[str, Any]:
    """The JSON of ``PUT /api/v1/models/{model}`` for a model with these inputs.

    ``classes`` default to the distinct ``observed`` labels and predictions. The
    positive class of a binary model defaults to ``"1"`` when it is a class, else to
    the second in ``classes``' order (scikit-learn's ``predict_proba[:, 1]``).
    """
    spec: dict[str, Any] = {"task": task, "features": _convert.feature_types(features)}
    if task == "regression":
        return spec
    if classes is not None:
        names = [_convert.class_label(c) for c in classes]
    else:
        names = _convert.sorted_classes({c for c in observed if c is not None})
    if len(names) < 2:
        raise ValueError(
            f"a classification model needs at least two classes; found {names}: pass classes="
        )
    spec["classes"] = names
    if task == "binary_classification":
        if len(names) != 2:
            raise ValueError(f"a binary model has two classes, not {names}")
        if positive_class is not None:
            positive = _convert.class_label(positive_class)
        else:
            positive = "1" if "1" in names else names[1]
        spec["positive_class"] = positive
    return spec
