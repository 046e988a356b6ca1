//! Request shapes and the operation table of the AWS dialect.

use super::error::AwsError;
use super::shapes::{Blob, WireTag, blob, key_metadata, tags_from_wire, tags_to_wire, timestamp};
use crate::kms::{
    Caller, CreateKeyInput, EncryptionContext, GrantConstraints, GrantInput, Kms, MaterialEntry,
    ReplicaInput, alias_arn, constraints_of, key_arn, key_arn_in,
};
use crate::store::GrantRecord;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Every operation this dialect serves, as named in `X-Amz-Target`.
pub const OPERATIONS: &[&str] = &[
    "CancelKeyDeletion",
    "CreateAlias",
    "CreateGrant",
    "CreateKey",
    "Decrypt",
    "DeleteAlias",
    "DescribeKey",
    "DisableKey",
    "DisableKeyRotation",
    "EnableKey",
    "EnableKeyRotation",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateRandom",
    "GetKeyPolicy",
    "GetKeyRotationStatus",
    "ListAliases",
    "ListGrants",
    "ListKeyPolicies",
    "ListKeyRotations",
    "ListKeys",
    "ListResourceTags",
    "ListRetirableGrants",
    "PutKeyPolicy",
    "ReEncrypt",
    "ReplicateKey",
    "RetireGrant",
    "RevokeGrant",
    "RotateKeyOnDemand",
    "ScheduleKeyDeletion",
    "TagResource",
    "UntagResource",
    "UpdateAlias",
    "UpdateKeyDescription",
    "UpdatePrimaryRegion",
];

type OpResult = Result<Value, AwsError>;

/// Operations whose work is cryptography on cached keys, with no database
/// write: they may run on the async workers when `inline_crypto` is set.
const CRYPTO_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateRandom",
    "ReEncrypt",
];

/// Whether `op` is one of the cryptographic operations.
pub fn is_crypto(op: &str) -> bool {
    CRYPTO_OPERATIONS.contains(&op)
}

/// Decodes the body (empty means `{}`) into an operation's request shape.
/// The body must be a JSON object, as AWS JSON 1.1 requires.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, AwsError> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    let body = match start.map(|i| body[i]) {
        None => &b"{}"[..],
        Some(b'{') => body,
        Some(_) => {
            return Err(AwsError::Serialization(
                "The request body must be a JSON object.".into(),
            ));
        }
    };
    serde_json::from_slice(body).map_err(|e| {
        let detail = e.to_string();
        // Keep serde's description of the problem, not our type names.
        let detail = match detail.find(", expected struct") {
            Some(i) => format!(
                "{}{}",
                &detail[..i],
                &detail[detail.rfind(" at line").unwrap_or(detail.len())..]
            ),
            None => detail,
        };
        AwsError::Serialization(format!("Could not parse request body: {detail}"))
    })
}

