//! Imported key material: get-parameters-for-import, import-key-material
//! and delete-imported-key-material, on keys made by create-key with
//! `origin` `external`. Shapes from the SDK's models
//! (`GetParametersForImportRequestBody`, `CreateParametersForImportResponse`,
//! `ImportKeyMaterialRequestBody`, `OperateKeyRequestBody`):
//!
//! - the wrapping key is RSA_2048 (Huawei's only one); `public_key` is its
//!   DER SubjectPublicKeyInfo in base64, `import_token` base64, and
//!   `expiration_time` (when both stop being valid) Unix seconds;
//! - `encrypted_key_material` is the material RSA-OAEP-encrypted under
//!   `public_key` (base64); `expiration_time` (Unix seconds) is when the
//!   material expires, and without it the material does not expire;
//! - for an asymmetric key (RSA_2048/3072/4096, EC_P256, EC_P384,
//!   SECP256K1), `encrypted_key_material` is instead a temporary AES-256 key
//!   ("临时中间密钥", the model's words) RSA-OAEP-encrypted the same way, and
//!   `encrypted_privatekey` (base64) the PKCS#8 private key wrapped under it
//!   with AES key wrap with padding (RFC 5649, OpenSSL's
//!   `id-aes256-wrap-pad`, as Huawei's FAQ on wrapping asymmetric keys names
//!   it): the core's `RSA_AES_KEY_WRAP_*` in two fields;
//! - import-key-material and delete-imported-key-material answer 200
//!   without a body.

use super::context::{Ctx, OpResult, Reply};
use super::error::HuaweiError;
use super::ids;
use crate::kms::{ImportInput, PrivateKeyCarriage};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

/// The wrapping algorithms served: Huawei's `RSAES_OAEP_SHA_256`, and
/// `RSAES_OAEP_SHA_1` of its earlier API reference.
const WRAPPING_ALGORITHMS: &[&str] = &["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1"];
/// The wrapping key Huawei returns.
const WRAPPING_KEY_SPEC: &str = "RSA_2048";

/// get-parameters-for-import: `{"key_id", "import_token",
/// "expiration_time", "public_key"}`.
pub fn get_parameters(cx: &mut Ctx<'_>) -> OpResult {
    let id = cx.key_id_field()?;
    let algorithm = cx.fields.required_str("wrapping_algorithm")?;
    if !WRAPPING_ALGORITHMS.contains(&algorithm.as_str()) {
        return Err(HuaweiError::invalid(
            "wrapping_algorithm",
            format!(
                "{algorithm} is not supported; this deployment supports {}.",
                WRAPPING_ALGORITHMS.join(", ")
            ),
        ));
    }
    let (key_id, parameters) = cx.with_key(&id, |kms, caller, key| {
        kms.get_parameters_for_import(caller, Some(key), Some(&algorithm), Some(WRAPPING_KEY_SPEC))
    })?;
    Ok(Reply::json(json!({
        "key_id": ids::to_huawei(&key_id),
        "import_token": STANDARD.encode(&parameters.import_token),
        "expiration_time": parameters.valid_to / 1000,
        "public_key": STANDARD.encode(&parameters.public_key),
    })))
}

/// import-key-material: the material of a symmetric or HMAC key, or the
/// private key of an RSA or EC key (`encrypted_privatekey`, with the AES key
/// that wraps it in `encrypted_key_material`), expiring at
/// `expiration_time` when given (the core's `KEY_MATERIAL_EXPIRES` with
/// that ValidTo), else never (`KEY_MATERIAL_DOES_NOT_EXPIRE`).
pub fn import_material(cx: &mut Ctx<'_>) -> OpResult {
    let id = cx.key_id_field()?;
    let token = cx.fields.required_base64("import_token")?;
    let encrypted = cx.fields.required_base64("encrypted_key_material")?;
    let private_key = match cx.fields.str("encrypted_privatekey")? {
        Some(k) if !k.is_empty() => Some(cx.fields.required_base64("encrypted_privatekey")?),
        _ => None,
    };
    let valid_to = cx
        .fields
        .int("expiration_time")?
        .map(|seconds| seconds.saturating_mul(1000));
    let model = match valid_to {
        Some(_) => "KEY_MATERIAL_EXPIRES",
        None => "KEY_MATERIAL_DOES_NOT_EXPIRE",
    };
    cx.with_key_or(
        &id,
        |kms, caller, key| {
            let input = ImportInput {
                key_id: Some(key),
                import_token: Some(&token),
                encrypted: Some(&encrypted),
                expiration_model: Some(model),
                valid_to,
                import_type: None,
                description: None,
                material_id: None,
                private_key: PrivateKeyCarriage::Apart(private_key.as_deref()),
            };
            kms.import_key_material(caller, input)
        },
        HuaweiError::from_import,
    )?;
    Ok(Reply::empty())
}

/// delete-imported-key-material: the key goes back to pending import.
pub fn delete_material(cx: &mut Ctx<'_>) -> OpResult {
    let id = cx.key_id_field()?;
    let (_, deleted) = cx.with_key_or(
        &id,
        |kms, caller, key| kms.delete_imported_key_material(caller, Some(key), None),
        HuaweiError::from_kms,
    )?;
    if !deleted.had_material {
        return Err(HuaweiError::nothing_to_delete(&deleted.key_arn));
    }
    Ok(Reply::empty())
}
