//! The rule backtest (`POST /api/v1/rules/backtest`) against the live engine: over the
//! alerts test's six days it gives the alerts, spans and notifications that live
//! evaluation recorded, and writes nothing; its tuning proposal on a hand-worked case.

mod common;

use common::{Receiver, TestServer, eventually};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// 2024-03-11T00:00:00Z
const DAY0: i64 = 1_710_115_200_000;
const DAY: i64 = 86_400_000;

async fn credit(server: &TestServer) {
    let definition = json!({"task": "binary_classification", "features": [{"name": "income", "type": "numeric"}]});
    let (status, body) = server.put_model("credit", definition).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// `n` events spread over day `day`, of which `correct_percent` in every hundred are
/// predicted right (the alerts test's days, with an exact integer share).
fn day_events(day: i64, n: i64, correct_percent: i64) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let correct = (i % 100) < correct_percent;
            json!({
                "id": format!("d{day}-{i}"),
                "timestamp": DAY0 + day * DAY + i * (DAY / n),
                "features": {"income": 1000 + i},
                "prediction": "1",
                "label": if correct { "1" } else { "0" },
            })
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

/// The alerts test's rule.
fn accuracy_rule() -> Value {
    json!({"model": "credit", "metric": "accuracy", "window": "1d", "every": "1d",
           "condition": {"op": "<", "threshold": 0.7}, "min_count": 100,
           "severity": "critical", "labels": {"team": "risk"}, "channels": ["hook"]})
}

/// The event log, oldest first.
async fn events(server: &TestServer) -> Vec<Value> {
    let (status, body) = server.get("/api/v1/events?limit=1000").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut events = body["events"].as_array().unwrap().clone();
    events.reverse();
    events
}

fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["kind"] == kind).collect()
}

