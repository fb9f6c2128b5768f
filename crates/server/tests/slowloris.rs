//! Clients that hold connections without finishing a request (slowloris): a header sent
//! one byte at a time, a silent socket, a stalled request body, and more connections
//! than the cap. Each is cut off by the guard meant for it, and `/healthz` still answers.

mod common;

use std::time::Duration;

use common::TestServer;
use reqwest::StatusCode;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Whether the server has closed `stream` (end of stream or a reset), without waiting.
fn is_closed(stream: &TcpStream) -> bool {
    let mut buffer = [0u8; 1024];
    loop {
        match stream.try_read(&mut buffer) {
            Ok(0) => return true,
            // An answer (a 408, say) may come before the close: read on.
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

async fn closed_within(stream: &TcpStream, seconds: u64) -> bool {
    for _ in 0..seconds * 10 {
        if is_closed(stream) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

async fn connect(server: &TestServer) -> TcpStream {
    TcpStream::connect(server.base.trim_start_matches("http://"))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_header_sent_one_byte_at_a_time_is_cut_off() {
    let server = TestServer::start_with(|config| {
        config.http.header_read_timeout = Duration::from_secs(1);
    })
    .await;
    let mut stream = connect(&server).await;
    let header = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    let mut cut_off = false;
    // One byte every 100 ms for up to 30 s: never idle, never a whole header.
    for byte in header
        .iter()
        .copied()
        .chain(std::iter::repeat(b'a'))
        .take(300)
    {
        if stream.write_all(&[byte]).await.is_err() || is_closed(&stream) {
            cut_off = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(cut_off, "a header trickled for 30 s kept its connection");
    assert_eq!(server.get("/healthz").await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_silent_connection_and_a_stalled_body_are_closed_when_idle() {
    let server = TestServer::start_with(|config| {
        config.http.idle_timeout = Duration::from_secs(1);
        config.http.header_read_timeout = Duration::from_secs(120);
    })
    .await;
    let silent = connect(&server).await;
    let mut stalled = connect(&server).await;
    stalled
        .write_all(b"PUT /api/v1/models/m HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"task\":")
        .await
        .unwrap();
    assert!(
        closed_within(&silent, 30).await,
        "a silent connection stayed open"
    );
    assert!(
        closed_within(&stalled, 30).await,
        "a stalled request body kept its connection"
    );
    assert_eq!(server.get("/healthz").await.0, StatusCode::OK);
}

#[tokio::test]
async fn at_the_connection_cap_the_longest_waiting_connections_make_room() {
    let server = TestServer::start_with(|config| {
        config.http.max_connections = 4;
        config.http.header_read_timeout = Duration::from_secs(120);
        config.http.idle_timeout = Duration::from_secs(120);
    })
    .await;
    let mut sockets = Vec::new();
    for _ in 0..10 {
        sockets.push(connect(&server).await);
    }
    // A real client still gets in: it takes the place of the oldest silent socket.
    assert_eq!(server.get("/healthz").await.0, StatusCode::OK);
    for (i, socket) in sockets.iter().take(6).enumerate() {
        assert!(
            closed_within(socket, 30).await,
            "socket {i} of 10 is still open with a cap of 4"
        );
    }
    let open = sockets.iter().filter(|s| !is_closed(s)).count();
    assert!(open <= 4, "{open} silent sockets open with a cap of 4");
}

#[tokio::test]
async fn a_kept_alive_connection_outlives_the_header_deadline_between_requests() {
    let server = TestServer::start_with(|config| {
        config.http.header_read_timeout = Duration::from_secs(1);
        config.http.idle_timeout = Duration::from_secs(120);
    })
    .await;
    let mut stream = connect(&server).await;
    let request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    for round in 0..2 {
        stream.write_all(request).await.unwrap();
        let answer = read_answer(&mut stream).await;
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "round {round}: {answer}"
        );
        // Idle in a client's pool for longer than the header deadline: the deadline
        // starts with the next request's first byte, so the connection stays usable.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert!(!is_closed(&stream), "round {round}: closed while idle");
    }
}

/// Reads one answer with a small body (`/healthz`): up to the end of its JSON.
async fn read_answer(stream: &mut TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    while !answer.ends_with(b"}") {
        let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buffer))
            .await
            .expect("no answer within 30 s")
            .unwrap();
        assert!(
            n > 0,
            "closed before the answer: {}",
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&buffer[..n]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}
