//! Profiling a CSV file of events without a server: the path the offline
//! `modelwatch report` takes, built from the same validation and profiles as the
//! server's ingest, and reported by the server's report function.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;

use serde_json::{Map, Value};

use crate::answer::range::AnswerRange;
use crate::answer::report::{InputRows, Report};
use crate::csv_input::CsvRecords;
use crate::drift::{ReferenceBuilder, ReferenceProfile, WindowFeatures};
use crate::error::FieldError;
use crate::event::validate_prediction;
use crate::profile::WindowProfile;
use crate::query::{Merged, merge_windows, metrics_answer};
use crate::report::{ReportSource, build_report};
use crate::schema::Model;
use crate::window::Granularity;

/// Minute-window profiles of a CSV file, per version, and the rows it rejected.
#[derive(Debug, Default)]
pub struct OfflineProfiles {
    /// `(version, minute start)` → profile.
    pub windows: BTreeMap<(String, i64), WindowProfile>,
    /// `(version, minute start)` → feature profiles.
    pub features: BTreeMap<(String, i64), WindowFeatures>,
    /// Rows accepted.
    pub accepted: u64,
    /// `(line number, reason)` of every rejected row.
    pub rejected: Vec<(u64, FieldError)>,
}

impl OfflineProfiles {
    /// Reads every row of `input`; `progress` is told the number of rows read so far.
    /// A row without a timestamp gets `default_time_ms`. Duplicate ids are rejected, as
    /// the server does (which holds the ids seen in memory: the report is for files
    /// that fit on one machine).
    pub fn from_csv<R: Read>(
        input: R,
        model: &Model,
        reference: Option<&ReferenceProfile>,
        default_time_ms: i64,
        progress: impl FnMut(u64),
    ) -> Result<Self, FieldError> {
        Ok(Self::from_records(
            CsvRecords::new(input, model)?,
            model,
            reference,
            default_time_ms,
            progress,
        ))
    }

    /// Profiles `(line number, event object)` records (the objects an HTTP client
    /// would send, or why a row is unreadable), as [`OfflineProfiles::from_csv`] does
    /// with the rows of a CSV file: the path of the Python package's `mw.report`.
    pub fn from_records(
        records: impl IntoIterator<Item = (u64, Result<Map<String, Value>, FieldError>)>,
        model: &Model,
        reference: Option<&ReferenceProfile>,
        default_time_ms: i64,
        mut progress: impl FnMut(u64),
    ) -> Self {
        let mut profiles = OfflineProfiles::default();
        let mut ids = HashSet::new();
        for (rows, (line, record)) in records.into_iter().enumerate() {
            if rows % 4096 == 0 {
                progress(rows as u64);
            }
            let event = match record.and_then(|r| validate_prediction(model, &r, default_time_ms)) {
                Ok(event) => event,
                Err(e) => {
                    profiles.rejected.push((line, e));
                    continue;
                }
            };
            if !ids.insert(event.id.clone()) {
                profiles.rejected.push((
                    line,
                    FieldError::new("id", format!("duplicate id `{}`", event.id)),
                ));
                continue;
            }
            let start = Granularity::Minute.window_start(event.timestamp_ms);
            profiles
                .windows
                .entry((event.version.clone(), start))
                .or_default()
                .observe_prediction(model, &event);
            profiles
                .features
                .entry((event.version.clone(), start))
                .or_default()
                .observe(model, &event, reference);
            profiles.accepted += 1;
        }
        profiles
    }

    /// The feature profiles of `version` (all when `None`), merged.
    pub fn merged_features(&self, version: Option<&str>) -> WindowFeatures {
        let mut merged = WindowFeatures::default();
        for ((v, _), features) in &self.features {
            if version.is_none_or(|wanted| wanted == v) {
                merged.merge(features);
            }
        }
        merged
    }

    /// Merges the windows of `version` (all versions when `None`) per `step`.
    pub fn merged(&self, version: Option<&str>, step_ms: Option<i64>) -> Result<Merged, String> {
        let windows = self
            .windows
            .iter()
            .filter(|((v, _), _)| version.is_none_or(|wanted| wanted == v))
            .map(|((_, start), profile)| (*start, profile.clone()));
        merge_windows(windows, step_ms, None, None)
    }

    /// The report of every row against `reference`, with a metric series per `step_ms`:
    /// what `modelwatch report` writes.
    pub fn report(
        &self,
        model: &Model,
        reference: &OfflineReference,
        step_ms: i64,
    ) -> Result<Report, String> {
        let merged = self.merged(None, Some(step_ms))?;
        let range = AnswerRange {
            model: model.name.clone(),
            ..AnswerRange::default()
        };
        Ok(build_report(
            model,
            metrics_answer(
                model,
                &merged,
                range,
                Some(step_ms),
                reference.profile.estimation.as_ref(),
            ),
            &self.merged_features(None),
            ReportSource::Files {
                reference: &reference.profile,
                reference_rows: InputRows::new(reference.accepted, &reference.rejected),
                current_rows: InputRows::new(self.accepted, &self.rejected),
            },
        ))
    }
}

/// A reference profiled from CSV.
#[derive(Debug)]
pub struct OfflineReference {
    /// The profile.
    pub profile: ReferenceProfile,
    /// Rows accepted.
    pub accepted: u64,
    /// `(line number, reason)` of every rejected row.
    pub rejected: Vec<(u64, FieldError)>,
}

/// Profiles a reference CSV. Rows are validated like events, except that `id` and
/// `prediction` may be absent.
pub fn reference_from_csv<R: Read>(
    input: R,
    model: &Model,
    generation: u64,
) -> Result<OfflineReference, FieldError> {
    reference_from_records(CsvRecords::new(input, model)?, model, generation)
}

/// Profiles a reference from `(line number, row object)` records, as
/// [`reference_from_csv`] does with the rows of a CSV file.
pub fn reference_from_records(
    records: impl IntoIterator<Item = (u64, Result<Map<String, Value>, FieldError>)>,
    model: &Model,
    generation: u64,
) -> Result<OfflineReference, FieldError> {
    let mut builder = ReferenceBuilder::new(model);
    let mut rejected = Vec::new();
    let mut accepted = 0;
    for (line, record) in records {
        match record
            .and_then(|r| crate::event::validate_reference_row(model, r, &Default::default()))
        {
            Ok(event) => {
                builder.observe(model, &event);
                accepted += 1;
            }
            Err(e) => rejected.push((line, e)),
        }
    }
    Ok(OfflineReference {
        // The in-memory builder has no spill, so finishing cannot fail.
        profile: builder
            .finish(generation)
            .map_err(|e| FieldError::new("reference", e.to_string()))?,
        accepted,
        rejected,
    })
}
