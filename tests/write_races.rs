//! Concurrent writers on one key, in one process and in two processes on
//! the same database: every acknowledged change survives, round after round.

mod common;

use aws_sdk_kms::Client;
use aws_sdk_kms::types::KeyState;
use common::{Server, error_code};
use std::time::Duration;

/// A key policy that names the round, so a lost PutKeyPolicy shows.
fn policy(round: usize) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Round{round}","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111122223333:root"}},"Action":"kms:*","Resource":"*"}}]}}"#
    )
}

/// Runs `rounds` rounds of DisableKey, UpdateKeyDescription and
/// PutKeyPolicy at once (through `state`, `description` and `policy_client`)
/// and counts the changes that were acknowledged but then missing.
async fn lost_changes(
    state: &Client,
    description: &Client,
    policy_client: &Client,
    key: &str,
    rounds: usize,
) -> usize {
    let mut lost = 0;
    for round in 0..rounds {
        state.enable_key().key_id(key).send().await.unwrap();
        let text = format!("round {round}");
        let (disabled, described, put) = tokio::join!(
            state.disable_key().key_id(key).send(),
            description
                .update_key_description()
                .key_id(key)
                .description(&text)
                .send(),
            policy_client
                .put_key_policy()
                .key_id(key)
                .policy(policy(round))
                .send(),
        );
        disabled.expect("DisableKey");
        described.expect("UpdateKeyDescription");
        put.expect("PutKeyPolicy");
        let meta = state
            .describe_key()
            .key_id(key)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        let stored_policy = state
            .get_key_policy()
            .key_id(key)
            .send()
            .await
            .unwrap()
            .policy
            .unwrap();
        lost += usize::from(meta.key_state != Some(KeyState::Disabled));
        lost += usize::from(meta.description.as_deref() != Some(text.as_str()));
        lost += usize::from(!stored_policy.contains(&format!("\"Round{round}\"")));
    }
    lost
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_admin_calls_on_one_key_all_survive() {
    let server = Server::start_with_env(&[("TRENT_METADATA_MAX_STALENESS_MS", "0")]);
    let kms = server.client("us-east-1");
    let key = common::new_key(&kms).await;
    assert_eq!(lost_changes(&kms, &kms, &kms, &key, 40).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn writers_in_two_processes_on_one_database_lose_nothing() {
    let first = Server::start_with_env(&[("TRENT_METADATA_MAX_STALENESS_MS", "0")]);
    let second = first.start_sibling(&[("TRENT_METADATA_MAX_STALENESS_MS", "0")]);
    let one = first.client("us-east-1");
    let two = second.client("us-east-1");
    let key = common::new_key(&one).await;
    assert_eq!(lost_changes(&one, &two, &two, &key, 30).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_key_deletion_never_reports_success_for_a_deleted_key() {
    let server = Server::start();
    let kms = server.client("us-east-1");
    let mut keys = Vec::new();
    for _ in 0..12 {
        let key = common::new_key(&kms).await;
        kms.schedule_key_deletion()
            .key_id(&key)
            .pending_window_in_days(7)
            .send()
            .await
            .unwrap();
        keys.push(key);
    }
    // Due now: the deletion job (every second) races the cancellations,
    // which are spread over two job intervals.
    server.advance_clock(8 * 86_400);
    let mut calls = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let kms = kms.clone();
        let key = key.clone();
        calls.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(170 * i as u64)).await;
            let cancelled = kms.cancel_key_deletion().key_id(&key).send().await;
            (
                key,
                cancelled
                    .map(|_| ())
                    .map_err(|e| error_code(Err::<(), _>(e))),
            )
        }));
    }
    let mut outcomes = Vec::new();
    for call in calls {
        outcomes.push(call.await.unwrap());
    }
    // Give the job time to delete whatever it still may.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for (key, cancelled) in outcomes {
        let now = kms.describe_key().key_id(&key).send().await;
        match cancelled {
            Ok(()) => {
                let meta = now
                    .expect("a key whose deletion was cancelled exists")
                    .key_metadata
                    .unwrap();
                assert_eq!(meta.key_state, Some(KeyState::Disabled));
            }
            Err(code) => {
                assert_eq!(code, "NotFoundException", "cancel of {key}");
                assert_eq!(error_code(now), "NotFoundException");
            }
        }
    }
}
