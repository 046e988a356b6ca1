//! What the audit trail must not miss: the key a refused Decrypt tried, the
//! access key of a refused presigned request, a line for an operation that
//! panicked, and the request id on every log line of a request.

mod common;

use aws_sdk_kms::primitives::Blob;
use common::{Server, Signing, error_code, sign_request};
use serde_json::Value;
use std::time::{Duration, SystemTime};

fn audit_lines(server: &Server) -> Vec<Value> {
    std::fs::read_to_string(server.data_dir().join("audit.log"))
        .expect("audit log")
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit JSON"))
        .collect()
}

fn last_line_of(server: &Server, operation: &str) -> Value {
    audit_lines(server)
        .into_iter()
        .rev()
        .find(|l| l["operation"] == operation)
        .unwrap_or_else(|| panic!("no audit line for {operation}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_decrypt_records_the_key_its_ciphertext_names() {
    let config = r#"
[[credentials]]
access_key_id = "AKIAALICE0000000000A"
secret_access_key = "alice-secret"
principal = "arn:aws:iam::111122223333:user/alice"

[[credentials]]
access_key_id = "AKIAMALLORY00000000A"
secret_access_key = "mallory-secret"
principal = "arn:aws:iam::111122223333:user/mallory"
"#;
    let server = Server::start_with_config(config);
    let alice = server.client_as("us-east-1", "AKIAALICE0000000000A", "alice-secret");
    let mallory = server.client_as("us-east-1", "AKIAMALLORY00000000A", "mallory-secret");
    let arn = alice
        .create_key()
        .policy(common::ALICE_ONLY)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap();
    let blob = alice
        .encrypt()
        .key_id(&arn)
        .plaintext(Blob::new(b"x".to_vec()))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let refused = mallory.decrypt().ciphertext_blob(blob).send().await;
    assert_eq!(error_code(refused), "AccessDeniedException");
    let line = last_line_of(&server, "Decrypt");
    assert_eq!(line["error_code"], "AccessDeniedException");
    assert_eq!(line["principal"], "arn:aws:iam::111122223333:user/mallory");
    assert_eq!(line["key_arns"], serde_json::json!([arn]), "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_presigned_request_records_its_access_key_id() {
    let server = Server::start();
    let (key, secret) = server.credentials();
    let presigned = sign_request(
        &server,
        &Signing {
            presign_for: Some(Duration::from_secs(60)),
            time: SystemTime::now() - Duration::from_secs(600),
            ..Signing::new("us-east-1", &key, &secret)
        },
        &[
            ("X-Amz-Target", "TrentService.ListKeys"),
            ("Content-Type", "application/x-amz-json-1.1"),
        ],
        b"{}",
    );
    let mut path = "/".to_string();
    let mut headers = vec![
        ("X-Amz-Target", "TrentService.ListKeys"),
        ("Content-Type", "application/x-amz-json-1.1"),
    ];
    for (k, v) in &presigned {
        if k == "?query" {
            path = format!("/?{v}");
        } else {
            headers.push((k.as_str(), v.as_str()));
        }
    }
    let (status, body) = server.raw(&path, &headers, b"{}");
    assert_eq!(status, 400, "{body}");
    let line = last_line_of(&server, "ListKeys");
    assert_eq!(line["error_code"], "InvalidSignatureException");
    assert_eq!(line["access_key_id"], key.as_str(), "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_operation_is_audited_and_every_log_line_names_its_request() {
    let server = Server::start_logged(&[]);
    let kms = server.client("us-east-1");
    let key = common::new_key(&kms).await;

    let (status, _) = server.raw("/_trent/test/panic", &[], b"");
    assert_eq!(status, 200);
    let (status, body) = server.call_raw("ListKeys", "{}");
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["__type"], "KMSInternalException", "{body}");
    // The server goes on serving.
    kms.describe_key().key_id(&key).send().await.unwrap();

    let log = server.log();
    let panicked = last_line_of(&server, "ListKeys");
    assert_eq!(panicked["error_code"], "KMSInternalException");
    let panic_id = panicked["request_id"].as_str().unwrap();
    for event in ["operation panicked", "panic requested through"] {
        assert!(
            log.lines()
                .any(|l| l.contains(event) && l.contains(panic_id)),
            "no {event:?} log line with request id {panic_id}:\n{log}"
        );
    }
    let created = last_line_of(&server, "CreateKey");
    let create_id = created["request_id"].as_str().unwrap();
    let create_lines: Vec<&str> = log.lines().filter(|l| l.contains("key created")).collect();
    assert!(!create_lines.is_empty(), "{log}");
    assert!(
        create_lines.iter().all(|l| l.contains(create_id)),
        "CreateKey's log lines lack request id {create_id}:\n{log}"
    );
}
