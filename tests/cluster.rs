//! Three `trent serve` nodes on one PostgreSQL database (#15): each with a
//! data directory of its own, all on the same configured SoftHSM token
//! (token objects are files every process reads, as a network HSM's keys
//! are shared), so they hold the same domain key. Runs only with
//! `TRENT_TEST_STORE_URL` set (the PostgreSQL pass of `.ci/run`).

mod common;

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use common::{EAST, Pkcs11, Server, decrypt_text, encrypt_text, error_code, new_key};
use std::time::{Duration, Instant};

const DAY: i64 = 86_400;
/// The nodes' `metadata_max_staleness_ms`: the bound on how long another
/// node's change may go unseen.
const MAX_STALENESS: Duration = Duration::from_millis(1_000);

/// Three nodes of one cluster, or `None` (with the reason printed) without
/// a PostgreSQL server to share.
fn cluster() -> Option<[Server; 3]> {
    if std::env::var_os("TRENT_TEST_STORE_URL").is_none() {
        eprintln!("skipped: TRENT_TEST_STORE_URL is not set (a cluster shares PostgreSQL)");
        return None;
    }
    let staleness = MAX_STALENESS.as_millis().to_string();
    let env = [("TRENT_METADATA_MAX_STALENESS_MS", staleness.as_str())];
    let a = Server::start_on_with_env(&[(EAST, Pkcs11::SoftHsm)], &env);
    let b = a.start_node(&env);
    let c = a.start_node(&env);
    Some([a, b, c])
}

/// Checks every 50 ms until `seen` holds, which must be within the
/// staleness bound; returns how long it took.
async fn within_staleness_bound(what: &str, seen: impl AsyncFn() -> bool) -> Duration {
    let start = Instant::now();
    while !seen().await {
        assert!(
            start.elapsed() <= MAX_STALENESS,
            "{what} unseen {:?} after it",
            start.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    start.elapsed()
}

async fn rotation_count(kms: &Client, key: &str) -> usize {
    kms.list_key_rotations()
        .key_id(key)
        .send()
        .await
        .expect("ListKeyRotations")
        .rotations
        .unwrap_or_default()
        .len()
}

#[tokio::test(flavor = "multi_thread")]
async fn three_nodes_on_one_database_serve_one_set_of_keys() {
    let Some(nodes) = cluster() else { return };
    let [a, b, c] = &nodes;
    let (ka, kb, kc) = (a.client(EAST), b.client(EAST), c.client(EAST));

    // A key made on A encrypts there and decrypts on B and C.
    let key = new_key(&ka).await;
    let blob = encrypt_text(&ka, &key, "made on A").await;
    for kms in [&kb, &kc] {
        assert_eq!(decrypt_text(kms, &blob).await.plaintext, "made on A");
    }

    // B has the key's record cached; A disables the key; B refuses within
    // the staleness bound. C enables it again; B encrypts within the bound.
    encrypt_text(&kb, &key, "B caches the record").await;
    ka.disable_key()
        .key_id(&key)
        .send()
        .await
        .expect("DisableKey");
    let seen = within_staleness_bound("A's DisableKey on B", async || {
        let out = kb
            .encrypt()
            .key_id(&key)
            .plaintext(Blob::new("x"))
            .send()
            .await;
        out.is_err() && error_code(out) == "DisabledException"
    })
    .await;
    eprintln!("B refused {seen:?} after A's DisableKey");
    kc.enable_key()
        .key_id(&key)
        .send()
        .await
        .expect("EnableKey");
    let seen = within_staleness_bound("C's EnableKey on B", async || {
        let out = kb
            .encrypt()
            .key_id(&key)
            .plaintext(Blob::new("x"))
            .send()
            .await;
        out.is_ok()
    })
    .await;
    eprintln!("B encrypted {seen:?} after C's EnableKey");

    // An on-demand rotation on B is seen by C; what is encrypted after it
    // decrypts on A.
    kb.rotate_key_on_demand()
        .key_id(&key)
        .send()
        .await
        .expect("RotateKeyOnDemand");
    assert_eq!(rotation_count(&kc, &key).await, 1);
    let rotated = encrypt_text(&kc, &key, "after the rotation").await;
    assert_eq!(
        decrypt_text(&ka, &rotated).await.plaintext,
        "after the rotation"
    );
    assert_eq!(decrypt_text(&kc, &blob).await.plaintext, "made on A");

    // An automatic rotation due on every node is made once.
    ka.enable_key_rotation()
        .key_id(&key)
        .rotation_period_in_days(90)
        .send()
        .await
        .expect("EnableKeyRotation");
    let ticks: Vec<u64> = nodes.iter().map(Server::job_ticks).collect();
    for node in &nodes {
        node.advance_clock(91 * DAY);
    }
    let rotated: u64 = std::thread::scope(|scope| {
        let runs: Vec<_> = nodes
            .iter()
            .map(|node| scope.spawn(move || node.run_jobs()))
            .collect();
        runs.into_iter()
            .map(|run| run.join().unwrap()["rotated"].as_u64().unwrap_or(0))
            .sum()
    });
    assert!(rotated <= 1, "{rotated} rotations by the test runs");
    // Whatever the nodes' own job loops would do about it, they have done.
    for (node, ticks) in nodes.iter().zip(ticks) {
        node.wait_for_job_ticks(ticks + 2);
    }
    for kms in [&ka, &kb, &kc] {
        assert_eq!(
            rotation_count(kms, &key).await,
            2,
            "one on-demand and exactly one automatic rotation"
        );
    }
    let last = encrypt_text(&kb, &key, "after both").await;
    assert_eq!(decrypt_text(&ka, &last).await.plaintext, "after both");
}
