//! Importing ECC private keys (PKCS#8, wrapped with RSA_AES_KEY_WRAP_* or
//! RSAES_OAEP_*; issue #14): a key pair made offline with RustCrypto's curve crates is
//! imported, GetPublicKey gives its public key, Sign in Trent verifies
//! offline (and Verify in Trent agrees), DeriveSharedSecret is the ECDH the
//! peer computes offline; a private key on another curve, of another type
//! or not the key's after a deletion is IncorrectKeyMaterialException, and
//! a replica takes the same key only.
//!
//! AWS (developer guide, "Step 3: Encrypt the key material"): "For
//! asymmetric key pairs, encrypt and import only the private key. AWS KMS
//! derives the public key from the private key." Trent finds it in the
//! token (docs/adr/0014-imported-key-material.md, "ECC private keys").
//! AWS takes an ECC private key with RSA-OAEP alone too (GetParametersForImport,
//! WrappingAlgorithm: "RSAES_OAEP_SHA_256 — Supported for all types of key
//! material, except RSA key material"), and so does Trent.
//!
//! Key pairs are not served on Kryoptic (cryptoki 0.12 cannot name its
//! RFC 5649 mechanism): there CreateKey refuses an EXTERNAL ECC key as
//! unsupported, and the rest is skipped.

mod common;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    AlgorithmSpec, ExpirationModelType, KeyAgreementAlgorithmSpec, KeySpec, KeyState, KeyUsageType,
    MessageType, OriginType, WrappingKeySpec,
};
use common::asymmetric::{public_key, sign, signing_algorithms, verify, verify_offline};
use common::import::{
    Refusal, code, create_external_as, describe, parameters, parameters_with, try_import,
    try_import_with, wrap,
};
use common::{EAST, Server, WEST, error_code};
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey};
use rsa::rand_core::OsRng;

/// A key pair made offline: its private key (PKCS#8 DER) and public key
/// (DER SubjectPublicKeyInfo).
struct Offline {
    pkcs8: Vec<u8>,
    spki: Vec<u8>,
}

/// A fresh key pair of `spec`, made offline.
fn offline(spec: &KeySpec) -> Offline {
    macro_rules! on_curve {
        ($curve:ident) => {{
            let secret = $curve::SecretKey::random(&mut OsRng);
            Offline {
                pkcs8: secret.to_pkcs8_der().unwrap().as_bytes().to_vec(),
                spki: secret.public_key().to_public_key_der().unwrap().to_vec(),
            }
        }};
    }
    match spec {
        KeySpec::EccNistP256 => on_curve!(p256),
        KeySpec::EccNistP384 => on_curve!(p384),
        KeySpec::EccNistP521 => on_curve!(p521),
        KeySpec::EccSecgP256K1 => on_curve!(k256),
        other => panic!("no offline key pair for {other:?}"),
    }
}

/// Fresh parameters for `algorithm` (RSA_2048), then ImportKeyMaterial of
/// `pkcs8` into `key`, material that does not expire.
async fn import(
    kms: &aws_sdk_kms::Client,
    key: &str,
    algorithm: AlgorithmSpec,
    pkcs8: &[u8],
) -> Result<String, Refusal> {
    import_under(kms, key, algorithm, WrappingKeySpec::Rsa2048, pkcs8).await
}

/// As [`import`], with a wrapping key of `spec`.
async fn import_under(
    kms: &aws_sdk_kms::Client,
    key: &str,
    algorithm: AlgorithmSpec,
    spec: WrappingKeySpec,
    pkcs8: &[u8],
) -> Result<String, Refusal> {
    let p = parameters_with(kms, key, algorithm, spec).await;
    try_import_with(
        kms,
        key,
        &p,
        pkcs8,
        Some(ExpirationModelType::KeyMaterialDoesNotExpire),
        None,
    )
    .await
    .map(|out| out.key_material_id.expect("KeyMaterialId"))
}

