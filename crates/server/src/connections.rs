//! The accept loop. Every connection is served by hyper under three guards, so clients
//! that trickle bytes (slowloris) cannot hold the server's memory and file descriptors
//! for long (see [`HttpConfig`]):
//! - a header-read deadline, from the accept (TLS handshake included) or from the first
//!   byte of a further request to the end of the request's headers (hyper's own deadline
//!   would start when the previous answer is sent, and so close kept-alive connections
//!   that a client's pool holds idle, racing the client's next request on them);
//! - an idle timeout: no byte in either direction for that long while the server is not
//!   itself working on a request (a stalled request body counts as idle);
//! - a cap on open connections: when it is reached, the connection that has waited
//!   longest for a request is closed to make room, so the cap cannot be filled by
//!   connections that never send a request.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::config::HttpConfig;

/// How often a connection checks whether it has been idle too long.
const IDLE_CHECK: Duration = Duration::from_millis(500);

/// The connections that wait for a request, by the order they began to wait: the ones
/// the cap closes first.
#[derive(Default)]
struct Waiting {
    next: u64,
    by_age: BTreeMap<u64, CancellationToken>,
}

impl Waiting {
    fn enter(&mut self, evict: &CancellationToken) -> u64 {
        self.next += 1;
        self.by_age.insert(self.next, evict.clone());
        self.next
    }

    fn leave(&mut self, key: u64) {
        self.by_age.remove(&key);
    }

    /// Closes the connection that has waited longest; `false` when none waits.
    fn evict_oldest(&mut self) -> bool {
        match self.by_age.pop_first() {
            Some((_, evict)) => {
                evict.cancel();
                true
            }
            None => false,
        }
    }
}

/// What the connections share.
struct Shared {
    limits: HttpConfig,
    waiting: Mutex<Waiting>,
    shutdown: CancellationToken,
}

/// [`Activity::head_started_ms`] when no request head has begun.
const NO_HEAD: u64 = u64::MAX;

/// One connection's activity, seen by its I/O, its requests and its watchdog.
struct Activity {
    started: Instant,
    /// Milliseconds after `started` of the last byte read or written.
    last_byte_ms: AtomicU64,
    /// Whether the connection waits for a request's head (from the accept, and from the
    /// end of each answer until the next request's headers are whole).
    awaiting_head: AtomicBool,
    /// Milliseconds after `started` at which the awaited head began: the accept, then
    /// the first byte read after an answer; [`NO_HEAD`] while none has begun.
    head_started_ms: AtomicU64,
    /// Requests whose body has been read whole and whose handler is still running: the
    /// client is waiting for the server, so silence is not idleness.
    server_busy: AtomicUsize,
    /// The connection's place among the waiting ones, while it waits.
    waiting_key: Mutex<Option<u64>>,
    evict: CancellationToken,
    shared: Arc<Shared>,
}

impl Activity {
    fn touch(&self) {
        let elapsed = self.started.elapsed().as_millis() as u64;
        self.last_byte_ms.store(elapsed, Ordering::Relaxed);
    }

