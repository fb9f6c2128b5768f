//! TensorBoard event files: the `Event` protobufs TensorBoard reads, in TFRecord framing.
//!
//! An event file is a sequence of records, each
//! `u64 length (LE) | u32 masked CRC32C of the length bytes (LE) | data | u32 masked CRC32C
//! of the data (LE)`, where `mask(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8`
//! (wrapping). Each record's data is an `Event` message of TensorFlow's
//! `tensorflow/core/util/event.proto`; the first one carries only
//! `file_version: "brain.Event:2"`. Scalars are `Summary.Value.simple_value` (a float32,
//! so TensorBoard shows values to float32 precision) and histograms are
//! `Summary.Value.histo`, a `HistogramProto` of `tensorflow/core/framework/summary.proto`.
//!
//! The messages are declared here with `prost`'s derive (no protoc, no build script), with
//! only the fields modelwatch writes; their field numbers are TensorFlow's. This module
//! knows nothing about modelwatch's metrics: `export.rs` decides what to write.

use std::io::Write;
use std::path::{Path, PathBuf};

use prost::Message;

/// The `file_version` of the first event: the format TensorBoard expects.
pub const FILE_VERSION: &str = "brain.Event:2";

/// `tensorflow.Event` (event.proto), with the fields modelwatch writes.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    /// Seconds since the Unix epoch.
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    /// The x coordinate of the values in TensorBoard's "step" axis.
    #[prost(int64, tag = "2")]
    pub step: i64,
    /// What the event holds.
    #[prost(oneof = "What", tags = "3, 5")]
    pub what: Option<What>,
}

/// The `what` oneof of `tensorflow.Event`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum What {
    /// The file format, in the first event of a file.
    #[prost(string, tag = "3")]
    FileVersion(String),
    /// Values at this step.
    #[prost(message, tag = "5")]
    Summary(Summary),
}

/// `tensorflow.Summary` (summary.proto).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Summary {
    /// The values.
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<SummaryValue>,
}

/// `tensorflow.Summary.Value`, with the scalar and histogram cases of its `value` oneof.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryValue {
    /// The series this value belongs to, e.g. `performance/accuracy`.
    #[prost(string, tag = "1")]
    pub tag: String,
    /// The value.
    #[prost(oneof = "Value", tags = "2, 5")]
    pub value: Option<Value>,
}

/// The `value` oneof of `tensorflow.Summary.Value`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Value {
    /// A scalar (float32 on the wire).
    #[prost(float, tag = "2")]
    SimpleValue(f32),
    /// A histogram.
    #[prost(message, tag = "5")]
    Histo(HistogramProto),
}

/// `tensorflow.HistogramProto` (summary.proto). Bucket `i` counts the values in
/// `(bucket_limit[i-1], bucket_limit[i]]`; the first bucket starts at `min`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HistogramProto {
    /// Smallest value.
    #[prost(double, tag = "1")]
    pub min: f64,
    /// Largest value.
    #[prost(double, tag = "2")]
    pub max: f64,
    /// Number of values.
    #[prost(double, tag = "3")]
    pub num: f64,
    /// Sum of the values.
    #[prost(double, tag = "4")]
    pub sum: f64,
    /// Sum of their squares.
    #[prost(double, tag = "5")]
    pub sum_squares: f64,
    /// Right edge of each bucket.
    #[prost(double, repeated, tag = "6")]
    pub bucket_limit: Vec<f64>,
    /// Count of each bucket.
    #[prost(double, repeated, tag = "7")]
    pub bucket: Vec<f64>,
}

impl HistogramProto {
    /// A histogram of `counts` in the bins `[edges[i], edges[i+1])` (so `edges` has one
    /// more element than `counts`). TensorBoard draws bucket `i` from `bucket_limit[i-1]`
    /// (`min` for the first) to `bucket_limit[i]` (`max` for the last), so `min` and
    /// `max` are the outer edges, and its buckets are exactly these bins. The format keeps
    /// counts, not values, so `sum` and `sum_squares` are approximated by putting every
    /// value of a bin at the bin's midpoint. `None` when the lengths disagree, an edge is
    /// not finite, or every count is zero.
    pub fn from_bins(edges: &[f64], counts: &[f64]) -> Option<HistogramProto> {
        if edges.len() != counts.len() + 1 || edges.iter().any(|e| !e.is_finite()) {
            return None;
        }
        if !counts.iter().any(|&c| c > 0.0) {
            return None;
        }
        let (mut num, mut sum, mut sum_squares) = (0.0, 0.0, 0.0);
        for (i, &count) in counts.iter().enumerate() {
            let mid = (edges[i] + edges[i + 1]) / 2.0;
            num += count;
            sum += count * mid;
            sum_squares += count * mid * mid;
        }
        Some(HistogramProto {
            min: edges[0],
            max: edges[counts.len()],
            num,
            sum,
            sum_squares,
            bucket_limit: edges[1..].to_vec(),
            bucket: counts.to_vec(),
        })
    }
}

