//! The README's commands, as written: every shell block of README.md is split into its
//! commands, the server is started by the README's own `modelwatch serve` line, and every
//! `curl` and `modelwatch` command after it runs in a directory that holds the files the
//! README assumes the reader has (`train.csv`, `prod.csv`, `model.json`). Each must
//! succeed; `curl` gets `--fail-with-body`, so an error answer (a 415 for a missing
//! content type) fails it. Two rewrites only: the port (`8480` → a free one), and
//! `--url` for `modelwatch export`, whose default is port 8480. Commands that cannot
//! run inside a test are listed in [`NOT_RUN`] with the reason; any other command fails
//! the test, so a new command in the README is run or explained.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Commands of the README that this test does not run, and why.
const NOT_RUN: [(&str, &str); 3] = [
    (
        "cargo run --release -- demo",
        "a release build that serves until Ctrl-C; cli.rs runs the demo",
    ),
    ("bash .ci/run", "the whole suite, this test included"),
    (
        "tensorboard --logdir ./tb",
        "a server that runs until stopped; tensorboard.rs reads the export with TensorBoard's loader",
    ),
];

/// Kills the server when dropped, so a failed assertion leaves nothing running.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The commands of the README's ```sh blocks: continuation lines joined, comments and
/// blank lines dropped.
fn readme_commands() -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let text = std::fs::read_to_string(path).unwrap();
    let mut commands = Vec::new();
    let mut in_block = false;
    let mut pending = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block && line.trim() == "```sh";
            continue;
        }
        if !in_block {
            continue;
        }
        // A comment after a command is set off by at least two spaces in the README.
        let line = line.split("  # ").next().unwrap().trim_end();
        if pending.is_empty() && (line.trim().is_empty() || line.trim_start().starts_with('#')) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => pending.push_str(head),
            None => {
                pending.push_str(line);
                commands.push(pending.trim().to_string());
                pending.clear();
            }
        }
    }
    commands
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The files the README's commands name, in `dir`: a model definition, a reference and a
/// current CSV of the README's `credit` model (one feature, `income`).
fn write_inputs(dir: &Path) {
    std::fs::write(
        dir.join("model.json"),
        r#"{"task": "binary_classification", "features": [{"name": "income", "type": "numeric"}]}"#,
    )
    .unwrap();
    let rows = |prefix: &str, day: u32, shift: u32| {
        let mut csv = String::from("id,timestamp,prediction,score,label,income\n");
        for i in 0..40u32 {
            csv += &format!(
                "{prefix}{i},2024-03-{day:02}T{:02}:00:00Z,{},0.{},{},{}\n",
                i % 24,
                i % 2,
                i % 10,
                (i / 2) % 2,
                30_000 + 1_000 * i + shift
            );
        }
        csv
    };
    std::fs::write(dir.join("train.csv"), rows("t", 1, 0)).unwrap();
    std::fs::write(dir.join("prod.csv"), rows("p", 11, 20_000)).unwrap();
}

/// Runs one command with bash in `dir`, with the `modelwatch` under test first on PATH.
fn run(command: &str, dir: &Path) -> std::process::Output {
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_modelwatch"));
    let path = format!(
        "{}:{}",
        binary.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("bash")
        .args(["-c", command])
        .current_dir(dir)
        .env("PATH", path)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn every_command_of_the_readme_works_as_written() {
    let commands = readme_commands();
    let dir = tempfile::tempdir().unwrap();
    write_inputs(dir.path());
    let port = free_port();
    let on_port = |command: &str| {
        command
            .replace("localhost:8480", &format!("localhost:{port}"))
            .replace("127.0.0.1:8480", &format!("127.0.0.1:{port}"))
    };
    let mut server: Option<KillOnDrop> = None;
    let mut ran = Vec::new();
    for command in &commands {
        if let Some((_, why)) = NOT_RUN.iter().find(|(c, _)| c == command) {
            eprintln!("not run: {command} ({why})");
            continue;
        }
        if command.starts_with("modelwatch serve ") {
            // `[--config FILE]` is optional: the README's server runs without it.
            let written = command.split(" [").next().unwrap();
            let child = Command::new("bash")
                .args(["-c", &format!("exec {}", on_port(written))])
                .current_dir(dir.path())
                .env(
                    "PATH",
                    format!(
                        "{}:{}",
                        PathBuf::from(env!("CARGO_BIN_EXE_modelwatch"))
                            .parent()
                            .unwrap()
                            .display(),
                        std::env::var("PATH").unwrap_or_default()
                    ),
                )
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            server = Some(KillOnDrop(child));
            let up = (0..200).any(|_| {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return true;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
                false
            });
            assert!(up, "`{command}` did not listen on port {port}");
            ran.push(command.clone());
            continue;
        }
        let runnable = if let Some(rest) = command.strip_prefix("curl ") {
            format!(
                "curl --fail-with-body --silent --show-error {}",
                on_port(rest)
            )
        } else if command.contains("modelwatch export ") {
            format!("{} --url http://127.0.0.1:{port}", on_port(command))
        } else if command.starts_with("modelwatch ") {
            on_port(command)
        } else {
            panic!("the README's `{command}` is neither run here nor listed in NOT_RUN");
        };
        assert!(
            server.is_some() || !runnable.starts_with("curl"),
            "`{command}` comes before the README starts a server"
        );
        let output = run(&runnable, dir.path());
        assert!(
            output.status.success(),
            "`{command}` failed ({}):\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        ran.push(command.clone());
    }
    // The commands the README is about were all there and ran.
    for needed in [
        "modelwatch serve",
        "curl -X PUT localhost:8480/api/v1/models/credit ",
        "curl -X POST localhost:8480/api/v1/models/credit/labels",
        "curl -X PUT localhost:8480/api/v1/models/credit/reference",
        "curl 'localhost:8480/api/v1/models/credit/drift",
        "curl -X PUT localhost:8480/api/v1/rules/",
        "curl -o credit.html",
        "modelwatch report ",
        "modelwatch export tensorboard",
    ] {
        assert!(
            ran.iter().any(|c| c.contains(needed)),
            "no command with `{needed}` ran: {ran:#?}"
        );
    }
    // What they made: the HTML report and the TensorBoard run.
    let report = std::fs::read_to_string(dir.path().join("credit.html")).unwrap();
    assert!(
        report.starts_with("<!DOCTYPE html>"),
        "{}",
        &report[..80.min(report.len())]
    );
    assert!(dir.path().join("tb").read_dir().unwrap().next().is_some());
    drop(server);
}
