//! Key lifecycle: create-key, describe-key, list-keys, enable-key,
//! disable-key, schedule-key-deletion, cancel-key-deletion,
//! update-key-alias, update-key-description.
//!
//! A key created here is a multi-Region primary (a `mrk-` key in the AWS
//! dialect), because every Huawei custom key can be replicated to another
//! region. Its Huawei alias `name` is the AWS alias `alias/name`.

use super::context::{Ctx, OpResult, Reply, alias_of, key_details, key_state};
use super::error::HuaweiError;
use super::ids;
use super::key_specs;
use crate::kms::{CreateKeyInput, KeyRecord, KeyState, KmsError};
use crate::model::{KeySpec, KeyUsage};
use serde_json::{Value, json};

/// Longest Huawei key description.
const MAX_DESCRIPTION: usize = 255;
/// Most keys one list-keys page returns.
const MAX_PAGE: usize = 1000;

/// Checks a Huawei alias (`^[a-zA-Z0-9:/_-]{1,255}$`, not ending in
/// `/default`) and returns its AWS alias name.
pub fn aws_alias(huawei_alias: &str) -> Result<String, HuaweiError> {
    let valid = (1..=255).contains(&huawei_alias.len())
        && huawei_alias
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'/' | b'_' | b'-'))
        && !huawei_alias.ends_with("/default");
    if !valid {
        return Err(HuaweiError::bad(
            "KMS.1101",
            format!(
                "Invalid key_alias '{huawei_alias}': 1 to 255 characters of a-z A-Z 0-9 : / _ -, \
                 not ending in /default."
            ),
        ));
    }
    Ok(format!("alias/{huawei_alias}"))
}

/// Maps an alias conflict to KMS.1104.
fn alias_error(e: KmsError) -> HuaweiError {
    match e {
        KmsError::AlreadyExists(m) => HuaweiError::bad("KMS.1104", m),
        other => other.into(),
    }
}

fn description(cx: &Ctx<'_>) -> Result<Option<String>, HuaweiError> {
    let text = cx.fields.str("key_description")?;
    if text
        .as_ref()
        .is_some_and(|t| t.chars().count() > MAX_DESCRIPTION)
    {
        return Err(HuaweiError::bad(
            "KMS.1103",
            format!("Invalid key_description: at most {MAX_DESCRIPTION} characters."),
        ));
    }
    Ok(text)
}

/// Fails with KMS.1104 when the alias already names a key in `caller`'s region.
pub fn require_free_alias(
    cx: &Ctx<'_>,
    caller: &crate::kms::Caller,
    alias: &str,
) -> Result<(), HuaweiError> {
    match cx.kms.describe_key(caller, Some(alias)) {
        Ok(_) => Err(HuaweiError::bad(
            "KMS.1104",
            format!(
                "Existing CMK alias: {} is already in use in {}.",
                alias.trim_start_matches("alias/"),
                caller.region
            ),
        )),
        Err(_) => Ok(()),
    }
}

/// The key usages create-key takes: Huawei's, and `GENERATE_VERIFY_MAC`
/// for HMAC keys.
const KEY_USAGES: &[KeyUsage] = &[
    KeyUsage::EncryptDecrypt,
    KeyUsage::SignVerify,
    KeyUsage::GenerateVerifyMac,
];

