//! The reference upload: the data set streamed from the request body (CSV, NDJSON or
//! a JSON array of events) and profiled in core; `service::reference` stores it.
//!
//! CSV and NDJSON are read as they arrive, so the body is never held whole; numeric
//! values, which exact deciles need, are spilled to temporary files ([`FileSpill`]) and
//! read back one column at a time. A JSON array is parsed whole (it cannot be split
//! before it is complete), within the limit on reference bodies.

use std::collections::HashMap;
use std::io::{BufRead, Read, Seek, Write};
use std::path::Path;

use axum::body::Body;
use futures_util::TryStreamExt;
use modelwatch_core::body::{BodyFormat, split_records};
use modelwatch_core::csv_input::CsvRecords;
use modelwatch_core::drift::reference::ColumnSpill;
use modelwatch_core::drift::{ReferenceBuilder, ReferenceProfile};
use modelwatch_core::event::validate_reference_row;
use modelwatch_core::{FieldError, Model};
use serde_json::{Map, Value};

use crate::error::{ApiError, ErrorCode};
use crate::pii::PiiKey;

/// How a reference body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceFormat {
    /// `text/csv`.
    Csv,
    /// One JSON event per line.
    Ndjson,
    /// A JSON array of events.
    Json,
}

/// A profiled reference, and the rows refused (1-based line or 0-based index).
pub struct ProfiledReference {
    /// The profile (generation assigned by the store).
    pub profile: ReferenceProfile,
    /// Profiles of consecutive chunks of rows (for learned alert thresholds).
    pub chunks: modelwatch_core::alert::baseline::ReferenceChunks,
    /// Rows accepted.
    pub accepted: u64,
    /// `(line or index, reason)` of refused rows.
    pub rejected: Vec<(u64, FieldError)>,
}

fn spill_failed(error: std::io::Error) -> ApiError {
    tracing::error!(%error, "reference spill failed");
    ApiError::new(
        ErrorCode::SpillFailed,
        format!("cannot keep the reference's columns on disk: {error}"),
    )
}

/// Numeric reference columns in temporary files (raw little-endian f64), so that a
/// large reference is profiled in bounded memory. The files go with the value.
pub struct FileSpill {
    dir: tempfile::TempDir,
    files: HashMap<String, std::io::BufWriter<std::fs::File>>,
}

impl FileSpill {
    /// A spill in a new temporary directory under `parent`.
    pub fn new(parent: &Path) -> Result<Self, ApiError> {
        let dir = tempfile::Builder::new()
            .prefix("reference-")
            .tempdir_in(parent)
            .map_err(spill_failed)?;
        Ok(Self {
            dir,
            files: HashMap::new(),
        })
    }

    fn path(&self, index: usize) -> std::path::PathBuf {
        self.dir.path().join(format!("column-{index}"))
    }
}

impl ColumnSpill for FileSpill {
    fn append(&mut self, name: &str, values: &[f64]) -> std::io::Result<()> {
        if !self.files.contains_key(name) {
            // Read and write: `take` reads the column back through the same handle.
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(self.path(self.files.len()))?;
            self.files
                .insert(name.to_string(), std::io::BufWriter::new(file));
        }
        let writer = self.files.get_mut(name).expect("inserted above");
        for value in values {
            writer.write_all(&value.to_le_bytes())?;
        }
        Ok(())
    }

    fn take(&mut self, name: &str) -> std::io::Result<Vec<f64>> {
        let Some(writer) = self.files.remove(name) else {
            return Ok(Vec::new());
        };
        let mut file = writer.into_inner().map_err(|e| e.into_error())?;
        file.seek(std::io::SeekFrom::Start(0))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect())
    }
}

/// A blocking reader over the request body that fails once `limit` bytes are passed.
pub fn body_reader(body: Body, limit: usize) -> impl Read {
    let mut seen = 0usize;
    let stream = body
        .into_data_stream()
        .map_err(std::io::Error::other)
        .and_then(move |chunk| {
            seen += chunk.len();
            let result = if seen > limit {
                Err(std::io::Error::other(format!(
                    "the body is larger than {limit} bytes"
                )))
            } else {
                Ok(chunk)
            };
            std::future::ready(result)
        });
    tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream))
}

fn too_large_or_unreadable(error: std::io::Error) -> ApiError {
    let text = error.to_string();
    if text.contains("larger than") {
        ApiError::new(ErrorCode::BodyTooLarge, text).field("body")
    } else {
        ApiError::new(ErrorCode::UnreadableBody, text).field("body")
    }
}

/// Reads and profiles a reference (call it off the async runtime).
pub fn profile_reference(
    reader: impl Read,
    format: ReferenceFormat,
    model: &Model,
    pii: &PiiKey,
    spill_dir: &Path,
    limits: &modelwatch_core::event::InputLimits,
) -> Result<ProfiledReference, ApiError> {
    let mut builder = ReferenceBuilder::new(model).with_spill(Box::new(FileSpill::new(spill_dir)?));
    let mut chunks = modelwatch_core::alert::baseline::ReferenceChunks::default();
    let mut accepted = 0;
    let mut rejected = Vec::new();
    let mut take = |position: u64, record: Result<Map<String, Value>, FieldError>| match record
        .and_then(|r| validate_reference_row(model, r, limits))
    {
        Ok(mut event) => {
            pii.protect(model, &mut event.features);
            builder.observe(model, &event);
            chunks.observe(model, &event);
            accepted += 1;
        }
        Err(e) => rejected.push((position, e)),
    };
    match format {
        ReferenceFormat::Csv => {
            let records = CsvRecords::new(reader, model).map_err(ApiError::invalid)?;
            for (line, record) in records {
                if let Err(e) = &record
                    && e.field == "row"
                    && e.message.contains("larger than")
                {
                    return Err(
                        ApiError::new(ErrorCode::BodyTooLarge, e.message.clone()).field("body")
                    );
                }
                take(line, record);
            }
        }
        ReferenceFormat::Ndjson => {
            for (index, line) in std::io::BufReader::new(reader).lines().enumerate() {
                let line = line.map_err(too_large_or_unreadable)?;
                if line.trim().is_empty() {
                    continue;
                }
                let record = match split_records(line.as_bytes(), BodyFormat::Ndjson) {
                    Ok(mut records) if records.len() == 1 => records.remove(0),
                    Ok(_) => Err(FieldError::new(
                        "record",
                        "expected one JSON object on the line",
                    )),
                    Err(e) => Err(e),
                };
                take(index as u64 + 1, record);
            }
        }
        ReferenceFormat::Json => {
            let mut body = Vec::new();
            let mut reader = reader;
            reader
                .read_to_end(&mut body)
                .map_err(too_large_or_unreadable)?;
            for (index, record) in split_records(&body, BodyFormat::Json)
                .map_err(ApiError::invalid)?
                .into_iter()
                .enumerate()
            {
                take(index as u64, record);
            }
        }
    }
    let profile = builder.finish(0).map_err(spill_failed)?;
    Ok(ProfiledReference {
        profile,
        chunks,
        accepted,
        rejected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_spill_gives_back_what_it_was_given() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = FileSpill::new(dir.path()).unwrap();
        spill.append("a", &[1.5, -2.0]).unwrap();
        spill.append("b", &[7.0]).unwrap();
        spill.append("a", &[f64::MAX, 0.0]).unwrap();
        assert_eq!(spill.take("a").unwrap(), [1.5, -2.0, f64::MAX, 0.0]);
        assert_eq!(spill.take("b").unwrap(), [7.0]);
        assert!(spill.take("never").unwrap().is_empty());
    }
}
