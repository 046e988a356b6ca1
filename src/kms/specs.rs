//! The key specs this deployment serves: what each is in the token, which
//! key usages go with it, and which algorithms it offers.

use crate::hsm::{Curve, Digest, Oaep, PairRole, SecretKind, Signing};
use crate::model::{KeyRecord, KeySpec, KeyUsage};

/// Every key spec AWS has, in the order of AWS's validation message; those
/// that [`KeySpec`] lacks are refused as unsupported, not as invalid.
pub(super) const AWS_KEY_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SYMMETRIC_DEFAULT",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
    "ML_DSA_44",
    "ML_DSA_65",
    "ML_DSA_87",
    "ECC_NIST_EDWARDS25519",
    "ML_KEM_512",
    "ML_KEM_768",
    "ML_KEM_1024",
];

/// Every MAC algorithm, in the order of AWS's validation message.
pub(super) const MAC_ALGORITHM_NAMES: &[&str] = &[
    "HMAC_SHA_384",
    "HMAC_SHA_256",
    "HMAC_SHA_224",
    "HMAC_SHA_512",
];

/// Every signing algorithm AWS has, in the order of its model.
pub(super) const SIGNING_ALGORITHM_NAMES: &[&str] = &[
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
    "ECDSA_SHA_256",
    "ECDSA_SHA_384",
    "ECDSA_SHA_512",
    "SM2DSA",
    "ML_DSA_SHAKE_256",
    "ED25519_SHA_512",
    "ED25519_PH_SHA_512",
];

/// Signing algorithms of RSA keys, as AWS lists them.
const RSA_SIGNING: &[&str] = &[
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
];

/// What a key of `spec` and `usage` is in the token.
pub(super) fn secret_kind(spec: KeySpec, usage: KeyUsage) -> SecretKind {
    let role = match usage {
        KeyUsage::SignVerify => PairRole::Sign,
        KeyUsage::KeyAgreement => PairRole::Agree,
        KeyUsage::EncryptDecrypt | KeyUsage::GenerateVerifyMac => PairRole::Decrypt,
    };
    match spec {
        KeySpec::SymmetricDefault => SecretKind::Aes256,
        KeySpec::Hmac224 => SecretKind::Hmac(28),
        KeySpec::Hmac256 => SecretKind::Hmac(32),
        KeySpec::Hmac384 => SecretKind::Hmac(48),
        KeySpec::Hmac512 => SecretKind::Hmac(64),
        KeySpec::Rsa2048 => SecretKind::Rsa(2048, role),
        KeySpec::Rsa3072 => SecretKind::Rsa(3072, role),
        KeySpec::Rsa4096 => SecretKind::Rsa(4096, role),
        KeySpec::EccNistP256 => SecretKind::Ec(Curve::P256, role),
        KeySpec::EccNistP384 => SecretKind::Ec(Curve::P384, role),
        KeySpec::EccNistP521 => SecretKind::Ec(Curve::P521, role),
        KeySpec::EccSecgP256k1 => SecretKind::Ec(Curve::Secp256k1, role),
    }
}

/// What a key's backing key is in the token.
pub(super) fn kind_of(key: &KeyRecord) -> SecretKind {
    secret_kind(key.key_spec, key.key_usage)
}

/// Whether a key of `spec` is asymmetric (has a public key).
pub fn is_asymmetric(spec: KeySpec) -> bool {
    secret_kind(spec, KeyUsage::SignVerify).is_private_key()
}

/// The key usages AWS allows with `spec` (for every spec AWS has, served
/// here or not, so that a request is validated as AWS validates it).
pub(super) fn usages_for(spec: &str) -> &'static [&'static str] {
    match spec {
        "SYMMETRIC_DEFAULT" => &["ENCRYPT_DECRYPT"],
        s if s.starts_with("HMAC_") => &["GENERATE_VERIFY_MAC"],
        s if s.starts_with("RSA_") => &["ENCRYPT_DECRYPT", "SIGN_VERIFY"],
        s if s.starts_with("ECC_NIST_P") => &["SIGN_VERIFY", "KEY_AGREEMENT"],
        "SM2" => &["ENCRYPT_DECRYPT", "SIGN_VERIFY", "KEY_AGREEMENT"],
        s if s.starts_with("ML_KEM_") => &["ENCAPSULATE_DECAPSULATE"],
        _ => &["SIGN_VERIFY"],
    }
}

/// The MAC algorithm an HMAC spec offers.
pub(super) fn mac_algorithm(spec: KeySpec) -> Option<&'static str> {
    mac_algorithms(spec).first().copied()
}

