//! Graceful shutdown: SIGTERM while clients send Encrypt requests over
//! keep-alive connections. Every response that arrives is complete and
//! valid (the rest are connection errors without a partial response), the
//! process exits 0 within the drain bound, logs its steps, and the audit
//! trail ends on a whole line, verifies, and holds a line for every 200.

mod common;

use base64::Engine;
use common::{EAST, Server, new_key};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Clients, each on its own keep-alive connection.
const CLIENTS: usize = 6;
/// Trent's drain bound (`server::DRAIN`) and the margin for the rest of
/// the shutdown.
const DRAIN: Duration = Duration::from_secs(10);
const MARGIN: Duration = Duration::from_secs(3);

/// What one client saw.
#[derive(Default)]
struct Seen {
    /// Complete 200 responses with a ciphertext.
    ok: usize,
    /// Connections that ended (or were refused) with no response begun.
    connection_errors: usize,
}

/// One signed Encrypt request, as bytes to send again and again.
fn encrypt_request(server: &Server, key: &str, n: usize) -> Vec<u8> {
    let plaintext = base64::engine::general_purpose::STANDARD.encode(format!("text {n}"));
    let body = format!(r#"{{"KeyId":"{key}","Plaintext":"{plaintext}"}}"#);
    let base = [
        ("X-Amz-Target", "TrentService.Encrypt"),
        ("Content-Type", "application/x-amz-json-1.1"),
    ];
    let signature = server.sign(EAST, &base, body.as_bytes());
    let mut request = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
        server.addr,
        body.len()
    );
    for (k, v) in base
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain(signature)
    {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    request.into_bytes()
}

/// A response read off a keep-alive connection.
enum Response {
    /// Status, whether the server closes the connection after it, body.
    Complete(u16, bool, Vec<u8>),
    /// The connection ended before any byte of a response.
    NoResponse,
}

/// Reads one response framed by its Content-Length; panics on a partial one.
fn read_response(stream: &mut TcpStream) -> Response {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) if buf.is_empty() => return Response::NoResponse,
            Ok(0) | Err(_) => panic!("partial response head: {:?}", String::from_utf8_lossy(&buf)),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().unwrap())
        .expect("Content-Length");
    let closes = head.contains("connection: close");
    while buf.len() < head_end + length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => panic!("partial response body: {:?}", String::from_utf8_lossy(&buf)),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    Response::Complete(status, closes, buf[head_end..head_end + length].to_vec())
}

/// Sends `request` over keep-alive connections until the server refuses
/// to connect; checks every response.
fn client(addr: SocketAddr, request: Vec<u8>, started: Arc<AtomicUsize>) -> Seen {
    let mut seen = Seen::default();
    'connections: loop {
        let Ok(mut stream) = TcpStream::connect(addr) else {
            seen.connection_errors += 1;
            return seen;
        };
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        loop {
            if stream.write_all(&request).is_err() {
                seen.connection_errors += 1;
                continue 'connections;
            }
            match read_response(&mut stream) {
                Response::NoResponse => {
                    seen.connection_errors += 1;
                    continue 'connections;
                }
                Response::Complete(status, closes, body) => {
                    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
                    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    assert!(json["CiphertextBlob"].is_string(), "{json}");
                    seen.ok += 1;
                    started.fetch_add(1, Ordering::SeqCst);
                    if closes {
                        continue 'connections;
                    }
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_the_requests_in_flight_and_exits_cleanly() {
    let server = Server::start_logged(&[]);
    let key = new_key(&server.client(EAST)).await;
    let answered = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let (addr, request) = (server.addr, encrypt_request(&server, &key, n));
            let answered = answered.clone();
            std::thread::spawn(move || client(addr, request, answered))
        })
        .collect();
    while answered.load(Ordering::SeqCst) < 50 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let log_file = server.data_dir().parent().unwrap().join("server.log");
    let (status, took, data) = server.terminate(DRAIN + MARGIN + MARGIN);
    assert!(status.success(), "trent exited with {status}");
    assert!(took < DRAIN + MARGIN, "took {took:?}");
    let seen: Vec<Seen> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let ok: usize = seen.iter().map(|s| s.ok).sum();
    assert!(seen.iter().all(|s| s.connection_errors >= 1));

    let audit = std::fs::read(data.path.join("audit.log")).unwrap();
    assert_eq!(
        audit.last(),
        Some(&b'\n'),
        "the audit trail ends on a whole line"
    );
    let lines = audit.iter().filter(|&&b| b == b'\n').count();
    assert!(
        lines > ok,
        "{lines} audit lines for {ok} responses (and CreateKey)"
    );
    let verified = std::process::Command::new(env!("CARGO_BIN_EXE_trent"))
        .args(["audit", "verify"])
        .arg(data.path.join("audit.log"))
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );

    let log = std::fs::read_to_string(log_file).unwrap();
    for step in [
        "shutting down: no new connections",
        "stopped serving",
        "audit trail synced to disk",
        "logged out of the token",
        "finalised the PKCS#11 module",
        "stopped",
    ] {
        assert!(log.contains(step), "no {step:?} in the log:\n{log}");
    }
}
