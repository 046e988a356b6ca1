//! The life of imported key material (issue #14): DeleteImportedKeyMaterial
//! and re-import, material imported again into a key that has it, import
//! tokens that are single-use and bound to their key, and rotation, which
//! keys with imported material refuse. Expiry, which needs the test clock,
//! is in tests/import_expiry.rs.
//!
//! AWS's rules, from the API reference as aws-sdk-kms 1.77 carries it:
//! "After you successfully import key material into a KMS key, you can
//! reimport the same key material into that KMS key, but you cannot import
//! different key material"; "For asymmetric, HMAC and multi-Region keys, you
//! cannot change the key material after the initial import"; ImportKeyMaterial
//! can "set or update the expiration model and expiration date";
//! IncorrectKeyMaterialException when the material "is not the same key
//! material that was previously imported"; InvalidImportTokenException when
//! "the provided import token is invalid or is associated with a different
//! KMS key". That a token is refused once used is the issue's requirement.
//! LocalStack's recording of AWS (test_import_key_symmetric) shows a key
//! after DeleteImportedKeyMaterial as PendingImport, disabled, without
//! ExpirationModel, and Encrypt refused with "<ARN> is pending import.".

mod common;

use aws_sdk_kms::primitives::DateTime;
use aws_sdk_kms::types::{AlgorithmSpec, ExpirationModelType, KeySpec, KeyState};
use common::asymmetric::arn;
use common::import::{
    HMAC_SPECS, code, create_external, describe, import_material, now_secs, parameters,
    pending_import, random_bytes, try_decrypt, try_encrypt, try_generate_mac, try_import,
    try_import_material, try_import_with, wrap_for,
};
use common::{EAST, Server, error_code};

const DAY: i64 = 86_400;

/// DeleteImportedKeyMaterial puts the key in PendingImport at once: Encrypt,
/// GenerateDataKey and Decrypt of a ciphertext made before are
/// KMSInvalidStateException; re-importing the same material (with new
/// parameters) brings back the same KeyMaterialId and the old ciphertext
/// decrypts again; other material is IncorrectKeyMaterialException.
#[tokio::test(flavor = "multi_thread")]
async fn deleted_material_comes_back_only_as_the_same_material() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = create_external(&kms, KeySpec::SymmetricDefault).await;
    let material = random_bytes(32);
    let id = import_material(&kms, &key, &material).await;
    let sealed = try_encrypt(&kms, &key, b"made before the deletion")
        .await
        .unwrap();

    let deleted = kms
        .delete_imported_key_material()
        .key_id(&key)
        .send()
        .await
        .expect("DeleteImportedKeyMaterial");
    assert_eq!(deleted.key_id.as_deref(), Some(arn(EAST, &key).as_str()));
    assert_eq!(deleted.key_material_id.as_ref(), Some(&id));
    let meta = describe(&kms, &key).await;
    assert_eq!(meta.key_state, Some(KeyState::PendingImport));
    assert!(!meta.enabled);
    assert_eq!(meta.expiration_model, None);
    assert_eq!(
        try_encrypt(&kms, &key, b"after").await,
        Err(pending_import(&arn(EAST, &key)))
    );
    let data_key = kms
        .generate_data_key()
        .key_id(&key)
        .number_of_bytes(32)
        .send()
        .await;
    assert_eq!(error_code(data_key), "KMSInvalidStateException");
    assert_eq!(
        code(try_decrypt(&kms, &sealed).await),
        "KMSInvalidStateException"
    );

    // Other material, while the key is pending import.
    assert_eq!(
        code(try_import_material(&kms, &key, &random_bytes(32)).await),
        "IncorrectKeyMaterialException"
    );
    assert_eq!(
        describe(&kms, &key).await.key_state,
        Some(KeyState::PendingImport)
    );

    assert_eq!(import_material(&kms, &key, &material).await, id);
    let meta = describe(&kms, &key).await;
    assert_eq!(meta.key_state, Some(KeyState::Enabled));
    assert_eq!(meta.current_key_material_id.as_ref(), Some(&id));
    assert_eq!(
        try_decrypt(&kms, &sealed).await,
        Ok((b"made before the deletion".to_vec(), id))
    );
}

