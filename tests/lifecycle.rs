//! Key lifecycle through the SDK: CreateKey, DescribeKey, ListKeys,
//! UpdateKeyDescription, Enable/DisableKey, Schedule/CancelKeyDeletion and
//! the deletion job.

mod common;

use aws_sdk_kms::types::{KeySpec, KeyState, KeyUsageType, OriginType, Tag};
use common::{Server, error_code};

#[tokio::test(flavor = "multi_thread")]
async fn create_key_returns_complete_metadata() {
    let server = Server::start();
    let kms = server.client("us-east-1");
    let meta = kms
        .create_key()
        .description("orders database")
        .tags(
            Tag::builder()
                .tag_key("team")
                .tag_value("payments")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert!(uuid_like(&meta.key_id), "{}", meta.key_id);
    assert_eq!(
        meta.arn.as_deref(),
        Some(format!("arn:aws:kms:us-east-1:111122223333:key/{}", meta.key_id).as_str())
    );
    assert_eq!(meta.aws_account_id.as_deref(), Some("111122223333"));
    assert_eq!(meta.description.as_deref(), Some("orders database"));
    assert_eq!(meta.key_state, Some(KeyState::Enabled));
    assert!(meta.enabled);
    assert_eq!(meta.key_spec, Some(KeySpec::SymmetricDefault));
    assert_eq!(meta.key_usage, Some(KeyUsageType::EncryptDecrypt));
    assert_eq!(meta.origin, Some(OriginType::AwsKms));
    assert_eq!(meta.multi_region, Some(false));
    assert_eq!(
        meta.current_key_material_id.as_deref().map(str::len),
        Some(64)
    );
    let created = meta.creation_date.unwrap().secs();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (now - created).abs() < 60,
        "creation date {created} vs now {now}"
    );

    let described = kms
        .describe_key()
        .key_id(meta.arn.clone().unwrap())
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(described.key_id, meta.key_id);
    assert_eq!(described.creation_date, meta.creation_date);
}

fn uuid_like(id: &str) -> bool {
    id.len() == 36 && id.chars().filter(|c| *c == '-').count() == 4
}

#[tokio::test(flavor = "multi_thread")]
async fn unsupported_and_invalid_create_key_requests() {
    let server = Server::start();
    let kms = server.client("us-east-1");
    // Specs no token here has a mechanism for.
    for spec in [KeySpec::Sm2, KeySpec::MlDsa44] {
        let out = kms
            .create_key()
            .key_spec(spec.clone())
            .key_usage(KeyUsageType::SignVerify)
            .send()
            .await;
        assert_eq!(error_code(out), "UnsupportedOperationException", "{spec:?}");
    }
    for spec in [
        KeySpec::Rsa2048,
        KeySpec::EccNistP256,
        KeySpec::EccSecgP256K1,
        KeySpec::Sm2,
    ] {
        // Without a KeyUsage, AWS refuses every spec but SYMMETRIC_DEFAULT.
        let no_usage = kms.create_key().key_spec(spec.clone()).send().await;
        assert_eq!(error_code(no_usage), "ValidationException", "{spec:?}");
    }
    // Origins other than AWS_KMS and EXTERNAL (tests/import_*.rs have the
    // keys EXTERNAL makes) are not served.
    let cloudhsm = kms
        .create_key()
        .origin(OriginType::AwsCloudhsm)
        .send()
        .await;
    assert_eq!(error_code(cloudhsm), "UnsupportedOperationException");
    if !common::key_pairs_served() {
        // A token that cannot keep a private key refuses to wait for one.
        let external = kms
            .create_key()
            .origin(OriginType::External)
            .key_spec(KeySpec::EccNistP256)
            .key_usage(KeyUsageType::SignVerify)
            .send()
            .await;
        assert_eq!(error_code(external), "UnsupportedOperationException");
    }
    let usage = kms
        .create_key()
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await;
    assert_eq!(error_code(usage), "ValidationException");
    let bogus_spec = kms
        .create_key()
        .key_spec(KeySpec::from("NOT_A_SPEC"))
        .send()
        .await;
    assert_eq!(error_code(bogus_spec), "ValidationException");
    let long = kms.create_key().description("x".repeat(8193)).send().await;
    assert_eq!(error_code(long), "ValidationException");
    let bad_policy = kms.create_key().policy("not json").send().await;
    assert_eq!(error_code(bad_policy), "MalformedPolicyDocumentException");
    // Nothing was created by the refused requests.
    let keys = kms.list_keys().send().await.unwrap().keys.unwrap();
    assert!(keys.is_empty(), "{keys:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn list_keys_paginates() {
    let server = Server::start();
    let kms = server.client("us-east-1");
    let mut created = Vec::new();
    for _ in 0..7 {
        created.push(common::new_key(&kms).await);
    }
    created.sort();
    let mut seen = Vec::new();
    let mut marker = None;
    let mut pages = 0;
    loop {
        let page = kms
            .list_keys()
            .limit(3)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        for k in page.keys.unwrap() {
            assert!(k.key_arn.unwrap().ends_with(k.key_id.as_deref().unwrap()));
            seen.push(k.key_id.unwrap());
        }
        if !page.truncated {
            assert!(page.next_marker.is_none());
            break;
        }
        marker = page.next_marker;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, created);
    for limit in [0, 1001] {
        let out = kms.list_keys().limit(limit).send().await;
        assert_eq!(error_code(out), "ValidationException", "limit {limit}");
    }
    let bad_marker = kms.list_keys().marker("%%%").send().await;
    assert_eq!(error_code(bad_marker), "InvalidMarkerException");
}

#[tokio::test(flavor = "multi_thread")]
async fn description_enable_disable() {
    let server = Server::start();
    let kms = server.client("us-east-1");
    let id = common::new_key(&kms).await;
    kms.update_key_description()
        .key_id(&id)
        .description("new words")
        .send()
        .await
        .unwrap();
    kms.disable_key().key_id(&id).send().await.unwrap();
    let meta = kms
        .describe_key()
        .key_id(&id)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.description.as_deref(), Some("new words"));
    assert_eq!(meta.key_state, Some(KeyState::Disabled));
    assert!(!meta.enabled);
    // Idempotent, as in AWS (the Huawei dialect refuses the repeat).
    kms.disable_key().key_id(&id).send().await.unwrap();
    kms.enable_key().key_id(&id).send().await.unwrap();
    kms.enable_key().key_id(&id).send().await.unwrap();
    let meta = kms
        .describe_key()
        .key_id(&id)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.key_state, Some(KeyState::Enabled));

    let missing = kms
        .enable_key()
        .key_id("3f0a8e62-0d6a-4d0b-9d5e-0b6a5c3f9a11")
        .send()
        .await;
    assert_eq!(error_code(missing), "NotFoundException");
    let malformed = kms.disable_key().key_id("not-a-key").send().await;
    assert_eq!(error_code(malformed), "NotFoundException");
    let bad_arn = kms
        .describe_key()
        .key_id("arn:aws:kms:us-east-1:111122223333:thing/x")
        .send()
        .await;
    assert_eq!(error_code(bad_arn), "InvalidArnException");
    let other_region = kms
        .describe_key()
        .key_id(format!("arn:aws:kms:us-west-2:111122223333:key/{id}"))
        .send()
        .await;
    assert_eq!(error_code(other_region), "NotFoundException");
}

