//! Notifications to real receivers started by the test: Debian's
//! `prometheus-alertmanager` and an `aiosmtpd` SMTP server from PyPI. Both must be
//! installed (`.ci/run` installs them); a missing tool fails the test.

mod common;

use std::process::{Command, Stdio};

use common::{Running, TestServer, eventually, free_port};
use reqwest::StatusCode;
use serde_json::{Value, json};

const DAY0: i64 = 1_710_115_200_000;
const DAY: i64 = 86_400_000;

fn spawn(program: &str, args: &[&str]) -> Running {
    let child = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {program} (is it installed? .ci/run installs it): {e}")
        });
    Running(child)
}

/// An aiosmtpd server on `port` that files every mail it receives in the Maildir `mailbox`.
async fn smtp_server(port: u16, mailbox: &std::path::Path) -> Running {
    let listen = format!("127.0.0.1:{port}");
    let mailbox = mailbox.display().to_string();
    let running = spawn(
        "python3",
        &[
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &listen,
            "-c",
            "aiosmtpd.handlers.Mailbox",
            &mailbox,
        ],
    );
    eventually(20, "the SMTP server to listen", || async {
        std::net::TcpStream::connect(("127.0.0.1", port))
            .ok()
            .map(drop)
    })
    .await;
    running
}

/// A model whose day 1 is bad, and a rule on it sending to `channel`.
async fn bad_day(server: &TestServer, channel: Value) {
    let (status, body) = server
        .put_model("credit", json!({"task": "binary_classification"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = server.put_json("/api/v1/channels/out", channel).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = server
        .put_json(
            "/api/v1/rules/low-accuracy",
            json!({"model": "credit", "metric": "accuracy", "window": "1d",
                   "condition": {"op": "<", "threshold": 0.7}, "min_count": 10,
                   "severity": "critical", "labels": {"team": "risk"}, "channels": ["out"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let events: Vec<Value> = (0..300)
        .map(|i| {
            let day = i / 100;
            let wrong = day == 1 && i % 2 == 0;
            json!({"id": format!("e{i}"), "timestamp": DAY0 + day * DAY + (i % 100) * 60_000,
                   "prediction": "1", "label": if wrong { "0" } else { "1" }})
        })
        .collect();
    let (status, body) = server
        .post("/api/v1/models/credit/predictions", Value::Array(events))
        .await;
    assert_eq!(
        (status, body["accepted"].clone()),
        (StatusCode::OK, json!(300))
    );
}

#[tokio::test]
async fn alerts_reach_a_real_alertmanager_with_their_labels() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("alertmanager.yml");
    std::fs::write(
        &config,
        "route:\n  receiver: sink\nreceivers:\n  - name: sink\n",
    )
    .unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let _alertmanager = spawn(
        "prometheus-alertmanager",
        &[
            &format!("--config.file={}", config.display()),
            &format!("--storage.path={}", dir.path().join("data").display()),
            &format!("--web.listen-address={listen}"),
            "--cluster.listen-address=",
        ],
    );
    modelwatch_server::install_crypto_provider();
    let client = reqwest::Client::new();
    let base = format!("http://{listen}");
    eventually(20, "Alertmanager to be ready", || {
        let client = client.clone();
        let url = format!("{base}/-/ready");
        async move {
            client
                .get(url)
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success())
                .map(drop)
        }
    })
    .await;
    let server = TestServer::start().await;
    bad_day(&server, json!({"type": "alertmanager", "url": base})).await;
    let alert = eventually(20, "our alert in Alertmanager", || {
        let client = client.clone();
        let url = format!("{base}/api/v2/alerts");
        async move {
            let alerts: Value = client.get(url).send().await.ok()?.json().await.ok()?;
            alerts
                .as_array()?
                .iter()
                .find(|a| a["labels"]["alertname"] == "low-accuracy")
                .cloned()
        }
    })
    .await;
    assert_eq!(alert["labels"]["model"], "credit");
    assert_eq!(alert["labels"]["severity"], "critical");
    assert_eq!(alert["labels"]["team"], "risk");
    assert_eq!(alert["status"]["state"], "active");
    assert_eq!(alert["startsAt"], "2024-03-13T00:00:00.000Z");
    assert!(
        alert["annotations"]["summary"]
            .as_str()
            .unwrap()
            .contains("accuracy of model credit = 0.5")
    );
    // Alertmanager shows the alert before modelwatch has its answer and records the
    // delivery: wait for the record.
    eventually(20, "the delivery in the event log", || async {
        let (_, events) = server.get("/api/v1/events").await;
        events["events"]
            .as_array()?
            .iter()
            .any(|e| e["kind"] == "notified")
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn alerts_reach_a_real_smtp_server_as_mail() {
    let (maildir, port) = (tempfile::tempdir().unwrap(), free_port());
    let _smtp = smtp_server(port, &maildir.path().join("box")).await;
    let server = TestServer::start().await;
    bad_day(
        &server,
        json!({"type": "email", "smtp": format!("smtp://127.0.0.1:{port}"), "from": "modelwatch@example.org",
               "to": ["oncall@example.org", "risk@example.org"], "group_wait": "0s"}),
    )
    .await;
    let mail = eventually(20, "the mail", || {
        let new = maildir.path().join("box").join("new");
        async move {
            let entry = std::fs::read_dir(new).ok()?.next()?.ok()?;
            std::fs::read_to_string(entry.path()).ok()
        }
    })
    .await;
    // The body is quoted-printable: undo its soft line breaks and escaped `=`.
    let mail = mail
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    assert!(
        mail.contains("Subject: [FIRING:1] low-accuracy credit"),
        "{mail}"
    );
    assert!(mail.contains("From: modelwatch@example.org"), "{mail}");
    assert!(
        mail.contains("oncall@example.org") && mail.contains("risk@example.org"),
        "{mail}"
    );
    assert!(mail.contains("accuracy of model credit = 0.5"), "{mail}");
    assert!(mail.contains("starts_at: 2024-03-13T00:00:00Z"), "{mail}");
}

#[tokio::test]
async fn required_starttls_is_enforced_and_the_failure_logged() {
    let (maildir, port) = (tempfile::tempdir().unwrap(), free_port());
    // This server offers no STARTTLS.
    let _smtp = smtp_server(port, &maildir.path().join("box")).await;
    let server = TestServer::start().await;
    bad_day(
        &server,
        json!({"type": "email", "smtp": format!("smtp://127.0.0.1:{port}"), "starttls": "required",
               "from": "modelwatch@example.org", "to": "oncall@example.org", "group_wait": "0s"}),
    )
    .await;
    let failure = eventually(20, "the failed delivery in the event log", || async {
        let (_, events) = server.get("/api/v1/events").await;
        events["events"]
            .as_array()?
            .iter()
            .find(|e| e["kind"] == "delivery_failed")
            .cloned()
    })
    .await;
    assert_eq!(failure["detail"]["channel"], "out");
    assert!(failure["detail"]["next_attempt"].is_string(), "{failure}");
    assert!(
        std::fs::read_dir(maildir.path().join("box").join("new"))
            .map(|d| d.count())
            .unwrap_or(0)
            == 0
    );
}
