//! Authentication: who sent a request. Verifies AWS Signature Version 4
//! against the configured credentials.

pub mod credentials;
pub mod huawei_sign;
pub mod sigv4;

use crate::authz::{Policy, PolicyKind};
use crate::config::CredentialConfig;
use credentials::{CredentialError, principal_account};
use secrecy::ExposeSecret;
use sigv4::{Signature, SignedRequest};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// Allowed difference between a request's date and the server's clock.
const CLOCK_SKEW_SECS: i64 = 300;
/// Derived signing keys kept before the cache is emptied.
const SIGNING_KEY_CACHE: usize = 4096;

/// Most headers a signature may sign. The canonical request holds each
/// signed header's value once per time it is named, so a list naming one
/// large header many times would make a request of some hundred kilobytes
/// cost gigabytes of memory or hashing before the signature is checked.
pub const MAX_SIGNED_HEADERS: usize = 64;

/// Checks a SignedHeaders list (lowercase names) as SigV4 and Huawei's
/// SDK-HMAC-SHA256 write it: each header once, in sorted order, at most
/// [`MAX_SIGNED_HEADERS`]. Says what is wrong.
fn check_signed_headers<'n>(names: impl IntoIterator<Item = &'n str>) -> Result<(), String> {
    let mut previous: Option<&str> = None;
    for (count, name) in names.into_iter().enumerate() {
        if count == MAX_SIGNED_HEADERS {
            return Err(format!(
                "SignedHeaders may name at most {MAX_SIGNED_HEADERS} headers."
            ));
        }
        if previous.is_some_and(|p| p >= name) {
            return Err("SignedHeaders must name each header once, in sorted order.".into());
        }
        previous = Some(name);
    }
    Ok(())
}

/// An authenticated caller: shared, so that each request of it holds it
/// without copying its strings. Its fields are an [`Identity`]'s.
#[derive(Clone, Debug)]
pub struct Principal(Arc<Identity>);

/// Who a principal is.
#[derive(Debug)]
pub struct Identity {
    /// Principal ARN.
    pub arn: String,
    /// Account of the principal.
    pub account_id: String,
    /// Access key id the request was signed with.
    pub access_key_id: String,
    /// Identity policy of the principal, if configured.
    pub identity_policy: Option<Arc<Policy>>,
}

impl std::ops::Deref for Principal {
    type Target = Identity;

    fn deref(&self) -> &Identity {
        &self.0
    }
}

impl From<Identity> for Principal {
    fn from(identity: Identity) -> Self {
        Self(Arc::new(identity))
    }
}

impl Principal {
    /// The principal a credential entry names: its ARN, account, access key
    /// id and parsed identity policy.
    pub fn of(entry: &CredentialConfig) -> Result<Self, CredentialError> {
        let account = principal_account(&entry.principal).ok_or_else(|| {
            CredentialError::BadPrincipal(entry.access_key_id.clone(), entry.principal.clone())
        })?;
        let identity_policy = entry
            .policy
            .as_deref()
            .map(|doc| Policy::parse(doc, PolicyKind::Identity).map(Arc::new))
            .transpose()
            .map_err(|e| CredentialError::BadPolicy(entry.access_key_id.clone(), e.to_string()))?;
        Ok(Identity {
            arn: entry.principal.clone(),
            account_id: account.to_string(),
            access_key_id: entry.access_key_id.clone(),
            identity_policy,
        }
        .into())
    }
}

/// Why a request was not authenticated. Each maps to an AWS error type.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No signature at all.
    #[error("Missing Authentication Token")]
    Missing,
    /// The signature is malformed or lacks a part.
    #[error("{0}")]
    Incomplete(String),
    /// The signature does not verify, or is scoped wrongly.
    #[error("{0}")]
    InvalidSignature(String),
    /// The request's date is outside the allowed window.
    #[error("{0}")]
    Expired(String),
    /// The access key id is not configured.
    #[error("The security token included in the request is invalid.")]
    UnknownAccessKey,
}

struct Credential {
    secret: secrecy::SecretString,
    principal: Principal,
}

/// Verifies signatures against the configured credentials.
pub struct Authenticator {
    credentials: HashMap<String, Credential>,
    service: &'static str,
    signing_keys: Mutex<HashMap<String, [u8; 32]>>,
}

/// The authenticated principal and the region of the credential scope.
pub struct Authenticated {
    /// Who signed.
    pub principal: Principal,
    /// Region the request was signed for.
    pub region: String,
}

impl Authenticator {
    /// Builds the verifier for `service` (e.g. `kms`) from credential entries.
    pub fn new(
        service: &'static str,
        entries: &[CredentialConfig],
    ) -> Result<Self, CredentialError> {
        let mut credentials = HashMap::new();
        for entry in entries {
            let credential = Credential {
                secret: entry.secret_access_key.clone(),
                principal: Principal::of(entry)?,
            };
            if credentials
                .insert(entry.access_key_id.clone(), credential)
                .is_some()
            {
                return Err(CredentialError::Duplicate(entry.access_key_id.clone()));
            }
        }
        Ok(Self {
            credentials,
            service,
            signing_keys: Mutex::new(HashMap::new()),
        })
    }