/// P-256, P-384, P-521 and secp256k1 signing keys made offline, imported
/// with RSA_AES_KEY_WRAP_SHA_256 or _SHA_1, and with RSAES_OAEP_SHA_1 or
/// _SHA_256 as AWS's recorded answers have them (P-521 under an RSA_4096
/// wrapping key, as RSA_2048 cannot carry it): the key is enabled,
/// GetPublicKey is the offline SubjectPublicKeyInfo, and every signing
/// algorithm of the key signs a message (RAW) and a digest (DIGEST) in
/// Trent so that the offline public key verifies it, as Verify in Trent
/// does.
#[tokio::test(flavor = "multi_thread")]
async fn imported_ecc_keys_sign_as_the_offline_keys() {
    let server = Server::start();
    let kms = server.client(EAST);
    if !common::key_pairs_served() {
        let refused = kms
            .create_key()
            .origin(OriginType::External)
            .key_spec(KeySpec::EccNistP256)
            .key_usage(KeyUsageType::SignVerify)
            .send()
            .await;
        assert_eq!(error_code(refused), "UnsupportedOperationException");
        return;
    }
    let (rsa_2048, rsa_4096) = (WrappingKeySpec::Rsa2048, WrappingKeySpec::Rsa4096);
    let specs = [
        (
            KeySpec::EccNistP256,
            AlgorithmSpec::RsaAesKeyWrapSha256,
            &rsa_2048,
        ),
        (
            KeySpec::EccNistP384,
            AlgorithmSpec::RsaAesKeyWrapSha1,
            &rsa_2048,
        ),
        (
            KeySpec::EccNistP521,
            AlgorithmSpec::RsaAesKeyWrapSha256,
            &rsa_2048,
        ),
        (
            KeySpec::EccSecgP256K1,
            AlgorithmSpec::RsaAesKeyWrapSha1,
            &rsa_2048,
        ),
        (
            KeySpec::EccNistP256,
            AlgorithmSpec::RsaesOaepSha1,
            &rsa_2048,
        ),
        (
            KeySpec::EccNistP256,
            AlgorithmSpec::RsaesOaepSha256,
            &rsa_2048,
        ),
        (
            KeySpec::EccNistP384,
            AlgorithmSpec::RsaesOaepSha1,
            &rsa_2048,
        ),
        (
            KeySpec::EccNistP521,
            AlgorithmSpec::RsaesOaepSha256,
            &rsa_4096,
        ),
        (
            KeySpec::EccSecgP256K1,
            AlgorithmSpec::RsaesOaepSha1,
            &rsa_2048,
        ),
    ];
    for (spec, algorithm, wrapping_key) in specs {
        let local = offline(&spec);
        let key = create_external_as(&kms, spec.clone(), KeyUsageType::SignVerify, false)
            .await
            .key_id;
        import_under(
            &kms,
            &key,
            algorithm.clone(),
            wrapping_key.clone(),
            &local.pkcs8,
        )
        .await
        .unwrap_or_else(|e| panic!("import of a {spec:?} key with {algorithm:?}: {e:?}"));
        let meta = describe(&kms, &key).await;
        assert_eq!(meta.key_state, Some(KeyState::Enabled), "{spec:?}");
        assert_eq!(meta.origin, Some(OriginType::External), "{spec:?}");
        assert_eq!(public_key(&kms, &key).await, local.spki, "{spec:?}");
        for signing in signing_algorithms(&spec) {
            let digest = common::asymmetric::digest(&signing, b"imported");
            for (message_type, message) in [
                (MessageType::Raw, &b"imported"[..]),
                (MessageType::Digest, &digest[..]),
            ] {
                let signature = sign(&kms, &key, &signing, message_type.clone(), message).await;
                verify_offline(&local.spki, &signing, &message_type, message, &signature)
                    .unwrap_or_else(|e| panic!("{spec:?} {signing:?} {message_type:?}: {e}"));
                assert_eq!(
                    verify(&kms, &key, &signing, message_type, message, &signature).await,
                    Ok(true),
                    "{spec:?} {signing:?}"
                );
            }
        }
    }
}

