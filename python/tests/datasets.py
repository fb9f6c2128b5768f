"""scikit-learn's bundled data sets, a model of each, and event times over three days."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn import datasets
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

DAY0 = pd.Timestamp("2024-03-11", tz="UTC")


def load(name: str):
    """(reference X, reference y, current X, current y, fitted estimator, task)."""
    loader = {
        "breast_cancer": datasets.load_breast_cancer,
        "wine": datasets.load_wine,
        "digits": datasets.load_digits,
        "diabetes": datasets.load_diabetes,
    }[name]
    X, y = loader(return_X_y=True, as_frame=True)
    X.columns = [str(c) for c in X.columns]
    rng = np.random.default_rng(7)
    order = rng.permutation(len(X))
    half = len(X) // 2
    ref, cur = order[:half], order[half:]
    Xr, yr, Xc, yc = (
        X.iloc[ref],
        y.iloc[ref],
        X.iloc[cur].reset_index(drop=True),
        y.iloc[cur].reset_index(drop=True),
    )
    if name == "diabetes":
        model, task = LinearRegression(), "regression"
    else:
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
        task = "binary_classification" if y.nunique() == 2 else "multiclass_classification"
    model.fit(Xr, yr)
    return Xr.reset_index(drop=True), yr.reset_index(drop=True), Xc, yc, model, task


def timestamps(rows: int) -> pd.Series:
    """Event times spread over three UTC days."""
    return pd.Series(
        [DAY0 + pd.Timedelta(minutes=int(m)) for m in np.linspace(0, 3 * 1440 - 1, rows)]
    )


def shifted(X: pd.DataFrame) -> pd.DataFrame:
    """A copy of `X` with its first half of columns moved by half their standard deviation."""
    out = X.copy()
    for column in list(out.columns)[: len(out.columns) // 2]:
        out[column] = out[column] + 0.5 * out[column].std()
    return out
