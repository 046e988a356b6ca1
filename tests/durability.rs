//! What survives a restart and a crash: keys, ciphertexts, aliases, tags.

mod common;

use aws_sdk_kms::Client;
use aws_sdk_kms::config::retry::RetryConfig;
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{GrantOperation, KeyState, Tag};
use common::{Server, current_material};
use std::sync::{Arc, Mutex};
use std::time::Duration;

async fn decrypts(kms: &Client, blob: &[u8], expected: &[u8]) {
    let out = kms
        .decrypt()
        .ciphertext_blob(Blob::new(blob.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("decrypt after restart: {e:?}"));
    assert_eq!(out.plaintext.unwrap().as_ref(), expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn restart_keeps_keys_aliases_and_tags() {
    let server = Server::start();
    let mut blobs = Vec::new();
    for region in ["us-east-1", "us-west-2"] {
        let kms = server.client(region);
        let id = kms
            .create_key()
            .description(format!("key in {region}"))
            .tags(
                Tag::builder()
                    .tag_key("env")
                    .tag_value(region)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .key_id;
        kms.create_alias()
            .alias_name("alias/app")
            .target_key_id(&id)
            .send()
            .await
            .unwrap();
        let blob = kms
            .encrypt()
            .key_id("alias/app")
            .plaintext(Blob::new(region.as_bytes().to_vec()))
            .send()
            .await
            .unwrap()
            .ciphertext_blob
            .unwrap()
            .into_inner();
        blobs.push((region, id, blob));
    }
    let server = Server::restart(server.stop());
    for (region, id, blob) in &blobs {
        let kms = server.client(region);
        decrypts(&kms, blob, region.as_bytes()).await;
        let meta = kms
            .describe_key()
            .key_id("alias/app")
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        assert_eq!(&meta.key_id, id);
        assert_eq!(meta.description.unwrap(), format!("key in {region}"));
        let tags = kms
            .list_resource_tags()
            .key_id(id)
            .send()
            .await
            .unwrap()
            .tags
            .unwrap();
        assert_eq!(tags.len(), 1);
        assert_eq!(tags[0].tag_value, *region);
        // The restarted server still makes new keys and ciphertexts.
        let fresh = common::new_key(&kms).await;
        let blob = kms
            .encrypt()
            .key_id(&fresh)
            .plaintext(Blob::new(b"after".to_vec()))
            .send()
            .await
            .unwrap()
            .ciphertext_blob
            .unwrap();
        decrypts(&kms, blob.as_ref(), b"after").await;
    }
}

/// What clients were told before a crash: every key CreateKey returned, and
/// every ciphertext Encrypt returned, with its key and plaintext.
#[derive(Default)]
struct Acknowledged {
    keys: Vec<String>,
    ciphertexts: Vec<(String, Vec<u8>, Vec<u8>)>,
}

/// `kms` without retries: a request to a killed server fails at once
/// instead of backing off (the restarted server listens elsewhere anyway).
fn no_retry(kms: &Client) -> Client {
    Client::from_conf(
        kms.config()
            .to_builder()
            .retry_config(RetryConfig::disabled())
            .build(),
    )
}

/// Clients keep creating keys and encrypting under them while the server is
/// killed with SIGKILL. Every key whose CreateKey response arrived exists
/// after the restart, and every ciphertext whose Encrypt response arrived
/// decrypts to its plaintext.
#[tokio::test(flavor = "multi_thread")]
async fn kill9_never_loses_an_acknowledged_key() {
    let mut server = Server::start();
    let acknowledged: Arc<Mutex<Acknowledged>> = Arc::default();
    for round in 0..3u64 {
        let kms = no_retry(&server.client("us-east-1"));
        let mut workers = Vec::new();
        for worker in 0..4 {
            let kms = kms.clone();
            let acknowledged = acknowledged.clone();
            workers.push(tokio::spawn(async move {
                for i in 0.. {
                    let Ok(created) = kms.create_key().send().await else {
                        return;
                    };
                    let id = created.key_metadata.unwrap().key_id;
                    acknowledged.lock().unwrap().keys.push(id.clone());
                    let plaintext = format!("{round}/{worker}/{i}").into_bytes();
                    let Ok(out) = kms
                        .encrypt()
                        .key_id(&id)
                        .plaintext(Blob::new(plaintext.clone()))
                        .send()
                        .await
                    else {
                        return;
                    };
                    let blob = out.ciphertext_blob.unwrap().into_inner();
                    acknowledged
                        .lock()
                        .unwrap()
                        .ciphertexts
                        .push((id, plaintext, blob));
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(400 + 150 * round)).await;
        let data = server.kill9();
        for w in workers {
            w.await.unwrap();
        }
        server = Server::restart(data);
    }
    let acknowledged = std::mem::take(&mut *acknowledged.lock().unwrap());
    assert!(
        acknowledged.ciphertexts.len() >= 10,
        "too few acknowledged ciphertexts to mean anything: {}",
        acknowledged.ciphertexts.len()
    );
    eprintln!(
        "{} keys and {} ciphertexts acknowledged across 3 crashes",
        acknowledged.keys.len(),
        acknowledged.ciphertexts.len()
    );
    let kms = server.client("us-east-1");
    for id in &acknowledged.keys {
        let meta = kms
            .describe_key()
            .key_id(id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("acknowledged key {id} lost: {e:?}"))
            .key_metadata
            .unwrap();
        assert_eq!(&meta.key_id, id);
        assert_eq!(meta.key_state, Some(KeyState::Enabled), "key {id}");
    }
    for (id, plaintext, blob) in &acknowledged.ciphertexts {
        let out = kms
            .decrypt()
            .key_id(id)
            .ciphertext_blob(Blob::new(blob.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("ciphertext under acknowledged key {id} lost: {e:?}"));
        assert_eq!(out.plaintext.unwrap().as_ref(), plaintext.as_slice());
    }
}

/// Two servers share one database. A key both have used (so both cache its
/// record) is disabled through the first; the second refuses it within its
/// staleness bound, and sees it enabled again the same way.
#[tokio::test(flavor = "multi_thread")]
async fn a_sibling_sees_another_nodes_change_within_the_staleness_bound() {
    let first = Server::start_with_env(&[("TRENT_METADATA_MAX_STALENESS_MS", "300")]);
    let second = first.start_sibling(&[("TRENT_METADATA_MAX_STALENESS_MS", "300")]);
    let (one, two) = (first.client("us-east-1"), second.client("us-east-1"));
    let key = common::new_key(&one).await;
    let encrypt = |kms: Client| {
        let key = key.clone();
        async move {
            kms.encrypt()
                .key_id(key)
                .plaintext(Blob::new(b"x".to_vec()))
                .send()
                .await
        }
    };
    encrypt(two.clone()).await.expect("the sibling encrypts");
    one.disable_key().key_id(&key).send().await.unwrap();
    let refused_within = async {
        let start = std::time::Instant::now();
        loop {
            if let Err(e) = encrypt(two.clone()).await {
                assert_eq!(
                    e.as_service_error().and_then(|s| s.code()),
                    Some("DisabledException")
                );
                return start.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let took = tokio::time::timeout(Duration::from_secs(5), refused_within)
        .await
        .expect("the sibling still encrypts under a disabled key after 5 s");
    assert!(
        took < Duration::from_secs(2),
        "the change took {took:?} to reach the sibling"
    );
    one.enable_key().key_id(&key).send().await.unwrap();
    let accepted = async {
        while encrypt(two.clone()).await.is_err() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), accepted)
        .await
        .expect("the sibling never saw the key enabled again");
}

/// Encrypts under `key`, decrypts, and returns the material id Decrypt
/// names (the one the ciphertext was made with).
async fn material_encrypting(kms: &Client, key: &str) -> String {
    let blob = kms
        .encrypt()
        .key_id(key)
        .plaintext(Blob::new(b"warm".to_vec()))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let out = kms.decrypt().ciphertext_blob(blob).send().await.unwrap();
    assert_eq!(out.plaintext.unwrap().as_ref(), b"warm");
    out.key_material_id.expect("KeyMaterialId")
}

/// After a restart the metadata cache is filled from the database in the
/// background: every key (including one whose current material changed by
/// rotation, and one in another region) is loaded with its current material:
/// new ciphertexts are made with the material that was current before the
/// restart (never the rotated-out one), and old ones still decrypt.
#[tokio::test(flavor = "multi_thread")]
async fn a_restart_warms_the_metadata_cache_with_current_materials() {
    let server = Server::start();
    let mut keys = Vec::new();
    for region in ["us-east-1", "us-east-1", "us-west-2"] {
        keys.push((region, common::new_key(&server.client(region)).await));
    }
    let rotated = &keys[1];
    let original = current_material(&server.client(rotated.0), &rotated.1).await;
    server
        .client(rotated.0)
        .rotate_key_on_demand()
        .key_id(&rotated.1)
        .send()
        .await
        .unwrap();
    let mut before = Vec::new();
    for (region, key) in &keys {
        let kms = server.client(region);
        let current = current_material(&kms, key).await;
        assert_eq!(material_encrypting(&kms, key).await, current);
        let blob = kms
            .encrypt()
            .key_id(key)
            .plaintext(Blob::new(key.as_bytes().to_vec()))
            .send()
            .await
            .unwrap()
            .ciphertext_blob
            .unwrap();
        before.push((region, key, blob, current));
    }
    assert_ne!(
        before[1].3, original,
        "rotation changed the current material"
    );
    let server = Server::restart_logged(server.stop(), &[]);
    let warmed = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        server.log().contains("metadata cache warmed keys=3")
    });
    assert!(warmed, "no warm-up of 3 keys in the log:\n{}", server.log());
    for (region, key, _, current) in &before {
        let kms = server.client(region);
        assert_eq!(
            &material_encrypting(&kms, key).await,
            current,
            "key {key} in {region} encrypts with a material that is not current"
        );
        assert_eq!(&current_material(&kms, key).await, current);
    }
    for (region, key, blob, _) in before {
        decrypts(&server.client(region), blob.as_ref(), key.as_bytes()).await;
    }
}

/// The connection the server writes through commits with `synchronous=FULL`
/// (2) in WAL mode, so an acknowledged write survives a power loss, not only
/// a process crash. Read from the server's own connection (the setting is
/// per connection), before and after a restart.
#[tokio::test(flavor = "multi_thread")]
async fn the_store_syncs_every_commit() {
    let server = Server::start();
    let settings = |server: &Server| {
        let (status, body) = server.raw("/_trent/test/store", &[], b"");
        assert_eq!(status, 200, "store settings endpoint: {body}");
        body
    };
    assert_eq!(settings(&server), "synchronous=2 journal_mode=wal");
    common::new_key(&server.client("us-east-1")).await;
    let server = Server::restart(server.kill9());
    assert_eq!(settings(&server), "synchronous=2 journal_mode=wal");
}

const ACCOUNT: &str = "111122223333";
const ALICE: (&str, &str) = ("AKIAALICE0000000000A", "alice-secret");
const DAVE: (&str, &str) = ("AKIADAVE0000000000AD", "dave-secret");

/// Credentials (`TRENT_CREDENTIALS`, so that they survive restarts): alice
/// administers keys; dave may only list keys, so he encrypts through grants
/// alone.
fn alice_and_dave() -> String {
    format!(
        r#"[{{access_key_id="{}",secret_access_key="{}",principal="arn:aws:iam::{ACCOUNT}:user/alice"}},{{access_key_id="{}",secret_access_key="{}",principal="arn:aws:iam::{ACCOUNT}:user/dave",policy="{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Action\":\"kms:ListKeys\",\"Resource\":\"*\"}}]}}"}}]"#,
        ALICE.0, ALICE.1, DAVE.0, DAVE.1
    )
}

/// An administrative change the server acknowledged.
#[derive(Debug)]
enum Change {
    Disabled(String),
    Policy(String, String),
    DeletionScheduled(String, aws_sdk_kms::primitives::DateTime),
    GrantRevoked { key: String, grant: String },
}

const KINDS: usize = 4;

/// Applies the change of `kind` to `key` (`grant` for revocations);
/// `None` once the server is gone.
async fn change(kms: &Client, kind: usize, key: &str, grant: &str, tag: &str) -> Option<Change> {
    let key = key.to_string();
    match kind {
        0 => {
            kms.disable_key().key_id(&key).send().await.ok()?;
            Some(Change::Disabled(key))
        }
        1 => {
            let policy = format!(
                r#"{{"Version":"2012-10-17","Id":"{tag}","Statement":[{{"Sid":"Root","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}}]}}"#
            );
            kms.put_key_policy()
                .key_id(&key)
                .policy(&policy)
                .send()
                .await
                .ok()?;
            Some(Change::Policy(key, policy))
        }
        2 => {
            let out = kms
                .schedule_key_deletion()
                .key_id(&key)
                .pending_window_in_days(7)
                .send()
                .await
                .ok()?;
            Some(Change::DeletionScheduled(key, out.deletion_date.unwrap()))
        }
        _ => {
            kms.revoke_grant()
                .key_id(&key)
                .grant_id(grant)
                .send()
                .await
                .ok()?;
            Some(Change::GrantRevoked {
                key,
                grant: grant.to_string(),
            })
        }
    }
}

/// Checks that an acknowledged change is still in force.
async fn still_in_force(alice: &Client, dave: &Client, change: &Change) {
    let describe = |key: &str| {
        let key = key.to_string();
        async move {
            alice
                .describe_key()
                .key_id(&key)
                .send()
                .await
                .unwrap_or_else(|e| panic!("key {key} lost: {e:?}"))
                .key_metadata
                .unwrap()
        }
    };
    match change {
        Change::Disabled(key) => {
            let meta = describe(key).await;
            assert_eq!(meta.key_state, Some(KeyState::Disabled), "{change:?}");
        }
        Change::Policy(key, policy) => {
            let got = alice
                .get_key_policy()
                .key_id(key)
                .send()
                .await
                .unwrap()
                .policy
                .unwrap();
            assert_eq!(&got, policy, "{change:?}");
        }
        Change::DeletionScheduled(key, date) => {
            let meta = describe(key).await;
            assert_eq!(
                meta.key_state,
                Some(KeyState::PendingDeletion),
                "{change:?}"
            );
            assert_eq!(meta.deletion_date.as_ref(), Some(date), "{change:?}");
        }
        Change::GrantRevoked { key, grant } => {
            let refused = dave
                .encrypt()
                .key_id(key)
                .plaintext(Blob::new(b"x".to_vec()))
                .send()
                .await;
            let code = match refused {
                Ok(_) => panic!("{change:?}: the grantee still encrypts"),
                Err(e) => e
                    .as_service_error()
                    .and_then(|s| s.code())
                    .map(str::to_string),
            };
            assert_eq!(code.as_deref(), Some("AccessDeniedException"), "{change:?}");
            let grants = alice
                .list_grants()
                .key_id(key)
                .send()
                .await
                .unwrap()
                .grants
                .unwrap_or_default();
            assert!(
                grants.iter().all(|g| g.grant_id.as_deref() != Some(grant)),
                "{change:?}: the grant is listed again"
            );
        }
    }
}

/// DisableKey, PutKeyPolicy, ScheduleKeyDeletion and RevokeGrant run side by
/// side over several keys, next to clients creating keys and encrypting,
/// and the server is killed with SIGKILL the moment one of them (a
/// different kind each round) is acknowledged, so the kill lands at
/// arbitrary points of the others. After each restart every change
/// acknowledged so far is in force; a revoked grant's grantee is refused.
#[tokio::test(flavor = "multi_thread")]
async fn kill9_never_loses_an_acknowledged_admin_change() {
    const ROUNDS: usize = 6;
    const KEYS: usize = 5;
    let credentials = alice_and_dave();
    let env = [("TRENT_CREDENTIALS", credentials.as_str())];
    let mut server = Server::start_with_env(&env);
    let mut acknowledged: Vec<Change> = Vec::new();
    for round in 0..ROUNDS {
        let alice = server.client_as("us-east-1", ALICE.0, ALICE.1);
        let dave = server.client_as("us-east-1", DAVE.0, DAVE.1);
        // Keys for each kind of change; the grantee encrypts through a grant
        // on each key whose grant will be revoked.
        let mut targets: Vec<Vec<(String, String)>> = Vec::new();
        for kind in 0..KINDS {
            let mut keys = Vec::new();
            for _ in 0..KEYS {
                let key = common::new_key(&alice).await;
                let mut grant = String::new();
                if kind == 3 {
                    grant = alice
                        .create_grant()
                        .key_id(&key)
                        .grantee_principal(format!("arn:aws:iam::{ACCOUNT}:user/dave"))
                        .operations(GrantOperation::Encrypt)
                        .send()
                        .await
                        .unwrap()
                        .grant_id
                        .unwrap();
                    dave.encrypt()
                        .key_id(&key)
                        .plaintext(Blob::new(b"x".to_vec()))
                        .send()
                        .await
                        .expect("the grantee encrypts before the revocation");
                }
                keys.push((key, grant));
            }
            targets.push(keys);
        }
        let fast = no_retry(&alice);
        let mut tasks = Vec::new();
        for _ in 0..2 {
            let kms = fast.clone();
            tasks.push(tokio::spawn(async move {
                while let Ok(created) = kms.create_key().send().await {
                    let id = created.key_metadata.unwrap().key_id;
                    let encrypted = kms
                        .encrypt()
                        .key_id(id)
                        .plaintext(Blob::new(b"load".to_vec()))
                        .send()
                        .await;
                    if encrypted.is_err() {
                        return;
                    }
                }
            }));
        }
        let (trigger_kind, trigger_at) = (round % KINDS, 1 + round % (KEYS - 1));
        let (fire, fired) = tokio::sync::oneshot::channel::<()>();
        let fire = Arc::new(Mutex::new(Some(fire)));
        let changes: Arc<Mutex<Vec<Change>>> = Arc::default();
        for (kind, keys) in targets.into_iter().enumerate() {
            let (kms, fire, changes) = (fast.clone(), fire.clone(), changes.clone());
            tasks.push(tokio::spawn(async move {
                for (i, (key, grant)) in keys.iter().enumerate() {
                    let tag = format!("round-{round}-key-{i}");
                    let Some(done) = change(&kms, kind, key, grant, &tag).await else {
                        return;
                    };
                    changes.lock().unwrap().push(done);
                    if (kind, i) == (trigger_kind, trigger_at) {
                        if let Some(fire) = fire.lock().unwrap().take() {
                            let _ = fire.send(());
                        }
                    }
                }
            }));
        }
        tokio::time::timeout(Duration::from_secs(30), fired)
            .await
            .expect("the triggering change was never acknowledged")
            .unwrap();
        let data = server.kill9();
        for task in tasks {
            task.await.unwrap();
        }
        acknowledged.append(&mut changes.lock().unwrap());
        server = Server::restart_with_env(data, &env);
        let alice = server.client_as("us-east-1", ALICE.0, ALICE.1);
        let dave = server.client_as("us-east-1", DAVE.0, DAVE.1);
        for change in &acknowledged {
            still_in_force(&alice, &dave, change).await;
        }
    }
    let count = |kind: fn(&Change) -> bool| acknowledged.iter().filter(|c| kind(c)).count();
    let counts = [
        count(|c| matches!(c, Change::Disabled(_))),
        count(|c| matches!(c, Change::Policy(..))),
        count(|c| matches!(c, Change::DeletionScheduled(..))),
        count(|c| matches!(c, Change::GrantRevoked { .. })),
    ];
    eprintln!(
        "acknowledged before {ROUNDS} crashes: {} disables, {} policies, {} deletions, {} revocations",
        counts[0], counts[1], counts[2], counts[3]
    );
    assert!(counts.iter().all(|&n| n >= 2), "{counts:?}");
}
