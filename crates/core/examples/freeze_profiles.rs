//! Writes the frozen profile blobs of `testdata/frozen/` from the golden data, with the
//! encodings of the code that runs it (see `testdata/frozen/README.md`).
//!
//! Run once, by hand, when a new frozen set is wanted; CI never runs it, because the
//! point of the checked-in blobs is that they were written by older code:
//! `cargo run -p modelwatch-core --example freeze_profiles`

use std::path::{Path, PathBuf};

use modelwatch_core::alert::baseline::ReferenceChunks;
use modelwatch_core::csv_input::CsvRecords;
use modelwatch_core::event::validate_reference_row;
use modelwatch_core::offline::{OfflineProfiles, reference_from_csv};
use modelwatch_core::{Model, ModelDefinition};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn load_model(path: &Path) -> Model {
    let definition: ModelDefinition =
        serde_json::from_slice(&std::fs::read(path).expect("schema file")).expect("schema");
    Model::new("frozen", definition).expect("valid model")
}

fn write(out: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(out.join(name), bytes).expect("write blob");
    println!("{name}: {} bytes", bytes.len());
}

fn main() {
    let root = root();
    let (golden, drift) = (root.join("testdata/golden"), root.join("testdata/drift"));
    let out = root.join("testdata/frozen");
    std::fs::create_dir_all(&out).expect("create testdata/frozen");

    // One `WindowProfile` per task: every row of the golden CSV merged.
    for task in ["binary", "multiclass", "regression"] {
        let model = load_model(&golden.join(format!("{task}.schema.json")));
        let csv = std::fs::File::open(golden.join(format!("{task}.csv"))).expect("golden csv");
        let profiles = OfflineProfiles::from_csv(csv, &model, None, 0, |_| {}).expect("csv");
        assert!(profiles.rejected.is_empty(), "{:?}", profiles.rejected);
        let summary = profiles.merged(None, None).expect("merge").summary;
        write(
            &out,
            &format!("window-profile-{task}.bin"),
            &summary.encode(),
        );
    }

    // The `small` drift set: its reference profile, and the current rows' feature
    // profiles binned against it and merged.
    let model = load_model(&drift.join("small.schema.json"));
    let reference_csv = std::fs::read(drift.join("small.reference.csv")).expect("reference");
    let reference = reference_from_csv(reference_csv.as_slice(), &model, 1).expect("reference");
    assert!(reference.rejected.is_empty(), "{:?}", reference.rejected);
    write(
        &out,
        "reference-profile-small.bin",
        &reference.profile.encode(),
    );
    let current_csv = std::fs::read(drift.join("small.current.csv")).expect("current");
    let current = OfflineProfiles::from_csv(
        current_csv.as_slice(),
        &model,
        Some(&reference.profile),
        0,
        |_| {},
    )
    .expect("current");
    assert!(current.rejected.is_empty(), "{:?}", current.rejected);
    write(
        &out,
        "window-features-small.bin",
        &current.merged_features().encode(),
    );

    // Reference chunks of the golden binary CSV read as a reference upload, as the
    // server builds them.
    let model = load_model(&golden.join("binary.schema.json"));
    let csv = std::fs::read(golden.join("binary.csv")).expect("golden csv");
    let mut chunks = ReferenceChunks::default();
    for (line, record) in CsvRecords::new(csv.as_slice(), &model).expect("csv") {
        let event = record
            .and_then(|r| validate_reference_row(&model, r, &Default::default()))
            .unwrap_or_else(|e| panic!("line {line}: {e:?}"));
        chunks.observe(&model, &event);
    }
    write(&out, "reference-chunks-binary.bin", &chunks.encode());
}
