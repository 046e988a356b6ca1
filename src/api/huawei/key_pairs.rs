//! create-rsa-datakey-pair and create-ec-datakey-pair: a key pair made in
//! the token, its private key sealed under a symmetric key with the
//! request's `additional_authenticated_data` (the same encryption context as
//! the other data key operations).
//!
//! Huawei's reference fixes no encoding for the keys; each is base64, like
//! encrypt-data's ciphertext: `public_key` is the DER SubjectPublicKeyInfo,
//! `private_key_plain_text` the DER PKCS#8 private key (omitted when
//! `with_plain_text` is false), and `private_key_cipher_text` Trent's
//! ciphertext blob, which decrypt-data opens into `plain_text_base64` equal
//! to `private_key_plain_text`.

use super::context::{Ctx, OpResult, Reply};
use super::crypto::aad_context;
use super::error::HuaweiError;
use super::ids;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

/// The specs create-rsa-datakey-pair takes, as Huawei lists them.
pub const RSA_SPECS: &[&str] = &["RSA_2048", "RSA_3072", "RSA_4096"];

/// The specs create-ec-datakey-pair takes, as Huawei lists them (`SM2` is
/// refused by the core as unsupported).
pub const EC_SPECS: &[&str] = &[
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SM2",
];

/// create-rsa-datakey-pair (`specs` [`RSA_SPECS`]) and
/// create-ec-datakey-pair ([`EC_SPECS`]): `{"key_id", "key_spec",
/// "public_key", "private_key_cipher_text", "private_key_plain_text"}`.
pub fn create_datakey_pair(cx: &mut Ctx<'_>, specs: &[&str]) -> OpResult {
    let id = cx.key_id_field()?;
    let spec = cx.fields.required_str("key_spec")?;
    if !specs.contains(&spec.as_str()) {
        return Err(HuaweiError::invalid(
            "key_spec",
            format!("'{spec}' is not one of {}.", specs.join(", ")),
        ));
    }
    let with_plain_text = cx.fields.bool("with_plain_text")?.unwrap_or(true);
    let context = aad_context(cx)?;
    let (key_id, pair) = cx.with_key(&id, |kms, caller, key| {
        kms.generate_data_key_pair(
            caller,
            Some(key),
            Some(&spec),
            &context,
            with_plain_text,
            false,
        )
    })?;
    let mut v = json!({
        "key_id": ids::to_huawei(&key_id),
        "key_spec": pair.spec,
        "public_key": STANDARD.encode(&pair.public_key),
        "private_key_cipher_text": STANDARD.encode(&pair.private_key_ciphertext),
    });
    if let Some(private_key) = &pair.private_key {
        v["private_key_plain_text"] = json!(STANDARD.encode(private_key.as_slice()));
    }
    Ok(Reply::json(v))
}
