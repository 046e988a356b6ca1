//! HMAC keys through `aws-sdk-kms`: CreateKey with HMAC_224 to HMAC_512,
//! GenerateMac and VerifyMac computed in the token, AWS's validation and
//! errors, grants, a restart, and a multi-Region copy that verifies what
//! the primary made.

mod common;

use aws_sdk_kms::Client;
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{GrantOperation, KeySpec, KeyUsageType, MacAlgorithmSpec};
use common::{ALICE_AND_BOB, Server, error_code, new_key, refusal};

const EAST: &str = "us-east-1";
const WEST: &str = "us-west-2";
const ACCOUNT: &str = "111122223333";

/// The HMAC specs, their MAC algorithms and MAC lengths.
const SPECS: [(KeySpec, MacAlgorithmSpec, usize); 4] = [
    (KeySpec::Hmac224, MacAlgorithmSpec::HmacSha224, 28),
    (KeySpec::Hmac256, MacAlgorithmSpec::HmacSha256, 32),
    (KeySpec::Hmac384, MacAlgorithmSpec::HmacSha384, 48),
    (KeySpec::Hmac512, MacAlgorithmSpec::HmacSha512, 64),
];

async fn hmac_key(kms: &Client, spec: KeySpec, multi_region: bool) -> String {
    kms.create_key()
        .key_spec(spec)
        .key_usage(KeyUsageType::GenerateVerifyMac)
        .multi_region(multi_region)
        .send()
        .await
        .expect("CreateKey HMAC")
        .key_metadata
        .unwrap()
        .key_id
}

async fn mac(kms: &Client, key: &str, algorithm: MacAlgorithmSpec, message: &[u8]) -> Vec<u8> {
    kms.generate_mac()
        .key_id(key)
        .mac_algorithm(algorithm)
        .message(Blob::new(message.to_vec()))
        .send()
        .await
        .expect("GenerateMac")
        .mac
        .unwrap()
        .into_inner()
}

async fn verify(
    kms: &Client,
    key: &str,
    algorithm: MacAlgorithmSpec,
    message: &[u8],
    mac: &[u8],
) -> Result<bool, (String, Option<String>)> {
    kms.verify_mac()
        .key_id(key)
        .mac_algorithm(algorithm)
        .message(Blob::new(message.to_vec()))
        .mac(Blob::new(mac.to_vec()))
        .send()
        .await
        .map(|out| out.mac_valid)
        .map_err(|e| {
            let service = e.as_service_error().expect("a service error");
            (
                service.code().unwrap_or_default().to_string(),
                service.message().map(str::to_string),
            )
        })
}

