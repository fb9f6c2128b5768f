//! The benchmark's model (20 numeric and 5 categorical features) and its events, built
//! as NDJSON by string concatenation from a pool of feature objects so that the client
//! spends little time per event.

use rand::Rng;
use rand::rngs::StdRng;
use serde_json::{Value, json};

const NUMERIC: usize = 20;
const CATEGORICAL: usize = 5;

/// The definition of the benchmark model.
pub fn definition() -> Value {
    let mut features: Vec<Value> = (0..NUMERIC)
        .map(|i| json!({"name": format!("n{i}"), "type": "numeric"}))
        .collect();
    features
        .extend((0..CATEGORICAL).map(|i| json!({"name": format!("c{i}"), "type": "categorical"})));
    json!({"task": "binary_classification", "features": features})
}

/// A pool of feature objects, so that building a batch is string concatenation.
pub fn feature_pool(rng: &mut StdRng) -> Vec<String> {
    (0..997)
        .map(|_| {
            let mut object = serde_json::Map::new();
            for i in 0..NUMERIC {
                object.insert(
                    format!("n{i}"),
                    json!((rng.random::<f64>() * 1000.0 * 1e3).round() / 1e3),
                );
            }
            for i in 0..CATEGORICAL {
                object.insert(
                    format!("c{i}"),
                    json!(format!("cat{}", rng.random_range(0..12))),
                );
            }
            Value::Object(object).to_string()
        })
        .collect()
}

/// The events of one run: `events` events spread evenly over `span_ms` of event time
/// from `start_ms`, sent in batches of `batch`.
pub struct Plan {
    /// Feature objects, used in turn.
    pub pool: Vec<String>,
    /// Tags the ids, so that runs against the same server do not collide.
    pub run: u64,
    /// Event time of the first event.
    pub start_ms: i64,
    /// Event time the events span.
    pub span_ms: i64,
    /// Events in all.
    pub events: u64,
    /// Events per request.
    pub batch: u64,
}

impl Plan {
    /// The NDJSON body of batch `batch_index`.
    pub fn body(&self, batch_index: u64) -> String {
        let mut body = String::with_capacity(self.batch as usize * 700);
        let first = batch_index * self.batch;
        for n in first..(first + self.batch).min(self.events) {
            let ts =
                self.start_ms + (n as i128 * self.span_ms as i128 / self.events as i128) as i64;
            let features = &self.pool[(n % self.pool.len() as u64) as usize];
            let score = (n.wrapping_mul(2_654_435_761) % 1000) as f64 / 1000.0;
            let prediction = if score >= 0.5 { "1" } else { "0" };
            let label = if n % 3 == 0 {
                prediction
            } else if n % 2 == 0 {
                "1"
            } else {
                "0"
            };
            let latency = 5.0 + (n % 97) as f64 * 0.37;
            body.push_str(&format!(
                "{{\"id\":\"r{}-{n}\",\"timestamp\":{ts},\"prediction\":\"{prediction}\",\"score\":{score},\"label\":\"{label}\",\"latency_ms\":{latency},\"features\":{features}}}\n",
                self.run
            ));
        }
        body
    }
}
