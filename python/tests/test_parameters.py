"""Model internals from Python against the real server: `m.log_parameters` with the
client's numpy summaries and with raw values (NaN and Inf included) stores the same
numbers as numpy computes, and the diffs read back as frames."""

from __future__ import annotations

import numpy as np
import pytest

import modelwatch as mw


def numpy_summary(values: np.ndarray) -> dict:
    finite = values[np.isfinite(values)]
    counts, edges = np.histogram(finite, bins=64)
    return {
        "count": values.size,
        "nan": int(np.isnan(values).sum()),
        "inf": int(np.isinf(values).sum()),
        "zeros": int((finite == 0).sum()),
        "min": finite.min(),
        "max": finite.max(),
        "mean": finite.mean(),
        "std": finite.std(ddof=0),
        "l2_norm": np.linalg.norm(finite),
        "edges": edges,
        "counts": counts,
    }


@pytest.mark.parametrize("raw", [False, True])
def test_logged_tensors_read_back_as_numpy_computes_them(server, raw: bool) -> None:
    rng = np.random.default_rng(14)
    kernel = rng.normal(0.0, 0.1, size=(32, 16))
    bias = np.zeros(16)
    bias[[1, 5]] = [np.nan, np.inf]
    m = mw.Client(server.url).define_model("net", "regression")
    answer = m.log_parameters({"dense/kernel": kernel, "dense/bias": bias}, step=3, raw=raw)
    assert answer == {"accepted": 2, "step": 3, "version": "default"}
    frame = m.parameters().set_index("tensor")
    assert list(frame.index) == ["dense/bias", "dense/kernel"]
    for name, values in [("dense/kernel", kernel.ravel()), ("dense/bias", bias)]:
        row = frame.loc[name]
        expected = numpy_summary(values)
        assert row["step"] == 3
        for key in ("count", "nan", "inf", "zeros"):
            assert row[key] == expected[key], (name, key)
        for key in ("min", "max", "mean", "std", "l2_norm"):
            assert abs(row[key] - expected[key]) <= 1e-9 * max(1.0, abs(expected[key])), key
        np.testing.assert_array_equal(row["edges"], expected["edges"])
        np.testing.assert_array_equal(row["counts"], expected["counts"])


def test_a_pytorch_style_state_dict_and_its_diff(server) -> None:
    m = mw.Client(server.url).define_model("torchy", "regression")
    # Anything with .numpy() (a torch tensor after .detach().cpu()) or array-like.
    first = {"fc.weight": [[1.0, 3.0]], "fc.bias": [0.5]}
    second = {"fc.weight": [[2.0, 6.0]], "fc.bias": [0.5]}
    m.log_parameters(first, step=0, version="v1")
    m.log_parameters(second, step=0, version="v2")
    diff = m.parameter_diff("v1", "v2").set_index("tensor")
    # w: mean 2 → 4, std 1 → 2, norm √10 → 2√10.
    assert diff.loc["fc.weight", "mean_change"] == pytest.approx(2.0, abs=1e-12)
    assert diff.loc["fc.weight", "std_change"] == pytest.approx(1.0, abs=1e-12)
    assert diff.loc["fc.weight", "l2_norm_change"] == pytest.approx(1.0, abs=1e-12)
    assert diff.loc["fc.bias", "wasserstein"] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(mw.ApiError) as refused:
        m.log_parameters({"x": [1.0]}, step=-1)
    assert refused.value.field == "step"
