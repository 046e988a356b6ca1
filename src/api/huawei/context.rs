//! What the operations share, below both the dispatch and the operations:
//! the request context, the reply, resolving Huawei key ids to keys, and
//! the `KeyDetails` shape.

use super::body::Fields;
use super::dialect::Dialect;
use super::error::{self, HuaweiError};
use super::ids;
use super::key_specs;
use super::projects::Project;
use crate::auth::huawei_sign::HuaweiAuthError;
use crate::kms::{Caller, KeyRecord, KeyState, KeyView, KeysNamed, Kms, KmsError, KmsResult};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Result of an operation.
pub type OpResult = Result<Reply, HuaweiError>;

/// A successful answer: status and optional JSON body.
#[derive(Debug)]
pub struct Reply {
    status: StatusCode,
    body: Option<serde_json::Value>,
}

impl Reply {
    /// 200 with a JSON body.
    pub fn json(body: serde_json::Value) -> Self {
        Self {
            status: StatusCode::OK,
            body: Some(body),
        }
    }

    /// 200 without a body (operations whose response has no fields).
    pub fn empty() -> Self {
        Self {
            status: StatusCode::OK,
            body: None,
        }
    }

    /// 204 No Content (the tag operations).
    pub fn no_content() -> Self {
        Self {
            status: StatusCode::NO_CONTENT,
            body: None,
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = match self.body {
            Some(body) => (self.status, body.to_string()).into_response(),
            None => self.status.into_response(),
        };
        if self.status != StatusCode::NO_CONTENT {
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(error::CONTENT_TYPE),
            );
        }
        response
    }
}

/// Everything an operation needs.
pub struct Ctx<'a> {
    /// The service core.
    pub kms: &'a Kms,
    /// The dialect's state.
    pub dialect: &'a Dialect,
    /// The caller, in the project's region.
    pub caller: Caller,
    /// The project named by the path.
    pub project: Project,
    /// The body's fields.
    pub fields: Fields,
    /// The decoded query parameters.
    pub query: Vec<(String, String)>,
    /// Whether an X-Auth-Token authenticated the request: such a request
    /// acts in its project's region only.
    pub by_token: bool,
}

impl Ctx<'_> {
    /// Every key id of the caller's account in its region, through ListKeys.
    pub fn all_key_ids(&self) -> Result<Vec<String>, HuaweiError> {
        let mut ids = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .kms
                .list_keys(&self.caller, Some(1000), marker.as_deref(), None)?;
            ids.extend(page.items);
            match page.next_marker {
                Some(m) => marker = Some(m),
                None => return Ok(ids),
            }
        }
    }

    /// The body's `key_id`, required.
    pub fn key_id_field(&self) -> Result<String, HuaweiError> {
        self.fields.required_str("key_id")
    }

    /// Runs `f` on the key a Huawei key id names (see [`ids`]), trying each
    /// Trent id it may stand for; returns the Trent id that answered.
    pub fn with_key<T>(
        &mut self,
        huawei_id: &str,
        f: impl FnMut(&Kms, &Caller, &str) -> KmsResult<T>,
    ) -> Result<(String, T), HuaweiError> {
        self.with_key_or(huawei_id, f, HuaweiError::from_kms)
    }

    /// As [`Self::with_key`], the core's refusals mapped by `refusal` (an
    /// operation's own mapping in [`error`]).
    pub fn with_key_or<T>(
        &mut self,
        huawei_id: &str,
        mut f: impl FnMut(&Kms, &Caller, &str) -> KmsResult<T>,
        refusal: fn(KmsError) -> HuaweiError,
    ) -> Result<(String, T), HuaweiError> {
        let candidates =
            ids::candidates(huawei_id).ok_or_else(|| HuaweiError::invalid_key_id(huawei_id))?;
        for id in &candidates {
            match f(self.kms, &self.caller, id) {
                Err(KmsError::NotFound(_)) => continue,
                other => return other.map(|v| (id.clone(), v)).map_err(refusal),
            }
        }
        Err(self.no_such_key(huawei_id))
    }

    /// KMS.0207 for a key id that names no key in the project.
    pub fn no_such_key(&self, huawei_id: &str) -> HuaweiError {
        HuaweiError::not_found(format!(
            "The key {huawei_id} does not exist in project {}.",
            self.project.id
        ))
    }

    /// The caller, for listing many keys: the keys it finds are not noted
    /// for the audit line (a listing touches none of them).
    pub fn listing_caller(&self) -> Caller {
        Caller {
            keys: KeysNamed::default(),
            ..self.caller.clone()
        }
    }

    /// Refuses, as an X-Auth-Token scoped to another project is refused
    /// (KMS.0302), a token-authenticated request that would act in
    /// `region` other than its project's: a token is valid in exactly one
    /// project, so it may not make a replica there, or a primary of one.
    pub fn confined_to(&self, region: &str) -> Result<(), HuaweiError> {
        if self.by_token && region != self.project.region {
            return Err(HuaweiError::from_auth(HuaweiAuthError::TokenScope));
        }
        Ok(())
    }

    /// The caller, addressed to another region.
    pub fn caller_in(&self, region: &str) -> Caller {
        Caller {
            region: region.to_string(),
            ..self.caller.clone()
        }
    }

    /// The `KeyDetails` of a key, as the caller sees it.
    pub fn details(&self, caller: &Caller, view: &KeyView) -> Value {
        key_details(&view.key, &alias_of(self.kms, caller, &view.key.key_id))
    }
}