/// An HMAC key's material can be deleted and re-imported too: GenerateMac is
/// KMSInvalidStateException "<ARN> is pending import." in between, and the
/// same MAC afterwards.
#[tokio::test(flavor = "multi_thread")]
async fn deleted_hmac_material_comes_back_with_the_same_macs() {
    let server = Server::start();
    let kms = server.client(EAST);
    let (spec, algorithm, least, _) = HMAC_SPECS[1].clone();
    let key = create_external(&kms, spec).await;
    let material = random_bytes(least);
    import_material(&kms, &key, &material).await;
    let before = try_generate_mac(&kms, &key, &algorithm, b"m")
        .await
        .unwrap();
    kms.delete_imported_key_material()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        try_generate_mac(&kms, &key, &algorithm, b"m").await,
        Err(pending_import(&arn(EAST, &key)))
    );
    assert_eq!(
        code(try_import_material(&kms, &key, &random_bytes(least)).await),
        "IncorrectKeyMaterialException"
    );
    import_material(&kms, &key, &material).await;
    assert_eq!(
        try_generate_mac(&kms, &key, &algorithm, b"m").await,
        Ok(before)
    );
}

/// A key that has its material takes that material again, which sets its
/// expiration anew (KEY_MATERIAL_EXPIRES with a ValidTo, then
/// KEY_MATERIAL_DOES_NOT_EXPIRE again), but other material is
/// IncorrectKeyMaterialException and changes nothing; so for HMAC keys.
#[tokio::test(flavor = "multi_thread")]
async fn an_enabled_key_takes_its_own_material_again_and_no_other() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = create_external(&kms, KeySpec::SymmetricDefault).await;
    let material = random_bytes(32);
    let id = import_material(&kms, &key, &material).await;
    let sealed = try_encrypt(&kms, &key, b"kept").await.unwrap();

    assert_eq!(
        code(try_import_material(&kms, &key, &random_bytes(32)).await),
        "IncorrectKeyMaterialException"
    );
    let meta = describe(&kms, &key).await;
    assert_eq!(meta.key_state, Some(KeyState::Enabled));
    assert_eq!(meta.current_key_material_id.as_ref(), Some(&id));
    assert_eq!(
        try_decrypt(&kms, &sealed).await,
        Ok((b"kept".to_vec(), id.clone()))
    );

    let valid_to = DateTime::from_secs(now_secs() + 30 * DAY);
    let params = parameters(&kms, &key, AlgorithmSpec::RsaAesKeyWrapSha256).await;
    let again = try_import_with(
        &kms,
        &key,
        &params,
        &material,
        Some(ExpirationModelType::KeyMaterialExpires),
        Some(valid_to),
    )
    .await
    .expect("the same material, now expiring");
    assert_eq!(again.key_material_id.as_ref(), Some(&id));
    let meta = describe(&kms, &key).await;
    assert_eq!(meta.key_state, Some(KeyState::Enabled));
    assert_eq!(
        meta.expiration_model,
        Some(ExpirationModelType::KeyMaterialExpires)
    );
    assert_eq!(meta.valid_to.map(|t| t.secs()), Some(valid_to.secs()));

    assert_eq!(import_material(&kms, &key, &material).await, id);
    let meta = describe(&kms, &key).await;
    assert_eq!(
        meta.expiration_model,
        Some(ExpirationModelType::KeyMaterialDoesNotExpire)
    );
    assert_eq!(meta.valid_to, None);

    let (spec, algorithm, least, _) = HMAC_SPECS[3].clone();
    let hmac = create_external(&kms, spec).await;
    let hmac_material = random_bytes(least);
    import_material(&kms, &hmac, &hmac_material).await;
    assert_eq!(
        code(try_import_material(&kms, &hmac, &random_bytes(least)).await),
        "IncorrectKeyMaterialException"
    );
    assert_eq!(
        try_generate_mac(&kms, &hmac, &algorithm, b"m").await,
        Ok(common::import::hmac_offline(
            &algorithm,
            &hmac_material,
            b"m"
        ))
    );
}

