//! Helpers for asymmetric KMS keys (RSA and ECC): creating them, signing and
//! verifying through Trent, and checking every result offline with the
//! RustCrypto crates (`rsa`, `p256`, `p384`, `p521`, `k256`), never with
//! Trent itself.
//!
//! AWS's algorithm lists, in AWS's order, come from the official examples in
//! botocore's `botocore/data/kms/2014-11-01/examples-1.json`: DescribeKey of
//! an RSA_2048 SIGN_VERIFY key lists `RSASSA_PKCS1_V1_5_SHA_256, _384,
//! _512, RSASSA_PSS_SHA_256, _384, _512`; CreateKey of RSA_4096
//! ENCRYPT_DECRYPT and GetPublicKey of an RSA_4096 key list
//! `RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256`; CreateKey of ECC_NIST_P521
//! SIGN_VERIFY lists `ECDSA_SHA_512`. The AWS KMS developer guide's
//! "Asymmetric key specs" (awsdocs/aws-kms-developer-guide,
//! `doc_source/asymmetric-key-specs.md`) gives ECC_NIST_P256 and
//! ECC_SECG_P256K1 `ECDSA_SHA_256` and ECC_NIST_P384 `ECDSA_SHA_384`, PSS
//! salts as long as the digest, OAEP with MGF1 of the same hash and an
//! empty label, and the plaintext limits; LocalStack's recording of AWS
//! (`tests/aws/services/kms/test_kms.snapshot.json`,
//! test_import_key_asymmetric) shows DescribeKey of ECC_NIST_P256 with
//! `SigningAlgorithms: [ECDSA_SHA_256]` and no other list. `ECDH` is the
//! only KeyAgreementAlgorithmSpec in the API model. A list that does not
//! apply to the key's usage is absent, as in every one of those examples.

use super::refusal;
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    EncryptionAlgorithmSpec, KeyAgreementAlgorithmSpec, KeyMetadata, KeySpec, KeyUsageType,
    MessageType, SigningAlgorithmSpec,
};
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::pkcs8::{DecodePublicKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, Pss, RsaPublicKey};
use sha2::{Digest, Sha256, Sha384, Sha512};

/// The account of the dev-mode credentials.
pub const ACCOUNT: &str = "111122223333";

/// A key's ARN in `region`.
pub fn arn(region: &str, key: &str) -> String {
    format!("arn:aws:kms:{region}:{ACCOUNT}:key/{key}")
}

