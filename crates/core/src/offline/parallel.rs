//! Reading a CSV file of events on every core: one thread reads raw rows in chunks,
//! worker threads turn each chunk's rows into event objects and validate them (the
//! costly part), and the caller receives the results one row at a time, in file order.
//! Order is what keeps the offline report independent of the chunk size: everything
//! that depends on the order of rows (duplicate ids, windows, sketches) happens in the
//! caller, after the chunks are put back in sequence.

use std::collections::BTreeMap;
use std::io::Read;
use std::ops::Range;
use std::sync::Mutex;
use std::sync::mpsc::{channel, sync_channel};

use serde_json::{Map, Value};

use crate::csv_input::{CsvColumns, NOT_UTF8, csv_reader, read_error};
use crate::error::FieldError;
use crate::schema::Model;

/// How the rows are cut and spread.
#[derive(Debug, Clone, Copy)]
pub struct Chunking {
    /// Rows per chunk (at least 1).
    pub rows: usize,
    /// Worker threads (at least 1).
    pub threads: usize,
}

impl Default for Chunking {
    /// 4,096-row chunks on every core.
    fn default() -> Self {
        Self {
            rows: 4096,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// Raw rows read but not yet converted; the buffers go round between the reader and
/// the workers, so that rows are read without allocating once the first chunks exist.
#[derive(Default)]
struct RawChunk {
    records: Vec<csv::ByteRecord>,
    /// Rows in use (`records` may hold more, kept for reuse).
    len: usize,
    /// The read error of row `i`, if reading it failed.
    errors: Vec<Option<(u64, FieldError)>>,
}

/// Reads `input` (a CSV file of events for `model`), runs `convert` on each row (its
/// line number and its event object, or why it could not be read) on the worker
/// threads, and hands the results to `sink` in the order of the rows. An unreadable
/// header is the error; an I/O error ends the input after the row it occurred on.
pub fn for_each_row<R, T, C, S>(
    input: R,
    model: &Model,
    chunking: Chunking,
    convert: C,
    sink: S,
) -> Result<(), FieldError>
where
    R: Read + Send,
    T: Send,
    C: Fn(u64, Result<Map<String, Value>, FieldError>) -> T + Sync,
    S: FnMut(T),
{
    let mut reader = csv_reader(input);
    let columns = CsvColumns::from_reader(&mut reader, model)?;
    let chunk_rows = chunking.rows.max(1);
    let read = move |recycled: &mut dyn FnMut() -> RawChunk,
                     send: &mut dyn FnMut(RawChunk) -> bool| {
        let mut ended = false;
        while !ended {
            let mut chunk = recycled();
            chunk.len = 0;
            while chunk.len < chunk_rows {
                if chunk.records.len() == chunk.len {
                    chunk.records.push(csv::ByteRecord::new());
                    chunk.errors.push(None);
                }
                let i = chunk.len;
                chunk.errors[i] = None;
                match reader.read_byte_record(&mut chunk.records[i]) {
                    Ok(true) => chunk.len += 1,
                    Ok(false) => {
                        ended = true;
                        break;
                    }
                    Err(e) => {
                        let (line, error, fatal) = read_error(&e);
                        chunk.errors[i] = Some((line, error));
                        chunk.len += 1;
                        if fatal {
                            ended = true;
                            break;
                        }
                    }
                }
            }
            if chunk.len == 0 || !send(chunk) {
                break;
            }
        }
    };
    let work = |chunk: &mut RawChunk| -> Vec<T> {
        (0..chunk.len)
            .map(|i| match chunk.errors[i].take() {
                Some((line, error)) => convert(line, Err(error)),
                None => {
                    let record = &chunk.records[i];
                    let line = record.position().map_or(0, |p| p.line());
                    convert(line, object(&columns, record))
                }
            })
            .collect()
    };
    in_order(chunking.threads, read, work, sink);
    Ok(())
}

/// [`for_each_row`] for rows already in memory (the Python package's columns): the
/// rows `0..rows` are cut into chunks of indices, `object(i)` makes row `i`'s event
/// object and `convert` runs on it, both on the workers; `sink` gets the results in
/// order, numbered from 0.
pub fn for_each_indexed<O, T, C, S>(rows: usize, chunking: Chunking, object: O, convert: C, sink: S)
where
    O: Fn(usize) -> Result<Map<String, Value>, FieldError> + Sync,
    T: Send,
    C: Fn(u64, Result<Map<String, Value>, FieldError>) -> T + Sync,
    S: FnMut(T),
{
    let chunk_rows = chunking.rows.max(1);
    let read = move |_: &mut dyn FnMut() -> Range<usize>,
                     send: &mut dyn FnMut(Range<usize>) -> bool| {
        let mut start = 0;
        while start < rows {
            let end = rows.min(start + chunk_rows);
            if !send(start..end) {
                break;
            }
            start = end;
        }
    };
    let work = |chunk: &mut Range<usize>| -> Vec<T> {
        chunk
            .clone()
            .map(|row| convert(row as u64, object(row)))
            .collect()
    };
    in_order(chunking.threads, read, work, sink);
}

/// The pipeline: `read` (on a thread of its own) fills chunks, taking emptied buffers
/// back when there are some, and sends them; `threads` workers run `work` on each; the
/// caller's `sink` receives the outputs in the order the chunks were sent. Every
/// channel is bounded, so at most a few chunks are in flight.
fn in_order<K, T, R, W, S>(threads: usize, read: R, work: W, mut sink: S)
where
    K: Send + Default,
    T: Send,
    R: FnOnce(&mut dyn FnMut() -> K, &mut dyn FnMut(K) -> bool) + Send,
    W: Fn(&mut K) -> Vec<T> + Sync,
    S: FnMut(T),
{
    let threads = threads.max(1);
    let (work_tx, work_rx) = sync_channel::<(u64, K)>(threads * 2);
    let work_rx = Mutex::new(work_rx);
    let (done_tx, done_rx) = sync_channel::<(u64, Vec<T>)>(threads * 2);
    let (free_tx, free_rx) = channel::<K>();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let (done_tx, free_tx) = (done_tx.clone(), free_tx.clone());
            let (work_rx, work) = (&work_rx, &work);
            scope.spawn(move || {
                loop {
                    // The lock is held only while waiting for the next chunk.
                    let next = match work_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => break,
                    };
                    let Ok((sequence, mut chunk)) = next else {
                        break;
                    };
                    let out = work(&mut chunk);
                    // The reader may be gone already; the buffer is then simply dropped.
                    let _ = free_tx.send(chunk);
                    if done_tx.send((sequence, out)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        scope.spawn(move || {
            let mut sequence = 0u64;
            let mut recycled = || free_rx.try_recv().unwrap_or_default();
            let mut send = |chunk: K| {
                let sent = work_tx.send((sequence, chunk)).is_ok();
                sequence += 1;
                sent
            };
            read(&mut recycled, &mut send);
        });
        // Put the chunks back in order as they arrive.
        let mut waiting = BTreeMap::new();
        let mut next = 0u64;
        for (sequence, out) in done_rx {
            waiting.insert(sequence, out);
            while let Some(out) = waiting.remove(&next) {
                out.into_iter().for_each(&mut sink);
                next += 1;
            }
        }
    });
}

/// The event object of a raw row, or why it is not UTF-8 (the same reason, for the
/// same rows, as a reader of text records gives).
fn object(
    columns: &CsvColumns,
    record: &csv::ByteRecord,
) -> Result<Map<String, Value>, FieldError> {
    let mut fields = Vec::with_capacity(record.len());
    for field in record {
        match std::str::from_utf8(field) {
            Ok(text) => fields.push(text),
            Err(_) => return Err(FieldError::new("row", NOT_UTF8)),
        }
    }
    Ok(columns.object(fields))
}
