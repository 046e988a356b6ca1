//! Keys: CreateKey, DescribeKey, ListKeys, UpdateKeyDescription, EnableKey,
//! DisableKey, ScheduleKeyDeletion and CancelKeyDeletion.

use super::{GrantTokens, OpResult, check_grant_tokens, done, parse, reply};
use crate::api::aws::shapes::{
    Epoch, KeyMetadata, KeyOnly, PageEnd, WireTag, key_metadata, tags_from_wire,
};
use crate::kms::{Caller, CreateKeyInput, Kms, key_arn};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateKey {
    description: Option<String>,
    key_usage: Option<String>,
    key_spec: Option<String>,
    customer_master_key_spec: Option<String>,
    origin: Option<String>,
    custom_key_store_id: Option<String>,
    xks_key_id: Option<String>,
    policy: Option<String>,
    tags: Option<Vec<WireTag>>,
    multi_region: Option<bool>,
    bypass_policy_lockout_safety_check: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeKey {
    key_id: Option<String>,
    grant_tokens: GrantTokens,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListKeys {
    limit: Option<i64>,
    marker: Option<String>,
    resource_owners: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateKeyDescription {
    key_id: Option<String>,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ScheduleKeyDeletion {
    key_id: Option<String>,
    pending_window_in_days: Option<i64>,
}

/// Response of CreateKey and DescribeKey.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct KeyMetadataResponse<'a> {
    key_metadata: KeyMetadata<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListKeysResponse {
    keys: Vec<KeyEntry>,
    #[serde(flatten)]
    page: PageEnd,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct KeyEntry {
    key_id: String,
    key_arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ScheduleKeyDeletionResponse {
    key_id: String,
    key_state: &'static str,
    pending_window_in_days: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    deletion_date: Option<Epoch>,
}

/// Response of CancelKeyDeletion.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct KeyIdResponse {
    key_id: String,
}

/// CreateKey.
pub fn create_key(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: CreateKey = parse(body)?;
    let input = CreateKeyInput {
        description: r.description,
        key_usage: r.key_usage,
        key_spec: r.key_spec,
        customer_master_key_spec: r.customer_master_key_spec,
        origin: r.origin,
        custom_key_store_id: r.custom_key_store_id,
        xks_key_id: r.xks_key_id,
        policy: r.policy,
        tags: r.tags.map(tags_from_wire).transpose()?.unwrap_or_default(),
        multi_region: r.multi_region,
        bypass_policy_lockout_safety_check: r.bypass_policy_lockout_safety_check.unwrap_or(false),
    };
    let key = kms.create_key(caller, input)?;
    reply(KeyMetadataResponse {
        key_metadata: key_metadata(&key),
    })
}

/// DescribeKey.
pub fn describe_key(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: DescribeKey = parse(body)?;
    check_grant_tokens(&r.grant_tokens)?;
    let key = kms.describe_key(caller, r.key_id.as_deref())?;
    reply(KeyMetadataResponse {
        key_metadata: key_metadata(&key),
    })
}

/// ListKeys.
pub fn list_keys(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: ListKeys = parse(body)?;
    let page = kms.list_keys(
        caller,
        r.limit,
        r.marker.as_deref(),
        r.resource_owners.as_deref(),
    )?;
    let keys = page
        .items
        .into_iter()
        .map(|id| KeyEntry {
            key_arn: key_arn(caller, &id),
            key_id: id,
        })
        .collect();
    reply(ListKeysResponse {
        keys,
        page: PageEnd::new(page.next_marker),
    })
}

/// UpdateKeyDescription.
pub fn update_key_description(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: UpdateKeyDescription = parse(body)?;
    kms.update_key_description(caller, r.key_id.as_deref(), r.description)?;
    done()
}

/// EnableKey; idempotent, as in AWS: an enabled key stays enabled.
pub fn enable_key(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: KeyOnly = parse(body)?;
    kms.enable_key(caller, r.key_id.as_deref())?;
    done()
}

/// DisableKey; idempotent, as in AWS: a disabled key stays disabled.
pub fn disable_key(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: KeyOnly = parse(body)?;
    kms.disable_key(caller, r.key_id.as_deref())?;
    done()
}

/// ScheduleKeyDeletion.
pub fn schedule_key_deletion(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: ScheduleKeyDeletion = parse(body)?;
    let s = kms.schedule_key_deletion(caller, r.key_id.as_deref(), r.pending_window_in_days)?;
    reply(ScheduleKeyDeletionResponse {
        key_id: key_arn(caller, &s.key.key_id),
        key_state: s.key.state.as_str(),
        pending_window_in_days: s.pending_window_days,
        deletion_date: s.deletion_date.map(Epoch),
    })
}

/// CancelKeyDeletion.
pub fn cancel_key_deletion(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: KeyOnly = parse(body)?;
    reply(KeyIdResponse {
        key_id: kms.cancel_key_deletion(caller, r.key_id.as_deref())?,
    })
}
