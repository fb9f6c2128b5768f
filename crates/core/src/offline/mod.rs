//! Profiling a CSV file of events without a server: the path the offline
//! `modelwatch report` (and the Python package's `mw.report`) takes, built from the same
//! validation and window profiles as the server's ingest, and reported by the server's
//! report function.
//!
//! The rows are folded into minute windows per version, as the server stores them. To
//! keep memory flat in the number of rows, the streamed path ([`OfflineProfiles::stream_csv`])
//! folds the windows of the oldest minutes into running totals (the metric buckets of
//! the report's step and the merged feature profiles) whenever the open windows hold
//! more than a byte budget. While nothing is folded away (a file whose windows fit in
//! the budget, or one sorted by time), the merges happen in the order
//! `merge_windows` and the server use, so the numbers are the same bit for bit. The
//! folding depends only on the sequence of rows, never on how they were cut into chunks.

pub mod ids;
pub mod parallel;

use std::collections::BTreeMap;
use std::io::Read;

use serde_json::{Map, Value};

use crate::answer::range::AnswerRange;
use crate::answer::report::{InputRows, Report};
use crate::csv_input::CsvRecords;
use crate::drift::reference::ColumnSpill;
use crate::drift::{ReferenceBuilder, ReferenceProfile, WindowFeatures};
use crate::error::FieldError;
use crate::event::{PredictionEvent, validate_prediction};
use crate::profile::WindowProfile;
use crate::query::{Merged, WindowMerger, merge_windows, metrics_answer};
use crate::report::{ReportSource, build_report};
use crate::schema::Model;
use crate::window::Granularity;

use self::ids::{AllIds, SeenIds};
use self::parallel::{Chunking, for_each_indexed, for_each_row};

/// Bytes the open feature windows may hold before the oldest are folded into the
/// totals, by default.
pub const OPEN_WINDOW_BYTES: usize = 64 << 20;

/// Accepted rows between two checks of the open windows' size, by default.
pub const CHECK_EVERY_ROWS: u64 = 4096;

/// How the streamed path reads and folds.
#[derive(Debug, Clone, Copy)]
pub struct StreamOptions {
    /// Chunks and threads of the parallel reader.
    pub chunking: Chunking,
    /// The step of the report's metric series: windows folded away are merged per step.
    pub step_ms: i64,
    /// Bytes the open feature windows may hold (see [`OPEN_WINDOW_BYTES`]).
    pub open_window_bytes: usize,
    /// Accepted rows between two checks of that size (see [`CHECK_EVERY_ROWS`]).
    pub check_every_rows: u64,
}

impl StreamOptions {
    /// The defaults for a report with a metric series per `step_ms`.
    pub fn new(step_ms: i64) -> Self {
        Self {
            chunking: Chunking::default(),
            step_ms,
            open_window_bytes: OPEN_WINDOW_BYTES,
            check_every_rows: CHECK_EVERY_ROWS,
        }
    }
}

/// What was folded out of the open windows.
#[derive(Debug, Clone)]
struct Folded {
    merger: WindowMerger,
    features: WindowFeatures,
}

/// Minute-window profiles of a CSV file, per version, and the rows it rejected.
#[derive(Debug, Default)]
pub struct OfflineProfiles {
    /// `(version, minute start)` → profile, of the windows still open.
    pub windows: BTreeMap<(String, i64), WindowProfile>,
    /// `(version, minute start)` → feature profiles, of the windows still open.
    pub features: BTreeMap<(String, i64), WindowFeatures>,
    /// Rows accepted.
    pub accepted: u64,
    /// `(line number, reason)` of every rejected row.
    pub rejected: Vec<(u64, FieldError)>,
    /// The windows folded away, when the open ones outgrew the budget.
    folded: Option<Folded>,
    /// `(step, byte budget, rows between checks)` of the open windows; `None` keeps
    /// every window.
    bound: Option<(i64, usize, u64)>,
    /// The window of the previous row.
    last_key: (String, i64),
}

impl OfflineProfiles {
    /// Reads every row of `input`; `progress` is told the number of rows read so far.
    /// A row without a timestamp gets `default_time_ms`. Duplicate ids are rejected, as
    /// the server does (the ids are held in memory). Every window is kept.
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
    /// with the rows of a CSV file.
    pub fn from_records(
        records: impl IntoIterator<Item = (u64, Result<Map<String, Value>, FieldError>)>,
        model: &Model,
        reference: Option<&ReferenceProfile>,
        default_time_ms: i64,
        mut progress: impl FnMut(u64),
    ) -> Self {
        let mut profiles = OfflineProfiles::default();
        let mut ids = AllIds::default();
        for (rows, (line, record)) in records.into_iter().enumerate() {
            if rows % 4096 == 0 {
                progress(rows as u64);
            }
            let event = record.and_then(|r| validate_prediction(model, &r, default_time_ms));
            profiles.observe(model, reference, &mut ids, line, event);
        }
        profiles
    }

