//! The HTTP ceiling: a bare axum handler on the HTTP stack Trent serves with
//! (axum-server over hyper, tokio's multi-threaded runtime, mimalloc) that
//! answers every request with one fixed body, Trent's own answer to an
//! Encrypt of 32 bytes. It reads no body and checks no signature: what it
//! costs is what any HTTP service on this stack costs, and Trent's figures
//! are printed as ratios to it.

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use std::net::TcpListener;
use std::path::Path;

/// Serves `answer_file`'s bytes to every request on a loopback port, after
/// printing `ceiling listening on http://ADDR`; runs until killed.
pub fn serve(answer_file: &Path) -> Result<(), String> {
    let answer = Bytes::from(
        std::fs::read(answer_file).map_err(|e| format!("{}: {e}", answer_file.display()))?,
    );
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("tokio runtime: {e}"))?;
    println!("ceiling listening on http://{addr}");
    let app = Router::new().fallback(move || {
        let answer = answer.clone();
        async move {
            let mut response = answer.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-amz-json-1.1"),
            );
            response
        }
    });
    runtime
        .block_on(async {
            axum_server::from_tcp(listener)?
                .serve(app.into_make_service())
                .await
        })
        .map_err(|e| format!("serve: {e}"))
}
