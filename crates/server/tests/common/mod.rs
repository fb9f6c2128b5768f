//! A real server on 127.0.0.1:0 over a real store in a temporary directory.

#![allow(dead_code)]

use std::net::SocketAddr;

use modelwatch_server::{AppState, ServerConfig};
use reqwest::StatusCode;
use serde_json::Value;

pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    pub _dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(configure: impl FnOnce(&mut ServerConfig)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = ServerConfig::new(dir.path());
        configure(&mut config);
        let state = AppState::open(&config).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(modelwatch_server::serve(
            listener,
            state,
            std::future::pending(),
        ));
        Self {
            base: format!("http://{address}"),
            client: reqwest::Client::new(),
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn put_model(&self, name: &str, definition: Value) -> (StatusCode, Value) {
        let response = self
            .client
            .put(self.url(&format!("/api/v1/models/{name}")))
            .json(&definition)
            .send()
            .await
            .unwrap();
        (
            response.status(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        (
            response.status(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    pub async fn put_body(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let response = self
            .client
            .put(self.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        (
            response.status(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        (
            response.status(),
            response.json().await.unwrap_or(Value::Null),
        )
    }
}

pub fn error_field(body: &Value) -> &str {
    body["error"]["field"].as_str().unwrap_or("<none>")
}
