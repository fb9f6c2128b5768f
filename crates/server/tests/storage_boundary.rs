//! The server reaches the store only through the storage boundary (`modelwatch_store::Storage`):
//! it does not depend on rusqlite, no module names a rusqlite type, and only the default
//! opener in `state.rs` names the SQLite backend.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_server_does_not_depend_on_rusqlite() {
    let manifest = std::fs::read_to_string(crate_dir().join("Cargo.toml")).unwrap();
    // Only what the library builds with counts: the frozen-fixture generator (an
    // example) may open the database it made to VACUUM it.
    let dependencies = manifest
        .split("\n[")
        .find(|table| table.starts_with("dependencies]"))
        .expect("a [dependencies] table");
    assert!(dependencies.contains("modelwatch-store"), "{dependencies}");
    assert!(
        !dependencies.contains("rusqlite"),
        "crates/server/Cargo.toml lists rusqlite in [dependencies]"
    );
}

#[test]
fn no_server_module_names_a_backend_type() {
    let mut files = Vec::new();
    sources(&crate_dir().join("src"), &mut files);
    assert!(files.len() > 20, "the server's sources were not found");
    let mut offenders = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let relative = file.strip_prefix(crate_dir()).unwrap().to_path_buf();
        if text.contains("rusqlite") {
            offenders.push(format!("{}: rusqlite", relative.display()));
        }
        if text.contains("SqliteStore") && relative != Path::new("src/state.rs") {
            offenders.push(format!("{}: SqliteStore", relative.display()));
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}
