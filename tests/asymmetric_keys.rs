//! Asymmetric KMS keys (RSA and ECC) through `aws-sdk-kms`: CreateKey's
//! specs and usages as AWS validates them, DescribeKey's and GetPublicKey's
//! algorithm lists in AWS's order, public keys that the RustCrypto crates
//! parse, no rotation, a restart, and a multi-Region signing key. Where the
//! lists and AWS's answers come from: tests/common/asymmetric.rs.

mod common;

use aws_sdk_kms::types::{
    EncryptionAlgorithmSpec, KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec,
};
use common::asymmetric::{
    arn, create, create_metadata, key_agreement_algorithms, public_key, rsa_encryption_algorithms,
    sign, signing_algorithms, spec_of_spki, verify, verify_offline,
};
use common::{EAST, Server, WEST, error_code, new_key, refusal};
use rsa::pkcs8::DecodePublicKey;

/// Every spec and usage pair AWS allows for RSA and ECC keys, but RSA_4096
/// ENCRYPT_DECRYPT (tests/asymmetric_encrypt.rs makes one): each RSA_4096
/// key costs seconds of SoftHSM's time.
fn valid_pairs() -> Vec<(KeySpec, KeyUsageType)> {
    use KeySpec as S;
    use KeyUsageType as U;
    vec![
        (S::Rsa2048, U::SignVerify),
        (S::Rsa2048, U::EncryptDecrypt),
        (S::Rsa3072, U::SignVerify),
        (S::Rsa3072, U::EncryptDecrypt),
        (S::Rsa4096, U::SignVerify),
        (S::EccNistP256, U::SignVerify),
        (S::EccNistP256, U::KeyAgreement),
        (S::EccNistP384, U::SignVerify),
        (S::EccNistP384, U::KeyAgreement),
        (S::EccNistP521, U::SignVerify),
        (S::EccNistP521, U::KeyAgreement),
        (S::EccSecgP256K1, U::SignVerify),
    ]
}

/// The algorithm lists a key of `spec` and `usage` reports, as (signing,
/// encryption, key agreement) names.
fn expected_lists(spec: &KeySpec, usage: &KeyUsageType) -> [Vec<String>; 3] {
    match usage {
        KeyUsageType::SignVerify => [as_names(&signing_algorithms(spec)), vec![], vec![]],
        KeyUsageType::EncryptDecrypt => [vec![], as_names(&rsa_encryption_algorithms()), vec![]],
        KeyUsageType::KeyAgreement => [vec![], vec![], as_names(&key_agreement_algorithms())],
        other => panic!("{other:?}"),
    }
}

fn as_names<T: AsRef<str>>(list: &[T]) -> Vec<String> {
    list.iter().map(|a| a.as_ref().to_string()).collect()
}

