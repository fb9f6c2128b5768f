//! The request log: one `info` line per request with its method, path, status and
//! duration, and for ingest the records it carried and how many were rejected. Ingest
//! handlers attach their counts to the response as a [`RecordCounts`] extension; this
//! layer, outermost on the router, reads them back after the handler has answered.

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use serde_json::Value;

/// What an ingest request carried, read from its answer (`accepted`, `rejected`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordCounts {
    /// Records in the body: accepted plus rejected.
    pub records: u64,
    /// Records stored (predictions) or kept (labels, matched or pending).
    pub accepted: u64,
    /// Records refused, each listed in the answer's `rejected`.
    pub rejected: u64,
}

impl RecordCounts {
    /// The counts of an ingest answer.
    pub fn of(answer: &Value) -> Self {
        let accepted = answer["accepted"].as_u64().unwrap_or(0);
        let rejected = answer["rejected"].as_array().map_or(0, Vec::len) as u64;
        RecordCounts {
            records: accepted + rejected,
            accepted,
            rejected,
        }
    }
}

/// Logs the request once it is answered. The path is logged without its query string,
/// which is not needed to follow a request and may be long.
pub async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let counts = response.extensions().get::<RecordCounts>().copied();
    tracing::info!(
        %method,
        path,
        status,
        duration_ms,
        records = counts.map(|c| c.records),
        accepted = counts.map(|c| c.accepted),
        rejected = counts.map(|c| c.rejected),
        "request"
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_come_from_the_answer() {
        let answer = serde_json::json!({"accepted": 3, "rejected": [{"index": 1}, {"index": 4}]});
        assert_eq!(
            RecordCounts::of(&answer),
            RecordCounts {
                records: 5,
                accepted: 3,
                rejected: 2
            }
        );
    }
}
