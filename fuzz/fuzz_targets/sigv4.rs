//! SigV4 (`src/auth/sigv4.rs`): the Authorization header and presigned
//! query parsers, the canonical request, and the whole verification
//! (`Authenticator::authenticate`) on an arbitrary request, which must
//! refuse or accept without panicking.
//!
//! Then the round trip: the same request (its arbitrary method, path, query,
//! headers and body) signed by a configured credential, in the header or
//! the presigned form and over extra arbitrary headers, must verify as that
//! credential.

#![no_main]

use arbitrary::Arbitrary;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Method, Request};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use trent::api::request::header_values;
use trent::auth::Authenticator;
use trent::auth::sigv4::{self, SignedRequest};
use trent_fuzz::{REGIONS, Who, credentials, request_date, sigv4_authorization};

#[derive(Arbitrary, Debug)]
struct Input {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    sign: Option<Sign>,
}

#[derive(Arbitrary, Debug)]
struct Sign {
    alice: bool,
    west: bool,
    presigned: bool,
    /// Which of the request's headers to sign besides the required ones.
    extra: Vec<u8>,
}

fn authenticator() -> &'static Authenticator {
    static AUTHENTICATOR: OnceLock<Authenticator> = OnceLock::new();
    AUTHENTICATOR.get_or_init(|| Authenticator::new("kms", &credentials()).expect("credentials"))
}

fn hosted(region: &str) -> Result<(), String> {
    match REGIONS.contains(&region) {
        true => Ok(()),
        false => Err(format!("Region '{region}' is not hosted here.")),
    }
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

/// Parses and verifies the request as the AWS dialect does.
fn verify(
    parts: &Parts,
    body: &[u8],
) -> Result<trent::auth::Authenticated, trent::auth::AuthError> {
    let values = |name: &str| header_values(parts, name);
    let request = SignedRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &values,
        body,
    };
    for authorization in values("authorization") {
        sigv4::access_key_id(authorization);
        if let Ok(signature) =
            sigv4::parse_header(authorization, values("x-amz-date").first().copied())
        {
            let canonical = sigv4::canonical_request(&request, &signature);
            sigv4::string_to_sign(&signature, &canonical);
        }
    }
    if let Ok(Some(signature)) = sigv4::parse_query(request.query) {
        let canonical = sigv4::canonical_request(&request, &signature);
        sigv4::string_to_sign(&signature, &canonical);
    }
    authenticator().authenticate(&request, &hosted)
}

/// `text` percent-encoded for a query (every byte but `A-Z a-z 0-9 - _ . ~`).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Signs `parts` as `sign` says, replacing any signature it had.
fn sign(mut parts: Parts, body: &[u8], sign: &Sign) -> Option<Parts> {
    let who = if sign.alice { Who::Alice } else { Who::Root };
    let region = REGIONS[usize::from(sign.west)];
    let date = request_date();
    let headers = &mut parts.headers;
    headers.remove("authorization");
    if !headers.contains_key("host") {
        headers.insert("host", HeaderValue::from_static("localhost"));
    }
    headers.insert("x-amz-date", HeaderValue::from_str(&date).ok()?);
    let names: Vec<String> = headers.keys().map(|n| n.as_str().to_string()).collect();
    let mut signed = vec!["host".to_string(), "x-amz-date".to_string()];
    if headers.contains_key("x-amz-target") {
        signed.push("x-amz-target".into());
    }
    for i in &sign.extra {
        if let Some(name) = names.get(usize::from(*i) % names.len().max(1))
            && !signed.contains(name)
        {
            signed.push(name.clone());
        }
    }
    let signed: Vec<&str> = signed.iter().map(String::as_str).collect();
    if sign.presigned {
        let (ak, _, _) = who.credential();
        let ours = format!(
            "X-Amz-Algorithm={}&X-Amz-Credential={ak}%2F{}%2F{region}%2Fkms%2Faws4_request&\
             X-Amz-Date={date}&X-Amz-Expires=300&X-Amz-SignedHeaders={}",
            sigv4::ALGORITHM,
            &date[..8],
            encode(&signed.join(";")),
        );
        let query = match parts.uri.query() {
            Some(q) if !q.is_empty() => format!("{ours}&{q}"),
            _ => ours,
        };
        parts.uri = format!("{}?{query}", parts.uri.path()).parse().ok()?;
        let authorization = {
            let values = |name: &str| header_values(&parts, name);
            let request = SignedRequest {
                method: parts.method.as_str(),
                path: parts.uri.path(),
                query: parts.uri.query().unwrap_or(""),
                headers: &values,
                body,
            };
            sigv4_authorization(&request, who, region, &date, &signed, true)
        };
        let signature = authorization.rsplit("Signature=").next()?.to_string();
        parts.uri = format!(
            "{}?X-Amz-Signature={signature}&{}",
            parts.uri.path(),
            parts.uri.query().unwrap_or("")
        )
        .parse()
        .ok()?;
    } else {
        let authorization = {
            let values = |name: &str| header_values(&parts, name);
            let request = SignedRequest {
                method: parts.method.as_str(),
                path: parts.uri.path(),
                query: parts.uri.query().unwrap_or(""),
                headers: &values,
                body,
            };
            sigv4_authorization(&request, who, region, &date, &signed, false)
        };
        parts
            .headers
            .insert("authorization", HeaderValue::from_str(&authorization).ok()?);
    }
    Some(parts)
}

fuzz_target!(|input: Input| {
    let Some(parts) = build(&input) else {
        return;
    };
    let _ = verify(&parts, &input.body);
    let Some(spec) = &input.sign else {
        return;
    };
    let Some(parts) = sign(parts, &input.body, spec) else {
        return;
    };
    let who = if spec.alice { Who::Alice } else { Who::Root };
    match verify(&parts, &input.body) {
        Ok(authenticated) => {
            assert_eq!(authenticated.principal.arn, who.credential().2);
            assert_eq!(authenticated.region, REGIONS[usize::from(spec.west)]);
        }
        Err(e) => panic!("a correctly signed request was refused: {e}\n{parts:?}"),
    }
});