    /// Notes bytes read: the first after an answer starts the next head's deadline.
    fn touch_read(&self) {
        self.touch();
        if self.awaiting_head.load(Ordering::Relaxed) {
            let now = self.started.elapsed().as_millis() as u64;
            let _ = self.head_started_ms.compare_exchange(
                NO_HEAD,
                now,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    /// Whether a request head has taken longer than `deadline` so far.
    fn head_overdue(&self, deadline: Duration) -> bool {
        let started = self.head_started_ms.load(Ordering::Relaxed);
        self.awaiting_head.load(Ordering::Relaxed)
            && started != NO_HEAD
            && self
                .started
                .elapsed()
                .saturating_sub(Duration::from_millis(started))
                >= deadline
    }

    /// The request's headers are whole.
    fn head_read(&self) {
        self.awaiting_head.store(false, Ordering::Relaxed);
        self.head_started_ms.store(NO_HEAD, Ordering::Relaxed);
    }

    /// The answer is sent: the next request's head is awaited, its deadline not yet running.
    fn await_head(&self) {
        self.head_started_ms.store(NO_HEAD, Ordering::Relaxed);
        self.awaiting_head.store(true, Ordering::Relaxed);
    }

    fn silent_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_byte_ms.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }

    fn start_waiting(&self) {
        let mut key = self.waiting_key.lock();
        if key.is_none() {
            *key = Some(self.shared.waiting.lock().enter(&self.evict));
        }
    }

    fn stop_waiting(&self) {
        if let Some(key) = self.waiting_key.lock().take() {
            self.shared.waiting.lock().leave(key);
        }
    }
}

/// A stream that notes every byte it moves.
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch_read();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Marks the server busy with a request once its body has been read whole, and idle
/// again when its handler is done.
struct BusyMark {
    marked: AtomicBool,
    activity: Arc<Activity>,
}

impl BusyMark {
    fn mark(&self) {
        if !self.marked.swap(true, Ordering::Relaxed) {
            self.activity.server_busy.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for BusyMark {
    fn drop(&mut self) {
        if self.marked.load(Ordering::Relaxed) {
            self.activity.server_busy.fetch_sub(1, Ordering::Relaxed);
        }
        self.activity.touch();
    }
}

/// A request body that tells its [`BusyMark`] when it ends.
struct WatchedBody {
    inner: Incoming,
    busy: Arc<BusyMark>,
}

impl Body for WatchedBody {
    type Data = bytes::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.busy.mark();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Serves `router` on `listener` (over TLS when `tls` is given) until `shutdown`
/// resolves, then lets the requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: axum::Router,
    limits: HttpConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let shared = Arc::new(Shared {
        limits,
        waiting: Mutex::new(Waiting::default()),
        shutdown: CancellationToken::new(),
    });
    // Every connection task holds a receiver; `closed()` resolves when all are gone.
    let (all_closed, connection_alive) = tokio::sync::watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let permit = match slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                let evicted = shared.waiting.lock().evict_oldest();
                tracing::debug!(%peer, evicted, "connection limit reached");
                tokio::select! {
                    permit = slots.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                    () = &mut shutdown => break,
                }
            }
        };
        let _ = stream.set_nodelay(true);
        // Waiting from the accept on, in the order of the accepts.
        let activity = Arc::new(Activity {
            started: Instant::now(),
            last_byte_ms: AtomicU64::new(0),
            // The first request's deadline runs from the accept.
            awaiting_head: AtomicBool::new(true),
            head_started_ms: AtomicU64::new(0),
            server_busy: AtomicUsize::new(0),
            waiting_key: Mutex::new(None),
            evict: CancellationToken::new(),
            shared: shared.clone(),
        });
        activity.start_waiting();
        let (tls, router) = (tls.clone(), router.clone());
        let alive = connection_alive.clone();
        tokio::spawn(async move {
            serve_connection(stream, tls, router, activity).await;
            drop((permit, alive));
        });
    }
    drop(listener);
    shared.shutdown.cancel();
    drop(connection_alive);
    all_closed.closed().await;
    Ok(())
}

async fn serve_connection(
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    router: axum::Router,
    activity: Arc<Activity>,
) {
    let shared = activity.shared.clone();
    let io = Tracked {
        inner: stream,
        activity: activity.clone(),
    };
    match tls {
        None => serve_http(io, router, &activity).await,
        Some(acceptor) => {
            let handshake = tokio::select! {
                done = tokio::time::timeout(shared.limits.header_read_timeout, acceptor.accept(io)) => done,
                () = activity.evict.cancelled() => {
                    activity.stop_waiting();
                    return;
                }
            };
            match handshake {
                Ok(Ok(tls)) => serve_http(tls, router, &activity).await,
                Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            }
        }
    }
    activity.stop_waiting();
}

async fn serve_http<S>(io: S, router: axum::Router, activity: &Arc<Activity>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limits = &activity.shared.limits;
    let requests = activity.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let activity = requests.clone();
        activity.head_read();
        activity.stop_waiting();
        let busy = Arc::new(BusyMark {
            marked: AtomicBool::new(false),
            activity: activity.clone(),
        });
        if request.body().is_end_stream() {
            busy.mark();
        }
        let request = request.map(|inner| {
            axum::body::Body::new(WatchedBody {
                inner,
                busy: busy.clone(),
            })
        });
        let mut router = router.clone();
        async move {
            let response = tower_service::Service::call(&mut router, request).await;
            drop(busy);
            activity.await_head();
            activity.start_waiting();
            response
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The header-read deadline is the watchdog's below, not hyper's (see the module doc).
    builder.timer(TokioTimer::new()).header_read_timeout(None);
    let mut connection = std::pin::pin!(builder.serve_connection(TokioIo::new(io), service));
    let mut draining = false;
    loop {
        tokio::select! {
            served = connection.as_mut() => {
                if let Err(error) = served {
                    tracing::trace!(%error, "connection ended");
                }
                return;
            }
            () = activity.shared.shutdown.cancelled(), if !draining => {
                draining = true;
                connection.as_mut().graceful_shutdown();
            }
            () = activity.evict.cancelled() => {
                tracing::debug!("connection closed to make room for a new one");
                return;
            }
            () = tokio::time::sleep(IDLE_CHECK) => {
                if activity.head_overdue(limits.header_read_timeout) {
                    tracing::debug!("connection closed: its request head took too long");
                    return;
                }
                let idle = activity.server_busy.load(Ordering::Relaxed) == 0
                    && activity.silent_for() >= limits.idle_timeout;
                if idle {
                    tracing::debug!("idle connection closed");
                    return;
                }
            }
        }
    }
}
