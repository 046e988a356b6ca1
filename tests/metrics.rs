//! `GET /metrics`: the Prometheus exposition counts what was served, by
//! bounded labels only, and names no key or principal.

mod common;

use aws_sdk_kms::primitives::Blob;
use common::*;
use std::collections::HashMap;

/// The value of `series`, failing the test with the body if it is missing.
fn value(samples: &HashMap<String, f64>, series: &str, body: &str) -> f64 {
    *samples
        .get(series)
        .unwrap_or_else(|| panic!("no {series} in\n{body}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_requests_by_outcome_and_name_no_tenant() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = new_key(&kms).await;
    let blob = encrypt_text(&kms, &key, "hello").await;
    let mut tampered = blob.clone();
    *tampered.last_mut().expect("a ciphertext") ^= 1;
    let refused = kms
        .decrypt()
        .ciphertext_blob(Blob::new(tampered))
        .send()
        .await;
    assert_eq!(error_code(refused), "InvalidCiphertextException");
    let (status, _) = server.call_raw("NoSuchOperation", "{}");
    assert_eq!(status, 400);

    let (status, body) = server.get("/metrics");
    assert_eq!(status, 200, "{body}");
    let s = metric_samples(&body);
    let requests = |operation: &str, outcome: &str| {
        format!(
            "trent_requests_total{{dialect=\"aws\",operation=\"{operation}\",outcome=\"{outcome}\"}}"
        )
    };
    let served: Vec<(&String, &f64)> = s
        .iter()
        .filter(|(k, _)| k.starts_with("trent_requests_total"))
        .collect();
    assert_eq!(served.len(), 4, "{served:?}");
    for (operation, outcome) in [
        ("CreateKey", "ok"),
        ("Encrypt", "ok"),
        ("Decrypt", "InvalidCiphertextException"),
        ("unknown", "UnknownOperationException"),
    ] {
        assert_eq!(value(&s, &requests(operation, outcome), &body), 1.0);
        let latency = format!(
            "trent_request_duration_seconds_count{{dialect=\"aws\",operation=\"{operation}\"}}"
        );
        assert_eq!(value(&s, &latency, &body), 1.0);
    }
    assert!(!body.contains("NoSuchOperation"), "{body}");

    let gcm = |call: &str| {
        format!("trent_pkcs11_call_duration_seconds_count{{call=\"{call}\",mechanism=\"AES-GCM\"}}")
    };
    assert!(value(&s, &gcm("encrypt"), &body) >= 1.0);
    assert!(value(&s, &gcm("decrypt"), &body) >= 1.0);
    assert!(value(&s, "trent_audit_lines_written_total", &body) >= 4.0);
    assert!(value(&s, "trent_audit_groups_written_total", &body) >= 1.0);
    assert_eq!(value(&s, "trent_audit_write_failures_total", &body), 0.0);
    assert_eq!(
        value(
            &s,
            "trent_keys{region=\"us-east-1\",state=\"Enabled\"}",
            &body
        ),
        1.0
    );
    assert!(value(&s, "trent_session_object_cache_size", &body) >= 1.0);

    let (access_key, _) = server.credentials();
    assert!(!body.contains(&key), "a key id in\n{body}");
    assert!(!body.contains(&access_key), "an access key in\n{body}");
    assert!(!body.contains("arn:"), "an ARN in\n{body}");
    assert!(!body.contains("iam::"), "a principal in\n{body}");
}

/// The key counts, which any client may scrape, are counted in the store at
/// most once every 5 seconds: a flood of scrapes shares one count.
#[tokio::test(flavor = "multi_thread")]
async fn key_counts_are_counted_at_most_every_five_seconds() {
    let server = Server::start();
    let kms = server.client(EAST);
    new_key(&kms).await;
    let enabled = |body: &str| {
        let s = metric_samples(body);
        value(
            &s,
            "trent_keys{region=\"us-east-1\",state=\"Enabled\"}",
            body,
        )
    };
    let (status, body) = server.get("/metrics");
    assert_eq!(status, 200);
    assert_eq!(enabled(&body), 1.0);
    new_key(&kms).await;
    let scrapes: Vec<_> = (0..50)
        .map(|_| {
            let server = server.url();
            std::thread::spawn(move || {
                let addr = server.trim_start_matches("http://").to_string();
                let mut stream = std::net::TcpStream::connect(addr).unwrap();
                std::io::Write::write_all(
                    &mut stream,
                    b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                )
                .unwrap();
                let mut text = String::new();
                std::io::Read::read_to_string(&mut stream, &mut text).unwrap();
                text
            })
        })
        .collect();
    for scrape in scrapes {
        let text = scrape.join().unwrap();
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
        assert_eq!(enabled(body), 1.0, "the count of the first scrape");
    }
    std::thread::sleep(std::time::Duration::from_millis(5_100));
    let (_, body) = server.get("/metrics");
    assert_eq!(enabled(&body), 2.0, "counted again after 5 s");
}
