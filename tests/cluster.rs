//! Three `trent serve` nodes on one PostgreSQL database (#15), as the
//! README's dev-mode cluster: the same `trent.toml`, each node with a data
//! directory and SoftHSM tokens of its own; the second and third receive
//! each region's domain key by enrolment at start-up. Runs only with
//! `TRENT_TEST_STORE_URL` set (the PostgreSQL pass of `.ci/run`).

mod common;

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use common::{ALICE_AND_BOB, EAST, Server, decrypt_text, encrypt_text, error_code, new_key};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const DAY: i64 = 86_400;
/// The nodes' `metadata_max_staleness_ms`: the bound on how long another
/// node's change may go unseen.
const MAX_STALENESS: Duration = Duration::from_millis(1_000);

/// Three nodes of one cluster (with the directory that holds their data
/// directories and configuration), or `None` (with the reason printed)
/// without a PostgreSQL server to share.
fn cluster() -> Option<([Server; 3], TempDir)> {
    if std::env::var_os("TRENT_TEST_STORE_URL").is_none() {
        eprintln!("skipped: TRENT_TEST_STORE_URL is not set (a cluster shares PostgreSQL)");
        return None;
    }
    let root = TempDir::new().expect("temp dir");
    let config = root.path().join("trent.toml");
    std::fs::write(&config, ALICE_AND_BOB).expect("write trent.toml");
    let store = common::test_store_url(&root.path().join("cluster"))?;
    let staleness = MAX_STALENESS.as_millis().to_string();
    let env = [
        ("TRENT_STORE_URL", store.as_str()),
        ("TRENT_METADATA_MAX_STALENESS_MS", staleness.as_str()),
    ];
    let node = |name: &str| Server::start_configured(root.path().join(name), &config, &env);
    Some(([node("a"), node("b"), node("c")], root))
}