    /// The profiles of rows `0..rows` (row `i`'s event object made by `object(i)`) as
    /// [`OfflineProfiles::stream_csv`] makes them: made and validated on every core,
    /// folded in order, the open windows bounded as `options` says, the ids held in
    /// memory. The Python package's `mw.report`.
    pub fn stream_records(
        rows: usize,
        object: impl Fn(usize) -> Result<Map<String, Value>, FieldError> + Sync,
        model: &Model,
        reference: Option<&ReferenceProfile>,
        default_time_ms: i64,
        options: &StreamOptions,
    ) -> Self {
        let mut profiles = OfflineProfiles::bounded(options);
        let mut ids = AllIds::default();
        for_each_indexed(
            rows,
            options.chunking,
            object,
            |line, record| {
                (
                    line,
                    record.and_then(|r| validate_prediction(model, &r, default_time_ms)),
                )
            },
            |(line, event)| profiles.observe(model, reference, &mut ids, line, event),
        );
        profiles
    }

    /// Streams `input` through the parallel reader ([`parallel::for_each_row`]): rows
    /// are parsed and validated on every core, then folded here in file order, with the
    /// open windows bounded as `options` says; `ids` remembers the ids seen.
    pub fn stream_csv<R: Read + Send>(
        input: R,
        model: &Model,
        reference: Option<&ReferenceProfile>,
        default_time_ms: i64,
        options: &StreamOptions,
        ids: &mut dyn SeenIds,
    ) -> Result<Self, FieldError> {
        let mut profiles = OfflineProfiles::bounded(options);
        for_each_row(
            input,
            model,
            options.chunking,
            |line, record| {
                (
                    line,
                    record.and_then(|r| validate_prediction(model, &r, default_time_ms)),
                )
            },
            |(line, event)| profiles.observe(model, reference, ids, line, event),
        )?;
        Ok(profiles)
    }

    fn bounded(options: &StreamOptions) -> Self {
        OfflineProfiles {
            bound: Some((
                options.step_ms,
                options.open_window_bytes,
                options.check_every_rows.max(1),
            )),
            ..OfflineProfiles::default()
        }
    }

    /// Folds one validated row (or records why it was rejected).
    fn observe(
        &mut self,
        model: &Model,
        reference: Option<&ReferenceProfile>,
        ids: &mut dyn SeenIds,
        line: u64,
        event: Result<PredictionEvent, FieldError>,
    ) {
        let event = match event {
            Ok(event) => event,
            Err(e) => {
                self.rejected.push((line, e));
                return;
            }
        };
        if !ids.first_sighting(&event.id) {
            self.rejected.push((
                line,
                FieldError::new("id", format!("duplicate id `{}`", event.id)),
            ));
            return;
        }
        let start = Granularity::Minute.window_start(event.timestamp_ms);
        // Rows mostly come in runs of one window: find it without building a key.
        if self.last_key.1 != start || self.last_key.0 != event.version {
            self.last_key = (event.version.clone(), start);
        }
        let key = &self.last_key;
        match self.windows.get_mut(key) {
            Some(window) => window.observe_prediction(model, &event),
            None => {
                let mut window = WindowProfile::default();
                window.observe_prediction(model, &event);
                self.windows.insert(key.clone(), window);
            }
        }
        match self.features.get_mut(key) {
            Some(features) => features.observe(model, &event, reference),
            None => {
                let mut features = WindowFeatures::default();
                features.observe(model, &event, reference);
                self.features.insert(key.clone(), features);
            }
        }
        self.accepted += 1;
        if let Some((_, _, every)) = self.bound
            && self.accepted.is_multiple_of(every)
        {
            self.fold_if_over_budget();
        }
    }

