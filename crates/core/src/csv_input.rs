//! Reading prediction events from CSV: each row becomes the same JSON object an HTTP
//! client would send, so that one validation path serves the server and the offline
//! report alike.
//!
//! Columns: `id`, `timestamp`, `version`, `prediction`, `label`, `score` (binary) or
//! `score_<class>` (multiclass), `latency_ms`, `error`; every other column is a
//! feature. An empty field is missing. Numbers are parsed where the model expects
//! numbers; a field that does not parse is passed on as a string, so validation
//! rejects it (or, for a feature, counts a type error) naming the column. `NaN`, `inf`
//! and their spellings there are read as JSON's `NaN` tokens are
//! ([`crate::non_finite`]): missing in a feature, refused elsewhere.

use std::io::Read;

use serde_json::{Map, Value};

use crate::error::FieldError;
use crate::schema::{FeatureType, Model, Task};

/// What each CSV column means.
#[derive(Debug, Clone)]
enum Column {
    Reserved(&'static str),
    ClassScore(String),
    Feature(String, Option<FeatureType>),
}

/// A CSV reader yielding one JSON object per row, tagged with its 1-based line number.
pub struct CsvRecords<R: Read> {
    reader: csv::Reader<R>,
    columns: CsvColumns,
    record: csv::StringRecord,
    /// An I/O error ends the input.
    failed: bool,
}

/// The meaning of a CSV file's columns, read from its header: turns the fields of a row
/// into the JSON object an HTTP client would send. Shared by [`CsvRecords`] and the
/// offline report's parallel reader ([`crate::offline::parallel`]).
#[derive(Debug, Clone)]
pub struct CsvColumns {
    columns: Vec<Column>,
    task: Task,
}

/// A CSV reader configured as every reader of events is (a header; rows as long as it).
pub fn csv_reader<R: Read>(input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new().flexible(false).from_reader(input)
}

/// The reason given for a row that is not UTF-8.
pub const NOT_UTF8: &str = "is not valid UTF-8";

/// The line number and the reason of a CSV read error, and whether reading must stop
/// (an I/O error) or may go on with the next row.
pub fn read_error(e: &csv::Error) -> (u64, FieldError, bool) {
    let line = e.position().map_or(0, |p| p.line());
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("has {len} fields where the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => NOT_UTF8.to_string(),
        _ => e.to_string(),
    };
    let fatal = matches!(e.kind(), csv::ErrorKind::Io(_));
    (line, FieldError::new("row", message), fatal)
}

fn number_or_text(text: &str) -> Value {
    if let Some(token) = crate::non_finite::csv_token(text) {
        return crate::non_finite::marker_value(token);
    }
    match text.trim().parse::<f64>() {
        Ok(f) if f.is_finite() => {
            serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
        }
        _ => Value::String(text.to_string()),
    }
}

impl<R: Read> CsvRecords<R> {
    /// Reads the header of `input` and maps its columns for `model`.
    pub fn new(input: R, model: &Model) -> Result<Self, FieldError> {
        let mut reader = csv_reader(input);
        let columns = CsvColumns::from_reader(&mut reader, model)?;
        Ok(Self {
            reader,
            columns,
            record: csv::StringRecord::new(),
            failed: false,
        })
    }
}

impl CsvColumns {
    /// Reads the header of `reader` and gives each column its meaning for `model`.
    pub fn from_reader<R: Read>(
        reader: &mut csv::Reader<R>,
        model: &Model,
    ) -> Result<Self, FieldError> {
        let headers = reader
            .headers()
            .map_err(|e| FieldError::new("header", format!("cannot read the CSV header ({e})")))?
            .clone();
        let mut columns = Vec::with_capacity(headers.len());
        let mut seen = std::collections::HashSet::new();
        for (i, name) in headers.iter().enumerate() {
            let name = if i == 0 {
                name.trim_start_matches('\u{feff}')
            } else {
                name
            };
            if !seen.insert(name.to_string()) {
                return Err(FieldError::new(
                    "header",
                    format!("column `{name}` appears twice"),
                ));
            }
            let column = if let Some(reserved) =
                crate::event::RESERVED_COLUMNS.iter().find(|c| **c == name)
            {
                if *reserved == "features" {
                    return Err(FieldError::new(
                        "header",
                        "`features` is not a CSV column; give one column per feature",
                    ));
                }
                Column::Reserved(reserved)
            } else if let Some(class) = name
                .strip_prefix("score_")
                .filter(|_| model.task() == Task::MulticlassClassification)
            {
                Column::ClassScore(class.to_string())
            } else {
                let kind = model.feature_index(name).map(|i| model.features()[i].kind);
                Column::Feature(name.to_string(), kind)
            };
            columns.push(column);
        }
        Ok(Self {
            columns,
            task: model.task(),
        })
    }

