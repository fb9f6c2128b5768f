//! Schemathesis (from PyPI; `.ci/run` installs it) generates requests from our OpenAPI
//! description at `/api/v1/openapi.json` and sends them to the real binary: no answer may
//! be a 5xx, and no connection may be dropped.

use std::process::{Command, Stdio};

struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn schemathesis_finds_no_server_error() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_modelwatch"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(dir.path())
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let up = (0..200).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(25));
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(up, "the server did not start");
    // A model, so that the paths of `nomodel` reach the handlers' validation.
    let put = Command::new("curl")
        .args(["-sf", "-X", "PUT", &format!("{base}/api/v1/models/nomodel"), "-H", "content-type: application/json",
               "-d", r#"{"task":"binary_classification","features":[{"name":"x","type":"numeric"},{"name":"c","type":"categorical"}]}"#])
        .stdout(Stdio::null())
        .status()
        .expect("curl is needed");
    assert!(put.success());
    let examples =
        std::env::var("MODELWATCH_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "25".into());
    let output = Command::new("schemathesis")
        .args([
            "run",
            &format!("{base}/api/v1/openapi.json"),
            "--checks",
            "not_a_server_error",
            "--max-examples",
            &examples,
            "--seed",
            "42",
            "--workers",
            "2",
        ])
        .env("NO_COLOR", "1")
        .output()
        .expect("schemathesis is needed (.ci/run installs it with pip)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = stdout
        .lines()
        .find(|l| l.contains(" generated,"))
        .unwrap_or_default()
        .trim()
        .to_string();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        summary.contains("passed") && !summary.contains("failed"),
        "{summary}"
    );
    eprintln!("schemathesis: {summary}");
}
