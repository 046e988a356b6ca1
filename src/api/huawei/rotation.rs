//! enable-key-rotation, disable-key-rotation, get-key-rotation-status,
//! update-key-rotation-interval, rotate-on-demand.
//!
//! Huawei's rotation interval is 30–365 days; Trent's (AWS's) rotation
//! period is 90–2560 days, so this dialect accepts 90–365. A key whose
//! rotation is off reports the interval enabling would use (365).

use super::context::{Ctx, OpResult, Reply};
use super::error::HuaweiError;
use super::ids;
use crate::kms::{Caller, Kms, KmsError, KmsResult, MIN_ROTATION_PERIOD_DAYS};
use serde_json::json;

/// The period automatic rotation gets when enabled without one.
const DEFAULT_INTERVAL: i64 = 365;

/// enable-key-rotation: turns automatic rotation on, keeping the key's
/// interval when it is on already.
pub fn enable(cx: &mut Ctx<'_>) -> OpResult {
    let id = cx.key_id_field()?;
    cx.with_key(&id, |kms, caller, key| {
        let period = kms
            .get_key_rotation_status(caller, Some(key))
            .ok()
            .and_then(|s| s.period_days);
        kms.enable_key_rotation(caller, Some(key), period)
    })?;
    Ok(Reply::empty())
}

/// disable-key-rotation.
pub fn disable(cx: &mut Ctx<'_>) -> OpResult {
    let id = cx.key_id_field()?;
    cx.with_key(&id, |kms, caller, key| {
        kms.disable_key_rotation(caller, Some(key))
    })?;
    Ok(Reply::empty())
}

/// Rotations so far and the time of the last one (Unix ms), when the
/// caller may list them.
fn rotations(kms: &Kms, caller: &Caller, key: &str) -> Option<(usize, Option<i64>)> {
    let (mut count, mut last) = (0, None::<i64>);
    let mut marker: Option<String> = None;
    loop {
        let page = kms
            .list_key_rotations(
                caller,
                Some(key),
                Some("ROTATIONS_ONLY"),
                Some(1000),
                marker.as_deref(),
            )
            .ok()?;
        for entry in &page.items {
            count += 1;
            let at = entry.material.creation_date;
            last = Some(last.map_or(at, |l| l.max(at)));
        }
        match page.next_marker {
            Some(m) => marker = Some(m),
            None => return Some((count, last)),
        }
    }
}

/// get-key-rotation-status: `key_rotation_enabled` is a JSON boolean,
/// `rotation_interval` and `number_of_rotations` JSON integers,
/// `last_rotation_time` a string (Unix ms; absent before any rotation).
pub fn status(cx: &mut Ctx<'_>) -> OpResult {
    let id = cx.key_id_field()?;
    let (key_id, status) = cx.with_key(&id, |kms, caller, key| {
        kms.get_key_rotation_status(caller, Some(key))
    })?;
    let mut v = json!({
        "key_rotation_enabled": status.period_days.is_some(),
        "rotation_interval": status.period_days.unwrap_or(DEFAULT_INTERVAL),
    });
    if let Some((count, last)) = rotations(cx.kms, &cx.caller, &key_id) {
        v["number_of_rotations"] = json!(count);
        if let Some(at) = last {
            v["last_rotation_time"] = json!(at.to_string());
        }
    }
    Ok(Reply::json(v))
}

/// update-key-rotation-interval: `rotation_interval` (a JSON integer) for a
/// key whose rotation is on.
pub fn update_interval(cx: &mut Ctx<'_>) -> OpResult {
    let id = cx.key_id_field()?;
    let interval = cx.fields.required_int("rotation_interval")?;
    if !(30..=365).contains(&interval) {
        return Err(HuaweiError::invalid(
            "rotation_interval",
            format!("must be between 30 and 365 days; got {interval}."),
        ));
    }
    if interval < MIN_ROTATION_PERIOD_DAYS {
        return Err(HuaweiError::invalid(
            "rotation_interval",
            format!("this deployment rotates keys every {MIN_ROTATION_PERIOD_DAYS} to 365 days."),
        ));
    }
    let update = |kms: &Kms, caller: &Caller, key: &str| -> KmsResult<()> {
        let status = kms.get_key_rotation_status(caller, Some(key))?;
        if status.period_days.is_none() {
            return Err(KmsError::UnsupportedOperation(
                "Key rotation is not enabled for this key; enable it first.".into(),
            ));
        }
        kms.enable_key_rotation(caller, Some(key), Some(interval))
    };
    cx.with_key(&id, update)?;
    Ok(Reply::empty())
}

/// rotate-on-demand.
pub fn rotate_on_demand(cx: &mut Ctx<'_>) -> OpResult {
    let id = cx.key_id_field()?;
    let (key_id, _) = cx.with_key(&id, |kms, caller, key| {
        kms.rotate_key_on_demand(caller, Some(key))
    })?;
    Ok(Reply::json(json!({ "key_id": ids::to_huawei(&key_id) })))
}