    /// The JSON object of a row's fields (in the header's order).
    pub fn object<'a>(&self, fields: impl IntoIterator<Item = &'a str>) -> Map<String, Value> {
        let mut object = Map::new();
        let mut features = Map::new();
        let mut class_scores = Map::new();
        for (column, text) in self.columns.iter().zip(fields) {
            if text.is_empty() {
                continue;
            }
            match column {
                Column::Reserved(name) => {
                    let value = match *name {
                        "latency_ms" | "score" => number_or_text(text),
                        "prediction" | "label" if self.task == Task::Regression => {
                            number_or_text(text)
                        }
                        "error" => match text.trim().to_ascii_lowercase().as_str() {
                            "true" | "1" | "yes" => Value::Bool(true),
                            "false" | "0" | "no" => Value::Bool(false),
                            _ => Value::String(text.to_string()),
                        },
                        "timestamp" => match text.parse::<i64>() {
                            Ok(ms) => Value::from(ms),
                            Err(_) => Value::String(text.to_string()),
                        },
                        _ => Value::String(text.to_string()),
                    };
                    object.insert((*name).to_string(), value);
                }
                Column::ClassScore(class) => {
                    class_scores.insert(class.clone(), number_or_text(text));
                }
                Column::Feature(name, kind) => {
                    let value = match kind {
                        Some(FeatureType::Numeric) => number_or_text(text),
                        _ => Value::String(text.to_string()),
                    };
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
}

impl<R: Read> Iterator for CsvRecords<R> {
    /// `(line number, the row as an event object or why it is unreadable)`.
    type Item = (u64, Result<Map<String, Value>, FieldError>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.reader.read_record(&mut self.record) {
            Ok(false) => None,
            Ok(true) => {
                let line = self.record.position().map_or(0, |p| p.line());
                Some((line, Ok(self.columns.object(&self.record))))
            }
            Err(e) => {
                // An I/O error ends the file; a bad row is reported and skipped.
                let (line, error, fatal) = read_error(&e);
                self.failed = fatal;
                Some((line, Err(error)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{FeatureValue, Score, Target, validate_prediction};
    use crate::schema::ModelDefinition;

    fn model(json: &str) -> Model {
        Model::new("m", serde_json::from_str::<ModelDefinition>(json).unwrap()).unwrap()
    }

    #[test]
    fn rows_validate_like_json() {
        let model = model(
            r#"{"task":"multiclass_classification","classes":["a","b"],"features":[{"name":"x","type":"numeric"},{"name":"c","type":"categorical"}]}"#,
        );
        let csv = "\u{feff}id,timestamp,prediction,label,score_a,score_b,x,c,error\n\
                   r1,2024-03-11T00:00:00Z,a,b,0.75,0.25,1.5,\"north, east\",false\n\
                   r2,1710115200000,b,,,,,7,true\n\
                   r3,1,2\n";
        let rows: Vec<_> = CsvRecords::new(csv.as_bytes(), &model).unwrap().collect();
        assert_eq!(rows.len(), 3);
        let first = validate_prediction(&model, rows[0].1.as_ref().unwrap(), 0).unwrap();
        assert_eq!(first.score, Some(Score::PerClass(vec![0.75, 0.25])));
        assert_eq!(first.label, Some(Target::Class("b".into())));
        assert_eq!(
            first.features[1],
            FeatureValue::Category("north, east".into())
        );
        let second = validate_prediction(&model, rows[1].1.as_ref().unwrap(), 0).unwrap();
        assert_eq!(second.timestamp_ms, 1_710_115_200_000);
        assert!(second.error);
        assert_eq!(
            second.features,
            vec![FeatureValue::Missing, FeatureValue::Category("7".into())]
        );
        assert_eq!(rows[2].0, 4);
        assert_eq!(rows[2].1.as_ref().unwrap_err().field, "row");
    }

    #[test]
    fn rejects_bad_headers() {
        let model = model(r#"{"task":"regression"}"#);
        assert!(CsvRecords::new("id,id\n".as_bytes(), &model).is_err());
        assert!(CsvRecords::new("id,features\n".as_bytes(), &model).is_err());
    }

    #[test]
    fn unparsable_numbers_are_named() {
        let model = model(r#"{"task":"regression"}"#);
        let csv = "id,prediction,latency_ms\nr1,abc,5\nr2,1,fast\n";
        let rows: Vec<_> = CsvRecords::new(csv.as_bytes(), &model).unwrap().collect();
        let e1 = validate_prediction(&model, rows[0].1.as_ref().unwrap(), 0).unwrap_err();
        assert_eq!(e1.field, "prediction");
        let e2 = validate_prediction(&model, rows[1].1.as_ref().unwrap(), 0).unwrap_err();
        assert_eq!(e2.field, "latency_ms");
    }
}
