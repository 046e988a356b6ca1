//! Huawei Cloud authentication: the `SDK-HMAC-SHA256` AK/SK signature that
//! Huawei's official SDKs compute, verified against the same credential
//! entries as SigV4 (access key id = AK, secret access key = SK), and
//! `X-Auth-Token` values from the configuration mapped to principals.
//!
//! The signature, as `huaweicloudsdkcore.signer.Signer` makes it:
//!
//! ```text
//! CanonicalRequest = METHOD \n CanonicalURI \n CanonicalQuery \n
//!                    CanonicalHeaders \n SignedHeaders \n hex(SHA256(body))
//! StringToSign     = "SDK-HMAC-SHA256" \n X-Sdk-Date \n hex(SHA256(CanonicalRequest))
//! Signature        = hex(HMAC-SHA256(SK, StringToSign))
//! Authorization: SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex
//! ```
//!
//! The canonical URI is the path with each segment percent-decoded and
//! re-encoded (only `A-Z a-z 0-9 - _ . ~` left bare), always ending in `/`;
//! the canonical query is the decoded `key=value` pairs sorted and
//! re-encoded the same way; each signed header is `name:trimmed value\n`.
//! `host` (with its port, as sent) and `x-sdk-date` must be signed, and
//! X-Sdk-Date must lie within 15 minutes of the server's clock.

use super::Principal;
use super::credentials::{CredentialConfig, CredentialError, principal_account};
use super::sigv4::SignedRequest;
use crate::authz::Policy;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, percent_encode};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The algorithm name in the Authorization header.
pub const ALGORITHM: &str = "SDK-HMAC-SHA256";
/// Allowed difference between X-Sdk-Date and the server's clock.
pub const CLOCK_SKEW_SECS: i64 = 15 * 60;
/// Characters left unencoded in canonical URIs and queries.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `X-Auth-Token` values accepted by the Huawei dialect, each mapped to a
/// principal ARN. Debug output never shows the tokens.
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(transparent)]
pub struct AuthTokens(pub BTreeMap<String, String>);

impl std::fmt::Debug for AuthTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.values().map(|p| format!("<token> -> {p}")))
            .finish()
    }
}

/// Why a Huawei-dialect request was not authenticated.
#[derive(Debug, thiserror::Error)]
pub enum HuaweiAuthError {
    /// Neither a signature nor a token.
    #[error(
        "The request carries neither an X-Auth-Token nor an SDK-HMAC-SHA256 Authorization header."
    )]
    Missing,
    /// The Authorization header or a signed header is malformed or missing.
    #[error("{0}")]
    Malformed(String),
    /// The AK is not configured.
    #[error("The access key (AK) {0} is not recognised.")]
    UnknownAccessKey(String),
    /// The signature does not verify.
    #[error(
        "The request signature does not match the signature calculated with the secret key (SK); \
         check the SK and the signing method."
    )]
    SignatureMismatch,
    /// X-Sdk-Date is outside the clock window.
    #[error("{0}")]
    Expired(String),
    /// The X-Auth-Token is not configured.
    #[error("The X-Auth-Token is invalid.")]
    BadToken,
}

/// A parsed `SDK-HMAC-SHA256` Authorization header.
#[derive(Debug, PartialEq, Eq)]
pub struct SdkSignature {
    /// The AK.
    pub access: String,
    /// SignedHeaders as given (lowercase names joined by `;`).
    pub signed_headers: String,
    /// The signature, hex.
    pub signature: String,
}

/// The AK an `SDK-HMAC-SHA256` Authorization header names, if any.
pub fn access_key(authorization: &str) -> Option<&str> {
    let rest = authorization.strip_prefix(ALGORITHM)?;
    rest.split(',')
        .find_map(|p| p.trim().strip_prefix("Access="))
        .filter(|a| !a.is_empty())
}

