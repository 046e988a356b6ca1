//! TLS termination, and the refusal to serve plain HTTP beyond loopback.

mod common;

use common::Server;
use std::process::{Command, Stdio};

/// A self-signed certificate for 127.0.0.1, as (cert PEM, key PEM).
fn self_signed() -> (String, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    (cert.cert.pem(), cert.signing_key.serialize_pem())
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_the_kms_api_over_https() {
    let dir = tempfile::TempDir::new().unwrap();
    let (cert, key) = self_signed();
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, &cert).unwrap();
    std::fs::write(&key_file, &key).unwrap();
    let tls = format!(
        "{{cert_file={:?},key_file={:?}}}",
        cert_file.display().to_string(),
        key_file.display().to_string()
    );
    let server = Server::start_with_env(&[("TRENT_TLS", tls.as_str())]);

    let (access_key, secret) = server.credentials();
    let trust =
        aws_smithy_http_client::tls::TrustStore::empty().with_pem_certificate(cert.into_bytes());
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .tls_context(
            aws_smithy_http_client::tls::TlsContext::builder()
                .with_trust_store(trust)
                .build()
                .unwrap(),
        )
        .build_https();
    let config = aws_sdk_kms::Config::builder()
        .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
        .region(aws_sdk_kms::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_kms::config::Credentials::new(
            access_key, secret, None, None, "test",
        ))
        .endpoint_url(format!("https://{}", server.addr))
        .http_client(http)
        .build();
    let kms = aws_sdk_kms::Client::from_conf(config);
    let key_id = common::new_key(&kms).await;
    let blob = kms
        .encrypt()
        .key_id(&key_id)
        .plaintext(aws_sdk_kms::primitives::Blob::new(b"over tls".to_vec()))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let plain = kms.decrypt().ciphertext_blob(blob).send().await.unwrap();
    assert_eq!(plain.plaintext.unwrap().as_ref(), b"over tls");

    // Plain HTTP to the TLS port gets no KMS answer.
    let (status, _) = server.raw("/", &[], b"{}");
    assert_ne!(status, 200);
    // The plain-HTTP client cannot use it either.
    assert!(server.client("us-east-1").list_keys().send().await.is_err());
}

fn start_exit_status(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::TempDir::new().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trent"));
    cmd.arg("serve")
        .env("TRENT_DATA_DIR", dir.path().join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    match child.try_wait().unwrap() {
        Some(status) => {
            let out = child.wait_with_output().unwrap();
            (
                status.code(),
                String::from_utf8_lossy(&out.stderr).to_string(),
            )
        }
        None => {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            (None, String::from_utf8_lossy(&out.stdout).to_string())
        }
    }
}

#[test]
fn plain_http_beyond_loopback_needs_an_explicit_setting() {
    let (code, stderr) = start_exit_status(&[("TRENT_LISTEN", "0.0.0.0:0")]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("not loopback"), "{stderr}");

    let (code, stdout) = start_exit_status(&[
        ("TRENT_LISTEN", "0.0.0.0:0"),
        ("TRENT_ALLOW_PLAINTEXT_NON_LOOPBACK", "true"),
    ]);
    assert_eq!(code, None, "the server should keep running");
    assert!(
        stdout.contains("trent listening on http://0.0.0.0:"),
        "{stdout}"
    );
}
