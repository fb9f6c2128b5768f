//! Byte-for-byte snapshots of `modelwatch report` in its three formats on the golden
//! data sets: they pin the offline report through refactors. Only the generation time is
//! masked. Update deliberately with
//! `INSTA_UPDATE=always cargo test -p modelwatch --test snapshots` and review the diff.

#[path = "../../server/tests/support/wall_clock.rs"]
mod wall_clock;

use std::path::PathBuf;
use std::process::Command;

fn testdata(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(path)
}

fn report(format: &str, schema: &str, reference: &str, current: &str, step: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_modelwatch"))
        .args(["report", "--format", format, "--step", step, "--schema"])
        .arg(testdata(schema))
        .arg("--reference")
        .arg(testdata(reference))
        .arg("--current")
        .arg(testdata(current))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    wall_clock::mask_wall_clock(&String::from_utf8(output.stdout).unwrap())
}

#[test]
fn the_offline_report_is_byte_for_byte_what_it_was() {
    for format in ["json", "md", "html"] {
        for task in ["binary", "multiclass", "regression"] {
            let data = format!("golden/{task}.csv");
            insta::assert_snapshot!(
                format!("report_{task}_{format}"),
                report(
                    format,
                    &format!("golden/{task}.schema.json"),
                    &data,
                    &data,
                    "1d"
                )
            );
        }
        insta::assert_snapshot!(
            format!("report_drift_small_{format}"),
            report(
                format,
                "drift/small.schema.json",
                "drift/small.reference.csv",
                "drift/small.current.csv",
                "6h"
            )
        );
    }
}
