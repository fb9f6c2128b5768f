//! DataFrame columns as the event objects an HTTP client would send: the same column
//! names as a CSV file of `modelwatch report` (`id`, `timestamp`, `prediction`, `score`,
//! `score_<class>`, `label`, ...; every other column a feature), read from numpy
//! float64 arrays or Python lists while the interpreter is held, then turned into rows
//! without it.

use modelwatch_core::schema::{Model, Task};
use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};
use serde_json::{Map, Number, Value};

/// One column's values, copied out of Python.
enum Values {
    /// A float64 array: `NaN` is missing.
    Floats(Vec<f64>),
    /// A list of `None`, `bool`, `int`, `float` or `str`.
    Objects(Vec<Option<Value>>),
}

impl Values {
    fn len(&self) -> usize {
        match self {
            Values::Floats(v) => v.len(),
            Values::Objects(v) => v.len(),
        }
    }

    fn get(&self, row: usize) -> Option<Value> {
        match self {
            Values::Floats(v) => finite(v[row]),
            Values::Objects(v) => v[row].clone(),
        }
    }
}

fn finite(f: f64) -> Option<Value> {
    Number::from_f64(f).map(Value::Number)
}

/// Where a column goes in the event object.
enum Role {
    Top(String),
    ClassScore(String),
    Feature(String),
}

/// The columns of one DataFrame, ready to be read row by row.
pub struct Columns {
    columns: Vec<(Role, Values)>,
    rows: usize,
}

fn object_value(column: &str, row: usize, item: &Bound<'_, PyAny>) -> PyResult<Option<Value>> {
    if item.is_none() {
        Ok(None)
    } else if item.is_instance_of::<PyBool>() {
        Ok(Some(Value::Bool(item.extract()?)))
    } else if item.is_instance_of::<PyInt>() {
        Ok(Some(Value::from(item.extract::<i64>()?)))
    } else if item.is_instance_of::<PyFloat>() {
        Ok(finite(item.extract()?))
    } else if item.is_instance_of::<PyString>() {
        Ok(Some(Value::String(item.extract()?)))
    } else {
        Err(PyTypeError::new_err(format!(
            "column `{column}`, row {row}: a {} is not a number, a string, a bool or None",
            item.get_type().name()?
        )))
    }
}

fn read_values(name: &str, column: &Bound<'_, PyAny>) -> PyResult<Values> {
    if let Ok(list) = column.cast::<PyList>() {
        let mut values = Vec::with_capacity(list.len());
        for (row, item) in list.iter().enumerate() {
            values.push(object_value(name, row, &item)?);
        }
        return Ok(Values::Objects(values));
    }
    let buffer = PyBuffer::<f64>::get(column).map_err(|e| {
        PyTypeError::new_err(format!(
            "column `{name}`: neither a list nor a float64 array ({e})"
        ))
    })?;
    Ok(Values::Floats(buffer.to_vec(column.py())?))
}

impl Columns {
    /// Copies the columns of `frame` (name → float64 array or list) for `model`.
    pub fn read(frame: &Bound<'_, PyDict>, model: &Model) -> PyResult<Self> {
        let mut columns = Vec::with_capacity(frame.len());
        let mut rows = None;
        for (name, column) in frame.iter() {
            let name: String = name.extract()?;
            let values = read_values(&name, &column)?;
            match rows {
                None => rows = Some(values.len()),
                Some(n) if n != values.len() => {
                    return Err(PyTypeError::new_err(format!(
                        "column `{name}` has {} rows where the others have {n}",
                        values.len()
                    )));
                }
                Some(_) => {}
            }
            let role = if modelwatch_core::event::RESERVED_COLUMNS.contains(&name.as_str()) {
                Role::Top(name)
            } else if let Some(class) = name
                .strip_prefix("score_")
                .filter(|_| model.task() == Task::MulticlassClassification)
            {
                Role::ClassScore(class.to_string())
            } else {
                Role::Feature(name)
            };
            columns.push((role, values));
        }
        Ok(Columns {
            columns,
            rows: rows.unwrap_or(0),
        })
    }

    /// The event object of `row` (numbered from 0 as the DataFrame's positions are):
    /// missing values are left out.
    pub fn row(&self, row: usize) -> Map<String, Value> {
        let mut object = Map::new();
        let mut features = Map::new();
        let mut class_scores = Map::new();
        for (role, values) in &self.columns {
            let Some(value) = values.get(row) else {
                continue;
            };
            match role {
                Role::Top(name) => {
                    object.insert(name.clone(), value);
                }
                Role::ClassScore(class) => {
                    class_scores.insert(class.clone(), value);
                }
                Role::Feature(name) => {
                    features.insert(name.clone(), value);
                }
            }
        }
        if !features.is_empty() {
            object.insert("features".into(), Value::Object(features));
        }
        if !class_scores.is_empty() {
            object.insert("score".into(), Value::Object(class_scores));
        }
        object
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }
}
