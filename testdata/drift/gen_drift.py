#!/usr/bin/env python3
"""Generate golden drift / data-quality test data for modelwatch.

Usage (from the repository root):

    python3 testdata/drift/gen_drift.py

Writes, next to this script, for each data set in (large, small, tiny, empty):

    <name>.schema.json     model definition (binary classification, 12 features)
    <name>.reference.csv   reference rows (2024-02-01..2024-02-28)
    <name>.current.csv     current rows (2024-03-11..2024-03-12)
    <name>.expected.json   expected drift, prediction drift and data quality,
                           computed with numpy / scipy, plus what Evidently's
                           default data drift reports on the same data

Expected values are computed from the CSV files after reading them back as
strings, so they are exactly what a consumer parsing the CSV sees. The
definitions are in README.md. Deterministic: fixed seeds, no wall clock.
"""

import csv
import datetime as dt
import json
import math
import os
import platform
import sys
import warnings

import numpy as np
import pandas as pd
import scipy
from scipy import stats
from scipy.spatial.distance import jensenshannon

OUT_DIR = os.path.dirname(os.path.abspath(__file__))

# name -> (reference rows, current rows, seed)
DATASETS = {
    "large": (5000, 4000, 20240301),
    "small": (500, 300, 20240302),
    "tiny": (20, 15, 20240303),
    "empty": (200, 0, 20240304),
}

FEATURES = [
    {"name": "num_same", "type": "numeric"},
    {"name": "num_shift", "type": "numeric"},
    {"name": "num_scale", "type": "numeric"},
    {"name": "num_ties", "type": "numeric"},
    {"name": "num_constant", "type": "numeric"},
    {"name": "num_missing", "type": "numeric"},
    {"name": "num_lowcard", "type": "numeric"},
    {"name": "num_allmissing", "type": "numeric"},
    {"name": "cat_same", "type": "categorical"},
    {"name": "cat_new", "type": "categorical"},
    {"name": "cat_shift", "type": "categorical"},
    {"name": "cat_missing", "type": "categorical"},
]
FEATURE_TYPES = {f["name"]: f["type"] for f in FEATURES}
COLUMNS = ["id", "timestamp", "prediction", "score"] + [f["name"] for f in FEATURES]

REF_START = dt.datetime(2024, 2, 1, tzinfo=dt.timezone.utc)
REF_SECONDS = 28 * 86400  # 2024-02-01T00:00:00Z .. 2024-02-28T23:59:59Z
CUR_START = dt.datetime(2024, 3, 11, tzinfo=dt.timezone.utc)
CUR_SECONDS = 2 * 86400  # 2024-03-11T00:00:00Z .. 2024-03-12T23:59:59Z

# Contract constants
DECILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
SHARE_FLOOR = 1e-4
STD_FLOOR = 0.001
SMALL_REFERENCE = 1000  # reference non-missing count <= this -> ks / chi2
LOW_CARDINALITY = 5  # numeric with <= this many distinct reference values -> categorical test
P_THRESHOLD = 0.05
DISTANCE_THRESHOLD = 0.1
DATASET_DRIFT_SHARE = 0.5
TOP_N = 10


# --------------------------------------------------------------------------
# formatting helpers
# --------------------------------------------------------------------------

def fmt_ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt_num(x):
    """Up to 6 decimals, trailing zeros trimmed; integers as integers."""
    r = round(float(x), 6)
    s = f"{r:.6f}".rstrip("0").rstrip(".")
    if s in ("-0", ""):
        s = "0"
    return s


def fmt_cat_number(x):
    """Shortest text of a numeric value used as a category: 1, 2.5 (never 1.0, never 1e-05)."""
    x = float(x)
    if x.is_integer():
        return str(int(x))
    return np.format_float_positional(x, trim="-")


def fnum(x):
    """JSON-safe float: None for NaN / inf / None."""
    if x is None:
        return None
    x = float(x)
    if not math.isfinite(x):
        return None
    return x


# --------------------------------------------------------------------------
# data generation
# --------------------------------------------------------------------------

def exact_mask(rng, n, share):
    """Boolean mask with exactly round(share * n) True values at random positions."""
    k = int(round(share * n))
    mask = np.zeros(n, dtype=bool)
    if k > 0:
        mask[rng.choice(n, size=k, replace=False)] = True
    return mask