/// CreateKey makes every RSA and ECC spec with each usage AWS allows;
/// CreateKey's and DescribeKey's metadata and GetPublicKey list exactly
/// AWS's algorithms in AWS's order (and no list that does not apply), and
/// the public key is a DER SPKI of the key's size or curve.
#[tokio::test(flavor = "multi_thread")]
async fn each_spec_and_usage_reports_awss_algorithms_and_its_public_key() {
    let server = Server::start();
    let kms = server.client(EAST);
    for (spec, usage) in valid_pairs() {
        let [signing, encryption, agreement] = expected_lists(&spec, &usage);
        let created = create_metadata(&kms, spec.clone(), usage.clone()).await;
        let key = created.key_id.clone();
        let described = kms
            .describe_key()
            .key_id(&key)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        for (what, meta) in [("CreateKey", &created), ("DescribeKey", &described)] {
            let context = format!("{what} of {spec:?} {usage:?}");
            assert_eq!(meta.key_spec.as_ref(), Some(&spec), "{context}");
            assert_eq!(meta.key_usage.as_ref(), Some(&usage), "{context}");
            assert_eq!(as_names(meta.signing_algorithms()), signing, "{context}");
            assert_eq!(
                as_names(meta.encryption_algorithms()),
                encryption,
                "{context}"
            );
            assert_eq!(
                as_names(meta.key_agreement_algorithms()),
                agreement,
                "{context}"
            );
            assert!(meta.mac_algorithms().is_empty(), "{context}: {meta:?}");
            // AWS names a current key material only for symmetric
            // encryption keys (KeyMetadata.CurrentKeyMaterialId).
            assert_eq!(meta.current_key_material_id(), None, "{context}");
            assert!(meta.enabled, "{context}");
        }

        let out = kms.get_public_key().key_id(&key).send().await.unwrap();
        let context = format!("GetPublicKey of {spec:?} {usage:?}");
        assert_eq!(out.key_id(), Some(arn(EAST, &key).as_str()), "{context}");
        assert_eq!(out.key_spec(), Some(&spec), "{context}");
        assert_eq!(out.key_usage(), Some(&usage), "{context}");
        assert_eq!(as_names(out.signing_algorithms()), signing, "{context}");
        assert_eq!(
            as_names(out.encryption_algorithms()),
            encryption,
            "{context}"
        );
        assert_eq!(
            as_names(out.key_agreement_algorithms()),
            agreement,
            "{context}"
        );
        let spki = out.public_key.unwrap().into_inner();
        assert_eq!(spec_of_spki(&spki), spec.as_str(), "{context}");
        if spec.as_str().starts_with("RSA_") {
            let key = rsa::RsaPublicKey::from_public_key_der(&spki).unwrap();
            assert_eq!(
                rsa::traits::PublicKeyParts::e(&key),
                &rsa::BigUint::from(65_537u32),
                "{context}: the public exponent"
            );
        }
    }
}

/// Spec and usage pairs AWS does not allow, and a missing KeyUsage, are
/// ValidationException with AWS's message, and make no key.
#[tokio::test(flavor = "multi_thread")]
async fn invalid_spec_and_usage_pairs_are_refused_as_aws_refuses_them() {
    use KeySpec as S;
    use KeyUsageType as U;
    let server = Server::start();
    let kms = server.client(EAST);
    for (spec, usage) in [
        (S::EccSecgP256K1, U::EncryptDecrypt),
        (S::EccSecgP256K1, U::KeyAgreement),
        (S::Rsa2048, U::KeyAgreement),
        (S::Rsa2048, U::GenerateVerifyMac),
        (S::Rsa4096, U::KeyAgreement),
        (S::EccNistP256, U::EncryptDecrypt),
        (S::EccNistP384, U::GenerateVerifyMac),
        (S::EccNistP521, U::EncryptDecrypt),
    ] {
        let result = kms
            .create_key()
            .key_spec(spec.clone())
            .key_usage(usage.clone())
            .send()
            .await;
        assert_eq!(
            refusal(result),
            (
                "ValidationException".to_string(),
                Some(format!(
                    "KeyUsage {} is not compatible with KeySpec {}",
                    usage.as_str(),
                    spec.as_str()
                ))
            ),
            "{spec:?} {usage:?}"
        );
    }
    for spec in [S::Rsa2048, S::EccNistP256, S::EccSecgP256K1] {
        let result = kms.create_key().key_spec(spec.clone()).send().await;
        assert_eq!(
            refusal(result),
            (
                "ValidationException".to_string(),
                Some(
                    "You must specify a KeyUsage value for all KMS keys except for symmetric \
                     encryption keys."
                        .to_string()
                )
            ),
            "{spec:?} without KeyUsage"
        );
    }
    let keys = kms.list_keys().send().await.unwrap();
    assert!(keys.keys().is_empty(), "no key was made: {keys:?}");
}