/// create-key's `key_spec` (`AES_256` by default) and `key_usage` (the
/// spec's default when absent). Whether they go together is the core's to
/// decide.
fn spec_and_usage(cx: &Ctx<'_>) -> Result<(KeySpec, KeyUsage), HuaweiError> {
    let name = cx.fields.str("key_spec")?.filter(|s| !s.is_empty());
    let spec = match name.as_deref() {
        None => KeySpec::SymmetricDefault,
        Some(name) => key_specs::parse(name)
            .filter(|spec| key_specs::CREATABLE.contains(spec))
            .ok_or_else(|| {
                let served: Vec<&str> = key_specs::CREATABLE
                    .iter()
                    .map(|s| key_specs::name(*s))
                    .collect();
                HuaweiError::invalid(
                    "key_spec",
                    format!(
                        "{name} is not supported; this deployment supports {}.",
                        served.join(", ")
                    ),
                )
            })?,
    };
    let usage = match cx.fields.str("key_usage")?.filter(|u| !u.is_empty()) {
        None => key_specs::default_usage(spec),
        Some(name) => KeyUsage::parse(&name)
            .filter(|usage| KEY_USAGES.contains(usage))
            .ok_or_else(|| {
                let allowed: Vec<&str> = KEY_USAGES.iter().map(|u| u.as_str()).collect();
                HuaweiError::invalid(
                    "key_usage",
                    format!("{name} is not one of {}.", allowed.join(", ")),
                )
            })?,
    };
    Ok((spec, usage))
}