def gen_side(rng, n, current):
    """Rows (list of dicts of strings) for one side, sorted by timestamp."""
    start, span, prefix = (CUR_START, CUR_SECONDS, "cur") if current else (REF_START, REF_SECONDS, "ref")
    secs = np.sort(rng.integers(0, span, size=n))

    # score / prediction: slight shift in current
    a, b = (2.6, 2.8) if current else (2.0, 3.0)
    score = np.clip(np.round(rng.beta(a, b, size=n), 6), 0.000001, 0.999999)

    cols = {}
    cols["num_same"] = rng.normal(0.0, 1.0, n)
    cols["num_shift"] = rng.normal(56.0 if current else 50.0, 10.0, n)
    cols["num_scale"] = rng.normal(0.0, 2.5 if current else 1.0, n)
    cols["num_ties"] = rng.binomial(20, 0.35 if current else 0.3, n).astype(float)
    const = np.full(n, 7.0)
    if current:
        const[exact_mask(rng, n, 0.05)] = 8.0
    cols["num_constant"] = const
    miss = rng.normal(0.0, 1.0, n)
    cols["num_missing"] = np.where(exact_mask(rng, n, 0.30 if current else 0.10), np.nan, miss)
    p_low = [0.3, 0.35, 0.35] if current else [0.5, 0.3, 0.2]
    cols["num_lowcard"] = rng.choice([1.0, 2.0, 3.0], size=n, p=p_low)
    allm = rng.normal(3.0, 1.0, n)
    cols["num_allmissing"] = np.full(n, np.nan) if current else allm

    cols["cat_same"] = rng.choice(["a", "b", "c"], size=n).astype(object)
    cat_new = rng.choice(["a", "b", "c"], size=n).astype(object)
    if current:
        cat_new[exact_mask(rng, n, 0.15)] = "d"
    cols["cat_new"] = cat_new
    p_shift = [0.3, 0.3, 0.4] if current else [0.6, 0.3, 0.1]
    cols["cat_shift"] = rng.choice(["x", "y", "z"], size=n, p=p_shift).astype(object)
    cm = rng.choice(["u", "v"], size=n).astype(object)
    if current:
        cm[exact_mask(rng, n, 0.20)] = None
    cols["cat_missing"] = cm

    rows = []
    for i in range(n):
        row = {
            "id": f"{prefix}-{i + 1:06d}",
            "timestamp": fmt_ts(start + dt.timedelta(seconds=int(secs[i]))),
            "score": f"{score[i]:.6f}",
        }
        row["prediction"] = "1" if float(row["score"]) >= 0.5 else "0"
        for f in FEATURES:
            v = cols[f["name"]][i]
            if f["type"] == "numeric":
                row[f["name"]] = "" if np.isnan(v) else fmt_num(v)
            else:
                row[f["name"]] = "" if v is None else str(v)
        rows.append(row)
    return rows


def write_csv(path, rows):
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow(r)


def read_csv(path):
    with open(path, newline="") as fh:
        rd = csv.DictReader(fh)
        assert rd.fieldnames == COLUMNS, rd.fieldnames
        return list(rd)


# --------------------------------------------------------------------------
# statistics (the contract)
# --------------------------------------------------------------------------

def numeric_values(rows, col):
    return np.array([float(r[col]) for r in rows if r[col] != ""], dtype=float)


def category_values(rows, col, numeric):
    if numeric:
        return [fmt_cat_number(float(r[col])) for r in rows if r[col] != ""]
    return [r[col] for r in rows if r[col] != ""]


