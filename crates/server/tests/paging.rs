//! Phone, SMS and urgency end to end: PagerDuty, Twilio and Opsgenie channels against
//! local receivers that check each provider's documented request field by field, and
//! the route tree and inhibition on the event clock (spans are judged as events
//! arrive, so the test drives time with the events it sends).

mod common;

use std::sync::{Arc, Mutex};

use common::{Receiver, TestServer, eventually};
use modelwatch_store::alerting::Resource;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// 2024-03-11T00:00:00Z
const DAY0: i64 = 1_710_115_200_000;
const DAY: i64 = 86_400_000;
const SID: &str = "AC0123456789abcdef0123456789abcdef";
/// `base64("AC0123456789abcdef0123456789abcdef:s3cret-token")`, by Python's base64.
const TWILIO_BASIC: &str = "Basic QUMwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjpzM2NyZXQtdG9rZW4=";

/// One request a provider's stand-in received.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    query: Option<String>,
    content_type: String,
    authorization: String,
    body: String,
}

impl Request {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// The form fields, decoded by the `url` crate's `application/x-www-form-urlencoded`
    /// parser.
    fn form(&self) -> Vec<(String, String)> {
        reqwest::Url::parse(&format!("http://x/?{}", self.body))
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }
}

/// A stand-in for a provider's API on 127.0.0.1: records every request and answers
/// `202 {}` as PagerDuty and Opsgenie do (Twilio answers 201; any 2xx is success).
struct Provider {
    base: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Provider {
    async fn start() -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        let app = axum::Router::new().fallback(
            move |method: axum::http::Method,
                  uri: axum::http::Uri,
                  headers: axum::http::HeaderMap,
                  body: String| {
                let recorded = recorded.clone();
                async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string()
                    };
                    recorded.lock().unwrap().push(Request {
                        method: method.to_string(),
                        path: uri.path().to_string(),
                        query: uri.query().map(str::to_string),
                        content_type: header("content-type"),
                        authorization: header("authorization"),
                        body,
                    });
                    (axum::http::StatusCode::ACCEPTED, "{}")
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            base: format!("http://{address}"),
            requests,
        }
    }