#[tokio::test(flavor = "multi_thread")]
async fn schedule_and_cancel_deletion() {
    let server = Server::start();
    let kms = server.client("us-east-1");
    let id = common::new_key(&kms).await;
    for days in [6, 31] {
        let out = kms
            .schedule_key_deletion()
            .key_id(&id)
            .pending_window_in_days(days)
            .send()
            .await;
        assert_eq!(error_code(out), "ValidationException", "{days} days");
    }
    let scheduled = kms
        .schedule_key_deletion()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(scheduled.pending_window_in_days, Some(30));
    assert_eq!(scheduled.key_state, Some(KeyState::PendingDeletion));
    let deletion = scheduled.deletion_date.unwrap().secs();
    let meta = kms
        .describe_key()
        .key_id(&id)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.key_state, Some(KeyState::PendingDeletion));
    assert_eq!(meta.pending_deletion_window_in_days, Some(30));
    let created = meta.creation_date.unwrap().secs();
    assert!((deletion - created - 30 * 86_400).abs() < 60);

    let again = kms.schedule_key_deletion().key_id(&id).send().await;
    assert_eq!(error_code(again), "KMSInvalidStateException");
    let enable = kms.enable_key().key_id(&id).send().await;
    assert_eq!(error_code(enable), "KMSInvalidStateException");
    let describe = kms
        .update_key_description()
        .key_id(&id)
        .description("x")
        .send()
        .await;
    assert_eq!(error_code(describe), "KMSInvalidStateException");

    let cancelled = kms.cancel_key_deletion().key_id(&id).send().await.unwrap();
    assert!(cancelled.key_id.unwrap().ends_with(&id));
    let meta = kms
        .describe_key()
        .key_id(&id)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.key_state, Some(KeyState::Disabled));
    assert!(meta.deletion_date.is_none());
    let cancel_again = kms.cancel_key_deletion().key_id(&id).send().await;
    assert_eq!(error_code(cancel_again), "KMSInvalidStateException");
}

#[tokio::test(flavor = "multi_thread")]
async fn deletion_job_deletes_keys_when_due() {
    let server = Server::start();
    let kms = server.client("us-east-1");
    let doomed = common::new_key(&kms).await;
    let later = common::new_key(&kms).await;
    kms.create_alias()
        .alias_name("alias/doomed")
        .target_key_id(&doomed)
        .send()
        .await
        .unwrap();
    kms.schedule_key_deletion()
        .key_id(&doomed)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    kms.schedule_key_deletion()
        .key_id(&later)
        .pending_window_in_days(30)
        .send()
        .await
        .unwrap();

    // Six days on, nothing is deleted yet.
    let ticks = server.job_ticks();
    server.advance_clock(6 * 86_400);
    server.wait_for_job_ticks(ticks + 2);
    assert!(kms.describe_key().key_id(&doomed).send().await.is_ok());

    // Eight days on, the 7-day key goes (with its alias); the 30-day key stays.
    let ticks = server.job_ticks();
    server.advance_clock(2 * 86_400);
    common::until_job_ticks(&server, ticks + 2, || async {
        kms.describe_key().key_id(&doomed).send().await.is_err()
    })
    .await;
    let described = kms.describe_key().key_id(&doomed).send().await;
    assert_eq!(error_code(described), "NotFoundException");
    let aliases = kms.list_aliases().send().await.unwrap().aliases.unwrap();
    assert!(
        aliases
            .iter()
            .all(|a| a.alias_name.as_deref() != Some("alias/doomed"))
    );
    let meta = kms
        .describe_key()
        .key_id(&later)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.key_state, Some(KeyState::PendingDeletion));
    let ids: Vec<String> = kms
        .list_keys()
        .send()
        .await
        .unwrap()
        .keys
        .unwrap()
        .into_iter()
        .filter_map(|k| k.key_id)
        .collect();
    assert_eq!(ids, vec![later]);
}
