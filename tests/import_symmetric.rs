//! Importing key material into symmetric encryption keys (issue #14):
//! CreateKey with Origin EXTERNAL, GetParametersForImport, ImportKeyMaterial
//! with each of AWS's four wrapping algorithms (material wrapped offline in
//! tests/common/import.rs), AWS's rules for ExpirationModel and ValidTo,
//! and the material ImportKeyMaterial refuses.
//!
//! Sources for AWS's behaviour: LocalStack's recording of AWS KMS
//! (`tests/aws/services/kms/test_kms.snapshot.json`: test_import_key_symmetric,
//! test_get_parameters_for_import) for the texts quoted here; the API
//! reference as aws-sdk-kms 1.77 carries it for the rest: ValidTo "is
//! required when the value of the ExpirationModel parameter is
//! KEY_MATERIAL_EXPIRES. Otherwise it is not valid", "must be a future date
//! and time. The maximum value is 365 days from the request date";
//! IncorrectKeyMaterialException when "the key material in the request is,
//! expired, invalid, or does not meet expectations"; InvalidCiphertextException
//! when "KMS could not decrypt the encrypted (wrapped) key material". RSA
//! and ECC keys take their private key (tests/import_rsa.rs,
//! tests/import_ecc.rs); here they only start pending import like the
//! others.

mod common;

use aws_sdk_kms::primitives::DateTime;
use aws_sdk_kms::types::{
    AlgorithmSpec, ExpirationModelType, KeySpec, KeyState, KeyUsageType, OriginType,
    WrappingKeySpec,
};
use common::asymmetric::{arn, signing_algorithms, spec_of_spki};
use common::import::{
    ALGORITHMS, HMAC_SPECS, code, create_external, create_external_metadata, describe,
    import_material, now_secs, parameters, parameters_with, pending_import, random_bytes,
    try_decrypt, try_encrypt, try_generate_mac, try_import, try_import_with, try_parameters, wrap,
    wrap_for,
};
use common::{EAST, Server, error_code, new_key};

const DAY: i64 = 86_400;

/// CreateKey with Origin EXTERNAL makes symmetric and HMAC keys without
/// material: EXTERNAL, PendingImport, disabled, with no expiration model;
/// Encrypt and GenerateMac on them are KMSInvalidStateException "<ARN> is
/// pending import."; so do RSA and ECC keys, whose Sign is refused the
/// same way (on a token that cannot keep a private key, CreateKey of one is
/// UnsupportedOperationException).
#[tokio::test(flavor = "multi_thread")]
async fn external_keys_start_pending_import_and_refuse_cryptography() {
    let server = Server::start();
    let kms = server.client(EAST);
    let specs = std::iter::once(KeySpec::SymmetricDefault).chain(HMAC_SPECS.map(|s| s.0));
    for spec in specs {
        let created = create_external_metadata(&kms, spec.clone(), false).await;
        let key = created.key_id.clone();
        for meta in [created, describe(&kms, &key).await] {
            assert_eq!(meta.origin, Some(OriginType::External), "{spec:?}");
            assert_eq!(meta.key_spec, Some(spec.clone()));
            assert_eq!(meta.key_state, Some(KeyState::PendingImport), "{spec:?}");
            assert!(!meta.enabled, "{spec:?}");
            assert_eq!(meta.expiration_model, None, "{spec:?}");
            assert_eq!(meta.valid_to, None, "{spec:?}");
            assert_eq!(meta.current_key_material_id, None, "{spec:?}");
        }
        let refused = pending_import(&arn(EAST, &key));
        match HMAC_SPECS.iter().find(|s| s.0 == spec) {
            None => {
                assert_eq!(try_encrypt(&kms, &key, b"too early").await, Err(refused));
                let data_key = kms
                    .generate_data_key()
                    .key_id(&key)
                    .number_of_bytes(32)
                    .send()
                    .await;
                assert_eq!(error_code(data_key), "KMSInvalidStateException");
            }
            Some((_, algorithm, _, _)) => assert_eq!(
                try_generate_mac(&kms, &key, algorithm, b"too early").await,
                Err(refused),
                "{spec:?}"
            ),
        }
    }
    for (spec, usage) in [
        (KeySpec::Rsa2048, KeyUsageType::SignVerify),
        (KeySpec::EccNistP256, KeyUsageType::SignVerify),
        (KeySpec::EccNistP384, KeyUsageType::KeyAgreement),
    ] {
        let external = kms
            .create_key()
            .origin(OriginType::External)
            .key_spec(spec.clone())
            .key_usage(usage.clone())
            .send()
            .await;
        if !common::key_pairs_served() {
            assert_eq!(
                error_code(external),
                "UnsupportedOperationException",
                "{spec:?}"
            );
            continue;
        }
        let meta = external.unwrap().key_metadata.unwrap();
        assert_eq!(meta.key_state, Some(KeyState::PendingImport), "{spec:?}");
        assert_eq!(meta.key_usage, Some(usage.clone()), "{spec:?}");
        if usage == KeyUsageType::SignVerify {
            let signed = kms
                .sign()
                .key_id(&meta.key_id)
                .message(aws_sdk_kms::primitives::Blob::new(b"too early".to_vec()))
                .signing_algorithm(signing_algorithms(&spec)[0].clone())
                .send()
                .await;
            assert_eq!(
                common::refusal(signed),
                pending_import(&arn(EAST, &meta.key_id)),
                "{spec:?}"
            );
        }
    }
}

