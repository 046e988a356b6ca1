//! The AWS KMS dialect: AWS JSON 1.1 over `POST /` with
//! `X-Amz-Target: TrentService.<Operation>`.

mod error;
mod ops;
mod shapes;
mod trail;

pub use error::AwsError;
pub use ops::OPERATIONS;

use crate::auth::sigv4::{self, SignedRequest};
use crate::server::AppState;
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;
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
    let result = serve(app.clone(), &parts, body, &mut trail).await;
    let error_code = result.as_ref().err().map(|e| e.kind().0.to_string());
    let mut response = match result {
        Ok(value) => {
            trail.note_response(&value);
            let mut r = value.to_string().into_response();
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
            r
        }
        Err(e) => e.into_response(),
    };
    let record = trail.into_record(arrived, &request_id, peer, error_code);
    let write = tokio::task::spawn_blocking(move || app.audit.append(&record)).await;
    if !matches!(write, Ok(Ok(()))) {
        tracing::error!(?write, "audit trail write failed; refusing the response");
        return AwsError::Kms(crate::kms::KmsError::Internal(
            "audit trail write failed".into(),
        ))
        .into_response();
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amzn-RequestId", v);
    }
    response
}

async fn serve(
    app: Arc<AppState>,
    parts: &Parts,
    body: Body,
    trail: &mut Trail,
) -> Result<serde_json::Value, AwsError> {
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
        .map(str::to_string);
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > app.max_body_bytes) {
        return Err(AwsError::TooLarge(app.max_body_bytes));
    }
    let body = to_bytes(body, app.max_body_bytes)
        .await
        .map_err(|_| AwsError::TooLarge(app.max_body_bytes))?;
    trail.parameters = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    // HTTP/2 carries the host as the :authority pseudo-header, in the URI.
    let authority = parts.uri.authority().map(|a| a.as_str());
    let header_values = |name: &str| -> Vec<&str> {
        let values: Vec<&str> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        match (name, authority) {
            ("host", Some(authority)) if values.is_empty() => vec![authority],
            _ => values,
        }
    };
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
    let caller = app.kms.caller(Some(&who.region), &who.principal)?;
    trail.note_request(&caller);
    let task = tokio::task::spawn_blocking(move || ops::dispatch(&app.kms, &caller, op, &body));
    task.await
        .map_err(|e| AwsError::Kms(crate::kms::KmsError::Internal(format!("task failed: {e}"))))?
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
