//! The PostgreSQL store going away under a running node (#15): a restart,
//! and a database host that stops answering. Meanwhile requests fail
//! quickly with `DependencyTimeoutException` (HTTP 503, which the SDKs
//! retry) and `/readyz` says why; afterwards the node serves again, and
//! every key and ciphertext from before, without being restarted. Each
//! test runs its own PostgreSQL server (it stops it), in the PostgreSQL
//! pass of `.ci/run` only.

mod common;

use common::postgres::PrivatePostgres;
use common::{EAST, Server, decrypt_text, encrypt_text, new_key};
use std::time::{Duration, Instant};

/// How long a refusal may take. Trent's own bounds are 3 s to connect
/// and 5 s per call; what is checked is that a request is answered, not
/// held until the database is back.
const QUICK: Duration = Duration::from_secs(12);
/// How long the node may take to serve again once the database is back.
const RECOVERY: Duration = Duration::from_secs(20);
/// The nodes' bound on how long they serve from their metadata cache
/// without asking the database.
const STALENESS: Duration = Duration::from_millis(500);

/// A node on a PostgreSQL server of the test's own, or `None` (the
/// reason printed) outside the PostgreSQL pass.
fn node() -> Option<(PrivatePostgres, Server)> {
    if std::env::var_os("TRENT_TEST_STORE_URL").is_none() {
        eprintln!("skipped: TRENT_TEST_STORE_URL is not set (the PostgreSQL pass runs it)");
        return None;
    }
    let postgres = PrivatePostgres::start()?;
    let url = postgres.url();
    let staleness = STALENESS.as_millis().to_string();
    let server = Server::start_with_env(&[
        ("TRENT_STORE_URL", url.as_str()),
        ("TRENT_METADATA_MAX_STALENESS_MS", staleness.as_str()),
    ]);
    Some((postgres, server))
}

/// Every kind of request, past the cache's staleness bound, is refused
/// with DependencyTimeoutException within [`QUICK`], and `/readyz` says
/// the store does not answer.
fn refused_quickly(server: &Server, key: &str, blob: &[u8]) {
    use base64::Engine;
    std::thread::sleep(STALENESS * 2);
    let blob = base64::engine::general_purpose::STANDARD.encode(blob);
    let requests = [
        ("CreateKey", "{}".to_string()),
        ("DescribeKey", format!(r#"{{"KeyId":"{key}"}}"#)),
        (
            "Encrypt",
            format!(r#"{{"KeyId":"{key}","Plaintext":"eA=="}}"#),
        ),
        ("Decrypt", format!(r#"{{"CiphertextBlob":"{blob}"}}"#)),
    ];
    for (op, body) in requests {
        let started = Instant::now();
        let (status, answer) = server.call_raw(op, &body);
        let took = started.elapsed();
        eprintln!("{op} refused in {took:?}: {status} {answer}");
        assert_eq!(
            (status, answer["__type"].as_str()),
            (503, Some("DependencyTimeoutException")),
            "{op} while the database is away"
        );
        assert!(took < QUICK, "{op} was held {took:?}");
    }
    let started = Instant::now();
    let (status, reason) = server.get("/readyz");
    assert_eq!(
        (status, reason.as_str()),
        (503, "not ready: the store does not answer\n")
    );
    assert!(
        started.elapsed() < QUICK,
        "/readyz was held {:?}",
        started.elapsed()
    );
    assert_eq!(server.get("/healthz"), (200, "ok\n".into()));
}

/// Once the database is back, the node serves again within [`RECOVERY`]:
/// the key from before encrypts, its ciphertext decrypts, and a new key
/// is made.
async fn serves_again(server: &Server, key: &str, blob: &[u8], text: &str) {
    let kms = server.client(EAST);
    let started = Instant::now();
    while server.get("/readyz").0 != 200 {
        assert!(started.elapsed() < RECOVERY, "not ready {RECOVERY:?} after");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("ready again {:?} after the database", started.elapsed());
    assert_eq!(decrypt_text(&kms, blob).await.plaintext, text);
    let again = encrypt_text(&kms, key, "after").await;
    assert_eq!(decrypt_text(&kms, &again).await.plaintext, "after");
    let fresh = new_key(&kms).await;
    let made = encrypt_text(&kms, &fresh, "a new key").await;
    assert_eq!(decrypt_text(&kms, &made).await.plaintext, "a new key");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_postgresql_restart_is_survived_without_restarting_the_node() {
    let Some((postgres, server)) = node() else {
        return;
    };
    let kms = server.client(EAST);
    let key = new_key(&kms).await;
    let blob = encrypt_text(&kms, &key, "before the restart").await;
    assert_eq!(server.get("/readyz"), (200, "ready\n".into()));

    postgres.stop();
    refused_quickly(&server, &key, &blob);
    postgres.resume();
    serves_again(&server, &key, &blob, "before the restart").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_that_stops_answering_fails_requests_instead_of_hanging_them() {
    let Some((postgres, server)) = node() else {
        return;
    };
    let kms = server.client(EAST);
    let key = new_key(&kms).await;
    let blob = encrypt_text(&kms, &key, "before the silence").await;

    postgres.freeze();
    refused_quickly(&server, &key, &blob);
    postgres.thaw();
    serves_again(&server, &key, &blob, "before the silence").await;
}