    /// Folds the oldest minutes' windows into the totals while the open feature windows
    /// hold more than the budget (the newest window stays open).
    fn fold_if_over_budget(&mut self) {
        let Some((step_ms, budget, _)) = self.bound else {
            return;
        };
        let mut bytes: usize = self.features.values().map(|f| f.approximate_bytes()).sum();
        while bytes > budget && self.features.len() > 1 {
            let Some(oldest) = self
                .features
                .keys()
                .min_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)))
                .cloned()
            else {
                return;
            };
            let folded = self.folded.get_or_insert_with(|| Folded {
                merger: WindowMerger::new(Some(step_ms)),
                features: WindowFeatures::default(),
            });
            if let Some(features) = self.features.remove(&oldest) {
                bytes = bytes.saturating_sub(features.approximate_bytes());
                folded.features.merge(&features);
            }
            if let Some(window) = self.windows.remove(&oldest) {
                folded.merger.add(oldest.1, &window);
            }
        }
    }

    /// Whether windows were folded away (then only the whole file can be reported, at
    /// the step the stream was given).
    pub fn folded(&self) -> bool {
        self.folded.is_some()
    }

    /// The feature profiles of every version, merged.
    pub fn merged_features(&self) -> WindowFeatures {
        let mut merged = self
            .folded
            .as_ref()
            .map(|f| f.features.clone())
            .unwrap_or_default();
        for features in self.features.values() {
            merged.merge(features);
        }
        merged
    }

    /// Merges the windows of `version` (all versions when `None`) per `step`. Once
    /// windows were folded away, only every version at the stream's step can be merged.
    pub fn merged(&self, version: Option<&str>, step_ms: Option<i64>) -> Result<Merged, String> {
        if let Some(folded) = &self.folded {
            if version.is_some() || step_ms != folded.merger.step_ms() {
                return Err(
                    "the windows were folded per step while streaming: only the whole file at that step can be merged".to_string(),
                );
            }
            let mut merger = folded.merger.clone();
            for ((_, start), profile) in &self.windows {
                merger.add(*start, profile);
            }
            return merger.finish(None, None);
        }
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
            &self.merged_features(),
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
    let mut fold = ReferenceFold::new(ReferenceBuilder::new(model));
    for (line, record) in records {
        fold.observe(
            model,
            line,
            record.and_then(|r| validate_reference_row(model, r)),
        );
    }
    fold.finish(generation)
}

/// Profiles a reference of rows `0..rows` (row `i`'s event object made by `object(i)`)
/// on every core, as [`reference_stream_csv`] does with a CSV file (the values held in
/// memory): the Python package's path.
pub fn reference_stream_records(
    rows: usize,
    object: impl Fn(usize) -> Result<Map<String, Value>, FieldError> + Sync,
    model: &Model,
    generation: u64,
    chunking: Chunking,
) -> Result<OfflineReference, FieldError> {
    let mut fold = ReferenceFold::new(ReferenceBuilder::new(model));
    for_each_indexed(
        rows,
        chunking,
        object,
        |line, record| (line, record.and_then(|r| validate_reference_row(model, r))),
        |(line, event)| fold.observe(model, line, event),
    );
    fold.finish(generation)
}

/// Profiles a reference CSV through the parallel reader ([`parallel::for_each_row`]),
/// the numeric columns kept in `spill` (when given) until they are sorted: memory then
/// stays at about one column's values.
pub fn reference_stream_csv<R: Read + Send>(
    input: R,
    model: &Model,
    generation: u64,
    chunking: Chunking,
    spill: Option<Box<dyn ColumnSpill>>,
) -> Result<OfflineReference, FieldError> {
    let builder = ReferenceBuilder::new(model);
    let builder = match spill {
        Some(spill) => builder.with_spill(spill),
        None => builder,
    };
    let mut fold = ReferenceFold::new(builder);
    for_each_row(
        input,
        model,
        chunking,
        |line, record| (line, record.and_then(|r| validate_reference_row(model, r))),
        |(line, event)| fold.observe(model, line, event),
    )?;
    fold.finish(generation)
}

fn validate_reference_row(
    model: &Model,
    record: Map<String, Value>,
) -> Result<PredictionEvent, FieldError> {
    crate::event::validate_reference_row(model, record, &Default::default())
}

/// A reference's rows folded into its builder, in file order.
struct ReferenceFold {
    builder: ReferenceBuilder,
    accepted: u64,
    rejected: Vec<(u64, FieldError)>,
}

impl ReferenceFold {
    fn new(builder: ReferenceBuilder) -> Self {
        Self {
            builder,
            accepted: 0,
            rejected: Vec::new(),
        }
    }

    fn observe(&mut self, model: &Model, line: u64, event: Result<PredictionEvent, FieldError>) {
        match event {
            Ok(event) => {
                self.builder.observe(model, &event);
                self.accepted += 1;
            }
            Err(e) => self.rejected.push((line, e)),
        }
    }

    fn finish(self, generation: u64) -> Result<OfflineReference, FieldError> {
        Ok(OfflineReference {
            profile: self
                .builder
                .finish(generation)
                .map_err(|e| FieldError::new("reference", e.to_string()))?,
            accepted: self.accepted,
            rejected: self.rejected,
        })
    }
}
