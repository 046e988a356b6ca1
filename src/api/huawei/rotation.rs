//! enable-key-rotation, disable-key-rotation, get-key-rotation-status,
//! update-key-rotation-interval, rotate-on-demand.
//!
//! Huawei's rotation interval is 30–365 days, AWS's rotation period 90–2560:
//! this dialect sets intervals of 30–365 days, and re-enabling keeps a
//! period the AWS dialect set (up to 2560). A key whose rotation is off
//! reports the interval enabling would use (365).

use super::context::{Ctx, OpResult, Reply};
use super::error::HuaweiError;
use super::ids;
use crate::kms::{Caller, Kms, KmsError, KmsResult, MAX_ROTATION_PERIOD_DAYS};
use serde_json::json;

/// The period automatic rotation gets when enabled without one.
const DEFAULT_INTERVAL: i64 = 365;
/// Huawei's shortest rotation interval, in days.
const MIN_INTERVAL: i64 = 30;
/// Huawei's longest rotation interval, in days.
const MAX_INTERVAL: i64 = 365;

/// enable-key-rotation: turns automatic rotation on, keeping the key's
/// interval when it is on already.
pub fn enable(cx: &mut Ctx<'_>) -> OpResult {
    let id = cx.key_id_field()?;
    cx.with_key(&id, |kms, caller, key| {
        let period = kms
            .get_key_rotation_status(caller, Some(key))
            .ok()
            .and_then(|s| s.period_days);
        kms.enable_key_rotation_within(
            caller,
            Some(key),
            period,
            MIN_INTERVAL..=MAX_ROTATION_PERIOD_DAYS,
        )
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
        for (_, at) in page.items.iter().filter_map(|e| e.rotation) {
            count += 1;
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
    if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&interval) {
        return Err(HuaweiError::invalid(
            "rotation_interval",
            format!("must be between {MIN_INTERVAL} and {MAX_INTERVAL} days; got {interval}."),
        ));
    }
    let update = |kms: &Kms, caller: &Caller, key: &str| -> KmsResult<()> {
        let status = kms.get_key_rotation_status(caller, Some(key))?;
        if status.period_days.is_none() {
            return Err(KmsError::UnsupportedOperation(
                "Key rotation is not enabled for this key; enable it first.".into(),
            ));
        }
        kms.enable_key_rotation_within(
            caller,
            Some(key),
            Some(interval),
            MIN_INTERVAL..=MAX_INTERVAL,
        )
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