/// The encryption algorithms a key offers (DescribeKey's
/// `EncryptionAlgorithms`); none for keys that do not encrypt.
pub fn encryption_algorithms(spec: KeySpec, usage: KeyUsage) -> &'static [&'static str] {
    match (spec, usage) {
        (KeySpec::SymmetricDefault, _) => &["SYMMETRIC_DEFAULT"],
        (KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096, KeyUsage::EncryptDecrypt) => {
            &["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
        }
        _ => &[],
    }
}

/// The signing algorithms a key offers (`SigningAlgorithms`).
pub fn signing_algorithms(spec: KeySpec, usage: KeyUsage) -> &'static [&'static str] {
    if usage != KeyUsage::SignVerify {
        return &[];
    }
    match spec {
        KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => RSA_SIGNING,
        KeySpec::EccNistP256 | KeySpec::EccSecgP256k1 => &["ECDSA_SHA_256"],
        KeySpec::EccNistP384 => &["ECDSA_SHA_384"],
        KeySpec::EccNistP521 => &["ECDSA_SHA_512"],
        _ => &[],
    }
}

/// The MAC algorithms a key of `spec` offers (`MacAlgorithms`).
pub fn mac_algorithms(spec: KeySpec) -> &'static [&'static str] {
    match spec {
        KeySpec::Hmac224 => &["HMAC_SHA_224"],
        KeySpec::Hmac256 => &["HMAC_SHA_256"],
        KeySpec::Hmac384 => &["HMAC_SHA_384"],
        KeySpec::Hmac512 => &["HMAC_SHA_512"],
        _ => &[],
    }
}

/// The key agreement algorithms a key offers (`KeyAgreementAlgorithms`).
pub fn key_agreement_algorithms(usage: KeyUsage) -> &'static [&'static str] {
    match usage {
        KeyUsage::KeyAgreement => &["ECDH"],
        _ => &[],
    }
}

/// The signature scheme of a signing algorithm.
pub(super) fn signing(algorithm: &str) -> Option<Signing> {
    let digest = match algorithm.rsplit('_').next()? {
        "256" => Digest::Sha256,
        "384" => Digest::Sha384,
        "512" => Digest::Sha512,
        _ => return None,
    };
    match algorithm {
        a if a.starts_with("RSASSA_PSS_") => Some(Signing::RsaPss(digest)),
        a if a.starts_with("RSASSA_PKCS1_V1_5_") => Some(Signing::RsaPkcs1(digest)),
        a if a.starts_with("ECDSA_") => Some(Signing::Ecdsa(digest)),
        _ => None,
    }
}

/// The OAEP hash of an RSA encryption algorithm.
pub(super) fn oaep(algorithm: &str) -> Option<Oaep> {
    match algorithm {
        "RSAES_OAEP_SHA_1" => Some(Oaep::Sha1),
        "RSAES_OAEP_SHA_256" => Some(Oaep::Sha256),
        _ => None,
    }
}

/// The most plaintext an RSA key of `spec` encrypts with `oaep` (AWS's
/// limits: the modulus length less twice the hash length less 2).
pub(super) fn rsa_max_plaintext(spec: KeySpec, oaep: Oaep) -> usize {
    let modulus = match spec {
        KeySpec::Rsa3072 => 384,
        KeySpec::Rsa4096 => 512,
        _ => 256,
    };
    let hash = match oaep {
        Oaep::Sha1 => 20,
        Oaep::Sha256 => 32,
    };
    modulus - 2 * hash - 2
}

/// Why a spec AWS has is not served, naming what the token lacks.
pub(super) fn why_unserved(spec: &str) -> &'static str {
    match spec {
        "ECC_NIST_EDWARDS25519" => {
            "the token has CKM_EDDSA but cannot wrap an Ed25519 private key \
             (SoftHSM 2.6.1: CKR_KEY_NOT_WRAPPABLE), so it cannot keep one wrapped under \
             its domain key, and it has no Ed25519ph."
        }
        "SM2" => "the token lacks the SM2 mechanisms (PKCS#11 defines none).",
        s if s.starts_with("ML_KEM_") => {
            "the token lacks the ML-KEM mechanisms (CKM_ML_KEM, PKCS#11 3.2)."
        }
        _ => "the token lacks the ML-DSA mechanisms (CKM_ML_DSA, PKCS#11 3.2).",
    }
}

/// What a data key pair of `spec` is in the token, if this deployment
/// makes it.
pub(super) fn key_pair_kind(spec: &str) -> Option<SecretKind> {
    let spec = KeySpec::parse(spec).filter(|s| is_asymmetric(*s))?;
    Some(secret_kind(spec, KeyUsage::SignVerify))
}
