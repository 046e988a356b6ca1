//! The AWS KMS dialect: AWS JSON 1.1 over `POST /` with
//! `X-Amz-Target: TrentService.<Operation>`.

mod error;
mod ops;
mod shapes;
mod trail;

pub use error::AwsError;
pub use ops::OPERATIONS;

use crate::api::guard;
use crate::api::request::{header_values, read_body};
use crate::api::state::AppState;
use crate::auth::sigv4::{self, SignedRequest};
use crate::kms::{Caller, KmsError, Origin};
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;
use tracing::Instrument;
use trail::Trail;

/// Content type of AWS JSON 1.1 requests and responses.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
const TARGET_PREFIX: &str = "TrentService.";

/// Handles one AWS KMS request and leaves one line in the audit trail.
pub async fn handle(
    State(app): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let arrived = SystemTime::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = request.into_parts();
    let mut trail = Trail::default();
    let origin = app.origin(peer);
    let span = guard::request_span(&request_id);
    let prepared = prepare(&app, &parts, body, origin, &mut trail)
        .instrument(span.clone())
        .await;
    let id = request_id.clone();
    let inline = app.inline_crypto && prepared.as_ref().is_ok_and(|p| ops::is_crypto(p.op));
    // The operation runs and its audit line is written before the response
    // leaves: on the async worker for cryptographic operations when
    // `inline_crypto` is set (µs-fast tokens), else in one trip to the
    // blocking pool (PKCS#11 and SQLite calls block).
    let run = move || {
        let _in_request = span.enter();
        let result = prepared.and_then(|p| {
            trail.note_request(&p.caller);
            let result = guard::unpanicked(|| {
                app.test_panic_hook();
                ops::dispatch(&app.kms, &p.caller, p.op, &p.body)
            })
            .unwrap_or_else(|panicked| {
                Err(AwsError::Kms(KmsError::Internal(panicked.to_string())))
            });
            if result.is_err() {
                trail.note_ciphertext_key(&app.kms, p.op, &p.body);
            }
            result
        });
        let error_code = result.as_ref().err().map(|e| e.kind().0.to_string());
        if let Ok(value) = &result {
            trail.note_response(value);
        }
        let record = trail.into_record(arrived, &id, peer, error_code);
        app.audit.append(&record).map(|()| result)
    };
    let finished = if inline {
        Ok(run())
    } else {
        tokio::task::spawn_blocking(run).await
    };
    let mut response = match finished {
        Ok(Ok(Ok(value))) => {
            let mut r = value.to_string().into_response();
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
            r
        }
        Ok(Ok(Err(e))) => e.into_response(),
        failed => {
            tracing::error!(?failed, "request or audit trail write failed");
            AwsError::Kms(KmsError::Internal("request or audit write failed".into()))
                .into_response()
        }
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amzn-RequestId", v);
    }
    response
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
    trail.operation = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(|t| t.strip_prefix(TARGET_PREFIX).unwrap_or(t).to_string())
        .unwrap_or_default();
    trail.access_key_id = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(sigv4::access_key_id)
        .map(str::to_string)
        .or_else(|| sigv4::presigned_access_key_id(parts.uri.query().unwrap_or("")));
    let body = read_body(parts, body, app.max_body_bytes)
        .await
        .map_err(AwsError::TooLarge)?;
    trail.body = body.clone();
    let header_values = |name: &str| header_values(parts, name);
    let signed = SignedRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &header_values,
        body: &body,
    };
    let who = app
        .authenticator
        .authenticate(&signed, &|region| app.kms.hosts(region))?;
    trail.region = Some(who.region.clone());
    trail.principal = Some(who.principal.arn.clone());
    trail.access_key_id = Some(who.principal.access_key_id.clone());
    let op = operation(headers)?;
    let caller = app.kms.caller(Some(&who.region), &who.principal, origin)?;
    Ok(Prepared { caller, op, body })
}

/// The operation named by `X-Amz-Target`, if this service has it.
fn operation(headers: &HeaderMap) -> Result<&'static str, AwsError> {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let name = target.strip_prefix(TARGET_PREFIX).unwrap_or("");
    OPERATIONS
        .iter()
        .find(|op| **op == name)
        .copied()
        .ok_or_else(|| AwsError::UnknownOperation(format!("Unknown operation target '{target}'")))
}