/// An SDK client of `node`'s us-east-1, as alice of [`ALICE_AND_BOB`].
fn alice(node: &Server) -> Client {
    node.client_as(EAST, "AKIAALICE0000000000A", "alice-secret")
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

/// The error code of an Encrypt of one byte under `key` through `kms`, or
/// `None` when it succeeded.
async fn encrypt_refusal(kms: &Client, key: &str) -> Option<String> {
    let out = kms
        .encrypt()
        .key_id(key)
        .plaintext(Blob::new("x"))
        .send()
        .await;
    out.is_err().then(|| error_code(out))
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
    let Some((nodes, _root)) = cluster() else {
        return;
    };
    let [a, b, c] = &nodes;
    let (ka, kb, kc) = (alice(a), alice(b), alice(c));

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
        encrypt_refusal(&kb, &key).await.as_deref() == Some("DisabledException")
    })
    .await;
    eprintln!("B refused {seen:?} after A's DisableKey");
    kc.enable_key()
        .key_id(&key)
        .send()
        .await
        .expect("EnableKey");
    let seen = within_staleness_bound("C's EnableKey on B", async || {
        encrypt_refusal(&kb, &key).await.is_none()
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

/// A client of `node` that does not retry: the test's own loop moves on
/// to another node, as a client behind a load balancer would.
fn client_without_retries(node: &Server) -> Client {
    let config = alice(node)
        .config()
        .to_builder()
        .retry_config(aws_sdk_kms::config::retry::RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

/// What the clients were told succeeded: keys made, and each ciphertext
/// with its plaintext.
#[derive(Default)]
struct Acknowledged {
    keys: Vec<String>,
    ciphertexts: Vec<(Vec<u8>, String)>,
}

/// One client's loop until `stop`: CreateKey on one node, then Encrypt
/// under the new key on the next; a call that fails is made again on the
/// following node. Returns what was acknowledged and how many calls failed.
async fn create_and_encrypt(
    worker: usize,
    clients: Vec<Client>,
    stop: Arc<AtomicBool>,
) -> (Acknowledged, usize) {
    let mut done = Acknowledged::default();
    let mut failures = 0;
    let mut node = worker;
    let mut round = 0;
    while !stop.load(Ordering::Relaxed) {
        let key = loop {
            node = (node + 1) % clients.len();
            match clients[node].create_key().send().await {
                Ok(out) => break out.key_metadata.expect("KeyMetadata").key_id,
                Err(_) => failures += 1,
            }
        };
        done.keys.push(key.clone());
        let text = format!("worker {worker} round {round}");
        let blob = loop {
            node = (node + 1) % clients.len();
            let out = clients[node]
                .encrypt()
                .key_id(&key)
                .plaintext(Blob::new(text.as_bytes()))
                .send()
                .await;
            match out {
                Ok(out) => break out.ciphertext_blob.expect("CiphertextBlob").into_inner(),
                Err(_) => failures += 1,
            }
        };
        done.ciphertexts.push((blob, text));
        round += 1;
    }
    (done, failures)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_killed_under_load_loses_nothing_acknowledged() {
    const WORKERS: usize = 6;
    let Some(([a, b, c], _root)) = cluster() else {
        return;
    };
    let clients: Vec<Client> = [&a, &b, &c].map(client_without_retries).to_vec();
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..WORKERS)
        .map(|worker| tokio::spawn(create_and_encrypt(worker, clients.clone(), stop.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let _b_data = tokio::task::spawn_blocking(move || b.kill9())
        .await
        .expect("kill -9 of node B");
    eprintln!("node B killed (-9)");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut results = Vec::new();
    for worker in load {
        results.push(worker.await.expect("a client's loop"));
    }

    let failures: usize = results.iter().map(|(_, failed)| failed).sum();
    let keys: Vec<&String> = results.iter().flat_map(|(done, _)| &done.keys).collect();
    let ciphertexts: Vec<&(Vec<u8>, String)> = results
        .iter()
        .flat_map(|(done, _)| &done.ciphertexts)
        .collect();
    eprintln!(
        "{} keys and {} ciphertexts acknowledged; {failures} calls failed and were made again",
        keys.len(),
        ciphertexts.len()
    );
    assert!(
        keys.len() >= WORKERS * 2,
        "the load made too little to check"
    );
    let survivors = [alice(&a), alice(&c)];
    for (i, key) in keys.iter().enumerate() {
        let described = survivors[i % 2]
            .describe_key()
            .key_id(*key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("acknowledged key {key} lost: {e:?}"));
        let state = described.key_metadata.and_then(|m| m.key_state);
        assert_eq!(state, Some(aws_sdk_kms::types::KeyState::Enabled), "{key}");
    }
    for (i, (blob, text)) in ciphertexts.iter().enumerate() {
        assert_eq!(&decrypt_text(&survivors[i % 2], blob).await.plaintext, text);
    }
}

/// Bob of [`ALICE_AND_BOB`] on `node`'s us-east-1.
fn bob(node: &Server) -> Client {
    node.client_as(EAST, "AKIABOB00000000000BB", "bob-secret")
}

/// Whether bob's Encrypt under `key` through `kms` is allowed.
async fn bob_encrypts(kms: &Client, key: &str) -> bool {
    match encrypt_refusal(kms, key).await {
        None => true,
        Some(code) => {
            assert_eq!(code, "AccessDeniedException");
            false
        }
    }
}

/// A grant made or revoked, and a key policy changed, through one node
/// decide bob's requests on another within the staleness bound.
#[tokio::test(flavor = "multi_thread")]
async fn grants_and_policies_changed_on_one_node_bind_the_others() {
    let Some((nodes, _root)) = cluster() else {
        return;
    };
    let [a, b, c] = &nodes;
    let (alice_a, alice_c, bob_b) = (alice(a), alice(c), bob(b));
    let key = alice_a
        .create_key()
        .policy(common::ALICE_ONLY)
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .expect("KeyMetadata")
        .key_id;
    assert!(!bob_encrypts(&bob_b, &key).await, "bob before any grant");

    let grant = alice_a
        .create_grant()
        .key_id(&key)
        .grantee_principal("arn:aws:iam::111122223333:user/bob")
        .operations(aws_sdk_kms::types::GrantOperation::Encrypt)
        .send()
        .await
        .expect("CreateGrant")
        .grant_id
        .expect("GrantId");
    within_staleness_bound("A's grant on B", async || bob_encrypts(&bob_b, &key).await).await;
    alice_c
        .revoke_grant()
        .key_id(&key)
        .grant_id(&grant)
        .send()
        .await
        .expect("RevokeGrant");
    let seen = within_staleness_bound("C's RevokeGrant on B", async || {
        !bob_encrypts(&bob_b, &key).await
    })
    .await;
    eprintln!("B refused bob {seen:?} after C's RevokeGrant");

    let alice_and_bob = common::ALICE_ONLY.replace(
        r#""AWS":"arn:aws:iam::111122223333:user/alice""#,
        r#""AWS":["arn:aws:iam::111122223333:user/alice","arn:aws:iam::111122223333:user/bob"]"#,
    );
    assert_ne!(alice_and_bob, common::ALICE_ONLY);
    for (policy, allowed, by) in [
        (alice_and_bob.as_str(), true, &alice_a),
        (common::ALICE_ONLY, false, &alice_c),
    ] {
        by.put_key_policy()
            .key_id(&key)
            .policy(policy)
            .send()
            .await
            .expect("PutKeyPolicy");
        let seen = within_staleness_bound("a PutKeyPolicy on B", async || {
            bob_encrypts(&bob_b, &key).await == allowed
        })
        .await;
        eprintln!("B decided bob's Encrypt ({allowed}) {seen:?} after a PutKeyPolicy");
    }
}
