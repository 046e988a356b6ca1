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
