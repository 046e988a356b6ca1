//! GenerateRandom.

use super::{OpResult, Recipient, parse, refuse_recipient, reply};
use crate::api::aws::shapes::Base64;
use crate::kms::{Caller, Kms};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GenerateRandom {
    number_of_bytes: Option<i64>,
    custom_key_store_id: Option<String>,
    recipient: Recipient,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GenerateRandomResponse<'a> {
    plaintext: Base64<'a>,
}

/// GenerateRandom.
pub fn generate_random(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: GenerateRandom = parse(body)?;
    refuse_recipient(&r.recipient)?;
    let bytes = kms.generate_random(caller, r.number_of_bytes, r.custom_key_store_id.as_deref())?;
    reply(GenerateRandomResponse {
        plaintext: Base64(&bytes),
    })
}