/// SM2 and ML-DSA need mechanisms this deployment's token lacks:
/// UnsupportedOperationException naming the mechanism (the token's label,
/// the operator's, goes to the log only), and no key.
#[tokio::test(flavor = "multi_thread")]
async fn sm2_and_ml_dsa_are_unsupported_here() {
    let server = Server::start();
    let kms = server.client(EAST);
    for spec in [KeySpec::Sm2, KeySpec::MlDsa44] {
        let result = kms
            .create_key()
            .key_spec(spec.clone())
            .key_usage(KeyUsageType::SignVerify)
            .send()
            .await;
        let (code, message) = refusal(result);
        assert_eq!(code, "UnsupportedOperationException", "{spec:?}");
        let message = message.unwrap_or_default();
        assert!(message.contains("lacks"), "{spec:?}: {message}");
        assert!(!message.contains(&format!("trent-{EAST}")), "{message}");
    }
    assert!(kms.list_keys().send().await.unwrap().keys().is_empty());
}

/// GetPublicKey of a symmetric key is UnsupportedOperationException, and
/// of a disabled asymmetric key DisabledException.
#[tokio::test(flavor = "multi_thread")]
async fn get_public_key_needs_an_enabled_asymmetric_key() {
    let server = Server::start();
    let kms = server.client(EAST);
    let symmetric = new_key(&kms).await;
    assert_eq!(
        error_code(kms.get_public_key().key_id(&symmetric).send().await),
        "UnsupportedOperationException"
    );
    let key = create(&kms, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    kms.disable_key().key_id(&key).send().await.unwrap();
    assert_eq!(
        refusal(kms.get_public_key().key_id(&key).send().await),
        (
            "DisabledException".to_string(),
            Some(format!("{} is disabled.", arn(EAST, &key)))
        )
    );
    kms.enable_key().key_id(&key).send().await.unwrap();
    assert_eq!(spec_of_spki(&public_key(&kms, &key).await), "ECC_NIST_P256");
}

/// Neither automatic nor on-demand rotation applies to RSA or ECC keys:
/// UnsupportedOperationException, as AWS documents. The key's state is
/// refused first, as AWS refuses RotateKeyOnDemand of a disabled RSA_4096
/// key (an answer it recorded: DisabledException, "<key ARN> is
/// disabled."): a disabled key is DisabledException, one pending deletion
/// KMSInvalidStateException.
#[tokio::test(flavor = "multi_thread")]
async fn asymmetric_keys_do_not_rotate() {
    let server = Server::start();
    let kms = server.client(EAST);
    for (spec, usage) in [
        (KeySpec::Rsa2048, KeyUsageType::SignVerify),
        (KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt),
        (KeySpec::EccNistP256, KeyUsageType::SignVerify),
        (KeySpec::EccNistP384, KeyUsageType::KeyAgreement),
    ] {
        let key = create(&kms, spec.clone(), usage.clone()).await;
        assert_eq!(
            error_code(kms.enable_key_rotation().key_id(&key).send().await),
            "UnsupportedOperationException",
            "EnableKeyRotation of {spec:?} {usage:?}"
        );
        assert_eq!(
            error_code(kms.rotate_key_on_demand().key_id(&key).send().await),
            "UnsupportedOperationException",
            "RotateKeyOnDemand of {spec:?} {usage:?}"
        );
        kms.disable_key().key_id(&key).send().await.unwrap();
        let disabled = format!("{} is disabled.", arn(EAST, &key));
        assert_eq!(
            refusal(kms.rotate_key_on_demand().key_id(&key).send().await),
            ("DisabledException".to_string(), Some(disabled.clone())),
            "RotateKeyOnDemand of a disabled {spec:?} {usage:?}"
        );
        assert_eq!(
            refusal(kms.enable_key_rotation().key_id(&key).send().await),
            ("DisabledException".to_string(), Some(disabled)),
            "EnableKeyRotation of a disabled {spec:?} {usage:?}"
        );
        kms.schedule_key_deletion()
            .key_id(&key)
            .pending_window_in_days(7)
            .send()
            .await
            .unwrap();
        assert_eq!(
            error_code(kms.rotate_key_on_demand().key_id(&key).send().await),
            "KMSInvalidStateException",
            "RotateKeyOnDemand of {spec:?} {usage:?} pending deletion"
        );
    }
}

/// After a restart a key signs with the same private key (the signature
/// verifies with the public key fetched before) and an RSA key decrypts
/// what was encrypted offline before.
#[tokio::test(flavor = "multi_thread")]
async fn asymmetric_keys_survive_a_restart() {
    let server = Server::start();
    let kms = server.client(EAST);
    let signer = create(&kms, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let decrypter = create(&kms, KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt).await;
    let signer_spki = public_key(&kms, &signer).await;
    let decrypter_spki = public_key(&kms, &decrypter).await;
    let sealed = rsa::RsaPublicKey::from_public_key_der(&decrypter_spki)
        .unwrap()
        .encrypt(
            &mut rsa::rand_core::OsRng,
            rsa::Oaep::new::<sha2::Sha256>(),
            b"kept across restarts",
        )
        .unwrap();

    let server = Server::restart(server.stop());
    let kms = server.client(EAST);
    assert_eq!(public_key(&kms, &signer).await, signer_spki);
    assert_eq!(public_key(&kms, &decrypter).await, decrypter_spki);
    let algorithm = SigningAlgorithmSpec::EcdsaSha256;
    let signature = sign(&kms, &signer, &algorithm, MessageType::Raw, b"after").await;
    verify_offline(
        &signer_spki,
        &algorithm,
        &MessageType::Raw,
        b"after",
        &signature,
    )
    .expect("a signature made after the restart verifies with the key fetched before");
    let opened = kms
        .decrypt()
        .key_id(&decrypter)
        .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
        .ciphertext_blob(aws_sdk_kms::primitives::Blob::new(sealed))
        .send()
        .await
        .expect("Decrypt after the restart");
    assert_eq!(
        opened.plaintext.unwrap().into_inner(),
        b"kept across restarts"
    );
}

/// An ECC_NIST_P256 SIGN_VERIFY multi-Region key replicated to another
/// region: both copies have the same public key and spec, the replica's
/// signature verifies offline with the primary's public key and through
/// Verify on the primary, and the primary's through Verify on the replica.
#[tokio::test(flavor = "multi_thread")]
async fn a_multi_region_signing_key_signs_alike_in_both_regions() {
    let server = Server::start();
    let east = server.client(EAST);
    let west = server.client(WEST);
    let key = east
        .create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .multi_region(true)
        .send()
        .await
        .expect("CreateKey of a multi-Region ECC key")
        .key_metadata
        .unwrap()
        .key_id;
    assert!(key.starts_with("mrk-"), "{key}");
    let replica = east
        .replicate_key()
        .key_id(&key)
        .replica_region(WEST)
        .send()
        .await
        .expect("ReplicateKey of an ECC key")
        .replica_key_metadata
        .unwrap();
    assert_eq!(replica.key_spec, Some(KeySpec::EccNistP256));
    assert_eq!(replica.key_usage, Some(KeyUsageType::SignVerify));
    assert_eq!(
        replica.signing_algorithms(),
        [SigningAlgorithmSpec::EcdsaSha256]
    );

    let primary_spki = public_key(&east, &key).await;
    assert_eq!(public_key(&west, &key).await, primary_spki);
    let algorithm = SigningAlgorithmSpec::EcdsaSha256;
    let made_west = sign(&west, &key, &algorithm, MessageType::Raw, b"from the west").await;
    verify_offline(
        &primary_spki,
        &algorithm,
        &MessageType::Raw,
        b"from the west",
        &made_west,
    )
    .expect("the replica's signature verifies with the primary's public key");
    assert_eq!(
        verify(
            &east,
            &key,
            &algorithm,
            MessageType::Raw,
            b"from the west",
            &made_west
        )
        .await,
        Ok(true)
    );
    let made_east = sign(&east, &key, &algorithm, MessageType::Raw, b"from the east").await;
    assert_eq!(
        verify(
            &west,
            &key,
            &algorithm,
            MessageType::Raw,
            b"from the east",
            &made_east
        )
        .await,
        Ok(true)
    );
}
