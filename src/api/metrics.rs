//! `GET /metrics`: the Prometheus exposition, without SigV4 like the probes.
//! Served on the main listener; keep it off the public side by blocking
//! `/metrics` at the load balancer or reverse proxy (see the README).

use super::state::AppState;
use crate::metrics;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// `GET /metrics`: every metric, with the keys by region and state as the
/// store counted them at most 5 s ago (`Kms::key_counts`); without that
/// gauge if the store does not answer.
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let counts = tokio::task::spawn_blocking(move || state.kms.key_counts()).await;
    let keys = match counts {
        Ok(Ok(keys)) => keys,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "metrics: keys not counted");
            Vec::new()
        }
        Err(e) => {
            tracing::error!(error = %e, "metrics: key count failed");
            Vec::new()
        }
    };
    let body = metrics::metrics().render(&keys);
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(metrics::CONTENT_TYPE),
    );
    response
}
