//! DeriveSharedSecret with KEY_AGREEMENT keys through `aws-sdk-kms`: the
//! ECDH shared secret (the raw x-coordinate, as AWS returns it) equals the
//! one computed offline from a peer key made with the RustCrypto crates,
//! on P-256, P-384 and P-521; a peer key on another curve and keys of
//! other usages are refused.

mod common;

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeyAgreementAlgorithmSpec, KeySpec, KeyUsageType, OriginType};
use common::asymmetric::{arn, create, public_key};
use common::{EAST, Server, error_code, new_key, refusal};
use p256::pkcs8::{DecodePublicKey, EncodePublicKey};
use rsa::rand_core::OsRng;

/// A peer's key pair made offline: its SPKI, and the raw ECDH secret (the
/// x-coordinate of the shared point) of its private key with the KMS key
/// of DER SPKI `kms_spki`.
fn peer(spec: &KeySpec, kms_spki: &[u8]) -> (Vec<u8>, Vec<u8>) {
    macro_rules! on_curve {
        ($curve:ident) => {{
            let secret = $curve::SecretKey::random(&mut OsRng);
            let kms_public = $curve::PublicKey::from_public_key_der(kms_spki)
                .expect("the KMS key's SPKI is on the curve");
            let shared =
                $curve::ecdh::diffie_hellman(secret.to_nonzero_scalar(), kms_public.as_affine());
            let spki = secret.public_key().to_public_key_der().unwrap();
            (spki.as_bytes().to_vec(), shared.raw_secret_bytes().to_vec())
        }};
    }
    match spec {
        KeySpec::EccNistP256 => on_curve!(p256),
        KeySpec::EccNistP384 => on_curve!(p384),
        KeySpec::EccNistP521 => on_curve!(p521),
        other => panic!("{other:?}"),
    }
}

