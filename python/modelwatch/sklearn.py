"""``mw.sklearn.monitor``: a scikit-learn estimator (or ``Pipeline``) that logs what it
serves. ``predict`` and ``predict_proba`` answer as the estimator does and queue the
inputs, outputs, scores and latency with generated ids (``last_ids``).
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from .client import Model


class MonitoredEstimator:
    """The estimator, with ``predict`` and ``predict_proba`` logged to ``model``. Every
    other attribute is the estimator's own.
    """

    def __init__(self, estimator: Any, model: Model, version: str | None = None) -> None:
        """Wraps ``estimator``; see :func:`monitor`."""
        self.estimator = estimator
        self.model = model
        self.version = version
        self.last_ids: list[str] = []
        self._prefix = os.urandom(6).hex()
        self._count = 0

    def __getattr__(self, name: str) -> Any:
        """Everything not overridden is the estimator's."""
        return getattr(self.__dict__["estimator"], name)

    def _ids(self, rows: int) -> list[str]:
        first = self._count
        self._count += rows
        self.last_ids = [f"{self._prefix}-{first + i}" for i in range(rows)]
        return self.last_ids

    def _classes(self) -> list[Any] | None:
        classes = getattr(self.estimator, "classes_", None)
        return None if classes is None else list(classes)

    def predict(self, X: Any, **kwargs: Any) -> Any:  # noqa: N803
        """The estimator's ``predict``, logged with scores when it has ``predict_proba``."""
        started = time.perf_counter()
        predictions = self.estimator.predict(X, **kwargs)
        latency = (time.perf_counter() - started) * 1000 / max(1, len(predictions))
        scores = None
        if self.model.schema.is_classification and hasattr(self.estimator, "predict_proba"):
            try:
                scores = self.estimator.predict_proba(X)
            except Exception:  # noqa: BLE001 - scores are optional
                scores = None
        self.model.log(
            X,
            predictions=predictions,
            scores=scores,
            ids=self._ids(len(predictions)),
            latency_ms=latency,
            version=self.version,
            classes=self._classes(),
        )
        return predictions

    def predict_proba(self, X: Any, **kwargs: Any) -> Any:  # noqa: N803
        """The estimator's ``predict_proba``, logged with the argmax as the prediction."""
        started = time.perf_counter()
        scores = self.estimator.predict_proba(X, **kwargs)
        latency = (time.perf_counter() - started) * 1000 / max(1, len(scores))
        classes = self._classes()
        predictions = (
            np.asarray(classes, dtype=object)[np.argmax(np.asarray(scores), axis=1)]
            if classes is not None
            else None
        )
        self.model.log(
            X,
            predictions=predictions,
            scores=scores,
            ids=self._ids(len(scores)),
            latency_ms=latency,
            version=self.version,
            classes=classes,
        )
        return scores


def monitor(estimator: Any, model: Model, version: str | None = None) -> MonitoredEstimator:
    """A drop-in wrapper of ``estimator`` (a fitted estimator or ``Pipeline``) whose
    ``predict`` and ``predict_proba`` log to ``model`` as they serve; the ids of the last
    call's rows are ``last_ids``, for ``model.log_labels`` later.
    """
    return MonitoredEstimator(estimator, model, version)
