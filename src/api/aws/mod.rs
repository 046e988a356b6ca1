//! The AWS KMS dialect: AWS JSON 1.1 over `POST /` with
//! `X-Amz-Target: TrentService.<Operation>`.

mod error;
mod ops;
mod shapes;
mod trail;
mod words;

pub use error::AwsError;
pub use ops::OPERATIONS;

use crate::api::request::{Headers, read_body};
use crate::api::runner::{self, Dialect};
use crate::api::state::AppState;
use crate::audit::{AuditRecord, clipped};
use crate::auth::sigv4::{self, SignedRequest};
use crate::kms::{Caller, KmsError, Origin};
use crate::metrics;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;
use trail::Trail;

/// Content type of AWS JSON 1.1 requests and responses.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
const TARGET_PREFIX: &str = "TrentService.";
/// The header that names the operation.
const X_AMZ_TARGET: HeaderName = HeaderName::from_static("x-amz-target");

/// Handles one AWS KMS request and leaves one line in the audit trail.
pub async fn handle(
    State(app): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    runner::serve::<Aws>(app, peer, request).await
}

/// The AWS dialect's steps of the request runner.
struct Aws;

/// A successful AWS answer: a JSON document, encoded.
struct Reply(Vec<u8>);

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut r = self.0.into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        r
    }
}

impl Dialect for Aws {
    type Trail = Trail;
    type Prepared = Prepared;
    type Reply = Reply;
    type Error = AwsError;

    const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-amzn-requestid");

    const NAME: &'static str = "aws";

    fn request_id() -> String {
        uuid::Uuid::new_v4().to_string()
    }

    fn prepare<'a>(
        app: &'a AppState,
        parts: &'a Parts,
        body: Body,
        origin: Origin,
        trail: &'a mut Trail,
    ) -> impl Future<Output = Result<Prepared, AwsError>> + Send + 'a {
        prepare(app, parts, body, origin, trail)
    }

    fn inline(app: &AppState, prepared: &Prepared) -> bool {
        app.inline_crypto && ops::is_crypto(prepared.op)
    }

    fn run(app: &AppState, p: Prepared) -> Result<Reply, AwsError> {
        ops::dispatch(&app.kms, &p.caller, p.op, &p.body).map(Reply)
    }

    fn internal(detail: &str) -> AwsError {
        AwsError::Kms(KmsError::Internal(detail.to_string()))
    }

    fn operation(trail: &Trail) -> &'static str {
        OPERATIONS
            .iter()
            .find(|op| **op == trail.operation)
            .copied()
            .unwrap_or(metrics::UNKNOWN_OPERATION)
    }

    fn error_code(error: &AwsError) -> &'static str {
        error.kind().0
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

/// An authenticated request, ready to run.
struct Prepared {
    caller: Caller,
    op: &'static str,
    body: Bytes,
}

/// Reads the body within its limit, authenticates, and names the operation.
async fn prepare(
    app: &AppState,
    parts: &Parts,
    body: Body,
    origin: Origin,
    trail: &mut Trail,
) -> Result<Prepared, AwsError> {
    let headers = &parts.headers;
    // Until the caller is authenticated, the line keeps only a little of
    // what it names, and none of its body.
    trail.operation = headers
        .get(X_AMZ_TARGET)
        .and_then(|v| v.to_str().ok())
        .map(|t| clipped(t.strip_prefix(TARGET_PREFIX).unwrap_or(t)))
        .unwrap_or_default();
    trail.access_key_id = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(sigv4::access_key_id)
        .map(clipped)
        .or_else(|| {
            sigv4::presigned_access_key_id(parts.uri.query().unwrap_or("")).map(|id| clipped(&id))
        });
    let body = read_body(parts, body, app.max_body_bytes)
        .await
        .map_err(AwsError::Body)?;
    let indexed = Headers::of(parts);
    let header_values = |name: &str| indexed.values(name);
    let signed = SignedRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &header_values,
        body: &body,
    };
    let who = app.authenticator.authenticate(&signed, &|region| {
        app.kms.check_region(region).map_err(|e| e.to_string())
    })?;
    trail.region = Some(who.region.clone());
    trail.principal = Some(who.principal.arn.clone());
    trail.access_key_id = Some(who.principal.access_key_id.clone());
    trail.body = body.clone();
    let op = operation(headers)?;
    let caller = app.kms.caller(Some(&who.region), &who.principal, origin)?;
    trail.keys = caller.keys.clone();
    Ok(Prepared { caller, op, body })
}

/// The operation named by `X-Amz-Target`, if this service has it.
fn operation(headers: &HeaderMap) -> Result<&'static str, AwsError> {
    let target = headers
        .get(X_AMZ_TARGET)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let name = target.strip_prefix(TARGET_PREFIX).unwrap_or("");
    if let Some(why) = ops::unserved(name) {
        return Err(AwsError::Kms(KmsError::UnsupportedOperation(format!(
            "{name} is an AWS KMS operation that Trent does not serve: {why}."
        ))));
    }
    OPERATIONS
        .iter()
        .find(|op| **op == name)
        .copied()
        .ok_or_else(|| AwsError::UnknownOperation(format!("Unknown operation target '{target}'")))
}