def psi_from_counts(rc, cc):
    r = np.maximum(np.asarray(rc, float) / np.sum(rc), SHARE_FLOOR)
    c = np.maximum(np.asarray(cc, float) / np.sum(cc), SHARE_FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


def decile_bins(ref):
    edges = np.unique(np.quantile(ref, DECILES))
    return edges


def bin_counts(values, edges):
    # right-closed bins (-inf, e1], (e1, e2], ..., (ek, +inf):
    # index = number of edges strictly below the value
    idx = np.searchsorted(edges, values, side="left")
    return np.bincount(idx, minlength=len(edges) + 1)


def numeric_stats(ref, cur):
    n, m = len(ref), len(cur)
    d = float(stats.ks_2samp(ref, cur).statistic)
    p = float(stats.kstwobign.sf(math.sqrt(n * m / (n + m)) * d))
    w = float(stats.wasserstein_distance(ref, cur))
    wn = w / max(float(np.std(ref)), STD_FLOOR)
    edges = decile_bins(ref)
    rc = bin_counts(ref, edges)
    cc = bin_counts(cur, edges)
    return {
        "ks_statistic": fnum(d),
        "ks_p_value": fnum(p),
        "wasserstein": fnum(w),
        "wasserstein_norm": fnum(wn),
        "psi": fnum(psi_from_counts(rc, cc)),
        "jensen_shannon": fnum(jensenshannon(rc.astype(float), cc.astype(float))),
        # not part of the API answer; here to help debug the binning
        "bin_edges": [float(e) for e in edges],
        "reference_bin_counts": [int(x) for x in rc],
        "current_bin_counts": [int(x) for x in cc],
    }


def categorical_stats(ref, cur):
    cats = sorted(set(ref) | set(cur))
    rcount = {k: 0 for k in cats}
    ccount = {k: 0 for k in cats}
    for v in ref:
        rcount[v] += 1
    for v in cur:
        ccount[v] += 1
    rc = np.array([rcount[k] for k in cats], dtype=float)
    cc = np.array([ccount[k] for k in cats], dtype=float)
    keep = (rc + cc) > 0
    res = stats.chi2_contingency(np.array([rc[keep], cc[keep]]))
    return {
        "chi2_statistic": fnum(res.statistic),
        "chi2_p_value": fnum(res.pvalue),
        "psi": fnum(psi_from_counts(rc, cc)),
        "jensen_shannon": fnum(jensenshannon(rc, cc)),
        "new_categories": len(set(cur) - set(ref)),
        # not part of the API answer; here to help debug
        "categories": cats,
        "reference_counts": [int(x) for x in rc],
        "current_counts": [int(x) for x in cc],
        "chi2_dof": int(res.dof),
    }


def column_drift(ref_rows, cur_rows, col, kind):
    """Drift entry of one column; kind is 'numeric' or 'categorical'."""
    out = {"type": kind}
    if kind == "numeric":
        ref = numeric_values(ref_rows, col)
        cur = numeric_values(cur_rows, col)
        ref_distinct = len(np.unique(ref))
        low_card = ref_distinct <= LOW_CARDINALITY
    else:
        ref = category_values(ref_rows, col, False)
        cur = category_values(cur_rows, col, False)
        ref_distinct = len(set(ref))
        low_card = True
    small = len(ref) <= SMALL_REFERENCE
    if kind == "numeric" and not low_card:
        method, key, threshold = ("ks", "ks_p_value", P_THRESHOLD) if small else (
            "wasserstein_norm", "wasserstein_norm", DISTANCE_THRESHOLD)
        from_stats = "stats"
    else:
        method, key, threshold = ("chi2", "chi2_p_value", P_THRESHOLD) if small else (
            "jensen_shannon", "jensen_shannon", DISTANCE_THRESHOLD)
        from_stats = "stats" if kind == "categorical" else "categorical_stats"

    out["method"] = method
    out["threshold"] = threshold
    out["reference_non_missing"] = int(len(ref))
    out["current_non_missing"] = int(len(cur))
    out["reference_distinct"] = int(ref_distinct)

    has_data = len(cur) > 0 and len(ref) > 0
    if kind == "numeric":
        out["stats"] = numeric_stats(ref, cur) if has_data else None
        if low_card:
            rcat = category_values(ref_rows, col, True)
            ccat = category_values(cur_rows, col, True)
            out["categorical_stats"] = categorical_stats(rcat, ccat) if has_data else None
    else:
        out["stats"] = categorical_stats(ref, cur) if has_data else None

    if has_data:
        stat = out[from_stats][key]
        out["statistic"] = stat
        if stat is None:
            out["drifted"] = None
        elif method in ("ks", "chi2"):
            out["drifted"] = bool(stat < threshold)
        else:
            out["drifted"] = bool(stat >= threshold)
    else:
        out["statistic"] = None
        out["drifted"] = None
    # key order: type, method, statistic, threshold, drifted, then the rest
    order = ["type", "method", "statistic", "threshold", "drifted", "stats", "categorical_stats"]
    return {k: out[k] for k in order if k in out} | {k: v for k, v in out.items() if k not in order}


def quality(ref_rows, cur_rows, col, kind):
    count = len(cur_rows)
    missing = sum(1 for r in cur_rows if r[col] == "")
    q = {
        "type": kind,
        "count": count,
        "missing": missing,
        "missing_share": fnum(missing / count) if count else None,
    }
    if kind == "numeric":
        cur = numeric_values(cur_rows, col)
        ref = numeric_values(ref_rows, col)
        n = len(cur)
        q["min"] = fnum(np.min(cur)) if n else None
        q["max"] = fnum(np.max(cur)) if n else None
        q["mean"] = fnum(np.mean(cur)) if n else None
        q["std"] = fnum(pd.Series(cur).std()) if n >= 2 else None
        for p in (5, 25, 50, 75, 95):
            q[f"p{p}"] = fnum(np.percentile(cur, p)) if n else None
        if n and len(ref):
            q["out_of_range"] = int(np.sum((cur < np.min(ref)) | (cur > np.max(ref))))
        else:
            q["out_of_range"] = 0
    else:
        cur = category_values(cur_rows, col, False)
        ref = set(category_values(ref_rows, col, False))
        counts = {}
        for v in cur:
            counts[v] = counts.get(v, 0) + 1
        q["distinct"] = len(counts)
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_N]
        q["top"] = [[k, v] for k, v in top]
        q["new_categories"] = sorted(set(counts) - ref)
    return q


