//! HTTP helpers of a client of the modelwatch API: a `PUT` whose failure carries the
//! server's answer, and the wait a `429` or `503` asks for.

use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

/// PUTs a JSON body and fails with the server's answer unless it is a success.
pub async fn put_json(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
    what: &str,
) -> anyhow::Result<()> {
    let response = client
        .put(url)
        .json(body)
        .send()
        .await
        .with_context(|| format!("{what}: PUT {url}"))?;
    let status = response.status();
    anyhow::ensure!(
        status.is_success(),
        "{what} failed ({status}): {}",
        response.text().await?
    );
    Ok(())
}

/// The wait a 429 or 503 answer asks for, if it is one.
pub fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let status = response.status().as_u16();
    if status != 429 && status != 503 {
        return None;
    }
    let seconds = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(1.0);
    Some(Duration::from_secs_f64(seconds.clamp(0.01, 60.0)))
}
