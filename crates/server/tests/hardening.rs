//! Issue 13 ("Hardening"): what a hostile client, a hostile web page or a hostile
//! receiver could do before, each over a real server. Cross-site writes and foreign
//! hosts, events of other models, escaping in the Markdown report, private files, the
//! report's content security policy and compressed bodies.

mod common;

use common::{TestServer, eventually};
use modelwatch_server::auth::{AuthMode, hash, new_secret};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn token(server: &TestServer, scopes: &str, models: Option<&str>) -> String {
    let secret = new_secret();
    server
        .store()
        .create_token("test", &hash(&secret), scopes, models, 0)
        .await
        .unwrap();
    secret
}

async fn send(
    server: &TestServer,
    request: reqwest::RequestBuilder,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let _ = server;
    let request = match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    let response = request.send().await.unwrap();
    (
        response.status(),
        response.json().await.unwrap_or(Value::Null),
    )
}

/// A receiver that always answers `500` with a body holding a secret.
async fn failing_receiver() -> String {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(|| async {
            (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "receiver-secret-4711",
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/hook")
}

#[tokio::test]
async fn a_restricted_token_sees_only_its_models_delivery_events_and_no_receiver_answer() {
    let server = TestServer::start_with(|config| config.auth = AuthMode::Required).await;
    let admin = token(&server, "admin", None).await;
    let url = failing_receiver().await;
    let put = |path: &str, body: Value| server.client.put(server.url(path)).json(&body);
    for model in ["a", "b"] {
        let (status, body) = send(
            &server,
            put(
                &format!("/api/v1/models/{model}"),
                json!({"task": "regression", "allowed_lateness": "0s"}),
            ),
            Some(&admin),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    // One channel grouping by severity only: the alerts of a and b share notifications.
    let (status, body) = send(
        &server,
        put(
            "/api/v1/channels/hook",
            json!({"type": "webhook", "url": url, "group_by": ["severity"], "group_wait": "0s", "group_interval": "0s"}),
        ),
        Some(&admin),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for model in ["a", "b"] {
        let (status, body) = send(
            &server,
            put(
                &format!("/api/v1/rules/busy-{model}"),
                json!({"model": model, "metric": "count", "window": "1d", "every": "1d",
                       "condition": {"op": ">", "threshold": 0}, "channels": ["hook"]}),
            ),
            Some(&admin),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let day = 86_400_000_i64;
        let events = json!([
            {"id": "d0", "timestamp": 1_710_115_200_000_i64, "prediction": 1.0},
            {"id": "d2", "timestamp": 1_710_115_200_000_i64 + 2 * day, "prediction": 1.0}
        ]);
        let (status, body) = send(
            &server,
            server
                .client
                .post(server.url(&format!("/api/v1/models/{model}/predictions")))
                .json(&events),
            Some(&admin),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // The admin sees a failed delivery of both models, with the receiver's answer.
    let all = eventually(30, "failed deliveries of a and b", || async {
        let (_, body) = send(
            &server,
            server.client.get(server.url("/api/v1/events?limit=1000")),
            Some(&admin),
        )
        .await;
        let failed: Vec<Value> = body["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "delivery_failed")
            .cloned()
            .collect();
        let models: std::collections::BTreeSet<&str> =
            failed.iter().filter_map(|e| e["model"].as_str()).collect();
        (models.len() == 2).then_some(body)
    })
    .await;
    assert!(
        all.to_string().contains("receiver-secret-4711"),
        "the admin sees what the receiver answered: {all}"
    );
    // A read token for a: only a's events, only a's alerts, no receiver's answer.
    let only_a = token(&server, "read", Some("a")).await;
    let (status, seen) = send(
        &server,
        server.client.get(server.url("/api/v1/events?limit=1000")),
        Some(&only_a),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    let events = seen["events"].as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "delivery_failed" && e["model"] == "a"),
        "a's failed deliveries are shown to a's token: {seen}"
    );
    for event in events {
        assert_eq!(event["model"], "a", "{event}");
        for alert in event["detail"]["alerts"].as_array().into_iter().flatten() {
            let fingerprint = alert["fingerprint"].as_str().unwrap();
            let of_a = all["events"].as_array().unwrap().iter().any(|e| {
                e["model"] == "a" && e["detail"]["alerts"].to_string().contains(fingerprint)
            });
            assert!(of_a, "an alert of another model in {event}");
        }
        assert!(event["detail"].get("payload").is_none(), "{event}");
        assert!(event["detail"].get("response").is_none(), "{event}");
    }
    assert!(
        !seen.to_string().contains("receiver-secret-4711"),
        "a non-admin saw what the receiver answered: {seen}"
    );
    // Every delivery event names one model, and its alerts are that model's.
    for event in all["events"].as_array().unwrap() {
        if event["kind"].as_str().unwrap().starts_with("deliver") {
            let model = event["model"].as_str().unwrap();
            let title = event["detail"]["title"].as_str().unwrap();
            assert!(
                title.contains("FIRING:1") || title.contains("RESOLVED"),
                "{event}"
            );
            assert!(!model.is_empty());
        }
    }
}

#[tokio::test]
async fn cross_site_writes_and_foreign_hosts_are_refused() {
    let server = TestServer::start().await;
    let model = json!({"task": "regression"});
    let put = || server.client.put(server.url("/api/v1/models/m"));
    // A write with no content type: a simple cross-site request could send it.
    let (status, body) = send(&server, put().body(model.to_string()), None).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert_eq!(body["error"]["field"], "content-type");
    // From another origin, or said to be cross-site by the browser.
    for (header, value) in [
        ("origin", "https://evil.example"),
        ("origin", "null"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
    ] {
        let (status, body) = send(&server, put().json(&model).header(header, value), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{header}: {value}: {body}");
        assert_eq!(body["error"]["field"], "origin");
    }
    let (status, _) = server.get("/api/v1/models/m").await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "no cross-site write got through"
    );
    // A DNS name rebound to this server is not answered; an IP address and localhost are.
    let (status, body) = send(
        &server,
        server
            .client
            .get(server.url("/api/v1/models"))
            .header("host", "evil.example:8480"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["field"], "host");
    let (status, _) = send(
        &server,
        server
            .client
            .get(server.url("/api/v1/models"))
            .header("host", "localhost:8480"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // The server's own pages write.
    let own = server.base.clone();
    let (status, body) = send(
        &server,
        put()
            .json(&model)
            .header("origin", own)
            .header("sec-fetch-site", "same-origin"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn configured_origins_and_hosts_are_let_in() {
    let server = TestServer::start_with(|config| {
        config.http.allowed_origins = vec!["https://dash.example".into()];
        config.http.allowed_hosts = vec!["modelwatch.internal".into()];
    })
    .await;
    let (status, body) = send(
        &server,
        server
            .client
            .put(server.url("/api/v1/models/m"))
            .json(&json!({"task": "regression"}))
            .header("origin", "https://dash.example")
            .header("sec-fetch-site", "cross-site"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = send(
        &server,
        server
            .client
            .get(server.url("/api/v1/models"))
            .header("host", "modelwatch.internal:8480"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn the_markdown_report_escapes_categorical_values() {
    let server = TestServer::start().await;
    let (status, body) = server
        .put_model(
            "m",
            json!({"task": "regression", "features": [{"name": "region", "type": "categorical"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = server
        .put_body(
            "/api/v1/models/m/reference",
            "text/csv",
            b"region\nnorth\nsouth\n".to_vec(),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let hostile = "x\n# Forged heading\n| forged | row |\n<img src=x onerror=alert(1)>";
    let (status, body) = server
        .post(
            "/api/v1/models/m/predictions",
            json!([{"id": "1", "timestamp": 1_710_115_200_000_i64, "prediction": 1.0, "features": {"region": hostile}}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let response = server
        .client
        .get(server.url(
            "/api/v1/models/m/report?format=md&from=2024-03-01T00:00:00Z&to=2024-03-31T00:00:00Z",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let markdown = response.text().await.unwrap();
    assert!(markdown.contains("Forged heading"), "{markdown}");
    assert!(
        !markdown.lines().any(|l| l.starts_with("# Forged")),
        "{markdown}"
    );
    assert!(!markdown.contains("<img"), "{markdown}");
    let row = markdown
        .lines()
        .find(|l| l.contains("Forged heading"))
        .unwrap();
    assert!(row.starts_with("| region |"), "{row}");
    let unescaped_pipes = row.len() - row.replace('|', "").len() - row.matches("\\|").count();
    assert_eq!(unescaped_pipes, 10, "nine cells in one row: {row}");
}

#[tokio::test]
async fn the_data_directory_and_the_database_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let data_dir = parent.path().join("new-data-dir");
    let config = modelwatch_server::ServerConfig::new(&data_dir);
    let state = modelwatch_server::AppState::open(&config).unwrap();
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data_dir), 0o700);
    let mut seen = 0;
    for entry in std::fs::read_dir(&data_dir).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
        seen += 1;
    }
    assert!(seen >= 2, "the database and the key are there");
    drop(state);
}

#[tokio::test]
async fn the_html_report_has_a_strict_content_security_policy() {
    let server = TestServer::start().await;
    let (status, _) = server.put_model("m", json!({"task": "regression"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let response = server
        .client
        .get(server.url("/api/v1/models/m/report?format=html"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let policy = response
        .headers()
        .get("content-security-policy")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(policy.contains("default-src 'none'"), "{policy:?}");
    assert!(
        !policy.contains("script-src"),
        "no script may run: {policy:?}"
    );
}

#[tokio::test]
async fn a_compressed_body_is_refused() {
    let server = TestServer::start().await;
    let (status, _) = server.put_model("m", json!({"task": "regression"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = send(
        &server,
        server
            .client
            .post(server.url("/api/v1/models/m/predictions"))
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(vec![0x1f, 0x8b, 0x08, 0x00]),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert_eq!(body["error"]["field"], "content-encoding");
}

/// Every byte of every file in `dir`.
fn files_contain(dir: &std::path::Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if let Ok(bytes) = std::fs::read(&path)
            && bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        {
            found.push(path.display().to_string());
        }
    }
    found
}

async fn list_channels(server: &TestServer, token: &str) -> String {
    let request = server.client.get(server.url("/api/v1/channels"));
    send(server, request, Some(token)).await.1.to_string()
}

#[tokio::test]
async fn channel_secrets_are_shown_to_admins_only_and_sealed_on_disk() {
    let mut server = TestServer::start_with(|config| config.auth = AuthMode::Required).await;
    let admin = token(&server, "admin", None).await;
    let reader = token(&server, "read", None).await;
    let url = "http://hookuser:hunter2@127.0.0.1:9/services/T0/B0/slacksecret";
    for (name, definition) in [
        ("hook", json!({"type": "slack", "url": url})),
        (
            "mail",
            json!({"type": "email", "smtp": "smtp://127.0.0.1:2525", "from": "mw@example.org",
                   "to": "oncall@example.org", "username": "mw", "password": "smtp-secret-99",
                   "starttls": "required"}),
        ),
    ] {
        let (status, body) = send(
            &server,
            server
                .client
                .put(server.url(&format!("/api/v1/channels/{name}")))
                .json(&definition),
            Some(&admin),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let seen = list_channels(&server, &reader).await;
    for secret in ["hunter2", "slacksecret", "smtp-secret-99"] {
        assert!(!seen.contains(secret), "a read token saw {secret}: {seen}");
    }
    assert!(seen.contains("127.0.0.1:9"), "{seen}");
    let (_, one) = send(
        &server,
        server.client.get(server.url("/api/v1/channels/hook")),
        Some(&reader),
    )
    .await;
    assert!(!one.to_string().contains("hunter2"), "{one}");
    assert!(
        list_channels(&server, &admin).await.contains(url),
        "the admin sees the URL"
    );
    for secret in ["hunter2", "slacksecret", "smtp-secret-99"] {
        let found = files_contain(server._dir.path(), secret);
        assert!(found.is_empty(), "{secret} in plain text in {found:?}");
    }
    // Sealed, not lost: after a restart the channel still has its URL.
    server.restart().await;
    assert!(list_channels(&server, &admin).await.contains(url));
}

/// A receiver on 127.0.0.1 with one route answering as `answer` says; returns its base
/// URL and how many requests reached `/landing`.
async fn receiver_with(
    answer: axum::routing::MethodRouter,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let landed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = landed.clone();
    let app = axum::Router::new().route("/hook", answer).route(
        "/landing",
        axum::routing::post(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { "ok" }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}"), landed)
}

async fn test_channel(server: &TestServer, definition: Value) -> Value {
    let (status, body) = server.put_json("/api/v1/channels/c", definition).await;
    assert!(status.is_success(), "{body}");
    let (status, body) = send(
        server,
        server
            .client
            .post(server.url("/api/v1/channels/c/test"))
            .header("content-type", "application/json"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn webhooks_follow_no_redirect_and_read_only_the_start_of_an_answer() {
    let server = TestServer::start().await;
    // A redirect to another path of the same receiver: not followed by default.
    let (base, landed) = receiver_with(axum::routing::post(|| async {
        (
            axum::http::StatusCode::TEMPORARY_REDIRECT,
            [(axum::http::header::LOCATION, "/landing")],
        )
    }))
    .await;
    let result = test_channel(
        &server,
        json!({"type": "webhook", "url": format!("{base}/hook")}),
    )
    .await;
    assert_eq!(result["delivered"], false, "{result}");
    assert!(
        result["error"].as_str().unwrap().contains("307"),
        "{result}"
    );
    assert_eq!(landed.load(std::sync::atomic::Ordering::SeqCst), 0);
    // An answer that never ends: only its start is read, and the test ends.
    let (base, _) = receiver_with(axum::routing::post(|| async {
        let endless = futures_util::stream::repeat_with(|| {
            Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'x'; 64 * 1024]))
        });
        (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            axum::body::Body::from_stream(endless),
        )
    }))
    .await;
    let result = test_channel(
        &server,
        json!({"type": "webhook", "url": format!("{base}/hook")}),
    )
    .await;
    assert_eq!(result["delivered"], false, "{result}");
    assert!(
        result["error"].as_str().unwrap().contains("500"),
        "{result}"
    );
    let response = result["response"].as_str().unwrap();
    assert!(
        !response.is_empty() && response.len() <= 4096,
        "{}",
        response.len()
    );
}

#[tokio::test]
async fn same_origin_redirects_are_followed_only_when_configured() {
    let server =
        TestServer::start_with(|config| config.outbound.same_origin_redirects = true).await;
    let (base, landed) = receiver_with(axum::routing::post(|| async {
        (
            axum::http::StatusCode::TEMPORARY_REDIRECT,
            [(axum::http::header::LOCATION, "/landing")],
        )
    }))
    .await;
    let result = test_channel(
        &server,
        json!({"type": "webhook", "url": format!("{base}/hook")}),
    )
    .await;
    assert_eq!(result["delivered"], true, "{result}");
    assert_eq!(landed.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn notifications_reach_only_the_permitted_networks() {
    let server = TestServer::start().await;
    let result = test_channel(
        &server,
        json!({"type": "webhook", "url": "http://169.254.169.254/latest/meta-data"}),
    )
    .await;
    assert_eq!(result["delivered"], false, "{result}");
    assert!(
        result["error"].as_str().unwrap().contains("outbound"),
        "{result}"
    );
    let only_ten =
        TestServer::start_with(|config| config.outbound.allow_networks = vec!["10.0.0.0/8".into()])
            .await;
    let (base, _) = receiver_with(axum::routing::post(|| async { "ok" })).await;
    let result = test_channel(
        &only_ten,
        json!({"type": "webhook", "url": format!("{base}/hook")}),
    )
    .await;
    assert_eq!(result["delivered"], false, "{result}");
    let by_name = test_channel(
        &only_ten,
        json!({"type": "webhook", "url": format!("{}/hook", base.replace("127.0.0.1", "localhost"))}),
    )
    .await;
    assert_eq!(by_name["delivered"], false, "{by_name}");
    assert!(
        by_name["error"].as_str().unwrap().contains("outbound"),
        "{by_name}"
    );
}

#[tokio::test]
async fn smtp_credentials_are_never_sent_without_tls() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    // An SMTP server that offers AUTH but no STARTTLS, and records every command.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let commands = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = commands.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 plain.example ESMTP\r\n").await;
                let mut in_data = false;
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            in_data = false;
                            let _ = write.write_all(b"250 queued\r\n").await;
                        }
                        continue;
                    }
                    seen.lock().unwrap().push(line.clone());
                    let upper = line.to_ascii_uppercase();
                    let answer: &[u8] = if upper.starts_with("EHLO") {
                        b"250-plain.example\r\n250 AUTH PLAIN LOGIN\r\n"
                    } else if upper.starts_with("AUTH") {
                        b"235 ok\r\n"
                    } else if upper.starts_with("DATA") {
                        in_data = true;
                        b"354 go ahead\r\n"
                    } else if upper.starts_with("QUIT") {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        b"250 ok\r\n"
                    };
                    let _ = write.write_all(answer).await;
                }
            });
        }
    });
    let server = TestServer::start().await;
    let result = test_channel(
        &server,
        json!({"type": "email", "smtp": format!("smtp://127.0.0.1:{port}"), "from": "mw@example.org",
               "to": "oncall@example.org", "username": "mw", "password": "smtp-secret-42"}),
    )
    .await;
    assert_eq!(result["delivered"], false, "{result}");
    let commands = commands.lock().unwrap().clone();
    assert!(
        !commands
            .iter()
            .any(|c| c.to_ascii_uppercase().starts_with("AUTH")),
        "credentials sent without TLS: {commands:?}"
    );
    // Saying so explicitly sends them.
    let result = test_channel(
        &server,
        json!({"type": "email", "smtp": format!("smtp://127.0.0.1:{port}"), "from": "mw@example.org",
               "to": "oncall@example.org", "username": "mw", "password": "smtp-secret-42",
               "insecure_auth": true}),
    )
    .await;
    assert_eq!(result["delivered"], true, "{result}");
}
