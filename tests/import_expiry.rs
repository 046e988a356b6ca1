//! Time in key import (issue #14), driven by the test clock (feature
//! `test-clock`): import tokens expire 24 hours after GetParametersForImport
//! (ExpiredImportTokenException), and material imported with
//! KEY_MATERIAL_EXPIRES is deleted once its ValidTo has passed, by the
//! background job, which puts the key back in PendingImport until the same
//! material is imported again.
//!
//! AWS: GetParametersForImport's public key and token "are valid for 24
//! hours"; ExpiredImportTokenException "The request was rejected because the
//! specified import token is expired"; "When the key material expires, KMS
//! deletes the key material from the KMS key ... To use the KMS key in
//! cryptographic operations, you must reimport the same key material" (the
//! API reference as aws-sdk-kms 1.77 carries it).

mod common;

use aws_sdk_kms::primitives::DateTime;
use aws_sdk_kms::types::{AlgorithmSpec, ExpirationModelType, KeySpec, KeyState};
use common::asymmetric::arn;
use common::import::{
    HMAC_SPECS, code, create_external, describe, import_material, now_secs, parameters,
    pending_import, random_bytes, try_decrypt, try_encrypt, try_generate_mac, try_import_material,
    try_import_with,
};
use common::{EAST, Server};

const HOUR: i64 = 3_600;

/// A token still works 23 hours after GetParametersForImport; one of the
/// same age plus two hours (25 hours) is ExpiredImportTokenException and
/// leaves the key as it was.
#[tokio::test(flavor = "multi_thread")]
async fn an_import_token_expires_after_a_day() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = create_external(&kms, KeySpec::SymmetricDefault).await;
    let other = create_external(&kms, KeySpec::SymmetricDefault).await;
    let material = random_bytes(32);
    let dnx = || Some(ExpirationModelType::KeyMaterialDoesNotExpire);
    let young = parameters(&kms, &key, AlgorithmSpec::RsaesOaepSha256).await;
    let old = parameters(&kms, &other, AlgorithmSpec::RsaesOaepSha256).await;

    server.advance_clock(23 * HOUR);
    try_import_with(&kms, &key, &young, &material, dnx(), None)
        .await
        .expect("a token 23 hours old");

    server.advance_clock(2 * HOUR);
    let expired = try_import_with(&kms, &other, &old, &material, dnx(), None).await;
    assert_eq!(code(expired), "ExpiredImportTokenException");
    assert_eq!(
        describe(&kms, &other).await.key_state,
        Some(KeyState::PendingImport)
    );
    import_material(&kms, &other, &material).await;
}

/// Material imported with KEY_MATERIAL_EXPIRES works until ValidTo; once the
/// clock has passed it and the jobs have run, the symmetric and the HMAC
/// key are PendingImport (Encrypt, GenerateMac and Decrypt of an earlier
/// ciphertext are KMSInvalidStateException), other material is refused,
/// and the same material brings back the same KeyMaterialId, MACs and
/// plaintexts.
#[tokio::test(flavor = "multi_thread")]
async fn expired_material_is_deleted_until_imported_again() {
    let server = Server::start();
    let kms = server.client(EAST);
    let valid_to = DateTime::from_secs(now_secs() + HOUR);
    let expiring = || Some(ExpirationModelType::KeyMaterialExpires);

    let key = create_external(&kms, KeySpec::SymmetricDefault).await;
    let material = random_bytes(32);
    let params = parameters(&kms, &key, AlgorithmSpec::RsaesOaepSha1).await;
    let id = try_import_with(&kms, &key, &params, &material, expiring(), Some(valid_to))
        .await
        .expect("expiring material")
        .key_material_id
        .unwrap();
    let meta = describe(&kms, &key).await;
    assert_eq!(meta.key_state, Some(KeyState::Enabled));
    assert_eq!(
        meta.expiration_model,
        Some(ExpirationModelType::KeyMaterialExpires)
    );
    assert_eq!(meta.valid_to.map(|t| t.secs()), Some(valid_to.secs()));
    let sealed = try_encrypt(&kms, &key, b"before expiry").await.unwrap();

    let (spec, algorithm, least, _) = HMAC_SPECS[0].clone();
    let hmac = create_external(&kms, spec).await;
    let hmac_material = random_bytes(least);
    let params = parameters(&kms, &hmac, AlgorithmSpec::RsaAesKeyWrapSha1).await;
    try_import_with(
        &kms,
        &hmac,
        &params,
        &hmac_material,
        expiring(),
        Some(valid_to),
    )
    .await
    .expect("expiring HMAC material");
    let mac = try_generate_mac(&kms, &hmac, &algorithm, b"m")
        .await
        .unwrap();

    // Half an hour on, nothing has expired.
    server.advance_clock(HOUR / 2);
    server.run_jobs();
    assert_eq!(
        describe(&kms, &key).await.key_state,
        Some(KeyState::Enabled)
    );
    assert!(try_encrypt(&kms, &key, b"still valid").await.is_ok());

    server.advance_clock(HOUR);
    server.run_jobs();
    for k in [&key, &hmac] {
        let meta = describe(&kms, k).await;
        assert_eq!(meta.key_state, Some(KeyState::PendingImport), "{k}");
        assert!(!meta.enabled);
    }
    assert_eq!(
        try_encrypt(&kms, &key, b"after expiry").await,
        Err(pending_import(&arn(EAST, &key)))
    );
    assert_eq!(
        code(try_decrypt(&kms, &sealed).await),
        "KMSInvalidStateException"
    );
    assert_eq!(
        try_generate_mac(&kms, &hmac, &algorithm, b"m").await,
        Err(pending_import(&arn(EAST, &hmac)))
    );
    assert_eq!(
        code(try_import_material(&kms, &key, &random_bytes(32)).await),
        "IncorrectKeyMaterialException"
    );

    assert_eq!(import_material(&kms, &key, &material).await, id);
    let meta = describe(&kms, &key).await;
    assert_eq!(meta.key_state, Some(KeyState::Enabled));
    assert_eq!(
        meta.expiration_model,
        Some(ExpirationModelType::KeyMaterialDoesNotExpire)
    );
    assert_eq!(meta.valid_to, None);
    assert_eq!(
        try_decrypt(&kms, &sealed).await,
        Ok((b"before expiry".to_vec(), id))
    );
    import_material(&kms, &hmac, &hmac_material).await;
    assert_eq!(
        try_generate_mac(&kms, &hmac, &algorithm, b"m").await,
        Ok(mac)
    );
}