/// The Huawei name of a key's alias: its first alias without `alias/`, or
/// "" when it has none (or the caller may not list them).
pub fn alias_of(kms: &Kms, caller: &Caller, key_id: &str) -> String {
    kms.list_aliases(caller, Some(key_id), Some(100), None)
        .ok()
        .and_then(|page| page.items.into_iter().next())
        .map(|a| {
            a.alias_name
                .strip_prefix("alias/")
                .unwrap_or(&a.alias_name)
                .to_string()
        })
        .unwrap_or_default()
}

/// Huawei's key_state: "2" enabled, "3" disabled, "4" pending deletion,
/// "5" pending import.
pub fn key_state(state: KeyState) -> &'static str {
    match state {
        KeyState::Enabled => "2",
        KeyState::Disabled => "3",
        KeyState::PendingDeletion | KeyState::PendingReplicaDeletion => "4",
        KeyState::PendingImport => "5",
    }
}

/// The `KeyDetails` shape; every field is a JSON string, as Huawei sends it.
/// `expiration_time` is when imported key material expires (Unix ms, like
/// the other times), empty when it does not.
pub fn key_details(key: &KeyRecord, alias: &str) -> Value {
    json!({
        "key_id": ids::to_huawei(&key.key_id),
        "domain_id": key.account_id,
        "key_alias": alias,
        "realm": key.region,
        "key_spec": key_specs::name(key.key_spec),
        "key_usage": key.key_usage.as_str(),
        "key_description": key.description,
        "creation_date": key.creation_date.to_string(),
        "scheduled_deletion_date": key.deletion_date.map(|d| d.to_string()).unwrap_or_default(),
        "key_state": key_state(key.state),
        "default_key_flag": "0",
        "key_type": "1",
        "expiration_time": key.valid_to.map(|t| t.to_string()).unwrap_or_default(),
        "origin": if key.origin == "AWS_KMS" { "kms" } else { "external" },
        "key_rotation_enabled": key.rotation_period_days.is_some().to_string(),
        "sys_enterprise_project_id": "0",
        "keystore_id": "0",
    })
}

/// A count or length given in bits: a multiple of 8 within `8..=max_bits`;
/// returns bytes.
pub fn bits_to_bytes(
    bits: i64,
    max_bits: i64,
    code: &'static str,
    field: &str,
) -> Result<i64, HuaweiError> {
    if bits % 8 != 0 || !(8..=max_bits).contains(&bits) {
        return Err(HuaweiError::bad(
            code,
            format!("{field} must be a multiple of 8 between 8 and {max_bits} (bits); got {bits}."),
        ));
    }
    Ok(bits / 8)
}
