//! The Huawei Cloud KMS (DEW) dialect: Huawei's REST paths and JSON bodies
//! over the same keys, tokens, authorization and audit trail as the AWS
//! dialect.
//!
//! - `POST /v1.0/{project_id}/kms/<operation>` for key lifecycle, data keys
//!   and data key pairs, data encryption, signing, public keys, MACs,
//!   random numbers, rotation and imported key material;
//! - `/v1.0/{project_id}/kms/{key_id}/tags[...]`, `/v1.0/{project_id}/kms/tags`
//!   and `/v1.0/{project_id}/kms/resource_instances/action` for tags;
//! - `/v2/{project_id}/kms/keys/{key_id}/replicate`,
//!   `/v2/{project_id}/kms/keys/{key_id}/update-primary-region` and
//!   `/v2/{project_id}/kms/regions` for multi-Region keys.
//!
//! A project id names a region and an account (see [`projects`]). Requests
//! are authenticated by `SDK-HMAC-SHA256` signatures or `X-Auth-Token`s (see
//! [`crate::auth::huawei_sign`]). Key ids: see [`ids`].

mod body;
mod context;
mod crypto;
pub mod dialect;
mod error;
pub mod ids;
mod key_import;
mod key_pairs;
mod key_specs;
mod keys;
mod mac;
mod ops;
pub mod projects;
mod public_key;
mod regions;
mod rotation;
mod signing;
mod tags;
mod trail;
mod words;

pub use error::HuaweiError;
pub use projects::{Project, Projects};

use crate::api::request::{Headers, read_body};
use crate::api::runner;
use crate::api::state::AppState;
use crate::audit::{AuditRecord, clipped};
use crate::auth::huawei_sign::{self, Method as AuthMethod};
use crate::auth::sigv4::SignedRequest;
use crate::kms::Origin;
use crate::metrics;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, Method, header};
use axum::response::Response;
use body::Fields;
use context::Reply;
use ops::Prepared;
use percent_encoding::percent_decode_str;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use trail::Trail;

/// What a path names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `POST /v1.0/{project_id}/kms/<op>`: the path segment.
    Op(&'static str),
    /// `GET|POST /v1.0/{project_id}/kms/{key_id}/tags`.
    KeyTags(String),
    /// `POST /v1.0/{project_id}/kms/{key_id}/tags/action`.
    KeyTagsAction(String),
    /// `DELETE /v1.0/{project_id}/kms/{key_id}/tags/{key}`.
    DeleteTag(String, String),
    /// `GET /v1.0/{project_id}/kms/tags`.
    ProjectTags,
    /// `POST /v1.0/{project_id}/kms/resource_instances/action`.
    ResourceInstances,
    /// `POST /v2/{project_id}/kms/keys/{key_id}/replicate`.
    Replicate(String),
    /// `PUT /v2/{project_id}/kms/keys/{key_id}/update-primary-region`.
    UpdatePrimaryRegion(String),
    /// `GET /v2/{project_id}/kms/regions`.
    Regions,
}

/// The `POST /v1.0/{project_id}/kms/<op>` operations: path segment and
/// Huawei API name.
pub const OPERATIONS: &[(&str, &str)] = &[
    ("create-key", "CreateKey"),
    ("describe-key", "ListKeyDetail"),
    ("list-keys", "ListKeys"),
    ("enable-key", "EnableKey"),
    ("disable-key", "DisableKey"),
    ("schedule-key-deletion", "DeleteKey"),
    ("cancel-key-deletion", "CancelKeyDeletion"),
    ("update-key-alias", "UpdateKeyAlias"),
    ("update-key-description", "UpdateKeyDescription"),
    ("create-datakey", "CreateDatakey"),
    (
        "create-datakey-without-plaintext",
        "CreateDatakeyWithoutPlaintext",
    ),
    ("create-rsa-datakey-pair", "CreateRsaDatakeyPair"),
    ("create-ec-datakey-pair", "CreateEcDatakeyPair"),
    ("encrypt-datakey", "EncryptDatakey"),
    ("decrypt-datakey", "DecryptDatakey"),
    ("encrypt-data", "EncryptData"),
    ("decrypt-data", "DecryptData"),
    ("gen-random", "CreateRandom"),
    ("sign", "Sign"),
    ("verify", "ValidateSignature"),
    ("get-publickey", "ShowPublicKey"),
    ("generate-mac", "GenerateMac"),
    ("verify-mac", "VerifyMac"),
    ("enable-key-rotation", "EnableKeyRotation"),
    ("disable-key-rotation", "DisableKeyRotation"),
    ("get-key-rotation-status", "ShowKeyRotationStatus"),
    ("update-key-rotation-interval", "UpdateKeyRotationInterval"),
    ("rotate-on-demand", "RotateOnDemand"),
    ("get-parameters-for-import", "CreateParametersForImport"),
    ("import-key-material", "ImportKeyMaterial"),
    ("delete-imported-key-material", "DeleteImportedKeyMaterial"),
];

