//! sign and verify with asymmetric keys. As Huawei's API has it, the
//! message and the signature travel in base64, `message_type` is `DIGEST`
//! unless the request says `RAW`, and verify answers `signature_valid`
//! "false" (a string, as the SDK's model declares it) for a signature that
//! does not verify.

use super::context::{Ctx, OpResult, Reply};
use super::error::HuaweiError;
use super::ids;
use crate::kms::{KmsError, SignInput};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

/// Huawei's message type when the request names none.
const DEFAULT_MESSAGE_TYPE: &str = "DIGEST";

/// The fields sign and verify share.
struct Signable {
    message: Vec<u8>,
    message_type: String,
    algorithm: String,
}

impl Signable {
    /// The request's `message` (base64), `message_type` and
    /// `signing_algorithm`.
    fn read(cx: &Ctx<'_>) -> Result<Self, HuaweiError> {
        Ok(Self {
            message: cx.fields.required_base64("message")?,
            message_type: cx
                .fields
                .str("message_type")?
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| DEFAULT_MESSAGE_TYPE.into()),
            algorithm: cx.fields.required_str("signing_algorithm")?,
        })
    }

    /// The core's input for the key `key_id`.
    fn input<'a>(&'a self, key_id: &'a str) -> SignInput<'a> {
        SignInput {
            key_id: Some(key_id),
            message: Some(&self.message),
            message_type: Some(&self.message_type),
            algorithm: Some(&self.algorithm),
            dry_run: false,
        }
    }
}

/// sign: `{"key_id", "signature"}`, the signature in base64 (DER for
/// ECDSA).
pub fn sign(cx: &mut Ctx<'_>) -> OpResult {
    let id = cx.key_id_field()?;
    let signable = Signable::read(cx)?;
    let (key_id, out) = cx.with_key(&id, |kms, caller, key| {
        kms.sign(caller, signable.input(key))
    })?;
    Ok(Reply::json(json!({
        "key_id": ids::to_huawei(&key_id),
        "signature": STANDARD.encode(&out.signature),
    })))
}

/// verify: `{"key_id", "signature_valid"}`, "true" or "false".
pub fn verify(cx: &mut Ctx<'_>) -> OpResult {
    let id = cx.key_id_field()?;
    let signable = Signable::read(cx)?;
    let signature = cx.fields.required_base64("signature")?;
    let (key_id, valid) = cx.with_key(&id, |kms, caller, key| {
        match kms.verify(caller, signable.input(key), Some(&signature)) {
            Ok(_) => Ok(true),
            Err(KmsError::InvalidSignature) => Ok(false),
            Err(e) => Err(e),
        }
    })?;
    Ok(Reply::json(json!({
        "key_id": ids::to_huawei(&key_id),
        "signature_valid": valid.to_string(),
    })))
}
