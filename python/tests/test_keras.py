"""`mw.keras.Callback`: a tiny Keras model trained for 3 epochs against the real server;
every layer's weights and the training record (loss and validation loss per epoch) are
read back as the callback sent them."""

from __future__ import annotations

import os

# The backend pinned in .ci/install (the lightest to install, see docs/PYTHON.md).
os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402 - after choosing the backend
import numpy as np  # noqa: E402

import modelwatch as mw  # noqa: E402


def test_the_callback_logs_weights_and_metrics_per_epoch(server) -> None:
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(64, 4)).astype("float32")
    y = (X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.1).astype("float32")
    model = keras.Sequential(
        [
            keras.Input(shape=(4,)),
            keras.layers.Dense(3, name="hidden"),
            keras.layers.Dense(1, name="out"),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    m = mw.Client(server.url).define_model("tiny", "regression")
    callback = mw.keras.Callback(m, version="k1", raise_errors=True)
    history = model.fit(
        X, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0, callbacks=[callback]
    )
    assert callback.failures == 0
    frame = m.parameters(version="k1")
    names = sorted(set(frame["tensor"]))
    weights = sorted(mw.keras.weight_name(v) for v in model.weights)
    assert len(weights) == 4
    assert names == sorted(weights + ["training/loss", "training/val_loss"])
    assert sorted(set(frame["step"])) == [0, 1, 2]
    # The training record: one scalar per epoch, equal to Keras's history.
    for metric in ("loss", "val_loss"):
        record = frame[frame["tensor"] == f"training/{metric}"].sort_values("step")
        np.testing.assert_allclose(record["mean"], history.history[metric], rtol=1e-6)
    # After the last epoch the weights are the model's final weights.
    last = frame[frame["step"] == 2].set_index("tensor")
    for variable in model.weights:
        values = np.asarray(variable.numpy(), dtype=np.float64).ravel()
        row = last.loc[mw.keras.weight_name(variable)]
        assert row["count"] == values.size
        assert abs(row["mean"] - values.mean()) <= 1e-9
        assert abs(row["l2_norm"] - np.linalg.norm(values)) <= 1e-9
        np.testing.assert_array_equal(row["counts"], np.histogram(values, bins=64)[0])
    # The two epochs differ: training moved the hidden kernel.
    diff = m.parameter_diff(from_step=0, to_step=2, version="k1").set_index("tensor")
    assert diff.loc[mw.keras.weight_name(model.layers[0].kernel), "wasserstein"] > 0
