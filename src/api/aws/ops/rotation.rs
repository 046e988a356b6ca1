//! Rotation: EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus,
//! RotateKeyOnDemand and ListKeyRotations.

use super::{OpResult, done, parse, reply};
use crate::api::aws::shapes::{Epoch, KeyOnly, PageEnd};
use crate::kms::{Caller, Kms, MaterialEntry, MaterialState};
use serde::{Deserialize, Serialize};

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

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetKeyRotationStatusResponse {
    key_id: String,
    key_rotation_enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotation_period_in_days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_rotation_date: Option<Epoch>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RotateKeyOnDemandResponse {
    key_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListKeyRotationsResponse<'a> {
    rotations: Vec<RotationEntry<'a>>,
    #[serde(flatten)]
    page: PageEnd,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RotationEntry<'a> {
    key_id: &'a str,
    key_material_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_material_description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    import_state: Option<&'static str>,
    key_material_state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration_model: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    valid_to: Option<Epoch>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotation_date: Option<Epoch>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotation_type: Option<&'static str>,
}

impl<'a> RotationEntry<'a> {
    /// A material version as ListKeyRotations shows it: the rotation date
    /// and type only for material that a rotation made, the import fields
    /// only for imported material.
    fn new(e: &'a MaterialEntry) -> Self {
        let import = e.import.as_ref();
        RotationEntry {
            key_id: &e.key_id,
            key_material_id: &e.material_id,
            key_material_description: import.and_then(|i| i.description.as_deref()),
            import_state: import.map(|i| match i.imported {
                true => "IMPORTED",
                false => "PENDING_IMPORT",
            }),
            key_material_state: match e.state {
                MaterialState::Current => "CURRENT",
                MaterialState::NonCurrent => "NON_CURRENT",
                MaterialState::PendingRotation => "PENDING_ROTATION",
            },
            expiration_model: import.filter(|i| i.imported).map(|i| match i.valid_to {
                Some(_) => "KEY_MATERIAL_EXPIRES",
                None => "KEY_MATERIAL_DOES_NOT_EXPIRE",
            }),
            valid_to: import.and_then(|i| i.valid_to).map(Epoch),
            rotation_date: e.rotation.map(|(_, at)| Epoch(at)),
            rotation_type: e.rotation.map(|(kind, _)| kind.as_str()),
        }
    }
}

/// EnableKeyRotation.
pub fn enable_key_rotation(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: EnableKeyRotation = parse(body)?;
    kms.enable_key_rotation(caller, r.key_id.as_deref(), r.rotation_period_in_days)?;
    done()
}

/// DisableKeyRotation.
pub fn disable_key_rotation(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: KeyOnly = parse(body)?;
    kms.disable_key_rotation(caller, r.key_id.as_deref())?;
    done()
}

/// GetKeyRotationStatus: the period and next date only while automatic
/// rotation is on.
pub fn get_key_rotation_status(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: KeyOnly = parse(body)?;
    let s = kms.get_key_rotation_status(caller, r.key_id.as_deref())?;
    let (period, next) = match (s.period_days, s.next_rotation_date) {
        (Some(period), Some(next)) => (Some(period), Some(Epoch(next))),
        _ => (None, None),
    };
    reply(GetKeyRotationStatusResponse {
        key_id: s.key_arn,
        key_rotation_enabled: s.period_days.is_some(),
        rotation_period_in_days: period,
        next_rotation_date: next,
    })
}

/// RotateKeyOnDemand.
pub fn rotate_key_on_demand(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: KeyOnly = parse(body)?;
    reply(RotateKeyOnDemandResponse {
        key_id: kms.rotate_key_on_demand(caller, r.key_id.as_deref())?,
    })
}

/// ListKeyRotations.
pub fn list_key_rotations(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: ListKeyRotations = parse(body)?;
    let page = kms.list_key_rotations(
        caller,
        r.key_id.as_deref(),
        r.include_key_material.as_deref(),
        r.limit,
        r.marker.as_deref(),
    )?;
    reply(ListKeyRotationsResponse {
        rotations: page.items.iter().map(RotationEntry::new).collect(),
        page: PageEnd::new(page.next_marker),
    })
}
