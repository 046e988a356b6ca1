//! Huawei signing (`src/auth/huawei_sign.rs`) and path routing
//! (`trent::api::huawei::parse_path`): the Authorization header parser, the
//! canonical URI, query and request, and the whole verification
//! (`HuaweiAuthenticator::authenticate`) on an arbitrary request, which must
//! refuse or accept without panicking.
//!
//! Then the round trip: the same request signed with SDK-HMAC-SHA256 by a
//! configured AK/SK over extra arbitrary headers (optionally declaring
//! X-Sdk-Content-Sha256) must verify as that credential, unless its query
//! names a parameter twice, which the verifier refuses by design.

#![no_main]

use arbitrary::Arbitrary;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Method, Request};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};
use trent::api::huawei::parse_path;
use trent::api::request::header_values;
use trent::auth::Principal;
use trent::auth::huawei_sign::{self, HuaweiAuthError, HuaweiAuthenticator, Method as How};
use trent::auth::sigv4::SignedRequest;
use trent_fuzz::{
    Who, auth_tokens, credentials, huawei_authorization, project_account, request_date,
};

#[derive(Arbitrary, Debug)]
struct Input {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Seconds the server's clock is off from now.
    skew: i16,
    sign: Option<Sign>,
}

#[derive(Arbitrary, Debug)]
struct Sign {
    alice: bool,
    content_sha256: bool,
    /// Which of the request's headers to sign besides the required ones.
    extra: Vec<u8>,
}

fn authenticator() -> &'static HuaweiAuthenticator {
    static AUTHENTICATOR: OnceLock<HuaweiAuthenticator> = OnceLock::new();
    AUTHENTICATOR.get_or_init(|| {
        HuaweiAuthenticator::new(&credentials(), &auth_tokens(), &project_account)
            .expect("credentials")
    })
}

/// The request as the server sees it, or `None` when `http` refuses its
/// method or URI. Headers `http` refuses are left out.
fn build(input: &Input) -> Option<Parts> {
    let uri = if input.query.is_empty() {
        input.path.clone()
    } else {
        format!("{}?{}", input.path, input.query)
    };
    let mut request = Request::builder()
        .method(Method::from_bytes(input.method.as_bytes()).ok()?)
        .uri(uri)
        .body(())
        .ok()?;
    for (name, value) in &input.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            request.headers_mut().append(name, value);
        }
    }
    Some(request.into_parts().0)
}

/// Parses, routes and verifies the request as the Huawei dialect does.
fn verify(parts: &Parts, body: &[u8], now: i64) -> Result<(Principal, How), HuaweiAuthError> {
    let values = |name: &str| header_values(parts, name);
    let request = SignedRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &values,
        body,
    };
    let project = parse_path(&parts.method, request.path).map(|(project, _)| project);
    huawei_sign::canonical_uri(request.path);
    huawei_sign::canonical_query(request.query);
    for authorization in values("authorization") {
        huawei_sign::access_key(authorization);
        if let Ok(signature) = huawei_sign::parse_authorization(authorization) {
            let _ = huawei_sign::canonical_request(&request, &signature.signed_headers);
        }
    }
    authenticator().authenticate(&request, project.as_deref(), now)
}

/// Whether `query` names a parameter twice (after percent-decoding).
fn repeats_a_parameter(query: &str) -> bool {
    let mut names = std::collections::HashSet::new();
    query.split('&').filter(|p| !p.is_empty()).any(|pair| {
        let name = pair.split_once('=').map_or(pair, |(k, _)| k);
        !names.insert(percent_decode(name))
    })
}

/// `text` with its `%XX` escapes decoded.
fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

/// Signs `parts` as `sign` says, replacing any signature it had; `None`
/// when the request cannot be signed.
fn sign(mut parts: Parts, body: &[u8], sign: &Sign) -> Option<Parts> {
    let who = if sign.alice { Who::Alice } else { Who::Root };
    let date = request_date();
    let headers = &mut parts.headers;
    headers.remove("authorization");
    if !headers.contains_key("host") {
        headers.insert("host", HeaderValue::from_static("localhost"));
    }
    headers.insert("x-sdk-date", HeaderValue::from_str(&date).ok()?);
    if sign.content_sha256 {
        let hash = hex::encode(Sha256::digest(body));
        headers.insert("x-sdk-content-sha256", HeaderValue::from_str(&hash).ok()?);
    }
    let names: Vec<String> = headers.keys().map(|n| n.as_str().to_string()).collect();
    let mut signed = vec!["host".to_string(), "x-sdk-date".to_string()];
    for i in &sign.extra {
        if let Some(name) = names.get(usize::from(*i) % names.len().max(1))
            && !signed.contains(name)
        {
            signed.push(name.clone());
        }
    }
    signed.sort();
    let authorization = {
        let values = |name: &str| header_values(&parts, name);
        let request = SignedRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &values,
            body,
        };
        huawei_authorization(&request, who, &date, &signed.join(";"))?
    };
    parts
        .headers
        .insert("authorization", HeaderValue::from_str(&authorization).ok()?);
    Some(parts)
}

fuzz_target!(|input: Input| {
    let Some(parts) = build(&input) else {
        return;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let _ = verify(&parts, &input.body, now + i64::from(input.skew));
    let Some(spec) = &input.sign else {
        return;
    };
    if repeats_a_parameter(parts.uri.query().unwrap_or("")) {
        return;
    }
    let Some(parts) = sign(parts, &input.body, spec) else {
        return;
    };
    let who = if spec.alice { Who::Alice } else { Who::Root };
    match verify(&parts, &input.body, now) {
        Ok((principal, how)) => {
            assert_eq!(principal.arn, who.credential().2);
            assert_eq!(how, How::Signature);
        }
        Err(e) => panic!("a correctly signed request was refused: {e}\n{parts:?}"),
    }
});
