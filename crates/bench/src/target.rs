//! The server under load: a running one given by URL, or a child `modelwatch serve` on
//! a temporary store that lives as long as the benchmark; and the child's CPU time and
//! memory, read from `/proc`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

/// Which server a scenario loads.
#[derive(Debug, Clone)]
pub enum Target {
    /// A running server at this base URL.
    Url(String),
    /// `program serve` started on a temporary store (the `modelwatch` binary itself
    /// when `modelwatch bench` runs without `--url`).
    Child {
        /// The `modelwatch` executable.
        program: PathBuf,
    },
}

impl Target {
    /// The base URL (without a trailing `/`) and, for [`Target::Child`], the started
    /// child, which is stopped when dropped.
    pub async fn start(&self) -> anyhow::Result<(Option<ChildServer>, String)> {
        match self {
            Target::Url(url) => Ok((None, url.trim_end_matches('/').to_string())),
            Target::Child { program } => {
                let (child, url) = start_child(program).await?;
                Ok((Some(child), url))
            }
        }
    }
}

/// A `modelwatch serve` child on a temporary store, stopped on drop.
pub struct ChildServer {
    child: std::process::Child,
    _data_dir: tempfile::TempDir,
}

impl ChildServer {
    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU seconds (user + system) a process has used, from /proc.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// A memory figure of /proc/PID/status in KiB (`field` is e.g. `VmRSS:` or `VmHWM:`).
pub fn rss_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

async fn start_child(program: &std::path::Path) -> anyhow::Result<(ChildServer, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let data_dir = tempfile::Builder::new()
        .prefix("modelwatch-bench-")
        .tempdir()?;
    let child = std::process::Command::new(program)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data_dir.path())
        .env("RUST_LOG", "warn")
        .spawn()
        .context("starting modelwatch serve")?;
    let server = ChildServer {
        child,
        _data_dir: data_dir,
    };
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client.get(format!("{url}/healthz")).send().await.is_ok() {
            return Ok((server, url));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("the server did not come up on {url}")
}
