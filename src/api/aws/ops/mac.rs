//! HMAC keys: GenerateMac and VerifyMac.

use super::{GrantTokens, OpResult, check_grant_tokens, parse, reply};
use crate::api::aws::shapes::{Base64, Blob};
use crate::kms::{Caller, Kms, MacInput};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MacRequest {
    key_id: Option<String>,
    message: Option<Blob>,
    mac_algorithm: Option<String>,
    mac: Option<Blob>,
    dry_run: Option<bool>,
    grant_tokens: GrantTokens,
}

impl MacRequest {
    fn input(&self) -> MacInput<'_> {
        MacInput {
            key_id: self.key_id.as_deref(),
            message: self.message.as_ref().map(|b| b.0.as_slice()),
            algorithm: self.mac_algorithm.as_deref(),
            dry_run: self.dry_run.unwrap_or(false),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GenerateMacResponse<'a> {
    mac: Base64<'a>,
    mac_algorithm: &'static str,
    key_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct VerifyMacResponse<'a> {
    key_id: &'a str,
    mac_valid: bool,
    mac_algorithm: &'static str,
}

/// GenerateMac.
pub fn generate_mac(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: MacRequest = parse(body)?;
    check_grant_tokens(&r.grant_tokens)?;
    let out = kms.generate_mac(caller, r.input())?;
    reply(GenerateMacResponse {
        mac: Base64(&out.mac),
        mac_algorithm: out.algorithm,
        key_id: &out.key_arn,
    })
}

/// VerifyMac: a MAC that does not match is `KMSInvalidMacException`.
pub fn verify_mac(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: MacRequest = parse(body)?;
    check_grant_tokens(&r.grant_tokens)?;
    let (key_arn, algorithm) =
        kms.verify_mac(caller, r.input(), r.mac.as_ref().map(|b| b.0.as_slice()))?;
    reply(VerifyMacResponse {
        key_id: &key_arn,
        mac_valid: true,
        mac_algorithm: algorithm,
    })
}