/// Runs one operation. `op` must be one of [`OPERATIONS`].
pub fn dispatch(kms: &Kms, caller: &Caller, op: &str, body: &[u8]) -> OpResult {
    match op {
        "CreateKey" => create_key(kms, caller, parse(body)?),
        "DescribeKey" => {
            let r: KeyOnly = parse(body)?;
            let key = kms.describe_key(caller, r.key_id.as_deref())?;
            Ok(json!({ "KeyMetadata": key_metadata(&key) }))
        }
        "ListKeys" => {
            let r: Paging = parse(body)?;
            let page = kms.list_keys(caller, r.limit, r.marker.as_deref())?;
            let keys: Vec<Value> = page
                .items
                .iter()
                .map(|id| json!({ "KeyId": id, "KeyArn": key_arn(caller, id) }))
                .collect();
            Ok(paged(json!({ "Keys": keys }), page.next_marker))
        }
        "UpdateKeyDescription" => {
            let r: UpdateKeyDescription = parse(body)?;
            kms.update_key_description(caller, r.key_id.as_deref(), r.description)?;
            Ok(json!({}))
        }
        "EnableKey" => {
            let r: KeyOnly = parse(body)?;
            kms.enable_key(caller, r.key_id.as_deref())?;
            Ok(json!({}))
        }
        "DisableKey" => {
            let r: KeyOnly = parse(body)?;
            kms.disable_key(caller, r.key_id.as_deref())?;
            Ok(json!({}))
        }
        "ScheduleKeyDeletion" => {
            let r: ScheduleKeyDeletion = parse(body)?;
            let s =
                kms.schedule_key_deletion(caller, r.key_id.as_deref(), r.pending_window_in_days)?;
            let mut v = json!({
                "KeyId": key_arn(caller, &s.key.key_id),
                "KeyState": s.key.state.as_str(),
                "PendingWindowInDays": s.pending_window_days,
            });
            if let Some(date) = s.deletion_date {
                v["DeletionDate"] = timestamp(date);
            }
            Ok(v)
        }
        "CancelKeyDeletion" => {
            let r: KeyOnly = parse(body)?;
            Ok(json!({ "KeyId": kms.cancel_key_deletion(caller, r.key_id.as_deref())? }))
        }
        "Encrypt" => {
            let r: Encrypt = parse(body)?;
            let out = kms.encrypt(
                caller,
                r.key_id.as_deref(),
                r.plaintext.as_ref().map(|b| b.0.as_slice()),
                &r.encryption_context.unwrap_or_default(),
                r.encryption_algorithm.as_deref(),
                r.dry_run.unwrap_or(false),
            )?;
            Ok(json!({
                "CiphertextBlob": blob(&out.ciphertext),
                "KeyId": out.key_arn,
                "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
            }))
        }
        "Decrypt" => {
            let r: Decrypt = parse(body)?;
            let out = kms.decrypt(
                caller,
                r.key_id.as_deref(),
                r.ciphertext_blob.as_ref().map(|b| b.0.as_slice()),
                &r.encryption_context.unwrap_or_default(),
                r.encryption_algorithm.as_deref(),
                r.dry_run.unwrap_or(false),
            )?;
            Ok(json!({
                "KeyId": out.key_arn,
                "Plaintext": blob(&out.plaintext),
                "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
                "KeyMaterialId": out.material_id,
            }))
        }
        "ReEncrypt" => {
            let r: ReEncrypt = parse(body)?;
            let out = kms.re_encrypt(
                caller,
                r.ciphertext_blob.as_ref().map(|b| b.0.as_slice()),
                r.source_key_id.as_deref(),
                &r.source_encryption_context.unwrap_or_default(),
                r.destination_key_id.as_deref(),
                &r.destination_encryption_context.unwrap_or_default(),
                (
                    r.source_encryption_algorithm.as_deref(),
                    r.destination_encryption_algorithm.as_deref(),
                ),
                r.dry_run.unwrap_or(false),
            )?;
            Ok(json!({
                "CiphertextBlob": blob(&out.ciphertext),
                "SourceKeyId": out.source_key_arn,
                "KeyId": out.key_arn,
                "SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
                "DestinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
                "SourceKeyMaterialId": out.source_material_id,
                "DestinationKeyMaterialId": out.destination_material_id,
            }))
        }
        "GenerateDataKey" | "GenerateDataKeyWithoutPlaintext" => {
            let r: GenerateDataKey = parse(body)?;
            let out = kms.generate_data_key(
                caller,
                r.key_id.as_deref(),
                r.key_spec.as_deref(),
                r.number_of_bytes,
                &r.encryption_context.unwrap_or_default(),
                op == "GenerateDataKey",
                r.dry_run.unwrap_or(false),
            )?;
            let mut v = json!({
                "CiphertextBlob": blob(&out.ciphertext),
                "KeyId": out.key_arn,
                "KeyMaterialId": out.material_id,
            });
            if let Some(plaintext) = &out.plaintext {
                v["Plaintext"] = blob(plaintext);
            }
            Ok(v)
        }
        "GenerateRandom" => {
            let r: GenerateRandom = parse(body)?;
            let bytes =
                kms.generate_random(caller, r.number_of_bytes, r.custom_key_store_id.as_deref())?;
            Ok(json!({ "Plaintext": blob(&bytes) }))
        }
        "CreateAlias" | "UpdateAlias" => {
            let r: AliasTarget = parse(body)?;
            let (name, target) = (r.alias_name.as_deref(), r.target_key_id.as_deref());
            if op == "CreateAlias" {
                kms.create_alias(caller, name, target)?;
            } else {
                kms.update_alias(caller, name, target)?;
            }
            Ok(json!({}))
        }
        "DeleteAlias" => {
            let r: AliasTarget = parse(body)?;
            kms.delete_alias(caller, r.alias_name.as_deref())?;
            Ok(json!({}))
        }
        "ListAliases" => {
            let r: KeyPaging = parse(body)?;
            let page =
                kms.list_aliases(caller, r.key_id.as_deref(), r.limit, r.marker.as_deref())?;
            let aliases: Vec<Value> = page
                .items
                .iter()
                .map(|a| {
                    json!({
                        "AliasName": a.alias_name,
                        "AliasArn": alias_arn(caller, &a.alias_name),
                        "TargetKeyId": a.key_id,
                        "CreationDate": timestamp(a.creation_date),
                        "LastUpdatedDate": timestamp(a.last_updated),
                    })
                })
                .collect();
            Ok(paged(json!({ "Aliases": aliases }), page.next_marker))
        }
        "TagResource" => {
            let r: TagResource = parse(body)?;
            let tags = r.tags.map(tags_from_wire).transpose()?;
            kms.tag_resource(caller, r.key_id.as_deref(), tags)?;
            Ok(json!({}))
        }
        "UntagResource" => {
            let r: UntagResource = parse(body)?;
            kms.untag_resource(caller, r.key_id.as_deref(), r.tag_keys)?;
            Ok(json!({}))
        }
        "ListResourceTags" => {
            let r: KeyPaging = parse(body)?;
            let page =
                kms.list_resource_tags(caller, r.key_id.as_deref(), r.limit, r.marker.as_deref())?;
            Ok(paged(
                json!({ "Tags": tags_to_wire(&page.items) }),
                page.next_marker,
            ))
        }
        "PutKeyPolicy" => {
            let r: KeyPolicy = parse(body)?;
            kms.put_key_policy(
                caller,
                r.key_id.as_deref(),
                r.policy_name.as_deref(),
                r.policy,
                r.bypass_policy_lockout_safety_check.unwrap_or(false),
            )?;
            Ok(json!({}))
        }
        "GetKeyPolicy" => {
            let r: KeyPolicy = parse(body)?;
            let policy =
                kms.get_key_policy(caller, r.key_id.as_deref(), r.policy_name.as_deref())?;
            Ok(json!({ "Policy": policy, "PolicyName": "default" }))
        }
        "ListKeyPolicies" => {
            let r: KeyPaging = parse(body)?;
            let names = kms.list_key_policies(caller, r.key_id.as_deref(), r.limit)?;
            Ok(json!({ "PolicyNames": names, "Truncated": false }))
        }
        "ReplicateKey" => {
            let r: ReplicateKey = parse(body)?;
            let input = ReplicaInput {
                description: r.description,
                policy: r.policy,
                tags: r.tags.map(tags_from_wire).transpose()?,
                bypass_policy_lockout_safety_check: r
                    .bypass_policy_lockout_safety_check
                    .unwrap_or(false),
            };
            let replica = kms.replicate_key(
                caller,
                r.key_id.as_deref(),
                r.replica_region.as_deref(),
                input,
            )?;
            Ok(json!({
                "ReplicaKeyMetadata": key_metadata(&replica.view),
                "ReplicaPolicy": replica.view.key.policy.as_ref(),
                "ReplicaTags": tags_to_wire(&replica.tags),
            }))
        }
        "UpdatePrimaryRegion" => {
            let r: UpdatePrimaryRegion = parse(body)?;
            kms.update_primary_region(caller, r.key_id.as_deref(), r.primary_region.as_deref())?;
            Ok(json!({}))
        }
        "CreateGrant" => {
            let r: CreateGrant = parse(body)?;
            let created = kms.create_grant(
                caller,
                r.key_id.as_deref(),
                GrantInput {
                    grantee: r.grantee_principal,
                    retiring: r.retiring_principal,
                    operations: r.operations,
                    constraints: r.constraints,
                    name: r.name,
                    dry_run: r.dry_run.unwrap_or(false),
                },
            )?;
            Ok(json!({ "GrantId": created.grant_id, "GrantToken": created.token }))
        }
        "ListGrants" => {
            let r: ListGrants = parse(body)?;
            let page = kms.list_grants(
                caller,
                r.key_id.as_deref(),
                r.grant_id.as_deref(),
                r.grantee_principal.as_deref(),
                r.limit,
                r.marker.as_deref(),
            )?;
            let grants: Vec<Value> = page.items.iter().map(|g| grant_entry(caller, g)).collect();
            Ok(paged(json!({ "Grants": grants }), page.next_marker))
        }
        "ListRetirableGrants" => {
            let r: ListRetirableGrants = parse(body)?;
            let page = kms.list_retirable_grants(
                caller,
                r.retiring_principal.as_deref(),
                r.limit,
                r.marker.as_deref(),
            )?;
            let grants: Vec<Value> = page.items.iter().map(|g| grant_entry(caller, g)).collect();
            Ok(paged(json!({ "Grants": grants }), page.next_marker))
        }
        "RetireGrant" => {
            let r: GrantRef = parse(body)?;
            kms.retire_grant(
                caller,
                r.grant_token.as_deref(),
                r.key_id.as_deref(),
                r.grant_id.as_deref(),
            )?;
            Ok(json!({}))
        }
        "RevokeGrant" => {
            let r: GrantRef = parse(body)?;
            kms.revoke_grant(caller, r.key_id.as_deref(), r.grant_id.as_deref())?;
            Ok(json!({}))
        }
        "EnableKeyRotation" => {
            let r: EnableKeyRotation = parse(body)?;
            kms.enable_key_rotation(caller, r.key_id.as_deref(), r.rotation_period_in_days)?;
            Ok(json!({}))
        }
        "DisableKeyRotation" => {
            let r: KeyOnly = parse(body)?;
            kms.disable_key_rotation(caller, r.key_id.as_deref())?;
            Ok(json!({}))
        }
        "GetKeyRotationStatus" => {
            let r: KeyOnly = parse(body)?;
            let s = kms.get_key_rotation_status(caller, r.key_id.as_deref())?;
            let mut v = json!({
                "KeyId": s.key_arn,
                "KeyRotationEnabled": s.period_days.is_some(),
            });
            if let (Some(period), Some(next)) = (s.period_days, s.next_rotation_date) {
                v["RotationPeriodInDays"] = json!(period);
                v["NextRotationDate"] = timestamp(next);
            }
            Ok(v)
        }
        "RotateKeyOnDemand" => {
            let r: KeyOnly = parse(body)?;
            Ok(json!({ "KeyId": kms.rotate_key_on_demand(caller, r.key_id.as_deref())? }))
        }
        "ListKeyRotations" => {
            let r: ListKeyRotations = parse(body)?;
            let page = kms.list_key_rotations(
                caller,
                r.key_id.as_deref(),
                r.include_key_material.as_deref(),
                r.limit,
                r.marker.as_deref(),
            )?;
            let rotations: Vec<Value> = page.items.iter().map(rotation_entry).collect();
            Ok(paged(json!({ "Rotations": rotations }), page.next_marker))
        }
        other => Err(AwsError::UnknownOperation(format!(
            "Operation {other} is not supported."
        ))),
    }
}

