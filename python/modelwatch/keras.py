"""``mw.keras.Callback(m)``: a Keras callback that logs, at the end of every epoch (the
epoch number is the ``step``), every layer's weights to the model's internals and the
epoch's training and validation metrics (``loss``, ``val_loss``, ...) to its training
record: scalar tensors named ``training/<metric>`` in the same store, read back with
``m.parameters(tensor="training/loss")`` (the value is the ``mean`` of each step).

Keras is imported only when a callback is made, so the package does not depend on it.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from .parameters import TRAINING_PREFIX

_log = logging.getLogger("modelwatch")


def weight_name(variable: Any) -> str:
    """A variable's unique name: Keras 3's ``path`` (``sequential/dense/kernel``), else
    its ``name`` without TensorFlow's ``:0``.
    """
    name = getattr(variable, "path", None) or variable.name
    return str(name).removesuffix(":0")


def epoch_tensors(keras_model: Any, logs: dict[str, Any] | None) -> dict[str, np.ndarray]:
    """Every layer's weights and the epoch's metrics, by name."""
    tensors: dict[str, np.ndarray] = {}
    for variable in keras_model.weights:
        tensors[weight_name(variable)] = np.asarray(variable.numpy(), dtype=np.float64)
    for metric, value in (logs or {}).items():
        tensors[TRAINING_PREFIX + metric] = np.asarray([float(value)])
    return tensors


def Callback(model: Any, version: str | None = None, raise_errors: bool = False) -> Any:  # noqa: N802 - a class to its users
    """A ``keras.callbacks.Callback`` logging to ``model`` (an ``mw.Model``) after each
    epoch. A failed send is logged and training goes on, unless ``raise_errors``.
    """
    import keras

    class _Callback(keras.callbacks.Callback):
        """Logs weights and metrics per epoch."""

        def __init__(self) -> None:
            super().__init__()
            self.monitored = model
            self.version = version
            self.failures = 0

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            try:
                tensors = epoch_tensors(self.model, logs)
                self.monitored.log_parameters(tensors, step=epoch, version=self.version)
            except Exception:
                self.failures += 1
                if raise_errors:
                    raise
                _log.exception("modelwatch: the epoch's parameters could not be sent")

    return _Callback()
