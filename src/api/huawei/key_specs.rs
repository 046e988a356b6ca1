//! Huawei's names of key specs, both ways, and which specs create-key
//! takes. Huawei calls the symmetric key `AES_256` and the curves `EC_P256`,
//! `EC_P384`, `EC_P521` and `SECP256K1`; RSA and HMAC specs keep the core's
//! names.

use crate::model::{KeySpec, KeyUsage};

/// The specs create-key makes: those of Huawei's create-key enum that this
/// deployment serves (the enum has no `EC_P521` and no `HMAC_224`).
pub const CREATABLE: &[KeySpec] = &[
    KeySpec::SymmetricDefault,
    KeySpec::Rsa2048,
    KeySpec::Rsa3072,
    KeySpec::Rsa4096,
    KeySpec::EccNistP256,
    KeySpec::EccNistP384,
    KeySpec::EccSecgP256k1,
    KeySpec::Hmac256,
    KeySpec::Hmac384,
    KeySpec::Hmac512,
];

/// Huawei's key specs that this deployment never holds a key of: list-keys
/// takes them as filters (and finds nothing), as Huawei does.
pub const UNSERVED: &[&str] = &["SM4", "SM2"];

/// Huawei's name of a key spec.
pub fn name(spec: KeySpec) -> &'static str {
    match spec {
        KeySpec::SymmetricDefault => "AES_256",
        KeySpec::EccNistP256 => "EC_P256",
        KeySpec::EccNistP384 => "EC_P384",
        KeySpec::EccNistP521 => "EC_P521",
        KeySpec::EccSecgP256k1 => "SECP256K1",
        other => other.as_str(),
    }
}

/// The key spec a Huawei name stands for (the reverse of [`name`]).
pub fn parse(huawei_name: &str) -> Option<KeySpec> {
    KeySpec::ALL
        .iter()
        .copied()
        .find(|spec| name(*spec) == huawei_name)
}

/// Huawei's name of the key spec the core calls `aws_name`; other text is
/// returned as it is.
pub fn from_aws(aws_name: &str) -> &str {
    match KeySpec::parse(aws_name) {
        Some(spec) => name(spec),
        None => aws_name,
    }
}

/// The usage create-key gives a key of `spec` when the request names none:
/// as Huawei's create-key has it, `ENCRYPT_DECRYPT` for a symmetric key and
/// `SIGN_VERIFY` for an asymmetric one; `GENERATE_VERIFY_MAC` for HMAC keys.
pub fn default_usage(spec: KeySpec) -> KeyUsage {
    match spec {
        KeySpec::SymmetricDefault => KeyUsage::EncryptDecrypt,
        KeySpec::Hmac224 | KeySpec::Hmac256 | KeySpec::Hmac384 | KeySpec::Hmac512 => {
            KeyUsage::GenerateVerifyMac
        }
        _ => KeyUsage::SignVerify,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spec_has_one_huawei_name() {
        for spec in KeySpec::ALL {
            assert_eq!(parse(name(*spec)), Some(*spec), "{spec}");
            assert_eq!(from_aws(spec.as_str()), name(*spec));
        }
        assert_eq!(parse("ECC_NIST_P256"), None, "only Huawei's names");
        assert_eq!(from_aws("SM2"), "SM2");
    }
}
