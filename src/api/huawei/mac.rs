//! generate-mac and verify-mac on HMAC keys. As Huawei's API has it, the
//! message travels in base64 and the MAC in hex; verify-mac answers
//! `mac_valid` false for a MAC that does not match.

use super::context::{Ctx, OpResult, Reply};
use super::error::HuaweiError;
use super::ids;
use crate::kms::{KmsError, MacInput};
use serde_json::json;

/// The request's `message`, base64-decoded, and `mac_algorithm`.
fn message_and_algorithm(cx: &Ctx<'_>) -> Result<(Vec<u8>, String), HuaweiError> {
    let message = cx.fields.required_base64("message")?;
    Ok((message, cx.fields.required_str("mac_algorithm")?))
}

/// generate-mac.
pub fn generate_mac(cx: &mut Ctx<'_>) -> OpResult {
    let id = cx.key_id_field()?;
    let (message, algorithm) = message_and_algorithm(cx)?;
    let (key_id, out) = cx.with_key(&id, |kms, caller, key| {
        kms.generate_mac(
            caller,
            MacInput {
                key_id: Some(key),
                message: Some(&message),
                algorithm: Some(&algorithm),
                dry_run: false,
            },
        )
    })?;
    Ok(Reply::json(json!({
        "key_id": ids::to_huawei(&key_id),
        "mac_algorithm": out.algorithm,
        "mac": hex::encode(&out.mac),
    })))
}

/// verify-mac.
pub fn verify_mac(cx: &mut Ctx<'_>) -> OpResult {
    let id = cx.key_id_field()?;
    let (message, algorithm) = message_and_algorithm(cx)?;
    let mac = hex::decode(cx.fields.required_str("mac")?)
        .map_err(|_| HuaweiError::invalid("mac", "not hex"))?;
    let (key_id, valid) = cx.with_key(&id, |kms, caller, key| {
        let input = MacInput {
            key_id: Some(key),
            message: Some(&message),
            algorithm: Some(&algorithm),
            dry_run: false,
        };
        match kms.verify_mac(caller, input, Some(&mac)) {
            Ok(_) => Ok(true),
            Err(KmsError::InvalidMac) => Ok(false),
            Err(e) => Err(e),
        }
    })?;
    Ok(Reply::json(json!({
        "key_id": ids::to_huawei(&key_id),
        "mac_algorithm": algorithm,
        "mac_valid": valid,
    })))
}