/// A P-256 KEY_AGREEMENT key made offline and imported: GetPublicKey is
/// its public key, and DeriveSharedSecret with a peer's public key is the
/// ECDH secret that both the offline key and the peer compute.
#[tokio::test(flavor = "multi_thread")]
async fn an_imported_key_agreement_key_derives_the_offline_secret() {
    if !common::key_pairs_served() {
        return;
    }
    let server = Server::start();
    let kms = server.client(EAST);
    let secret = p256::SecretKey::random(&mut OsRng);
    let pkcs8 = secret.to_pkcs8_der().unwrap().as_bytes().to_vec();
    let key = create_external_as(
        &kms,
        KeySpec::EccNistP256,
        KeyUsageType::KeyAgreement,
        false,
    )
    .await
    .key_id;
    import(&kms, &key, AlgorithmSpec::RsaAesKeyWrapSha256, &pkcs8)
        .await
        .expect("import");
    assert_eq!(
        public_key(&kms, &key).await,
        secret.public_key().to_public_key_der().unwrap().to_vec()
    );
    let peer = p256::SecretKey::random(&mut OsRng);
    let shared = kms
        .derive_shared_secret()
        .key_id(&key)
        .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
        .public_key(Blob::new(
            peer.public_key().to_public_key_der().unwrap().to_vec(),
        ))
        .send()
        .await
        .expect("DeriveSharedSecret")
        .shared_secret
        .expect("SharedSecret")
        .into_inner();
    let ours =
        p256::ecdh::diffie_hellman(secret.to_nonzero_scalar(), peer.public_key().as_affine());
    let theirs =
        p256::ecdh::diffie_hellman(peer.to_nonzero_scalar(), secret.public_key().as_affine());
    assert_eq!(shared, ours.raw_secret_bytes().to_vec());
    assert_eq!(shared, theirs.raw_secret_bytes().to_vec());
}

/// What a P-256 key refuses: a private key on P-384 or secp256k1, with
/// RSA_AES_KEY_WRAP or RSA-OAEP alone, an RSA private key, and bytes that
/// are no private key (IncorrectKeyMaterialException, saying why), and a
/// private key under another AES key than the one RSA-OAEP carries
/// (InvalidCiphertextException); then, after DeleteImportedKeyMaterial,
/// another P-256 key is IncorrectKeyMaterialException and the same key
/// comes back with the same KeyMaterialId and public key.
#[tokio::test(flavor = "multi_thread")]
async fn an_imported_ecc_key_takes_only_its_own_private_key() {
    if !common::key_pairs_served() {
        return;
    }
    let server = Server::start();
    let kms = server.client(EAST);
    let local = offline(&KeySpec::EccNistP256);
    let key = create_external_as(&kms, KeySpec::EccNistP256, KeyUsageType::SignVerify, false)
        .await
        .key_id;

    for (other, curve, algorithm) in [
        (
            KeySpec::EccNistP384,
            "P384",
            AlgorithmSpec::RsaAesKeyWrapSha1,
        ),
        (
            KeySpec::EccSecgP256K1,
            "Secp256k1",
            AlgorithmSpec::RsaAesKeyWrapSha1,
        ),
        (KeySpec::EccNistP384, "P384", AlgorithmSpec::RsaesOaepSha1),
        (
            KeySpec::EccSecgP256K1,
            "Secp256k1",
            AlgorithmSpec::RsaesOaepSha256,
        ),
    ] {
        let wrong = offline(&other);
        let refused = import(&kms, &key, algorithm.clone(), &wrong.pkcs8).await;
        let (code, message) = refused.expect_err("a key on another curve");
        assert_eq!(
            code, "IncorrectKeyMaterialException",
            "{other:?} {algorithm:?}"
        );
        let message = message.unwrap_or_default();
        assert!(
            message.contains("ECC_NIST_P256") && message.contains(curve),
            "{other:?} {algorithm:?}: {message}"
        );
    }
    for algorithm in [AlgorithmSpec::RsaesOaepSha1, AlgorithmSpec::RsaesOaepSha256] {
        let refused = import(&kms, &key, algorithm.clone(), &[7; 32]).await;
        let (code, message) = refused.expect_err("bytes that are no private key");
        assert_eq!(code, "IncorrectKeyMaterialException", "{algorithm:?}");
        let message = message.unwrap_or_default();
        assert!(message.contains("PKCS#8"), "{algorithm:?}: {message}");
    }
    let rsa = rsa::RsaPrivateKey::new(&mut OsRng, 2048).unwrap();
    let rsa_pkcs8 = rsa::pkcs8::EncodePrivateKey::to_pkcs8_der(&rsa).unwrap();
    let refused = import(
        &kms,
        &key,
        AlgorithmSpec::RsaAesKeyWrapSha256,
        rsa_pkcs8.as_bytes(),
    )
    .await;
    assert_eq!(code(refused), "IncorrectKeyMaterialException");

    let p = parameters(&kms, &key, AlgorithmSpec::RsaAesKeyWrapSha1).await;
    let mut mixed = wrap(&p.public_key, &p.algorithm, &[0; 32]);
    let other_wrap = wrap(&p.public_key, &p.algorithm, &local.pkcs8);
    mixed.truncate(256);
    mixed.extend_from_slice(&other_wrap[256..]);
    let refused = try_import(
        &kms,
        &key,
        &p.token,
        &mixed,
        Some(ExpirationModelType::KeyMaterialDoesNotExpire),
        None,
    )
    .await;
    assert_eq!(code(refused), "InvalidCiphertextException");
    assert_eq!(
        describe(&kms, &key).await.key_state,
        Some(KeyState::PendingImport)
    );

    let id = import(&kms, &key, AlgorithmSpec::RsaAesKeyWrapSha256, &local.pkcs8)
        .await
        .expect("import");
    kms.delete_imported_key_material()
        .key_id(&key)
        .send()
        .await
        .expect("DeleteImportedKeyMaterial");
    let another = offline(&KeySpec::EccNistP256);
    let refused = import(&kms, &key, AlgorithmSpec::RsaAesKeyWrapSha1, &another.pkcs8).await;
    assert_eq!(code(refused), "IncorrectKeyMaterialException");
    let again = import(&kms, &key, AlgorithmSpec::RsaAesKeyWrapSha1, &local.pkcs8)
        .await
        .expect("the same key again");
    assert_eq!(again, id);
    assert_eq!(public_key(&kms, &key).await, local.spki);
}