# --------------------------------------------------------------------------
# Evidently comparison
# --------------------------------------------------------------------------

_EVIDENTLY = None


def load_evidently():
    """Import Evidently once; returns (module dict, version, note) or raises."""
    global _EVIDENTLY
    if _EVIDENTLY is not None:
        return _EVIDENTLY
    note = None
    os.environ.setdefault("DO_NOT_TRACK", "1")  # no usage telemetry
    import pandas.core.dtypes.common as pdc
    if not hasattr(pdc, "infer_dtype_from_object"):
        # evidently 0.7.x imports this helper, removed in pandas 3, at import time
        # (evidently/legacy/tests/data_integrity_tests.py; used only by TestColumnsType,
        # which the drift preset does not run). Shim it so the package imports.
        pdc.infer_dtype_from_object = lambda d: np.dtype(d).type
        note = ("pandas.core.dtypes.common.infer_dtype_from_object (removed in pandas 3) was shimmed "
                "so that evidently imports; the drift preset does not use it")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import evidently
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset
    _EVIDENTLY = (
        {"Report": Report, "Dataset": Dataset, "DataDefinition": DataDefinition,
         "DataDriftPreset": DataDriftPreset},
        evidently.__version__,
        note,
    )
    return _EVIDENTLY


def to_frame(rows):
    data = {}
    for f in FEATURES + [{"name": "prediction", "type": "categorical"}, {"name": "score", "type": "numeric"}]:
        col = f["name"]
        if f["type"] == "numeric":
            data[col] = pd.Series([float(r[col]) if r[col] != "" else np.nan for r in rows], dtype="float64")
        else:
            data[col] = pd.Series([r[col] if r[col] != "" else np.nan for r in rows], dtype=object)
    return pd.DataFrame(data)


def run_evidently_once(ev, ref_df, cur_df, columns):
    num = [c for c in columns if c == "score" or FEATURE_TYPES.get(c) == "numeric"]
    cat = [c for c in columns if c == "prediction" or FEATURE_TYPES.get(c) == "categorical"]
    dd = ev["DataDefinition"](numerical_columns=num, categorical_columns=cat)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_ds = ev["Dataset"].from_pandas(ref_df[columns], data_definition=dd)
        cur_ds = ev["Dataset"].from_pandas(cur_df[columns], data_definition=dd)
        snap = ev["Report"]([ev["DataDriftPreset"]()], include_tests=True).run(
            current_data=cur_ds, reference_data=ref_ds)
    d = snap.dict()
    out = {}
    for mtr in d["metrics"]:
        cfg = mtr["config"]
        if cfg.get("type") == "evidently:metric_v2:ValueDrift":
            out[cfg["column"]] = {
                "stattest": cfg.get("method"),
                "threshold": fnum(cfg.get("threshold")),
                "drift_score": fnum(mtr["value"]),
                "drift_detected": None,
            }
    for t in d.get("tests", []):
        params = t.get("metric_config", {}).get("params", {})
        if params.get("type") == "evidently:metric_v2:ValueDrift" and params.get("column") in out:
            out[params["column"]]["drift_detected"] = t["status"] == "FAIL"
    return out