fn create_key(kms: &Kms, caller: &Caller, r: CreateKey) -> OpResult {
    let input = CreateKeyInput {
        description: r.description,
        key_usage: r.key_usage,
        key_spec: r.key_spec,
        customer_master_key_spec: r.customer_master_key_spec,
        origin: r.origin,
        custom_key_store_id: r.custom_key_store_id,
        policy: r.policy,
        tags: r.tags.map(tags_from_wire).transpose()?.unwrap_or_default(),
        multi_region: r.multi_region,
        bypass_policy_lockout_safety_check: r.bypass_policy_lockout_safety_check.unwrap_or(false),
    };
    let key = kms.create_key(caller, input)?;
    Ok(json!({ "KeyMetadata": key_metadata(&key) }))
}

fn grant_entry(caller: &Caller, g: &GrantRecord) -> Value {
    let mut v = json!({
        "KeyId": key_arn_in(&g.region, &caller.account_id, &g.key_id),
        "GrantId": g.grant_id,
        "CreationDate": timestamp(g.creation_date),
        "GranteePrincipal": g.grantee,
        "IssuingAccount": format!("arn:aws:iam::{}:root", g.issuing_account),
        "Operations": g.operations,
    });
    if let Some(name) = &g.name {
        v["Name"] = json!(name);
    }
    if let Some(retiring) = &g.retiring {
        v["RetiringPrincipal"] = json!(retiring);
    }
    if let Some(c) = constraints_of(g) {
        v["Constraints"] = serde_json::to_value(c).unwrap_or(Value::Null);
    }
    v
}

