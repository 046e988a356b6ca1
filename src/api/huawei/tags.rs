//! Tags: create one (`POST .../{key_id}/tags`), create or delete several
//! (`POST .../{key_id}/tags/action`), delete one (`DELETE
//! .../{key_id}/tags/{key}`), show a key's (`GET .../{key_id}/tags`), list
//! the project's (`GET .../kms/tags`), and find keys by tag
//! (`POST .../kms/resource_instances/action`). The same tags as the AWS
//! dialect's TagResource and ListResourceTags.

use super::body::Fields;
use super::context::{Ctx, OpResult, Reply, alias_of, key_details};
use super::error::HuaweiError;
use super::ids;
use crate::kms::{Caller, Kms, Tag};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// `{"key": ..., "value": ...}` to a tag.
fn tag_of(v: &Value) -> Result<Tag, HuaweiError> {
    let field = |name: &str| v.get(name).and_then(Value::as_str).map(str::to_string);
    let key = field("key")
        .filter(|k| !k.is_empty())
        .ok_or_else(|| HuaweiError::bad("KMS.0406", "Invalid value for the key field in tag."))?;
    Ok(Tag {
        key,
        value: field("value").unwrap_or_default(),
    })
}

fn tag_json(t: &Tag) -> Value {
    json!({ "key": t.key, "value": t.value })
}

/// Every tag of a key (None when the caller may not read them).
fn tags_of(kms: &Kms, caller: &Caller, key_id: &str) -> Result<Vec<Tag>, crate::kms::KmsError> {
    let mut tags = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = kms.list_resource_tags(caller, Some(key_id), Some(50), marker.as_deref())?;
        tags.extend(page.items);
        match page.next_marker {
            Some(m) => marker = Some(m),
            None => return Ok(tags),
        }
    }
}

/// `POST /v1.0/{project_id}/kms/{key_id}/tags` with `{"tag": {key, value}}`.
pub fn create(cx: &mut Ctx<'_>, key: &str) -> OpResult {
    let tag = tag_of(
        cx.fields
            .get("tag")
            .ok_or_else(|| HuaweiError::missing("tag"))?,
    )?;
    cx.with_key(key, |kms, caller, id| {
        kms.tag_resource(caller, Some(id), Some(vec![tag.clone()]))
    })?;
    Ok(Reply::no_content())
}

/// `POST /v1.0/{project_id}/kms/{key_id}/tags/action` with `tags` and
/// `action` "create" or "delete".
pub fn batch(cx: &mut Ctx<'_>, key: &str) -> OpResult {
    let action = cx.fields.required_str("action")?;
    let tags: Vec<Tag> = match cx.fields.get("tags") {
        Some(Value::Array(items)) if !items.is_empty() => {
            items.iter().map(tag_of).collect::<Result<_, _>>()?
        }
        Some(Value::Array(_)) | None => {
            return Err(HuaweiError::bad(
                "KMS.0401",
                "The tag list cannot be empty.",
            ));
        }
        Some(_) => return Err(HuaweiError::invalid("tags", "expected a list")),
    };
    match action.as_str() {
        "create" => cx.with_key(key, |kms, caller, id| {
            kms.tag_resource(caller, Some(id), Some(tags.clone()))
        })?,
        "delete" => {
            let names: Vec<String> = tags.iter().map(|t| t.key.clone()).collect();
            cx.with_key(key, |kms, caller, id| {
                kms.untag_resource(caller, Some(id), Some(names.clone()))
            })?
        }
        other => {
            return Err(HuaweiError::bad(
                "KMS.0404",
                format!("Invalid value for the action field: '{other}' (create or delete)."),
            ));
        }
    };
    Ok(Reply::no_content())
}

/// `DELETE /v1.0/{project_id}/kms/{key_id}/tags/{key}`.
pub fn delete(cx: &mut Ctx<'_>, key: &str, tag: &str) -> OpResult {
    cx.with_key(key, |kms, caller, id| {
        kms.untag_resource(caller, Some(id), Some(vec![tag.to_string()]))
    })?;
    Ok(Reply::no_content())
}

/// `GET /v1.0/{project_id}/kms/{key_id}/tags`: `tags` and `existTagsNum`.
pub fn show(cx: &mut Ctx<'_>, key: &str) -> OpResult {
    let (_, tags) = cx.with_key(key, tags_of)?;
    Ok(Reply::json(json!({
        "tags": tags.iter().map(tag_json).collect::<Vec<_>>(),
        "existTagsNum": tags.len(),
    })))
}

