//! Who may import key material (issue #14): GetParametersForImport,
//! ImportKeyMaterial and DeleteImportedKeyMaterial are the actions
//! `kms:GetParametersForImport`, `kms:ImportKeyMaterial` and
//! `kms:DeleteImportedKeyMaterial` on the key, decided by its key policy
//! (the API reference's "Required permissions" for each: key policy).

mod common;

use aws_sdk_kms::Client;
use aws_sdk_kms::types::OriginType;
use aws_sdk_kms::types::{AlgorithmSpec, ExpirationModelType, KeySpec, KeyState, KeyUsageType};
use common::import::{code, describe, parameters, random_bytes, try_import_with};
use common::{ALICE_AND_BOB, ALICE_ONLY, EAST, Server, error_code};

/// Alice may do everything; bob may describe the key and get import
/// parameters, nothing else.
const BOB_MAY_GET_PARAMETERS: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:*","Resource":"*"},
  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":["kms:DescribeKey","kms:GetParametersForImport"],"Resource":"*"}]}"#;

/// An EXTERNAL symmetric key with `policy`, created by `kms`.
async fn external_with_policy(kms: &Client, policy: &str) -> String {
    kms.create_key()
        .origin(OriginType::External)
        .key_spec(KeySpec::SymmetricDefault)
        .key_usage(KeyUsageType::EncryptDecrypt)
        .policy(policy)
        .send()
        .await
        .expect("CreateKey EXTERNAL with a policy")
        .key_metadata
        .unwrap()
        .key_id
}

/// A principal the key policy does not allow gets AccessDeniedException for
/// GetParametersForImport, ImportKeyMaterial and DeleteImportedKeyMaterial;
/// one allowed only kms:GetParametersForImport gets parameters but may not
/// import with them; a refused import does not use up the token.
#[tokio::test(flavor = "multi_thread")]
async fn importing_needs_the_key_policys_permission() {
    let server = Server::start_with_config(ALICE_AND_BOB);
    let alice = server.client_as(EAST, "AKIAALICE0000000000A", "alice-secret");
    let bob = server.client_as(EAST, "AKIABOB00000000000BB", "bob-secret");
    let dnx = || Some(ExpirationModelType::KeyMaterialDoesNotExpire);
    let denied = "AccessDeniedException";

    // ALICE_ONLY: bob may do nothing with the key.
    let key = external_with_policy(&alice, ALICE_ONLY).await;
    let refused = bob
        .get_parameters_for_import()
        .key_id(&key)
        .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256)
        .wrapping_key_spec(aws_sdk_kms::types::WrappingKeySpec::Rsa2048)
        .send()
        .await;
    assert_eq!(error_code(refused), denied);
    let material = random_bytes(32);
    let params = parameters(&alice, &key, AlgorithmSpec::RsaesOaepSha256).await;
    assert_eq!(
        code(try_import_with(&bob, &key, &params, &material, dnx(), None).await),
        denied
    );
    assert_eq!(
        describe(&alice, &key).await.key_state,
        Some(KeyState::PendingImport)
    );
    try_import_with(&alice, &key, &params, &material, dnx(), None)
        .await
        .expect("alice imports with the token bob could not use");
    assert_eq!(
        error_code(bob.delete_imported_key_material().key_id(&key).send().await),
        denied
    );
    assert_eq!(
        describe(&alice, &key).await.key_state,
        Some(KeyState::Enabled)
    );

    // Bob may get parameters, not import.
    let key = external_with_policy(&alice, BOB_MAY_GET_PARAMETERS).await;
    let params = parameters(&bob, &key, AlgorithmSpec::RsaAesKeyWrapSha256).await;
    assert_eq!(
        code(try_import_with(&bob, &key, &params, &material, dnx(), None).await),
        denied
    );
    assert_eq!(
        describe(&bob, &key).await.key_state,
        Some(KeyState::PendingImport)
    );
}
