//! Refusals of asymmetric requests that other files do not send: an
//! encryption context with RSA encryption, an RSA Decrypt without KeyId,
//! and grants whose operations or constraints the key's type does not take.

mod common;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    EncryptionAlgorithmSpec, GrantConstraints, GrantOperation, KeySpec, KeyUsageType,
};
use common::{EAST, Server, error_code};

const GRANTEE: &str = "arn:aws:iam::111122223333:user/alice";

async fn asymmetric_key(kms: &aws_sdk_kms::Client, spec: KeySpec, usage: KeyUsageType) -> String {
    kms.create_key()
        .key_spec(spec)
        .key_usage(usage)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id
}

/// RSA encryption takes no encryption context, and an RSA ciphertext names
/// no key, so Decrypt needs KeyId: both are ValidationException.
#[tokio::test(flavor = "multi_thread")]
async fn rsa_encryption_refuses_a_context_and_a_decrypt_without_key_id() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = asymmetric_key(&kms, KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt).await;
    let with_context = kms
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(b"x".to_vec()))
        .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
        .encryption_context("purpose", "test")
        .send()
        .await;
    assert_eq!(error_code(with_context), "ValidationException");
    let ciphertext = kms
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(b"x".to_vec()))
        .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let without_key = kms
        .decrypt()
        .ciphertext_blob(ciphertext.clone())
        .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
        .send()
        .await;
    assert_eq!(error_code(without_key), "ValidationException");
    let decrypt_with_context = kms
        .decrypt()
        .key_id(&key)
        .ciphertext_blob(ciphertext)
        .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
        .encryption_context("purpose", "test")
        .send()
        .await;
    assert_eq!(error_code(decrypt_with_context), "ValidationException");
}

/// A grant may name only operations the key's type supports, and
/// encryption-context constraints only on a symmetric encryption key; the
/// same grants are accepted where they fit.
#[tokio::test(flavor = "multi_thread")]
async fn grants_fit_the_key_type() {
    let server = Server::start();
    let kms = server.client(EAST);
    let signing = asymmetric_key(&kms, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let symmetric = common::new_key(&kms).await;
    let grant = |key: &str, operation: GrantOperation| {
        kms.create_grant()
            .key_id(key)
            .grantee_principal(GRANTEE)
            .operations(operation)
    };
    let decrypt_on_signer = grant(&signing, GrantOperation::Decrypt).send().await;
    assert_eq!(error_code(decrypt_on_signer), "ValidationException");
    let sign_on_symmetric = grant(&symmetric, GrantOperation::Sign).send().await;
    assert_eq!(error_code(sign_on_symmetric), "ValidationException");
    let constraints = GrantConstraints::builder()
        .encryption_context_equals("purpose", "test")
        .build();
    let constrained_sign = grant(&signing, GrantOperation::Sign)
        .constraints(constraints.clone())
        .send()
        .await;
    assert_eq!(error_code(constrained_sign), "ValidationException");
    assert!(grant(&signing, GrantOperation::Sign).send().await.is_ok());
    assert!(
        grant(&symmetric, GrantOperation::Decrypt)
            .constraints(constraints)
            .send()
            .await
            .is_ok()
    );
}
