//! Alerting end to end over a real server and a real HTTP receiver: rules judged in
//! event time (replay and live), late labels, retries through a failing receiver and a
//! restart, silences, absence on the wall clock, and validation.

mod common;

use common::{Receiver, TestServer, error_field, eventually};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// 2024-03-11T00:00:00Z
const DAY0: i64 = 1_710_115_200_000;
const DAY: i64 = 86_400_000;

async fn credit(server: &TestServer, extra: Value) {
    let mut definition = json!({"task": "binary_classification", "features": [{"name": "income", "type": "numeric"}]});
    for (k, v) in extra.as_object().unwrap() {
        definition[k] = v.clone();
    }
    let (status, body) = server.put_model("credit", definition).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// `n` events spread over day `day`, of which a share `accuracy` is predicted right;
/// labels are left out when `labelled` is false.
fn day_events(day: i64, n: i64, accuracy: f64, labelled: bool) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let correct = (i % 100) < (accuracy * 100.0) as i64;
            let mut event = json!({
                "id": format!("d{day}-{i}"),
                "timestamp": DAY0 + day * DAY + i * (DAY / n),
                "features": {"income": 1000 + i},
                "prediction": "1",
            });
            if labelled {
                event["label"] = json!(if correct { "1" } else { "0" });
            }
            event
        })
        .collect()
}

async fn ingest(server: &TestServer, events: Vec<Value>) {
    let (status, body) = server
        .post("/api/v1/models/credit/predictions", Value::Array(events))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rejected"], json!([]), "{body}");
}

