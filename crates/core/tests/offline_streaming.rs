//! The streamed offline report (parallel reader, bounded windows) against the plain
//! sequential one on the golden data: for any chunk size and number of threads the
//! report is the same bit for bit; with the windows folded away at every row it is the
//! same run to run, whatever the chunks, and equal to the unfolded report in every count
//! and to 1e-9 in every float.

use std::path::PathBuf;

use modelwatch_core::offline::ids::AllIds;
use modelwatch_core::offline::parallel::Chunking;
use modelwatch_core::offline::{
    OfflineProfiles, StreamOptions, reference_from_csv, reference_stream_csv,
};
use modelwatch_core::time::{DAY_MS, HOUR_MS};
use modelwatch_core::{Model, ModelDefinition};
use proptest::prelude::*;
use serde_json::Value;

struct Case {
    model: Model,
    reference: Vec<u8>,
    current: Vec<u8>,
    step_ms: i64,
}

fn testdata(path: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata")
            .join(path),
    )
    .unwrap()
}

fn case(schema: &str, reference: &str, current: &str, step_ms: i64) -> Case {
    let definition: ModelDefinition = serde_json::from_slice(&testdata(schema)).unwrap();
    Case {
        model: Model::new("report", definition).unwrap(),
        reference: testdata(reference),
        current: testdata(current),
        step_ms,
    }
}

/// The golden files, plus a current file with hostile rows: a repeated id, a short row,
/// a row that is not UTF-8, a mistyped timestamp.
fn cases() -> Vec<Case> {
    let mut cases: Vec<Case> = ["binary", "multiclass", "regression"]
        .iter()
        .map(|task| {
            let data = format!("golden/{task}.csv");
            case(&format!("golden/{task}.schema.json"), &data, &data, DAY_MS)
        })
        .collect();
    cases.push(case(
        "drift/small.schema.json",
        "drift/small.reference.csv",
        "drift/small.current.csv",
        6 * HOUR_MS,
    ));
    let mut hostile = case(
        "golden/binary.schema.json",
        "golden/binary.csv",
        "golden/binary.csv",
        DAY_MS,
    );
    let text = String::from_utf8(hostile.current.clone()).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let repeated = lines[5].to_string();
    lines.insert(40, &repeated);
    lines.insert(80, "b-x,2024-03-11T00:00:00Z");
    lines.insert(120, "b-y,yesterday,v2,0,0,0.5,1.0,false,1.0,east");
    let mut bytes = lines.join("\n").into_bytes();
    bytes.extend_from_slice(b"\nb-z,2024-03-11T00:00:00Z,v2,0,0,0.5,1.0,false,1.0,\xff\xfe\n");
    hostile.current = bytes;
    cases.push(hostile);
    cases
}

/// Today's path: sequential, every window kept.
fn plain_report(case: &Case) -> String {
    let reference = reference_from_csv(case.reference.as_slice(), &case.model, 1).unwrap();
    let current = OfflineProfiles::from_csv(
        case.current.as_slice(),
        &case.model,
        Some(&reference.profile),
        0,
        |_| {},
    )
    .unwrap();
    let report = current
        .report(&case.model, &reference, case.step_ms)
        .unwrap();
    serde_json::to_string_pretty(&report).unwrap()
}

fn streamed_report(case: &Case, chunking: Chunking, fold_everything: bool) -> (String, bool) {
    let reference =
        reference_stream_csv(case.reference.as_slice(), &case.model, 1, chunking, None).unwrap();
    let mut options = StreamOptions::new(case.step_ms);
    options.chunking = chunking;
    if fold_everything {
        options.open_window_bytes = 0;
        options.check_every_rows = 1;
    }
    let current = OfflineProfiles::stream_csv(
        case.current.as_slice(),
        &case.model,
        Some(&reference.profile),
        0,
        &options,
        &mut AllIds::default(),
    )
    .unwrap();
    let report = current
        .report(&case.model, &reference, case.step_ms)
        .unwrap();
    (
        serde_json::to_string_pretty(&report).unwrap(),
        current.folded(),
    )
}

fn whole_file(case: &Case) -> usize {
    case.current.len().max(case.reference.len())
}

#[test]
fn the_hostile_rows_are_rejected_with_their_reasons() {
    let hostile = cases().pop().unwrap();
    let (report, _) = streamed_report(
        &hostile,
        Chunking {
            rows: 7,
            threads: 2,
        },
        false,
    );
    let report: Value = serde_json::from_str(&report).unwrap();
    let errors: Vec<String> = report["current"]["first_rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["error"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(report["current"]["rejected"], 4, "{errors:?}");
    assert!(
        errors.iter().any(|e| e.contains("duplicate id")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("fields where the header has")),
        "{errors:?}"
    );
    assert!(errors.iter().any(|e| e.contains("UTF-8")), "{errors:?}");
}

#[test]
fn chunk_sizes_1_7_1000_and_the_whole_file_give_todays_report_bit_for_bit() {
    for case in cases() {
        let plain = plain_report(&case);
        for rows in [1, 7, 1000, whole_file(&case)] {
            for threads in [1, 2] {
                let (streamed, folded) = streamed_report(&case, Chunking { rows, threads }, false);
                assert!(!folded);
                assert_eq!(
                    streamed, plain,
                    "chunks of {rows} rows on {threads} threads"
                );
            }
        }
    }
}

/// Equal in every string, bool and integer, and to 1e-9 (relative) in every float.
fn assert_close(a: &Value, b: &Value, path: &str) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(
                x.keys().collect::<Vec<_>>(),
                y.keys().collect::<Vec<_>>(),
                "{path}"
            );
            for (key, value) in x {
                assert_close(value, &y[key], &format!("{path}.{key}"));
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{path}");
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                assert_close(p, q, &format!("{path}[{i}]"));
            }
        }
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (p, q) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(
                (p - q).abs() <= 1e-9 * p.abs().max(q.abs()).max(1.0),
                "{path}: {p} vs {q}"
            );
        }
        _ => assert_eq!(a, b, "{path}"),
    }
}

#[test]
fn windows_folded_at_every_row_give_the_same_counts_and_floats_to_1e_9() {
    for case in cases() {
        let plain: Value = serde_json::from_str(&plain_report(&case)).unwrap();
        let (folded, was_folded) = streamed_report(
            &case,
            Chunking {
                rows: 5,
                threads: 2,
            },
            true,
        );
        assert!(was_folded);
        let folded: Value = serde_json::from_str(&folded).unwrap();
        assert_close(&pairs_by_name(folded), &pairs_by_name(plain), "report");
    }
}

/// The report with its correlation pairs in name order: they are listed largest change
/// first, and two changes equal but for rounding (1e-12 apart) may swap places when the
/// windows are folded in another order; every pair and value must still agree to 1e-9.
fn pairs_by_name(mut report: Value) -> Value {
    if let Some(pairs) = report
        .pointer_mut("/correlations/pairs")
        .and_then(Value::as_array_mut)
    {
        pairs.sort_by_key(|pair| (pair["a"].to_string(), pair["b"].to_string()));
    }
    report
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn any_chunk_size_gives_the_same_report_bit_for_bit(
        rows in 1usize..800,
        threads in 1usize..4,
        fold in any::<bool>(),
        which in 0usize..5,
    ) {
        let case = cases().swap_remove(which);
        let reference = streamed_report(&case, Chunking { rows: whole_file(&case), threads: 1 }, fold).0;
        let (report, _) = streamed_report(&case, Chunking { rows, threads }, fold);
        prop_assert_eq!(report, reference);
    }
}