fn arn(region: &str, key: &str) -> String {
    format!("arn:aws:kms:{region}:{ACCOUNT}:key/{key}")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_hmac_spec_makes_and_verifies_macs_in_the_token() {
    let server = Server::start();
    let kms = server.client(EAST);
    for (spec, algorithm, len) in SPECS {
        let key = hmac_key(&kms, spec.clone(), false).await;
        let meta = kms
            .describe_key()
            .key_id(&key)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        assert_eq!(meta.key_spec, Some(spec.clone()));
        assert_eq!(meta.key_usage, Some(KeyUsageType::GenerateVerifyMac));
        assert_eq!(meta.mac_algorithms(), std::slice::from_ref(&algorithm));
        assert!(meta.encryption_algorithms().is_empty(), "{meta:?}");

        let first = mac(&kms, &key, algorithm.clone(), b"message one").await;
        assert_eq!(first.len(), len, "{spec:?}");
        assert_eq!(
            mac(&kms, &key, algorithm.clone(), b"message one").await,
            first,
            "HMAC is deterministic"
        );
        let second = mac(&kms, &key, algorithm.clone(), b"message two").await;
        assert_ne!(first, second);
        assert_eq!(
            verify(&kms, &key, algorithm.clone(), b"message one", &first).await,
            Ok(true)
        );
        // A MAC of another message, or a truncated one, is refused as AWS
        // refuses it: KMSInvalidMacException without a message.
        let refused = ("KMSInvalidMacException".to_string(), None);
        assert_eq!(
            verify(&kms, &key, algorithm.clone(), b"message one", &second).await,
            Err(refused.clone())
        );
        assert_eq!(
            verify(
                &kms,
                &key,
                algorithm.clone(),
                b"message one",
                &first[..len - 1]
            )
            .await,
            Err(refused)
        );
        // Another key of the same spec makes another MAC.
        let other = hmac_key(&kms, spec.clone(), false).await;
        assert_ne!(mac(&kms, &other, algorithm, b"message one").await, first);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hmac_requests_are_validated_as_aws_validates_them() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = hmac_key(&kms, KeySpec::Hmac224, false).await;
    let symmetric = new_key(&kms).await;
    let expect = |code: &str, message: &str| (code.to_string(), Some(message.to_string()));

    let no_usage = kms.create_key().key_spec(KeySpec::Hmac256).send().await;
    assert_eq!(
        refusal(no_usage),
        expect(
            "ValidationException",
            "You must specify a KeyUsage value for all KMS keys except for symmetric \
             encryption keys."
        )
    );
    let wrong_usage = kms
        .create_key()
        .key_spec(KeySpec::Hmac256)
        .key_usage(KeyUsageType::EncryptDecrypt)
        .send()
        .await;
    assert_eq!(
        refusal(wrong_usage),
        expect(
            "ValidationException",
            "KeyUsage ENCRYPT_DECRYPT is not compatible with KeySpec HMAC_256"
        )
    );
    let generate = |key: &str, algorithm: MacAlgorithmSpec| {
        kms.generate_mac()
            .key_id(key)
            .mac_algorithm(algorithm)
            .message(Blob::new(b"m".to_vec()))
            .send()
    };
    assert_eq!(
        refusal(generate(&key, MacAlgorithmSpec::HmacSha256).await),
        expect(
            "InvalidKeyUsageException",
            "Algorithm HMAC_SHA_256 is incompatible with key spec HMAC_224."
        )
    );
    assert_eq!(
        refusal(generate(&key, MacAlgorithmSpec::from("INVALID")).await),
        expect(
            "ValidationException",
            "1 validation error detected: Value 'INVALID' at 'macAlgorithm' failed to satisfy \
             constraint: Member must satisfy enum value set: [HMAC_SHA_384, HMAC_SHA_256, \
             HMAC_SHA_224, HMAC_SHA_512]"
        )
    );
    assert_eq!(
        refusal(generate(&symmetric, MacAlgorithmSpec::HmacSha256).await),
        expect(
            "InvalidKeyUsageException",
            &format!(
                "{} key usage is ENCRYPT_DECRYPT which is not valid for GenerateMac.",
                arn(EAST, &symmetric)
            )
        )
    );
    let encrypt = kms
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(b"x".to_vec()))
        .send()
        .await;
    assert_eq!(
        refusal(encrypt),
        expect(
            "InvalidKeyUsageException",
            &format!(
                "{} key usage is GENERATE_VERIFY_MAC which is not valid for Encrypt.",
                arn(EAST, &key)
            )
        )
    );
    assert_eq!(
        error_code(kms.enable_key_rotation().key_id(&key).send().await),
        "UnsupportedOperationException"
    );
    // A spec this deployment's token cannot serve.
    assert_eq!(
        error_code(
            kms.create_key()
                .key_spec(KeySpec::MlDsa44)
                .key_usage(KeyUsageType::SignVerify)
                .send()
                .await
        ),
        "UnsupportedOperationException"
    );
    assert_eq!(
        error_code(
            kms.generate_mac()
                .key_id(&key)
                .mac_algorithm(MacAlgorithmSpec::HmacSha224)
                .message(Blob::new(vec![0; 4097]))
                .send()
                .await
        ),
        "ValidationException"
    );
    assert_eq!(
        error_code(
            kms.generate_mac()
                .key_id(&key)
                .mac_algorithm(MacAlgorithmSpec::HmacSha224)
                .message(Blob::new(b"m".to_vec()))
                .dry_run(true)
                .send()
                .await
        ),
        "DryRunOperationException"
    );
    kms.disable_key().key_id(&key).send().await.unwrap();
    assert_eq!(
        refusal(generate(&key, MacAlgorithmSpec::HmacSha224).await),
        expect(
            "DisabledException",
            &format!("{} is disabled.", arn(EAST, &key))
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_grant_for_generate_mac_lets_its_grantee_make_macs_and_nothing_else() {
    let server = Server::start_with_config(ALICE_AND_BOB);
    let alice = server.client_as(EAST, "AKIAALICE0000000000A", "alice-secret");
    let bob = server.client_as(EAST, "AKIABOB00000000000BB", "bob-secret");
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:*","Resource":"*"}]}"#;
    let key = alice
        .create_key()
        .key_spec(KeySpec::Hmac256)
        .key_usage(KeyUsageType::GenerateVerifyMac)
        .policy(policy)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let generate = |kms: &Client| {
        kms.generate_mac()
            .key_id(&key)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(b"granted".to_vec()))
            .send()
    };
    assert_eq!(error_code(generate(&bob).await), "AccessDeniedException");
    alice
        .create_grant()
        .key_id(&key)
        .grantee_principal("arn:aws:iam::111122223333:user/bob")
        .operations(GrantOperation::GenerateMac)
        .send()
        .await
        .unwrap();
    let made = generate(&bob).await.unwrap().mac.unwrap().into_inner();
    assert_eq!(
        verify(
            &alice,
            &key,
            MacAlgorithmSpec::HmacSha256,
            b"granted",
            &made
        )
        .await,
        Ok(true)
    );
    assert_eq!(
        verify(&bob, &key, MacAlgorithmSpec::HmacSha256, b"granted", &made)
            .await
            .unwrap_err()
            .0,
        "AccessDeniedException"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hmac_keys_survive_a_restart_and_replicate_across_regions() {
    let server = Server::start();
    let east = server.client(EAST);
    let key = hmac_key(&east, KeySpec::Hmac384, true).await;
    let made = mac(&east, &key, MacAlgorithmSpec::HmacSha384, b"across").await;
    east.replicate_key()
        .key_id(&key)
        .replica_region(WEST)
        .send()
        .await
        .expect("ReplicateKey of an HMAC key");
    let west = server.client(WEST);
    assert_eq!(
        verify(&west, &key, MacAlgorithmSpec::HmacSha384, b"across", &made).await,
        Ok(true)
    );
    assert_eq!(
        mac(&west, &key, MacAlgorithmSpec::HmacSha384, b"across").await,
        made,
        "the replica holds the same key"
    );

    let restarted = Server::restart(server.stop());
    for region in [EAST, WEST] {
        let kms = restarted.client(region);
        assert_eq!(
            verify(&kms, &key, MacAlgorithmSpec::HmacSha384, b"across", &made).await,
            Ok(true),
            "{region} after a restart"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_policy_can_condition_on_the_mac_algorithm() {
    let server = Server::start_with_config(ALICE_AND_BOB);
    let alice = server.client_as(EAST, "AKIAALICE0000000000A", "alice-secret");
    let bob = server.client_as(EAST, "AKIABOB00000000000BB", "bob-secret");
    let policy = |algorithm: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[
              {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111122223333:user/alice"}},"Action":"kms:*","Resource":"*"}},
              {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111122223333:user/bob"}},"Action":"kms:GenerateMac","Resource":"*",
                "Condition":{{"StringEquals":{{"kms:MacAlgorithm":"{algorithm}"}}}}}}]}}"#
        )
    };
    let key = alice
        .create_key()
        .key_spec(KeySpec::Hmac256)
        .key_usage(KeyUsageType::GenerateVerifyMac)
        .policy(policy("HMAC_SHA_512"))
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let generate = || {
        bob.generate_mac()
            .key_id(&key)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(b"m".to_vec()))
            .send()
    };
    assert_eq!(error_code(generate().await), "AccessDeniedException");
    alice
        .put_key_policy()
        .key_id(&key)
        .policy(policy("HMAC_SHA_256"))
        .send()
        .await
        .unwrap();
    assert!(generate().await.is_ok());
}
