//! Huawei Cloud authentication: the `SDK-HMAC-SHA256` AK/SK signature that
//! Huawei's official SDKs compute, verified against the same credential
//! entries as SigV4 (access key id = AK, secret access key = SK), and
//! configured `X-Auth-Token`s, each naming a principal, the one project it
//! is valid for and when it expires.
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
//! X-Sdk-Date must lie within 5 minutes of the server's clock, either way
//! (SigV4's window; Huawei's gateway allows 15).

use super::credentials::{CredentialError, principal_account};
use super::sigv4::SignedRequest;
use super::{Identity, Principal};
use crate::authz::Policy;
use crate::config::{CredentialConfig, TokenConfig};
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, percent_encode};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The algorithm name in the Authorization header.
pub const ALGORITHM: &str = "SDK-HMAC-SHA256";
/// Allowed difference between X-Sdk-Date and the server's clock, either
/// way: the same window as SigV4's X-Amz-Date.
pub const CLOCK_SKEW_SECS: i64 = super::CLOCK_SKEW_SECS;
/// Fewest characters of a token configured in clear.
pub const MIN_TOKEN_CHARS: usize = 32;
/// Characters left unencoded in canonical URIs and queries.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Errors in the `[[auth_tokens]]` configuration; each names the entry by
/// its position (1-based) and principal, never by its token.
#[derive(Debug, thiserror::Error)]
pub enum TokenConfigError {
    /// Neither or both of `token` and `token_sha256`.
    #[error("auth_tokens entry {0} ({1}): give exactly one of token and token_sha256")]
    Source(usize, String),
    /// A token given in clear is too short to resist guessing.
    #[error("auth_tokens entry {0} ({1}): a token must be at least {MIN_TOKEN_CHARS} characters")]
    TooShort(usize, String),
    /// `token_sha256` is not 64 hex digits.
    #[error("auth_tokens entry {0} ({1}): token_sha256 must be 64 hex digits")]
    BadHash(usize, String),
    /// The principal is not an IAM ARN with a 12-digit account.
    #[error(
        "auth_tokens entry {0}: principal {1:?} must be an IAM ARN like arn:aws:iam::111122223333:user/alice"
    )]
    BadPrincipal(usize, String),
    /// `expires_at` is not an RFC 3339 time.
    #[error("auth_tokens entry {0} ({1}): expires_at {2:?} is not an RFC 3339 time")]
    BadExpiry(usize, String, String),
    /// The project is not served, or belongs to another account.
    #[error(
        "auth_tokens entry {0} ({1}): project {2:?} is not a configured project of the principal's account"
    )]
    Project(usize, String, String),
    /// Two entries hold the same token.
    #[error("auth_tokens entry {0} ({1}): the same token is configured twice")]
    Duplicate(usize, String),
    /// The principal's credential entries carry different identity
    /// policies, so the token's would be ambiguous.
    #[error(
        "auth_tokens entry {0} ({1}): the principal's [[credentials]] entries carry different identity policies; give them one"
    )]
    AmbiguousPolicy(usize, String),
    /// A credential entry is invalid.
    #[error(transparent)]
    Credential(#[from] CredentialError),
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
    /// The X-Auth-Token's validity ended.
    #[error("The X-Auth-Token has expired.")]
    TokenExpired,
    /// The X-Auth-Token is scoped to another project than the request's.
    #[error("The X-Auth-Token is not valid for this project.")]
    TokenScope,
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
    let signed_headers = signed_headers.to_ascii_lowercase();
    super::check_signed_headers(signed_headers.split(';')).map_err(HuaweiAuthError::Malformed)?;
    Ok(SdkSignature {
        access: access.to_string(),
        signed_headers,
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

/// Refuses a query that names a parameter twice: the canonical query sorts
/// the pairs, so `a=1&a=2` and `a=2&a=1` carry the same signature, yet the
/// dialect reads the first value; the order would be the attacker's. No
/// Huawei KMS API repeats a query parameter.
fn check_query_names(query: &str) -> Result<(), HuaweiAuthError> {
    let mut names = HashSet::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let name = pair.split_once('=').map_or(pair, |(k, _)| k);
        let decoded: Vec<u8> = percent_decode_str(name).collect();
        if !names.insert(decoded) {
            return Err(HuaweiAuthError::Malformed(format!(
                "The query parameter '{}' is given more than once.",
                percent_decode_str(name).decode_utf8_lossy()
            )));
        }
    }
    Ok(())
}

struct Credential {
    secret: SecretString,
    principal: Principal,
}

/// A configured token, known by its SHA-256.
struct Token {
    principal: Principal,
    project_id: String,
    /// Seconds since the epoch from which the token is refused.
    expires_at: i64,
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
    /// SHA-256 of each token → what it grants (tokens are not kept as such).
    tokens: HashMap<[u8; 32], Token>,
}

impl HuaweiAuthenticator {
    /// Builds the verifier from the credential entries shared with SigV4
    /// and the configured tokens. `project_account` gives the account of a
    /// served project; a token must name a project of its principal's
    /// account. A token's principal takes the identity policy of the
    /// credential entries with the same principal, if there are any (they
    /// must then all carry the same one).
    pub fn new(
        entries: &[CredentialConfig],
        tokens: &[TokenConfig],
        project_account: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, TokenConfigError> {
        let mut credentials = HashMap::new();
        // Principal ARN → its policy text and parsed identity policy; the
        // principals whose entries carry different policies.
        let mut policies: HashMap<&str, (&Option<String>, Option<Arc<Policy>>)> = HashMap::new();
        let mut ambiguous: HashSet<&str> = HashSet::new();
        for entry in entries {
            let principal = Principal::of(entry)?;
            match policies.entry(entry.principal.as_str()) {
                Entry::Vacant(v) => {
                    v.insert((&entry.policy, principal.identity_policy.clone()));
                }
                Entry::Occupied(o) if o.get().0 != &entry.policy => {
                    ambiguous.insert(entry.principal.as_str());
                }
                Entry::Occupied(_) => {}
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
        for (n, entry) in tokens.iter().enumerate() {
            let (n, arn) = (n + 1, entry.principal.clone());
            let account = principal_account(&arn)
                .ok_or_else(|| TokenConfigError::BadPrincipal(n, arn.clone()))?;
            let hash = token_hash(n, entry)?;
            let expires_at = OffsetDateTime::parse(&entry.expires_at, &Rfc3339)
                .map_err(|_| TokenConfigError::BadExpiry(n, arn.clone(), entry.expires_at.clone()))?
                .unix_timestamp();
            if project_account(&entry.project_id).as_deref() != Some(account) {
                return Err(TokenConfigError::Project(n, arn, entry.project_id.clone()));
            }
            if ambiguous.contains(arn.as_str()) {
                return Err(TokenConfigError::AmbiguousPolicy(n, arn));
            }
            let identity_policy = policies.get(arn.as_str()).and_then(|(_, p)| p.clone());
            let token = Token {
                principal: Identity {
                    account_id: account.to_string(),
                    access_key_id: String::new(),
                    identity_policy,
                    arn: arn.clone(),
                }
                .into(),
                project_id: entry.project_id.clone(),
                expires_at,
            };
            if by_hash.insert(hash, token).is_some() {
                return Err(TokenConfigError::Duplicate(n, arn));
            }
        }
        Ok(Self {
            credentials,
            tokens: by_hash,
        })
    }

    /// Authenticates a request by its SDK-HMAC-SHA256 signature or, when it
    /// has no Authorization header, by its X-Auth-Token, which must be
    /// scoped to `project` (the project id in the request's path) and not
    /// have expired. `now` is the server's clock in seconds since the epoch.
    pub fn authenticate(
        &self,
        request: &SignedRequest<'_>,
        project: Option<&str>,
        now: i64,
    ) -> Result<(Principal, Method), HuaweiAuthError> {
        if let Some(authorization) = (request.headers)("authorization").first() {
            return self
                .verify_signature(request, authorization, now)
                .map(|p| (p, Method::Signature));
        }
        if let Some(token) = (request.headers)("x-auth-token").first() {
            // Looked up by its SHA-256: comparing hashes reveals nothing
            // usable about the tokens themselves.
            let hash: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
            let token = self.tokens.get(&hash).ok_or(HuaweiAuthError::BadToken)?;
            if now >= token.expires_at {
                return Err(HuaweiAuthError::TokenExpired);
            }
            if project != Some(token.project_id.as_str()) {
                return Err(HuaweiAuthError::TokenScope);
            }
            return Ok((token.principal.clone(), Method::Token));
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
        check_query_names(request.query)?;
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
        let signed_at = super::basic_time_seconds(&date).ok_or_else(|| {
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

/// The SHA-256 of an entry's token, from the token or from `token_sha256`.
fn token_hash(n: usize, entry: &TokenConfig) -> Result<[u8; 32], TokenConfigError> {
    let arn = || entry.principal.clone();
    match (&entry.token, &entry.token_sha256) {
        (Some(token), None) => {
            let token = token.expose_secret().trim();
            if token.chars().count() < MIN_TOKEN_CHARS {
                return Err(TokenConfigError::TooShort(n, arn()));
            }
            Ok(Sha256::digest(token.as_bytes()).into())
        }
        (None, Some(hash)) => hex::decode(hash.trim())
            .ok()
            .and_then(|h| <[u8; 32]>::try_from(h).ok())
            .ok_or_else(|| TokenConfigError::BadHash(n, arn())),
        _ => Err(TokenConfigError::Source(n, arn())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::sigv4::HeaderValues;

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
        fn headers(name: &str) -> HeaderValues<'static> {
            match name {
                "content-type" => smallvec::smallvec!["application/json;charset=UTF-8"],
                "host" => smallvec::smallvec!["127.0.0.1:4599"],
                "user-agent" => smallvec::smallvec!["huaweicloud-usdk-python/3.0"],
                "x-project-id" => smallvec::smallvec!["0123456789abcdef0123456789abcdef"],
                "x-sdk-date" => smallvec::smallvec!["20260101T000000Z"],
                _ => smallvec::smallvec![],
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

    /// A signed request whose query repeats a parameter is refused, since
    /// reordering the values would keep its signature; distinct parameters
    /// are accepted.
    #[test]
    fn a_signed_query_may_not_repeat_a_parameter() {
        let auth =
            HuaweiAuthenticator::new(&[credential("AK1", ALICE, None)], &[], &projects).unwrap();
        let check = |query: &str| {
            let headers = |name: &str| -> HeaderValues<'_> {
                match name {
                    "host" => smallvec::smallvec!["kms.example"],
                    "x-sdk-date" => smallvec::smallvec!["20260101T000000Z"],
                    _ => smallvec::smallvec![],
                }
            };
            let mut request = SignedRequest {
                method: "GET",
                path: "/v2/p1/kms/regions",
                query,
                headers: &headers,
                body: b"",
            };
            let canonical = canonical_request(&request, "host;x-sdk-date").unwrap();
            let signature = sign("secret", &string_to_sign("20260101T000000Z", &canonical));
            let authorization = format!(
                "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host;x-sdk-date, Signature={signature}"
            );
            let with_authorization = |name: &str| -> HeaderValues<'_> {
                match name {
                    "authorization" => smallvec::smallvec![authorization.as_str()],
                    other => headers(other),
                }
            };
            request.headers = &with_authorization;
            auth.authenticate(&request, Some("p1"), JAN_2026)
        };
        assert!(check("").is_ok());
        assert!(check("limit=1&offset=5").is_ok());
        for repeated in [
            "limit=1&limit=5",
            "limit=5&offset=0&limit=1",
            "limit=1&%6Cimit=5",
        ] {
            assert!(
                matches!(check(repeated), Err(HuaweiAuthError::Malformed(m)) if m.contains("limit")),
                "{repeated}"
            );
        }
    }

    const TOKEN: &str = "token-0123456789abcdef0123456789abcdef";
    const ALICE: &str = "arn:aws:iam::111122223333:user/alice";

    fn token_entry(principal: &str, project: &str, expires_at: &str) -> TokenConfig {
        TokenConfig {
            token: Some(SecretString::from(TOKEN)),
            token_sha256: None,
            principal: principal.into(),
            project_id: project.into(),
            expires_at: expires_at.into(),
        }
    }

    fn credential(key: &str, principal: &str, policy: Option<&str>) -> CredentialConfig {
        CredentialConfig {
            access_key_id: key.into(),
            secret_access_key: SecretString::from("secret"),
            principal: principal.into(),
            policy: policy.map(str::to_string),
        }
    }

    fn projects(id: &str) -> Option<String> {
        match id {
            "p1" | "p2" => Some("111122223333".into()),
            "other" => Some("444455556666".into()),
            _ => None,
        }
    }

    fn by_token(
        auth: &HuaweiAuthenticator,
        token: &'static str,
        project: &str,
        now: i64,
    ) -> Result<(Principal, Method), HuaweiAuthError> {
        let token = token.to_string();
        let headers = |name: &str| {
            if name == "x-auth-token" {
                smallvec::smallvec![token.as_str()]
            } else {
                HeaderValues::new()
            }
        };
        let request = SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body: b"",
        };
        auth.authenticate(&request, Some(project), now)
    }

    /// 2026-01-01T00:00:00Z.
    const JAN_2026: i64 = 1_767_225_600;

    #[test]
    fn tokens_are_scoped_to_one_project_and_expire() {
        let entry = token_entry(ALICE, "p1", "2026-01-01T00:00:00Z");
        let auth = HuaweiAuthenticator::new(&[], &[entry], &projects).unwrap();
        let (principal, how) = by_token(&auth, TOKEN, "p1", JAN_2026 - 1).unwrap();
        assert_eq!((principal.arn.as_str(), how), (ALICE, Method::Token));
        assert!(principal.identity_policy.is_none());
        assert!(matches!(
            by_token(&auth, TOKEN, "p1", JAN_2026),
            Err(HuaweiAuthError::TokenExpired)
        ));
        assert!(matches!(
            by_token(&auth, TOKEN, "p2", JAN_2026 - 1),
            Err(HuaweiAuthError::TokenScope)
        ));
        assert!(matches!(
            by_token(&auth, "token-0123456789abcdef0123456789abcdeF", "p1", 0),
            Err(HuaweiAuthError::BadToken)
        ));
    }

    #[test]
    fn a_token_may_be_configured_by_its_hash() {
        let mut entry = token_entry(ALICE, "p1", "2026-01-01T00:00:00+01:00");
        entry.token = None;
        entry.token_sha256 = Some(hex::encode(Sha256::digest(TOKEN.as_bytes())));
        let auth = HuaweiAuthenticator::new(&[], &[entry], &projects).unwrap();
        assert!(by_token(&auth, TOKEN, "p1", JAN_2026 - 3601).is_ok());
        assert!(matches!(
            by_token(&auth, TOKEN, "p1", JAN_2026 - 3600),
            Err(HuaweiAuthError::TokenExpired)
        ));
    }

    #[test]
    fn token_entries_are_checked_at_start_up() {
        let build = |entries: &[TokenConfig], credentials: &[CredentialConfig]| {
            HuaweiAuthenticator::new(credentials, entries, &projects).map(|_| ())
        };
        let good = token_entry(ALICE, "p1", "2026-01-01T00:00:00Z");
        let mut short = good.clone();
        short.token = Some(SecretString::from("short"));
        let mut both = good.clone();
        both.token_sha256 = Some("00".repeat(32));
        let mut neither = good.clone();
        neither.token = None;
        let mut bad_hash = neither.clone();
        bad_hash.token_sha256 = Some("xyz".into());
        let cases = [
            (vec![short], "at least 32"),
            (vec![both], "exactly one"),
            (vec![neither], "exactly one"),
            (vec![bad_hash], "64 hex"),
            (vec![token_entry(ALICE, "p1", "tomorrow")], "RFC 3339"),
            (
                vec![token_entry(ALICE, "nowhere", "2026-01-01T00:00:00Z")],
                "project",
            ),
            (
                vec![token_entry(ALICE, "other", "2026-01-01T00:00:00Z")],
                "project",
            ),
            (
                vec![token_entry("alice", "p1", "2026-01-01T00:00:00Z")],
                "IAM ARN",
            ),
            (vec![good.clone(), good.clone()], "twice"),
        ];
        for (entries, message) in cases {
            let error = build(&entries, &[]).unwrap_err().to_string();
            assert!(error.contains(message), "{error}");
            assert!(!error.contains(TOKEN), "{error}");
        }
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:DescribeKey","Resource":"*"}]}"#;
        let ambiguous = [
            credential("AK1", ALICE, Some(policy)),
            credential("AK2", ALICE, None),
        ];
        let error = build(std::slice::from_ref(&good), &ambiguous)
            .unwrap_err()
            .to_string();
        assert!(error.contains("different identity policies"), "{error}");
        let agreed = [
            credential("AK1", ALICE, Some(policy)),
            credential("AK2", ALICE, Some(policy)),
        ];
        let auth = HuaweiAuthenticator::new(&agreed, &[good], &projects).unwrap();
        let (principal, _) = by_token(&auth, TOKEN, "p1", 0).unwrap();
        assert!(
            principal.identity_policy.is_some(),
            "the principal's policy"
        );
    }

    const PYTHON_SIGNATURE: &str =
        "9b6f1e6659bdb66039480e0672c590cf928408c3162aa89fd2c7ba96cd32c72f";
}