/// GetParametersForImport answers the key's ARN, a token, an RSA public key
/// (DER SubjectPublicKeyInfo) of the wrapping key spec asked for, and a
/// ParametersValidTo 24 hours on; each call gives a new token.
#[tokio::test(flavor = "multi_thread")]
async fn get_parameters_for_import_returns_a_wrapping_key_and_a_token_for_a_day() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = create_external(&kms, KeySpec::SymmetricDefault).await;
    let hmac = create_external(&kms, KeySpec::Hmac256).await;
    // Every algorithm, every wrapping key spec (RSA_4096 once: it is slow to
    // generate), and an HMAC key.
    let cases = [
        (&key, AlgorithmSpec::RsaesOaepSha1, WrappingKeySpec::Rsa2048),
        (
            &key,
            AlgorithmSpec::RsaesOaepSha256,
            WrappingKeySpec::Rsa3072,
        ),
        (
            &key,
            AlgorithmSpec::RsaAesKeyWrapSha1,
            WrappingKeySpec::Rsa4096,
        ),
        (
            &key,
            AlgorithmSpec::RsaAesKeyWrapSha256,
            WrappingKeySpec::Rsa2048,
        ),
        (
            &hmac,
            AlgorithmSpec::RsaesOaepSha256,
            WrappingKeySpec::Rsa2048,
        ),
    ];
    let mut tokens = Vec::new();
    for (key, algorithm, spec) in cases {
        let before = now_secs();
        let got = parameters_with(&kms, key, algorithm.clone(), spec.clone()).await;
        assert_eq!(got.key_id, arn(EAST, key), "{algorithm:?} {spec:?}");
        assert!(!got.token.is_empty());
        assert_eq!(spec_of_spki(&got.public_key), spec.as_str());
        let valid_to = got.valid_to.secs();
        assert!(
            valid_to >= before + DAY - 120 && valid_to <= now_secs() + DAY + 120,
            "ParametersValidTo {valid_to} is not a day after {before}"
        );
        tokens.push(got.token);
    }
    let distinct: std::collections::BTreeSet<&Vec<u8>> = tokens.iter().collect();
    assert_eq!(distinct.len(), tokens.len(), "every call gives a new token");
}

/// A key whose origin is AWS_KMS has nothing to import: GetParametersForImport
/// is UnsupportedOperationException with AWS's message, as is
/// DeleteImportedKeyMaterial; an unknown key is NotFoundException.
#[tokio::test(flavor = "multi_thread")]
async fn keys_of_origin_aws_kms_refuse_import() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = new_key(&kms).await;
    assert_eq!(
        try_parameters(
            &kms,
            &key,
            AlgorithmSpec::RsaesOaepSha256,
            WrappingKeySpec::Rsa2048
        )
        .await
        .err(),
        Some((
            "UnsupportedOperationException".to_string(),
            Some(format!(
                "{} origin is AWS_KMS which is not valid for this operation.",
                arn(EAST, &key)
            ))
        ))
    );
    assert_eq!(
        error_code(kms.delete_imported_key_material().key_id(&key).send().await),
        "UnsupportedOperationException"
    );
    let unknown = "0b1e3c0e-6b0a-4c7e-9b7e-3c7b1e0a9d11";
    assert_eq!(
        code(
            try_parameters(
                &kms,
                unknown,
                AlgorithmSpec::RsaesOaepSha256,
                WrappingKeySpec::Rsa2048
            )
            .await
        ),
        "NotFoundException"
    );
}