    fn received(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    async fn wait_for(&self, count: usize, what: &str) -> Vec<Request> {
        eventually(20, what, || async {
            let got = self.received();
            (got.len() >= count).then_some(got)
        })
        .await
    }
}

async fn credit(server: &TestServer) {
    let (status, body) = server
        .put_model("credit", json!({"task": "binary_classification"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn put(server: &TestServer, path: &str, body: Value) -> Value {
    let (status, answer) = server.put_json(path, body).await;
    assert!(status.is_success(), "{path}: {status} {answer}");
    answer
}

/// An accuracy rule (`< threshold`) of `severity`, to `channels` (`None`: routed).
async fn rule(
    server: &TestServer,
    name: &str,
    threshold: f64,
    severity: &str,
    channels: Option<&[&str]>,
) {
    let mut definition = json!({"model": "credit", "metric": "accuracy", "window": "1d", "every": "1d",
                                "condition": {"op": "<", "threshold": threshold}, "min_count": 100,
                                "severity": severity, "labels": {"team": "risk"}});
    if let Some(channels) = channels {
        definition["channels"] = json!(channels);
    }
    put(server, &format!("/api/v1/rules/{name}"), definition).await;
}

/// 200 events over day `day`, a share `accuracy` predicted right.
async fn day(server: &TestServer, day: i64, accuracy: f64) {
    let events: Vec<Value> = (0..200)
        .map(|i| {
            let correct = (i % 100) < (accuracy * 100.0) as i64;
            json!({"id": format!("d{day}-{i}"), "timestamp": DAY0 + day * DAY + i * (DAY / 200),
                   "prediction": "1", "label": if correct { "1" } else { "0" }})
        })
        .collect();
    let (status, body) = server
        .post("/api/v1/models/credit/predictions", Value::Array(events))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Day 0 good, day 1 bad (accuracy 0.4): day 2's events complete day 1, which fires.
async fn bad_day(server: &TestServer) {
    day(server, 0, 0.9).await;
    day(server, 1, 0.4).await;
    day(server, 2, 0.9).await;
}

/// Two good days after the bad one resolve it.
async fn recovery(server: &TestServer) {
    day(server, 3, 0.9).await;
    day(server, 4, 0.9).await;
}

/// Whether the stored channel definitions contain `text` (secrets must not).
fn stored_in_clear(server: &TestServer, text: &str) -> bool {
    server
        .store()
        .load_definitions(Resource::Channels)
        .unwrap()
        .iter()
        .any(|(_, definition)| definition.contains(text))
}

#[tokio::test]
async fn pagerduty_gets_a_trigger_then_a_resolve_with_the_same_dedup_key() {
    let server = TestServer::start().await;
    let pagerduty = Provider::start().await;
    credit(&server).await;
    let key = "R0123456789ABCDEF0123456789ABCDE";
    let shown = put(
        &server,
        "/api/v1/channels/pd",
        json!({"type": "pagerduty", "url": pagerduty.base,
                    "routing_key": key, "group_wait": "0s", "group_interval": "0s"}),
    )
    .await;
    assert_eq!(shown["routing_key"], "<hidden>");
    assert!(!stored_in_clear(&server, key));
    rule(&server, "low-accuracy", 0.7, "critical", Some(&["pd"])).await;
    bad_day(&server).await;
    let got = pagerduty.wait_for(1, "the trigger").await;
    let trigger = &got[0];
    assert_eq!(
        (trigger.method.as_str(), trigger.path.as_str()),
        ("POST", "/v2/enqueue")
    );
    assert_eq!(trigger.content_type, "application/json");
    let body = trigger.json();
    assert_eq!(body["routing_key"], key);
    assert_eq!(body["event_action"], "trigger");
    let dedup_key = body["dedup_key"].as_str().unwrap().to_string();
    assert_eq!(dedup_key.len(), 16, "{dedup_key}");
    let payload = &body["payload"];
    assert!(
        payload["summary"]
            .as_str()
            .unwrap()
            .starts_with("accuracy of model credit = 0.4"),
        "{payload}"
    );
    assert_eq!(payload["source"], "credit");
    assert_eq!(payload["severity"], "critical");
    assert_eq!(payload["timestamp"], "2024-03-13T00:00:00Z");
    assert_eq!(payload["custom_details"]["labels"]["team"], "risk");
    assert_eq!(
        payload["custom_details"]["labels"]["alertname"],
        "low-accuracy"
    );
    recovery(&server).await;
    let got = pagerduty.wait_for(2, "the resolve").await;
    let resolve = got[1].json();
    // PagerDuty documents exactly these three fields for a resolve.
    assert_eq!(
        resolve,
        json!({"routing_key": key, "event_action": "resolve", "dedup_key": dedup_key})
    );
    assert_eq!(got[1].path, "/v2/enqueue");
    assert_eq!(got.len(), 2);
}

#[tokio::test]
async fn twilio_texts_each_number_with_basic_auth_and_a_form() {
    let server = TestServer::start().await;
    let twilio = Provider::start().await;
    let shown = put(&server, "/api/v1/channels/sms", json!({"type": "twilio", "url": twilio.base, "account_sid": SID,
                    "auth_token": "s3cret-token", "from": "+15005550006", "to": ["+14155550100", "+14155550101"]})).await;
    assert_eq!(shown["auth_token"], "<hidden>");
    assert_eq!(shown["mode"], "sms");
    assert!(!stored_in_clear(&server, "s3cret-token"));
    let (status, answer) = server.post("/api/v1/channels/sms/test", json!({})).await;
    assert_eq!(
        (status, answer["delivered"].clone()),
        (StatusCode::OK, json!(true)),
        "{answer}"
    );
    let got = twilio.wait_for(2, "two messages").await;
    for (request, to) in got.iter().zip(["+14155550100", "+14155550101"]) {
        assert_eq!(request.method, "POST");
        assert_eq!(
            request.path,
            format!("/2010-04-01/Accounts/{SID}/Messages.json")
        );
        assert_eq!(request.content_type, "application/x-www-form-urlencoded");
        assert_eq!(request.authorization, TWILIO_BASIC);
        let form = request.form();
        let names: Vec<&str> = form.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["To", "From", "Body"]);
        assert_eq!(form[0].1, to);
        assert_eq!(form[1].1, "+15005550006");
        assert!(form[2].1.starts_with("[FIRING:1]"), "{}", form[2].1);
        assert!(
            form[2].1.contains("a test notification of the channel sms"),
            "{}",
            form[2].1
        );
    }
}

#[tokio::test]
async fn opsgenie_creates_then_closes_the_alert_by_its_alias() {
    let server = TestServer::start().await;
    let opsgenie = Provider::start().await;
    credit(&server).await;
    let shown = put(&server, "/api/v1/channels/og", json!({"type": "opsgenie", "url": opsgenie.base,
                    "api_key": "eb243592-faa2-4ba2-a551q-1afdf565c889", "group_wait": "0s", "group_interval": "0s"})).await;
    assert_eq!(shown["api_key"], "<hidden>");
    rule(&server, "low-accuracy", 0.7, "critical", Some(&["og"])).await;
    bad_day(&server).await;
    let got = opsgenie.wait_for(1, "the created alert").await;
    let create = &got[0];
    assert_eq!(
        (
            create.method.as_str(),
            create.path.as_str(),
            create.query.as_deref()
        ),
        ("POST", "/v2/alerts", None)
    );
    assert_eq!(
        create.authorization,
        "GenieKey eb243592-faa2-4ba2-a551q-1afdf565c889"
    );
    assert_eq!(create.content_type, "application/json");
    let body = create.json();
    let message = body["message"].as_str().unwrap();
    assert!(message.chars().count() <= 130, "{message}");
    assert_eq!(message, "[critical] low-accuracy: credit");
    let alias = body["alias"].as_str().unwrap().to_string();
    assert_eq!(alias.len(), 16);
    assert_eq!(body["priority"], "P1");
    assert!(
        body["description"]
            .as_str()
            .unwrap()
            .contains("accuracy of model credit = 0.4")
    );
    let tags: Vec<&str> = body["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(
        tags,
        [
            "alertname:low-accuracy",
            "model:credit",
            "severity:critical",
            "modelwatch"
        ]
    );
    assert_eq!(body["details"]["team"], "risk");
    assert_eq!(body["entity"], "credit");
    recovery(&server).await;
    let got = opsgenie.wait_for(2, "the close").await;
    assert_eq!(got[1].path, format!("/v2/alerts/{alias}/close"));
    assert_eq!(got[1].query.as_deref(), Some("identifierType=alias"));
    assert_eq!(got[1].authorization, got[0].authorization);
    assert_eq!(got[1].json()["source"], "modelwatch");
}

#[tokio::test]
async fn critical_alerts_are_routed_to_a_phone_call_and_mute_the_warning_of_the_same_model() {
    let server = TestServer::start().await;
    let twilio = Provider::start().await;
    let chat = Receiver::start(0).await;
    credit(&server).await;
    put(
        &server,
        "/api/v1/channels/phone",
        json!({"type": "twilio", "mode": "call", "url": twilio.base, "account_sid": SID,
             "auth_token": "s3cret-token", "from": "+15005550006", "to": "+14155550100"}),
    )
    .await;
    put(
        &server,
        "/api/v1/channels/chat",
        json!({"type": "webhook", "url": chat.url}),
    )
    .await;
    let routing = put(&server, "/api/v1/routing", json!({
        "route": {"channels": ["chat"], "group_by": ["alertname", "model"], "group_wait": "0s", "group_interval": "0s",
                  "routes": [{"matchers": ["severity=critical"], "channels": ["phone"]}]},
        "inhibit_rules": [{"source_matchers": ["severity=critical"], "target_matchers": ["severity=warning"], "equal": ["model"]}]
    })).await;
    assert_eq!(
        routing["resolved"]["routes"][0]["channels"],
        json!(["phone"])
    );
    assert_eq!(routing["resolved"]["routes"][0]["group_wait"], "0ms");
    let (status, body) = server.get("/api/v1/routing").await;
    assert_eq!(
        (status, &body["route"]["routes"][0]["matchers"]),
        (StatusCode::OK, &json!(["severity=critical"]))
    );
    // A routed channel cannot be deleted from under the tree.
    assert_eq!(
        server.delete("/api/v1/channels/phone").await,
        StatusCode::CONFLICT
    );
    // Both rules name no channels: the tree decides. Accuracy 0.4 breaks both.
    rule(&server, "accuracy-critical", 0.7, "critical", None).await;
    rule(&server, "accuracy-warning", 0.8, "warning", None).await;
    bad_day(&server).await;
    let calls = twilio.wait_for(1, "the call").await;
    let call = &calls[0];
    assert_eq!(call.path, format!("/2010-04-01/Accounts/{SID}/Calls.json"));
    assert_eq!(call.authorization, TWILIO_BASIC);
    let form = call.form();
    let names: Vec<&str> = form.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["To", "From", "Twiml"]);
    assert_eq!(form[0].1, "+14155550100");
    let twiml = &form[2].1;
    assert!(
        twiml.starts_with("<Response><Say>This is modelwatch. 1 alert is firing. "),
        "{twiml}"
    );
    assert!(twiml.ends_with("</Say></Response>"), "{twiml}");
    // The summary's `<` is escaped inside the TwiML.
    assert!(twiml.contains("(&lt; 0.7)"), "{twiml}");
    // The warning is inhibited: logged, and not sent to the chat.
    let inhibited = eventually(20, "the inhibition in the event log", || async {
        let (_, events) = server.get("/api/v1/events?limit=1000").await;
        events["events"]
            .as_array()?
            .iter()
            .find(|e| e["kind"] == "inhibited")
            .cloned()
    })
    .await;
    assert_eq!(inhibited["rule"], "accuracy-warning");
    assert_eq!(inhibited["detail"]["channel"], "chat");
    assert_eq!(inhibited["detail"]["inhibit_rule"], 0);
    assert!(chat.received().is_empty(), "{:?}", chat.received());
    // Calls are about firing alerts only: the recovery rings nobody (send_resolved
    // defaults to false for calls).
    let (_, shown) = server.get("/api/v1/channels/phone").await;
    assert_eq!(shown["send_resolved"], false);
}