impl Route {
    /// The Huawei API name, as the audit trail records it.
    pub fn api_name(&self, method: &Method) -> &'static str {
        match self {
            Route::Op(op) => OPERATIONS
                .iter()
                .find(|(path, _)| path == op)
                .map(|(_, name)| *name)
                .unwrap_or("Unknown"),
            Route::KeyTags(_) if method == Method::GET => "ShowKmsTags",
            Route::KeyTags(_) => "CreateKmsTag",
            Route::KeyTagsAction(_) => "BatchCreateKmsTags",
            Route::DeleteTag(..) => "DeleteTag",
            Route::ProjectTags => "ListKmsTags",
            Route::ResourceInstances => "ListKmsByTags",
            Route::Replicate(_) => "ReplicateKey",
            Route::UpdatePrimaryRegion(_) => "UpdatePrimaryRegion",
            Route::Regions => "ListSupportRegions",
        }
    }
}

fn decode(segment: &str) -> String {
    percent_decode_str(segment).decode_utf8_lossy().into_owned()
}

/// Splits a path into its project id and route; the route is `None` when
/// the method and path name no API of this dialect.
pub fn parse_path(method: &Method, path: &str) -> Option<(String, Option<Route>)> {
    let segments: Vec<&str> = path
        .trim_start_matches('/')
        .trim_end_matches('/')
        .split('/')
        .collect();
    let (version, project, rest) = match segments.as_slice() {
        [version, project, "kms", rest @ ..] if !project.is_empty() => (*version, *project, rest),
        _ => return None,
    };
    let post = method == Method::POST;
    let route = match (version, rest) {
        ("v1.0", [op]) if post => OPERATIONS
            .iter()
            .find(|(p, _)| p == op)
            .map(|(p, _)| Route::Op(p)),
        ("v1.0", ["tags"]) if method == Method::GET => Some(Route::ProjectTags),
        ("v1.0", ["resource_instances", "action"]) if post => Some(Route::ResourceInstances),
        ("v1.0", [key, "tags"]) if post || method == Method::GET => {
            Some(Route::KeyTags(decode(key)))
        }
        ("v1.0", [key, "tags", "action"]) if post => Some(Route::KeyTagsAction(decode(key))),
        ("v1.0", [key, "tags", tag]) if method == Method::DELETE => {
            Some(Route::DeleteTag(decode(key), decode(tag)))
        }
        ("v2", ["keys", key, "replicate"]) if post => Some(Route::Replicate(decode(key))),
        ("v2", ["keys", key, "update-primary-region"]) if method == Method::PUT => {
            Some(Route::UpdatePrimaryRegion(decode(key)))
        }
        ("v2", ["regions"]) if method == Method::GET => Some(Route::Regions),
        ("v1.0" | "v2", _) => None,
        _ => return None,
    };
    Some((decode(project), route))
}

/// Handles one Huawei-dialect request and leaves one line in the audit trail.
pub async fn handle(
    State(app): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    runner::serve::<Huawei>(app, peer, request).await
}

/// The Huawei dialect's steps of the request runner.
struct Huawei;

impl runner::Dialect for Huawei {
    type Trail = Trail;
    type Prepared = Prepared;
    type Reply = Reply;
    type Error = HuaweiError;

    const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

    const NAME: &'static str = "huawei";

    fn request_id() -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }

    fn prepare<'a>(
        app: &'a AppState,
        parts: &'a Parts,
        body: Body,
        origin: Origin,
        trail: &'a mut Trail,
    ) -> impl Future<Output = Result<Prepared, HuaweiError>> + Send + 'a {
        prepare(app, parts, body, origin, trail)
    }

    /// Always the blocking pool: every Huawei operation may touch SQLite.
    fn inline(_: &AppState, _: &Prepared) -> bool {
        false
    }

    fn run(app: &AppState, prepared: Prepared) -> Result<Reply, HuaweiError> {
        ops::dispatch(&app.kms, &app.huawei, prepared)
    }

    fn internal(detail: &str) -> HuaweiError {
        HuaweiError::internal(detail)
    }

    fn operation(trail: &Trail) -> &'static str {
        trail.api.unwrap_or(metrics::UNKNOWN_OPERATION)
    }

    fn error_code(error: &HuaweiError) -> &'static str {
        error.code
    }

    fn record(
        trail: Trail,
        arrived: SystemTime,
        request_id: &str,
        peer: SocketAddr,
        error_code: Option<String>,
    ) -> AuditRecord {
        trail.into_record(arrived, request_id, peer, error_code)
    }
}