/// With each wrapping algorithm, 32 bytes imported into a symmetric key
/// enable it: ImportKeyMaterial names the key's ARN and a KeyMaterialId,
/// DescribeKey shows Enabled, KEY_MATERIAL_DOES_NOT_EXPIRE, no ValidTo and
/// that material, and Encrypt and Decrypt round-trip under it.
#[tokio::test(flavor = "multi_thread")]
async fn every_wrapping_algorithm_imports_symmetric_material() {
    let server = Server::start();
    let kms = server.client(EAST);
    let mut materials = Vec::new();
    for algorithm in ALGORITHMS {
        let key = create_external(&kms, KeySpec::SymmetricDefault).await;
        let params = parameters(&kms, &key, algorithm.clone()).await;
        let out = try_import_with(
            &kms,
            &key,
            &params,
            &random_bytes(32),
            Some(ExpirationModelType::KeyMaterialDoesNotExpire),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("ImportKeyMaterial {algorithm:?}: {e:?}"));
        assert_eq!(out.key_id.as_deref(), Some(arn(EAST, &key).as_str()));
        let material = out.key_material_id.expect("KeyMaterialId");
        assert!(!material.is_empty());

        let meta = describe(&kms, &key).await;
        assert_eq!(meta.key_state, Some(KeyState::Enabled), "{algorithm:?}");
        assert!(meta.enabled);
        assert_eq!(meta.origin, Some(OriginType::External));
        assert_eq!(
            meta.expiration_model,
            Some(ExpirationModelType::KeyMaterialDoesNotExpire)
        );
        assert_eq!(meta.valid_to, None);
        assert_eq!(meta.current_key_material_id.as_ref(), Some(&material));

        let plaintext = format!("imported with {}", algorithm.as_str());
        let sealed = try_encrypt(&kms, &key, plaintext.as_bytes()).await.unwrap();
        assert_eq!(
            try_decrypt(&kms, &sealed).await,
            Ok((plaintext.into_bytes(), material.clone())),
            "{algorithm:?}"
        );
        materials.push(material);
    }
    let distinct: std::collections::BTreeSet<&String> = materials.iter().collect();
    assert_eq!(distinct.len(), materials.len(), "{materials:?}");
}

/// The four wrapping algorithms unwrap to the same bytes: material imported
/// with RSAES_OAEP_SHA_1, deleted and imported again with each other
/// algorithm is accepted as the same material (same KeyMaterialId, the
/// first ciphertext decrypts), and other material is not.
#[tokio::test(flavor = "multi_thread")]
async fn every_wrapping_algorithm_unwraps_the_same_bytes() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = create_external(&kms, KeySpec::SymmetricDefault).await;
    let material = random_bytes(32);
    let first = parameters(&kms, &key, AlgorithmSpec::RsaesOaepSha1).await;
    let id = try_import_with(
        &kms,
        &key,
        &first,
        &material,
        Some(ExpirationModelType::KeyMaterialDoesNotExpire),
        None,
    )
    .await
    .unwrap()
    .key_material_id
    .unwrap();
    let sealed = try_encrypt(&kms, &key, b"one key, four wrappings")
        .await
        .unwrap();
    for algorithm in &ALGORITHMS[1..] {
        kms.delete_imported_key_material()
            .key_id(&key)
            .send()
            .await
            .unwrap();
        let params = parameters(&kms, &key, algorithm.clone()).await;
        let again = try_import_with(
            &kms,
            &key,
            &params,
            &material,
            Some(ExpirationModelType::KeyMaterialDoesNotExpire),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("the same material with {algorithm:?}: {e:?}"));
        assert_eq!(again.key_material_id.as_ref(), Some(&id), "{algorithm:?}");
        assert_eq!(
            try_decrypt(&kms, &sealed).await,
            Ok((b"one key, four wrappings".to_vec(), id.clone())),
            "{algorithm:?}"
        );
    }
    kms.delete_imported_key_material()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    let params = parameters(&kms, &key, AlgorithmSpec::RsaAesKeyWrapSha256).await;
    let other = try_import_with(
        &kms,
        &key,
        &params,
        &random_bytes(32),
        Some(ExpirationModelType::KeyMaterialDoesNotExpire),
        None,
    )
    .await;
    assert_eq!(code(other), "IncorrectKeyMaterialException");
}