/// Creates a key of `spec` and `usage`; returns CreateKey's metadata.
pub async fn create_metadata(kms: &Client, spec: KeySpec, usage: KeyUsageType) -> KeyMetadata {
    kms.create_key()
        .key_spec(spec.clone())
        .key_usage(usage.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateKey {spec:?} {usage:?}: {e:?}"))
        .key_metadata
        .expect("key metadata")
}

/// Creates a key of `spec` and `usage` and returns its id.
pub async fn create(kms: &Client, spec: KeySpec, usage: KeyUsageType) -> String {
    create_metadata(kms, spec, usage).await.key_id
}

/// The DER SubjectPublicKeyInfo GetPublicKey returns for `key`.
pub async fn public_key(kms: &Client, key: &str) -> Vec<u8> {
    kms.get_public_key()
        .key_id(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetPublicKey {key}: {e:?}"))
        .public_key
        .expect("PublicKey")
        .into_inner()
}

/// The signing algorithms AWS offers for a SIGN_VERIFY key of `spec`, in
/// AWS's order (see the module documentation for the sources).
pub fn signing_algorithms(spec: &KeySpec) -> Vec<SigningAlgorithmSpec> {
    use SigningAlgorithmSpec as A;
    match spec {
        KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => vec![
            A::RsassaPkcs1V15Sha256,
            A::RsassaPkcs1V15Sha384,
            A::RsassaPkcs1V15Sha512,
            A::RsassaPssSha256,
            A::RsassaPssSha384,
            A::RsassaPssSha512,
        ],
        KeySpec::EccNistP256 | KeySpec::EccSecgP256K1 => vec![A::EcdsaSha256],
        KeySpec::EccNistP384 => vec![A::EcdsaSha384],
        KeySpec::EccNistP521 => vec![A::EcdsaSha512],
        other => panic!("{other:?} does not sign"),
    }
}

/// The encryption algorithms AWS offers for an RSA ENCRYPT_DECRYPT key, in
/// AWS's order.
pub fn rsa_encryption_algorithms() -> Vec<EncryptionAlgorithmSpec> {
    vec![
        EncryptionAlgorithmSpec::RsaesOaepSha1,
        EncryptionAlgorithmSpec::RsaesOaepSha256,
    ]
}

/// The key agreement algorithms of a KEY_AGREEMENT key.
pub fn key_agreement_algorithms() -> Vec<KeyAgreementAlgorithmSpec> {
    vec![KeyAgreementAlgorithmSpec::Ecdh]
}

/// The hash of `message` that `algorithm` signs.
pub fn digest(algorithm: &SigningAlgorithmSpec, message: &[u8]) -> Vec<u8> {
    use SigningAlgorithmSpec as A;
    match algorithm {
        A::RsassaPkcs1V15Sha256 | A::RsassaPssSha256 | A::EcdsaSha256 => {
            Sha256::digest(message).to_vec()
        }
        A::RsassaPkcs1V15Sha384 | A::RsassaPssSha384 | A::EcdsaSha384 => {
            Sha384::digest(message).to_vec()
        }
        A::RsassaPkcs1V15Sha512 | A::RsassaPssSha512 | A::EcdsaSha512 => {
            Sha512::digest(message).to_vec()
        }
        other => panic!("no digest for {other:?}"),
    }
}

/// The key spec a DER SubjectPublicKeyInfo is of (`RSA_2048`,
/// `ECC_NIST_P256`, ...), checking that it is the canonical encoding the
/// crates make of the key they parsed (for ECC keys, an uncompressed point
/// on a named curve). Panics if no crate parses it.
pub fn spec_of_spki(spki: &[u8]) -> String {
    let canonical = |again: &[u8]| assert_eq!(again, spki, "the SPKI is not canonical DER");
    if let Ok(key) = RsaPublicKey::from_public_key_der(spki) {
        canonical(key.to_public_key_der().unwrap().as_bytes());
        return format!("RSA_{}", key.size() * 8);
    }
    if let Ok(key) = p256::PublicKey::from_public_key_der(spki) {
        canonical(key.to_public_key_der().unwrap().as_bytes());
        return "ECC_NIST_P256".into();
    }
    if let Ok(key) = p384::PublicKey::from_public_key_der(spki) {
        canonical(key.to_public_key_der().unwrap().as_bytes());
        return "ECC_NIST_P384".into();
    }
    if let Ok(key) = p521::PublicKey::from_public_key_der(spki) {
        canonical(key.to_public_key_der().unwrap().as_bytes());
        return "ECC_NIST_P521".into();
    }
    if let Ok(key) = k256::PublicKey::from_public_key_der(spki) {
        canonical(key.to_public_key_der().unwrap().as_bytes());
        return "ECC_SECG_P256K1".into();
    }
    panic!(
        "no crate parses this SubjectPublicKeyInfo: {}",
        hex::encode(spki)
    )
}

/// Checks offline that `signature` is `algorithm`'s signature of `message`
/// (a message, or with [`MessageType::Digest`] its digest) under the key
/// of the DER SubjectPublicKeyInfo `spki`: RSASSA-PKCS1-v1_5, RSASSA-PSS
/// with MGF1 of the same hash and a salt as long as the digest, or ECDSA
/// with a DER-encoded signature.
pub fn verify_offline(
    spki: &[u8],
    algorithm: &SigningAlgorithmSpec,
    message_type: &MessageType,
    message: &[u8],
    signature: &[u8],
) -> Result<(), String> {
    use SigningAlgorithmSpec as A;
    let digest = match message_type {
        MessageType::Raw => digest(algorithm, message),
        MessageType::Digest => message.to_vec(),
        other => panic!("message type {other:?}"),
    };
    let rsa = || RsaPublicKey::from_public_key_der(spki).map_err(|e| format!("RSA SPKI: {e}"));
    let checked = match algorithm {
        A::RsassaPkcs1V15Sha256 => rsa()?.verify(Pkcs1v15Sign::new::<Sha256>(), &digest, signature),
        A::RsassaPkcs1V15Sha384 => rsa()?.verify(Pkcs1v15Sign::new::<Sha384>(), &digest, signature),
        A::RsassaPkcs1V15Sha512 => rsa()?.verify(Pkcs1v15Sign::new::<Sha512>(), &digest, signature),
        // Pss::new takes the digest's length as the salt length, and
        // verification insists on exactly that length.
        A::RsassaPssSha256 => rsa()?.verify(Pss::new::<Sha256>(), &digest, signature),
        A::RsassaPssSha384 => rsa()?.verify(Pss::new::<Sha384>(), &digest, signature),
        A::RsassaPssSha512 => rsa()?.verify(Pss::new::<Sha512>(), &digest, signature),
        A::EcdsaSha256 => return ecdsa_sha256(spki, &digest, signature),
        A::EcdsaSha384 => {
            let key = p384::PublicKey::from_public_key_der(spki).map_err(|e| e.to_string())?;
            let signature =
                p384::ecdsa::Signature::from_der(signature).map_err(|e| e.to_string())?;
            return p384::ecdsa::VerifyingKey::from(key)
                .verify_prehash(&digest, &signature)
                .map_err(|e| e.to_string());
        }
        A::EcdsaSha512 => {
            let key = p521::PublicKey::from_public_key_der(spki).map_err(|e| e.to_string())?;
            let signature =
                p521::ecdsa::Signature::from_der(signature).map_err(|e| e.to_string())?;
            return p521::ecdsa::VerifyingKey::from_affine(*key.as_affine())
                .and_then(|key| key.verify_prehash(&digest, &signature))
                .map_err(|e| e.to_string());
        }
        other => panic!("no offline check for {other:?}"),
    };
    checked.map_err(|e| e.to_string())
}

/// ECDSA_SHA_256 under a P-256 or a secp256k1 key.
fn ecdsa_sha256(spki: &[u8], digest: &[u8], signature: &[u8]) -> Result<(), String> {
    if let Ok(key) = p256::PublicKey::from_public_key_der(spki) {
        let signature = p256::ecdsa::Signature::from_der(signature).map_err(|e| e.to_string())?;
        return p256::ecdsa::VerifyingKey::from(key)
            .verify_prehash(digest, &signature)
            .map_err(|e| e.to_string());
    }
    let key = k256::PublicKey::from_public_key_der(spki).map_err(|e| e.to_string())?;
    let signature = k256::ecdsa::Signature::from_der(signature).map_err(|e| e.to_string())?;
    // k256 accepts only low-S signatures (Bitcoin's rule); plain ECDSA, as
    // AWS KMS and PKCS#11 tokens make it, has either half, and (r, n - s)
    // is the same signature.
    let signature = signature.normalize_s().unwrap_or(signature);
    k256::ecdsa::VerifyingKey::from(key)
        .verify_prehash(digest, &signature)
        .map_err(|e| e.to_string())
}

/// Sign through Trent: the signature (after checking that the answer
/// names the key and the algorithm), or the refusal's code and message.
pub async fn try_sign(
    kms: &Client,
    key: &str,
    algorithm: &SigningAlgorithmSpec,
    message_type: MessageType,
    message: &[u8],
) -> Result<Vec<u8>, (String, Option<String>)> {
    let result = kms
        .sign()
        .key_id(key)
        .signing_algorithm(algorithm.clone())
        .message_type(message_type)
        .message(Blob::new(message.to_vec()))
        .send()
        .await;
    match result {
        Ok(out) => {
            assert!(
                out.key_id()
                    .is_some_and(|id| id == key || id.ends_with(&format!("key/{key}"))),
                "Sign's KeyId {:?} is not the ARN of {key}",
                out.key_id()
            );
            assert_eq!(out.signing_algorithm(), Some(algorithm));
            Ok(out.signature.expect("Signature").into_inner())
        }
        Err(e) => Err(refusal::<_, ()>(Err(e))),
    }
}

/// Signs `message` (of `message_type`) with `key` through Trent, as
/// [`try_sign`], and returns the signature.
pub async fn sign(
    kms: &Client,
    key: &str,
    algorithm: &SigningAlgorithmSpec,
    message_type: MessageType,
    message: &[u8],
) -> Vec<u8> {
    try_sign(kms, key, algorithm, message_type.clone(), message)
        .await
        .unwrap_or_else(|e| panic!("Sign {key} {algorithm:?} {message_type:?}: {e:?}"))
}

/// Verify through Trent: `Ok(SignatureValid)`, or the refusal's code and
/// message.
pub async fn verify(
    kms: &Client,
    key: &str,
    algorithm: &SigningAlgorithmSpec,
    message_type: MessageType,
    message: &[u8],
    signature: &[u8],
) -> Result<bool, (String, Option<String>)> {
    let result = kms
        .verify()
        .key_id(key)
        .signing_algorithm(algorithm.clone())
        .message_type(message_type)
        .message(Blob::new(message.to_vec()))
        .signature(Blob::new(signature.to_vec()))
        .send()
        .await;
    match result {
        Ok(out) => {
            assert_eq!(out.signing_algorithm(), Some(algorithm));
            Ok(out.signature_valid)
        }
        Err(e) => Err(refusal::<_, ()>(Err(e))),
    }
}

/// The error code of a refusal from [`try_sign`], [`verify`] and the like;
/// panics on success.
pub fn code<T: std::fmt::Debug>(result: Result<T, (String, Option<String>)>) -> String {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err((code, _)) => code,
    }
}
