//! Answers to requests no dialect serves: a path with no route (404), or a
//! method a route does not take (405), each with a JSON error that names
//! where the dialects are served, rather than an empty body.

use crate::audit::clipped;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// Where the dialects take their requests, for the message.
const SERVED: &str = "AWS KMS requests are POST / with X-Amz-Target; Huawei KMS requests go \
                      under /v1.0/ or /v2/; probes are GET /healthz, /readyz and /metrics.";

/// 404: no route has this path.
pub async fn no_route(method: Method, uri: Uri) -> Response {
    answer(StatusCode::NOT_FOUND, &method, &uri)
}

/// 405: the path's route does not take this method.
pub async fn wrong_method(method: Method, uri: Uri) -> Response {
    answer(StatusCode::METHOD_NOT_ALLOWED, &method, &uri)
}

fn answer(status: StatusCode, method: &Method, uri: &Uri) -> Response {
    let message = format!(
        "No operation is served at {} {}. {SERVED}",
        method.as_str(),
        clipped(uri.path())
    );
    let body = serde_json::json!({ "__type": "UnknownOperationException", "message": message });
    let content_type = HeaderValue::from_static("application/x-amz-json-1.1");
    (
        status,
        [(header::CONTENT_TYPE, content_type)],
        body.to_string(),
    )
        .into_response()
}
