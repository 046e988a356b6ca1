//! Multi-Region keys through the official SDK: CreateKey MultiRegion,
//! ReplicateKey, UpdatePrimaryRegion (and the Updating state), cryptography
//! across regions, rotation run from the primary, each copy's own state,
//! deletion of replicas and primaries, rotation racing replication, and
//! SIGKILL while replicating and while rotating a replicated key.

mod common;

use aws_sdk_kms::Client;
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::operation::replicate_key::ReplicateKeyOutput;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    IncludeKeyMaterial, KeyMaterialState, KeyMetadata, KeyState, MultiRegionKeyType,
};
use common::{
    Decrypted, Server, current_material, decrypt_text, encrypt_text, error_code, new_mrk, tag,
    until_job_ticks,
};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const EAST: &str = "us-east-1";
const WEST: &str = "us-west-2";
/// A region the dev-mode server neither hosts nor would provision on first
/// use: its name fits AWS's model (`^([a-z]+-){2,3}\d+$`, so it is not
/// refused as malformed), but its area has more than four letters, so it
/// is not of the form dev mode provisions (tests/regions.rs has those).
const UNHOSTED: &str = "nowhere-north-1";
const ACCOUNT: &str = "111122223333";
const DAY: i64 = 86_400;

fn arn(region: &str, key_id: &str) -> String {
    format!("arn:aws:kms:{region}:{ACCOUNT}:key/{key_id}")
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn describe(kms: &Client, key: &str) -> KeyMetadata {
    kms.describe_key()
        .key_id(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DescribeKey {key}: {e:?}"))
        .key_metadata
        .unwrap()
}

async fn replicate(kms: &Client, key: &str, region: &str) -> ReplicateKeyOutput {
    kms.replicate_key()
        .key_id(key)
        .replica_region(region)
        .send()
        .await
        .unwrap_or_else(|e| panic!("ReplicateKey {key} to {region}: {e:?}"))
}

/// Asserts `blob` decrypts to `text` with material `material` in `region`.
async fn assert_decrypts(
    server: &Server,
    region: &str,
    key: &str,
    blob: &[u8],
    text: &str,
    material: &str,
) {
    let Decrypted {
        plaintext: plain,
        key_id: key_arn,
        material: used,
    } = decrypt_text(&server.client(region), blob).await;
    assert_eq!(plain, text, "plaintext in {region}");
    assert_eq!(key_arn, arn(region, key), "Decrypt KeyId in {region}");
    assert_eq!(used, material, "material used in {region} for {text:?}");
}

/// A copy's MultiRegionConfiguration as (type, primary region, replica
/// regions), checking every entry's ARN against its region.
fn copies(meta: &KeyMetadata) -> (MultiRegionKeyType, String, Vec<String>) {
    assert!(meta.multi_region.unwrap(), "MultiRegion of {}", meta.key_id);
    let config = meta
        .multi_region_configuration
        .as_ref()
        .unwrap_or_else(|| panic!("no MultiRegionConfiguration: {meta:?}"));
    let entry = |k: &aws_sdk_kms::types::MultiRegionKey| {
        let region = k.region.clone().unwrap();
        assert_eq!(k.arn.as_deref(), Some(arn(&region, &meta.key_id).as_str()));
        region
    };
    let primary = entry(config.primary_key.as_ref().unwrap());
    let replicas = config
        .replica_keys
        .as_ref()
        .expect("ReplicaKeys present, even when empty")
        .iter()
        .map(entry)
        .collect();
    (
        config.multi_region_key_type.clone().unwrap(),
        primary,
        replicas,
    )
}

/// Asserts what the copy of `key` in `region` says about all copies.
async fn assert_copies(server: &Server, region: &str, key: &str, primary: &str, replicas: &[&str]) {
    let meta = describe(&server.client(region), key).await;
    assert_eq!(meta.arn.as_deref(), Some(arn(region, key).as_str()));
    let kind = if region == primary {
        MultiRegionKeyType::Primary
    } else {
        MultiRegionKeyType::Replica
    };
    assert_eq!(
        copies(&meta),
        (
            kind,
            primary.to_string(),
            replicas.iter().map(|r| r.to_string()).collect()
        ),
        "configuration of the copy in {region}"
    );
}

/// Polls until the copy in `region` names `primary` as primary and is no
/// longer Updating; false if not so once the job loop has run twice more.
async fn wait_for_primary(server: &Server, region: &str, key: &str, primary: &str) -> bool {
    let kms = server.client(region);
    until_job_ticks(server, server.job_ticks() + 2, || async {
        let meta = describe(&kms, key).await;
        copies(&meta).1 == primary && meta.key_state != Some(KeyState::Updating)
    })
    .await
}

/// Polls DescribeKey of `key` in `region` until NotFoundException; false if
/// it still answers once the job loop has run twice more.
async fn wait_until_gone(server: &Server, region: &str, key: &str) -> bool {
    let kms = server.client(region);
    until_job_ticks(server, server.job_ticks() + 2, || async {
        match kms.describe_key().key_id(key).send().await {
            Ok(_) => false,
            Err(e) => {
                let code = e
                    .as_service_error()
                    .and_then(|s| s.code())
                    .map(String::from);
                assert_eq!(code.as_deref(), Some("NotFoundException"), "{e:?}");
                true
            }
        }
    })
    .await
}

/// Material ids (and whether each is current) from ListKeyRotations with
/// ALL_KEY_MATERIAL, oldest first.
async fn all_materials(kms: &Client, key: &str) -> Vec<(String, bool, bool)> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = kms
            .list_key_rotations()
            .key_id(key)
            .include_key_material(IncludeKeyMaterial::AllKeyMaterial)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("ListKeyRotations {key}: {e:?}"));
        out.extend(page.rotations.unwrap_or_default().into_iter().map(|r| {
            assert_eq!(r.key_id.as_deref(), Some(key));
            (
                r.key_material_id.unwrap(),
                r.key_material_state == Some(KeyMaterialState::Current),
                r.rotation_type.is_some(),
            )
        }));
        if !page.truncated {
            return out;
        }
        marker = page.next_marker;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn create_multi_region_key_is_a_primary_without_replicas() {
    let server = Server::start();
    let kms = server.client(EAST);
    let meta = kms
        .create_key()
        .multi_region(true)
        .description("mrk")
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let id = meta.key_id.clone();
    let hex = id.strip_prefix("mrk-").unwrap_or_else(|| panic!("{id}"));
    assert_eq!(hex.len(), 32, "{id}");
    assert!(
        hex.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{id} is not lowercase hex"
    );
    assert_eq!(meta.arn.as_deref(), Some(arn(EAST, &id).as_str()));
    assert_eq!(meta.multi_region, Some(true));
    assert_eq!(
        copies(&meta),
        (MultiRegionKeyType::Primary, EAST.to_string(), vec![])
    );
    // DescribeKey says the same.
    let described = describe(&kms, &id).await;
    assert_eq!(
        copies(&described),
        (MultiRegionKeyType::Primary, EAST.to_string(), vec![])
    );
    assert_eq!(described.key_state, Some(KeyState::Enabled));
    // Nothing exists in the other region yet.
    assert_eq!(
        error_code(server.client(WEST).describe_key().key_id(&id).send().await),
        "NotFoundException"
    );

    let plain = kms.create_key().send().await.unwrap().key_metadata.unwrap();
    assert!(!plain.key_id.starts_with("mrk-"));
    assert_eq!(plain.multi_region, Some(false));
    assert!(plain.multi_region_configuration.is_none());
    let plain = describe(&kms, &plain.key_id).await;
    assert_eq!(plain.multi_region, Some(false));
    assert!(plain.multi_region_configuration.is_none());

    let explicit_false = kms
        .create_key()
        .multi_region(false)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(explicit_false.multi_region, Some(false));
    assert!(explicit_false.multi_region_configuration.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn replicate_key_copies_material_but_not_description_policy_or_tags() {
    let server = Server::start();
    let east = server.client(EAST);
    let west = server.client(WEST);
    // The account's default policy, as a fresh key gets it.
    let default_policy = east
        .get_key_policy()
        .key_id(common::new_key(&east).await)
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    let custom = default_policy.replacen(
        "\"Statement\": [",
        "\"Statement\": [{\"Sid\":\"Extra\",\"Effect\":\"Deny\",\"Principal\":{\"AWS\":\"arn:aws:iam::444455556666:root\"},\"Action\":\"kms:*\",\"Resource\":\"*\"},",
        1,
    );
    assert_ne!(custom, default_policy, "the custom policy differs");
    let id = east
        .create_key()
        .multi_region(true)
        .policy(&custom)
        .description("payments")
        .tags(tag("team", "payments"))
        .tags(tag("env", "prod"))
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let primary = describe(&east, &id).await;
    let primary_policy = east
        .get_key_policy()
        .key_id(&id)
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();

    // By key id; nothing but the region given.
    let out = replicate(&east, &id, WEST).await;
    let replica = out.replica_key_metadata.clone().unwrap();
    assert_eq!(replica.key_id, id);
    assert_eq!(replica.arn.as_deref(), Some(arn(WEST, &id).as_str()));
    assert_eq!(
        copies(&replica),
        (
            MultiRegionKeyType::Replica,
            EAST.to_string(),
            vec![WEST.to_string()]
        )
    );
    assert_eq!(replica.key_spec, primary.key_spec);
    assert_eq!(replica.key_usage, primary.key_usage);
    assert_eq!(replica.origin, primary.origin);
    assert_eq!(
        replica.current_key_material_id,
        primary.current_key_material_id
    );
    assert!(replica.current_key_material_id.is_some());
    assert_eq!(replica.key_state, Some(KeyState::Enabled));
    // Description, policy and tags follow the reference's defaults.
    assert_eq!(primary_policy, custom);
    assert_eq!(replica.description.as_deref(), Some(""));
    assert_eq!(out.replica_policy.as_deref(), Some(default_policy.as_str()));
    // AWS's recorded answer to a ReplicateKey without tags has no
    // ReplicaTags member.
    assert_eq!(out.replica_tags, None);

    // The replica as us-west-2 reports it.
    let described = describe(&west, &id).await;
    assert_eq!(described.description.as_deref(), Some(""));
    assert_eq!(
        described.current_key_material_id,
        primary.current_key_material_id
    );
    assert_copies(&server, WEST, &id, EAST, &[WEST]).await;
    let west_policy = west
        .get_key_policy()
        .key_id(&id)
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    assert_eq!(west_policy, default_policy);
    let mut west_tags: Vec<(String, String)> = west
        .list_resource_tags()
        .key_id(&id)
        .send()
        .await
        .unwrap()
        .tags
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.tag_key, t.tag_value))
        .collect();
    west_tags.sort();
    assert!(west_tags.is_empty(), "{west_tags:?}");
    assert!(
        west.list_keys()
            .send()
            .await
            .unwrap()
            .keys
            .unwrap_or_default()
            .iter()
            .any(|k| k.key_id.as_deref() == Some(id.as_str())),
        "the replica is listed by ListKeys in {WEST}"
    );
    // And the primary now lists it.
    assert_copies(&server, EAST, &id, EAST, &[WEST]).await;

    // By ARN, with description, policy and tags given: they are used.
    let other = new_mrk(&east).await;
    east.tag_resource()
        .key_id(&other)
        .tags(tag("primary-only", "yes"))
        .send()
        .await
        .unwrap();
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"replica","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}}]}}"#
    );
    let out = east
        .replicate_key()
        .key_id(arn(EAST, &other))
        .replica_region(WEST)
        .description("west copy")
        .policy(&policy)
        .tags(tag("region", "west"))
        .send()
        .await
        .unwrap();
    let replica = out.replica_key_metadata.unwrap();
    assert_eq!(replica.key_id, other);
    assert_eq!(replica.arn.as_deref(), Some(arn(WEST, &other).as_str()));
    assert_eq!(replica.description.as_deref(), Some("west copy"));
    assert_eq!(out.replica_policy.as_deref(), Some(policy.as_str()));
    let given: Vec<(String, String)> = out
        .replica_tags
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.tag_key, t.tag_value))
        .collect();
    assert_eq!(given, vec![("region".to_string(), "west".to_string())]);
    assert_eq!(
        describe(&west, &other).await.description.as_deref(),
        Some("west copy")
    );
    assert_eq!(
        west.get_key_policy()
            .key_id(&other)
            .send()
            .await
            .unwrap()
            .policy
            .unwrap(),
        policy
    );
    let west_tags: Vec<(String, String)> = west
        .list_resource_tags()
        .key_id(&other)
        .send()
        .await
        .unwrap()
        .tags
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.tag_key, t.tag_value))
        .collect();
    assert_eq!(west_tags, given);
    // The primary keeps its own description, policy and tags.
    assert_eq!(
        describe(&east, &other).await.description.as_deref(),
        Some("")
    );
    assert_ne!(
        east.get_key_policy()
            .key_id(&other)
            .send()
            .await
            .unwrap()
            .policy
            .unwrap(),
        policy
    );
    let east_tags: Vec<String> = east
        .list_resource_tags()
        .key_id(&other)
        .send()
        .await
        .unwrap()
        .tags
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.tag_key)
        .collect();
    assert_eq!(east_tags, vec!["primary-only".to_string()]);
    assert_copies(&server, EAST, &other, EAST, &[WEST]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ciphertexts_cross_regions_through_rotation_and_primary_update() {
    let server = Server::start();
    let east = server.client(EAST);
    let west = server.client(WEST);
    let id = new_mrk(&east).await;
    replicate(&east, &id, WEST).await;
    // (plaintext, ciphertext, material it was made with)
    let mut made: Vec<(String, Vec<u8>, String)> = Vec::new();

    async fn encrypt_both(
        east: &Client,
        west: &Client,
        id: &str,
        label: &str,
        made: &mut Vec<(String, Vec<u8>, String)>,
    ) {
        let material = current_material(east, id).await;
        assert_eq!(current_material(west, id).await, material);
        for (region, kms) in [(EAST, east), (WEST, west)] {
            let text = format!("{label} in {region}");
            let blob = encrypt_text(kms, id, &text).await;
            made.push((text, blob, material.clone()));
        }
    }

    async fn all_decrypt_everywhere(server: &Server, id: &str, made: &[(String, Vec<u8>, String)]) {
        for (text, blob, material) in made {
            for region in [EAST, WEST] {
                assert_decrypts(server, region, id, blob, text, material).await;
            }
        }
    }

    encrypt_both(&east, &west, &id, "first", &mut made).await;
    all_decrypt_everywhere(&server, &id, &made).await;

    // Rotation of the primary reaches the replica.
    let before = current_material(&east, &id).await;
    let rotated = east
        .rotate_key_on_demand()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.key_id.as_deref(), Some(arn(EAST, &id).as_str()));
    let after = current_material(&east, &id).await;
    assert_ne!(after, before);
    assert_eq!(current_material(&west, &id).await, after);
    encrypt_both(&east, &west, &id, "rotated", &mut made).await;
    all_decrypt_everywhere(&server, &id, &made).await;

    // Move the primary to us-west-2 (the job runs every second).
    east.update_primary_region()
        .key_id(&id)
        .primary_region(WEST)
        .send()
        .await
        .unwrap();
    assert!(
        wait_for_primary(&server, EAST, &id, WEST).await,
        "UpdatePrimaryRegion never completed"
    );
    assert!(wait_for_primary(&server, WEST, &id, WEST).await);
    assert_copies(&server, WEST, &id, WEST, &[EAST]).await;
    assert_copies(&server, EAST, &id, WEST, &[EAST]).await;
    all_decrypt_everywhere(&server, &id, &made).await;
    encrypt_both(&east, &west, &id, "moved", &mut made).await;
    all_decrypt_everywhere(&server, &id, &made).await;

    // Now the new primary rotates, and both regions follow.
    let before = current_material(&west, &id).await;
    let rotated = west
        .rotate_key_on_demand()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.key_id.as_deref(), Some(arn(WEST, &id).as_str()));
    let after = current_material(&west, &id).await;
    assert_ne!(after, before);
    assert_eq!(current_material(&east, &id).await, after);
    encrypt_both(&east, &west, &id, "rotated in west", &mut made).await;
    all_decrypt_everywhere(&server, &id, &made).await;
    let materials: std::collections::BTreeSet<&String> = made.iter().map(|m| &m.2).collect();
    assert_eq!(materials.len(), 3, "three material versions used");
    assert_eq!(
        all_materials(&east, &id).await,
        all_materials(&west, &id).await
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn replica_made_after_rotations_carries_every_version() {
    let server = Server::start();
    let east = server.client(EAST);
    let west = server.client(WEST);
    let id = new_mrk(&east).await;
    let mut made = Vec::new();
    for version in 0..4 {
        if version > 0 {
            east.rotate_key_on_demand()
                .key_id(&id)
                .send()
                .await
                .unwrap();
        }
        let material = current_material(&east, &id).await;
        let text = format!("version {version}");
        made.push((
            text.clone(),
            encrypt_text(&east, &id, &text).await,
            material,
        ));
    }
    let versions: std::collections::BTreeSet<&String> = made.iter().map(|m| &m.2).collect();
    assert_eq!(versions.len(), 4);

    let out = replicate(&east, &id, WEST).await;
    assert_eq!(
        out.replica_key_metadata.unwrap().current_key_material_id,
        Some(made[3].2.clone())
    );
    for (text, blob, material) in &made {
        assert_decrypts(&server, WEST, &id, blob, text, material).await;
    }
    let east_materials = all_materials(&east, &id).await;
    let west_materials = all_materials(&west, &id).await;
    assert_eq!(east_materials.len(), 4);
    assert_eq!(west_materials, east_materials);
    let ids: Vec<&String> = west_materials.iter().map(|m| &m.0).collect();
    let expected: Vec<&String> = made.iter().map(|m| &m.2).collect();
    assert_eq!(ids, expected, "oldest first, as in the primary");
    assert!(west_materials[3].1, "the newest is current");
    assert!(!west_materials[3 - 1].1);
    // The replica encrypts under the newest material, readable in us-east-1.
    let blob = encrypt_text(&west, &id, "from the replica").await;
    assert_decrypts(&server, EAST, &id, &blob, "from the replica", &made[3].2).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn replicate_key_errors_follow_aws() {
    let server = Server::start();
    let east = server.client(EAST);
    let west = server.client(WEST);

    let plain = common::new_key(&east).await;
    assert_eq!(
        error_code(
            east.replicate_key()
                .key_id(&plain)
                .replica_region(WEST)
                .send()
                .await
        ),
        "UnsupportedOperationException"
    );

    let id = new_mrk(&east).await;
    replicate(&east, &id, WEST).await;
    assert_eq!(
        error_code(
            west.replicate_key()
                .key_id(&id)
                .replica_region(EAST)
                .send()
                .await
        ),
        "UnsupportedOperationException",
        "ReplicateKey on the replica"
    );
    assert_eq!(
        error_code(
            east.replicate_key()
                .key_id(&id)
                .replica_region(WEST)
                .send()
                .await
        ),
        "AlreadyExistsException"
    );
    assert_eq!(
        error_code(
            east.replicate_key()
                .key_id(&id)
                .replica_region(EAST)
                .send()
                .await
        ),
        "AlreadyExistsException",
        "the primary's own region"
    );

    let fresh = new_mrk(&east).await;
    match east
        .replicate_key()
        .key_id(&fresh)
        .replica_region(UNHOSTED)
        .send()
        .await
    {
        Ok(r) => panic!("replicated to an unhosted region: {r:?}"),
        Err(e) => {
            let service = e.as_service_error().expect("service error");
            assert_eq!(service.code(), Some("ValidationException"));
            let message = service.message().unwrap_or_default();
            assert!(
                message.contains(EAST) && message.contains(WEST),
                "message should name the hosted regions: {message}"
            );
        }
    }
    assert_eq!(
        error_code(
            east.replicate_key()
                .key_id(&fresh)
                .replica_region(WEST)
                .tags(tag("aws:x", "v"))
                .send()
                .await
        ),
        "TagException"
    );
    assert_eq!(
        error_code(west.describe_key().key_id(&fresh).send().await),
        "NotFoundException",
        "refused replications leave nothing behind"
    );

    east.disable_key().key_id(&fresh).send().await.unwrap();
    assert_eq!(
        error_code(
            east.replicate_key()
                .key_id(&fresh)
                .replica_region(WEST)
                .send()
                .await
        ),
        "DisabledException"
    );
    east.enable_key().key_id(&fresh).send().await.unwrap();
    east.schedule_key_deletion()
        .key_id(&fresh)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(
            east.replicate_key()
                .key_id(&fresh)
                .replica_region(WEST)
                .send()
                .await
        ),
        "KMSInvalidStateException"
    );

    let unknown = "mrk-0123456789abcdef0123456789abcdef";
    assert_eq!(
        error_code(
            east.replicate_key()
                .key_id(unknown)
                .replica_region(WEST)
                .send()
                .await
        ),
        "NotFoundException"
    );
    assert_eq!(
        error_code(
            east.replicate_key()
                .key_id("arn:aws:kms:us-east-1:111122223333:bogus")
                .replica_region(WEST)
                .send()
                .await
        ),
        "InvalidArnException"
    );
    assert_eq!(
        error_code(west.describe_key().key_id(&fresh).send().await),
        "NotFoundException"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn update_primary_region_errors_follow_aws() {
    let server = Server::start();
    let east = server.client(EAST);
    let west = server.client(WEST);

    let plain = common::new_key(&east).await;
    assert_eq!(
        error_code(
            east.update_primary_region()
                .key_id(&plain)
                .primary_region(WEST)
                .send()
                .await
        ),
        "UnsupportedOperationException"
    );

    let id = new_mrk(&east).await;
    assert_eq!(
        error_code(
            east.update_primary_region()
                .key_id(&id)
                .primary_region(WEST)
                .send()
                .await
        ),
        "UnsupportedOperationException",
        "no replica in the new primary region"
    );
    assert_eq!(
        error_code(
            east.update_primary_region()
                .key_id(&id)
                .primary_region(UNHOSTED)
                .send()
                .await
        ),
        "ValidationException"
    );
    replicate(&east, &id, WEST).await;
    assert_eq!(
        error_code(
            west.update_primary_region()
                .key_id(&id)
                .primary_region(WEST)
                .send()
                .await
        ),
        "UnsupportedOperationException",
        "called on the replica"
    );
    assert_eq!(
        error_code(
            west.update_primary_region()
                .key_id(&id)
                .primary_region(EAST)
                .send()
                .await
        ),
        "UnsupportedOperationException",
        "called on the replica"
    );
    assert_eq!(
        error_code(
            east.update_primary_region()
                .key_id(&id)
                .primary_region(UNHOSTED)
                .send()
                .await
        ),
        "ValidationException"
    );
    // None of the refusals changed anything.
    for region in [EAST, WEST] {
        let meta = describe(&server.client(region), &id).await;
        assert_eq!(meta.key_state, Some(KeyState::Enabled));
        assert_copies(&server, region, &id, EAST, &[WEST]).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_settings_are_shared_and_changed_from_the_primary() {
    let server = Server::start();
    let east = server.client(EAST);
    let west = server.client(WEST);
    let id = new_mrk(&east).await;
    replicate(&east, &id, WEST).await;

    assert_eq!(
        error_code(west.enable_key_rotation().key_id(&id).send().await),
        "UnsupportedOperationException"
    );
    assert_eq!(
        error_code(west.disable_key_rotation().key_id(&id).send().await),
        "UnsupportedOperationException"
    );
    assert_eq!(
        error_code(west.rotate_key_on_demand().key_id(&id).send().await),
        "UnsupportedOperationException"
    );
    let status = west
        .get_key_rotation_status()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    assert!(!status.key_rotation_enabled);

    east.enable_key_rotation()
        .key_id(&id)
        .rotation_period_in_days(180)
        .send()
        .await
        .unwrap();
    let primary = east
        .get_key_rotation_status()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    let replica = west
        .get_key_rotation_status()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    assert!(primary.key_rotation_enabled);
    assert!(
        replica.key_rotation_enabled,
        "the replica shares the setting"
    );
    assert_eq!(replica.rotation_period_in_days, Some(180));
    assert_eq!(replica.next_rotation_date, primary.next_rotation_date);
    let next = replica.next_rotation_date.unwrap().secs();
    assert!((next - now_secs() - 180 * DAY).abs() < 120, "next {next}");
    assert_eq!(replica.key_id.as_deref(), Some(arn(WEST, &id).as_str()));

    // A replica made after rotation was enabled shares it too.
    let later = new_mrk(&east).await;
    east.enable_key_rotation()
        .key_id(&later)
        .rotation_period_in_days(90)
        .send()
        .await
        .unwrap();
    replicate(&east, &later, WEST).await;
    let replica = west
        .get_key_rotation_status()
        .key_id(&later)
        .send()
        .await
        .unwrap();
    assert!(replica.key_rotation_enabled);
    assert_eq!(replica.rotation_period_in_days, Some(90));

    east.disable_key_rotation()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    let replica = west
        .get_key_rotation_status()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    assert!(!replica.key_rotation_enabled);
    assert!(replica.rotation_period_in_days.is_none());
}

/// Automatic rotation of a multi-Region key happens once, at the primary,
/// and reaches every replica.
#[tokio::test(flavor = "multi_thread")]
async fn automatic_rotation_reaches_the_replica() {
    let server = Server::start();
    let east = server.client(EAST);
    let west = server.client(WEST);
    let id = new_mrk(&east).await;
    replicate(&east, &id, WEST).await;
    let blob = encrypt_text(&west, &id, "before").await;
    let first = current_material(&east, &id).await;
    east.enable_key_rotation()
        .key_id(&id)
        .rotation_period_in_days(90)
        .send()
        .await
        .unwrap();
    let ticks = server.job_ticks();
    server.advance_clock(91 * DAY);
    assert!(
        until_job_ticks(&server, ticks + 2, || async {
            current_material(&west, &id).await != first
        })
        .await,
        "automatic rotation never reached the replica"
    );
    let second = current_material(&west, &id).await;
    assert_eq!(current_material(&east, &id).await, second);
    let materials = all_materials(&east, &id).await;
    assert_eq!(materials.len(), 2, "rotated exactly once: {materials:?}");
    assert_eq!(all_materials(&west, &id).await, materials);
    assert_decrypts(&server, EAST, &id, &blob, "before", &first).await;
    let blob = encrypt_text(&west, &id, "after").await;
    assert_decrypts(&server, EAST, &id, &blob, "after", &second).await;
}

/// Calls UpdatePrimaryRegion on the copy of `key` in `from` (its primary)
/// towards `to`, then polls both copies until each is Enabled with `to` the
/// primary and the other the replica. Until then a copy may only be
/// Updating in its old roles. Panics unless that happens within a second of
/// the call returning; returns how long it took.
async fn switch_primary(server: &Server, key: &str, from: &str, to: &str) -> Duration {
    server
        .client(from)
        .update_primary_region()
        .key_id(key)
        .primary_region(to)
        .send()
        .await
        .unwrap();
    let accepted = std::time::Instant::now();
    let clients = [server.client(from), server.client(to)];
    loop {
        let mut done = true;
        for kms in &clients {
            let meta = describe(kms, key).await;
            let (_, primary, replicas) = copies(&meta);
            match meta.key_state {
                Some(KeyState::Enabled) if primary == to => {
                    assert_eq!(replicas, vec![from.to_string()], "{meta:?}");
                }
                Some(KeyState::Updating) if primary == from => done = false,
                _ => panic!("neither Updating as before nor complete: {meta:?}"),
            }
        }
        let took = accepted.elapsed();
        if done {
            return took;
        }
        assert!(
            took < Duration::from_secs(1),
            "UpdatePrimaryRegion {from} -> {to} not complete a second after it was accepted"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// UpdatePrimaryRegion wakes the background job: with the job interval an
/// hour (so only the start-up run is due), both copies are Enabled in their
/// new roles within a second of the call (Updating may show in between, as
/// in AWS), and the new primary can move it straight back.
#[tokio::test(flavor = "multi_thread")]
async fn update_primary_region_completes_within_a_second() {
    let server = Server::start_with_env(&[("TRENT_JOB_INTERVAL_SECS", "3600")]);
    let east = server.client(EAST);
    let west = server.client(WEST);
    let id = new_mrk(&east).await;
    replicate(&east, &id, WEST).await;
    server.wait_for_job_ticks(1);

    let there = switch_primary(&server, &id, EAST, WEST).await;
    assert_copies(&server, WEST, &id, WEST, &[EAST]).await;
    assert_copies(&server, EAST, &id, WEST, &[EAST]).await;
    let back = switch_primary(&server, &id, WEST, EAST).await;
    println!("UpdatePrimaryRegion completed {there:?} and {back:?} after the call");
    assert_copies(&server, EAST, &id, EAST, &[WEST]).await;
    assert_copies(&server, WEST, &id, EAST, &[WEST]).await;

    // The roles are real: the primary rotates, the replica may not.
    assert_eq!(
        error_code(west.rotate_key_on_demand().key_id(&id).send().await),
        "UnsupportedOperationException"
    );
    east.rotate_key_on_demand()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        current_material(&west, &id).await,
        current_material(&east, &id).await
    );
}

/// With the job loop held to its hourly interval (no wake-up), the window
/// between UpdatePrimaryRegion and the job that completes it stays open:
/// both copies are Updating, cryptography carries on in both regions,
/// management changes wait; the start-up run after a restart completes it,
/// and rotation is then run from the new primary.
#[tokio::test(flavor = "multi_thread")]
async fn a_held_primary_update_is_updating_until_a_job_runs() {
    let slow = [
        ("TRENT_JOB_INTERVAL_SECS", "3600"),
        ("TRENT_TEST_NO_JOB_WAKE", "1"),
    ];
    let server = Server::start_with_env(&slow);
    let east = server.client(EAST);
    let west = server.client(WEST);
    let id = new_mrk(&east).await;
    replicate(&east, &id, WEST).await;
    let material = current_material(&east, &id).await;
    let before = encrypt_text(&east, &id, "before the update").await;
    // The start-up run is the only one within the hour.
    server.wait_for_job_ticks(1);

    east.update_primary_region()
        .key_id(&id)
        .primary_region(WEST)
        .send()
        .await
        .unwrap();
    for (region, kms) in [(EAST, &east), (WEST, &west)] {
        let meta = describe(kms, &id).await;
        assert_eq!(meta.key_state, Some(KeyState::Updating), "{region}");
    }
    // Cryptography carries on in both regions.
    let mut made = vec![("before the update".to_string(), before)];
    for (region, kms) in [(EAST, &east), (WEST, &west)] {
        let text = format!("while updating, in {region}");
        made.push((text.clone(), encrypt_text(kms, &id, &text).await));
    }
    for (text, blob) in &made {
        for region in [EAST, WEST] {
            assert_decrypts(&server, region, &id, blob, text, &material).await;
        }
    }
    // Management changes wait.
    assert_eq!(
        error_code(
            east.replicate_key()
                .key_id(&id)
                .replica_region(WEST)
                .send()
                .await
        ),
        "KMSInvalidStateException"
    );
    assert_eq!(
        error_code(
            east.update_primary_region()
                .key_id(&id)
                .primary_region(WEST)
                .send()
                .await
        ),
        "KMSInvalidStateException"
    );
    assert_eq!(
        describe(&east, &id).await.key_state,
        Some(KeyState::Updating),
        "nothing completes the update before the next job tick"
    );
    assert_eq!(server.job_ticks(), 1, "no job ran since start-up");

    // The job tick at start-up completes the update.
    let server = Server::restart_with_env(server.stop(), &slow);
    server.wait_for_job_ticks(1);
    assert!(
        wait_for_primary(&server, EAST, &id, WEST).await,
        "the start-up job did not complete the update: {:?}",
        describe(&server.client(EAST), &id).await
    );
    assert!(wait_for_primary(&server, WEST, &id, WEST).await);
    let east = server.client(EAST);
    let west = server.client(WEST);
    for (region, kms) in [(EAST, &east), (WEST, &west)] {
        let meta = describe(kms, &id).await;
        assert_eq!(meta.key_state, Some(KeyState::Enabled), "{region}");
        assert!(meta.enabled);
    }
    assert_copies(&server, WEST, &id, WEST, &[EAST]).await;
    assert_copies(&server, EAST, &id, WEST, &[EAST]).await;

    // Rotation (and replication) are now run from us-west-2.
    assert_eq!(
        error_code(east.rotate_key_on_demand().key_id(&id).send().await),
        "UnsupportedOperationException"
    );
    assert_eq!(
        error_code(east.enable_key_rotation().key_id(&id).send().await),
        "UnsupportedOperationException"
    );
    assert_eq!(
        error_code(
            east.update_primary_region()
                .key_id(&id)
                .primary_region(WEST)
                .send()
                .await
        ),
        "UnsupportedOperationException"
    );
    west.rotate_key_on_demand()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    let rotated = current_material(&west, &id).await;
    assert_ne!(rotated, material);
    assert_eq!(current_material(&east, &id).await, rotated);
    for (region, kms) in [(EAST, &east), (WEST, &west)] {
        let text = format!("after rotation, in {region}");
        let blob = encrypt_text(kms, &id, &text).await;
        for other in [EAST, WEST] {
            assert_decrypts(&server, other, &id, &blob, &text, &rotated).await;
        }
    }
    for (text, blob) in &made {
        for region in [EAST, WEST] {
            assert_decrypts(&server, region, &id, blob, text, &material).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_replica_leaves_the_primary() {
    let server = Server::start();
    let east = server.client(EAST);
    let west = server.client(WEST);
    let id = new_mrk(&east).await;
    replicate(&east, &id, WEST).await;
    let blob = encrypt_text(&east, &id, "kept").await;
    let material = current_material(&east, &id).await;

    let scheduled = west
        .schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert_eq!(scheduled.key_state, Some(KeyState::PendingDeletion));
    assert_eq!(scheduled.pending_window_in_days, Some(7));
    let date = scheduled
        .deletion_date
        .expect("replica has a deletion date")
        .secs();
    assert!((date - now_secs() - 7 * DAY).abs() < 120, "date {date}");
    assert_eq!(
        describe(&east, &id).await.key_state,
        Some(KeyState::Enabled),
        "the primary is untouched"
    );

    server.advance_clock(8 * DAY);
    assert!(
        wait_until_gone(&server, WEST, &id).await,
        "replica not deleted after its waiting period"
    );
    let primary = describe(&east, &id).await;
    assert_eq!(primary.key_state, Some(KeyState::Enabled));
    assert_eq!(
        copies(&primary),
        (MultiRegionKeyType::Primary, EAST.to_string(), vec![])
    );
    assert_decrypts(&server, EAST, &id, &blob, "kept", &material).await;
    // us-west-2 no longer has the key: named, it is not found; unnamed, the
    // ciphertext refers to a key the region lacks (as for any region).
    assert_eq!(
        error_code(
            west.decrypt()
                .key_id(&id)
                .ciphertext_blob(Blob::new(blob.clone()))
                .send()
                .await
        ),
        "NotFoundException"
    );
    assert_eq!(
        error_code(
            west.decrypt()
                .ciphertext_blob(Blob::new(blob.clone()))
                .send()
                .await
        ),
        "InvalidCiphertextException"
    );
    // It can be replicated again.
    let again = replicate(&east, &id, WEST).await;
    assert_eq!(
        again.replica_key_metadata.unwrap().key_state,
        Some(KeyState::Enabled)
    );
    assert_decrypts(&server, WEST, &id, &blob, "kept", &material).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_primary_waits_for_its_replicas_to_be_deleted() {
    let server = Server::start();
    let east = server.client(EAST);
    let west = server.client(WEST);
    let id = new_mrk(&east).await;
    replicate(&east, &id, WEST).await;
    let blob = encrypt_text(&east, &id, "secret").await;

    let scheduled = east
        .schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert_eq!(scheduled.key_state, Some(KeyState::PendingReplicaDeletion));
    assert!(
        scheduled.deletion_date.is_none(),
        "no date while replicas remain"
    );
    let meta = describe(&east, &id).await;
    assert_eq!(meta.key_state, Some(KeyState::PendingReplicaDeletion));
    assert!(meta.deletion_date.is_none());
    assert_eq!(
        describe(&west, &id).await.key_state,
        Some(KeyState::Enabled),
        "the replica is untouched"
    );
    assert_eq!(
        error_code(
            east.encrypt()
                .key_id(&id)
                .plaintext(Blob::new("x"))
                .send()
                .await
        ),
        "KMSInvalidStateException"
    );
    assert_eq!(
        error_code(
            east.decrypt()
                .ciphertext_blob(Blob::new(blob.clone()))
                .send()
                .await
        ),
        "KMSInvalidStateException"
    );
    // The replica still decrypts.
    assert_eq!(decrypt_text(&west, &blob).await.plaintext, "secret");

    let cancelled = east.cancel_key_deletion().key_id(&id).send().await.unwrap();
    assert_eq!(cancelled.key_id.as_deref(), Some(arn(EAST, &id).as_str()));
    let meta = describe(&east, &id).await;
    assert_eq!(meta.key_state, Some(KeyState::Disabled));
    assert!(meta.deletion_date.is_none());

    let scheduled = east
        .schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert_eq!(scheduled.key_state, Some(KeyState::PendingReplicaDeletion));
    // Time passing alone does not delete it while the replica exists.
    let ticks = server.job_ticks();
    server.advance_clock(31 * DAY);
    server.wait_for_job_ticks(ticks + 2);
    let meta = describe(&east, &id).await;
    assert_eq!(meta.key_state, Some(KeyState::PendingReplicaDeletion));

    // Delete the replica.
    west.schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    server.advance_clock(8 * DAY);
    assert!(
        wait_until_gone(&server, WEST, &id).await,
        "replica not deleted"
    );

    // The primary's own waiting period starts now (at the next job run).
    until_job_ticks(&server, server.job_ticks() + 2, || async {
        describe(&east, &id).await.key_state == Some(KeyState::PendingDeletion)
    })
    .await;
    let meta = describe(&east, &id).await;
    assert_eq!(
        meta.key_state,
        Some(KeyState::PendingDeletion),
        "primary never started its waiting period"
    );
    let server_now = now_secs() + 39 * DAY;
    let date = meta.deletion_date.expect("a deletion date").secs();
    assert!(
        (date - server_now - 7 * DAY).abs() < 120,
        "deletion date {date} should be 7 days after {server_now}"
    );
    assert_eq!(meta.pending_deletion_window_in_days, Some(7));
    assert_eq!(
        copies(&meta),
        (MultiRegionKeyType::Primary, EAST.to_string(), vec![])
    );
    // Not deleted before its window ends.
    let ticks = server.job_ticks();
    server.advance_clock(6 * DAY);
    server.wait_for_job_ticks(ticks + 2);
    assert_eq!(
        describe(&east, &id).await.key_state,
        Some(KeyState::PendingDeletion)
    );
    server.advance_clock(2 * DAY);
    assert!(
        wait_until_gone(&server, EAST, &id).await,
        "primary not deleted after its waiting period"
    );
}

/// A plaintext and the ciphertext the server acknowledged for it.
type Sealed = (String, Vec<u8>);

/// A key (by id), its acknowledged ciphertexts, and whether ReplicateKey
/// to us-west-2 was acknowledged.
#[derive(Default, Clone, Debug)]
struct Acknowledged {
    blobs: Vec<Sealed>,
    replicated: bool,
}

async fn list_all_keys(kms: &Client) -> Vec<String> {
    let mut ids = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = kms
            .list_keys()
            .set_marker(marker.clone())
            .limit(1000)
            .send()
            .await
            .unwrap();
        ids.extend(
            page.keys
                .unwrap_or_default()
                .into_iter()
                .filter_map(|k| k.key_id),
        );
        if !page.truncated {
            return ids;
        }
        marker = page.next_marker;
    }
}

/// Every multi-Region key is either wholly replicated or not at all.
async fn check_all_or_nothing(server: &Server, acknowledged: &BTreeMap<String, Acknowledged>) {
    let east = server.client(EAST);
    let west = server.client(WEST);
    let east_ids = list_all_keys(&east).await;
    let west_ids = list_all_keys(&west).await;
    for id in acknowledged.keys() {
        assert!(east_ids.contains(id), "acknowledged key {id} lost");
    }
    for id in &west_ids {
        assert!(east_ids.contains(id), "replica {id} without a primary");
    }
    let mut replicas = 0;
    for id in &east_ids {
        let ack = acknowledged.get(id).cloned().unwrap_or_default();
        let primary = describe(&east, id).await;
        let (kind, primary_region, listed) = copies(&primary);
        assert_eq!(kind, MultiRegionKeyType::Primary, "{id}");
        assert_eq!(primary_region, EAST);
        for (text, blob) in &ack.blobs {
            assert_eq!(
                decrypt_text(&east, blob).await.plaintext,
                *text,
                "{id} in {EAST}"
            );
        }
        match west.describe_key().key_id(id).send().await {
            Err(e) => {
                let code = e
                    .as_service_error()
                    .and_then(|s| s.code())
                    .map(String::from);
                assert_eq!(code.as_deref(), Some("NotFoundException"), "{e:?}");
                assert!(
                    !ack.replicated,
                    "acknowledged replica of {id} lost after the crash"
                );
                assert!(
                    listed.is_empty(),
                    "primary {id} lists replicas {listed:?} that do not exist"
                );
                assert!(!west_ids.contains(id));
            }
            Ok(out) => {
                replicas += 1;
                let replica = out.key_metadata.unwrap();
                assert_eq!(listed, vec![WEST.to_string()], "primary of {id}");
                assert_eq!(
                    copies(&replica),
                    (
                        MultiRegionKeyType::Replica,
                        EAST.to_string(),
                        vec![WEST.to_string()]
                    )
                );
                assert_eq!(
                    replica.current_key_material_id,
                    primary.current_key_material_id
                );
                assert!(west_ids.contains(id));
                for (text, blob) in &ack.blobs {
                    assert_eq!(
                        decrypt_text(&west, blob).await.plaintext,
                        *text,
                        "{id} in {WEST}"
                    );
                }
                // Its current material works too.
                let blob = encrypt_text(&west, id, "fresh").await;
                assert_eq!(decrypt_text(&east, &blob).await.plaintext, "fresh");
                assert_eq!(
                    all_materials(&west, id).await,
                    all_materials(&east, id).await
                );
            }
        }
    }
    eprintln!(
        "{} keys in {EAST}, {replicas} replicated, {} acknowledged replications",
        east_ids.len(),
        acknowledged.values().filter(|a| a.replicated).count()
    );
}

/// Clients keep creating multi-Region keys, encrypting under them and
/// replicating them while the server is killed with SIGKILL. After every
/// restart each key is either replicated with all its material or not at
/// all, and nothing acknowledged is lost.
#[tokio::test(flavor = "multi_thread")]
async fn kill9_while_replicating_leaves_all_or_nothing() {
    let mut server = Server::start();
    let acknowledged: Arc<Mutex<BTreeMap<String, Acknowledged>>> = Arc::default();
    for round in 0..3u64 {
        let kms = server.client(EAST);
        let mut workers = Vec::new();
        for worker in 0..4 {
            let kms = kms.clone();
            let acknowledged = acknowledged.clone();
            workers.push(tokio::spawn(async move {
                for i in 0.. {
                    let Ok(created) = kms.create_key().multi_region(true).send().await else {
                        return;
                    };
                    let id = created.key_metadata.unwrap().key_id;
                    acknowledged.lock().unwrap().entry(id.clone()).or_default();
                    let text = format!("{round}/{worker}/{i}");
                    let Ok(out) = kms
                        .encrypt()
                        .key_id(&id)
                        .plaintext(Blob::new(text.clone().into_bytes()))
                        .send()
                        .await
                    else {
                        return;
                    };
                    let blob = out.ciphertext_blob.unwrap().into_inner();
                    acknowledged
                        .lock()
                        .unwrap()
                        .get_mut(&id)
                        .unwrap()
                        .blobs
                        .push((text, blob));
                    let Ok(_) = kms
                        .replicate_key()
                        .key_id(&id)
                        .replica_region(WEST)
                        .send()
                        .await
                    else {
                        return;
                    };
                    acknowledged
                        .lock()
                        .unwrap()
                        .get_mut(&id)
                        .unwrap()
                        .replicated = true;
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(300 + 200 * round)).await;
        let data = server.kill9();
        for w in workers {
            w.await.unwrap();
        }
        server = Server::restart(data);
        let snapshot = acknowledged.lock().unwrap().clone();
        check_all_or_nothing(&server, &snapshot).await;
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    let replicated = acknowledged.values().filter(|a| a.replicated).count();
    assert!(
        acknowledged.len() >= 6 && replicated >= 3,
        "too little work to mean anything: {} keys, {replicated} replicated",
        acknowledged.len()
    );
}

/// Each copy has its own key state, description, aliases and tags; only the
/// material and the rotation settings are shared.
#[tokio::test(flavor = "multi_thread")]
async fn copies_keep_their_own_state_and_aliases() {
    let server = Server::start();
    let east = server.client(EAST);
    let west = server.client(WEST);
    let id = new_mrk(&east).await;
    replicate(&east, &id, WEST).await;
    let material = current_material(&east, &id).await;

    east.disable_key().key_id(&id).send().await.unwrap();
    assert_eq!(
        describe(&west, &id).await.key_state,
        Some(KeyState::Enabled)
    );
    let blob = encrypt_text(&west, &id, "primary disabled").await;
    assert_decrypts(&server, WEST, &id, &blob, "primary disabled", &material).await;
    assert_eq!(
        error_code(
            east.decrypt()
                .ciphertext_blob(Blob::new(blob.clone()))
                .send()
                .await
        ),
        "DisabledException"
    );
    east.enable_key().key_id(&id).send().await.unwrap();
    west.disable_key().key_id(&id).send().await.unwrap();
    assert_eq!(
        describe(&east, &id).await.key_state,
        Some(KeyState::Enabled)
    );
    assert_decrypts(&server, EAST, &id, &blob, "primary disabled", &material).await;
    assert_eq!(
        error_code(
            west.encrypt()
                .key_id(&id)
                .plaintext(Blob::new("x"))
                .send()
                .await
        ),
        "DisabledException"
    );
    // Rotation reaches a disabled replica too.
    east.rotate_key_on_demand()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    let rotated = current_material(&east, &id).await;
    assert_eq!(current_material(&west, &id).await, rotated);
    west.enable_key().key_id(&id).send().await.unwrap();
    let blob = encrypt_text(&west, &id, "after").await;
    assert_decrypts(&server, EAST, &id, &blob, "after", &rotated).await;

    west.update_key_description()
        .key_id(&id)
        .description("west only")
        .send()
        .await
        .unwrap();
    assert_eq!(describe(&east, &id).await.description.as_deref(), Some(""));
    west.tag_resource()
        .key_id(&id)
        .tags(tag("where", "west"))
        .send()
        .await
        .unwrap();
    assert!(
        east.list_resource_tags()
            .key_id(&id)
            .send()
            .await
            .unwrap()
            .tags
            .unwrap_or_default()
            .is_empty()
    );

    // An alias in us-west-2 names the replica there; us-east-1 has none.
    west.create_alias()
        .alias_name("alias/shared")
        .target_key_id(&id)
        .send()
        .await
        .unwrap();
    let blob = encrypt_text(&west, "alias/shared", "via alias").await;
    assert_decrypts(&server, EAST, &id, &blob, "via alias", &rotated).await;
    assert_eq!(
        describe(&west, "alias/shared").await.arn.as_deref(),
        Some(arn(WEST, &id).as_str())
    );
    assert_eq!(
        error_code(east.describe_key().key_id("alias/shared").send().await),
        "NotFoundException"
    );
    // A key ARN of the other region does not name the local copy.
    assert_eq!(
        error_code(east.describe_key().key_id(arn(WEST, &id)).send().await),
        "NotFoundException"
    );
}

/// Management calls during Updating, and UpdatePrimaryRegion towards a
/// replica that is pending deletion.
#[tokio::test(flavor = "multi_thread")]
async fn updating_blocks_management_changes() {
    let slow = [
        ("TRENT_JOB_INTERVAL_SECS", "3600"),
        ("TRENT_TEST_NO_JOB_WAKE", "1"),
    ];
    let server = Server::start_with_env(&slow);
    let east = server.client(EAST);
    let west = server.client(WEST);

    let doomed = new_mrk(&east).await;
    replicate(&east, &doomed, WEST).await;
    west.schedule_key_deletion()
        .key_id(&doomed)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(
            east.update_primary_region()
                .key_id(&doomed)
                .primary_region(WEST)
                .send()
                .await
        ),
        "KMSInvalidStateException",
        "the new primary is pending deletion"
    );
    assert_eq!(
        describe(&east, &doomed).await.key_state,
        Some(KeyState::Enabled)
    );

    let id = new_mrk(&east).await;
    replicate(&east, &id, WEST).await;
    east.update_primary_region()
        .key_id(&id)
        .primary_region(WEST)
        .send()
        .await
        .unwrap();
    for (region, kms) in [(EAST, &east), (WEST, &west)] {
        assert_eq!(
            error_code(kms.disable_key().key_id(&id).send().await),
            "KMSInvalidStateException",
            "DisableKey in {region}"
        );
        assert_eq!(
            error_code(
                kms.schedule_key_deletion()
                    .key_id(&id)
                    .pending_window_in_days(7)
                    .send()
                    .await
            ),
            "KMSInvalidStateException",
            "ScheduleKeyDeletion in {region}"
        );
    }
    assert_eq!(
        error_code(east.rotate_key_on_demand().key_id(&id).send().await),
        "KMSInvalidStateException"
    );
    for region in [EAST, WEST] {
        assert_eq!(
            describe(&server.client(region), &id).await.key_state,
            Some(KeyState::Updating)
        );
    }
}

/// After the primary moves, deletion follows the new roles: the new primary
/// waits for its replica, the old primary is deleted like any replica.
#[tokio::test(flavor = "multi_thread")]
async fn deletion_follows_the_moved_primary() {
    let server = Server::start();
    let east = server.client(EAST);
    let west = server.client(WEST);
    let id = new_mrk(&east).await;
    replicate(&east, &id, WEST).await;
    east.update_primary_region()
        .key_id(&id)
        .primary_region(WEST)
        .send()
        .await
        .unwrap();
    assert!(wait_for_primary(&server, EAST, &id, WEST).await);
    assert!(wait_for_primary(&server, WEST, &id, WEST).await);

    let scheduled = west
        .schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert_eq!(scheduled.key_state, Some(KeyState::PendingReplicaDeletion));
    let scheduled = east
        .schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert_eq!(scheduled.key_state, Some(KeyState::PendingDeletion));
    assert!(scheduled.deletion_date.is_some());
    server.advance_clock(8 * DAY);
    assert!(
        wait_until_gone(&server, EAST, &id).await,
        "old primary not deleted"
    );
    until_job_ticks(&server, server.job_ticks() + 2, || async {
        describe(&west, &id).await.key_state == Some(KeyState::PendingDeletion)
    })
    .await;
    assert_eq!(
        describe(&west, &id).await.key_state,
        Some(KeyState::PendingDeletion)
    );
    assert_copies(&server, WEST, &id, WEST, &[]).await;
    server.advance_clock(8 * DAY);
    assert!(
        wait_until_gone(&server, WEST, &id).await,
        "new primary not deleted"
    );
}

/// RotateKeyOnDemand and ReplicateKey racing on one key that already has a
/// replica (so a rotation carries its material before committing):
/// whichever loses is refused, and every copy ends with every material of
/// the primary. The rotations and the replication start at staggered
/// moments; the test fails unless each side lost some race.
#[tokio::test(flavor = "multi_thread")]
async fn rotation_racing_replication_leaves_complete_replicas() {
    const THIRD: &str = "eu-west-1";
    let server = Server::start_with_env(&[
        ("TRENT_ON_DEMAND_ROTATION_LIMIT", "1000"),
        (
            "TRENT_DEV_REGIONS",
            "[\"us-east-1\", \"us-west-2\", \"eu-west-1\"]",
        ),
    ]);
    let east = server.client(EAST);
    let code = |e: &dyn ProvideErrorMetadata| e.code().unwrap_or("not a service error").to_string();
    let mut refused = BTreeMap::<&str, usize>::new();
    let mut keys = 0;
    // At least 12 keys; more (bounded) until each side lost a race.
    while keys < 12 || (refused.len() < 2 && keys < 60) {
        // From replication 10 ms behind the rotations to 12 ms ahead.
        let offset = (keys % 12) as i64 * 2 - 10;
        let delay = |ms: i64| Duration::from_millis(ms.max(0) as u64);
        let (rotate_after, replicate_after) = (delay(offset), delay(-offset));
        keys += 1;
        let id = new_mrk(&east).await;
        replicate(&east, &id, WEST).await;
        let rotate = {
            let east = east.clone();
            let id = id.clone();
            tokio::spawn(async move {
                tokio::time::sleep(rotate_after).await;
                let mut codes = Vec::new();
                for _ in 0..3 {
                    if let Err(e) = east.rotate_key_on_demand().key_id(&id).send().await {
                        codes.push(code(&e));
                    }
                }
                codes
            })
        };
        tokio::time::sleep(replicate_after).await;
        let replicated = east
            .replicate_key()
            .key_id(&id)
            .replica_region(THIRD)
            .send()
            .await;
        let mut codes: Vec<_> = rotate
            .await
            .unwrap()
            .into_iter()
            .map(|c| ("RotateKeyOnDemand", c))
            .collect();
        if let Err(e) = &replicated {
            codes.push(("ReplicateKey", code(e)));
        }
        for (operation, code) in codes {
            assert_eq!(code, "ConflictException", "{operation} {id}");
            *refused.entry(operation).or_default() += 1;
        }
        if replicated.is_err() {
            replicate(&east, &id, THIRD).await;
        }
        let primary = all_materials(&east, &id).await;
        let current = current_material(&east, &id).await;
        for region in [WEST, THIRD] {
            let replica = server.client(region);
            assert_eq!(
                all_materials(&replica, &id).await,
                primary,
                "{id} in {region}"
            );
            assert_eq!(current_material(&replica, &id).await, current, "{region}");
        }
        for (material, _, _) in &primary {
            assert!(!material.is_empty());
        }
        let blob = encrypt_text(&east, &id, "latest").await;
        for region in [WEST, THIRD] {
            assert_eq!(
                decrypt_text(&server.client(region), &blob).await.plaintext,
                "latest"
            );
        }
    }
    eprintln!("refused while racing, over {keys} keys: {refused:?}");
    assert_eq!(
        refused.len(),
        2,
        "both sides must have lost a race over {keys} keys: {refused:?}"
    );
}

/// SIGKILL while a replicated key is rotated and used in both regions: the
/// copies always agree on the material, and every acknowledged ciphertext
/// decrypts in both regions.
#[tokio::test(flavor = "multi_thread")]
async fn kill9_while_rotating_a_replicated_key() {
    let limit = [("TRENT_ON_DEMAND_ROTATION_LIMIT", "100000")];
    let mut server = Server::start_with_env(&limit);
    let id = new_mrk(&server.client(EAST)).await;
    replicate(&server.client(EAST), &id, WEST).await;
    let acknowledged: Arc<Mutex<Vec<Sealed>>> = Arc::default();
    let rotations = Arc::new(Mutex::new(0usize));
    for round in 0..3u64 {
        let mut workers = Vec::new();
        for (worker, region) in [EAST, WEST, EAST, WEST].into_iter().enumerate() {
            let kms = server.client(region);
            let acknowledged = acknowledged.clone();
            let id = id.clone();
            workers.push(tokio::spawn(async move {
                for i in 0.. {
                    let text = format!("{round}/{worker}/{i}");
                    let Ok(out) = kms
                        .encrypt()
                        .key_id(&id)
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
        {
            let kms = server.client(EAST);
            let id = id.clone();
            let rotations = rotations.clone();
            workers.push(tokio::spawn(async move {
                loop {
                    match kms.rotate_key_on_demand().key_id(&id).send().await {
                        Ok(_) => *rotations.lock().unwrap() += 1,
                        Err(e) if e.as_service_error().is_some() => {
                            panic!("rotation refused: {e:?}")
                        }
                        Err(_) => return,
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(300 + 200 * round)).await;
        let data = server.kill9();
        for w in workers {
            w.await.unwrap();
        }
        server = Server::restart_with_env(data, &limit);
        let east = server.client(EAST);
        let west = server.client(WEST);
        let materials = all_materials(&east, &id).await;
        assert_eq!(all_materials(&west, &id).await, materials);
        assert_eq!(
            current_material(&east, &id).await,
            current_material(&west, &id).await
        );
        assert!(
            materials.len() > *rotations.lock().unwrap(),
            "{} materials for {} acknowledged rotations",
            materials.len(),
            rotations.lock().unwrap()
        );
        let snapshot = acknowledged.lock().unwrap().clone();
        for (text, blob) in &snapshot {
            for kms in [&east, &west] {
                assert_eq!(&decrypt_text(kms, blob).await.plaintext, text);
            }
        }
    }
    let count = acknowledged.lock().unwrap().len();
    let rotated = *rotations.lock().unwrap();
    eprintln!("{count} ciphertexts and {rotated} rotations across 3 crashes");
    assert!(
        count >= 20 && rotated >= 3,
        "{count} ciphertexts, {rotated} rotations"
    );
}
