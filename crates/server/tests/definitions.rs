//! Rule, channel, silence and model definitions as typed structs, over a real server:
//! what `GET` shows is what was sent (with defaults filled in), byte for byte, and can
//! be sent again; unknown fields and bad durations are refused by their path; and
//! definitions stored by the code before the typed definitions still load.

mod common;

use common::{TestServer, error_field};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn put_raw(server: &TestServer, path: &str, body: &Value) -> (StatusCode, String) {
    let response = server
        .client
        .put(server.url(path))
        .json(body)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn get_raw(server: &TestServer, path: &str) -> String {
    let response = server.client.get(server.url(path)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    response.text().await.unwrap()
}

async fn credit(server: &TestServer) {
    let (status, body) = server
        .put_model(
            "credit",
            json!({"task": "binary_classification", "allowed_lateness": "300s",
                   "features": [{"name": "income", "type": "numeric"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// The body of a `GET`, without the name it adds, to be sent again.
fn without(text: &str, key: &str) -> Value {
    let mut body: Value = serde_json::from_str(text).unwrap();
    body.as_object_mut().unwrap().remove(key);
    body
}

#[tokio::test]
async fn a_definition_read_back_is_the_definition_sent_and_can_be_sent_again() {
    let server = TestServer::start().await;
    credit(&server).await;
    let channel = json!({"type": "webhook", "url": "http://127.0.0.1:9/hook", "group_wait": "60s",
                         "send_resolved": false});
    let (status, put) = put_raw(&server, "/api/v1/channels/ops", &channel).await;
    assert_eq!(status, StatusCode::CREATED, "{put}");
    assert_eq!(
        put,
        r#"{"group_by":["alertname","model"],"group_interval":"5m","group_wait":"1m","name":"ops","repeat_interval":"4h","send_resolved":false,"type":"webhook","url":"http://127.0.0.1:9/hook"}"#
    );
    assert_eq!(get_raw(&server, "/api/v1/channels/ops").await, put);

    let rule = json!({"model": "credit", "metric": "count", "window": "60m",
                      "condition": {"op": "<", "threshold": 1}, "for": "0s",
                      "keep_firing_for": "90s", "min_count": 5, "severity": "critical",
                      "labels": {"team": "risk"}, "channels": ["ops"], "description": "quiet"});
    let (status, put) = put_raw(&server, "/api/v1/rules/quiet", &rule).await;
    assert_eq!(status, StatusCode::CREATED, "{put}");
    assert_eq!(
        put,
        r#"{"channels":["ops"],"clock":"wall","condition":{"op":"<","threshold":1},"description":"quiet","every":"1h","for":"0s","keep_firing_for":"90s","labels":{"team":"risk"},"metric":"count","min_count":5,"model":"credit","name":"quiet","severity":"critical","window":"1h"}"#
    );
    assert_eq!(get_raw(&server, "/api/v1/rules/quiet").await, put);
    // What GET shows, sent again, is the same definition.
    let (status, again) = put_raw(&server, "/api/v1/rules/quiet", &without(&put, "name")).await;
    assert_eq!((status, again.as_str()), (StatusCode::OK, put.as_str()));

    let silence = json!({"matchers": {"model": "credit"}, "starts_at": 1_000,
                         "ends_at": "2099-01-01T00:00:00Z", "comment": "upgrade"});
    let (status, put) = put_raw(&server, "/api/v1/silences/upgrade", &silence).await;
    assert_eq!(status, StatusCode::CREATED, "{put}");
    assert_eq!(
        put,
        r#"{"active":true,"comment":"upgrade","ends_at":"2099-01-01T00:00:00Z","id":"upgrade","matchers":{"model":"credit"},"starts_at":"1970-01-01T00:00:01Z"}"#
    );
    let mut shown = without(&put, "id");
    shown.as_object_mut().unwrap().remove("active");
    let (status, again) = put_raw(&server, "/api/v1/silences/upgrade", &shown).await;
    assert_eq!((status, again.as_str()), (StatusCode::OK, put.as_str()));

    let model = get_raw(&server, "/api/v1/models/credit").await;
    assert!(model.contains(r#""allowed_lateness":"300s""#), "{model}");

    // And all of it after a restart, from the store.
    let before = [
        get_raw(&server, "/api/v1/rules").await,
        get_raw(&server, "/api/v1/channels").await,
        get_raw(&server, "/api/v1/silences").await,
    ];
    let mut server = server;
    server.restart().await;
    let after = [
        get_raw(&server, "/api/v1/rules").await,
        get_raw(&server, "/api/v1/channels").await,
        get_raw(&server, "/api/v1/silences").await,
    ];
    assert_eq!(after, before);
}

#[tokio::test]
async fn unknown_fields_and_bad_durations_are_refused_by_their_path() {
    let server = TestServer::start().await;
    credit(&server).await;
    let rule = json!({"model": "credit", "metric": "accuracy", "condition": {"op": "<", "threshold": 0.7}});
    let with = |base: &Value, extra: Value| {
        let mut body = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let channel = json!({"type": "webhook", "url": "http://127.0.0.1:9/hook"});
    let silence = json!({"matchers": {"model": "credit"}, "ends_at": "2099-01-01T00:00:00Z"});
    for (path, body, field, says) in [
        (
            "/api/v1/rules/r",
            with(&rule, json!({"colour": "red"})),
            "colour",
            "unknown field",
        ),
        (
            "/api/v1/rules/r",
            with(
                &rule,
                json!({"condition": {"op": "<", "threshold": 0.7, "unit": "%"}}),
            ),
            "condition.unit",
            "unknown field",
        ),
        (
            "/api/v1/rules/r",
            with(&rule, json!({"for": "a while"})),
            "for",
            "a while",
        ),
        (
            "/api/v1/rules/r",
            with(&rule, json!({"keep_firing_for": 60})),
            "keep_firing_for",
            "a duration",
        ),
        (
            "/api/v1/channels/c",
            with(&channel, json!({"retries": 3})),
            "retries",
            "unknown field",
        ),
        (
            "/api/v1/channels/c",
            with(&channel, json!({"group_interval": "5 parsecs"})),
            "group_interval",
            "5 parsecs",
        ),
        (
            "/api/v1/silences/s",
            with(&silence, json!({"until": 1})),
            "until",
            "unknown field",
        ),
        (
            "/api/v1/models/m",
            json!({"task": "regression", "label_lateness": "a day"}),
            "label_lateness",
            "a day",
        ),
    ] {
        let (status, answer) = server.put_json(path, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {answer}");
        assert_eq!(answer["error"]["code"], "invalid_field", "{answer}");
        assert_eq!(error_field(&answer), field, "{body} → {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{body} → {answer}");
    }
    assert_eq!(server.get("/api/v1/rules").await.1["rules"], json!([]));
}

/// Rows as the code before typed definitions wrote them: the definition as sent (keys in
/// order, `null` for a field left to its default, numbers as written), a rule's
/// `description` and a channel's `starttls` of any type, a silence's start in epoch ms.
#[tokio::test]
async fn definitions_stored_by_the_untyped_code_still_load() {
    let mut server = TestServer::start().await;
    credit(&server).await;
    let rows = [
        (
            modelwatch_store::alerting::Resource::Channels,
            "mail",
            None,
            r#"{"from":"mw@example.org","group_by":null,"password":"secret","smtp":"smtps://mail.example.org","starttls":7,"to":["oncall@example.org"],"type":"email","username":"mw"}"#,
        ),
        (
            modelwatch_store::alerting::Resource::Rules,
            "quiet",
            Some("credit"),
            r#"{"channels":["mail"],"clock":"wall","condition":{"op":"<","threshold":1},"description":5,"every":"1h","for":null,"metric":"count","model":"credit","window":"1h"}"#,
        ),
        (
            modelwatch_store::alerting::Resource::Silences,
            "upgrade",
            None,
            r#"{"comment":null,"ends_at":"2099-01-01T00:00:00Z","matchers":{"model":"credit"},"starts_at":1000}"#,
        ),
    ];
    let store = server.store().clone();
    store
        .write_alerting(move |tx| {
            for (resource, name, model, text) in rows {
                tx.put_definition(resource, name, model, text, 0)?;
            }
            Ok(())
        })
        .await
        .unwrap();
    drop(store);
    server.restart().await;
    assert_eq!(
        get_raw(&server, "/api/v1/rules/quiet").await,
        r#"{"channels":["mail"],"clock":"wall","condition":{"op":"<","threshold":1},"every":"1h","metric":"count","model":"credit","name":"quiet","window":"1h"}"#
    );
    let (_, channel) = server.get("/api/v1/channels/mail").await;
    assert_eq!(channel["password"], "<hidden>", "{channel}");
    assert_eq!(
        channel["group_by"],
        json!(["alertname", "model"]),
        "{channel}"
    );
    let (_, silence) = server.get("/api/v1/silences/upgrade").await;
    assert_eq!(silence["starts_at"], "1970-01-01T00:00:01Z", "{silence}");
    assert_eq!(silence["comment"], "", "{silence}");
}