/// DeriveSharedSecret with ECDH; the SharedSecret after checking what the
/// answer names.
async fn derive(kms: &Client, key: &str, peer_spki: &[u8]) -> Vec<u8> {
    let out = kms
        .derive_shared_secret()
        .key_id(key)
        .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
        .public_key(Blob::new(peer_spki.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("DeriveSharedSecret {key}: {e:?}"));
    assert_eq!(out.key_id(), Some(arn(EAST, key).as_str()));
    assert_eq!(
        out.key_agreement_algorithm(),
        Some(&KeyAgreementAlgorithmSpec::Ecdh)
    );
    assert_eq!(out.key_origin(), Some(&OriginType::AwsKms));
    assert!(out.ciphertext_for_recipient().is_none());
    out.shared_secret.expect("SharedSecret").into_inner()
}

/// On P-256, P-384 and P-521, DeriveSharedSecret returns the raw ECDH
/// x-coordinate (32, 48, 66 bytes) that the peer computes offline.
#[tokio::test(flavor = "multi_thread")]
async fn the_shared_secret_is_the_ecdh_secret_the_peer_computes() {
    let server = Server::start();
    let kms = server.client(EAST);
    for (spec, length) in [
        (KeySpec::EccNistP256, 32),
        (KeySpec::EccNistP384, 48),
        (KeySpec::EccNistP521, 66),
    ] {
        let key = create(&kms, spec.clone(), KeyUsageType::KeyAgreement).await;
        let kms_spki = public_key(&kms, &key).await;
        let (peer_spki, expected) = peer(&spec, &kms_spki);
        let secret = derive(&kms, &key, &peer_spki).await;
        assert_eq!(secret.len(), length, "{spec:?}");
        assert_eq!(secret, expected, "{spec:?}");
        // Another peer, another secret.
        let (other_spki, other_expected) = peer(&spec, &kms_spki);
        assert_eq!(derive(&kms, &key, &other_spki).await, other_expected);
        assert_ne!(other_expected, expected);
    }
}

/// Two KMS key agreement keys derive the same secret from each other's
/// public keys.
#[tokio::test(flavor = "multi_thread")]
async fn two_kms_keys_agree_with_each_other() {
    let server = Server::start();
    let kms = server.client(EAST);
    let alice = create(&kms, KeySpec::EccNistP256, KeyUsageType::KeyAgreement).await;
    let bob = create(&kms, KeySpec::EccNistP256, KeyUsageType::KeyAgreement).await;
    let from_alice = derive(&kms, &alice, &public_key(&kms, &bob).await).await;
    let from_bob = derive(&kms, &bob, &public_key(&kms, &alice).await).await;
    assert_eq!(from_alice, from_bob);
}

/// A P-256 public key whose point is off the curve: a real key's point with
/// the last byte of its y-coordinate changed.
fn off_curve_p256() -> Vec<u8> {
    let key = p256::SecretKey::random(&mut OsRng).public_key();
    let mut spki = key.to_public_key_der().unwrap().as_bytes().to_vec();
    *spki.last_mut().unwrap() ^= 1;
    spki
}

/// A peer key on another curve than the KMS key's, a point off the curve,
/// or bytes that are no public key, are ValidationException.
#[tokio::test(flavor = "multi_thread")]
async fn a_peer_key_on_another_curve_is_a_validation_error() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = create(&kms, KeySpec::EccNistP256, KeyUsageType::KeyAgreement).await;
    let p384 = p384::SecretKey::random(&mut OsRng).public_key();
    let p521 = p521::SecretKey::random(&mut OsRng).public_key();
    let secp256k1 = k256::SecretKey::random(&mut OsRng).public_key();
    for (curve, spki) in [
        (
            "P-384",
            p384.to_public_key_der().unwrap().as_bytes().to_vec(),
        ),
        (
            "P-521",
            p521.to_public_key_der().unwrap().as_bytes().to_vec(),
        ),
        (
            "secp256k1",
            secp256k1.to_public_key_der().unwrap().as_bytes().to_vec(),
        ),
        ("no key", b"InvalidPublicKey".to_vec()),
        ("off the curve", off_curve_p256()),
    ] {
        let result = kms
            .derive_shared_secret()
            .key_id(&key)
            .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
            .public_key(Blob::new(spki))
            .send()
            .await;
        assert_eq!(error_code(result), "ValidationException", "{curve}");
    }
}

/// Only KEY_AGREEMENT keys derive shared secrets: a signing key or a
/// symmetric key is InvalidKeyUsageException naming its usage, and a
/// disabled key is DisabledException.
#[tokio::test(flavor = "multi_thread")]
async fn only_enabled_key_agreement_keys_derive_secrets() {
    let server = Server::start();
    let kms = server.client(EAST);
    let agreement = create(&kms, KeySpec::EccNistP256, KeyUsageType::KeyAgreement).await;
    let signer = create(&kms, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let symmetric = new_key(&kms).await;
    let (peer_spki, _) = peer(&KeySpec::EccNistP256, &public_key(&kms, &agreement).await);
    let attempt = |key: String| {
        kms.derive_shared_secret()
            .key_id(key)
            .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
            .public_key(Blob::new(peer_spki.clone()))
            .send()
    };
    for (key, usage) in [(&signer, "SIGN_VERIFY"), (&symmetric, "ENCRYPT_DECRYPT")] {
        assert_eq!(
            refusal(attempt(key.clone()).await),
            (
                "InvalidKeyUsageException".to_string(),
                Some(format!(
                    "{} key usage is {usage} which is not valid for DeriveSharedSecret.",
                    arn(EAST, key)
                ))
            )
        );
    }
    kms.disable_key().key_id(&agreement).send().await.unwrap();
    assert_eq!(
        refusal(attempt(agreement.clone()).await),
        (
            "DisabledException".to_string(),
            Some(format!("{} is disabled.", arn(EAST, &agreement)))
        )
    );
}
