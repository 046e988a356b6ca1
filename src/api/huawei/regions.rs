//! Multi-Region keys: replicate (`POST /v2/{project_id}/kms/keys/{key_id}/replicate`),
//! update-primary-region (`PUT .../update-primary-region`) and the
//! regions keys may be replicated to (`GET /v2/{project_id}/kms/regions`).
//! A replica keeps the primary's key id, as in the AWS dialect.

use super::context::{Ctx, OpResult, Reply};
use super::error::HuaweiError;
use super::ids;
use super::keys::{aws_alias, require_free_alias};
use crate::kms::{KmsError, ReplicaInput, Tag};
use serde_json::{Value, json};

/// A `key_id` in the body must name the same key as the path.
fn check_body_key(cx: &Ctx<'_>, path_key: &str) -> Result<(), HuaweiError> {
    match cx.fields.str("key_id")?.filter(|k| !k.is_empty()) {
        Some(k) if k != path_key => Err(HuaweiError::bad(
            "KMS.0205",
            format!("The key_id in the body ({k}) differs from the one in the path ({path_key})."),
        )),
        _ => Ok(()),
    }
}

/// replicate: `replica_region` and/or `replica_project_id` (which must be a
/// project of the caller's account in that region), optional `key_alias`,
/// `key_description` and `tags` for the replica. Responds with the
/// replica's `key_id`, `domain_id` and `region`.
pub fn replicate(cx: &mut Ctx<'_>, key: &str) -> OpResult {
    check_body_key(cx, key)?;
    let region = replica_region(cx)?;
    cx.confined_to(&region)?;
    let alias = cx
        .fields
        .str("key_alias")?
        .filter(|a| !a.is_empty())
        .map(|a| aws_alias(&a))
        .transpose()?;
    let description = cx.fields.str("key_description")?;
    let tags = replica_tags(cx)?;
    let replica_caller = cx.caller_in(&region);
    if cx.kms.hosts(&region) {
        if let Some(alias) = &alias {
            require_free_alias(cx, &replica_caller, alias)?;
        }
    }
    let (key_id, _) = cx.with_key(key, |kms, caller, id| {
        kms.replicate_key(
            caller,
            Some(id),
            Some(&region),
            ReplicaInput {
                description: description.clone(),
                policy: None,
                tags: tags.clone(),
                bypass_policy_lockout_safety_check: false,
            },
        )
    })?;
    if let Some(alias) = &alias {
        cx.kms
            .create_alias(&replica_caller, Some(alias), Some(&key_id))
            .map_err(|e| match e {
                KmsError::AlreadyExists(m) => HuaweiError::bad("KMS.1104", m),
                other => other.into(),
            })?;
    }
    Ok(Reply::json(json!({
        "key_id": ids::to_huawei(&key_id),
        "domain_id": cx.caller.account_id,
        "region": region,
    })))
}

/// The replica's region: `replica_region`, or the region of
/// `replica_project_id` (which must agree, and belong to the caller).
fn replica_region(cx: &Ctx<'_>) -> Result<String, HuaweiError> {
    let project = match cx
        .fields
        .str("replica_project_id")?
        .filter(|p| !p.is_empty())
    {
        Some(id) => Some(cx.dialect.projects().get(&id).ok_or_else(|| {
            HuaweiError::invalid(
                "replica_project_id",
                format!("project '{id}' is not configured."),
            )
        })?),
        None => None,
    };
    let region = match (
        cx.fields.str("replica_region")?.filter(|r| !r.is_empty()),
        &project,
    ) {
        (Some(r), Some(p)) if p.region != r => {
            return Err(HuaweiError::invalid(
                "replica_project_id",
                format!("project {} is in {}, not {r}.", p.id, p.region),
            ));
        }
        (Some(r), _) => r,
        (None, Some(p)) => p.region.clone(),
        (None, None) => return Err(HuaweiError::missing("replica_region")),
    };
    if let Some(p) = &project {
        if p.account != cx.caller.account_id {
            return Err(HuaweiError::foreign_project(&p.id));
        }
    }
    Ok(region)
}

/// The replica's tags from the `tags` list, if given.
fn replica_tags(cx: &Ctx<'_>) -> Result<Option<Vec<Tag>>, HuaweiError> {
    match cx.fields.get("tags") {
        None => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|t| {
                let field = |n: &str| t.get(n).and_then(Value::as_str).map(str::to_string);
                Ok(Tag {
                    key: field("key").ok_or_else(|| {
                        HuaweiError::bad("KMS.0406", "Invalid value for the key field in tag.")
                    })?,
                    value: field("value").unwrap_or_default(),
                })
            })
            .collect::<Result<_, HuaweiError>>()
            .map(Some),
        Some(_) => Err(HuaweiError::invalid("tags", "expected a list")),
    }
}

/// update-primary-region: `{key_id, primary_region}` in and out. The
/// change completes in the background, as UpdatePrimaryRegion does.
pub fn update_primary_region(cx: &mut Ctx<'_>, key: &str) -> OpResult {
    check_body_key(cx, key)?;
    let region = cx.fields.required_str("primary_region")?;
    cx.confined_to(&region)?;
    let (key_id, ()) = cx.with_key(key, |kms, caller, id| {
        kms.update_primary_region(caller, Some(id), Some(&region))
    })?;
    Ok(Reply::json(json!({
        "key_id": ids::to_huawei(&key_id),
        "primary_region": region,
    })))
}

/// regions: the hosted regions, `limit` (default 10) from `offset`.
pub fn list_regions(cx: &mut Ctx<'_>) -> OpResult {
    let param = |name: &str| -> Result<Option<i64>, HuaweiError> {
        match cx.query.iter().find(|(k, _)| k == name) {
            None => Ok(None),
            Some((_, v)) => v
                .parse::<i64>()
                .map(Some)
                .map_err(|_| HuaweiError::invalid(name, format!("'{v}' is not an integer"))),
        }
    };
    let limit = param("limit")?.unwrap_or(10);
    let offset = param("offset")?.unwrap_or(0);
    if limit < 1 || offset < 0 {
        return Err(HuaweiError::invalid(
            "limit",
            "limit must be positive and offset not negative.",
        ));
    }
    let regions: Vec<String> = cx
        .kms
        .region_names()
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .collect();
    Ok(Reply::json(json!({ "regions": regions })))
}
