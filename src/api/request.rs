//! What both dialects read from a request the same way: the body, within a
//! size limit, and header values for signature checks.

use crate::auth::sigv4::HeaderValues;
use axum::body::{Body, Bytes, to_bytes};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use http_body_util::LengthLimitError;
use std::time::Duration;

/// How long a client may take to send a request's body once its headers
/// have arrived: a client that trickles it holds a connection and up to the
/// body limit of memory.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BodyRefused {
    /// Longer than the limit (declared so, or found so).
    #[error("Request body exceeds the limit of {0} bytes.")]
    TooLarge(usize),
    /// Cut short (the connection ended before the declared length) or
    /// badly framed (a malformed chunk).
    #[error(
        "The request body could not be read: it ended before its declared length, or its \
         chunked framing is malformed."
    )]
    Malformed,
    /// Not all there within [`BODY_READ_TIMEOUT`].
    #[error("The request body did not arrive within {} seconds.", BODY_READ_TIMEOUT.as_secs())]
    TooSlow,
}

/// Reads the body, refusing one whose declared length exceeds `limit`
/// before reading it, one that turns out longer, one cut short or badly
/// framed, and one that takes longer than [`BODY_READ_TIMEOUT`].
pub async fn read_body(parts: &Parts, body: Body, limit: usize) -> Result<Bytes, BodyRefused> {
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(BodyRefused::TooLarge(limit));
    }
    match tokio::time::timeout(BODY_READ_TIMEOUT, to_bytes(body, limit)).await {
        Ok(read) => read.map_err(|e| match e.into_inner().is::<LengthLimitError>() {
            true => BodyRefused::TooLarge(limit),
            false => BodyRefused::Malformed,
        }),
        Err(_) => Err(BodyRefused::TooSlow),
    }
}

/// A request's headers, gathered once to be looked up by name many times
/// (a signature check looks up every header it signs): scanning a short
/// list costs less than `HeaderMap`'s parsing and hashing of every name
/// looked up.
pub struct Headers<'a> {
    /// Every value, under its (lowercase) name, in the map's order: a
    /// name's values together, in the order they came.
    entries: Vec<(&'a str, &'a HeaderValue)>,
    /// The URI's authority (HTTP/2's `:authority`).
    authority: Option<&'a str>,
}

impl<'a> Headers<'a> {
    /// The headers of `parts`.
    pub fn of(parts: &'a Parts) -> Self {
        Self {
            entries: parts.headers.iter().map(|(n, v)| (n.as_str(), v)).collect(),
            authority: parts.uri.authority().map(|a| a.as_str()),
        }
    }

    /// Every value of the header `name` (in any case), as text. A value
    /// that is not UTF-8 stands as U+FFFD, which no signature covers:
    /// dropping it would let an unsigned value ride along with a signed
    /// one. HTTP/2 carries the host as the `:authority` pseudo-header, in
    /// the URI: it stands in for a missing `Host`.
    pub fn values(&self, name: &str) -> HeaderValues<'a> {
        let values: HeaderValues<'a> = self
            .entries
            .iter()
            .filter(|(n, _)| n.len() == name.len() && n.eq_ignore_ascii_case(name))
            .map(|(_, v)| std::str::from_utf8(v.as_bytes()).unwrap_or("\u{FFFD}"))
            .collect();
        match self.authority {
            Some(authority) if values.is_empty() && name.eq_ignore_ascii_case("host") => {
                smallvec::smallvec![authority]
            }
            _ => values,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Headers;
    use axum::http::{HeaderValue, Request};

    #[test]
    fn header_values_are_every_value_of_the_name_in_order() {
        let mut request = Request::post("http://kms.example:4443/")
            .header("X-Amz-Date", "20261204T000000Z")
            .header("x-amz-meta", "first")
            .header("content-type", "application/x-amz-json-1.1")
            .header("X-Amz-Meta", "second")
            .body(())
            .expect("request");
        request.headers_mut().append(
            "x-amz-meta",
            HeaderValue::from_bytes(b"\xff").expect("opaque bytes"),
        );
        let (parts, ()) = request.into_parts();
        let headers = Headers::of(&parts);
        assert_eq!(
            headers.values("x-amz-meta").as_slice(),
            ["first", "second", "\u{FFFD}"]
        );
        assert_eq!(
            headers.values("X-AMZ-DATE").as_slice(),
            ["20261204T000000Z"]
        );
        assert!(headers.values("x-amz-target").is_empty());
        assert!(headers.values("x-amz").is_empty(), "whole names only");
        assert_eq!(
            headers.values("host").as_slice(),
            ["kms.example:4443"],
            "the URI's authority stands in for a missing Host"
        );
    }
}