/// A multi-Region secp256k1 signing key imported in us-east-1 and
/// replicated: the replica waits for its own import, refuses another key,
/// takes the same one with the same KeyMaterialId, and signs in us-west-2
/// what the offline public key verifies.
#[tokio::test(flavor = "multi_thread")]
async fn a_replica_takes_the_same_ecc_key() {
    if !common::key_pairs_served() {
        return;
    }
    let server = Server::start();
    let east = server.client(EAST);
    let west = server.client(WEST);
    let local = offline(&KeySpec::EccSecgP256K1);
    let key = create_external_as(
        &east,
        KeySpec::EccSecgP256K1,
        KeyUsageType::SignVerify,
        true,
    )
    .await
    .key_id;
    let id = import(
        &east,
        &key,
        AlgorithmSpec::RsaAesKeyWrapSha256,
        &local.pkcs8,
    )
    .await
    .expect("import in us-east-1");
    east.replicate_key()
        .key_id(&key)
        .replica_region(WEST)
        .send()
        .await
        .expect("ReplicateKey");
    assert_eq!(
        describe(&west, &key).await.key_state,
        Some(KeyState::PendingImport)
    );
    let other = offline(&KeySpec::EccSecgP256K1);
    let refused = import(&west, &key, AlgorithmSpec::RsaAesKeyWrapSha1, &other.pkcs8).await;
    assert_eq!(code(refused), "IncorrectKeyMaterialException");
    let replica_id = import(&west, &key, AlgorithmSpec::RsaAesKeyWrapSha1, &local.pkcs8)
        .await
        .expect("import in us-west-2");
    assert_eq!(replica_id, id);
    assert_eq!(public_key(&west, &key).await, local.spki);
    let algorithm = aws_sdk_kms::types::SigningAlgorithmSpec::EcdsaSha256;
    let signature = sign(&west, &key, &algorithm, MessageType::Raw, b"replica").await;
    verify_offline(
        &local.spki,
        &algorithm,
        &MessageType::Raw,
        b"replica",
        &signature,
    )
    .expect("the replica's signature verifies offline");
}
