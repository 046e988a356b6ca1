//! Key rotation: the operations, their errors, the automatic job (with a
//! movable clock), two servers on one database, and crashes mid-rotation.

mod common;

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{IncludeKeyMaterial, KeyMaterialState, RotationType};
use common::{
    Decrypted, Server, current_material, decrypt_text, encrypt_text, error_code, new_key,
    until_job_ticks,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const DAY: i64 = 86_400;

/// A plaintext and the ciphertext the server acknowledged for it.
type Acknowledged = (String, Vec<u8>);

async fn rotations(kms: &Client, key: &str) -> Vec<aws_sdk_kms::types::RotationsListEntry> {
    kms.list_key_rotations()
        .key_id(key)
        .send()
        .await
        .unwrap()
        .rotations
        .unwrap()
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test(flavor = "multi_thread")]
async fn enable_get_disable_rotation() {
    let server = Server::start();
    let kms = server.client("us-east-1");
    let key = new_key(&kms).await;

    let status = kms
        .get_key_rotation_status()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    assert!(!status.key_rotation_enabled);
    assert!(status.rotation_period_in_days.is_none());
    assert!(status.next_rotation_date.is_none());

    kms.enable_key_rotation().key_id(&key).send().await.unwrap();
    let status = kms
        .get_key_rotation_status()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    assert!(status.key_rotation_enabled);
    assert_eq!(status.rotation_period_in_days, Some(365));
    let next = status.next_rotation_date.unwrap().secs();
    assert!(
        (next - now_secs() - 365 * DAY).abs() < 120,
        "next rotation {next}"
    );
    assert!(status.key_id.unwrap().ends_with(&key));

    kms.enable_key_rotation()
        .key_id(&key)
        .rotation_period_in_days(90)
        .send()
        .await
        .unwrap();
    let status = kms
        .get_key_rotation_status()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(status.rotation_period_in_days, Some(90));
    let next = status.next_rotation_date.unwrap().secs();
    assert!((next - now_secs() - 90 * DAY).abs() < 120);

    for days in [89, 2561] {
        let out = kms
            .enable_key_rotation()
            .key_id(&key)
            .rotation_period_in_days(days)
            .send()
            .await;
        assert_eq!(error_code(out), "ValidationException", "{days} days");
    }

    kms.disable_key_rotation()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    let status = kms
        .get_key_rotation_status()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    assert!(!status.key_rotation_enabled);
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_errors_follow_aws() {
    let server = Server::start();
    let kms = server.client("us-east-1");
    let key = new_key(&kms).await;

    let unknown = "0b1e3c0e-6b0a-4c7e-9b7e-3c7b1e0a9d11";
    assert_eq!(
        error_code(kms.enable_key_rotation().key_id(unknown).send().await),
        "NotFoundException"
    );
    assert_eq!(
        error_code(kms.rotate_key_on_demand().key_id(unknown).send().await),
        "NotFoundException"
    );
    assert_eq!(
        error_code(kms.list_key_rotations().key_id(unknown).send().await),
        "NotFoundException"
    );
    let bad_arn = "arn:aws:kms:us-east-1:111122223333:nonsense";
    assert_eq!(
        error_code(kms.get_key_rotation_status().key_id(bad_arn).send().await),
        "InvalidArnException"
    );
    assert_eq!(
        error_code(kms.rotate_key_on_demand().key_id(bad_arn).send().await),
        "InvalidArnException"
    );

    kms.disable_key().key_id(&key).send().await.unwrap();
    assert_eq!(
        error_code(kms.enable_key_rotation().key_id(&key).send().await),
        "DisabledException"
    );
    assert_eq!(
        error_code(kms.disable_key_rotation().key_id(&key).send().await),
        "DisabledException"
    );
    assert_eq!(
        error_code(kms.rotate_key_on_demand().key_id(&key).send().await),
        "DisabledException"
    );
    // Status of a disabled key can still be read.
    assert!(
        kms.get_key_rotation_status()
            .key_id(&key)
            .send()
            .await
            .is_ok()
    );

    kms.enable_key().key_id(&key).send().await.unwrap();
    kms.schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    for code in [
        error_code(kms.enable_key_rotation().key_id(&key).send().await),
        error_code(kms.rotate_key_on_demand().key_id(&key).send().await),
    ] {
        assert_eq!(code, "KMSInvalidStateException");
    }
    // Reading the rotation state of a key pending deletion still works, as
    // AWS's key-state table has it.
    assert!(
        kms.get_key_rotation_status()
            .key_id(&key)
            .send()
            .await
            .is_ok()
    );
    assert!(kms.list_key_rotations().key_id(&key).send().await.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn three_versions_all_decrypt_and_reencrypt_moves_to_current() {
    let server = Server::start();
    let kms = server.client("us-east-1");
    let key = new_key(&kms).await;

    let mut versions = Vec::new();
    for v in 0..3 {
        if v > 0 {
            let out = kms
                .rotate_key_on_demand()
                .key_id(&key)
                .send()
                .await
                .unwrap();
            assert!(out.key_id.unwrap().ends_with(&key));
        }
        let material = current_material(&kms, &key).await;
        let blob = encrypt_text(&kms, &key, &format!("version {v}")).await;
        versions.push((material, blob));
    }
    let materials: Vec<&String> = versions.iter().map(|(m, _)| m).collect();
    assert_ne!(materials[0], materials[1]);
    assert_ne!(materials[1], materials[2]);
    assert_ne!(materials[0], materials[2]);

    for (v, (material, blob)) in versions.iter().enumerate() {
        let Decrypted {
            plaintext: text,
            material: used,
            ..
        } = decrypt_text(&kms, blob).await;
        assert_eq!(text, format!("version {v}"));
        assert_eq!(
            &used, material,
            "version {v} decrypted with the wrong material"
        );
    }

    let listed = rotations(&kms, &key).await;
    assert_eq!(listed.len(), 2);
    for (entry, (material, _)) in listed.iter().zip(&versions[1..]) {
        assert_eq!(entry.key_material_id.as_ref(), Some(material));
        assert_eq!(entry.rotation_type, Some(RotationType::OnDemand));
        assert!(entry.rotation_date.is_some());
        assert_eq!(entry.key_id.as_deref(), Some(key.as_str()));
    }
    let all = kms
        .list_key_rotations()
        .key_id(&key)
        .include_key_material(IncludeKeyMaterial::AllKeyMaterial)
        .send()
        .await
        .unwrap()
        .rotations
        .unwrap();
    assert_eq!(all.len(), 3);
    assert!(all[0].rotation_type.is_none());
    assert_eq!(all[0].key_material_id.as_ref(), Some(&versions[0].0));
    let states: Vec<_> = all
        .iter()
        .map(|e| e.key_material_state.clone().unwrap())
        .collect();
    assert_eq!(
        states,
        vec![
            KeyMaterialState::NonCurrent,
            KeyMaterialState::NonCurrent,
            KeyMaterialState::Current
        ]
    );
    let page = kms
        .list_key_rotations()
        .key_id(&key)
        .include_key_material(IncludeKeyMaterial::AllKeyMaterial)
        .limit(2)
        .send()
        .await
        .unwrap();
    assert!(page.truncated);
    let rest = kms
        .list_key_rotations()
        .key_id(&key)
        .include_key_material(IncludeKeyMaterial::AllKeyMaterial)
        .marker(page.next_marker.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.rotations.unwrap().len(), 1);
    assert!(!rest.truncated);

    // ReEncrypt under the same key moves the oldest ciphertext to the current material.
    let moved = kms
        .re_encrypt()
        .ciphertext_blob(Blob::new(versions[0].1.clone()))
        .destination_key_id(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(moved.source_key_material_id.as_ref(), Some(&versions[0].0));
    assert_eq!(
        moved.destination_key_material_id.as_ref(),
        Some(&versions[2].0)
    );
    let Decrypted {
        plaintext: text,
        material: used,
        ..
    } = decrypt_text(&kms, moved.ciphertext_blob.unwrap().as_ref()).await;
    assert_eq!(text, "version 0");
    assert_eq!(used, versions[2].0);
}

#[tokio::test(flavor = "multi_thread")]
async fn on_demand_rotations_are_limited() {
    let server = Server::start_with_env(&[("TRENT_ON_DEMAND_ROTATION_LIMIT", "2")]);
    let kms = server.client("us-east-1");
    let key = new_key(&kms).await;
    kms.rotate_key_on_demand()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    kms.rotate_key_on_demand()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    let third = kms.rotate_key_on_demand().key_id(&key).send().await;
    assert_eq!(error_code(third), "LimitExceededException");
    assert_eq!(rotations(&kms, &key).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn automatic_rotation_happens_when_due() {
    let server = Server::start();
    let kms = server.client("us-east-1");
    let key = new_key(&kms).await;
    let untouched = new_key(&kms).await;
    let before = current_material(&kms, &key).await;
    let blob = encrypt_text(&kms, &key, "before rotation").await;
    kms.enable_key_rotation()
        .key_id(&key)
        .rotation_period_in_days(90)
        .send()
        .await
        .unwrap();

    let ticks = server.job_ticks();
    server.advance_clock(89 * DAY);
    server.wait_for_job_ticks(ticks + 2);
    assert!(
        rotations(&kms, &key).await.is_empty(),
        "rotated before it was due"
    );

    let ticks = server.job_ticks();
    server.advance_clock(2 * DAY);
    until_job_ticks(&server, ticks + 2, || async {
        !rotations(&kms, &key).await.is_empty()
    })
    .await;
    let listed = rotations(&kms, &key).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].rotation_type, Some(RotationType::Automatic));
    let after = current_material(&kms, &key).await;
    assert_ne!(after, before);
    assert_eq!(listed[0].key_material_id.as_ref(), Some(&after));

    // The next rotation is a period after this one.
    let status = kms
        .get_key_rotation_status()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    let next = status.next_rotation_date.unwrap().secs();
    let rotated = listed[0].rotation_date.unwrap().secs();
    assert!((next - rotated - 90 * DAY).abs() < 120);

    let Decrypted {
        plaintext: text,
        material: used,
        ..
    } = decrypt_text(&kms, &blob).await;
    assert_eq!(text, "before rotation");
    assert_eq!(used, before);
    assert!(rotations(&kms, &untouched).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_missed_while_down_happens_at_next_start() {
    let server = Server::start();
    let kms = server.client("us-east-1");
    let key = new_key(&kms).await;
    kms.enable_key_rotation()
        .key_id(&key)
        .rotation_period_in_days(90)
        .send()
        .await
        .unwrap();
    let data = server.stop();
    let offset = (100 * DAY).to_string();
    let server = Server::restart_with_env(
        data,
        &[
            ("TRENT_TEST_CLOCK_OFFSET_SECS", offset.as_str()),
            ("TRENT_JOB_INTERVAL_SECS", "3600"),
        ],
    );
    let kms = server.client("us-east-1");
    // The start-up run is the only one within the hour.
    server.wait_for_job_ticks(1);
    let listed = rotations(&kms, &key).await;
    assert_eq!(
        listed.len(),
        1,
        "the overdue rotation did not run at start-up"
    );
    assert_eq!(listed[0].rotation_type, Some(RotationType::Automatic));
}

/// Two servers on one database run their rotation jobs at the same instant
/// (two threads released by one barrier call both servers' job endpoints)
/// over many keys that are due, for several periods. Their claims collide
/// (the test fails unless some rotation commit lost to the other server),
/// and still every key rotates exactly once per period.
#[tokio::test(flavor = "multi_thread")]
async fn two_servers_on_one_database_rotate_exactly_once() {
    const KEYS: usize = 20;
    // Only the job endpoint runs the jobs (after the start-up run), and no
    // cached record hides the other server's commit: a lost claim is a race.
    let env = [
        ("TRENT_JOB_INTERVAL_SECS", "3600"),
        ("TRENT_METADATA_MAX_STALENESS_MS", "0"),
    ];
    let first = Server::start_with_env(&env);
    let kms = first.client("us-east-1");
    let mut keys = Vec::new();
    for _ in 0..KEYS {
        let key = new_key(&kms).await;
        kms.enable_key_rotation()
            .key_id(&key)
            .rotation_period_in_days(90)
            .send()
            .await
            .unwrap();
        keys.push(key);
    }
    let second = first.start_sibling(&env);
    let other = second.client("us-east-1");
    first.wait_for_job_ticks(1);
    second.wait_for_job_ticks(1);
    let mut conflicts = 0;
    let mut periods = 0;
    while periods < 3 || (conflicts == 0 && periods < 10) {
        periods += 1;
        // Both servers see the rotations fall due, then race for them.
        first.advance_clock(91 * DAY);
        second.advance_clock(91 * DAY);
        let barrier = std::sync::Barrier::new(2);
        let runs: Vec<serde_json::Value> = std::thread::scope(|scope| {
            let racers: Vec<_> = [&first, &second]
                .map(|server| {
                    let barrier = &barrier;
                    scope.spawn(move || {
                        barrier.wait();
                        server.run_jobs()
                    })
                })
                .into_iter()
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        let count = |field: &str| runs.iter().map(|r| r[field].as_u64().unwrap()).sum::<u64>();
        assert_eq!(count("errors"), 0, "{runs:?}");
        assert_eq!(count("rotated"), KEYS as u64, "period {periods}: {runs:?}");
        conflicts += count("conflicts");
        for key in &keys {
            let listed = rotations(&other, key).await;
            assert_eq!(
                listed.len(),
                periods,
                "key {key}, period {periods}: {listed:?}"
            );
            let current = current_material(&kms, key).await;
            assert_eq!(
                listed.last().unwrap().key_material_id.as_ref(),
                Some(&current)
            );
        }
    }
    eprintln!("{conflicts} rotation claims lost to the other server in {periods} periods");
    assert!(
        conflicts > 0,
        "the two servers never raced for a rotation in {periods} periods"
    );
    for key in &keys {
        // Either server encrypts and decrypts under the rotated key.
        let blob = encrypt_text(&kms, key, "shared").await;
        assert_eq!(decrypt_text(&other, &blob).await.plaintext, "shared");
    }
}

/// Rotations and encryptions run while the server is killed with SIGKILL.
/// After each restart every key has a current material that it lists among
/// its materials, and every acknowledged ciphertext decrypts.
#[tokio::test(flavor = "multi_thread")]
async fn kill9_during_rotations_never_leaves_a_key_without_current_material() {
    let mut server = Server::start_with_env(&[("TRENT_ON_DEMAND_ROTATION_LIMIT", "100000")]);
    let kms = server.client("us-east-1");
    let mut keys = Vec::new();
    for _ in 0..3 {
        keys.push(new_key(&kms).await);
    }
    let acknowledged: Arc<Mutex<Vec<Acknowledged>>> = Arc::default();
    for round in 0..3u64 {
        let kms = server.client("us-east-1");
        let mut workers = Vec::new();
        for key in keys.clone() {
            let kms = kms.clone();
            let acknowledged = acknowledged.clone();
            workers.push(tokio::spawn(async move {
                for i in 0.. {
                    if kms
                        .rotate_key_on_demand()
                        .key_id(&key)
                        .send()
                        .await
                        .is_err()
                    {
                        return;
                    }
                    let text = format!("{key}/{round}/{i}");
                    let Ok(out) = kms
                        .encrypt()
                        .key_id(&key)
                        .plaintext(Blob::new(text.clone().into_bytes()))
                        .send()
                        .await
                    else {
                        return;
                    };
                    let blob = out.ciphertext_blob.unwrap().into_inner();
                    acknowledged.lock().unwrap().push((text, blob));
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(300 + 170 * round)).await;
        let data = server.kill9();
        for w in workers {
            w.await.unwrap();
        }
        server = Server::restart_with_env(data, &[("TRENT_ON_DEMAND_ROTATION_LIMIT", "100000")]);
        let kms = server.client("us-east-1");
        for key in &keys {
            let current = current_material(&kms, key).await;
            let all = kms
                .list_key_rotations()
                .key_id(key)
                .include_key_material(IncludeKeyMaterial::AllKeyMaterial)
                .limit(1000)
                .send()
                .await
                .unwrap()
                .rotations
                .unwrap();
            let currents: Vec<_> = all
                .iter()
                .filter(|e| e.key_material_state == Some(KeyMaterialState::Current))
                .collect();
            assert_eq!(currents.len(), 1);
            assert_eq!(currents[0].key_material_id.as_ref(), Some(&current));
            let blob = encrypt_text(&kms, key, "after crash").await;
            assert_eq!(decrypt_text(&kms, &blob).await.plaintext, "after crash");
        }
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 10,
        "only {} acknowledged",
        acknowledged.len()
    );
    let kms = server.client("us-east-1");
    for (text, blob) in &acknowledged {
        assert_eq!(&decrypt_text(&kms, blob).await.plaintext, text);
    }
}
