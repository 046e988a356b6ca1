//! AWS's exact error codes and messages, as recorded against the real
//! service (sources in docs/aws-error-texts.md), through `aws-sdk-kms`.

mod common;

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{GrantOperation, Tag};
use common::{Server, new_key, new_mrk, refusal, tag};

const EAST: &str = "us-east-1";
const WEST: &str = "us-west-2";
const ACCOUNT: &str = "111122223333";

/// Asserts the code and the exact message of a refusal.
fn assert_refusal<E, R>(
    result: Result<R, aws_sdk_kms::error::SdkError<E>>,
    code: &str,
    message: &str,
) where
    E: aws_sdk_kms::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    assert_eq!(
        refusal(result),
        (code.to_string(), Some(message.to_string()))
    );
}

fn arn(region: &str, key_id: &str) -> String {
    format!("arn:aws:kms:{region}:{ACCOUNT}:key/{key_id}")
}

#[tokio::test(flavor = "multi_thread")]
async fn alias_errors_are_aws_texts() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = new_key(&kms).await;
    let create = |name: &str| {
        kms.create_alias()
            .alias_name(name)
            .target_key_id(&key)
            .send()
    };

    assert_refusal(
        create("no-prefix").await,
        "ValidationException",
        "Alias must start with the prefix \"alias/\". Please see \
         https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html",
    );
    assert_refusal(
        create("alias/Service:Test").await,
        "ValidationException",
        "alias/Service:Test contains invalid characters for an alias",
    );
    assert_refusal(
        create("alias/has space").await,
        "ValidationException",
        "1 validation error detected: Value 'alias/has space' at 'aliasName' failed to satisfy \
         constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$",
    );
    assert_refusal(
        kms.describe_key().key_id("alias/nothing-here").send().await,
        "NotFoundException",
        &format!("Alias arn:aws:kms:{EAST}:{ACCOUNT}:alias/nothing-here is not found."),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn key_reference_errors_are_aws_texts() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = new_key(&kms).await;
    let missing = "134f2428-cec1-4b25-a1ae-9048164dba47";

    assert_refusal(
        kms.describe_key().key_id(missing).send().await,
        "NotFoundException",
        &format!("Key '{}' does not exist", arn(EAST, missing)),
    );
    assert_refusal(
        kms.describe_key().key_id("fake-key-id").send().await,
        "NotFoundException",
        "Invalid keyId 'fake-key-id'",
    );
    assert_refusal(
        kms.describe_key().key_id(arn(WEST, &key)).send().await,
        "NotFoundException",
        &format!("Invalid arn {WEST}"),
    );
    // Another partition's ARN names no key here, even with this key's id.
    let china = arn(EAST, &key).replacen("arn:aws:", "arn:aws-cn:", 1);
    assert_refusal(
        kms.describe_key().key_id(&china).send().await,
        "NotFoundException",
        &format!(
            "Key '{china}' does not exist in partition aws-cn: Trent's keys are in partition aws"
        ),
    );
    assert_refusal(
        kms.encrypt()
            .key_id(&china)
            .plaintext(Blob::new(b"secret".to_vec()))
            .send()
            .await,
        "NotFoundException",
        &format!(
            "Key '{china}' does not exist in partition aws-cn: Trent's keys are in partition aws"
        ),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn crypto_errors_are_aws_texts() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = new_key(&kms).await;
    let other = new_key(&kms).await;

    assert_refusal(
        kms.encrypt()
            .key_id(&key)
            .plaintext(Blob::new(vec![0u8; 4097]))
            .send()
            .await,
        "ValidationException",
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: \
         Member must have length less than or equal to 4096",
    );

    let blob = kms
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(b"secret".to_vec()))
        .encryption_context("purpose", "test")
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    // AWS says nothing about why a ciphertext is refused.
    assert_eq!(
        refusal(kms.decrypt().ciphertext_blob(blob.clone()).send().await),
        ("InvalidCiphertextException".to_string(), None)
    );
    assert_refusal(
        kms.decrypt()
            .ciphertext_blob(blob)
            .encryption_context("purpose", "test")
            .key_id(&other)
            .send()
            .await,
        "IncorrectKeyException",
        "The key ID in the request does not identify a CMK that can perform this operation.",
    );

    assert_refusal(
        kms.generate_random().send().await,
        "ValidationException",
        "NumberOfBytes is required.",
    );
    assert_refusal(
        kms.generate_random().number_of_bytes(0).send().await,
        "ValidationException",
        "1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy \
         constraint: Member must have value greater than or equal to 1",
    );
    assert_refusal(
        kms.generate_random().number_of_bytes(1025).send().await,
        "ValidationException",
        "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy \
         constraint: Member must have value less than or equal to 1024",
    );
    assert_refusal(
        kms.generate_data_key()
            .key_id(&key)
            .number_of_bytes(32)
            .dry_run(true)
            .send()
            .await,
        "DryRunOperationException",
        "The request would have succeeded, but the DryRun option is set.",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tag_errors_are_aws_texts() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = new_key(&kms).await;
    let tag_with = |tags: Vec<Tag>| kms.tag_resource().key_id(&key).set_tags(Some(tags)).send();

    assert_refusal(
        tag_with(vec![tag("aws:key1", "v")]).await,
        "TagException",
        "Tags beginning with aws: are reserved",
    );
    assert_refusal(
        tag_with(vec![tag("AWS:key1", "v")]).await,
        "TagException",
        "Tags beginning with aws: are reserved",
    );
    assert_refusal(
        tag_with(vec![tag("tag1", "a"), tag("tag1", "b")]).await,
        "TagException",
        "Duplicate tag keys",
    );
    let many: Vec<Tag> = (0..51).map(|i| tag(&format!("k{i}"), "v")).collect();
    assert_refusal(
        kms.create_key().set_tags(Some(many)).send().await,
        "TagException",
        "Too many tags",
    );
    let long_key = "a".repeat(129);
    assert_refusal(
        kms.create_key().tags(tag(&long_key, "v")).send().await,
        "ValidationException",
        &format!(
            "1 validation error detected: Value '{long_key}' at 'tags.1.member.tagKey' failed \
             to satisfy constraint: Member must have length less than or equal to 128"
        ),
    );
    let long_value = "v".repeat(257);
    assert_refusal(
        tag_with(vec![tag("ok", "v"), tag("k", &long_value)]).await,
        "ValidationException",
        &format!(
            "1 validation error detected: Value '{long_value}' at 'tags.2.member.tagValue' \
             failed to satisfy constraint: Member must have length less than or equal to 256"
        ),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn key_state_errors_are_aws_texts() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = new_key(&kms).await;
    let key_arn = arn(EAST, &key);
    let encrypt = || {
        kms.encrypt()
            .key_id(&key)
            .plaintext(Blob::new(b"x".to_vec()))
            .send()
    };

    assert_refusal(
        kms.cancel_key_deletion().key_id(&key).send().await,
        "KMSInvalidStateException",
        &format!("{key_arn} is not pending deletion."),
    );
    assert_refusal(
        kms.schedule_key_deletion()
            .key_id(&key)
            .pending_window_in_days(1)
            .send()
            .await,
        "ValidationException",
        "PendingWindowInDays must be between 7 and 30",
    );
    kms.disable_key().key_id(&key).send().await.unwrap();
    assert_refusal(
        encrypt().await,
        "DisabledException",
        &format!("{key_arn} is disabled."),
    );
    kms.schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert_refusal(
        encrypt().await,
        "KMSInvalidStateException",
        &format!("{key_arn} is pending deletion."),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn create_errors_are_aws_texts() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = new_key(&kms).await;

    assert_refusal(
        kms.create_key()
            .key_usage(aws_sdk_kms::types::KeyUsageType::SignVerify)
            .send()
            .await,
        "ValidationException",
        "KeyUsage SIGN_VERIFY is not compatible with KeySpec SYMMETRIC_DEFAULT",
    );
    assert_refusal(
        kms.create_grant()
            .key_id(&key)
            .grantee_principal(format!("arn:aws:iam::{ACCOUNT}:user/bob"))
            .operations(GrantOperation::CreateGrant)
            .send()
            .await,
        "ValidationException",
        "Grants must not contain only the CreateGrant operation.",
    );
    for _ in 0..10 {
        kms.rotate_key_on_demand()
            .key_id(&key)
            .send()
            .await
            .unwrap();
    }
    assert_refusal(
        kms.rotate_key_on_demand().key_id(&key).send().await,
        "LimitExceededException",
        &format!(
            "The on-demand rotations limit has been reached for the given keyId. No more \
             on-demand rotations can be performed for this key: {}",
            arn(EAST, &key)
        ),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn replicating_a_replica_is_an_aws_text() {
    let server = Server::start();
    let east: Client = server.client(EAST);
    let primary = new_mrk(&east).await;
    east.replicate_key()
        .key_id(&primary)
        .replica_region(WEST)
        .send()
        .await
        .unwrap();
    let west = server.client(WEST);
    assert_refusal(
        west.replicate_key()
            .key_id(&primary)
            .replica_region(EAST)
            .send()
            .await,
        "UnsupportedOperationException",
        &format!("{} is not a multi-region primary key.", arn(WEST, &primary)),
    );
}
