//! The AWS JSON 1.1 wire, spoken by hand: error envelopes, status codes,
//! headers, body limits and region routing by credential scope.

mod common;

use common::*;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// The default `max_body_bytes`.
const MAX_BODY: usize = 256 * 1024;

/// A raw HTTP response.
struct Reply {
    status: u16,
    /// Header names lower-cased.
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == &name.to_ascii_lowercase())
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.body))
    }
}

/// POSTs `body` to `/` with `headers` on a fresh connection and returns the
/// whole response. Write errors are tolerated (the server may answer and
/// close before reading a large body); whatever was received is parsed.
fn post(server: &Server, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut head = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        server.addr
    );
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("transfer-encoding"))
    {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    exchange(server, head.as_bytes(), body)
}

/// Sends a request head (ending in its blank line) and body on a fresh
/// connection and returns the whole response.
fn exchange(server: &Server, head: &[u8], body: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(head).expect("write request head");
    let _ = stream.write_all(body);
    let _ = stream.flush();
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
    parse_reply(&raw)
}

fn parse_reply(raw: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(raw).to_string();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete HTTP response: {text:?}"));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line: {head:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_string(),
    }
}

/// POSTs `headers` and `body`, signed for us-east-1.
fn signed_post(server: &Server, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let signature = server.sign("us-east-1", headers, body);
    let mut all = headers.to_vec();
    all.extend(signature.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    post(server, &all, body)
}

/// An AWS JSON 1.1 request for `op` signed for us-east-1, with optional
/// extra (unsigned) headers.
fn op(server: &Server, op: &str, extra: &[(&str, &str)], body: &str) -> Reply {
    op_in(server, "us-east-1", op, extra, body)
}

/// An AWS JSON 1.1 request for `op` signed for `region`.
fn op_in(server: &Server, region: &str, op: &str, extra: &[(&str, &str)], body: &str) -> Reply {
    let target = format!("TrentService.{op}");
    let mut headers = vec![
        ("X-Amz-Target", target.as_str()),
        ("Content-Type", CONTENT_TYPE),
    ];
    let signature = server.sign(region, &headers, body.as_bytes());
    headers.extend(signature.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    headers.extend_from_slice(extra);
    post(server, &headers, body.as_bytes())
}

/// Asserts an AWS JSON error envelope and returns its message.
fn assert_error(status: u16, body: &Value, want_status: u16, want_type: &str) -> String {
    assert_eq!(status, want_status, "status for {want_type}: {body}");
    assert_eq!(body["__type"], want_type, "error type: {body}");
    let message = body["message"]
        .as_str()
        .unwrap_or_else(|| panic!("error without a string message: {body}"));
    assert!(!message.trim().is_empty(), "empty message: {body}");
    message.to_string()
}

/// Creates a key through the wire and returns its id.
fn create_key(server: &Server) -> String {
    let (status, body) = server.call_raw("CreateKey", "{}");
    assert_eq!(status, 200, "{body}");
    body["KeyMetadata"]["KeyId"].as_str().unwrap().to_string()
}

// ---------------------------------------------------------------- bodies

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json_is_a_serialization_error() {
    let server = Server::start();
    for body in ["{not json", "{\"Limit\": 5", "[1,2", "\"just a string\""] {
        let (status, reply) = server.call_raw("ListKeys", body);
        assert_error(status, &reply, 400, "SerializationException");
    }
    // The server keeps serving afterwards.
    let (status, reply) = server.call_raw("ListKeys", "{}");
    assert_eq!(status, 200, "{reply}");
}

/// An AWS JSON 1.1 request body is a JSON object; a top-level array is not a
/// request structure, even if its elements line up with the members.
#[tokio::test(flavor = "multi_thread")]
async fn top_level_array_body_is_a_serialization_error() {
    let server = Server::start();
    let key = create_key(&server);
    let (status, reply) = server.call_raw("ListKeys", "[10, null]");
    assert_error(status, &reply, 400, "SerializationException");
    let (status, reply) = server.call_raw("DescribeKey", &json!([key]).to_string());
    assert_error(status, &reply, 400, "SerializationException");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrongly_typed_fields_are_serialization_errors() {
    let server = Server::start();
    let (status, reply) = server.call_raw("ListKeys", r#"{"Limit":"ten"}"#);
    assert_error(status, &reply, 400, "SerializationException");
    let (status, reply) = server.call_raw("DescribeKey", r#"{"KeyId":5}"#);
    assert_error(status, &reply, 400, "SerializationException");
    let (status, reply) = server.call_raw("CreateKey", r#"{"Tags":{"TagKey":"a"}}"#);
    assert_error(status, &reply, 400, "SerializationException");
    let (status, reply) = server.call_raw("ListKeys", "{}");
    assert_eq!(status, 200);
    assert_eq!(
        reply["Keys"],
        json!([]),
        "a refused CreateKey must not create a key"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn plaintext_that_is_not_base64_is_a_serialization_error() {
    let server = Server::start();
    let key = create_key(&server);
    let body = json!({ "KeyId": key, "Plaintext": "this is *not* base64!" }).to_string();
    let (status, reply) = server.call_raw("Encrypt", &body);
    assert_error(status, &reply, 400, "SerializationException");

    // Control: the same request with valid base64 succeeds.
    let body = json!({ "KeyId": key, "Plaintext": "aGVsbG8=" }).to_string();
    let (status, reply) = server.call_raw("Encrypt", &body);
    assert_eq!(status, 200, "{reply}");
    assert!(reply["CiphertextBlob"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_or_missing_target_is_unknown_operation() {
    let server = Server::start();
    let (status, reply) = server.call_raw("Nope", "{}");
    assert_error(status, &reply, 400, "UnknownOperationException");
    // An operation AWS has and Trent does not serve says so.
    for (op, why) in [
        ("CreateCustomKeyStore", "no custom key stores"),
        ("GetKeyLastUsage", "does not record"),
    ] {
        let (status, reply) = server.call_raw(op, "{}");
        assert_error(status, &reply, 400, "UnsupportedOperationException");
        let message = reply["message"].as_str().unwrap_or_default();
        assert!(message.contains(op) && message.contains(why), "{reply}");
    }

    let reply = signed_post(&server, &[("Content-Type", CONTENT_TYPE)], b"{}");
    assert_error(
        reply.status,
        &reply.json(),
        400,
        "UnknownOperationException",
    );

    let reply = signed_post(
        &server,
        &[
            ("X-Amz-Target", "SomeOtherService.ListKeys"),
            ("Content-Type", CONTENT_TYPE),
        ],
        b"{}",
    );
    assert_error(
        reply.status,
        &reply.json(),
        400,
        "UnknownOperationException",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_required_field_is_a_validation_error_naming_it() {
    let server = Server::start();
    let (status, reply) = server.call_raw("Encrypt", r#"{"Plaintext":"aGVsbG8="}"#);
    let message = assert_error(status, &reply, 400, "ValidationException");
    assert!(
        message.to_ascii_lowercase().contains("keyid"),
        "message does not name KeyId: {message}"
    );

    let key = create_key(&server);
    let (status, reply) = server.call_raw("Encrypt", &json!({ "KeyId": key }).to_string());
    let message = assert_error(status, &reply, 400, "ValidationException");
    assert!(
        message.to_ascii_lowercase().contains("plaintext"),
        "message does not name Plaintext: {message}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn oversize_body_is_refused_and_the_server_carries_on() {
    let server = Server::start();
    // ~300 KiB of valid JSON.
    let filler = "x".repeat(300 * 1024);
    let body = json!({ "Description": filler }).to_string();
    assert!(body.len() > MAX_BODY);
    let reply = op(&server, "CreateKey", &[], &body);
    assert_eq!(reply.status, 413, "body: {}", reply.body);

    let (status, listed) = server.call_raw("ListKeys", "{}");
    assert_eq!(status, 200, "server stopped answering: {listed}");
    assert_eq!(
        listed["Keys"],
        json!([]),
        "oversize CreateKey created a key"
    );
    create_key(&server);
}

#[tokio::test(flavor = "multi_thread")]
async fn body_limit_boundary() {
    let server = Server::start();
    // Exactly at the limit: accepted (valid JSON padded with whitespace).
    let mut body = String::from("{}");
    body.push_str(&" ".repeat(MAX_BODY - body.len()));
    let reply = op(&server, "ListKeys", &[], &body);
    assert_eq!(reply.status, 200, "{}", reply.body);

    // One byte more: refused.
    body.push(' ');
    let reply = op(&server, "ListKeys", &[], &body);
    assert_eq!(reply.status, 413, "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn oversize_chunked_body_is_refused() {
    let server = Server::start();
    // No Content-Length: the limit must hold while reading, too.
    let chunk = " ".repeat(64 * 1024);
    let mut body = Vec::new();
    body.extend_from_slice(b"2\r\n{}\r\n");
    for _ in 0..5 {
        body.extend_from_slice(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes());
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let reply = post(
        &server,
        &[
            ("X-Amz-Target", "TrentService.ListKeys"),
            ("Content-Type", CONTENT_TYPE),
            ("Transfer-Encoding", "chunked"),
        ],
        &body,
    );
    assert_eq!(reply.status, 413, "{}", reply.body);
    let (status, _) = server.call_raw("ListKeys", "{}");
    assert_eq!(status, 200);
}

/// A body cut short or badly framed is a 400 that says so, not "too large".
#[tokio::test(flavor = "multi_thread")]
async fn malformed_and_cut_short_bodies_are_named() {
    let server = Server::start();
    let expected = "The request body could not be read: it ended before its declared \
                    length, or its chunked framing is malformed.";
    let headers = [
        ("X-Amz-Target", "TrentService.ListKeys"),
        ("Content-Type", CONTENT_TYPE),
        ("Transfer-Encoding", "chunked"),
    ];
    for framing in [
        &b"zz\r\nabc\r\n0\r\n\r\n"[..],
        b"3\r\n{\"Limit\":5}\r\n0\r\n\r\n",
    ] {
        let reply = post(&server, &headers, framing);
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert_eq!(reply.json()["__type"], "ValidationException");
        assert_eq!(reply.json()["message"], expected);
    }

    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nX-Amz-Target: TrentService.ListKeys\r\n\
         Content-Type: {CONTENT_TYPE}\r\nContent-Length: 100\r\n\r\n{{\"Limit\":5}}",
        server.addr
    );
    stream.write_all(head.as_bytes()).expect("write request");
    stream
        .shutdown(std::net::Shutdown::Write)
        .expect("half-close");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let reply = parse_reply(&raw);
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.json()["message"], expected);
}

/// A second value of a signed header that is not UTF-8 breaks the
/// signature: it is not dropped while the signed value passes.
#[tokio::test(flavor = "multi_thread")]
async fn a_signed_headers_extra_value_that_is_not_utf8_is_refused() {
    let server = Server::start();
    let body = b"{}";
    let base = [
        ("X-Amz-Target", "TrentService.ListKeys"),
        ("Content-Type", CONTENT_TYPE),
    ];
    let signature = server.sign("us-east-1", &base, body);
    let mut head = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        server.addr,
        body.len()
    )
    .into_bytes();
    for (k, v) in base
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain(signature)
    {
        head.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    let signed = [head.clone(), b"\r\n".to_vec()].concat();
    assert_eq!(exchange(&server, &signed, body).status, 200);
    let smuggled = [head, b"X-Amz-Date: \xff\xfe\r\n\r\n".to_vec()].concat();
    let reply = exchange(&server, &smuggled, body);
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.json()["__type"], "InvalidSignatureException");
}

/// A path no dialect serves is a 404, and a method its route does not take
/// a 405, each with an error type and a message naming where requests go.
#[tokio::test(flavor = "multi_thread")]
async fn unserved_paths_and_methods_are_named() {
    let server = Server::start();
    for (method, path, status) in [("GET", "/", 405), ("PUT", "/", 405), ("POST", "/foo", 404)] {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            server.addr
        );
        let reply = exchange(&server, head.as_bytes(), b"");
        assert_eq!(reply.status, status, "{method} {path}: {}", reply.body);
        assert_eq!(reply.header("content-type"), Some(CONTENT_TYPE));
        let body = reply.json();
        assert_eq!(body["__type"], "UnknownOperationException");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with(&format!("No operation is served at {method} {path}. ")),
            "{message}"
        );
    }
}

// ---------------------------------------------------------------- headers

#[tokio::test(flavor = "multi_thread")]
async fn responses_are_aws_json_1_1() {
    let server = Server::start();
    let ok = op(&server, "ListKeys", &[], "{}");
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("content-type"), Some(CONTENT_TYPE));
    assert!(
        ok.header("x-amzn-requestid").is_some_and(|v| !v.is_empty()),
        "no x-amzn-RequestId: {:?}",
        ok.headers
    );
    assert_eq!(ok.json()["Truncated"], json!(false));

    let err = op(&server, "DescribeKey", &[], "{}");
    assert_eq!(err.status, 400);
    assert_eq!(err.header("content-type"), Some(CONTENT_TYPE));
    assert_eq!(err.json()["__type"], "ValidationException");

    let unknown = op(&server, "Nope", &[], "{}");
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.header("content-type"), Some(CONTENT_TYPE));

    let big = op(&server, "ListKeys", &[], &" ".repeat(MAX_BODY + 1));
    assert_eq!(big.status, 413);
    assert_eq!(big.header("content-type"), Some(CONTENT_TYPE));
}

// ---------------------------------------------------------------- regions

#[tokio::test(flavor = "multi_thread")]
async fn credential_scope_selects_the_region() {
    let server = Server::start();
    let reply = op_in(&server, "us-west-2", "CreateKey", &[], "{}");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let meta = &reply.json()["KeyMetadata"];
    let key = meta["KeyId"].as_str().unwrap().to_string();
    let arn = meta["Arn"].as_str().unwrap();
    assert_eq!(arn, format!("arn:aws:kms:us-west-2:111122223333:key/{key}"));

    let west = server.client("us-west-2");
    let east = server.client("us-east-1");
    let found = west
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .expect("DescribeKey in us-west-2");
    assert_eq!(found.key_metadata().unwrap().key_id(), key);
    assert_eq!(
        error_code(east.describe_key().key_id(&key).send().await),
        "NotFoundException"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unhosted_region_is_refused() {
    // Dev mode would provision a region named like eu-north-9 on first use
    // (tests/regions.rs); it hosts no region of another name form.
    let server = Server::start();
    for op_name in ["ListKeys", "CreateKey"] {
        let reply = op_in(&server, "eu-north-nine", op_name, &[], "{}");
        let message = assert_error(
            reply.status,
            &reply.json(),
            400,
            "InvalidSignatureException",
        );
        assert!(message.contains("eu-north-nine"), "{message}");
    }
    // Nothing was created anywhere.
    for region in ["us-east-1", "us-west-2"] {
        let keys = server
            .client(region)
            .list_keys()
            .send()
            .await
            .unwrap()
            .keys
            .unwrap();
        assert!(keys.is_empty(), "{region}: {keys:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unsigned_requests_are_refused() {
    let server = Server::start();
    let reply = post(
        &server,
        &[
            ("X-Amz-Target", "TrentService.CreateKey"),
            ("Content-Type", CONTENT_TYPE),
        ],
        b"{}",
    );
    assert_error(
        reply.status,
        &reply.json(),
        403,
        "MissingAuthenticationTokenException",
    );
    let keys = server.client("us-east-1").list_keys().send().await.unwrap();
    assert!(keys.keys.unwrap().is_empty());
}

// ---------------------------------------------------------------- hygiene

/// Text that would betray a stack trace or source location.
fn assert_no_trace(body: &str) {
    for needle in [
        "panicked",
        "backtrace",
        "stack backtrace",
        "RUST_BACKTRACE",
        ".rs:",
        "src/",
        "at /",
        "thread '",
    ] {
        assert!(
            !body.contains(needle),
            "error body contains {needle:?}: {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn error_replies_have_messages_and_no_traces() {
    let server = Server::start();
    let key = create_key(&server);
    let cases: Vec<(&str, String)> = vec![
        ("ListKeys", "{broken".into()),
        ("ListKeys", r#"{"Limit":"ten"}"#.into()),
        ("ListKeys", r#"{"Limit":0}"#.into()),
        ("ListKeys", r#"{"Marker":"!!!"}"#.into()),
        ("Nope", "{}".into()),
        ("DescribeKey", "{}".into()),
        (
            "DescribeKey",
            r#"{"KeyId":"0b7a3f52-1c2d-4e5f-8a9b-0c1d2e3f4a5b"}"#.into(),
        ),
        ("DescribeKey", r#"{"KeyId":"arn:aws:s3:::bucket"}"#.into()),
        ("Decrypt", r#"{"CiphertextBlob":"AQID"}"#.into()),
        (
            "CreateAlias",
            json!({"AliasName":"bad","TargetKeyId":key}).to_string(),
        ),
        (
            "PutKeyPolicy",
            json!({"KeyId":key,"Policy":"nope"}).to_string(),
        ),
        ("GenerateRandom", r#"{"NumberOfBytes":0}"#.into()),
    ];
    for (operation, body) in &cases {
        let reply = op(&server, operation, &[], body);
        assert!(
            reply.status >= 400,
            "{operation} {body}: expected an error, got {}",
            reply.status
        );
        let json = reply.json();
        assert!(
            json["__type"].as_str().is_some_and(|t| !t.is_empty()),
            "{operation}: no __type: {json}"
        );
        if json["__type"] == "InvalidCiphertextException" {
            // AWS sends this one without a message, so a client learns
            // nothing about why a ciphertext was refused.
            assert!(json.get("message").is_none(), "{operation}: {json}");
        } else {
            let message = json["message"].as_str().unwrap_or("");
            assert!(
                !message.trim().is_empty(),
                "{operation} {body}: empty message: {json}"
            );
        }
        assert_no_trace(&reply.body);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn internal_faults_are_generic_and_traceless() {
    let server = Server::start();
    let key = create_key(&server);
    // Break the key while the server is down (a running server serves it
    // from memory): drop its key material rows.
    let data = server.stop();
    let db = rusqlite::Connection::open(data.path.join("trent.db")).expect("open db");
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    let removed = db
        .execute(
            "DELETE FROM key_materials WHERE key_id = ?1",
            rusqlite::params![key],
        )
        .expect("delete material");
    assert_eq!(removed, 1, "expected one material row for the new key");
    drop(db);
    let server = Server::restart(data);

    let reply = op(
        &server,
        "Encrypt",
        &[],
        &json!({ "KeyId": key, "Plaintext": "aGVsbG8=" }).to_string(),
    );
    let json = reply.json();
    let message = assert_error(reply.status, &json, 500, "KMSInternalException");
    assert_no_trace(&reply.body);
    for detail in ["material", "store", "hsm", "sqlite", key.as_str()] {
        assert!(
            !message.to_ascii_lowercase().contains(detail),
            "internal detail {detail:?} leaked: {message}"
        );
    }
    assert_eq!(reply.header("content-type"), Some(CONTENT_TYPE));

    // Other keys keep working.
    let other = create_key(&server);
    let (status, out) = server.call_raw(
        "Encrypt",
        &json!({ "KeyId": other, "Plaintext": "aGVsbG8=" }).to_string(),
    );
    assert_eq!(status, 200, "{out}");
}

// ---------------------------------------------------------------- GenerateRandom

#[tokio::test(flavor = "multi_thread")]
async fn generate_random_bounds() {
    use base64::Engine;
    let server = Server::start();
    for body in [
        r#"{"NumberOfBytes":0}"#,
        r#"{"NumberOfBytes":1025}"#,
        r#"{"NumberOfBytes":-1}"#,
        "{}",
    ] {
        let (status, reply) = server.call_raw("GenerateRandom", body);
        assert_error(status, &reply, 400, "ValidationException");
    }

    let mut outputs = Vec::new();
    for n in [1usize, 1024, 1024] {
        let (status, reply) =
            server.call_raw("GenerateRandom", &json!({ "NumberOfBytes": n }).to_string());
        assert_eq!(status, 200, "{reply}");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(reply["Plaintext"].as_str().expect("Plaintext"))
            .expect("Plaintext is base64");
        assert_eq!(bytes.len(), n);
        outputs.push(bytes);
    }
    assert_ne!(outputs[1], outputs[2], "two 1024-byte draws are identical");
}

// ---------------------------------------------------------------- CreateGrant

/// A grant to a service principal, or with a SourceArn constraint (members
/// the aws-sdk-kms release in use does not have yet, so sent as JSON), is
/// refused as unsupported rather than made without the part Trent does not
/// serve, which would make it wider than asked; no grant is left behind.
#[tokio::test(flavor = "multi_thread")]
async fn grants_for_service_principals_are_refused_not_widened() {
    let server = Server::start();
    let key = create_key(&server);
    let user = "arn:aws:iam::111122223333:user/dave";
    let service = "logs.us-east-1.amazonaws.com";
    let source = "arn:aws:logs:us-east-1:111122223333:log-group:audit";
    for body in [
        json!({ "KeyId": key, "GranteePrincipal": user, "Operations": ["Encrypt"],
                "Constraints": { "SourceArn": source } }),
        json!({ "KeyId": key, "GranteeServicePrincipal": service, "RetiringPrincipal": user,
                "Operations": ["Encrypt"], "Constraints": { "SourceArn": source } }),
        json!({ "KeyId": key, "GranteePrincipal": user, "RetiringServicePrincipal": service,
                "Operations": ["Encrypt"] }),
    ] {
        let (status, reply) = server.call_raw("CreateGrant", &body.to_string());
        let message = assert_error(status, &reply, 400, "UnsupportedOperationException");
        assert!(message.contains("service principals"), "{message}");
    }
    let (status, reply) = server.call_raw("ListGrants", &json!({ "KeyId": key }).to_string());
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["Grants"], json!([]), "{reply}");
}

// ---------------------------------------------------------------- Recipient

/// AWS's `Recipient` (a Nitro Enclaves attestation document) asks for the
/// answer's secret encrypted to the enclave, not in the clear: Trent cannot
/// honour it, so it refuses (UnsupportedOperationException) and never
/// answers with the plaintext, in each operation that takes it; the same
/// requests without it succeed.
#[tokio::test(flavor = "multi_thread")]
async fn a_recipient_is_refused_and_no_plaintext_is_returned() {
    let server = Server::start();
    let key = create_key(&server);
    let (status, sealed) = server.call_raw(
        "Encrypt",
        &json!({ "KeyId": key, "Plaintext": "c2VjcmV0" }).to_string(),
    );
    assert_eq!(status, 200, "{sealed}");
    let recipient = json!({
        "KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256",
        "AttestationDocument": "YXR0ZXN0YXRpb24=",
    });
    for (op, body) in [
        (
            "Decrypt",
            json!({ "CiphertextBlob": sealed["CiphertextBlob"] }),
        ),
        (
            "GenerateDataKey",
            json!({ "KeyId": key, "KeySpec": "AES_256" }),
        ),
        (
            "GenerateDataKeyPair",
            json!({ "KeyId": key, "KeyPairSpec": "ECC_NIST_P256" }),
        ),
        ("GenerateRandom", json!({ "NumberOfBytes": 32 })),
    ] {
        let (status, reply) = server.call_raw(op, &body.to_string());
        assert_eq!(status, 200, "{op} without Recipient: {reply}");
        let mut with = body.clone();
        with["Recipient"] = recipient.clone();
        let (status, reply) = server.call_raw(op, &with.to_string());
        let message = assert_error(status, &reply, 400, "UnsupportedOperationException");
        assert!(message.contains("Recipient"), "{op}: {message}");
        assert!(reply.get("Plaintext").is_none(), "{op}: {reply}");
        assert!(reply.get("PrivateKeyPlaintext").is_none(), "{op}: {reply}");
    }
}

// ---------------------------------------------------------------- model constraints

/// Values that break AWS's model constraints are ValidationException
/// naming the member, before any lookup (AWS validates first): a marker
/// that is empty, over 1024 characters or outside U+0020–U+00FF, a policy
/// name outside `[\w]+`, an empty grant id or grant token, an empty import
/// token. Well-formed values that match nothing keep their own errors.
#[tokio::test(flavor = "multi_thread")]
async fn model_constraints_are_checked_before_lookups() {
    let server = Server::start();
    let key = create_key(&server);
    let long_marker = "m".repeat(1025);
    let refused = [
        ("ListKeys", json!({ "Marker": "" }), "Marker"),
        ("ListAliases", json!({ "Marker": long_marker }), "Marker"),
        (
            "ListGrants",
            json!({ "KeyId": key, "Marker": "m\u{1}m" }),
            "Marker",
        ),
        (
            "GetKeyPolicy",
            json!({ "KeyId": key, "PolicyName": "de-fault" }),
            "PolicyName",
        ),
        (
            "GetKeyPolicy",
            json!({ "KeyId": key, "PolicyName": "" }),
            "PolicyName",
        ),
        (
            "RevokeGrant",
            json!({ "KeyId": key, "GrantId": "" }),
            "GrantId",
        ),
        ("RetireGrant", json!({ "GrantToken": "" }), "GrantToken"),
        (
            "ImportKeyMaterial",
            json!({ "KeyId": key, "ImportToken": "", "EncryptedKeyMaterial": "AAAA" }),
            "ImportToken",
        ),
    ];
    for (op, body, member) in refused {
        let (status, reply) = server.call_raw(op, &body.to_string());
        let message = assert_error(status, &reply, 400, "ValidationException");
        let lower = format!("{}{}", member[..1].to_lowercase(), &member[1..]);
        assert!(message.contains(&lower), "{op} {member}: {message}");
    }
    let kept = [
        (
            "ListKeys",
            json!({ "Marker": "not*base64" }),
            "InvalidMarkerException",
        ),
        (
            "GetKeyPolicy",
            json!({ "KeyId": key, "PolicyName": "other" }),
            "NotFoundException",
        ),
        (
            "RevokeGrant",
            json!({ "KeyId": key, "GrantId": "abc" }),
            "InvalidGrantIdException",
        ),
        (
            "RetireGrant",
            json!({ "GrantToken": "abc" }),
            "InvalidGrantTokenException",
        ),
    ];
    for (op, body, code) in kept {
        let (status, reply) = server.call_raw(op, &body.to_string());
        assert_error(status, &reply, 400, code);
    }
}

// ---------------------------------------------------------------- ML-KEM

/// ML-KEM key specs, their usage and grant operations are values AWS's
/// model has: they are not invalid (ValidationException listing the enum),
/// but unsupported where the token lacks ML-KEM, and a usage or grant
/// operation that does not fit the key is refused as for any other spec.
#[tokio::test(flavor = "multi_thread")]
async fn ml_kem_values_are_unsupported_not_invalid() {
    let server = Server::start();
    let key = create_key(&server);
    for (op, body, code) in [
        (
            "CreateKey",
            json!({ "KeySpec": "ML_KEM_768", "KeyUsage": "ENCAPSULATE_DECAPSULATE" }),
            "UnsupportedOperationException",
        ),
        (
            "CreateKey",
            json!({ "KeySpec": "ML_KEM_512", "KeyUsage": "SIGN_VERIFY" }),
            "ValidationException",
        ),
        (
            "CreateKey",
            json!({ "KeyUsage": "ENCAPSULATE_DECAPSULATE" }),
            "ValidationException",
        ),
        (
            "GenerateDataKeyPair",
            json!({ "KeyId": key, "KeyPairSpec": "ML_KEM_1024" }),
            "UnsupportedOperationException",
        ),
    ] {
        let (status, reply) = server.call_raw(op, &body.to_string());
        let message = assert_error(status, &reply, 400, code);
        assert!(
            !message.contains("enum value set"),
            "{op} {body}: {message}"
        );
    }
    let (status, reply) = server.call_raw(
        "CreateGrant",
        &json!({ "KeyId": key, "GranteePrincipal": "arn:aws:iam::111122223333:user/dave",
                 "Operations": ["Encapsulate"] })
        .to_string(),
    );
    let message = assert_error(status, &reply, 400, "ValidationException");
    assert!(!message.contains("enum value set"), "{message}");
}

// ---------------------------------------------------------------- members Trent does not serve

/// Members Trent has no use for (grant tokens, a Recipient's parts, custom
/// and external key store ids, service principals, a SourceArn, resource
/// owners, dry-run modifiers) and members whose checks used to name
/// another member are checked against AWS's model first: a
/// ValidationException naming the member by AWS's path for it (list
/// members as `list.N.member`). Well-formed values are not refused as
/// invalid.
#[tokio::test(flavor = "multi_thread")]
async fn model_constraints_name_every_member() {
    let server = Server::start();
    let key = create_key(&server);
    let user = "arn:aws:iam::111122223333:user/dave";
    let eleven: Vec<String> = (0..11).map(|i| format!("token{i}")).collect();
    let refused = [
        (
            "Encrypt",
            json!({ "KeyId": key, "Plaintext": "AA==", "GrantTokens": eleven }),
            "'grantTokens'",
        ),
        (
            "DescribeKey",
            json!({ "KeyId": key, "GrantTokens": ["ok", ""] }),
            "'grantTokens.2.member'",
        ),
        (
            "GenerateRandom",
            json!({ "NumberOfBytes": 8, "Recipient": { "KeyEncryptionAlgorithm": "BOGUS" } }),
            "'recipient.keyEncryptionAlgorithm'",
        ),
        (
            "ReEncrypt",
            json!({ "CiphertextBlob": "AA==", "SourceKeyId": "", "DestinationKeyId": key }),
            "'sourceKeyId'",
        ),
        (
            "ReEncrypt",
            json!({ "CiphertextBlob": "AA==", "DestinationKeyId": key,
                    "DestinationEncryptionAlgorithm": "BOGUS" }),
            "'destinationEncryptionAlgorithm'",
        ),
        (
            "CreateAlias",
            json!({ "AliasName": "alias/named", "TargetKeyId": "" }),
            "'targetKeyId'",
        ),
        (
            "CreateKey",
            json!({ "CustomerMasterKeySpec": "BOGUS" }),
            "'customerMasterKeySpec'",
        ),
        (
            "CreateKey",
            json!({ "XksKeyId": "has space" }),
            "'xksKeyId'",
        ),
        (
            "CreateKey",
            json!({ "CustomKeyStoreId": "" }),
            "'customKeyStoreId'",
        ),
        (
            "CreateGrant",
            json!({ "KeyId": key, "GranteeServicePrincipal": "nodots",
                    "Operations": ["Encrypt"] }),
            "'granteeServicePrincipal'",
        ),
        (
            "CreateGrant",
            json!({ "KeyId": key, "GranteePrincipal": user, "Operations": ["Encrypt"],
                    "Constraints": { "SourceArn": "arn:aws:s3:::short" } }),
            "'constraints.sourceArn'",
        ),
        (
            "ListKeys",
            json!({ "ResourceOwners": ["SELF", "BOGUS"] }),
            "'resourceOwners.2.member'",
        ),
        (
            "ListKeys",
            json!({ "ResourceOwners": [] }),
            "'resourceOwners'",
        ),
        (
            "Decrypt",
            json!({ "KeyId": key, "DryRun": true, "DryRunModifiers": ["BOGUS"] }),
            "'dryRunModifiers.1.member'",
        ),
        (
            "ListRetirableGrants",
            json!({ "RetiringServicePrincipal": "a.b" }),
            "'retiringServicePrincipal'",
        ),
        (
            "ReplicateKey",
            json!({ "KeyId": key, "ReplicaRegion": "US-EAST-1" }),
            "'replicaRegion'",
        ),
        (
            "ScheduleKeyDeletion",
            json!({ "KeyId": key, "PendingWindowInDays": 0 }),
            "'pendingWindowInDays'",
        ),
        (
            "ListKeyPolicies",
            json!({ "KeyId": key, "Marker": "" }),
            "'marker'",
        ),
    ];
    for (op, body, member) in refused {
        let (status, reply) = server.call_raw(op, &body.to_string());
        let message = assert_error(status, &reply, 400, "ValidationException");
        assert!(
            message.starts_with("1 validation error detected") && message.contains(member),
            "{op} {body}: {message}"
        );
    }
    let ten: Vec<String> = (0..10).map(|i| format!("token{i}")).collect();
    let (status, reply) = server.call_raw(
        "Encrypt",
        &json!({ "KeyId": key, "Plaintext": "AA==", "GrantTokens": ten }).to_string(),
    );
    assert_eq!(status, 200, "{reply}");
    for body in [
        json!({ "XksKeyId": "external-key_1.0" }),
        json!({ "CustomKeyStoreId": "cks-1234567890abcdef0" }),
    ] {
        let (status, reply) = server.call_raw("CreateKey", &body.to_string());
        assert_error(status, &reply, 400, "UnsupportedOperationException");
    }
    let (status, reply) = server.call_raw(
        "ScheduleKeyDeletion",
        &json!({ "KeyId": key, "PendingWindowInDays": 6 }).to_string(),
    );
    let message = assert_error(status, &reply, 400, "ValidationException");
    assert_eq!(message, "PendingWindowInDays must be between 7 and 30");
}

/// Filters by what Trent has none of (keys shared through AWS RAM, grants
/// to AWS service principals) match nothing; they used to be ignored, and
/// the listing showed what the filter excluded.
#[tokio::test(flavor = "multi_thread")]
async fn filters_by_what_trent_lacks_match_nothing() {
    let server = Server::start();
    let key = create_key(&server);
    let user = "arn:aws:iam::111122223333:user/dave";
    let (status, reply) = server.call_raw(
        "CreateGrant",
        &json!({ "KeyId": key, "GranteePrincipal": user, "RetiringPrincipal": user,
                 "Operations": ["Encrypt"] })
        .to_string(),
    );
    assert_eq!(status, 200, "{reply}");
    let service = "logs.us-east-1.amazonaws.com";
    let listings = [
        ("ListKeys", json!({ "ResourceOwners": ["SELF"] }), "Keys", 1),
        (
            "ListKeys",
            json!({ "ResourceOwners": ["OTHER_ACCOUNTS_VIA_RAM", "SELF"] }),
            "Keys",
            1,
        ),
        (
            "ListKeys",
            json!({ "ResourceOwners": ["OTHER_ACCOUNTS_VIA_RAM"] }),
            "Keys",
            0,
        ),
        ("ListGrants", json!({ "KeyId": key }), "Grants", 1),
        (
            "ListGrants",
            json!({ "KeyId": key, "GranteeServicePrincipal": service }),
            "Grants",
            0,
        ),
        (
            "ListRetirableGrants",
            json!({ "RetiringPrincipal": user }),
            "Grants",
            1,
        ),
        (
            "ListRetirableGrants",
            json!({ "RetiringServicePrincipal": service }),
            "Grants",
            0,
        ),
    ];
    for (op, body, list, want) in listings {
        let (status, reply) = server.call_raw(op, &body.to_string());
        assert_eq!(status, 200, "{op} {body}: {reply}");
        let got = reply[list].as_array().map(Vec::len);
        assert_eq!(got, Some(want), "{op} {body}: {reply}");
    }
}

/// A dry run with `IGNORE_CIPHERTEXT` checks the named key, its state and
/// the caller's rights without a ciphertext (DryRunOperationException);
/// without the modifier the ciphertext is checked as before; without a key
/// to check, it is a ValidationException.
#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_may_ignore_the_ciphertext() {
    let server = Server::start();
    let key = create_key(&server);
    let other = create_key(&server);
    let ignore = json!(["IGNORE_CIPHERTEXT"]);
    let cases = [
        (
            "Decrypt",
            json!({ "KeyId": key, "DryRun": true, "DryRunModifiers": ignore }),
            "DryRunOperationException",
        ),
        (
            "Decrypt",
            json!({ "KeyId": key, "CiphertextBlob": "bm90IGEgY2lwaGVydGV4dA==",
                    "DryRun": true, "DryRunModifiers": ignore }),
            "DryRunOperationException",
        ),
        (
            "Decrypt",
            json!({ "KeyId": key, "CiphertextBlob": "bm90IGEgY2lwaGVydGV4dA==",
                    "DryRun": true }),
            "InvalidCiphertextException",
        ),
        (
            "Decrypt",
            json!({ "DryRun": true, "DryRunModifiers": ignore }),
            "ValidationException",
        ),
        (
            "ReEncrypt",
            json!({ "SourceKeyId": key, "DestinationKeyId": other, "DryRun": true,
                    "DryRunModifiers": ignore }),
            "DryRunOperationException",
        ),
        (
            "ReEncrypt",
            json!({ "DestinationKeyId": other, "DryRun": true, "DryRunModifiers": ignore }),
            "ValidationException",
        ),
    ];
    for (op, body, code) in &cases {
        let (status, reply) = server.call_raw(op, &body.to_string());
        // AWS sends InvalidCiphertextException without a message.
        assert_eq!(
            (status, reply["__type"].as_str()),
            (400, Some(*code)),
            "{op} {body}: {reply}"
        );
    }
    let (status, reply) = server.call_raw("DisableKey", &json!({ "KeyId": key }).to_string());
    assert_eq!(status, 200, "{reply}");
    for (op, body, _) in &cases[..1] {
        let (status, reply) = server.call_raw(op, &body.to_string());
        assert_error(status, &reply, 400, "DisabledException");
    }
    let (status, reply) = server.call_raw("EnableKey", &json!({ "KeyId": key }).to_string());
    assert_eq!(status, 200, "{reply}");
}

/// AWS checks every member against its model before the operation runs, so
/// a request breaking the model is a `ValidationException` naming the
/// member even when its key does not exist (which would otherwise be
/// `NotFoundException`), and a member's own constraint is reported before a
/// rule joining two members.
#[tokio::test(flavor = "multi_thread")]
async fn model_checks_come_before_the_key_lookup() {
    let server = Server::start();
    let nokey = "1234abcd-12ab-34cd-56ef-1234567890ab";
    let mrk = "mrk-1234abcd12ab34cd56ef1234567890ab";
    let long = |n: usize| "x".repeat(n);
    let cases: Vec<(&str, Value, &str)> = vec![
        ("Encrypt", json!({"KeyId": nokey}), "'plaintext'"),
        (
            "Encrypt",
            json!({"KeyId": nokey, "Plaintext": ""}),
            "'plaintext'",
        ),
        (
            "Encrypt",
            json!({"KeyId": nokey, "Plaintext": "AA==", "EncryptionAlgorithm": "NOPE"}),
            "'encryptionAlgorithm'",
        ),
        (
            "Decrypt",
            json!({"CiphertextBlob": "AAAA", "EncryptionAlgorithm": "NOPE"}),
            "'encryptionAlgorithm'",
        ),
        (
            "GenerateDataKey",
            json!({"KeyId": nokey, "NumberOfBytes": 0}),
            "'numberOfBytes'",
        ),
        (
            "GenerateDataKey",
            json!({"KeyId": nokey, "KeySpec": "AES_256", "NumberOfBytes": 1025}),
            "'numberOfBytes'",
        ),
        (
            "GenerateDataKeyWithoutPlaintext",
            json!({"KeyId": nokey, "KeySpec": "AES_999"}),
            "'keySpec'",
        ),
        (
            "GetKeyPolicy",
            json!({"KeyId": nokey, "PolicyName": ""}),
            "'policyName'",
        ),
        ("PutKeyPolicy", json!({"KeyId": nokey}), "'policy'"),
        (
            "PutKeyPolicy",
            json!({"KeyId": nokey, "PolicyName": "default", "Policy": long(40_000)}),
            "'policy'",
        ),
        ("ListGrants", json!({"KeyId": nokey, "Limit": 0}), "'limit'"),
        (
            "ListGrants",
            json!({"KeyId": nokey, "GrantId": ""}),
            "'grantId'",
        ),
        (
            "ListKeyPolicies",
            json!({"KeyId": nokey, "Marker": long(1025)}),
            "'marker'",
        ),
        (
            "ListKeyRotations",
            json!({"KeyId": nokey, "IncludeKeyMaterial": "NOPE"}),
            "'includeKeyMaterial'",
        ),
        (
            "ListResourceTags",
            json!({"KeyId": nokey, "Limit": 1001}),
            "'limit'",
        ),
        (
            "UpdateKeyDescription",
            json!({"KeyId": nokey, "Description": long(8193)}),
            "'description'",
        ),
        ("RevokeGrant", json!({"KeyId": nokey}), "'grantId'"),
        (
            "Verify",
            json!({"KeyId": nokey, "Message": "AA==", "SigningAlgorithm": "ECDSA_SHA_256"}),
            "'signature'",
        ),
        (
            "VerifyMac",
            json!({"KeyId": nokey, "Message": "AA==", "MacAlgorithm": "HMAC_SHA_256"}),
            "'mac'",
        ),
        (
            "ReplicateKey",
            json!({"KeyId": mrk, "ReplicaRegion": "us-west-2", "Description": long(8193)}),
            "'description'",
        ),
        (
            "TagResource",
            json!({"KeyId": nokey, "Tags": [{"TagKey": "a", "TagValue": "b"}, {"TagValue": "c"}]}),
            "'tags.2.member.tagKey'",
        ),
        (
            "ImportKeyMaterial",
            json!({"KeyId": nokey, "ImportToken": "AAAA", "EncryptedKeyMaterial": "AAAA",
                   "KeyMaterialDescription": "bad!"}),
            "'keyMaterialDescription'",
        ),
    ];
    for (op, body, member) in cases {
        let (status, reply) = server.call_raw(op, &body.to_string());
        let message = assert_error(status, &reply, 400, "ValidationException");
        assert!(message.contains(member), "{op} {body}: {message}");
    }
    // Past the model's bound the message gives the model's; between it and
    // the smaller documented bound, the documented one.
    for (op, body, bound) in [
        (
            "ListAliases",
            json!({"Limit": 1001}),
            "less than or equal to 1000",
        ),
        (
            "ListAliases",
            json!({"Limit": 101}),
            "less than or equal to 100",
        ),
        (
            "PutKeyPolicy",
            json!({"KeyId": nokey, "Policy": long(131_073)}),
            "less than or equal to 131072",
        ),
        (
            "PutKeyPolicy",
            json!({"KeyId": nokey, "Policy": long(32_769)}),
            "less than or equal to 32768",
        ),
    ] {
        let (status, reply) = server.call_raw(op, &body.to_string());
        let message = assert_error(status, &reply, 400, "ValidationException");
        assert!(message.contains(bound), "{op}: {message}");
    }
}
