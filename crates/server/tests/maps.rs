//! Maps (issue 18): a categorical feature with `"geo": "country"` answers its rows per
//! country over HTTP, with the reference's shares (hand-counted), appears in the report
//! (JSON `maps`, an SVG world map in the HTML page), and bad queries get a `400` naming
//! `feature`.

mod common;

use common::{TestServer, error_field};
use reqwest::StatusCode;
use serde_json::{Value, json};

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

fn event(id: usize, country: Option<&str>) -> Value {
    let mut features = json!({"x": id as f64});
    if let Some(country) = country {
        features["country"] = json!(country);
    }
    json!({"id": format!("e{id}"), "timestamp": T0 + id as i64 * 1000, "prediction": 1.0,
           "features": features})
}

async fn text(server: &TestServer, path: &str) -> String {
    let response = server.client.get(server.url(path)).send().await.unwrap();
    response.text().await.unwrap()
}

async fn geo_model(server: &TestServer) {
    let (status, body) = server
        .put_model(
            "geo",
            json!({"task": "regression", "features": [
                {"name": "country", "type": "categorical", "geo": "country"},
                {"name": "x", "type": "numeric"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Reference: FR 2, US 2 (shares 0.5 and 0.5).
    let reference: Vec<Value> = ["FR", "FR", "US", "US"]
        .iter()
        .enumerate()
        .map(|(i, c)| event(1000 + i, Some(c)))
        .collect();
    let (status, body) = server
        .put_json("/api/v1/models/geo/reference", Value::Array(reference))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Current: FR 3 (one as `fr`), DE 1, `atlantis` 1, none 1.
    let current: Vec<Value> = [
        Some("FR"),
        Some("fr"),
        Some("FR"),
        Some("DE"),
        Some("atlantis"),
        None,
    ]
    .into_iter()
    .enumerate()
    .map(|(i, c)| event(i, c))
    .collect();
    let (status, body) = server
        .post("/api/v1/models/geo/predictions", Value::Array(current))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["accepted"], 6);
}

#[tokio::test]
async fn countries_are_counted_with_the_reference_shares() {
    let server = TestServer::start().await;
    geo_model(&server).await;
    let (status, map) = server.get("/api/v1/models/geo/map?feature=country").await;
    assert_eq!(status, StatusCode::OK, "{map}");
    assert_eq!(map["feature"], "country");
    assert_eq!(map["geo"], "country");
    assert_eq!(map["model"], "geo");
    assert_eq!(map["not_a_country"], 1);
    assert_eq!(map["missing"], 1);
    // By hand: 4 rows name a country, FR 3 and DE 1; the reference FR 2 of 4, US 2 of 4.
    let expected = [
        ("DE", 1, 0.25, 0.0),
        ("FR", 3, 0.75, 0.5),
        ("US", 0, 0.0, 0.5),
    ];
    let countries = map["countries"].as_array().unwrap();
    assert_eq!(countries.len(), expected.len(), "{map}");
    for (entry, (code, count, share, reference)) in countries.iter().zip(expected) {
        assert_eq!(entry["code"], code);
        assert_eq!(entry["count"], count);
        assert_eq!(entry["share"], share);
        assert_eq!(entry["reference_share"], reference);
        assert_eq!(entry["share_change"], share - reference);
    }
    // A range with only the first two rows (both FR).
    let (status, map) = server
        .get(&format!(
            "/api/v1/models/geo/map?feature=country&from={T0}&to={}",
            T0 + 2000
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{map}");
    assert_eq!(map["countries"][1]["code"], "FR");
    // Windows are whole minutes: all six rows fall in the first one.
    assert_eq!(map["countries"][1]["count"], 3);

    let (status, report) = server.get("/api/v1/models/geo/report").await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["maps"].as_array().map(Vec::len), Some(1));
    assert_eq!(report["maps"][0]["countries"], map["countries"]);
    let page = text(&server, "/api/v1/models/geo/report?format=html").await;
    assert!(page.contains(r#"<svg class="world""#));
    assert!(
        page.contains("<title>France (FR): 3</title>"),
        "France is filled by its count"
    );
    let markdown = text(&server, "/api/v1/models/geo/report?format=md").await;
    assert!(
        markdown.contains("| FR | 3 | 75.0% | 50.0% | +25.0 pt |"),
        "{markdown}"
    );
}

#[tokio::test]
async fn bad_map_queries_name_the_feature() {
    let server = TestServer::start().await;
    geo_model(&server).await;
    for query in [
        "",
        "?feature=x",
        "?feature=nope",
        "?feature=country&step=1h",
    ] {
        let (status, body) = server.get(&format!("/api/v1/models/geo/map{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        let expected = if query.contains("step") {
            "step"
        } else {
            "feature"
        };
        assert_eq!(error_field(&body), expected, "{query}: {body}");
    }
    let (status, body) = server
        .put_model(
            "bad",
            json!({"task": "regression", "features": [
                {"name": "lat", "type": "numeric", "geo": "country"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(error_field(&body), "features[0].geo");
}