    /// Verifies the request's signature (Authorization header or presigned
    /// query) and returns who signed it and for which region. `served`
    /// says whether a region is served here, or why not (a sentence for
    /// the client).
    pub fn authenticate(
        &self,
        request: &SignedRequest<'_>,
        served: &dyn Fn(&str) -> Result<(), String>,
    ) -> Result<Authenticated, AuthError> {
        let signature = self.parse(request)?;
        self.check_scope(&signature, served)?;
        check_time(&signature)?;
        if !signature.signed_headers.iter().any(|h| h == "host") {
            return Err(AuthError::Incomplete(
                "SignedHeaders must include the host header.".into(),
            ));
        }
        if !signature.presigned && !signature.signed_headers.iter().any(|h| h == "x-amz-date") {
            return Err(AuthError::Incomplete(
                "SignedHeaders must include the x-amz-date header.".into(),
            ));
        }
        let targets = (request.headers)("x-amz-target");
        // Two targets would be signed together (their values joined by a
        // comma) yet name two operations: refuse rather than pick one.
        if targets.len() > 1 {
            return Err(AuthError::Incomplete(
                "The request must carry at most one x-amz-target header.".into(),
            ));
        }
        if !targets.is_empty() && !signature.signed_headers.iter().any(|h| h == "x-amz-target") {
            return Err(AuthError::Incomplete(
                "SignedHeaders must include the x-amz-target header.".into(),
            ));
        }
        let credential = self
            .credentials
            .get(signature.access_key_id())
            .ok_or(AuthError::UnknownAccessKey)?;
        let canonical = sigv4::canonical_request_hash(request, &signature);
        let key = self.signing_key(credential, &signature);
        if !sigv4::signature_matches(&key, &signature, &canonical) {
            return Err(AuthError::InvalidSignature(
                "The request signature we calculated does not match the signature you provided. \
                 Check your AWS Secret Access Key and signing method."
                    .into(),
            ));
        }
        Ok(Authenticated {
            principal: credential.principal.clone(),
            region: signature.region().to_string(),
        })
    }

    fn parse<'a>(&self, request: &SignedRequest<'a>) -> Result<Signature<'a>, AuthError> {
        let authorization = (request.headers)("authorization");
        match authorization.first() {
            Some(header) => {
                let date = (request.headers)("x-amz-date");
                sigv4::parse_header(header, date.first().copied())
            }
            None => sigv4::parse_query(request.query)?.ok_or(AuthError::Missing),
        }
    }

    fn check_scope(
        &self,
        signature: &Signature,
        served: &dyn Fn(&str) -> Result<(), String>,
    ) -> Result<(), AuthError> {
        if signature.service() != self.service {
            return Err(AuthError::InvalidSignature(format!(
                "Credential should be scoped to correct service: '{}'.",
                self.service
            )));
        }
        if let Err(why) = served(signature.region()) {
            return Err(AuthError::InvalidSignature(format!(
                "Credential should be scoped to a valid region. {why}"
            )));
        }
        if !signature.amz_date.starts_with(signature.scope_date()) {
            return Err(AuthError::InvalidSignature(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
                 from HTTP: '{}' != '{}'.",
                signature.scope_date(),
                signature.amz_date.get(..8).unwrap_or("")
            )));
        }
        Ok(())
    }

    fn signing_key(&self, credential: &Credential, signature: &Signature) -> [u8; 32] {
        let mut cache = self.signing_keys.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(key) = cache.get(signature.credential()) {
            return *key;
        }
        let key = sigv4::signing_key(
            credential.secret.expose_secret(),
            signature.scope_date(),
            signature.region(),
            signature.service(),
        );
        if cache.len() >= SIGNING_KEY_CACHE {
            cache.clear();
        }
        cache.insert(signature.credential().to_string(), key);
        key
    }
}

/// `YYYYMMDD'T'HHMMSS'Z'` (SigV4's X-Amz-Date, Huawei's X-Sdk-Date) as Unix
/// seconds, when it is a date and time of the calendar (the digits read in
/// place: the format is fixed).
fn basic_time_seconds(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 16 || bytes[8] != b'T' || bytes[15] != b'Z' {
        return None;
    }
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0u16, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u16::from(d - b'0'))
        })
    };
    let small = |digits: &[u8]| number(digits).and_then(|n| u8::try_from(n).ok());
    let month = time::Month::try_from(small(&bytes[4..6])?).ok()?;
    let date = time::Date::from_calendar_date(
        i32::from(number(&bytes[..4])?),
        month,
        small(&bytes[6..8])?,
    )
    .ok()?;
    let clock = time::Time::from_hms(
        small(&bytes[9..11])?,
        small(&bytes[11..13])?,
        small(&bytes[13..15])?,
    )
    .ok()?;
    Some(
        time::PrimitiveDateTime::new(date, clock)
            .assume_utc()
            .unix_timestamp(),
    )
}

