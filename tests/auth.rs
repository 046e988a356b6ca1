//! SigV4 authentication: good signatures pass, and each way of getting it
//! wrong is refused with the AWS error type, with nothing changed.

mod common;

use common::{Server, Signing, error_code, sign_request};
use serde_json::Value;
use std::time::{Duration, SystemTime};

const TARGET: (&str, &str) = ("X-Amz-Target", "TrentService.CreateKey");
const JSON: (&str, &str) = ("Content-Type", "application/x-amz-json-1.1");

/// Sends CreateKey with the given signature headers; returns (status, body).
fn send(server: &Server, signature: &[(String, String)], extra: &[(&str, &str)]) -> (u16, Value) {
    let mut path = "/".to_string();
    let mut headers = vec![TARGET, JSON];
    for (k, v) in signature {
        if k == "?query" {
            path = format!("/?{v}");
        } else {
            headers.push((k.as_str(), v.as_str()));
        }
    }
    headers.extend_from_slice(extra);
    let (status, text) = server.raw(&path, &headers, b"{}");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn assert_refused(server: &Server, (status, body): (u16, Value), want: &str) {
    assert_eq!(body["__type"], want, "{status} {body}");
    assert!((400..500).contains(&status), "{status}");
    assert!(!body["message"].as_str().unwrap_or("").is_empty());
    // Nothing was created by the refused request.
    let keys = server.call_raw("ListKeys", "{}").1;
    assert_eq!(keys["Keys"].as_array().map(Vec::len), Some(0), "{keys}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_correct_signature_is_accepted_in_both_forms() {
    let server = Server::start();
    let (key, secret) = server.credentials();
    let header = sign_request(
        &server,
        &Signing::new("us-east-1", &key, &secret),
        &[TARGET, JSON],
        b"{}",
    );
    let (status, body) = send(&server, &header, &[]);
    assert_eq!(status, 200, "{body}");

    let presigned = sign_request(
        &server,
        &Signing {
            presign_for: Some(Duration::from_secs(300)),
            ..Signing::new("us-west-2", &key, &secret)
        },
        &[TARGET, JSON],
        b"{}",
    );
    assert!(
        presigned
            .iter()
            .any(|(k, v)| k == "?query" && v.contains("X-Amz-Signature="))
    );
    let (status, body) = send(&server, &presigned, &[]);
    assert_eq!(status, 200, "{body}");
    assert!(
        body["KeyMetadata"]["Arn"]
            .as_str()
            .unwrap()
            .contains(":us-west-2:")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_signature_is_invalid() {
    let server = Server::start();
    let (key, secret) = server.credentials();
    let mut signature = sign_request(
        &server,
        &Signing::new("us-east-1", &key, &secret),
        &[TARGET, JSON],
        b"{}",
    );
    for (k, v) in signature.iter_mut() {
        if k.eq_ignore_ascii_case("authorization") {
            let last = v.pop().unwrap();
            v.push(if last == '0' { '1' } else { '0' });
        }
    }
    let reply = send(&server, &signature, &[]);
    assert_refused(&server, reply, "InvalidSignatureException");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_body_or_signed_header_is_invalid() {
    let server = Server::start();
    let (key, secret) = server.credentials();
    let signature = sign_request(
        &server,
        &Signing::new("us-east-1", &key, &secret),
        &[TARGET, JSON],
        b"{}",
    );
    let mut headers = vec![JSON, ("X-Amz-Target", "TrentService.ListKeys")];
    headers.extend(signature.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let (status, text) = server.raw("/", &headers, b"{}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "InvalidSignatureException", "{body}");

    let mut headers = vec![TARGET, JSON];
    headers.extend(signature.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let (_, text) = server.raw("/", &headers, br#"{"Description":"x"}"#);
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["__type"], "InvalidSignatureException", "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_secret_is_invalid() {
    let server = Server::start();
    let (key, _) = server.credentials();
    let signature = sign_request(
        &server,
        &Signing::new("us-east-1", &key, "not-the-secret"),
        &[TARGET, JSON],
        b"{}",
    );
    let reply = send(&server, &signature, &[]);
    assert_refused(&server, reply, "InvalidSignatureException");
    // The SDK sees the same.
    let client = server.client_as("us-east-1", &key, "not-the-secret");
    assert_eq!(
        error_code(client.list_keys().send().await),
        "InvalidSignatureException"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_access_key_is_unrecognized() {
    let server = Server::start();
    let signature = sign_request(
        &server,
        &Signing::new("us-east-1", "AKIAUNKNOWN000000000", "secret"),
        &[TARGET, JSON],
        b"{}",
    );
    let reply = send(&server, &signature, &[]);
    assert_refused(&server, reply, "UnrecognizedClientException");
    let client = server.client_as("us-east-1", "AKIAUNKNOWN000000000", "secret");
    assert_eq!(
        error_code(client.list_keys().send().await),
        "UnrecognizedClientException"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_or_future_date_is_refused() {
    let server = Server::start();
    let (key, secret) = server.credentials();
    for offset in [-600i64, 600] {
        let time = if offset < 0 {
            SystemTime::now() - Duration::from_secs(600)
        } else {
            SystemTime::now() + Duration::from_secs(600)
        };
        let signature = sign_request(
            &server,
            &Signing {
                time,
                ..Signing::new("us-east-1", &key, &secret)
            },
            &[TARGET, JSON],
            b"{}",
        );
        let reply = send(&server, &signature, &[]);
        assert_refused(&server, reply, "InvalidSignatureException");
    }
    // Four minutes off is inside the window.
    let signature = sign_request(
        &server,
        &Signing {
            time: SystemTime::now() - Duration::from_secs(240),
            ..Signing::new("us-east-1", &key, &secret)
        },
        &[TARGET, JSON],
        b"{}",
    );
    assert_eq!(send(&server, &signature, &[]).0, 200);
    // A presigned request past its expiry.
    let presigned = sign_request(
        &server,
        &Signing {
            presign_for: Some(Duration::from_secs(60)),
            time: SystemTime::now() - Duration::from_secs(120),
            ..Signing::new("us-east-1", &key, &secret)
        },
        &[TARGET, JSON],
        b"{}",
    );
    let (status, body) = send(&server, &presigned, &[]);
    assert_eq!(
        body["__type"], "InvalidSignatureException",
        "{status} {body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_or_incomplete_authorization_is_refused() {
    let server = Server::start();
    let reply = send(&server, &[], &[]);
    assert_refused(&server, reply, "MissingAuthenticationTokenException");

    let (key, secret) = server.credentials();
    let good = sign_request(
        &server,
        &Signing::new("us-east-1", &key, &secret),
        &[TARGET, JSON],
        b"{}",
    );
    let authorization = good
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.clone())
        .unwrap();
    let date = good
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-date"))
        .map(|(_, v)| v.clone())
        .unwrap();
    let without_signature = authorization
        .split(", Signature=")
        .next()
        .unwrap()
        .to_string();
    let without_host = authorization.replace(
        "SignedHeaders=content-type;host;",
        "SignedHeaders=content-type;",
    );
    for (auth, with_date) in [
        (without_signature, true),
        (without_host, true),
        (authorization.clone(), false),
        ("AWS4-HMAC-SHA256 Credential=oops".to_string(), true),
    ] {
        let mut headers = vec![("authorization".to_string(), auth)];
        if with_date {
            headers.push(("x-amz-date".to_string(), date.clone()));
        }
        let reply = send(&server, &headers, &[]);
        assert_refused(&server, reply, "IncompleteSignatureException");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_for_another_service_are_refused() {
    let server = Server::start();
    let (key, secret) = server.credentials();
    let signature = sign_request(
        &server,
        &Signing::new("us-east-1", &key, &secret),
        &[TARGET, JSON],
        b"{}",
    );
    let retargeted: Vec<(String, String)> = signature
        .into_iter()
        .map(|(k, v)| (k, v.replace("/kms/aws4_request", "/s3/aws4_request")))
        .collect();
    let reply = send(&server, &retargeted, &[]);
    assert_refused(&server, reply, "InvalidSignatureException");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_declared_payload_hash_must_match_the_body() {
    use sha2::{Digest, Sha256};
    let server = Server::start();
    let (key, secret) = server.credentials();
    let original = br#"{"Description":"signed"}"#;
    let hash = hex::encode(Sha256::digest(original));
    let headers = [TARGET, JSON, ("x-amz-content-sha256", hash.as_str())];
    let signature = sign_request(
        &server,
        &Signing::new("us-east-1", &key, &secret),
        &headers,
        original,
    );
    let mut all: Vec<(&str, &str)> = headers.to_vec();
    all.extend(signature.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    // The signed body passes; a substituted one does not.
    let (status, text) = server.raw("/", &all, original);
    assert_eq!(status, 200, "{text}");
    let (status, text) = server.raw("/", &all, br#"{"Description":"forged"}"#);
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("InvalidSignatureException"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_target_must_be_signed() {
    let server = Server::start();
    let (key, secret) = server.credentials();
    let signature = sign_request(
        &server,
        &Signing::new("us-east-1", &key, &secret),
        &[JSON],
        b"{}",
    );
    let reply = send(&server, &signature, &[]);
    assert_refused(&server, reply, "IncompleteSignatureException");
}

// ---------------------------------------------------------------------------
// Issue 18, "Authentication negative tests": each part of a signed request
// changed after signing is refused, and the refused CreateKey made nothing.
// ---------------------------------------------------------------------------

/// Number of keys ListKeys returns (through a correctly signed request).
fn key_count(server: &Server) -> usize {
    let (status, keys) = server.call_raw("ListKeys", "{}");
    assert_eq!(status, 200, "{keys}");
    keys["Keys"].as_array().map(Vec::len).expect("Keys")
}

/// Runs `request` (a CreateKey) and checks it was refused with `want`
/// (HTTP 4xx, a message) and that ListKeys is unchanged by it.
fn assert_refused_creating_nothing(
    server: &Server,
    want: &str,
    what: &str,
    request: impl FnOnce() -> (u16, Value),
) {
    let before = key_count(server);
    let (status, body) = request();
    assert_eq!(body["__type"], want, "{what}: {status} {body}");
    assert!((400..500).contains(&status), "{what}: {status}");
    assert!(
        !body["message"].as_str().unwrap_or("").is_empty(),
        "{what}: {body}"
    );
    assert_eq!(key_count(server), before, "{what}: nothing is created");
}

/// Runs `request` (a CreateKey) and checks it made a key.
fn assert_created(server: &Server, what: &str, request: impl FnOnce() -> (u16, Value)) {
    let before = key_count(server);
    let (status, body) = request();
    assert_eq!(status, 200, "{what}: {body}");
    assert!(body["KeyMetadata"]["KeyId"].is_string(), "{what}: {body}");
    assert_eq!(key_count(server), before + 1, "{what}");
}

/// SigV4 headers (Authorization, X-Amz-Date) made by the official signer for
/// a POST to `http://{host}{path_and_query}` with `headers` and `body`.
fn sign_for(
    signing: &Signing<'_>,
    host: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<(String, String)> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_smithy_runtime_api::client::identity::Identity;
    let identity: Identity = aws_credential_types::Credentials::new(
        signing.access_key_id,
        signing.secret,
        None,
        None,
        "test",
    )
    .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(signing.region)
        .name("kms")
        .time(signing.time)
        .settings(SigningSettings::default())
        .build()
        .expect("signing params")
        .into();
    let mut all: Vec<(&str, &str)> = vec![("host", host)];
    all.extend_from_slice(headers);
    let url = format!("http://{host}{path_and_query}");
    let signable = SignableRequest::new("POST", url, all.into_iter(), SignableBody::Bytes(body))
        .expect("signable request");
    let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
    instructions
        .headers()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Sends a raw HTTP/1.1 POST of `path` with the given `Host` header and
/// `headers` (no other); returns (status, JSON body).
fn post_as(
    server: &Server,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Value) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(server.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// `headers` followed by the signature headers, for [`post_as`].
fn with_signature<'a>(
    headers: &[(&'a str, &'a str)],
    signature: &'a [(String, String)],
) -> Vec<(&'a str, &'a str)> {
    let mut all = headers.to_vec();
    all.extend(signature.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    all
}

/// The signature headers with `name`'s value replaced by `edit` of it.
fn edited(
    signature: &[(String, String)],
    name: &str,
    edit: impl Fn(&str) -> String,
) -> Vec<(String, String)> {
    let mut found = false;
    let out = signature
        .iter()
        .map(|(k, v)| {
            if k.eq_ignore_ascii_case(name) {
                found = true;
                (k.clone(), edit(v))
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    assert!(found, "{name} is among the signature headers");
    out
}

/// `YYYYMMDD'T'HHMMSS'Z'` of a time.
fn amz_date(time: SystemTime) -> String {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::OffsetDateTime::from(time).format(&format).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_x_amz_date_changed_after_signing_is_invalid() {
    let server = Server::start();
    let (key, secret) = server.credentials();
    let host = server.addr.to_string();
    let signed_at = SystemTime::now() - Duration::from_secs(60);
    let signature = sign_for(
        &Signing {
            time: signed_at,
            ..Signing::new("us-east-1", &key, &secret)
        },
        &host,
        "/",
        &[TARGET, JSON],
        b"{}",
    );
    // Later and earlier dates, both well inside the clock window.
    for shift in [30i64, -30, 1] {
        let moved = if shift > 0 {
            signed_at + Duration::from_secs(shift as u64)
        } else {
            signed_at - Duration::from_secs(shift.unsigned_abs())
        };
        let changed = edited(&signature, "x-amz-date", |_| amz_date(moved));
        assert_refused_creating_nothing(
            &server,
            "InvalidSignatureException",
            &format!("X-Amz-Date moved {shift}s"),
            || {
                post_as(
                    &server,
                    &host,
                    "/",
                    &with_signature(&[TARGET, JSON], &changed),
                    b"{}",
                )
            },
        );
    }
    assert_created(&server, "as signed", || {
        post_as(
            &server,
            &host,
            "/",
            &with_signature(&[TARGET, JSON], &signature),
            b"{}",
        )
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn a_credential_scope_with_another_region_is_invalid() {
    let server = Server::start();
    let (key, secret) = server.credentials();
    let host = server.addr.to_string();
    let signature = sign_for(
        &Signing::new("us-east-1", &key, &secret),
        &host,
        "/",
        &[TARGET, JSON],
        b"{}",
    );
    // us-west-2 is hosted too: only the signature can tell.
    for region in ["us-west-2", "eu-west-1"] {
        let changed = edited(&signature, "authorization", |v| {
            v.replace("/us-east-1/kms/", &format!("/{region}/kms/"))
        });
        assert_refused_creating_nothing(
            &server,
            "InvalidSignatureException",
            &format!("scope region {region}"),
            || {
                post_as(
                    &server,
                    &host,
                    "/",
                    &with_signature(&[TARGET, JSON], &changed),
                    b"{}",
                )
            },
        );
    }
    assert_created(&server, "as signed", || {
        post_as(
            &server,
            &host,
            "/",
            &with_signature(&[TARGET, JSON], &signature),
            b"{}",
        )
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn a_credential_scope_with_another_date_is_invalid() {
    let server = Server::start();
    let (key, secret) = server.credentials();
    let host = server.addr.to_string();
    let now = SystemTime::now();
    let signature = sign_for(
        &Signing {
            time: now,
            ..Signing::new("us-east-1", &key, &secret)
        },
        &host,
        "/",
        &[TARGET, JSON],
        b"{}",
    );
    let today = amz_date(now)[..8].to_string();
    for other in [Duration::from_secs(86_400), Duration::from_secs(2 * 86_400)] {
        let day = amz_date(now - other)[..8].to_string();
        let changed = edited(&signature, "authorization", |v| {
            v.replace(
                &format!("/{today}/us-east-1/"),
                &format!("/{day}/us-east-1/"),
            )
        });
        assert_refused_creating_nothing(
            &server,
            "InvalidSignatureException",
            &format!("scope date {day}"),
            || {
                post_as(
                    &server,
                    &host,
                    "/",
                    &with_signature(&[TARGET, JSON], &changed),
                    b"{}",
                )
            },
        );
        // The scope date and X-Amz-Date's date changed together: the
        // signature (and the clock) still refuse it.
        let both = edited(&changed, "x-amz-date", |_| amz_date(now - other));
        assert_refused_creating_nothing(
            &server,
            "InvalidSignatureException",
            &format!("scope date and X-Amz-Date {day}"),
            || {
                post_as(
                    &server,
                    &host,
                    "/",
                    &with_signature(&[TARGET, JSON], &both),
                    b"{}",
                )
            },
        );
    }
    assert_created(&server, "as signed", || {
        post_as(
            &server,
            &host,
            "/",
            &with_signature(&[TARGET, JSON], &signature),
            b"{}",
        )
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_host_is_invalid() {
    let server = Server::start();
    let (key, secret) = server.credentials();
    let host = server.addr.to_string();
    let port = server.addr.port();
    let signature = sign_for(
        &Signing::new("us-east-1", &key, &secret),
        &host,
        "/",
        &[TARGET, JSON],
        b"{}",
    );
    let headers = with_signature(&[TARGET, JSON], &signature);
    for other in [
        format!("localhost:{port}"),
        "127.0.0.1".to_string(),
        format!("127.0.0.1:{}", port.wrapping_add(1)),
        format!("kms.example.com:{port}"),
    ] {
        assert_refused_creating_nothing(
            &server,
            "InvalidSignatureException",
            &format!("Host {other}"),
            || post_as(&server, &other, "/", &headers, b"{}"),
        );
    }
    assert_created(&server, "as signed", || {
        post_as(&server, &host, "/", &headers, b"{}")
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_content_type_is_invalid() {
    let server = Server::start();
    let (key, secret) = server.credentials();
    let host = server.addr.to_string();
    let signature = sign_for(
        &Signing::new("us-east-1", &key, &secret),
        &host,
        "/",
        &[TARGET, JSON],
        b"{}",
    );
    for other in [
        "application/x-amz-json-1.0",
        "application/json",
        "application/x-amz-json-1.1; charset=utf-8",
    ] {
        let headers = with_signature(&[TARGET, ("Content-Type", other)], &signature);
        assert_refused_creating_nothing(
            &server,
            "InvalidSignatureException",
            &format!("Content-Type {other}"),
            || post_as(&server, &host, "/", &headers, b"{}"),
        );
    }
    assert_created(&server, "as signed", || {
        post_as(
            &server,
            &host,
            "/",
            &with_signature(&[TARGET, JSON], &signature),
            b"{}",
        )
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_path_or_query_is_invalid() {
    let server = Server::start();
    let (key, secret) = server.credentials();
    let host = server.addr.to_string();
    let signing = Signing::new("us-east-1", &key, &secret);
    // (signed for, sent to): the AWS dialect serves only `/`, so a changed
    // path is one signed for another path and sent to `/`.
    for (signed_for, sent_to) in [
        ("/other", "/"),
        ("/%2F", "/"),
        ("/", "/?Action=CreateKey"),
        ("/?a=1", "/"),
        ("/?a=1", "/?a=2"),
        ("/?a=1", "/?b=1"),
        ("/?a=1", "/?a=1&a=2"),
    ] {
        let signature = sign_for(&signing, &host, signed_for, &[TARGET, JSON], b"{}");
        let headers = with_signature(&[TARGET, JSON], &signature);
        assert_refused_creating_nothing(
            &server,
            "InvalidSignatureException",
            &format!("signed for {signed_for}, sent to {sent_to}"),
            || post_as(&server, &host, sent_to, &headers, b"{}"),
        );
    }
    for path in ["/", "/?a=1"] {
        let signature = sign_for(&signing, &host, path, &[TARGET, JSON], b"{}");
        let headers = with_signature(&[TARGET, JSON], &signature);
        assert_created(&server, &format!("{path} as signed"), || {
            post_as(&server, &host, path, &headers, b"{}")
        });
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_raised_presigned_expiry_is_invalid() {
    let server = Server::start();
    let (key, secret) = server.credentials();
    // Valid for 60 s from two minutes ago: expired.
    let presigned = sign_request(
        &server,
        &Signing {
            presign_for: Some(Duration::from_secs(60)),
            time: SystemTime::now() - Duration::from_secs(120),
            ..Signing::new("us-east-1", &key, &secret)
        },
        &[TARGET, JSON],
        b"{}",
    );
    let query = |expires: &str| -> Vec<(String, String)> {
        presigned
            .iter()
            .map(|(k, v)| {
                let v = if k == "?query" {
                    assert!(v.contains("X-Amz-Expires=60&") || v.ends_with("X-Amz-Expires=60"));
                    v.replace("X-Amz-Expires=60", &format!("X-Amz-Expires={expires}"))
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect()
    };
    assert_refused_creating_nothing(&server, "InvalidSignatureException", "expired", || {
        send(&server, &presigned, &[])
    });
    for raised in ["600", "3600", "604800"] {
        assert_refused_creating_nothing(
            &server,
            "InvalidSignatureException",
            &format!("X-Amz-Expires raised to {raised}"),
            || send(&server, &query(raised), &[]),
        );
    }
    // A presigned request still valid, with its expiry raised, is refused
    // too (the expiry is signed, whatever its value).
    let fresh = sign_request(
        &server,
        &Signing {
            presign_for: Some(Duration::from_secs(60)),
            ..Signing::new("us-east-1", &key, &secret)
        },
        &[TARGET, JSON],
        b"{}",
    );
    let raised: Vec<(String, String)> = fresh
        .iter()
        .map(|(k, v)| (k.clone(), v.replace("X-Amz-Expires=60", "X-Amz-Expires=61")))
        .collect();
    assert_refused_creating_nothing(
        &server,
        "InvalidSignatureException",
        "valid, X-Amz-Expires raised to 61",
        || send(&server, &raised, &[]),
    );
    assert_created(&server, "valid, as signed", || send(&server, &fresh, &[]));
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_x_amz_target_headers_are_refused() {
    let server = Server::start();
    let (key, secret) = server.credentials();
    let host = server.addr.to_string();
    let signing = Signing::new("us-east-1", &key, &secret);
    let create = TARGET;
    let list = ("X-Amz-Target", "TrentService.ListKeys");
    let describe = ("X-Amz-Target", "TrentService.DescribeKey");
    // One target signed, a second one added after signing, before or after it.
    let signature = sign_for(&signing, &host, "/", &[create, JSON], b"{}");
    for headers in [
        [create, list, JSON],
        [list, create, JSON],
        [create, create, JSON],
    ] {
        let sent = with_signature(&headers, &signature);
        assert_refused_creating_nothing(
            &server,
            "IncompleteSignatureException",
            &format!("added target: {headers:?}"),
            || post_as(&server, &host, "/", &sent, b"{}"),
        );
    }
    // Both targets signed (the canonical request holds both values, joined
    // by a comma): still ambiguous, so refused.
    for headers in [
        [create, list, JSON],
        [list, create, JSON],
        [describe, create, JSON],
        [create, create, JSON],
    ] {
        let signature = sign_for(&signing, &host, "/", &headers, b"{}");
        let sent = with_signature(&headers, &signature);
        assert_refused_creating_nothing(
            &server,
            "IncompleteSignatureException",
            &format!("signed targets: {headers:?}"),
            || post_as(&server, &host, "/", &sent, b"{}"),
        );
    }
    assert_created(&server, "one target, as signed", || {
        post_as(
            &server,
            &host,
            "/",
            &with_signature(&[create, JSON], &signature),
            b"{}",
        )
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn the_clock_window_is_300_seconds_either_way() {
    let server = Server::start();
    let (key, secret) = server.credentials();
    let at = |offset: i64| {
        let time = if offset < 0 {
            SystemTime::now() - Duration::from_secs(offset.unsigned_abs())
        } else {
            SystemTime::now() + Duration::from_secs(offset as u64)
        };
        sign_request(
            &server,
            &Signing {
                time,
                ..Signing::new("us-east-1", &key, &secret)
            },
            &[TARGET, JSON],
            b"{}",
        )
    };
    for offset in [-310i64, 310] {
        let signature = at(offset);
        assert_refused_creating_nothing(
            &server,
            "InvalidSignatureException",
            &format!("signed {offset}s from now"),
            || send(&server, &signature, &[]),
        );
    }
    for offset in [-290i64, 290] {
        let signature = at(offset);
        assert_created(&server, &format!("signed {offset}s from now"), || {
            send(&server, &signature, &[])
        });
    }
}