async fn hook(server: &TestServer, receiver: &Receiver) {
    let (status, body) = server
        .put_json(
            "/api/v1/channels/hook",
            json!({"type": "webhook", "url": receiver.url, "group_wait": "0s", "group_interval": "0s"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn accuracy_rule(server: &TestServer) {
    let (status, body) = server
        .put_json(
            "/api/v1/rules/low-accuracy",
            json!({"model": "credit", "metric": "accuracy", "window": "1d", "every": "1d",
                   "condition": {"op": "<", "threshold": 0.7}, "min_count": 100,
                   "severity": "critical", "labels": {"team": "risk"}, "channels": ["hook"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn alerts(server: &TestServer, query: &str) -> Vec<Value> {
    let (status, body) = server.get(&format!("/api/v1/alerts{query}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["alerts"].as_array().unwrap().clone()
}

async fn event_kinds(server: &TestServer) -> Vec<String> {
    let (_, body) = server.get("/api/v1/events?limit=1000").await;
    let mut kinds: Vec<String> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    kinds.reverse();
    kinds
}

#[tokio::test]
async fn a_replay_raises_exactly_one_alert_from_the_end_of_the_bad_day() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(0).await;
    credit(&server, json!({})).await;
    hook(&server, &receiver).await;
    accuracy_rule(&server).await;
    // Six days of history in one request; day 2 (2024-03-13) is bad.
    let mut events = Vec::new();
    for day in 0..6 {
        events.extend(day_events(day, 200, if day == 2 { 0.5 } else { 0.9 }, true));
    }
    ingest(&server, events).await;
    let resolved = eventually(20, "the alert to resolve", || async {
        let list = alerts(&server, "?state=resolved").await;
        (!list.is_empty()).then_some(list)
    })
    .await;
    let all = alerts(&server, "").await;
    assert_eq!(all.len(), 1, "{all:?}");
    let alert = &resolved[0];
    assert_eq!(alert["rule"], "low-accuracy");
    assert_eq!(alert["model"], "credit");
    assert_eq!(alert["starts_at"], "2024-03-14T00:00:00Z");
    // Two good days are needed to resolve (keep_firing_for defaults to 2 × every);
    // ends_at is the end of the first good one.
    assert_eq!(alert["ends_at"], "2024-03-15T00:00:00Z");
    assert_eq!(alert["value"], 0.5);
    assert_eq!(alert["threshold"], 0.7);
    assert_eq!(alert["labels"]["team"], "risk");
    assert_eq!(alert["labels"]["severity"], "critical");
    // The receiver hears about it (one notification: the alert fired and resolved in
    // the same round).
    let received = eventually(10, "a notification", || async {
        let got = receiver.received();
        (!got.is_empty()).then_some(got)
    })
    .await;
    assert_eq!(
        received[0]["alerts"][0]["labels"]["alertname"],
        "low-accuracy"
    );
    assert_eq!(received[0]["alerts"][0]["startsAt"], "2024-03-14T00:00:00Z");
    let kinds = event_kinds(&server).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "firing").count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| *k == "resolved").count(),
        1,
        "{kinds:?}"
    );
}

#[tokio::test]
async fn live_alerts_survive_a_failing_receiver_and_a_restart() {
    let mut server = TestServer::start().await;
    // The receiver refuses the first two tries.
    let receiver = Receiver::start(2).await;
    credit(&server, json!({})).await;
    hook(&server, &receiver).await;
    accuracy_rule(&server).await;
    ingest(&server, day_events(0, 200, 0.9, true)).await;
    ingest(&server, day_events(1, 200, 0.4, true)).await;
    // Day 2's first events complete day 1: it fires.
    ingest(&server, day_events(2, 200, 0.9, true)).await;
    let firing = eventually(10, "the alert to fire", || async {
        let list = alerts(&server, "?state=firing").await;
        (!list.is_empty()).then_some(list)
    })
    .await;
    // Day 1 is 2024-03-12: the span ends, and the alert starts, at midnight after it.
    assert_eq!(firing[0]["starts_at"], "2024-03-13T00:00:00Z");
    // Restart while the notification is being retried.
    eventually(10, "a first failed delivery", || async {
        (receiver.attempts.load(std::sync::atomic::Ordering::SeqCst) >= 1).then_some(())
    })
    .await;
    server.restart().await;
    let received = eventually(20, "the notification after retries", || async {
        let got = receiver.received();
        (!got.is_empty()).then_some(got)
    })
    .await;
    assert_eq!(received[0]["status"], "firing");
    assert_eq!(received[0]["version"], "4");
    let alert = &received[0]["alerts"][0];
    assert_eq!(alert["labels"]["alertname"], "low-accuracy");
    assert_eq!(alert["labels"]["model"], "credit");
    assert_eq!(alert["labels"]["team"], "risk");
    assert_eq!(alert["startsAt"], "2024-03-13T00:00:00Z");
    assert!(
        alert["annotations"]["summary"]
            .as_str()
            .unwrap()
            .contains("accuracy")
    );
    assert!(receiver.attempts.load(std::sync::atomic::Ordering::SeqCst) >= 3);
    // The delivery is recorded once the receiver has answered: wait for it.
    let kinds = eventually(10, "the delivery in the event log", || async {
        let kinds = event_kinds(&server).await;
        kinds.contains(&"notified".to_string()).then_some(kinds)
    })
    .await;
    assert!(
        kinds.iter().filter(|k| *k == "delivery_failed").count() >= 2,
        "{kinds:?}"
    );
    // Two good days later it resolves, and the receiver is told.
    ingest(&server, day_events(3, 200, 0.9, true)).await;
    ingest(&server, day_events(4, 200, 0.9, true)).await;
    let resolved = eventually(20, "the resolved notification", || async {
        let got = receiver.received();
        got.iter().find(|b| b["status"] == "resolved").cloned()
    })
    .await;
    assert_eq!(resolved["alerts"][0]["endsAt"], "2024-03-14T00:00:00Z");
    assert_eq!(alerts(&server, "").await.len(), 1);
    assert_eq!(alerts(&server, "?state=firing").await.len(), 0);
}

#[tokio::test]
async fn a_late_label_turns_a_judged_span_into_an_alert() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(0).await;
    credit(&server, json!({"label_lateness": "3d"})).await;
    hook(&server, &receiver).await;
    accuracy_rule(&server).await;
    ingest(&server, day_events(0, 200, 0.9, true)).await;
    // Day 1 arrives without labels: no accuracy, nothing to judge.
    ingest(&server, day_events(1, 200, 0.0, false)).await;
    ingest(&server, day_events(2, 200, 0.9, true)).await;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert!(alerts(&server, "").await.is_empty());
    // Its labels come later: 60% wrong.
    let labels: Vec<Value> = (0..200)
        .map(|i| json!({"id": format!("d1-{i}"), "label": if i % 100 < 40 { "1" } else { "0" }}))
        .collect();
    let (status, body) = server
        .post("/api/v1/models/credit/labels", Value::Array(labels))
        .await;
    assert_eq!(
        (status, body["matched"].clone()),
        (StatusCode::OK, json!(200))
    );
    let firing = eventually(10, "the re-judged span to fire", || async {
        let list = alerts(&server, "?state=firing").await;
        (!list.is_empty()).then_some(list)
    })
    .await;
    assert_eq!(firing[0]["starts_at"], "2024-03-13T00:00:00Z");
    assert_eq!(firing[0]["value"], 0.4);
}

#[tokio::test]
async fn silences_mute_notifications_but_not_alerts() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(0).await;
    credit(&server, json!({})).await;
    hook(&server, &receiver).await;
    accuracy_rule(&server).await;
    let (status, body) = server
        .put_json(
            "/api/v1/silences/maintenance",
            json!({"matchers": {"model": "credit"}, "ends_at": "2099-01-01T00:00:00Z", "comment": "retraining"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["active"], true);
    ingest(&server, day_events(0, 200, 0.4, true)).await;
    ingest(&server, day_events(1, 200, 0.4, true)).await;
    let firing = eventually(10, "the alert to fire", || async {
        let list = alerts(&server, "?state=firing").await;
        (!list.is_empty()).then_some(list)
    })
    .await;
    assert_eq!(firing[0]["silenced_by"], json!(["maintenance"]));
    eventually(10, "the silenced event", || async {
        event_kinds(&server)
            .await
            .contains(&"silenced".to_string())
            .then_some(())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert!(receiver.received().is_empty());
    // Lifting the silence sends the firing alert.
    assert_eq!(
        server.delete("/api/v1/silences/maintenance").await,
        StatusCode::NO_CONTENT
    );
    let received = eventually(10, "the notification once unsilenced", || async {
        let got = receiver.received();
        (!got.is_empty()).then_some(got)
    })
    .await;
    assert_eq!(received[0]["status"], "firing");
}

#[tokio::test]
async fn a_model_that_goes_quiet_raises_an_absence_alert_on_the_wall_clock() {
    let server = TestServer::start().await;
    credit(&server, json!({"allowed_lateness": "0s"})).await;
    let now = modelwatch_core::time::now_ms();
    // One event a minute ago; then nothing.
    ingest(
        &server,
        vec![json!({"id": "last", "timestamp": now - 60_000, "prediction": "1"})],
    )
    .await;
    let (status, body) = server
        .put_json(
            "/api/v1/rules/quiet",
            json!({"model": "credit", "metric": "count", "window": "1m", "every": "1m",
                   "condition": {"op": "<", "threshold": 1}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["clock"], "wall");
    let firing = eventually(75, "the absence alert", || async {
        let list = alerts(&server, "?state=firing").await;
        (!list.is_empty()).then_some(list)
    })
    .await;
    assert_eq!(firing[0]["rule"], "quiet");
    assert_eq!(firing[0]["value"], 0.0);
}

#[tokio::test]
async fn definitions_are_validated_field_by_field() {
    let server = TestServer::start().await;
    credit(&server, json!({})).await;
    let rule = |extra: Value| {
        let mut body = json!({"model": "credit", "metric": "accuracy", "condition": {"op": "<", "threshold": 0.7}});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    for (body, field) in [
        (rule(json!({"metric": "acuracy"})), "metric"),
        (rule(json!({"metric": "drift.nope"})), "metric"),
        (rule(json!({"model": "nope"})), "model"),
        (rule(json!({"window": "soon"})), "window"),
        (rule(json!({"window": "30s"})), "window"),
        (rule(json!({"for": -1})), "for"),
        (rule(json!({"channels": ["nowhere"]})), "channels[0]"),
        (
            rule(json!({"condition": {"op": "!=", "threshold": 1}})),
            "condition.op",
        ),
        (
            rule(json!({"condition": {"auto": {"baseline": "yesterday"}}})),
            "condition.auto.baseline",
        ),
        (
            rule(
                json!({"metric": "missing_share.income", "condition": {"auto": {"baseline": "reference"}}}),
            ),
            "condition.auto.baseline",
        ),
        (rule(json!({"labels": {"model": "x"}})), "labels.model"),
        (rule(json!({"colour": "red"})), "colour"),
    ] {
        let (status, answer) = server.put_json("/api/v1/rules/r", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {answer}");
        assert_eq!(error_field(&answer), field, "{body} → {answer}");
    }
    let (status, answer) = server
        .put_body(
            "/api/v1/rules/r",
            "application/json",
            b"{\"model\":".to_vec(),
        )
        .await;
    assert_eq!(
        (status, error_field(&answer)),
        (StatusCode::BAD_REQUEST, "body")
    );
    let (status, answer) = server
        .put_json("/api/v1/rules/Bad%20Name", rule(json!({})))
        .await;
    assert_eq!(
        (status, error_field(&answer)),
        (StatusCode::BAD_REQUEST, "rule")
    );
    let (status, answer) = server
        .put_json(
            "/api/v1/channels/c",
            json!({"type": "webhook", "url": "gopher://x"}),
        )
        .await;
    assert_eq!(
        (status, error_field(&answer)),
        (StatusCode::BAD_REQUEST, "url")
    );
    let (status, answer) = server
        .put_json(
            "/api/v1/silences/s",
            json!({"matchers": {"model": "credit"}}),
        )
        .await;
    assert_eq!(
        (status, error_field(&answer)),
        (StatusCode::BAD_REQUEST, "ends_at")
    );
    let (status, answer) = server.get("/api/v1/alerts?state=burning").await;
    assert_eq!(
        (status, error_field(&answer)),
        (StatusCode::BAD_REQUEST, "state")
    );
    // Nothing was half-created.
    assert_eq!(server.get("/api/v1/rules").await.1["rules"], json!([]));
    assert_eq!(
        server.get("/api/v1/channels").await.1["channels"],
        json!([])
    );
    // A channel in use cannot be deleted; a rule and its model can.
    let (status, _) = server
        .put_json(
            "/api/v1/channels/ops",
            json!({"type": "slack", "url": "https://hooks.example/x"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = server
        .put_json("/api/v1/rules/r", rule(json!({"channels": ["ops"]})))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, answer) = server
        .put_json(
            "/api/v1/rules/r",
            rule(json!({"channels": ["ops"], "min_count": 5})),
        )
        .await;
    assert_eq!(
        (status, answer["min_count"].clone()),
        (StatusCode::OK, json!(5))
    );
    let (status, answer) = server.get("/api/v1/rules/r").await;
    assert_eq!(
        (status, answer["window"].clone()),
        (StatusCode::OK, json!("1h"))
    );
    let response = server
        .client
        .delete(server.url("/api/v1/channels/ops"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(
        server.delete("/api/v1/models/credit").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(server.get("/api/v1/rules").await.1["rules"], json!([]));
    assert_eq!(
        server.delete("/api/v1/channels/ops").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        server.delete("/api/v1/rules/r").await,
        StatusCode::NOT_FOUND
    );
}

/// A reference of 2,000 rows: income spread evenly over 500..1500, and predictions
/// right unless `i·7 mod 11 = 0` (so chunk accuracies vary a little).
fn reference_csv() -> Vec<u8> {
    let mut csv = String::from("income,prediction,label\n");
    for i in 0..2000 {
        let right = (i * 7) % 11 != 0;
        csv.push_str(&format!(
            "{},1,{}\n",
            500 + (i * 37) % 1000,
            if right { 1 } else { 0 }
        ));
    }
    csv.into_bytes()
}

async fn upload_reference(server: &TestServer) {
    let (status, body) = server
        .put_body(
            "/api/v1/models/credit/reference",
            "text/csv",
            reference_csv(),
        )
        .await;
    assert_eq!(
        (status, body["rows"].clone()),
        (StatusCode::OK, json!(2000)),
        "{body}"
    );
}

#[tokio::test]
async fn a_drift_rule_fires_with_the_drift_endpoints_statistic() {
    let server = TestServer::start().await;
    credit(&server, json!({})).await;
    upload_reference(&server).await;
    let (status, body) = server
        .put_json(
            "/api/v1/rules/income-drift",
            json!({"model": "credit", "metric": "drift.income", "window": "1d"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let shifted = |day: i64, shift: i64| -> Vec<Value> {
        day_events(day, 200, 0.9, true)
            .into_iter()
            .enumerate()
            .map(|(i, mut e)| {
                e["features"]["income"] = json!(500 + (i as i64 * 37) % 1000 + shift);
                e
            })
            .collect()
    };
    ingest(&server, shifted(0, 0)).await;
    ingest(&server, shifted(1, 400)).await;
    ingest(&server, shifted(2, 0)).await;
    let firing = eventually(10, "the drift alert", || async {
        let list = alerts(&server, "?state=firing").await;
        (!list.is_empty()).then_some(list)
    })
    .await;
    assert_eq!(firing.len(), 1, "{firing:?}");
    assert_eq!(firing[0]["starts_at"], "2024-03-13T00:00:00Z");
    let (_, drift) = server
        .get("/api/v1/models/credit/drift?from=2024-03-12T00:00:00Z&to=2024-03-13T00:00:00Z")
        .await;
    let income = drift["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "income")
        .unwrap();
    assert_eq!(income["drifted"], true);
    let statistic = income["statistic"].as_f64().unwrap();
    let value = firing[0]["value"].as_f64().unwrap();
    assert!((value - statistic).abs() < 1e-12, "{value} vs {statistic}");
}

#[tokio::test]
async fn a_reference_learned_threshold_shows_its_band() {
    let server = TestServer::start().await;
    credit(&server, json!({})).await;
    upload_reference(&server).await;
    let (status, body) = server
        .put_json(
            "/api/v1/rules/accuracy-band",
            json!({"model": "credit", "metric": "accuracy", "window": "1d",
                   "condition": {"auto": {"baseline": "reference", "k": 3}}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Normal days are right as often as the reference; day 1 is not.
    let like_reference = |day: i64| -> Vec<Value> {
        day_events(day, 200, 0.0, true)
            .into_iter()
            .enumerate()
            .map(|(i, mut e)| {
                e["label"] = json!(if (i * 7) % 11 != 0 { "1" } else { "0" });
                e
            })
            .collect()
    };
    ingest(&server, like_reference(0)).await;
    ingest(&server, day_events(1, 200, 0.5, true)).await;
    ingest(&server, like_reference(2)).await;
    let firing = eventually(10, "the learned-threshold alert", || async {
        let list = alerts(&server, "?state=firing").await;
        (!list.is_empty()).then_some(list)
    })
    .await;
    assert_eq!(firing.len(), 1, "{firing:?}");
    assert_eq!(firing[0]["starts_at"], "2024-03-13T00:00:00Z");
    // Expected band, worked out directly: the reference in consecutive chunks of 200
    // rows (the span's size), accuracy of each, mean ± 3 × population σ.
    let accuracies: Vec<f64> = (0..10)
        .map(|chunk| {
            let right = (chunk * 200..(chunk + 1) * 200)
                .filter(|i| (i * 7) % 11 != 0)
                .count();
            right as f64 / 200.0
        })
        .collect();
    let mean = accuracies.iter().sum::<f64>() / 10.0;
    let sigma = (accuracies.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / 10.0).sqrt();
    let (lower, upper) = (
        firing[0]["lower"].as_f64().unwrap(),
        firing[0]["upper"].as_f64().unwrap(),
    );
    assert!(
        (lower - (mean - 3.0 * sigma)).abs() < 1e-9,
        "{lower} vs {}",
        mean - 3.0 * sigma
    );
    assert!(
        (upper - (mean + 3.0 * sigma)).abs() < 1e-9,
        "{upper} vs {}",
        mean + 3.0 * sigma
    );
    assert!(
        firing[0]["annotations"]["condition"]
            .as_str()
            .unwrap()
            .starts_with("outside [")
    );
    assert_eq!(firing[0]["value"], 0.5);
}

#[tokio::test]
async fn slack_channels_get_an_incoming_webhook_message() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(0).await;
    credit(&server, json!({})).await;
    let (status, body) = server
        .put_json(
            "/api/v1/channels/hook",
            json!({"type": "slack", "url": receiver.url, "group_wait": "0s"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    accuracy_rule(&server).await;
    ingest(&server, day_events(0, 200, 0.4, true)).await;
    ingest(&server, day_events(1, 200, 0.9, true)).await;
    let message = eventually(10, "the Slack message", || async {
        receiver.received().first().cloned()
    })
    .await;
    let text = message["text"].as_str().unwrap();
    assert!(
        text.starts_with("[FIRING:1] low-accuracy credit\n"),
        "{text}"
    );
    assert!(
        text.contains("accuracy of model credit = 0.4 (< 0.7) over 1d ending 2024-03-12T00:00:00Z"),
        "{text}"
    );
    assert!(text.contains("severity=critical"), "{text}");
    assert_eq!(
        message.as_object().unwrap().len(),
        1,
        "only `text`: {message}"
    );
}

async fn alert_states(server: &TestServer, rule: &str) -> Vec<String> {
    alerts(server, "")
        .await
        .iter()
        .filter(|a| a["rule"] == rule)
        .map(|a| a["state"].as_str().unwrap().to_string())
        .collect()
}

/// A rule defined over stored data fires at once; and when its definition changes or
/// it is deleted in the store but the server stops before the engine has seen it (a
/// crash right after the `PUT` or `DELETE` committed), the restarted server still
/// resolves the old alert and notifies it, instead of keeping it firing.
#[tokio::test]
async fn a_rule_changed_or_deleted_just_before_a_stop_never_leaves_its_alert_firing() {
    let mut server = TestServer::start().await;
    let receiver = Receiver::start(0).await;
    credit(&server, json!({})).await;
    hook(&server, &receiver).await;
    for day in 0..3 {
        ingest(&server, day_events(day, 200, 0.9, true)).await;
    }
    let rule = |threshold: f64| {
        json!({"model": "credit", "metric": "count", "window": "1d", "every": "1d",
               "condition": {"op": ">", "threshold": threshold}, "keep_firing_for": "0s",
               "channels": ["hook"]})
    };
    for name in ["redefined", "deleted"] {
        let (status, body) = server
            .put_json(&format!("/api/v1/rules/{name}"), rule(0.0))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    for name in ["redefined", "deleted"] {
        eventually(20, "the rule defined over stored data to fire", || async {
            (alert_states(&server, name).await == ["firing"]).then_some(())
        })
        .await;
    }
    // Behind the running server's back, as if it had crashed right after the commit.
    let store = server.store().clone();
    store
        .write_alerting(move |tx| {
            tx.put_definition(
                modelwatch_store::alerting::Resource::Rules,
                "redefined",
                Some("credit"),
                &rule(1e12).to_string(),
                0,
            )?;
            tx.delete_definition(modelwatch_store::alerting::Resource::Rules, "deleted")?;
            Ok(())
        })
        .await
        .unwrap();
    drop(store);
    server.restart().await;
    for name in ["redefined", "deleted"] {
        eventually(20, "the stale alert to resolve", || async {
            (alert_states(&server, name).await == ["resolved"]).then_some(())
        })
        .await;
    }
    let (_, rules) = server.get("/api/v1/rules").await;
    let names: Vec<&str> = rules["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["redefined"]);
    eventually(20, "resolved notifications", || async {
        let resolved: Vec<String> = receiver
            .received()
            .iter()
            .flat_map(|n| n["alerts"].as_array().unwrap().clone())
            .filter(|a| a["status"] == "resolved")
            .map(|a| a["labels"]["alertname"].as_str().unwrap().to_string())
            .collect();
        (resolved.contains(&"redefined".to_string()) && resolved.contains(&"deleted".to_string()))
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn after_an_outlier_stored_before_the_bound_real_events_raise_their_alert_again() {
    // The server as it was before event times were bounded: one event dated in year
    // 9999 is stored, and the model's event clock jumps there.
    let mut server =
        TestServer::start_with(|config| config.limits.max_event_future = i64::MAX / 2).await;
    credit(&server, json!({"allowed_lateness": "0s"})).await;
    let (status, body) = server
        .put_json(
            "/api/v1/rules/low-accuracy",
            json!({"model": "credit", "metric": "accuracy", "window": "1m", "every": "1m",
                   "clock": "event", "condition": {"op": "<", "threshold": 0.7},
                   "keep_firing_for": "0s"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let now = modelwatch_core::time::now_ms();
    let minute = now - now.rem_euclid(60_000) - 30 * 60_000;
    let at = |id: &str, ts: Value, label: &str| json!({"id": id, "timestamp": ts, "prediction": "1", "label": label});
    ingest(
        &server,
        vec![
            at("good", json!(minute + 1), "1"),
            at("outlier", json!("9999-12-31T23:59:00Z"), "1"),
        ],
    )
    .await;
    // Restarted with the bound: the clock is recovered from the real data, and the
    // rule, judged toward year 9999, starts again from it.
    server
        .restart_with(|config| config.limits = modelwatch_server::Limits::default())
        .await;
    // Real bad events that follow raise their alert (before, they never did).
    ingest(
        &server,
        vec![
            at("bad1", json!(minute + 2 * 60_000 + 1), "0"),
            at("bad2", json!(minute + 2 * 60_000 + 2), "0"),
            at("next", json!(minute + 4 * 60_000), "1"),
        ],
    )
    .await;
    let firing = eventually(30, "the alert on real data to fire", || async {
        let list = alerts(&server, "?state=firing").await;
        (!list.is_empty()).then_some(list)
    })
    .await;
    assert_eq!(firing.len(), 1, "{firing:?}");
    assert_eq!(
        firing[0]["starts_at"],
        modelwatch_core::time::format_timestamp(minute + 3 * 60_000)
    );
    // An outlier now is refused with its reason, and moves nothing.
    let (status, body) = server
        .post(
            "/api/v1/models/credit/predictions",
            json!([at("late-outlier", json!("9999-12-31T23:59:00Z"), "1")]),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["rejected"][0]["field"], "timestamp", "{body}");
}

#[tokio::test]
async fn an_alert_on_the_estimate_is_withdrawn_when_the_labels_land() {
    let server = TestServer::start().await;
    credit(&server, json!({"label_lateness": "3d"})).await;
    // A calibrated reference: score 0.2 is right 80% of the time, 0.9 is positive 90%.
    let reference: Vec<Value> = (0..400)
        .map(|i| {
            let high = i % 2 == 0;
            let (score, prediction) = if high { (0.9, "1") } else { (0.2, "0") };
            let positive = if high { i % 20 != 0 } else { i % 10 < 2 };
            json!({"features": {"income": i}, "prediction": prediction, "score": score,
                   "label": if positive { "1" } else { "0" }})
        })
        .collect();
    let (status, body) = server
        .put_body(
            "/api/v1/models/credit/reference",
            "application/json",
            serde_json::to_vec(&reference).unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = server
        .put_json(
            "/api/v1/rules/low-estimate",
            json!({"model": "credit", "metric": "estimated_accuracy", "window": "1d", "every": "1d",
                   "condition": {"op": "<", "threshold": 0.7}, "confidence": 0.95, "min_count": 100}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let scored = |day: i64, score: f64, labelled: bool| -> Vec<Value> {
        day_events(day, 200, 1.0, labelled)
            .into_iter()
            .map(|mut e| {
                e["score"] = json!(score);
                e
            })
            .collect()
    };
    // Day 0 has no labels yet and scores of 0.5 on positive predictions: an expected
    // accuracy near 0.5, its whole interval below 0.7.
    ingest(&server, scored(0, 0.5, false)).await;
    ingest(&server, scored(1, 0.9, true)).await;
    let (_, metrics) = server
        .get("/api/v1/models/credit/metrics?from=2024-03-11&to=2024-03-12")
        .await;
    let summary = &metrics["summary"];
    assert_eq!(summary["label_coverage"], 0.0, "{summary}");
    assert!(
        summary["estimated_accuracy_upper"].as_f64().unwrap() < 0.7,
        "{summary}"
    );
    let firing = eventually(10, "the alert on the estimate", || async {
        let list = alerts(&server, "?state=firing").await;
        (!list.is_empty()).then_some(list)
    })
    .await;
    assert_eq!(firing[0]["starts_at"], "2024-03-12T00:00:00Z");
    // The labels land: every prediction of day 0 was right. The re-judged span holds no
    // more, and the alert is withdrawn.
    let labels: Vec<Value> = (0..200)
        .map(|i| json!({"id": format!("d0-{i}"), "label": "1"}))
        .collect();
    let (status, body) = server
        .post("/api/v1/models/credit/labels", Value::Array(labels))
        .await;
    assert_eq!(
        (status, body["matched"].clone()),
        (StatusCode::OK, json!(200))
    );
    eventually(10, "the alert to be withdrawn", || async {
        alerts(&server, "?state=firing")
            .await
            .is_empty()
            .then_some(())
    })
    .await;
    let (_, metrics) = server
        .get("/api/v1/models/credit/metrics?from=2024-03-11&to=2024-03-12")
        .await;
    assert_eq!(metrics["summary"]["estimated_accuracy"], 1.0);
    assert_eq!(metrics["summary"]["label_coverage"], 1.0);
    let kinds = event_kinds(&server).await;
    assert!(kinds.contains(&"firing".to_string()), "{kinds:?}");
    assert!(kinds.contains(&"resolved".to_string()), "{kinds:?}");
}
