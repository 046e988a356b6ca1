//! Data keys (create-datakey, create-datakey-without-plaintext,
//! encrypt-datakey, decrypt-datakey), data (encrypt-data, decrypt-data)
//! and gen-random.
//!
//! Data keys and random bytes travel as hex; encrypt-data takes the
//! plaintext as a raw string and returns the ciphertext in base64. Every
//! ciphertext is Trent's ciphertext blob, so one made here decrypts through
//! the AWS dialect (after hex or base64 decoding) and the other way round.
//! Huawei's `additional_authenticated_data` string is the encryption
//! context `{"additional_authenticated_data": <string>}`.

use super::context::{Ctx, OpResult, Reply, bits_to_bytes};
use super::error::HuaweiError;
use super::ids;
use crate::kms::{DryRun, EncryptionContext};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The encryption-context key that carries Huawei's AAD.
pub const AAD_CONTEXT_KEY: &str = "additional_authenticated_data";
/// Longest AAD Huawei accepts, in bytes.
const MAX_AAD: usize = 128;
/// Longest data key, in bytes.
const MAX_DATAKEY: i64 = 1024;

/// The encryption context of the request's `additional_authenticated_data`.
pub(super) fn aad_context(cx: &Ctx<'_>) -> Result<EncryptionContext, HuaweiError> {
    let mut context = EncryptionContext::new();
    if let Some(aad) = cx
        .fields
        .str("additional_authenticated_data")?
        .filter(|a| !a.is_empty())
    {
        if aad.len() > MAX_AAD {
            return Err(HuaweiError::invalid(
                "additional_authenticated_data",
                format!("at most {MAX_AAD} bytes."),
            ));
        }
        context.insert(AAD_CONTEXT_KEY.to_string(), aad);
    }
    Ok(context)
}

/// The Huawei key id in a key ARN.
fn id_of_arn(arn: &str) -> String {
    ids::to_huawei(arn.rsplit_once("key/").map(|(_, id)| id).unwrap_or(arn))
}

/// Data key length in bytes for a Huawei data key spec.
fn spec_bytes(spec: &str) -> Option<i64> {
    match spec {
        "AES_256" | "HMAC_256" | "HMAC_SM3" => Some(32),
        "AES_128" | "SM4" => Some(16),
        "HMAC_384" => Some(48),
        "HMAC_512" => Some(64),
        _ => None,
    }
}

/// create-datakey and create-datakey-without-plaintext: `datakey_length`
/// in bits (a string), else `key_spec`, else 256 bits.
pub fn create_datakey(cx: &mut Ctx<'_>, with_plaintext: bool) -> OpResult {
    let id = cx.key_id_field()?;
    let code = if with_plaintext {
        "KMS.1901"
    } else {
        "KMS.2001"
    };
    let bytes = match (cx.fields.int("datakey_length")?, cx.fields.str("key_spec")?) {
        (Some(bits), _) => bits_to_bytes(bits, MAX_DATAKEY * 8, code, "datakey_length")?,
        (None, Some(spec)) if !spec.is_empty() => spec_bytes(&spec).ok_or_else(|| {
            HuaweiError::invalid("key_spec", format!("'{spec}' is not a data key spec."))
        })?,
        _ => 32,
    };
    let context = aad_context(cx)?;
    let (key_id, out) = cx.with_key(&id, |kms, caller, key| {
        kms.generate_data_key(
            caller,
            Some(key),
            None,
            Some(bytes),
            &context,
            with_plaintext,
            false,
        )
    })?;
    let mut v = json!({
        "key_id": ids::to_huawei(&key_id),
        "cipher_text": hex::encode(&out.ciphertext),
    });
    if let Some(plaintext) = &out.plaintext {
        v["plain_text"] = json!(hex::encode(plaintext.as_slice()));
    }
    Ok(Reply::json(v))
}

/// encrypt-datakey: `plain_text` is the hex of the data key followed by
/// its SHA-256; `datakey_plain_length` is the data key's length in bytes.
pub fn encrypt_datakey(cx: &mut Ctx<'_>) -> OpResult {
    let id = cx.key_id_field()?;
    let plain_hex = Zeroizing::new(cx.fields.required_str("plain_text")?);
    let length = cx.fields.required_int("datakey_plain_length")?;
    if !(1..=MAX_DATAKEY).contains(&length) {
        return Err(HuaweiError::bad(
            "KMS.2102",
            format!("datakey_plain_length must be between 1 and {MAX_DATAKEY}; got {length}."),
        ));
    }
    let plain = Zeroizing::new(
        hex::decode(plain_hex.as_str())
            .map_err(|_| HuaweiError::bad("KMS.2101", "Invalid plain_text: not hex."))?,
    );
    if plain.len() != length as usize + 32 {
        return Err(HuaweiError::bad(
            "KMS.2102",
            format!(
                "plain_text holds {} bytes; it must be the {length}-byte data key followed by \
                 its 32-byte SHA-256.",
                plain.len()
            ),
        ));
    }
    let (data_key, digest) = plain.split_at(length as usize);
    if Sha256::digest(data_key).as_slice() != digest {
        return Err(HuaweiError::bad(
            "KMS.2103",
            "Hash verification of the data encryption key failed.",
        ));
    }
    let context = aad_context(cx)?;
    let (key_id, out) = cx.with_key(&id, |kms, caller, key| {
        kms.encrypt(caller, Some(key), Some(data_key), &context, None, false)
    })?;
    Ok(Reply::json(json!({
        "key_id": ids::to_huawei(&key_id),
        "cipher_text": hex::encode(&out.ciphertext),
        "datakey_length": length.to_string(),
    })))
}

