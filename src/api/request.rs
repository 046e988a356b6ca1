//! What both dialects read from a request the same way: the body, within a
//! size limit, and header values for signature checks.

use crate::auth::sigv4::HeaderValues;
use axum::body::{Body, Bytes, to_bytes};
use axum::http::header;
use axum::http::request::Parts;

/// Reads the body, refusing (with `Err(limit)`) one whose declared length
/// exceeds `limit` before reading it, and one that turns out longer.
pub async fn read_body(parts: &Parts, body: Body, limit: usize) -> Result<Bytes, usize> {
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(limit);
    }
    to_bytes(body, limit).await.map_err(|_| limit)
}

/// Every value of the header `name`, as text. HTTP/2 carries the host as the
/// `:authority` pseudo-header, in the URI: it stands in for a missing `Host`.
pub fn header_values<'a>(parts: &'a Parts, name: &str) -> HeaderValues<'a> {
    let values: HeaderValues<'a> = parts
        .headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    match (name, parts.uri.authority()) {
        ("host", Some(authority)) if values.is_empty() => smallvec::smallvec![authority.as_str()],
        _ => values,
    }
}