/// ExpirationModel and ValidTo as AWS checks them: without either, or with
/// KEY_MATERIAL_EXPIRES alone, ValidationException "A validTo date must be
/// set if the ExpirationModel is KEY_MATERIAL_EXPIRES"; ValidTo with
/// KEY_MATERIAL_DOES_NOT_EXPIRE, in the past, or more than 365 days on is
/// ValidationException; ValidTo alone means KEY_MATERIAL_EXPIRES, which
/// DescribeKey then shows with that ValidTo.
#[tokio::test(flavor = "multi_thread")]
async fn expiration_model_and_valid_to_follow_awss_rules() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = create_external(&kms, KeySpec::SymmetricDefault).await;
    let material = random_bytes(32);
    let in_days = |days: i64| DateTime::from_secs(now_secs() + days * DAY);
    let needs_valid_to = (
        "ValidationException".to_string(),
        Some("A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES".into()),
    );
    // A fresh token for every attempt, so that none depends on what a
    // refused attempt did to its token.
    let attempt = |model: Option<ExpirationModelType>, valid_to: Option<DateTime>| {
        let (kms, key, material) = (&kms, &key, &material);
        async move {
            let params = parameters(kms, key, AlgorithmSpec::RsaesOaepSha256).await;
            try_import_with(kms, key, &params, material, model, valid_to).await
        }
    };
    assert_eq!(
        attempt(None, None).await.err(),
        Some(needs_valid_to.clone())
    );
    assert_eq!(
        attempt(Some(ExpirationModelType::KeyMaterialExpires), None)
            .await
            .err(),
        Some(needs_valid_to)
    );
    let refused = [
        (
            Some(ExpirationModelType::KeyMaterialDoesNotExpire),
            in_days(30),
            "ValidTo with KEY_MATERIAL_DOES_NOT_EXPIRE",
        ),
        (
            Some(ExpirationModelType::KeyMaterialExpires),
            DateTime::from_secs(now_secs() - 60),
            "ValidTo in the past",
        ),
        (
            Some(ExpirationModelType::KeyMaterialExpires),
            in_days(366),
            "ValidTo more than 365 days on",
        ),
    ];
    for (model, valid_to, what) in refused {
        assert_eq!(
            code(attempt(model, Some(valid_to)).await),
            "ValidationException",
            "{what}"
        );
    }
    assert_eq!(
        describe(&kms, &key).await.key_state,
        Some(KeyState::PendingImport)
    );

    let valid_to = in_days(30);
    attempt(None, Some(valid_to))
        .await
        .expect("ValidTo without ExpirationModel");
    let meta = describe(&kms, &key).await;
    assert_eq!(meta.key_state, Some(KeyState::Enabled));
    assert_eq!(
        meta.expiration_model,
        Some(ExpirationModelType::KeyMaterialExpires)
    );
    assert_eq!(meta.valid_to.map(|t| t.secs()), Some(valid_to.secs()));
}

/// Symmetric material must be 32 bytes and HMAC material as long as AWS
/// allows for the spec (HMAC_224 28-64 bytes, HMAC_256 32-64, HMAC_384
/// 48-128, HMAC_512 64-128): other lengths are IncorrectKeyMaterialException
/// and leave the key pending import, ready for material of the right length.
#[tokio::test(flavor = "multi_thread")]
async fn material_of_a_length_aws_does_not_take_is_refused() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = create_external(&kms, KeySpec::SymmetricDefault).await;
    let mut cases: Vec<(String, usize)> = [16, 31, 33, 64].map(|n| (key.clone(), n)).to_vec();
    for (spec, _, least, most) in HMAC_SPECS {
        let hmac = create_external(&kms, spec).await;
        cases.push((hmac.clone(), least - 1));
        cases.push((hmac, most + 1));
    }
    for (key, length) in &cases {
        let refused = common::import::try_import_material(&kms, key, &random_bytes(*length)).await;
        assert_eq!(
            code(refused),
            "IncorrectKeyMaterialException",
            "{length} bytes into {:?}",
            describe(&kms, key).await.key_spec
        );
        assert_eq!(
            describe(&kms, key).await.key_state,
            Some(KeyState::PendingImport)
        );
    }
    import_material(&kms, &key, &random_bytes(32)).await;
    assert_eq!(
        describe(&kms, &key).await.key_state,
        Some(KeyState::Enabled)
    );
}

