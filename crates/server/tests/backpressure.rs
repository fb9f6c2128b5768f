//! Backpressure: with a bounded write queue, a flood of concurrent ingest requests is
//! answered 200 or 503 with `Retry-After` — never another 5xx, never a dropped
//! connection — and a client that honours `Retry-After` gets everything stored once.

mod common;

use common::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn batch(request: usize, size: usize) -> Value {
    Value::Array(
        (0..size)
            .map(|i| json!({"id": format!("r{request}-{i}"), "prediction": (i % 2).to_string(), "score": 0.5,
                            "features": {"x": i as f64}}))
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_is_shed_with_retry_after_and_nothing_is_lost() {
    let server = TestServer::start_with(|config| config.store.queue_capacity = 1).await;
    server
        .put_model("m", json!({"task": "binary_classification", "features": [{"name": "x", "type": "numeric"}]}))
        .await;
    let (requests, size) = (48, 4000);
    let mut tasks = Vec::new();
    for request in 0..requests {
        let (client, url) = (
            server.client.clone(),
            server.url("/api/v1/models/m/predictions"),
        );
        tasks.push(tokio::spawn(async move {
            let body = batch(request, size);
            let mut shed = 0;
            loop {
                let response = client
                    .post(&url)
                    .json(&body)
                    .send()
                    .await
                    .expect("connection dropped");
                match response.status() {
                    StatusCode::OK => {
                        let answer: Value = response.json().await.unwrap();
                        return (answer["accepted"].as_u64().unwrap(), shed);
                    }
                    StatusCode::SERVICE_UNAVAILABLE => {
                        let retry = response
                            .headers()
                            .get("retry-after")
                            .expect("503 without Retry-After");
                        let seconds: u64 = retry.to_str().unwrap().parse().unwrap();
                        assert!(seconds >= 1);
                        shed += 1;
                        // Honour it (shortened: the test only needs the order of events).
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                    other => panic!("unexpected status {other}"),
                }
            }
        }));
    }
    let (mut accepted, mut shed) = (0, 0);
    for task in tasks {
        let (a, s) = task.await.unwrap();
        accepted += a;
        shed += s;
    }
    assert_eq!(accepted, (requests * size) as u64);
    assert!(
        shed > 0,
        "the flood never filled a queue of one: the test proves nothing"
    );
    let (_, model) = server.get("/api/v1/models/m").await;
    assert_eq!(model["stats"]["predictions"].as_u64(), Some(accepted));
    let metrics = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("modelwatch_requests_shed_total") && !l.ends_with(" 0")),
        "{metrics}"
    );
    eprintln!(
        "backpressure: {requests} requests of {size} events, {shed} answered 503 + Retry-After, all stored once"
    );
}