/// `GET /v1.0/{project_id}/kms/tags`: every tag key of the project's keys
/// with its values.
pub fn project_tags(cx: &mut Ctx<'_>) -> OpResult {
    let mut by_key: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let listing = cx.listing_caller();
    for id in cx.all_key_ids()? {
        for tag in tags_of(cx.kms, &listing, &id).unwrap_or_default() {
            by_key.entry(tag.key).or_default().insert(tag.value);
        }
    }
    let tags: Vec<Value> = by_key
        .into_iter()
        .map(|(key, values)| json!({ "key": key, "values": values }))
        .collect();
    Ok(Reply::json(json!({ "tags": tags })))
}

/// One `tags` filter: a key and the values it may have (any when empty).
struct TagFilter {
    key: String,
    values: Vec<String>,
}

fn filters(fields: &Fields) -> Result<(Vec<TagFilter>, Vec<String>), HuaweiError> {
    let mut tag_filters = Vec::new();
    if let Some(items) = fields.get("tags") {
        let items = items
            .as_array()
            .ok_or_else(|| HuaweiError::invalid("tags", "expected a list"))?;
        for item in items {
            let key = item
                .get("key")
                .and_then(Value::as_str)
                .filter(|k| !k.is_empty())
                .ok_or_else(|| {
                    HuaweiError::bad("KMS.0406", "Invalid value for the key field in tags.")
                })?;
            let values = item
                .get("values")
                .and_then(Value::as_array)
                .map(|vs| {
                    vs.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            tag_filters.push(TagFilter {
                key: key.to_string(),
                values,
            });
        }
    }
    let mut names = Vec::new();
    if let Some(items) = fields.get("matches") {
        let items = items
            .as_array()
            .ok_or_else(|| HuaweiError::bad("KMS.0415", "Invalid matches."))?;
        for item in items {
            if item.get("key").and_then(Value::as_str) != Some("resource_name") {
                return Err(HuaweiError::bad(
                    "KMS.0403",
                    "Invalid value for the key field in matches (resource_name).",
                ));
            }
            let value = item.get("value").and_then(Value::as_str).unwrap_or("");
            names.push(value.to_string());
        }
    }
    Ok((tag_filters, names))
}

/// `POST /v1.0/{project_id}/kms/resource_instances/action`: keys matching
/// every `tags` filter and `matches` (alias contains the value); action
/// "filter" pages them (`limit`, `offset`), "count" counts them.
pub fn resource_instances(cx: &mut Ctx<'_>) -> OpResult {
    let action = cx.fields.required_str("action")?;
    if action != "filter" && action != "count" {
        return Err(HuaweiError::bad(
            "KMS.0404",
            format!("Invalid value for the action field: '{action}' (filter or count)."),
        ));
    }
    let limit = cx.fields.int("limit")?.unwrap_or(10);
    if !(1..=1000).contains(&limit) {
        return Err(HuaweiError::bad(
            "KMS.1601",
            format!("The value of limit ({limit}) must be between 1 and 1000."),
        ));
    }
    let offset = cx.fields.int("offset")?.unwrap_or(0);
    if offset < 0 {
        return Err(HuaweiError::bad(
            "KMS.0417",
            "The value of offset must be greater than or equal to 0.",
        ));
    }
    let (tag_filters, names) = filters(&cx.fields)?;
    let mut found = Vec::new();
    let listing = cx.listing_caller();
    for id in cx.all_key_ids()? {
        let Ok(tags) = tags_of(cx.kms, &listing, &id) else {
            continue;
        };
        let tagged = tag_filters.iter().all(|f| {
            tags.iter()
                .any(|t| t.key == f.key && (f.values.is_empty() || f.values.contains(&t.value)))
        });
        if !tagged {
            continue;
        }
        let alias = alias_of(cx.kms, &listing, &id);
        if !names.iter().all(|n| alias.contains(n.as_str())) {
            continue;
        }
        found.push((id, alias, tags));
    }
    let total = found.len();
    if action == "count" {
        return Ok(Reply::json(json!({ "total_count": total })));
    }
    let mut resources = Vec::new();
    for (id, alias, tags) in found.into_iter().skip(offset as usize).take(limit as usize) {
        let detail = cx
            .kms
            .describe_key(&listing, Some(&id))
            .ok()
            .map(|view| key_details(&view.key, &alias));
        resources.push(json!({
            "resource_id": ids::to_huawei(&id),
            "resource_detail": detail,
            "resource_name": alias,
            "tags": tags.iter().map(tag_json).collect::<Vec<_>>(),
        }));
    }
    Ok(Reply::json(
        json!({ "resources": resources, "total_count": total }),
    ))
}
