//! The one request skeleton both dialects run: read and authenticate
//! (dialect), run the operation inline or on the blocking pool with panics
//! caught, write the audit line before the response leaves, respond with
//! the request id. Each dialect supplies only its own steps.

use crate::api::guard;
use crate::api::state::AppState;
use crate::audit::AuditRecord;
use crate::kms::Origin;
use crate::logs::{Within, within};
use crate::metrics;
use axum::body::Body;
use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// One dialect's steps of serving a request.
pub trait Dialect: 'static {
    /// What the audit line is built from, gathered while serving.
    type Trail: Default + Send + 'static;
    /// An authenticated request, ready to run.
    type Prepared: Send + 'static;
    /// A successful answer.
    type Reply: IntoResponse + Send + 'static;
    /// A refusal or failure, as the dialect answers it.
    type Error: IntoResponse + std::fmt::Debug + Send + 'static;

    /// The response header that carries the request id (HTTP/1.1 sends
    /// header names in lowercase).
    const REQUEST_ID_HEADER: HeaderName;

    /// The dialect's name in metrics.
    const NAME: &'static str;

    /// A new request id, in the dialect's form.
    fn request_id() -> String;

    /// Reads the body and authenticates, noting what the audit line needs.
    fn prepare<'a>(
        app: &'a AppState,
        parts: &'a Parts,
        body: Body,
        origin: Origin,
        trail: &'a mut Self::Trail,
    ) -> impl Future<Output = Result<Self::Prepared, Self::Error>> + Send + 'a;

    /// Whether the operation may run on the async worker (µs-fast work).
    fn inline(app: &AppState, prepared: &Self::Prepared) -> bool;

    /// Runs the operation. The keys it touches reach the audit line through
    /// the caller's [`crate::kms::KeysNamed`], noted by the KMS core.
    fn run(app: &AppState, prepared: Self::Prepared) -> Result<Self::Reply, Self::Error>;

    /// The answer to an internal failure (details only in the log).
    fn internal(detail: &str) -> Self::Error;

    /// The operation the request named, as a bounded metrics label:
    /// [`metrics::UNKNOWN_OPERATION`] for any the service lacks.
    fn operation(trail: &Self::Trail) -> &'static str;

    /// The error code the audit line records.
    fn error_code(error: &Self::Error) -> &'static str;

    /// The audit line of the finished request.
    fn record(
        trail: Self::Trail,
        arrived: SystemTime,
        request_id: &str,
        peer: SocketAddr,
        error_code: Option<String>,
    ) -> AuditRecord;
}

/// Serves one request of dialect `D` and leaves one line in the audit trail.
pub async fn serve<D: Dialect>(app: Arc<AppState>, peer: SocketAddr, request: Request) -> Response {
    let arrived = SystemTime::now();
    let started = Instant::now();
    let request_id: Arc<str> = D::request_id().into();
    let (parts, body) = request.into_parts();
    let mut trail = D::Trail::default();
    let prepared = Within::new(
        &request_id,
        D::prepare(&app, &parts, body, app.origin(peer), &mut trail),
    )
    .await;
    let inline = prepared.as_ref().is_ok_and(|p| D::inline(&app, p));
    let operation = D::operation(&trail);
    let running = Arc::clone(&request_id);
    // The operation runs on the async worker when the dialect says the
    // work is fast, else in one trip to the blocking pool (PKCS#11 and
    // SQLite calls block); its audit line is written before the response
    // leaves.
    let run = move || {
        within(&running, || {
            let result = prepared.and_then(|p| {
                guard::unpanicked(|| {
                    app.test_panic_hook();
                    D::run(&app, p)
                })
                .unwrap_or_else(|panicked| Err(D::internal(&panicked.to_string())))
            });
            let error_code = result.as_ref().err().map(D::error_code);
            let record = D::record(
                trail,
                arrived,
                &running,
                peer,
                error_code.map(str::to_string),
            );
            (result, app.audit.add(&record))
        })
    };
    let finished = if inline {
        Ok(run())
    } else {
        tokio::task::spawn_blocking(run).await
    };
    let outcome = match finished {
        Ok((result, line)) => {
            let written = match line {
                Ok(line) => Within::new(&request_id, line.written()).await,
                Err(e) => Err(e),
            };
            Ok((written, result))
        }
        Err(join) => Err(join),
    };
    // The response is made as the request's work too: turning an error into
    // its answer logs internal details.
    within(&request_id, || {
        let answer = match outcome {
            Ok((Ok(()), Ok(reply))) => Ok(reply),
            Ok((Ok(()), Err(e))) => Err(e),
            Ok((Err(e), _)) => {
                tracing::error!(error = %e, "audit trail write failed");
                Err(D::internal("audit write failed"))
            }
            Err(join) => {
                tracing::error!(error = %join, "request task failed");
                Err(D::internal("request failed"))
            }
        };
        let (mut response, code) = match answer {
            Ok(reply) => (reply.into_response(), metrics::OK),
            Err(e) => {
                let code = D::error_code(&e);
                (e.into_response(), code)
            }
        };
        metrics::metrics().request(D::NAME, operation, code, started.elapsed());
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert(D::REQUEST_ID_HEADER, v);
        }
        response
    })
}
