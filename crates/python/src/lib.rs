//! `modelwatch._core`, the Python package's extension: `mw.report` runs here, on the
//! DataFrames' columns, through the same path as `modelwatch report` (core's offline
//! profiles and `build_report`), and the report is rendered by the same
//! `modelwatch-report` crate as the server's page. The interpreter is released while
//! the profiles are computed, and a panic becomes a `RuntimeError`, never an abort.

mod columns;

use std::panic::{AssertUnwindSafe, catch_unwind};

use modelwatch_core::answer::report::Report;
use modelwatch_core::offline::parallel::Chunking;
use modelwatch_core::offline::{OfflineProfiles, StreamOptions, reference_stream_records};
use modelwatch_core::{Model, ModelDefinition};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::columns::Columns;

/// A panic's message, for the exception that replaces it.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

/// Runs `work` without the interpreter lock, turning a panic into a `RuntimeError`.
fn compute<T: Send>(py: Python<'_>, work: impl FnOnce() -> PyResult<T> + Send) -> PyResult<T> {
    py.detach(|| {
        catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|payload| {
            Err(PyRuntimeError::new_err(format!(
                "modelwatch's core panicked: {}",
                panic_message(payload.as_ref())
            )))
        })
    })
}

/// Parses a model definition (the JSON of `PUT /api/v1/models/{model}`).
fn model(definition: &str) -> PyResult<Model> {
    let definition: ModelDefinition = serde_json::from_str(definition)
        .map_err(|e| PyValueError::new_err(format!("invalid model definition: {e}")))?;
    Model::new("report", definition).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// The report of `current` against `reference` (each a dict of column name → float64
/// array or list, named as the columns of `modelwatch report`'s CSV files).
/// Rows without a timestamp get `now_ms`; the metric series has one point per
/// `step_ms`.
#[pyfunction]
fn report(
    py: Python<'_>,
    definition: &str,
    reference: &Bound<'_, PyDict>,
    current: &Bound<'_, PyDict>,
    step_ms: i64,
    now_ms: i64,
) -> PyResult<PyReport> {
    let model = model(definition)?;
    let reference = Columns::read(reference, &model)?;
    let current = Columns::read(current, &model)?;
    compute(py, move || {
        let reference = reference_stream_records(
            reference.rows(),
            |row| Ok(reference.row(row)),
            &model,
            1,
            Chunking::default(),
        )
        .map_err(|e| PyValueError::new_err(format!("reference: {e}")))?;
        let profiles = OfflineProfiles::stream_records(
            current.rows(),
            |row| Ok(current.row(row)),
            &model,
            Some(&reference.profile),
            now_ms,
            &StreamOptions::new(step_ms),
        );
        let report = profiles
            .report(&model, &reference, step_ms)
            .map_err(PyValueError::new_err)?;
        Ok(PyReport { report })
    })
}

/// A report computed by core: its JSON and its two renderings.
#[pyclass(frozen, name = "Report")]
struct PyReport {
    report: Report,
}

#[pymethods]
impl PyReport {
    /// The report as JSON (the same as `modelwatch report --format json`).
    fn json(&self) -> PyResult<String> {
        serde_json::to_string(&self.report).map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }

    /// The report as the server's self-contained HTML page.
    fn html(&self, py: Python<'_>) -> PyResult<String> {
        compute(py, || {
            modelwatch_report::html(&self.report)
                .map_err(|e| PyRuntimeError::new_err(e.to_string()))
        })
    }

    /// The report as the server's Markdown.
    fn markdown(&self, py: Python<'_>) -> PyResult<String> {
        compute(py, || Ok(modelwatch_report::markdown(&self.report)))
    }
}

/// Panics on purpose: the test that a panic becomes a `RuntimeError`.
#[pyfunction]
fn _panic(py: Python<'_>) -> PyResult<()> {
    compute(py, || panic!("on purpose"))
}

/// The extension module.
#[pymodule]
fn _core(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    module.add_function(wrap_pyfunction!(report, module)?)?;
    module.add_class::<PyReport>()?;
    module.add_function(wrap_pyfunction!(_panic, module)?)?;
    Ok(())
}