/// Material the wrapping key cannot unwrap is InvalidCiphertextException:
/// wrapped under another key's wrapping key, random bytes, wrapped with
/// another algorithm than the token's, and an RSA_AES_KEY_WRAP_SHA_256
/// wrapping whose AES part is altered or missing; the key stays pending
/// import and takes correctly wrapped material afterwards.
#[tokio::test(flavor = "multi_thread")]
async fn material_that_does_not_unwrap_is_invalid_ciphertext() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = create_external(&kms, KeySpec::SymmetricDefault).await;
    let other = create_external(&kms, KeySpec::SymmetricDefault).await;
    let material = random_bytes(32);
    let fresh = |algorithm: AlgorithmSpec| parameters(&kms, &key, algorithm);
    let dnx = || Some(ExpirationModelType::KeyMaterialDoesNotExpire);

    let params = fresh(AlgorithmSpec::RsaesOaepSha256).await;
    let theirs = parameters(&kms, &other, AlgorithmSpec::RsaesOaepSha256).await;
    let under_other_key = wrap_for(&theirs, &material);
    let mut cases = vec![(params.token, under_other_key, "another key's wrapping key")];

    let params = fresh(AlgorithmSpec::RsaesOaepSha256).await;
    cases.push((params.token, random_bytes(256), "random bytes"));

    let params = fresh(AlgorithmSpec::RsaesOaepSha256).await;
    let sha1 = wrap(&params.public_key, &AlgorithmSpec::RsaesOaepSha1, &material);
    cases.push((
        params.token,
        sha1,
        "RSAES_OAEP_SHA_1 for an RSAES_OAEP_SHA_256 token",
    ));

    let params = fresh(AlgorithmSpec::RsaAesKeyWrapSha256).await;
    let mut altered = wrap_for(&params, &material);
    *altered.last_mut().unwrap() ^= 1;
    cases.push((params.token, altered, "an altered AES key wrap"));

    let params = fresh(AlgorithmSpec::RsaAesKeyWrapSha256).await;
    let mut rsa_only = wrap_for(&params, &material);
    rsa_only.truncate(256);
    cases.push((params.token, rsa_only, "no AES key wrap"));

    for (token, wrapped, what) in cases {
        let refused = try_import(&kms, &key, &token, &wrapped, dnx(), None).await;
        assert_eq!(code(refused), "InvalidCiphertextException", "{what}");
    }
    assert_eq!(
        describe(&kms, &key).await.key_state,
        Some(KeyState::PendingImport)
    );
    import_material(&kms, &key, &material).await;
    assert_eq!(
        describe(&kms, &key).await.key_state,
        Some(KeyState::Enabled)
    );
}

/// The test's own wrapping (tests/common/import.rs) is AWS's format: with a
/// key pair made here, RSAES_OAEP_* is the material under OAEP of the named
/// hash, and RSA_AES_KEY_WRAP_* is an OAEP-wrapped AES-256 key of the
/// modulus' length followed by the RFC 5649 wrap of the material under it.
#[test]
fn the_offline_wrapping_is_awss_format() {
    use rsa::pkcs8::EncodePublicKey;
    use rsa::rand_core::OsRng;
    use rsa::{Oaep, RsaPrivateKey};
    let private = RsaPrivateKey::new(&mut OsRng, 2048).unwrap();
    let spki = private.to_public_key().to_public_key_der().unwrap();
    let material = random_bytes(48);
    let sha1 = || Oaep::new::<sha1::Sha1>();
    let sha256 = || Oaep::new::<sha2::Sha256>();
    for algorithm in ALGORITHMS {
        let wrapped = wrap(spki.as_bytes(), &algorithm, &material);
        let unwrapped = match algorithm {
            AlgorithmSpec::RsaesOaepSha1 => private.decrypt(sha1(), &wrapped).unwrap(),
            AlgorithmSpec::RsaesOaepSha256 => private.decrypt(sha256(), &wrapped).unwrap(),
            _ => {
                assert_eq!(wrapped.len(), 256 + material.len() + 8, "{algorithm:?}");
                let (rsa_part, kw_part) = wrapped.split_at(256);
                let padding = if algorithm == AlgorithmSpec::RsaAesKeyWrapSha1 {
                    sha1()
                } else {
                    sha256()
                };
                let ephemeral: [u8; 32] = private
                    .decrypt(padding, rsa_part)
                    .unwrap()
                    .try_into()
                    .expect("an AES-256 key");
                aes_kw::KekAes256::from(ephemeral)
                    .unwrap_with_padding_vec(kw_part)
                    .unwrap()
            }
        };
        assert_eq!(unwrapped, material, "{algorithm:?}");
    }
}