/// create-key's `origin`: `kms` (the default: material made in the HSM)
/// or `external` (material imported later; every spec create-key makes
/// takes it); returns the core's origin.
fn origin(cx: &Ctx<'_>) -> Result<&'static str, HuaweiError> {
    match cx
        .fields
        .str("origin")?
        .filter(|o| !o.is_empty())
        .as_deref()
    {
        None | Some("kms") => Ok("AWS_KMS"),
        Some("external") => Ok("EXTERNAL"),
        Some(other) => Err(HuaweiError::invalid(
            "origin",
            format!("{other} is not one of kms, external."),
        )),
    }
}

/// create-key.
pub fn create_key(cx: &mut Ctx<'_>) -> OpResult {
    let alias = aws_alias(&cx.fields.required_str("key_alias")?)?;
    let (key_spec, key_usage) = spec_and_usage(cx)?;
    let origin = origin(cx)?;
    if let Some(store) = cx.fields.str("keystore_id")? {
        if !store.is_empty() && store != "0" {
            return Err(HuaweiError::invalid(
                "keystore_id",
                "only the default key store (0) is supported.",
            ));
        }
    }
    let description = description(cx)?;
    require_free_alias(cx, &cx.caller, &alias)?;
    let view = cx
        .kms
        .create_key(
            &cx.caller,
            CreateKeyInput {
                description,
                key_spec: Some(key_spec.as_str().into()),
                key_usage: Some(key_usage.as_str().into()),
                origin: Some(origin.into()),
                multi_region: Some(true),
                ..CreateKeyInput::default()
            },
        )
        .map_err(HuaweiError::from)?;
    let key_id = view.key.key_id.clone();
    if let Err(e) = cx.kms.create_alias(&cx.caller, Some(&alias), Some(&key_id)) {
        // The key exists but cannot have its alias: take it out of use,
        // whether or not the caller may disable or delete keys.
        tracing::warn!(%key_id, error = %e, "alias of a new key refused; scheduling its deletion");
        if let Err(undo) = cx.kms.withdraw_created_key(&cx.caller, &key_id) {
            tracing::error!(%key_id, error = %undo, "a new key without its alias stays in use");
        }
        return Err(alias_error(e));
    }
    Ok(Reply::json(json!({
        "key_info": {
            "key_id": ids::to_huawei(&key_id),
            "domain_id": cx.caller.account_id,
            "region_id": cx.caller.region,
        }
    })))
}

/// describe-key.
pub fn describe_key(cx: &mut Ctx<'_>) -> OpResult {
    let id = cx.key_id_field()?;
    let (_, view) = cx.with_key(&id, |kms, caller, key| kms.describe_key(caller, Some(key)))?;
    Ok(Reply::json(
        json!({ "key_info": cx.details(&cx.caller, &view) }),
    ))
}

/// list-keys: `limit`, numeric `marker` (an offset), `key_state` and
/// `key_spec` filters; `keys`, `key_details`, `next_marker`, `truncated`
/// ("true"/"false") and `total`.
pub fn list_keys(cx: &mut Ctx<'_>) -> OpResult {
    let (limit, offset) = list_window(cx)?;
    let state = cx.fields.str("key_state")?.filter(|s| !s.is_empty());
    if let Some(s) = &state {
        if !matches!(s.as_str(), "1" | "2" | "3" | "4" | "5") {
            return Err(HuaweiError::invalid(
                "key_state",
                format!("'{s}' is not 1 to 5"),
            ));
        }
    }
    let spec = cx
        .fields
        .str("key_spec")?
        .unwrap_or_else(|| "AES_256".into());
    if spec != "ALL"
        && key_specs::parse(&spec).is_none()
        && !key_specs::UNSERVED.contains(&spec.as_str())
    {
        return Err(HuaweiError::invalid(
            "key_spec",
            format!("'{spec}' is not a key spec, nor ALL."),
        ));
    }
    let ids_all = cx.all_key_ids()?;
    let mut details: Vec<(String, Option<Value>)> = Vec::new();
    let listing = cx.listing_caller();
    let describe = |id: &str| {
        cx.kms
            .describe_key(&listing, Some(id))
            .ok()
            .map(|view| view.key)
    };
    let details_of = |key: &KeyRecord| key_details(key, &alias_of(cx.kms, &listing, &key.key_id));
    let wanted_spec = (spec != "ALL").then_some(spec.as_str());
    let selected: Vec<(String, Option<Value>)> = match (&state, wanted_spec) {
        (None, None) => ids_all.iter().map(|id| (id.clone(), None)).collect(),
        _ => ids_all
            .iter()
            .filter_map(|id| describe(id))
            .filter(|key| state.as_deref().is_none_or(|s| key_state(key.state) == s))
            .filter(|key| wanted_spec.is_none_or(|s| key_specs::name(key.key_spec) == s))
            .map(|key| (key.key_id.clone(), Some(details_of(&key))))
            .collect(),
    };
    let total = selected.len();
    for (id, detail) in selected.into_iter().skip(offset).take(limit) {
        let detail = detail.or_else(|| describe(&id).map(|key| details_of(&key)));
        details.push((id, detail));
    }
    let truncated = offset + details.len() < total;
    let mut v = json!({
        "keys": details.iter().map(|(id, _)| ids::to_huawei(id)).collect::<Vec<_>>(),
        "key_details": details.iter().filter_map(|(_, d)| d.clone()).collect::<Vec<_>>(),
        "truncated": truncated.to_string(),
        "total": total,
    });
    if truncated {
        v["next_marker"] = json!((offset + details.len()).to_string());
    }
    Ok(Reply::json(v))
}

/// list-keys' `limit` (1 to the page size) and `marker` (an offset).
fn list_window(cx: &Ctx<'_>) -> Result<(usize, usize), HuaweiError> {
    let limit = match cx.fields.int("limit")? {
        None => MAX_PAGE,
        Some(n) if (1..=MAX_PAGE as i64).contains(&n) => n as usize,
        Some(n) => {
            return Err(HuaweiError::bad(
                "KMS.1601",
                format!("The value of limit ({n}) must be between 1 and {MAX_PAGE}."),
            ));
        }
    };
    let offset = match cx.fields.int("marker")? {
        None => 0,
        Some(n) if n >= 0 => n as usize,
        Some(n) => {
            return Err(HuaweiError::bad(
                "KMS.1602",
                format!("The value of marker ({n}) must be greater than or equal to 0."),
            ));
        }
    };
    Ok((limit, offset))
}

/// enable-key and disable-key: `{"key_info": {"key_id", "key_state"}}`.
/// As in Huawei, only a disabled key can be enabled (else `KMS.1201`) and
/// only an enabled key disabled (else `KMS.1301`).
pub fn set_enabled(cx: &mut Ctx<'_>, enable: bool) -> OpResult {
    let id = cx.key_id_field()?;
    let (key_id, changed) = cx.with_key(&id, |kms, caller, key| {
        if enable {
            kms.enable_key(caller, Some(key))
        } else {
            kms.disable_key(caller, Some(key))
        }
    })?;
    if !changed {
        return Err(HuaweiError::state_unchanged(&id, enable));
    }
    let state = if enable {
        KeyState::Enabled
    } else {
        KeyState::Disabled
    };
    Ok(Reply::json(json!({
        "key_info": { "key_id": ids::to_huawei(&key_id), "key_state": key_state(state) }
    })))
}

/// Huawei's waiting periods of a scheduled deletion, in days.
const PENDING_DAYS: std::ops::RangeInclusive<i64> = 7..=1096;

/// schedule-key-deletion: `pending_days` (a string) is required.
pub fn schedule_deletion(cx: &mut Ctx<'_>) -> OpResult {
    let id = cx.key_id_field()?;
    let days = cx.fields.required_int("pending_days")?;
    if !PENDING_DAYS.contains(&days) {
        return Err(HuaweiError::bad(
            "KMS.1401",
            format!(
                "pending_days must be between {} and {}; got {days}.",
                PENDING_DAYS.start(),
                PENDING_DAYS.end()
            ),
        ));
    }
    let (key_id, scheduled) = cx
        .with_key(&id, |kms, caller, key| {
            kms.schedule_key_deletion_within(caller, Some(key), Some(days), PENDING_DAYS)
        })
        .map_err(|e| match e.code {
            "KMS.0210" => HuaweiError::bad("KMS.1402", e.message),
            _ => e,
        })?;
    Ok(Reply::json(json!({
        "key_id": ids::to_huawei(&key_id),
        "key_state": key_state(scheduled.key.state),
    })))
}

/// cancel-key-deletion: the key returns disabled.
pub fn cancel_deletion(cx: &mut Ctx<'_>) -> OpResult {
    let id = cx.key_id_field()?;
    let (key_id, _) = cx
        .with_key(&id, |kms, caller, key| {
            kms.cancel_key_deletion(caller, Some(key))
        })
        .map_err(|e| match e.code {
            "KMS.0308" => HuaweiError::bad("KMS.1501", e.message),
            _ => e,
        })?;
    Ok(Reply::json(json!({
        "key_id": ids::to_huawei(&key_id),
        "key_state": key_state(KeyState::Disabled),
    })))
}

/// update-key-alias: the key's alias becomes `key_alias` (its previous
/// alias, if any, is removed).
pub fn update_alias(cx: &mut Ctx<'_>) -> OpResult {
    let id = cx.key_id_field()?;
    let huawei_alias = cx.fields.required_str("key_alias")?;
    let alias = aws_alias(&huawei_alias)?;
    let (key_id, ()) = cx.with_key(&id, |kms, caller, key| {
        kms.describe_key(caller, Some(key)).map(|_| ())
    })?;
    let old = alias_of(cx.kms, &cx.caller, &key_id);
    if old != huawei_alias {
        cx.kms
            .create_alias(&cx.caller, Some(&alias), Some(&key_id))
            .map_err(alias_error)?;
        if !old.is_empty() {
            cx.kms
                .delete_alias(&cx.caller, Some(&format!("alias/{old}")))
                .map_err(HuaweiError::from)?;
        }
    }
    Ok(Reply::json(json!({
        "key_info": { "key_id": ids::to_huawei(&key_id), "key_alias": huawei_alias }
    })))
}

/// update-key-description.
pub fn update_description(cx: &mut Ctx<'_>) -> OpResult {
    let id = cx.key_id_field()?;
    let text = description(cx)?.ok_or_else(|| HuaweiError::missing("key_description"))?;
    let (key_id, ()) = cx.with_key(&id, |kms, caller, key| {
        kms.update_key_description(caller, Some(key), Some(text.clone()))
    })?;
    Ok(Reply::json(json!({
        "key_info": { "key_id": ids::to_huawei(&key_id), "key_description": text }
    })))
}