fn rotation_entry(e: &MaterialEntry) -> Value {
    let mut v = json!({
        "KeyId": e.key_id,
        "KeyMaterialId": e.material.material_id,
        "KeyMaterialState": if e.current { "CURRENT" } else { "NON_CURRENT" },
    });
    if let Some(kind) = e.material.rotation_type {
        v["RotationDate"] = timestamp(e.material.creation_date);
        v["RotationType"] = json!(kind.as_str());
    }
    v
}

fn paged(mut v: Value, next_marker: Option<String>) -> Value {
    v["Truncated"] = json!(next_marker.is_some());
    if let Some(marker) = next_marker {
        v["NextMarker"] = json!(marker);
    }
    v
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyOnly {
    key_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Paging {
    limit: Option<i64>,
    marker: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyPaging {
    key_id: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateKey {
    description: Option<String>,
    key_usage: Option<String>,
    key_spec: Option<String>,
    customer_master_key_spec: Option<String>,
    origin: Option<String>,
    custom_key_store_id: Option<String>,
    policy: Option<String>,
    tags: Option<Vec<WireTag>>,
    multi_region: Option<bool>,
    bypass_policy_lockout_safety_check: Option<bool>,
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

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Encrypt {
    key_id: Option<String>,
    plaintext: Option<Blob>,
    encryption_context: Option<EncryptionContext>,
    encryption_algorithm: Option<String>,
    dry_run: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Decrypt {
    key_id: Option<String>,
    ciphertext_blob: Option<Blob>,
    encryption_context: Option<EncryptionContext>,
    encryption_algorithm: Option<String>,
    dry_run: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReEncrypt {
    ciphertext_blob: Option<Blob>,
    source_key_id: Option<String>,
    source_encryption_context: Option<EncryptionContext>,
    destination_key_id: Option<String>,
    destination_encryption_context: Option<EncryptionContext>,
    source_encryption_algorithm: Option<String>,
    destination_encryption_algorithm: Option<String>,
    dry_run: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GenerateDataKey {
    key_id: Option<String>,
    key_spec: Option<String>,
    number_of_bytes: Option<i64>,
    encryption_context: Option<EncryptionContext>,
    dry_run: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GenerateRandom {
    number_of_bytes: Option<i64>,
    custom_key_store_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AliasTarget {
    alias_name: Option<String>,
    target_key_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagResource {
    key_id: Option<String>,
    tags: Option<Vec<WireTag>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UntagResource {
    key_id: Option<String>,
    tag_keys: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReplicateKey {
    key_id: Option<String>,
    replica_region: Option<String>,
    description: Option<String>,
    policy: Option<String>,
    tags: Option<Vec<WireTag>>,
    bypass_policy_lockout_safety_check: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdatePrimaryRegion {
    key_id: Option<String>,
    primary_region: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateGrant {
    key_id: Option<String>,
    grantee_principal: Option<String>,
    retiring_principal: Option<String>,
    operations: Option<Vec<String>>,
    constraints: Option<GrantConstraints>,
    name: Option<String>,
    dry_run: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListGrants {
    key_id: Option<String>,
    grant_id: Option<String>,
    grantee_principal: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListRetirableGrants {
    retiring_principal: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GrantRef {
    grant_token: Option<String>,
    key_id: Option<String>,
    grant_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EnableKeyRotation {
    key_id: Option<String>,
    rotation_period_in_days: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListKeyRotations {
    key_id: Option<String>,
    include_key_material: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyPolicy {
    key_id: Option<String>,
    policy_name: Option<String>,
    policy: Option<String>,
    bypass_policy_lockout_safety_check: Option<bool>,
}