def err_str(e):
    return f"{type(e).__name__}: {e}"


def evidently_section(ref_rows, cur_rows, ours):
    """Run Evidently's DataDriftPreset; never raises."""
    columns = [f["name"] for f in FEATURES] + ["prediction", "score"]
    sec = {
        "version": None,
        "api": "evidently.Report([evidently.presets.DataDriftPreset()], include_tests=True).run(current, reference); "
               "DataDefinition(numerical_columns=numeric features + score, categorical_columns=categorical features + prediction)",
        "note": None,
        "error": None,
        "columns": {},
        "drifted_features": None,
        "features_with_verdict": None,
        "drift_share": None,
        "differences": [],
        "method_differences": [],
    }
    try:
        ev, version, note = load_evidently()
    except Exception as e:  # noqa: BLE001
        sec["error"] = "import failed: " + err_str(e)
        return sec
    sec["version"] = version
    sec["note"] = note
    ref_df, cur_df = to_frame(ref_rows), to_frame(cur_rows)

    try:
        sec["columns"] = run_evidently_once(ev, ref_df, cur_df, columns)
    except Exception as e:  # noqa: BLE001
        sec["error"] = "whole preset failed: " + err_str(e) + "; per-column results below come from one run per column"
        for c in columns:
            try:
                sec["columns"][c] = run_evidently_once(ev, ref_df, cur_df, [c])[c]
            except Exception as e2:  # noqa: BLE001
                sec["columns"][c] = {"error": err_str(e2)}

    verdicts = [sec["columns"].get(f["name"], {}).get("drift_detected") for f in FEATURES]
    with_verdict = [v for v in verdicts if v is not None]
    sec["features_with_verdict"] = len(with_verdict)
    sec["drifted_features"] = sum(1 for v in with_verdict if v)
    sec["drift_share"] = (sec["drifted_features"] / len(with_verdict)) if with_verdict else None

    for c in columns:
        e = sec["columns"].get(c, {})
        o = ours[c]
        if "stattest" in e and EVIDENTLY_METHODS.get(e["stattest"], e["stattest"]) != o["method"]:
            sec["method_differences"].append({
                "column": c, "ours": o["method"], "evidently": e["stattest"],
                "reason": method_reason(o, EVIDENTLY_METHODS.get(e["stattest"], e["stattest"])),
            })
        theirs = e.get("drift_detected")
        if theirs != o["drifted"]:
            sec["differences"].append({
                "column": c,
                "ours": {"method": o["method"], "statistic": o["statistic"], "drifted": o["drifted"]},
                "evidently": e,
                "reason": explain(c, o, e),
            })
    return sec


EVIDENTLY_METHODS = {
    "K-S p_value": "ks",
    "chi-square p_value": "chi2",
    "Z-test p_value": "z",
    "Wasserstein distance (normed)": "wasserstein_norm",
    "Jensen-Shannon distance": "jensen_shannon",
}


def explain(col, o, e):
    if "error" in e:
        return ("Evidently raises for an empty current column (and then the whole preset fails); "
                "we give no verdict (drifted: null) when the current sample is empty")
    st = EVIDENTLY_METHODS.get(e.get("stattest"), e.get("stattest"))
    reasons = []
    if st != o["method"]:
        reasons.append(method_reason(o, st))
    if st == "chi2" and o["method"] == "chi2":
        r = ("Evidently's chi-square is a goodness-of-fit test (scipy.stats.chisquare of the current "
             "counts against the reference shares scaled to the current size), not chi2_contingency")
        cs = o.get("categorical_stats") or o.get("stats") or {}
        if cs.get("new_categories"):
            r += ("; a current category absent from the reference has expected count 0 there, "
                  "so Evidently's p-value is 0")
        reasons.append(r)
    elif st == "ks" and o["method"] == "ks":
        reasons.append("Evidently uses ks_2samp's default p-value (exact for small samples); "
                       "we use the limiting Kolmogorov distribution")
    elif st == "jensen_shannon" and o["type"] == "numeric":
        reasons.append("Evidently bins numeric values into Sturges histogram bins over reference and current "
                       "when the reference has > 20 distinct values, otherwise one bin per value")
    return "; ".join(reasons) if reasons else "unexplained"