/// Parses `SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex`.
pub fn parse_authorization(authorization: &str) -> Result<SdkSignature, HuaweiAuthError> {
    let rest = authorization
        .strip_prefix(ALGORITHM)
        .filter(|r| r.starts_with(' '))
        .ok_or_else(|| {
            HuaweiAuthError::Malformed(format!(
                "The Authorization header must use the {ALGORITHM} algorithm."
            ))
        })?;
    let (mut access, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Access=") {
            access = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed_headers = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let missing = |what: &str| {
        HuaweiAuthError::Malformed(format!("The Authorization header lacks '{what}'."))
    };
    let access = access
        .filter(|a| !a.is_empty())
        .ok_or_else(|| missing("Access"))?;
    let signed_headers = signed_headers
        .filter(|s| !s.is_empty())
        .ok_or_else(|| missing("SignedHeaders"))?;
    let signature = signature
        .filter(|s| !s.is_empty())
        .ok_or_else(|| missing("Signature"))?;
    Ok(SdkSignature {
        access: access.to_string(),
        signed_headers: signed_headers.to_ascii_lowercase(),
        signature: signature.to_string(),
    })
}

/// The canonical URI: each path segment decoded and re-encoded, ending in `/`.
pub fn canonical_uri(path: &str) -> String {
    let mut uri = path
        .split('/')
        .map(|segment| {
            let raw: Vec<u8> = percent_decode_str(segment).collect();
            percent_encode(&raw, UNRESERVED).to_string()
        })
        .collect::<Vec<_>>()
        .join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

/// The canonical query: decoded pairs, sorted, re-encoded, joined by `&`.
pub fn canonical_query(query: &str) -> String {
    let decode = |s: &str| -> Vec<u8> { percent_decode_str(s).collect() };
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                percent_encode(k, UNRESERVED),
                percent_encode(v, UNRESERVED)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The canonical request of `request` under the given SignedHeaders.
pub fn canonical_request(
    request: &SignedRequest<'_>,
    signed_headers: &str,
) -> Result<String, HuaweiAuthError> {
    let mut headers = String::new();
    for name in signed_headers.split(';') {
        let values = (request.headers)(name);
        if values.is_empty() {
            return Err(HuaweiAuthError::Malformed(format!(
                "The signed header '{name}' is not in the request."
            )));
        }
        let value = values
            .iter()
            .map(|v| v.trim())
            .collect::<Vec<_>>()
            .join(",");
        headers.push_str(name);
        headers.push(':');
        headers.push_str(&value);
        headers.push('\n');
    }
    let body_hash = hex::encode(Sha256::digest(request.body));
    if let Some(declared) = (request.headers)("x-sdk-content-sha256").first() {
        if !declared.trim().eq_ignore_ascii_case(&body_hash) {
            return Err(HuaweiAuthError::Malformed(
                "X-Sdk-Content-Sha256 must be the SHA-256 of the body; unsigned payloads are \
                 not accepted."
                    .into(),
            ));
        }
    }
    Ok(format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method.to_ascii_uppercase(),
        canonical_uri(request.path),
        canonical_query(request.query),
        headers,
        signed_headers,
        body_hash
    ))
}

/// The string to sign for a canonical request made at `sdk_date`.
pub fn string_to_sign(sdk_date: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{sdk_date}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

/// The signature of `string_to_sign` under the raw secret key, hex.
pub fn sign(secret: &str, string_to_sign: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(string_to_sign.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Checks a hex signature in constant time.
fn signature_matches(secret: &str, string_to_sign: &str, signature_hex: &str) -> bool {
    let Ok(given) = hex::decode(signature_hex) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(string_to_sign.as_bytes());
    mac.verify_slice(&given).is_ok()
}

/// Seconds since the epoch of an X-Sdk-Date (`YYYYMMDDTHHMMSSZ`).
fn parse_sdk_date(date: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(date, &format)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

struct Credential {
    secret: SecretString,
    principal: Principal,
}

/// How a request was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// An AK/SK signature.
    Signature,
    /// An X-Auth-Token.
    Token,
}

/// Verifies Huawei-dialect requests.
pub struct HuaweiAuthenticator {
    credentials: HashMap<String, Credential>,
    /// SHA-256 of each token → its principal (tokens are not kept as such).
    tokens: HashMap<[u8; 32], Principal>,
}

impl HuaweiAuthenticator {
    /// Builds the verifier from the credential entries shared with SigV4
    /// and the configured tokens. A token's principal takes the identity
    /// policy of a credential entry with the same principal, if there is one.
    pub fn new(entries: &[CredentialConfig], tokens: &AuthTokens) -> Result<Self, CredentialError> {
        let mut credentials = HashMap::new();
        let mut policies: HashMap<String, Arc<Policy>> = HashMap::new();
        for entry in entries {
            let principal = Principal::of(entry)?;
            if let Some(p) = &principal.identity_policy {
                policies.insert(entry.principal.clone(), p.clone());
            }
            credentials.insert(
                entry.access_key_id.clone(),
                Credential {
                    secret: entry.secret_access_key.clone(),
                    principal,
                },
            );
        }
        let mut by_hash = HashMap::new();
        for (token, arn) in &tokens.0 {
            let account = principal_account(arn).ok_or_else(|| {
                CredentialError::BadPrincipal("auth_tokens entry".into(), arn.clone())
            })?;
            let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
            by_hash.insert(
                hash,
                Principal {
                    arn: arn.clone(),
                    account_id: account.to_string(),
                    access_key_id: String::new(),
                    identity_policy: policies.get(arn).cloned(),
                },
            );
        }
        Ok(Self {
            credentials,
            tokens: by_hash,
        })
    }

    /// Authenticates a request by its SDK-HMAC-SHA256 signature or, when it
    /// has no Authorization header, by its X-Auth-Token. `now` is the
    /// server's clock in seconds since the epoch.
    pub fn authenticate(
        &self,
        request: &SignedRequest<'_>,
        now: i64,
    ) -> Result<(Principal, Method), HuaweiAuthError> {
        if let Some(authorization) = (request.headers)("authorization").first() {
            return self
                .verify_signature(request, authorization, now)
                .map(|p| (p, Method::Signature));
        }
        if let Some(token) = (request.headers)("x-auth-token").first() {
            let hash: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
            return self
                .tokens
                .get(&hash)
                .cloned()
                .map(|p| (p, Method::Token))
                .ok_or(HuaweiAuthError::BadToken);
        }
        Err(HuaweiAuthError::Missing)
    }

    fn verify_signature(
        &self,
        request: &SignedRequest<'_>,
        authorization: &str,
        now: i64,
    ) -> Result<Principal, HuaweiAuthError> {
        let signature = parse_authorization(authorization)?;
        let names: Vec<&str> = signature.signed_headers.split(';').collect();
        for required in ["host", "x-sdk-date"] {
            if !names.contains(&required) {
                return Err(HuaweiAuthError::Malformed(format!(
                    "SignedHeaders must include '{required}'."
                )));
            }
        }
        let date = (request.headers)("x-sdk-date")
            .first()
            .map(|d| d.trim().to_string())
            .unwrap_or_default();
        let signed_at = parse_sdk_date(&date).ok_or_else(|| {
            HuaweiAuthError::Malformed(format!(
                "X-Sdk-Date must be in the format YYYYMMDD'T'HHMMSS'Z': '{date}'."
            ))
        })?;
        if (now - signed_at).abs() > CLOCK_SKEW_SECS {
            return Err(HuaweiAuthError::Expired(format!(
                "X-Sdk-Date {date} is more than {} minutes from the server's clock.",
                CLOCK_SKEW_SECS / 60
            )));
        }
        let credential = self
            .credentials
            .get(&signature.access)
            .ok_or_else(|| HuaweiAuthError::UnknownAccessKey(signature.access.clone()))?;
        let canonical = canonical_request(request, &signature.signed_headers)?;
        let to_sign = string_to_sign(&date, &canonical);
        if !signature_matches(
            credential.secret.expose_secret(),
            &to_sign,
            &signature.signature,
        ) {
            return Err(HuaweiAuthError::SignatureMismatch);
        }
        Ok(credential.principal.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_uri_reencodes_segments_and_ends_in_slash() {
        assert_eq!(
            canonical_uri("/v1.0/abc/kms/create-key"),
            "/v1.0/abc/kms/create-key/"
        );
        assert_eq!(
            canonical_uri("/v1.0/p/kms/k/tags/a%20b"),
            "/v1.0/p/kms/k/tags/a%20b/"
        );
        assert_eq!(
            canonical_uri("/v1.0/p/kms/k/tags/a+b"),
            "/v1.0/p/kms/k/tags/a%2Bb/"
        );
        assert_eq!(canonical_uri("/"), "/");
    }

    #[test]
    fn canonical_query_sorts_and_encodes() {
        assert_eq!(canonical_query("offset=0&limit=10"), "limit=10&offset=0");
        assert_eq!(canonical_query("b=x%20y&a=1&a=0"), "a=0&a=1&b=x%20y");
        assert_eq!(canonical_query(""), "");
    }

    #[test]
    fn parses_the_authorization_header() {
        let s = parse_authorization(
            "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host;x-sdk-date, Signature=ab12",
        )
        .unwrap();
        assert_eq!(s.access, "AK1");
        assert_eq!(s.signed_headers, "host;x-sdk-date");
        assert_eq!(s.signature, "ab12");
        assert_eq!(
            access_key("SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host, Signature=ab"),
            Some("AK1")
        );
        assert!(parse_authorization("AWS4-HMAC-SHA256 Credential=x").is_err());
        assert!(parse_authorization("SDK-HMAC-SHA256 Access=AK1, Signature=ab").is_err());
    }

    /// The signature of a request computed with Huawei's Python SDK signer
    /// (huaweicloudsdkcore 3.1.219) for AK `AK1`, SK `SK1` at a fixed time.
    #[test]
    fn matches_the_python_sdk_signer() {
        let body = br#"{"key_id": "0d0466b0-e727-4d9c-b35d-f84bb474a37f"}"#;
        fn headers(name: &str) -> Vec<&'static str> {
            match name {
                "content-type" => vec!["application/json;charset=UTF-8"],
                "host" => vec!["127.0.0.1:4599"],
                "user-agent" => vec!["huaweicloud-usdk-python/3.0"],
                "x-project-id" => vec!["0123456789abcdef0123456789abcdef"],
                "x-sdk-date" => vec!["20260101T000000Z"],
                _ => vec![],
            }
        }
        let request = SignedRequest {
            method: "POST",
            path: "/v1.0/0123456789abcdef0123456789abcdef/kms/describe-key",
            query: "",
            headers: &headers,
            body,
        };
        let signed = "content-type;host;user-agent;x-project-id;x-sdk-date";
        let canonical = canonical_request(&request, signed).unwrap();
        let signature = sign("SK1", &string_to_sign("20260101T000000Z", &canonical));
        assert_eq!(signature, PYTHON_SIGNATURE);
    }

    const PYTHON_SIGNATURE: &str =
        "9b6f1e6659bdb66039480e0672c590cf928408c3162aa89fd2c7ba96cd32c72f";
}