/// Every row of every table of the server's store, in a stable order.
fn store_dump(server: &TestServer) -> Vec<String> {
    use rusqlite::{Connection, OpenFlags};
    let path = server._dir.path().join("modelwatch.sqlite");
    let connection = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let tables: Vec<String> = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(tables.len() > 5, "{tables:?}");
    let mut dump = Vec::new();
    for table in tables {
        let mut statement = connection
            .prepare(&format!("SELECT * FROM \"{table}\""))
            .unwrap();
        let columns = statement.column_count();
        let mut rows: Vec<String> = statement
            .query_map([], |row| {
                let values: Vec<rusqlite::types::Value> =
                    (0..columns).map(|i| row.get(i).unwrap()).collect();
                Ok(format!("{table}: {values:?}"))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        rows.sort();
        dump.extend(rows);
    }
    dump
}

async fn backtest(server: &TestServer, body: Value) -> Value {
    let (status, answer) = server.post("/api/v1/rules/backtest", body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

#[tokio::test]
async fn a_backtest_gives_what_the_live_replay_recorded_and_writes_nothing() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(0).await;
    credit(&server).await;
    // The replay below takes seconds of wall time for days of event time: a repeat
    // interval longer than the replay keeps the live engine's repeats (wall clock) and
    // the backtest's (event time) equal, at none.
    let (status, body) = server
        .put_json(
            "/api/v1/channels/hook",
            json!({"type": "webhook", "url": receiver.url, "group_wait": "0s",
                   "group_interval": "0s", "repeat_interval": "30d"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = server
        .put_json("/api/v1/rules/low-accuracy", accuracy_rule())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // The alerts test's six days, day 2 (2024-03-13) bad, sent day by day as they would
    // arrive live; each day's events complete the span of the day before.
    for day in 0..3 {
        ingest(
            &server,
            day_events(day, 200, if day == 2 { 50 } else { 90 }),
        )
        .await;
    }
    ingest(&server, day_events(3, 200, 90)).await;
    eventually(20, "the alert to fire", || async {
        let events = events(&server).await;
        (!of_kind(&events, "firing").is_empty()).then_some(())
    })
    .await;
    ingest(&server, day_events(4, 200, 90)).await;
    ingest(&server, day_events(5, 200, 90)).await;
    let live = eventually(20, "the resolution, notified", || async {
        let events = events(&server).await;
        (of_kind(&events, "resolved").len() == 1 && of_kind(&events, "notified").len() == 2)
            .then_some(events)
    })
    .await;
    assert_eq!(receiver.received().len(), 2);

    let before = store_dump(&server);
    let answer = backtest(
        &server,
        json!({"name": "low-accuracy", "rule": accuracy_rule(),
               "from": "2024-03-11T00:00:00Z", "to": "2024-03-17T00:00:00Z"}),
    )
    .await;
    // Nothing written: every row of every table is as it was, and nobody was told.
    assert_eq!(store_dump(&server), before);
    assert_eq!(receiver.received().len(), 2);

    // Alerts and their spans equal what live evaluation recorded.
    let firing = of_kind(&live, "firing");
    let resolved = of_kind(&live, "resolved");
    let live_alerts: Vec<Value> = firing
        .iter()
        .zip(&resolved)
        .map(|(f, r)| {
            json!({"fingerprint": f["detail"]["detail"]["labels"]["alertname"],
                   "starts_at": f["detail"]["starts_at"], "ends_at": r["detail"]["ends_at"],
                   "value": f["detail"]["detail"]["value"]})
        })
        .collect();
    let backtest_alerts: Vec<Value> = answer["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            json!({"fingerprint": a["labels"]["alertname"], "starts_at": a["starts_at"],
                   "ends_at": a["ends_at"], "value": a["value"]})
        })
        .collect();
    assert_eq!(backtest_alerts, live_alerts);
    assert_eq!(live_alerts.len(), 1);
    assert_eq!(live_alerts[0]["starts_at"], "2024-03-14T00:00:00Z");
    assert_eq!(live_alerts[0]["ends_at"], "2024-03-15T00:00:00Z");
    let (_, listed) = server.get("/api/v1/alerts").await;
    let listed = &listed["alerts"][0];
    assert_eq!(answer["alerts"][0]["fingerprint"], listed["fingerprint"]);
    assert_eq!(answer["alerts"][0]["labels"], listed["labels"]);

    // Notifications: the same channels, alerts and statuses, in the same order.
    let live_notifications: Vec<Value> = of_kind(&live, "notified")
        .iter()
        .map(|n| json!({"channel": n["detail"]["channel"], "alerts": n["detail"]["alerts"]}))
        .collect();
    let backtest_notifications: Vec<Value> = answer["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let alerts: Vec<Value> = n["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| json!({"fingerprint": a["fingerprint"], "status": a["status"]}))
                .collect();
            json!({"channel": n["channel"], "alerts": alerts})
        })
        .collect();
    assert_eq!(backtest_notifications, live_notifications);
    // On the event-time clock: told at the end of the bad day's span, and when the
    // second good day's span resolved it.
    assert_eq!(answer["notifications"][0]["at"], "2024-03-14T00:00:00Z");
    assert_eq!(answer["notifications"][1]["at"], "2024-03-16T00:00:00Z");

    // Six daily spans, one below the threshold; one alert, no flap.
    assert_eq!(answer["counts"]["spans"], 6);
    assert_eq!(answer["counts"]["spans_held"], 1);
    assert_eq!(answer["counts"]["flaps"], 0);
    let values: Vec<f64> = answer["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["value"].as_f64().unwrap())
        .collect();
    assert_eq!(values, [0.9, 0.9, 0.5, 0.9, 0.9, 0.9]);
}

/// Two weeks of daily accuracy: bad days of 0.5, 0.6, 0.7 and 0.8 on days 0, 2, 4 and
/// 6, every other day 0.95.
async fn two_weeks(server: &TestServer) {
    credit(server).await;
    let percent = [50, 95, 60, 95, 70, 95, 80, 95, 95, 95, 95, 95, 95, 95];
    let mut events = Vec::new();
    for (day, p) in percent.iter().enumerate() {
        events.extend(day_events(day as i64, 100, *p));
    }
    ingest(server, events).await;
}

fn isolated_bad_days_rule() -> Value {
    json!({"model": "credit", "metric": "accuracy", "window": "1d",
           "condition": {"op": "<", "threshold": 0.9}, "keep_firing_for": "1d"})
}

#[tokio::test]
async fn tuning_proposes_the_most_sensitive_threshold_within_the_budget() {
    let server = TestServer::start().await;
    two_weeks(&server).await;
    let answer = backtest(
        &server,
        json!({"rule": isolated_bad_days_rule(), "from": DAY0, "to": DAY0 + 14 * DAY,
               "tune": {"target_alerts_per_week": 1}}),
    )
    .await;
    // By hand: each bad day is below 0.9 alone (a good day between resolves it, as
    // keep_firing_for is one span): four alerts in two weeks, three of them flaps.
    assert_eq!(answer["counts"]["alerts"], 4);
    assert_eq!(answer["counts"]["alerts_per_week"], 2.0);
    assert_eq!(answer["counts"]["flaps"], 3);
    let tune = &answer["tune"];
    assert_eq!(tune["parameter"], "threshold");
    assert_eq!(tune["current"], 0.9);
    // The distinct day values and the current threshold, highest (most sensitive for
    // `<`) first; a threshold t alerts on the days strictly below it.
    let tried: Vec<(f64, u64)> = tune["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["value"].as_f64().unwrap(), c["alerts"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        tried,
        [(0.95, 4), (0.9, 4), (0.8, 3), (0.7, 2), (0.6, 1), (0.5, 0)]
    );
    // 0.7 gives 2 alerts in 2 weeks, 1 a week: the most sensitive within the budget.
    assert_eq!(tune["proposed"], 0.7);
    assert_eq!(tune["met"], true);
    assert_eq!(tune["rule"]["condition"]["threshold"], 0.7);
    assert_eq!(tune["candidates"][3]["alerts_per_week"], 1.0);

    // Tuning `for` instead: the bad days are single spans, so `for` of two spans or
    // more never fires; 0s and 1d fire on each.
    let answer = backtest(
        &server,
        json!({"rule": isolated_bad_days_rule(), "from": DAY0, "to": DAY0 + 14 * DAY,
               "tune": {"target_alerts_per_week": 1, "parameter": "for"}}),
    )
    .await;
    let tune = &answer["tune"];
    assert_eq!(tune["parameter"], "for");
    assert_eq!(tune["candidates"][0]["value"], "0ms");
    assert_eq!(tune["candidates"][0]["alerts"], 4);
    assert_eq!(tune["candidates"][1]["alerts"], 4);
    assert_eq!(tune["candidates"][2]["value"], "2d");
    assert_eq!(tune["candidates"][2]["alerts"], 0);
    assert_eq!(tune["proposed"], "2d");
    assert_eq!(tune["rule"]["for"], "2d");
}

#[tokio::test]
async fn a_silence_mutes_the_backtest_notifications_it_would_have_muted() {
    let server = TestServer::start().await;
    two_weeks(&server).await;
    let (status, body) = server
        .put_json(
            "/api/v1/channels/hook",
            json!({"type": "webhook", "url": "http://127.0.0.1:9/", "group_wait": "0s",
                   "group_interval": "0s", "repeat_interval": "30d"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Silenced from the middle of day 2 to the middle of day 5 (event time).
    let (status, body) = server
        .put_json(
            "/api/v1/silences/maintenance",
            json!({"matchers": {"model": "credit"}, "starts_at": DAY0 + 2 * DAY + DAY / 2,
                   "ends_at": DAY0 + 5 * DAY + DAY / 2, "comment": "planned"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mut rule = isolated_bad_days_rule();
    rule["channels"] = json!(["hook"]);
    let answer = backtest(
        &server,
        json!({"rule": rule, "from": DAY0, "to": DAY0 + 14 * DAY}),
    )
    .await;
    let sent: Vec<(String, String)> = answer["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["at"].as_str().unwrap().to_string(),
                n["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // Alerts fire at the ends of the bad days (03-12, 03-14, 03-16, 03-18) and resolve
    // a day later. The second fires and resolves inside the silence: never told. The
    // third fires inside it and is told when the silence ends (03-16T12:00), as
    // Alertmanager tells a firing alert whose silence expired.
    assert_eq!(
        sent,
        [
            ("2024-03-12T00:00:00Z".into(), "firing".into()),
            ("2024-03-13T00:00:00Z".into(), "resolved".into()),
            ("2024-03-16T12:00:00Z".into(), "firing".into()),
            ("2024-03-17T00:00:00Z".into(), "resolved".into()),
            ("2024-03-18T00:00:00Z".into(), "firing".into()),
            ("2024-03-19T00:00:00Z".into(), "resolved".into()),
        ]
    );
    assert_eq!(answer["counts"]["alerts"], 4);
    assert!(
        answer["muted"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["kind"] == "silenced" && m["silence"] == "maintenance"),
        "{answer}"
    );
    // Logged once per alert identity and status, as the live engine logs them (every
    // alert of one rule has the same labels, so the same fingerprint).
    assert_eq!(answer["counts"]["muted"], 2);
}

#[tokio::test]
async fn a_rule_named_backtest_is_still_reachable() {
    let server = TestServer::start().await;
    credit(&server).await;
    let rule = isolated_bad_days_rule();
    let (status, body) = server.put_json("/api/v1/rules/backtest", rule).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = server.get("/api/v1/rules/backtest").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "backtest");
    assert_eq!(
        server.delete("/api/v1/rules/backtest").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        server.get("/api/v1/rules/backtest").await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_long_firing_alert_repeats_on_the_event_clock() {
    let server = TestServer::start().await;
    credit(&server).await;
    // Four bad days, then good ones.
    let mut events = Vec::new();
    for day in 0..7 {
        events.extend(day_events(day, 100, if day < 4 { 50 } else { 95 }));
    }
    ingest(&server, events).await;
    let (status, body) = server
        .put_json(
            "/api/v1/channels/hook",
            json!({"type": "webhook", "url": "http://127.0.0.1:9/", "group_wait": "0s",
                   "group_interval": "1h", "repeat_interval": "1d"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mut rule = isolated_bad_days_rule();
    rule["channels"] = json!(["hook"]);
    let answer = backtest(
        &server,
        json!({"rule": rule, "from": DAY0, "to": DAY0 + 7 * DAY}),
    )
    .await;
    let sent: Vec<(&str, &str)> = answer["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["at"].as_str().unwrap(), n["status"].as_str().unwrap()))
        .collect();
    // By hand: fires at the end of day 0 (03-12), re-sent every repeat_interval (a day of
    // event time, on the hourly group_interval grid) while it fires, resolved at the end
    // of the first good day (03-16), a span after the last bad one.
    assert_eq!(
        sent,
        [
            ("2024-03-12T00:00:00Z", "firing"),
            ("2024-03-13T00:00:00Z", "firing"),
            ("2024-03-14T00:00:00Z", "firing"),
            ("2024-03-15T00:00:00Z", "firing"),
            ("2024-03-16T00:00:00Z", "resolved"),
        ]
    );
    assert_eq!(answer["counts"]["alerts"], 1);
    assert_eq!(answer["alerts"][0]["ends_at"], "2024-03-16T00:00:00Z");
}
