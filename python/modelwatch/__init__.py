"""modelwatch: monitor scikit-learn and Keras models with a modelwatch server, and run
its report in process.

>>> import modelwatch as mw
>>> m = mw.Client("http://127.0.0.1:8480").define_model("credit", "binary_classification",
...     reference=X_train, reference_labels=y_train)                    # doctest: +SKIP
>>> monitored = mw.sklearn.monitor(estimator, m)                        # doctest: +SKIP
>>> keras_model.fit(X, y, epochs=3, callbacks=[mw.keras.Callback(m)])  # doctest: +SKIP
>>> logging.getLogger().addHandler(mw.logging_handler(m))              # doctest: +SKIP
"""

from __future__ import annotations

from . import keras, sklearn
from ._core import __version__
from ._logging import logging_handler
from .client import Client, Model
from .errors import ApiError, RejectedRecords, Rejection
from .report import Report, report

__all__ = [
    "ApiError",
    "Client",
    "Model",
    "RejectedRecords",
    "Rejection",
    "Report",
    "__version__",
    "report",
    "keras",
    "logging_handler",
    "sklearn",
]
