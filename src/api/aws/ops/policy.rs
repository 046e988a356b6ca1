//! Key policies: PutKeyPolicy, GetKeyPolicy and ListKeyPolicies.

use super::{OpResult, done, parse, reply};
use crate::api::aws::shapes::{KeyPaging, PageEnd};
use crate::kms::{Caller, Kms};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyPolicy {
    key_id: Option<String>,
    policy_name: Option<String>,
    policy: Option<String>,
    bypass_policy_lockout_safety_check: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetKeyPolicyResponse {
    policy: String,
    policy_name: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListKeyPoliciesResponse {
    policy_names: Vec<String>,
    #[serde(flatten)]
    page: PageEnd,
}

/// PutKeyPolicy.
pub fn put_key_policy(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: KeyPolicy = parse(body)?;
    kms.put_key_policy(
        caller,
        r.key_id.as_deref(),
        r.policy_name.as_deref(),
        r.policy,
        r.bypass_policy_lockout_safety_check.unwrap_or(false),
    )?;
    done()
}

/// GetKeyPolicy.
pub fn get_key_policy(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: KeyPolicy = parse(body)?;
    let policy = kms.get_key_policy(caller, r.key_id.as_deref(), r.policy_name.as_deref())?;
    reply(GetKeyPolicyResponse {
        policy,
        policy_name: "default",
    })
}

/// ListKeyPolicies.
pub fn list_key_policies(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: KeyPaging = parse(body)?;
    let page = kms.list_key_policies(caller, r.key_id.as_deref(), r.limit, r.marker.as_deref())?;
    reply(ListKeyPoliciesResponse {
        policy_names: page.items,
        page: PageEnd::new(page.next_marker),
    })
}
