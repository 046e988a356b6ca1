//! The probes a load balancer or an orchestrator asks, without SigV4:
//! `/healthz` (the process answers) and `/readyz` (it can serve).

use super::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use std::sync::Arc;

/// `GET /healthz`: 200 while the process serves HTTP.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: 200 when the store and every hosted region's token
/// answer; 503 with the first reason otherwise.
pub async fn readyz(State(state): State<Arc<AppState>>) -> (StatusCode, String) {
    let ready = tokio::task::spawn_blocking(move || state.kms.readiness()).await;
    match ready {
        Ok(Ok(())) => (StatusCode::OK, "ready\n".into()),
        Ok(Err(reason)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {reason}\n"),
        ),
        Err(e) => {
            tracing::error!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: the check failed\n".into(),
            )
        }
    }
}
