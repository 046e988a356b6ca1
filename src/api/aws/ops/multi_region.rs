//! Multi-Region keys: ReplicateKey and UpdatePrimaryRegion.

use super::{OpResult, done, parse, reply};
use crate::api::aws::shapes::{
    KeyMetadata, TagEntry, WireTag, key_metadata, tags_from_wire, tags_to_wire,
};
use crate::kms::{Caller, Kms, ReplicaInput};
use serde::{Deserialize, Serialize};

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

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ReplicateKeyResponse<'a> {
    replica_key_metadata: KeyMetadata<'a>,
    replica_policy: &'a str,
    /// Absent when the replica has no tags, as in AWS's recorded answers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    replica_tags: Vec<TagEntry<'a>>,
}

/// ReplicateKey.
pub fn replicate_key(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: ReplicateKey = parse(body)?;
    let input = ReplicaInput {
        description: r.description,
        policy: r.policy,
        tags: r.tags.map(tags_from_wire).transpose()?,
        bypass_policy_lockout_safety_check: r.bypass_policy_lockout_safety_check.unwrap_or(false),
    };
    let replica = kms.replicate_key(
        caller,
        r.key_id.as_deref(),
        r.replica_region.as_deref(),
        input,
    )?;
    reply(ReplicateKeyResponse {
        replica_key_metadata: key_metadata(&replica.view),
        replica_policy: &replica.view.key.policy,
        replica_tags: tags_to_wire(&replica.tags),
    })
}

/// UpdatePrimaryRegion.
pub fn update_primary_region(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: UpdatePrimaryRegion = parse(body)?;
    kms.update_primary_region(caller, r.key_id.as_deref(), r.primary_region.as_deref())?;
    done()
}
