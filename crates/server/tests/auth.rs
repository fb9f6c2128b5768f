//! Authentication and authorisation over a real server: tokens, scopes, model
//! restrictions and revocation.

mod common;

use common::TestServer;
use modelwatch_server::auth::{AuthMode, hash, new_secret};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn token(server: &TestServer, scopes: &str, models: Option<&str>) -> (i64, String) {
    let secret = new_secret();
    let id = server
        .store()
        .create_token("test", &hash(&secret), scopes, models, 0)
        .await
        .unwrap();
    (id, secret)
}

async fn call(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = server.client.request(
        reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
        server.url(path),
    );
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    (
        response.status(),
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn secured() -> (TestServer, String) {
    let server = TestServer::start_with(|config| config.auth = AuthMode::Required).await;
    let (_, admin) = token(&server, "admin", None).await;
    for model in ["a", "b"] {
        let (status, body) = call(
            &server,
            "PUT",
            &format!("/api/v1/models/{model}"),
            Some(&admin),
            Some(json!({"task": "regression"})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    (server, admin)
}

fn event(id: &str) -> Value {
    json!([{"id": id, "timestamp": 1_710_115_200_000_i64, "prediction": 1.5, "label": 1.0}])
}

#[tokio::test]
async fn every_request_but_health_needs_a_valid_token() {
    let (server, _) = secured().await;
    assert_eq!(
        call(&server, "GET", "/healthz", None, None).await.0,
        StatusCode::OK
    );
    let response = server
        .client
        .get(server.url("/api/v1/models"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["field"], "authorization");
    for bad in [
        "mw_0000000000000000000000000000000000000000",
        "",
        "x".repeat(300).as_str(),
    ] {
        let (status, body) = call(&server, "GET", "/api/v1/models", Some(bad), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}: {body}");
    }
    let (status, _) = call(
        &server,
        "POST",
        "/api/v1/models/a/predictions",
        None,
        Some(event("x")),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, model) = call(
        &server,
        "GET",
        "/api/v1/models/a",
        Some(&token(&server, "read", None).await.1),
        None,
    )
    .await;
    assert_eq!(
        model["stats"]["predictions"], 0,
        "nothing was stored without a token"
    );
}

#[tokio::test]
async fn a_token_for_model_a_can_neither_read_nor_write_model_b() {
    let (server, _) = secured().await;
    let (_, only_a) = token(&server, "read,ingest", Some("a")).await;
    let a = Some(only_a.as_str());
    assert_eq!(
        call(
            &server,
            "POST",
            "/api/v1/models/a/predictions",
            a,
            Some(event("p1"))
        )
        .await
        .0,
        StatusCode::OK
    );
    assert_eq!(
        call(&server, "GET", "/api/v1/models/a/metrics", a, None)
            .await
            .0,
        StatusCode::OK
    );
    for (method, path, body) in [
        ("POST", "/api/v1/models/b/predictions", Some(event("p2"))),
        (
            "POST",
            "/api/v1/models/b/labels",
            Some(json!([{"id": "p2", "label": 1.0}])),
        ),
        ("GET", "/api/v1/models/b", None),
        ("GET", "/api/v1/models/b/metrics", None),
        ("GET", "/api/v1/models/b/quality", None),
        ("GET", "/api/v1/alerts?model=b", None),
        ("GET", "/api/v1/channels", None),
        ("GET", "/metrics", None),
    ] {
        let (status, answer) = call(&server, method, path, a, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {answer}");
        assert!(
            answer["error"]["field"] == "model" || answer["error"]["field"] == "authorization",
            "{answer}"
        );
    }
    let (_, list) = call(&server, "GET", "/api/v1/models", a, None).await;
    let names: Vec<&str> = list["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a"]);
    let (_, admin_view) = call(
        &server,
        "GET",
        "/api/v1/models/b",
        Some(&token(&server, "read", None).await.1),
        None,
    )
    .await;
    assert_eq!(
        admin_view["stats"]["predictions"], 0,
        "model b was not written"
    );
}

#[tokio::test]
async fn an_ingest_token_cannot_change_rules_or_models() {
    let (server, admin) = secured().await;
    let (_, ingest) = token(&server, "ingest", None).await;
    let ingest = Some(ingest.as_str());
    assert_eq!(
        call(
            &server,
            "POST",
            "/api/v1/models/a/predictions",
            ingest,
            Some(event("p1"))
        )
        .await
        .0,
        StatusCode::OK
    );
    let rule = json!({"model": "a", "metric": "mae", "condition": {"op": ">", "threshold": 1}});
    for (method, path, body) in [
        ("PUT", "/api/v1/rules/r", Some(rule.clone())),
        (
            "PUT",
            "/api/v1/models/a",
            Some(json!({"task": "regression"})),
        ),
        ("DELETE", "/api/v1/models/a", None),
        (
            "PUT",
            "/api/v1/channels/c",
            Some(json!({"type": "webhook", "url": "http://127.0.0.1:1/x"})),
        ),
        ("GET", "/api/v1/models/a/metrics", None),
    ] {
        let (status, answer) = call(&server, method, path, ingest, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {answer}");
        assert_eq!(answer["error"]["field"], "authorization");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("needs"),
            "{answer}"
        );
    }
    // The admin token can; a read token cannot write.
    assert_eq!(
        call(
            &server,
            "PUT",
            "/api/v1/rules/r",
            Some(&admin),
            Some(rule.clone())
        )
        .await
        .0,
        StatusCode::CREATED
    );
    let (_, read) = token(&server, "read", None).await;
    assert_eq!(
        call(&server, "DELETE", "/api/v1/rules/r", Some(&read), None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(
            &server,
            "POST",
            "/api/v1/models/a/predictions",
            Some(&read),
            Some(event("p9"))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    // An admin restricted to model a cannot define rules on b.
    let (_, admin_a) = token(&server, "admin", Some("a")).await;
    let rule_b = json!({"model": "b", "metric": "mae", "condition": {"op": ">", "threshold": 1}});
    assert_eq!(
        call(
            &server,
            "PUT",
            "/api/v1/rules/rb",
            Some(&admin_a),
            Some(rule_b)
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let (_, rules) = call(&server, "GET", "/api/v1/rules", Some(&admin_a), None).await;
    assert_eq!(rules["rules"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_revoked_token_is_refused_within_a_second() {
    let (server, _) = secured().await;
    let (id, secret) = token(&server, "read", None).await;
    assert_eq!(
        call(&server, "GET", "/api/v1/models", Some(&secret), None)
            .await
            .0,
        StatusCode::OK
    );
    let revoked = server.store().revoke_token(id, 1).await.unwrap();
    assert!(revoked);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        call(&server, "GET", "/api/v1/models", Some(&secret), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
}

/// Issue 11 (review): a token restricted to some models got short pages of alerts and
/// events, because its filter ran after the `LIMIT`. The filter is now in the query.
#[tokio::test]
async fn a_restricted_token_gets_full_pages_of_its_models() {
    let (server, admin) = secured().await;
    let hour = 3_600_000_i64;
    let t0 = 1_710_115_200_000_i64;
    for model in ["a", "b"] {
        // Two hours of events: the first hour's span is complete once the second's come.
        let events: Vec<Value> = (0..4)
            .map(|i| json!({"id": format!("{model}{i}"), "timestamp": t0 + i * hour / 2, "prediction": 1.0}))
            .collect();
        let (status, body) = call(
            &server,
            "POST",
            &format!("/api/v1/models/{model}/predictions"),
            Some(&admin),
            Some(Value::Array(events)),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // Three alerts of model a, then three of model b: b's are the newest.
    for model in ["a", "b"] {
        for i in 0..3 {
            let rule = json!({"model": model, "metric": "count", "window": "1h",
                              "condition": {"op": ">", "threshold": 0}, "channels": []});
            let (status, body) = call(
                &server,
                "PUT",
                &format!("/api/v1/rules/{model}-{i}"),
                Some(&admin),
                Some(rule),
            )
            .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        common::eventually(30, "three alerts", || async {
            let (_, alerts) = call(
                &server,
                "GET",
                &format!("/api/v1/alerts?model={model}"),
                Some(&admin),
                None,
            )
            .await;
            (alerts["alerts"].as_array()?.len() == 3).then_some(())
        })
        .await;
    }
    let (_, only_a) = token(&server, "read", Some("a")).await;
    for (path, key) in [
        ("/api/v1/alerts?limit=3", "alerts"),
        ("/api/v1/events?limit=3", "events"),
    ] {
        let (status, page) = call(&server, "GET", path, Some(&only_a), None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let models: Vec<&str> = page[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| entry["model"].as_str().unwrap())
            .collect();
        assert_eq!(models, ["a", "a", "a"], "{path}: {page}");
    }
}

#[tokio::test]
async fn a_backtest_needs_read_on_the_rules_model() {
    let (server, _) = secured().await;
    let backtest = |model: &str| {
        json!({"rule": {"model": model, "metric": "mae", "condition": {"op": ">", "threshold": 1}},
               "from": "2024-03-11T00:00:00Z", "to": "2024-03-12T00:00:00Z"})
    };
    let path = "/api/v1/rules/backtest";
    let (_, read_a) = token(&server, "read", Some("a")).await;
    let (_, ingest) = token(&server, "ingest", None).await;
    // It writes nothing: a read token on the model may run it.
    let (status, answer) = call(&server, "POST", path, Some(&read_a), Some(backtest("a"))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["counts"]["alerts"], 0);
    // Not on another model, not without `read`, not without a token.
    let (status, answer) = call(&server, "POST", path, Some(&read_a), Some(backtest("b"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(answer["error"]["field"], "model");
    let (status, answer) = call(&server, "POST", path, Some(&ingest), Some(backtest("a"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(answer["error"]["field"], "authorization");
    let (status, _) = call(&server, "POST", path, None, Some(backtest("a"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Saving the same rule still needs `admin`.
    let (status, _) = call(
        &server,
        "PUT",
        "/api/v1/rules/backtest",
        Some(&read_a),
        Some(backtest("a")["rule"].clone()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