/// An import token is bound to the key it was asked for and works once: a
/// token of another key, a token already used (after the material was
/// deleted, so the key is pending import again) and bytes that are no token
/// are InvalidImportTokenException, and the key stays pending import.
#[tokio::test(flavor = "multi_thread")]
async fn an_import_token_works_once_and_only_for_its_key() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = create_external(&kms, KeySpec::SymmetricDefault).await;
    let other = create_external(&kms, KeySpec::SymmetricDefault).await;
    let material = random_bytes(32);
    let dnx = || Some(ExpirationModelType::KeyMaterialDoesNotExpire);
    let invalid = "InvalidImportTokenException";

    let theirs = parameters(&kms, &other, AlgorithmSpec::RsaesOaepSha256).await;
    let wrapped = wrap_for(&theirs, &material);
    assert_eq!(
        code(try_import(&kms, &key, &theirs.token, &wrapped, dnx(), None).await),
        invalid,
        "a token of another key"
    );
    let garbage = random_bytes(theirs.token.len().max(64));
    let ours = parameters(&kms, &key, AlgorithmSpec::RsaesOaepSha256).await;
    assert_eq!(
        code(
            try_import(
                &kms,
                &key,
                &garbage,
                &wrap_for(&ours, &material),
                dnx(),
                None
            )
            .await
        ),
        invalid,
        "random bytes as token"
    );
    assert_eq!(
        describe(&kms, &key).await.key_state,
        Some(KeyState::PendingImport)
    );

    try_import(
        &kms,
        &key,
        &ours.token,
        &wrap_for(&ours, &material),
        dnx(),
        None,
    )
    .await
    .expect("the key's own token");
    kms.delete_imported_key_material()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(
            try_import(
                &kms,
                &key,
                &ours.token,
                &wrap_for(&ours, &material),
                dnx(),
                None
            )
            .await
        ),
        invalid,
        "a token used once already"
    );
    assert_eq!(
        describe(&kms, &key).await.key_state,
        Some(KeyState::PendingImport)
    );
    // The other key's token was not used up by the refusal.
    try_import(&kms, &other, &theirs.token, &wrapped, dnx(), None)
        .await
        .expect("the other key's token, for the other key");
}

/// Keys with imported material do not rotate automatically:
/// EnableKeyRotation is UnsupportedOperationException for imported
/// symmetric and HMAC keys. RotateKeyOnDemand is UnsupportedOperationException
/// for the HMAC key, and KMSInvalidStateException for the symmetric key while
/// no new material waits for the rotation (tests/import_rotation.rs covers the
/// rotation itself).
#[tokio::test(flavor = "multi_thread")]
async fn keys_with_imported_material_refuse_rotation() {
    let server = Server::start();
    let kms = server.client(EAST);
    let symmetric = create_external(&kms, KeySpec::SymmetricDefault).await;
    import_material(&kms, &symmetric, &random_bytes(32)).await;
    let hmac = create_external(&kms, KeySpec::Hmac256).await;
    import_material(&kms, &hmac, &random_bytes(32)).await;
    for key in [&symmetric, &hmac] {
        assert_eq!(
            error_code(kms.enable_key_rotation().key_id(key).send().await),
            "UnsupportedOperationException"
        );
    }
    assert_eq!(
        error_code(kms.rotate_key_on_demand().key_id(&hmac).send().await),
        "UnsupportedOperationException"
    );
    assert_eq!(
        error_code(kms.rotate_key_on_demand().key_id(&symmetric).send().await),
        "KMSInvalidStateException"
    );
}