def method_reason(o, st):
    if st == "z":
        return ("Evidently uses a two-proportion z-test when reference and current together have <= 2 distinct "
                "values and the reference has <= 1000 non-missing values; we use chi2_contingency "
                "(with Yates' correction for 2 categories)")
    return (f"method differs: ours {o['method']}, Evidently {st} (Evidently counts distinct values over "
            "reference and current together; we count the reference only)")


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def versions():
    v = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
    }
    try:
        v["evidently"] = load_evidently()[1]
    except Exception as e:  # noqa: BLE001
        v["evidently"] = None
        v["evidently_error"] = err_str(e)
    return v


def build_expected(name, ref_rows, cur_rows, vers):
    features = {}
    for f in FEATURES:
        features[f["name"]] = column_drift(ref_rows, cur_rows, f["name"], f["type"])
    prediction = column_drift(ref_rows, cur_rows, "prediction", "categorical")
    score = column_drift(ref_rows, cur_rows, "score", "numeric")
    with_verdict = [v for v in features.values() if v["drifted"] is not None]
    drifted = sum(1 for v in with_verdict if v["drifted"])
    share = drifted / len(with_verdict) if with_verdict else None
    ours = dict(features)
    ours["prediction"] = prediction
    ours["score"] = score
    return {
        "generated_by": "testdata/drift/gen_drift.py",
        "dataset": name,
        "versions": vers,
        "reference_count": len(ref_rows),
        "current_count": len(cur_rows),
        "features": features,
        "prediction": prediction,
        "score": score,
        "drifted_features": drifted,
        "features_total": len(with_verdict),
        "features_declared": len(FEATURES),
        "drift_share": fnum(share),
        "dataset_drift": bool(share is not None and share >= DATASET_DRIFT_SHARE),
        "quality": {f["name"]: quality(ref_rows, cur_rows, f["name"], f["type"]) for f in FEATURES},
        "evidently": evidently_section(ref_rows, cur_rows, ours),
    }


def main():
    if os.environ.get("PYTHONHASHSEED") != "0":
        # Evidently iterates over Python sets of category strings, so its float sums
        # depend on string hashing; fix the hash seed so reruns are byte-identical.
        os.execve(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:],
                  {**os.environ, "PYTHONHASHSEED": "0"})
    vers = versions()
    schema = {"task": "binary_classification", "features": FEATURES}
    for name, (n_ref, n_cur, seed) in DATASETS.items():
        rng = np.random.default_rng(seed)
        ref_rows = gen_side(rng, n_ref, current=False)
        cur_rows = gen_side(rng, n_cur, current=True)
        base = os.path.join(OUT_DIR, name)
        with open(base + ".schema.json", "w") as fh:
            json.dump(schema, fh, indent=2)
            fh.write("\n")
        write_csv(base + ".reference.csv", ref_rows)
        write_csv(base + ".current.csv", cur_rows)
        # compute from what was written, read back as strings
        ref_rows = read_csv(base + ".reference.csv")
        cur_rows = read_csv(base + ".current.csv")
        expected = build_expected(name, ref_rows, cur_rows, vers)
        with open(base + ".expected.json", "w") as fh:
            json.dump(expected, fh, indent=2, allow_nan=False, ensure_ascii=False)
            fh.write("\n")
        diffs = expected["evidently"]["differences"]
        print(f"{name}: reference {n_ref}, current {n_cur}, drifted {expected['drifted_features']}/"
              f"{expected['features_total']}, verdict differences: {[d['column'] for d in diffs]}, "
              f"method differences: {[d['column'] for d in expected['evidently']['method_differences']]}"
              + (f", evidently error: {expected['evidently']['error']}" if expected["evidently"]["error"] else ""))


if __name__ == "__main__":
    main()