/// Reads the body within its limit, authenticates, resolves the project and
/// names the operation.
async fn prepare(
    app: &AppState,
    parts: &Parts,
    body: Body,
    origin: Origin,
    trail: &mut Trail,
) -> Result<Prepared, HuaweiError> {
    let headers = &parts.headers;
    let path = parts.uri.path();
    let parsed = parse_path(&parts.method, path);
    trail.api = match &parsed {
        Some((_, Some(route))) => Some(route.api_name(&parts.method)),
        _ => None,
    };
    // Until the caller is authenticated, the line keeps only a little of
    // what it names, and none of its body.
    trail.operation = match trail.api {
        Some(api) => api.to_string(),
        None => clipped(&format!("{} {path}", parts.method)),
    };
    trail.access_key_id = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(huawei_sign::access_key)
        .map(clipped);
    let body = read_body(parts, body, app.max_body_bytes)
        .await
        .map_err(HuaweiError::body_refused)?;
    let fields = Fields::parse(&body);
    let indexed = Headers::of(parts);
    let header_values = |name: &str| indexed.values(name);
    let signed = SignedRequest {
        method: parts.method.as_str(),
        path,
        query: parts.uri.query().unwrap_or(""),
        headers: &header_values,
        body: &body,
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (principal, how) = app
        .huawei
        .authenticator
        .authenticate(&signed, parsed.as_ref().map(|(p, _)| p.as_str()), now)
        .map_err(HuaweiError::from_auth)?;
    trail.principal = Some(principal.arn.clone());
    trail.access_key_id = (how == AuthMethod::Signature).then(|| principal.access_key_id.clone());
    if let Ok(f) = &fields {
        trail.parameters = f.to_value();
    }
    let Some((project_id, route)) = parsed else {
        return Err(HuaweiError::no_such_api(parts.method.as_str(), path));
    };
    let project = resolve_project(app, parts, &project_id, &principal.account_id, trail)?;
    let route = route.ok_or_else(|| HuaweiError::no_such_api(parts.method.as_str(), path))?;
    note_route(&route, trail);
    let fields = fields?;
    let caller = app.kms.caller(Some(&project.region), &principal, origin)?;
    trail.keys = caller.keys.clone();
    Ok(Prepared {
        caller,
        project,
        route,
        method: parts.method.clone(),
        fields,
        query: decode_query(parts.uri.query().unwrap_or("")),
        by_token: how == AuthMethod::Token,
    })
}

/// The project the path names, which must belong to the caller's account
/// and agree with an `X-Project-Id` header.
fn resolve_project(
    app: &AppState,
    parts: &Parts,
    project_id: &str,
    account_id: &str,
    trail: &mut Trail,
) -> Result<Project, HuaweiError> {
    trail.add_parameter("project_id", project_id);
    let project = app
        .huawei
        .projects
        .get(project_id)
        .ok_or_else(|| HuaweiError::unknown_project(project_id))?;
    trail.region = Some(project.region.clone());
    if project.account != account_id {
        return Err(HuaweiError::foreign_project(project_id));
    }
    let named = parts
        .headers
        .get("x-project-id")
        .and_then(|v| v.to_str().ok());
    if let Some(named) = named.filter(|n| *n != project_id) {
        return Err(HuaweiError::invalid(
            "X-Project-Id",
            format!("'{named}' is not the project in the path ({project_id})."),
        ));
    }
    Ok(project)
}

/// Records the key and tag a path names as audit parameters.
fn note_route(route: &Route, trail: &mut Trail) {
    match route {
        Route::KeyTags(key)
        | Route::KeyTagsAction(key)
        | Route::Replicate(key)
        | Route::UpdatePrimaryRegion(key) => trail.add_parameter("key_id", key),
        Route::DeleteTag(key, tag) => {
            trail.add_parameter("key_id", key);
            trail.add_parameter("key", tag);
        }
        _ => {}
    }
}

/// The query's parameters, percent-decoded, in order.
fn decode_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_routes() {
        let p = "0123456789abcdef0123456789abcdef";
        let post = Method::POST;
        assert_eq!(
            parse_path(&post, &format!("/v1.0/{p}/kms/create-key")),
            Some((p.to_string(), Some(Route::Op("create-key"))))
        );
        assert_eq!(
            parse_path(&Method::GET, &format!("/v1.0/{p}/kms/create-key")),
            Some((p.to_string(), None))
        );
        assert_eq!(
            parse_path(&Method::DELETE, &format!("/v1.0/{p}/kms/k1/tags/a%20b")),
            Some((
                p.to_string(),
                Some(Route::DeleteTag("k1".into(), "a b".into()))
            ))
        );
        assert_eq!(
            parse_path(&Method::GET, &format!("/v1.0/{p}/kms/tags")),
            Some((p.to_string(), Some(Route::ProjectTags)))
        );
        assert_eq!(
            parse_path(
                &Method::PUT,
                &format!("/v2/{p}/kms/keys/k1/update-primary-region")
            ),
            Some((p.to_string(), Some(Route::UpdatePrimaryRegion("k1".into()))))
        );
        assert_eq!(
            parse_path(&Method::GET, &format!("/v2/{p}/kms/regions")),
            Some((p.to_string(), Some(Route::Regions)))
        );
        assert_eq!(parse_path(&post, "/v3/x/kms/create-key"), None);
        assert_eq!(parse_path(&post, "/v1.0/x/ecs/create-key"), None);
    }
}
