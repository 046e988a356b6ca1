//! The key specs this deployment serves: what each is in the token, which
//! key usages go with it, and which algorithms it offers.

use super::{KmsError, KmsResult};
use crate::hsm::SecretKind;
use crate::model::KeyRecord;

/// MAC algorithms, by the HMAC key spec that offers each.
static MAC_ALGORITHMS: [(&str, &str); 4] = [
    ("HMAC_224", "HMAC_SHA_224"),
    ("HMAC_256", "HMAC_SHA_256"),
    ("HMAC_384", "HMAC_SHA_384"),
    ("HMAC_512", "HMAC_SHA_512"),
];

/// Every MAC algorithm, in the order of AWS's validation message.
pub(super) const MAC_ALGORITHM_NAMES: &[&str] = &[
    "HMAC_SHA_384",
    "HMAC_SHA_256",
    "HMAC_SHA_224",
    "HMAC_SHA_512",
];

/// What a backing key of `spec` is in the token, if this deployment serves
/// the spec.
pub(super) fn secret_kind(spec: &str) -> Option<SecretKind> {
    match spec {
        "SYMMETRIC_DEFAULT" => Some(SecretKind::Aes256),
        "HMAC_224" => Some(SecretKind::Hmac(28)),
        "HMAC_256" => Some(SecretKind::Hmac(32)),
        "HMAC_384" => Some(SecretKind::Hmac(48)),
        "HMAC_512" => Some(SecretKind::Hmac(64)),
        _ => None,
    }
}

/// What a key's backing key is in the token.
pub(super) fn kind_of(key: &KeyRecord) -> KmsResult<SecretKind> {
    secret_kind(&key.key_spec).ok_or_else(|| {
        KmsError::Internal(format!(
            "key {} has key spec {}, which this deployment does not serve",
            key.key_id, key.key_spec
        ))
    })
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
        _ => &["SIGN_VERIFY"],
    }
}

/// The MAC algorithm an HMAC spec offers.
pub(super) fn mac_algorithm(spec: &str) -> Option<&'static str> {
    MAC_ALGORITHMS
        .iter()
        .find(|(s, _)| *s == spec)
        .map(|(_, algorithm)| *algorithm)
}

/// The encryption algorithms a key of `spec` offers (DescribeKey's
/// `EncryptionAlgorithms`); none for keys that do not encrypt.
pub fn encryption_algorithms(spec: &str) -> &'static [&'static str] {
    match spec {
        "SYMMETRIC_DEFAULT" => &["SYMMETRIC_DEFAULT"],
        _ => &[],
    }
}

/// The MAC algorithms a key of `spec` offers (DescribeKey's
/// `MacAlgorithms`); none for keys that do not MAC.
pub fn mac_algorithms(spec: &str) -> &'static [&'static str] {
    MAC_ALGORITHMS
        .iter()
        .find(|(s, _)| *s == spec)
        .map_or(&[], |(_, algorithm)| std::slice::from_ref(algorithm))
}