/// decrypt-datakey: `cipher_text` in hex; `datakey_cipher_length` is the
/// data key's length in bytes.
pub fn decrypt_datakey(cx: &mut Ctx<'_>) -> OpResult {
    let id = cx.key_id_field()?;
    let blob = hex::decode(cx.fields.required_str("cipher_text")?)
        .map_err(|_| HuaweiError::bad("KMS.2201", "Invalid cipher_text: not hex."))?;
    let length = cx.fields.required_int("datakey_cipher_length")?;
    if !(1..=MAX_DATAKEY).contains(&length) {
        return Err(HuaweiError::bad(
            "KMS.2202",
            format!("datakey_cipher_length must be between 1 and {MAX_DATAKEY}; got {length}."),
        ));
    }
    let context = aad_context(cx)?;
    let (_, out) = cx.with_key(&id, |kms, caller, key| {
        kms.decrypt(caller, Some(key), Some(&blob), &context, None, DryRun::Off)
    })?;
    if out.plaintext.len() as i64 != length {
        return Err(HuaweiError::bad(
            "KMS.2202",
            format!(
                "datakey_cipher_length is {length}, but the data key is {} bytes.",
                out.plaintext.len()
            ),
        ));
    }
    Ok(Reply::json(json!({
        "data_key": hex::encode(out.plaintext.as_slice()),
        "datakey_length": length.to_string(),
        "datakey_dgst": hex::encode(Sha256::digest(out.plaintext.as_slice())),
    })))
}

/// encrypt-data: `plain_text` is the data itself (1–4096 bytes of text).
pub fn encrypt_data(cx: &mut Ctx<'_>) -> OpResult {
    let id = cx.key_id_field()?;
    let plain = Zeroizing::new(cx.fields.required_str("plain_text")?);
    let algorithm = cx.fields.str("encryption_algorithm")?;
    let context = aad_context(cx)?;
    let (key_id, out) = cx.with_key(&id, |kms, caller, key| {
        kms.encrypt(
            caller,
            Some(key),
            Some(plain.as_bytes()),
            &context,
            algorithm.as_deref(),
            false,
        )
    })?;
    Ok(Reply::json(json!({
        "key_id": ids::to_huawei(&key_id),
        "cipher_text": STANDARD.encode(&out.ciphertext),
    })))
}

/// decrypt-data: `cipher_text` in base64; `key_id` is optional. Returns
/// the plaintext as text and in base64.
pub fn decrypt_data(cx: &mut Ctx<'_>) -> OpResult {
    let text = cx.fields.required_str("cipher_text")?;
    let blob = STANDARD
        .decode(text.trim())
        .map_err(|_| HuaweiError::bad("KMS.2201", "Invalid cipher_text: not base64."))?;
    let algorithm = cx.fields.str("encryption_algorithm")?;
    let context = aad_context(cx)?;
    let out = match cx.fields.str("key_id")?.filter(|k| !k.is_empty()) {
        Some(id) => {
            cx.with_key(&id, |kms, caller, key| {
                kms.decrypt(
                    caller,
                    Some(key),
                    Some(&blob),
                    &context,
                    algorithm.as_deref(),
                    DryRun::Off,
                )
            })?
            .1
        }
        None => cx
            .kms
            .decrypt(
                &cx.caller,
                None,
                Some(&blob),
                &context,
                algorithm.as_deref(),
                DryRun::Off,
            )
            .map_err(HuaweiError::from)?,
    };
    Ok(Reply::json(json!({
        "key_id": id_of_arn(&out.key_arn),
        "plain_text": String::from_utf8_lossy(&out.plaintext),
        "plain_text_base64": STANDARD.encode(out.plaintext.as_slice()),
    })))
}

/// gen-random: `random_data_length` in bits (a string); hex out.
pub fn gen_random(cx: &mut Ctx<'_>) -> OpResult {
    let bits = cx.fields.required_int("random_data_length")?;
    let bytes = bits_to_bytes(bits, 8192, "KMS.1801", "random_data_length")?;
    let random = cx
        .kms
        .generate_random(&cx.caller, Some(bytes), None)
        .map_err(HuaweiError::from)?;
    Ok(Reply::json(json!({ "random_data": hex::encode(random) })))
}
