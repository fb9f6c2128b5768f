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
    config: ServerConfig,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    closed: Option<std::sync::Arc<modelwatch_store::Closed>>,
    store: Option<std::sync::Arc<dyn modelwatch_store::Storage>>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(configure: impl FnOnce(&mut ServerConfig)) -> Self {
        modelwatch_server::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let mut config = ServerConfig::new(dir.path());
        configure(&mut config);
        let mut server = Self {
            base: String::new(),
            client: reqwest::Client::new(),
            _dir: dir,
            config,
            stop: None,
            task: None,
            closed: None,
            store: None,
        };
        server.launch().await;
        server
    }

    async fn launch(&mut self) {
        let state = AppState::open(&self.config).unwrap();
        self.closed = Some(state.catalog.store.closed());
        self.store = Some(state.catalog.store.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address: SocketAddr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        self.task = Some(tokio::spawn(modelwatch_server::serve(
            listener,
            state,
            async move {
                let _ = stopped.await;
            },
        )));
        self.stop = Some(stop);
        self.base = format!("http://{address}");
    }

    /// Stops the server cleanly and starts it again on the same data directory (on a
    /// new port).
    pub async fn restart(&mut self) {
        self.store = None;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
        if let Some(closed) = self.closed.take() {
            let closed_in_time = tokio::task::spawn_blocking(move || {
                closed.wait(std::time::Duration::from_secs(30))
            })
            .await
            .unwrap();
            assert!(closed_in_time, "the store did not close");
        }
        self.launch().await;
    }

    /// Stops the server cleanly, changes its configuration and starts it again on the
    /// same data directory.
    pub async fn restart_with(&mut self, configure: impl FnOnce(&mut ServerConfig)) {
        configure(&mut self.config);
        self.restart().await;
    }

    /// The server's store (to set up what has no HTTP endpoint, such as tokens).
    pub fn store(&self) -> &std::sync::Arc<dyn modelwatch_store::Storage> {
        self.store.as_ref().unwrap()
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

impl TestServer {
    pub async fn put_json(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.put_body(path, "application/json", body.to_string().into_bytes())
            .await
    }

    pub async fn delete(&self, path: &str) -> StatusCode {
        self.client
            .delete(self.url(path))
            .send()
            .await
            .unwrap()
            .status()
    }
}

/// A real HTTP receiver of notifications on 127.0.0.1:0: it records every body it is
/// sent and answers `500` to the first `fail_first` requests.
pub struct Receiver {
    pub url: String,
    pub bodies: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
    pub attempts: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Receiver {
    pub async fn start(fail_first: usize) -> Self {
        use std::sync::atomic::Ordering;
        let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let attempts = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (recorded, tried) = (bodies.clone(), attempts.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
                let (recorded, tried) = (recorded.clone(), tried.clone());
                async move {
                    if tried.fetch_add(1, Ordering::SeqCst) < fail_first {
                        return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    recorded.lock().unwrap().push(body);
                    axum::http::StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{address}/hook"),
            bodies,
            attempts,
        }
    }

    pub fn received(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }
}

/// Kills a child process (a real Prometheus, Alertmanager or SMTP server) when dropped,
/// so a failed assertion leaves nothing running.
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A TCP port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `check` every 100 ms until it returns `Some`, for at most `seconds`.
pub async fn eventually<T, F, Fut>(seconds: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {seconds} s waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