/// `mask(crc)` of the TFRecord format.
pub fn masked_crc32c(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    (crc.rotate_right(15)).wrapping_add(0xa282_ead8)
}

/// One TFRecord: the framing around `data`.
pub fn frame(data: &[u8]) -> Vec<u8> {
    let length = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&length);
    out.extend_from_slice(&masked_crc32c(&length).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc32c(data).to_le_bytes());
    out
}

/// The name TensorBoard looks for: `events.out.tfevents.<secs>.<host>.modelwatch`.
pub fn file_name(created_secs: i64, host: &str) -> String {
    format!("events.out.tfevents.{created_secs}.{host}.modelwatch")
}

/// Whether `name` is an event file this module writes (so a new export may replace it).
pub fn is_own_file(name: &str) -> bool {
    name.starts_with("events.out.tfevents.") && name.ends_with(".modelwatch")
}

/// The machine's host name, for the file name (`localhost` when it cannot be read).
pub fn host_name() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let cleaned: String = name
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "localhost".into()
    } else {
        cleaned
    }
}

/// Writes one event file: the `file_version` event first, then the events given.
pub struct EventWriter {
    path: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
}

impl EventWriter {
    /// Creates `dir/events.out.tfevents.<secs>.<host>.modelwatch` and writes the
    /// `file_version` event, stamped `wall_time`.
    pub fn create(dir: &Path, wall_time: f64) -> std::io::Result<EventWriter> {
        let path = dir.join(file_name(wall_time as i64, &host_name()));
        let file = std::fs::File::create(&path)?;
        let mut writer = EventWriter {
            path,
            out: std::io::BufWriter::new(file),
        };
        writer.write(&Event {
            wall_time,
            step: 0,
            what: Some(What::FileVersion(FILE_VERSION.into())),
        })?;
        Ok(writer)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one event.
    pub fn write(&mut self, event: &Event) -> std::io::Result<()> {
        self.out.write_all(&frame(&event.encode_to_vec()))
    }

    /// Appends a summary event of `values` at `step`.
    pub fn write_summary(
        &mut self,
        wall_time: f64,
        step: i64,
        value: Vec<SummaryValue>,
    ) -> std::io::Result<()> {
        self.write(&Event {
            wall_time,
            step,
            what: Some(What::Summary(Summary { value })),
        })
    }

    /// Flushes the file and syncs it to disk.
    pub fn finish(self) -> std::io::Result<()> {
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()
    }
}

/// A scalar value.
pub fn scalar(tag: impl Into<String>, value: f64) -> SummaryValue {
    SummaryValue {
        tag: tag.into(),
        value: Some(Value::SimpleValue(value as f32)),
    }
}

/// A histogram value.
pub fn histogram(tag: impl Into<String>, histo: HistogramProto) -> SummaryValue {
    SummaryValue {
        tag: tag.into(),
        value: Some(Value::Histo(histo)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_of_the_standard_check_vector() {
        // The check value of CRC-32C (Castagnoli), RFC 3720 B.4 and the CRC catalogue.
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
        // RFC 3720 B.4: 32 bytes of zeros.
        assert_eq!(crc32c::crc32c(&[0u8; 32]), 0x8a91_36aa);
    }

    #[test]
    fn the_mask_is_tensorflows() {
        // mask(0xe3069283) = ((c >> 15) | (c << 17)) + 0xa282ead8, computed by hand:
        // c >> 15 = 0x0001c60d, c << 17 = 0x25060000, or = 0x2507c60d,
        // + 0xa282ead8 = 0xc78ab0e5, as TensorBoard's own
        // `tensorboard.summary.writer.record_writer.masked_crc32c(b"123456789")` gives.
        assert_eq!(masked_crc32c(b"123456789"), 0xc78a_b0e5);
    }

    #[test]
    fn a_record_is_length_crc_data_crc() {
        let data = b"hello";
        let record = frame(data);
        assert_eq!(record.len(), 8 + 4 + 5 + 4);
        assert_eq!(&record[..8], &5u64.to_le_bytes());
        assert_eq!(
            u32::from_le_bytes(record[8..12].try_into().unwrap()),
            masked_crc32c(&5u64.to_le_bytes())
        );
        assert_eq!(&record[12..17], data);
        assert_eq!(
            u32::from_le_bytes(record[17..].try_into().unwrap()),
            masked_crc32c(data)
        );
    }

    #[test]
    fn the_file_version_event_has_tensorflows_field_numbers() {
        let event = Event {
            wall_time: 1.0,
            step: 0,
            what: Some(What::FileVersion(FILE_VERSION.into())),
        };
        // field 1 (double, wire type 1) = 1.0, then field 3 (string, wire type 2);
        // step 0 is the default and is not written.
        let mut want = vec![0x09];
        want.extend_from_slice(&1.0f64.to_le_bytes());
        want.extend_from_slice(&[0x1a, 13]);
        want.extend_from_slice(b"brain.Event:2");
        assert_eq!(event.encode_to_vec(), want);
    }

    #[test]
    fn a_scalar_is_summary_5_value_1_tag_1_simple_value_2() {
        let event = Event {
            wall_time: 0.0,
            step: 7,
            what: Some(What::Summary(Summary {
                value: vec![scalar("a", 0.5)],
            })),
        };
        // step: field 2 varint 7; summary: field 5, length 10; value: field 1, length 8;
        // tag: field 1 "a"; simple_value: field 2 fixed32 0.5f.
        let mut want = vec![0x10, 7, 0x2a, 10, 0x0a, 8, 0x0a, 1, b'a', 0x15];
        want.extend_from_slice(&0.5f32.to_le_bytes());
        assert_eq!(event.encode_to_vec(), want);
    }

    #[test]
    fn histograms_from_bins_use_midpoints_and_the_outer_edges() {
        let histo = HistogramProto::from_bins(&[0.0, 1.0, 2.0, 4.0], &[0.0, 2.0, 1.0]).unwrap();
        assert_eq!(histo.min, 0.0);
        assert_eq!(histo.max, 4.0);
        assert_eq!(histo.num, 3.0);
        assert_eq!(histo.sum, 2.0 * 1.5 + 3.0);
        assert_eq!(histo.sum_squares, 2.0 * 2.25 + 9.0);
        assert_eq!(histo.bucket_limit, [1.0, 2.0, 4.0]);
        assert_eq!(histo.bucket, [0.0, 2.0, 1.0]);
        assert!(HistogramProto::from_bins(&[0.0, 1.0], &[0.0]).is_none());
        assert!(HistogramProto::from_bins(&[0.0, 1.0], &[1.0, 2.0]).is_none());
        assert!(HistogramProto::from_bins(&[0.0, f64::INFINITY], &[1.0]).is_none());
    }

    #[test]
    fn the_writer_writes_framed_events_prost_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = EventWriter::create(dir.path(), 1_700_000_000.0).unwrap();
        let path = writer.path().to_path_buf();
        writer
            .write_summary(1_700_000_060.0, 1, vec![scalar("x", 2.0)])
            .unwrap();
        writer.finish().unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with("events.out.tfevents.1700000000."),
            "{name}"
        );
        assert!(is_own_file(name));
        let bytes = std::fs::read(&path).unwrap();
        let mut events = Vec::new();
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let length = u64::from_le_bytes(rest[..8].try_into().unwrap()) as usize;
            let data = &rest[12..12 + length];
            let crc = u32::from_le_bytes(rest[12 + length..16 + length].try_into().unwrap());
            assert_eq!(crc, masked_crc32c(data));
            events.push(Event::decode(data).unwrap());
            rest = &rest[16 + length..];
        }
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[0].what,
            Some(What::FileVersion("brain.Event:2".into()))
        );
        assert_eq!(events[1].step, 1);
        assert_eq!(
            events[1].what,
            Some(What::Summary(Summary {
                value: vec![scalar("x", 2.0)]
            }))
        );
    }
}