/// The request time must be within the clock window (header form) or
/// between its date and its expiry (presigned form).
fn check_time(signature: &Signature) -> Result<(), AuthError> {
    let signed = basic_time_seconds(&signature.amz_date).ok_or_else(|| {
        AuthError::Incomplete(format!(
            "X-Amz-Date must be in the ISO-8601 basic format YYYYMMDD'T'HHMMSS'Z': '{}'.",
            signature.amz_date
        ))
    })?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let latest = signed + signature.expires.unwrap_or(CLOCK_SKEW_SECS);
    if now > latest {
        return Err(AuthError::Expired(format!(
            "Signature expired: {} is now earlier than the allowed window ending {}s ago.",
            signature.amz_date,
            now - latest
        )));
    }
    if signed > now + CLOCK_SKEW_SECS {
        return Err(AuthError::Expired(format!(
            "Signature not yet current: {} is more than {CLOCK_SKEW_SECS}s ahead of the server.",
            signature.amz_date
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    const KEY: &str = "AKIDEXAMPLE";
    const SECRET: &str = "secret";

    fn authenticator() -> Authenticator {
        let entry = CredentialConfig {
            access_key_id: KEY.into(),
            secret_access_key: SecretString::from(SECRET),
            principal: "arn:aws:iam::111122223333:root".into(),
            policy: None,
        };
        Authenticator::new("kms", &[entry]).unwrap()
    }

    /// Authenticates a POST of `{}` to `/` with `headers`, signed over
    /// host, x-amz-date and x-amz-target (every value of each) now.
    fn authenticate(targets: &[&str]) -> Result<Authenticated, AuthError> {
        let format =
            time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
        let date = time::OffsetDateTime::now_utc().format(&format).unwrap();
        let unsigned = format!(
            "AWS4-HMAC-SHA256 Credential={KEY}/{}/us-east-1/kms/aws4_request, \
             SignedHeaders=host;x-amz-date;x-amz-target, Signature=",
            &date[..8]
        );
        let mut headers: HashMap<&str, Vec<String>> = HashMap::new();
        headers.insert("host", vec!["kms.example".into()]);
        headers.insert("x-amz-date", vec![date.clone()]);
        headers.insert(
            "x-amz-target",
            targets.iter().map(|t| t.to_string()).collect(),
        );
        let signature = {
            let lookup = |name: &str| -> sigv4::HeaderValues<'_> {
                headers
                    .get(name)
                    .map(|v| v.iter().map(String::as_str).collect())
                    .unwrap_or_default()
            };
            let request = SignedRequest {
                method: "POST",
                path: "/",
                query: "",
                headers: &lookup,
                body: b"{}",
            };
            let authorization = format!("{unsigned}00");
            let parsed = sigv4::parse_header(&authorization, Some(&date)).unwrap();
            let canonical = sigv4::canonical_request_hash(&request, &parsed);
            let key = sigv4::signing_key(SECRET, &date[..8], "us-east-1", "kms");
            hex::encode(sigv4::sign(&key, &parsed, &canonical))
        };
        headers.insert("authorization", vec![format!("{unsigned}{signature}")]);
        let lookup = |name: &str| -> sigv4::HeaderValues<'_> {
            headers
                .get(name)
                .map(|v| v.iter().map(String::as_str).collect())
                .unwrap_or_default()
        };
        let request = SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &lookup,
            body: b"{}",
        };
        authenticator().authenticate(&request, &|r| match r {
            "us-east-1" => Ok(()),
            _ => Err(format!("Region '{r}' is not hosted here.")),
        })
    }

    /// A signature covering two X-Amz-Target values verifies (both values
    /// are in the canonical request, joined by a comma) but the request
    /// names two operations: it is refused.
    #[test]
    fn two_signed_targets_are_refused() {
        let one = authenticate(&["TrentService.CreateKey"]);
        assert!(one.is_ok(), "one target: {:?}", one.err());
        for targets in [
            ["TrentService.CreateKey", "TrentService.ListKeys"],
            ["TrentService.ListKeys", "TrentService.ListKeys"],
        ] {
            let result = authenticate(&targets);
            assert!(
                matches!(&result, Err(AuthError::Incomplete(m)) if m.contains("x-amz-target")),
                "{targets:?}: {:?}",
                result.err()
            );
        }
    }

    #[test]
    fn basic_times_read_as_the_time_crate_parses_them() {
        let format =
            time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
        for text in [
            "20150830T123600Z",
            "20240229T235959Z",
            "19700101T000000Z",
            "20230229T000000Z",
            "20151330T000000Z",
            "20150800T000000Z",
            "20150830T240000Z",
            "20150830T126000Z",
            "20150830T123660Z",
            "20150830 123600Z",
            "20150830T123600",
            "2015083T1236000Z",
            "+2015830T123600Z",
            "20150830T12360aZ",
            "20150830T123600Z ",
            "",
        ] {
            let expected = time::PrimitiveDateTime::parse(text, &format)
                .ok()
                .map(|t| t.assume_utc().unix_timestamp());
            assert_eq!(basic_time_seconds(text), expected, "{text:?}");
        }
        assert_eq!(basic_time_seconds("20150830T123600Z"), Some(1_440_938_160));
    }
}
