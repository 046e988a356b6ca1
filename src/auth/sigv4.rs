//! AWS Signature Version 4: parsing the signature of a request, building its
//! canonical request and string to sign, and comparing signatures.

use super::AuthError;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// The only algorithm SigV4 names.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Characters SigV4 leaves unencoded: A-Z a-z 0-9 - _ . ~
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Every value of one header, as text (most headers have one: no
/// allocation for up to two).
pub type HeaderValues<'a> = smallvec::SmallVec<[&'a str; 2]>;

/// The parts of a request that its signature covers.
pub struct SignedRequest<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Path, as sent.
    pub path: &'a str,
    /// Raw query string (without `?`), as sent.
    pub query: &'a str,
    /// Header lookup by lowercase name; every value of the header.
    pub headers: &'a (dyn Fn(&str) -> HeaderValues<'a> + Sync),
    /// The body.
    pub body: &'a [u8],
}

/// A parsed SigV4 signature, from the Authorization header or the query,
/// borrowing from the request where it can.
#[derive(Debug)]
pub struct Signature<'a> {
    /// The credential: `AKID/date/region/service/aws4_request`.
    credential: Cow<'a, str>,
    /// Where the access key id, date, region and service end in it.
    ends: [usize; 4],
    /// Lowercase signed header names, in the order given.
    pub signed_headers: Vec<Cow<'a, str>>,
    /// The signature, hex.
    pub signature: Cow<'a, str>,
    /// The request time, `YYYYMMDDTHHMMSSZ`.
    pub amz_date: Cow<'a, str>,
    /// For presigned requests, how long the signature is valid (seconds).
    pub expires: Option<i64>,
    /// True for the presigned (query string) form.
    pub presigned: bool,
}

impl Signature<'_> {
    /// The whole credential, `AKID/date/region/service/aws4_request`.
    pub fn credential(&self) -> &str {
        &self.credential
    }

    /// Access key id.
    pub fn access_key_id(&self) -> &str {
        &self.credential[..self.ends[0]]
    }

    /// Credential scope date, `YYYYMMDD`.
    pub fn scope_date(&self) -> &str {
        &self.credential[self.ends[0] + 1..self.ends[1]]
    }

    /// Credential scope region.
    pub fn region(&self) -> &str {
        &self.credential[self.ends[1] + 1..self.ends[2]]
    }

    /// Credential scope service.
    pub fn service(&self) -> &str {
        &self.credential[self.ends[2] + 1..self.ends[3]]
    }
}

/// The pieces of `text` between the ASCII byte `separator`s (all of them,
/// empty ones too, as `str::split` gives): a byte scan, cheaper than
/// `str::split`'s searcher on the short fields of a signature.
fn pieces(text: &str, separator: u8) -> impl Iterator<Item = &str> {
    debug_assert!(separator.is_ascii());
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.bytes().position(|b| b == separator) {
            // An ASCII byte is a character boundary on both sides.
            Some(at) => {
                rest = Some(&current[at + 1..]);
                Some(&current[..at])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// Where the parts of `AKID/date/region/service/aws4_request` end.
fn parse_credential(credential: &str) -> Result<[usize; 4], AuthError> {
    let mut parts = pieces(credential, b'/');
    let mut next = || parts.next();
    match (next(), next(), next(), next(), next(), next()) {
        (Some(key), Some(date), Some(region), Some(service), Some("aws4_request"), None)
            if !key.is_empty() && date.len() == 8 && !region.is_empty() =>
        {
            let key_end = key.len();
            let date_end = key_end + 1 + date.len();
            let region_end = date_end + 1 + region.len();
            Ok([
                key_end,
                date_end,
                region_end,
                region_end + 1 + service.len(),
            ])
        }
        _ => Err(AuthError::Incomplete(format!(
            "Credential should be scoped to a valid region, service and date: '{credential}'."
        ))),
    }
}

/// Lowercase signed header names, borrowed when they are lowercase already.
fn signed_header_names(names: Cow<'_, str>) -> Result<Vec<Cow<'_, str>>, AuthError> {
    let lowercase = |name: &str| name.to_ascii_lowercase();
    let names: Vec<Cow<'_, str>> = match names {
        Cow::Borrowed(names) => pieces(names, b';')
            .take(super::MAX_SIGNED_HEADERS + 1)
            .map(|n| match n.bytes().any(|b| b.is_ascii_uppercase()) {
                true => Cow::Owned(lowercase(n)),
                false => Cow::Borrowed(n),
            })
            .collect(),
        Cow::Owned(names) => pieces(&names, b';')
            .take(super::MAX_SIGNED_HEADERS + 1)
            .map(|n| Cow::Owned(lowercase(n)))
            .collect(),
    };
    super::check_signed_headers(names.iter().map(|n| n.as_ref())).map_err(AuthError::Incomplete)?;
    Ok(names)
}

/// The access key id in an Authorization header, if it names one.
pub fn access_key_id(authorization: &str) -> Option<&str> {
    const CREDENTIAL: &str = "Credential=";
    // Where the SDKs write it, else wherever it is.
    let credential = match authorization
        .strip_prefix(ALGORITHM)
        .and_then(|rest| rest.strip_prefix(' '))
        .and_then(|rest| rest.strip_prefix(CREDENTIAL))
    {
        Some(credential) => credential,
        None => &authorization[authorization.find(CREDENTIAL)? + CREDENTIAL.len()..],
    };
    pieces(credential, b'/').next().filter(|k| !k.is_empty())
}

/// The access key id a presigned request's `X-Amz-Credential` names, for
/// the audit trail of a request that may fail authentication.
pub fn presigned_access_key_id(query: &str) -> Option<String> {
    decode_query(query)
        .into_iter()
        .find(|(k, _)| k == "X-Amz-Credential")
        .and_then(|(_, v)| v.split('/').next().map(str::to_string))
        .filter(|k| !k.is_empty())
}

/// Parses the Authorization header form; `amz_date` comes from X-Amz-Date.
pub fn parse_header<'a>(
    authorization: &'a str,
    amz_date: Option<&'a str>,
) -> Result<Signature<'a>, AuthError> {
    let rest = authorization
        .strip_prefix(ALGORITHM)
        .filter(|r| r.starts_with(' '))
        .ok_or_else(|| {
            AuthError::Incomplete(format!(
                "Authorization header requires the {ALGORITHM} algorithm."
            ))
        })?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in pieces(rest, b',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed_headers = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let missing = |what: &str| {
        AuthError::Incomplete(format!(
            "Authorization header requires '{what}' parameter. Authorization={authorization}"
        ))
    };
    let credential = credential.ok_or_else(|| missing("Credential"))?;
    let ends = parse_credential(credential)?;
    let signed_headers = signed_headers.ok_or_else(|| missing("SignedHeaders"))?;
    let signature = signature.ok_or_else(|| missing("Signature"))?;
    let amz_date = amz_date.ok_or_else(|| {
        AuthError::Incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                .into(),
        )
    })?;
    Ok(Signature {
        credential: Cow::Borrowed(credential),
        ends,
        signed_headers: signed_header_names(Cow::Borrowed(signed_headers))?,
        signature: Cow::Borrowed(signature),
        amz_date: Cow::Borrowed(amz_date),
        expires: None,
        presigned: false,
    })
}

/// Parses the presigned form from the query string, if it is there.
pub fn parse_query(query: &str) -> Result<Option<Signature<'static>>, AuthError> {
    let params = decode_query(query);
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let Some(algorithm) = get("X-Amz-Algorithm") else {
        return Ok(None);
    };
    if algorithm != ALGORITHM {
        return Err(AuthError::Incomplete(format!(
            "X-Amz-Algorithm must be {ALGORITHM}."
        )));
    }
    let missing = |what: &str| {
        AuthError::Incomplete(format!(
            "Presigned request requires the '{what}' parameter."
        ))
    };
    let credential = get("X-Amz-Credential").ok_or_else(|| missing("X-Amz-Credential"))?;
    let ends = parse_credential(credential)?;
    let expires = get("X-Amz-Expires")
        .ok_or_else(|| missing("X-Amz-Expires"))?
        .parse::<i64>()
        .ok()
        .filter(|e| (1..=604_800).contains(e))
        .ok_or_else(|| {
            AuthError::Incomplete("X-Amz-Expires must be between 1 and 604800 seconds.".into())
        })?;
    let owned = |value: &str| Cow::Owned(value.to_string());
    Ok(Some(Signature {
        credential: owned(credential),
        ends,
        signed_headers: signed_header_names(owned(
            get("X-Amz-SignedHeaders").ok_or_else(|| missing("X-Amz-SignedHeaders"))?,
        ))?,
        signature: owned(get("X-Amz-Signature").ok_or_else(|| missing("X-Amz-Signature"))?),
        amz_date: owned(get("X-Amz-Date").ok_or_else(|| missing("X-Amz-Date"))?),
        expires: Some(expires),
        presigned: true,
    }))
}

fn decode_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_decode_str(&s.replace('+', "%20"))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(k), decode(v))
        })
        .collect()
}

fn encode(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// The SHA-256 of SigV4's canonical request, hashed as it is built (the
/// text itself is never needed):
/// `METHOD\nPATH\nQUERY\nHEADERS\n\nSIGNED_HEADERS\nPAYLOAD_HASH`.
pub fn canonical_request_hash(request: &SignedRequest<'_>, signature: &Signature<'_>) -> [u8; 32] {
    let mut hasher = Sha256::new();
    let path = if request.path.is_empty() {
        "/"
    } else {
        request.path
    };
    hasher.update(request.method.as_bytes());
    hasher.update(b"\n");
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            hasher.update(b"/");
        }
        let decoded = percent_decode_str(segment).decode_utf8_lossy();
        for piece in utf8_percent_encode(&decoded, UNRESERVED) {
            hasher.update(piece.as_bytes());
        }
    }
    hasher.update(b"\n");
    hasher.update(canonical_query(request.query, signature).as_bytes());
    hasher.update(b"\n");
    for name in &signature.signed_headers {
        hasher.update(name.as_bytes());
        hasher.update(b":");
        for (i, value) in (request.headers)(name).iter().enumerate() {
            if i > 0 {
                hasher.update(b",");
            }
            for (j, word) in value.split_whitespace().enumerate() {
                if j > 0 {
                    hasher.update(b" ");
                }
                hasher.update(word.as_bytes());
            }
        }
        hasher.update(b"\n");
    }
    hasher.update(b"\n");
    for (i, name) in signature.signed_headers.iter().enumerate() {
        if i > 0 {
            hasher.update(b";");
        }
        hasher.update(name.as_bytes());
    }
    // Always the hash of the body received: a client-supplied
    // X-Amz-Content-Sha256 that differs from it cannot verify.
    let mut payload_hash = [0u8; 64];
    hex::encode_to_slice(Sha256::digest(request.body), &mut payload_hash)
        .expect("64 hex digits for 32 bytes");
    hasher.update(b"\n");
    hasher.update(payload_hash);
    hasher.finalize().into()
}

/// The canonical query string: parameters decoded, encoded again, sorted
/// (the presigned form's own signature left out).
fn canonical_query(query: &str, signature: &Signature<'_>) -> String {
    if query.is_empty() {
        return String::new();
    }
    let mut query: Vec<(String, String)> = decode_query(query)
        .into_iter()
        .filter(|(k, _)| !(signature.presigned && k == "X-Amz-Signature"))
        .map(|(k, v)| (encode(&k), encode(&v)))
        .collect();
    query.sort();
    query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The signature of a request whose canonical request hashes to
/// `canonical_hash`: HMAC-SHA256 under the signing key `key` of the
/// string to sign, `ALGORITHM\nDATE\nSCOPE\nHEX(canonical_hash)`, fed to
/// the MAC as it is written (what a client does).
#[cfg(test)]
pub fn sign(key: &[u8; 32], signature: &Signature<'_>, canonical_hash: &[u8; 32]) -> [u8; 32] {
    string_to_sign_mac(key, signature, canonical_hash)
        .finalize()
        .into_bytes()
        .into()
}

/// Whether the request's hex signature is the one `key` makes for the
/// canonical request hashing to `canonical_hash`, compared in constant time.
pub fn signature_matches(
    key: &[u8; 32],
    signature: &Signature<'_>,
    canonical_hash: &[u8; 32],
) -> bool {
    let mut given = [0u8; 32];
    if hex::decode_to_slice(signature.signature.as_bytes(), &mut given).is_err() {
        return false;
    }
    string_to_sign_mac(key, signature, canonical_hash)
        .verify_slice(&given)
        .is_ok()
}

fn string_to_sign_mac(
    key: &[u8; 32],
    signature: &Signature<'_>,
    canonical_hash: &[u8; 32],
) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    for part in [
        ALGORITHM,
        "\n",
        &signature.amz_date,
        "\n",
        signature.scope_date(),
        "/",
        signature.region(),
        "/",
        signature.service(),
        "/aws4_request\n",
    ] {
        mac.update(part.as_bytes());
    }
    let mut hex = [0u8; 64];
    hex::encode_to_slice(canonical_hash, &mut hex).expect("64 hex digits for 32 bytes");
    mac.update(&hex);
    mac
}

/// The signing key for a secret and credential scope.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of the AWS SigV4 documentation (IAM ListUsers, GET).
    #[test]
    fn matches_the_aws_documentation_example() {
        fn headers(name: &str) -> HeaderValues<'static> {
            match name {
                "content-type" => {
                    smallvec::smallvec!["application/x-www-form-urlencoded; charset=utf-8"]
                }
                "host" => smallvec::smallvec!["iam.amazonaws.com"],
                "x-amz-date" => smallvec::smallvec!["20150830T123600Z"],
                _ => HeaderValues::new(),
            }
        }
        let request = SignedRequest {
            method: "GET",
            path: "/",
            query: "Action=ListUsers&Version=2010-05-08",
            headers: &headers,
            body: b"",
        };
        let signature = parse_header(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
            Some("20150830T123600Z"),
        )
        .unwrap();
        let canonical = canonical_request_hash(&request, &signature);
        assert_eq!(
            hex::encode(canonical),
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
        );
        let key = signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20150830",
            "us-east-1",
            "iam",
        );
        assert!(signature_matches(&key, &signature, &canonical));
        let wrong = Signature {
            signature: "0".repeat(64).into(),
            ..signature
        };
        assert!(!signature_matches(&key, &wrong, &canonical));
    }

    #[test]
    fn incomplete_headers_are_refused() {
        for header in [
            "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=abc",
            "AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/kms/aws4_request, Signature=abc",
            "AWS4-HMAC-SHA256 Credential=AK/2015/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=a",
            "AWS3 Credential=AK/20150830/us-east-1/kms/aws4_request",
        ] {
            assert!(matches!(
                parse_header(header, Some("20150830T123600Z")),
                Err(AuthError::Incomplete(_))
            ));
        }
    }

    #[test]
    fn pieces_are_what_str_split_gives() {
        for text in ["", ";", "a", "a;b", ";a;;b;", "host;x-amz-date", "é;ü;"] {
            assert_eq!(
                pieces(text, b';').collect::<Vec<_>>(),
                text.split(';').collect::<Vec<_>>(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn credentials_have_exactly_five_parts() {
        assert_eq!(
            parse_credential("AK/20150830/us-east-1/kms/aws4_request").unwrap(),
            [2, 11, 21, 25]
        );
        for credential in [
            "AK/20150830/us-east-1/kms",
            "AK/20150830/us-east-1/kms/aws4_request/",
            "AK/20150830/us-east-1/kms/aws4_request/extra",
            "AK/20150830/us-east-1/kms/x/aws4_request",
            "/20150830/us-east-1/kms/aws4_request",
            "AK/2015083/us-east-1/kms/aws4_request",
            "AK/20150830//kms/aws4_request",
        ] {
            assert!(parse_credential(credential).is_err(), "{credential}");
        }
    }

    #[test]
    fn the_access_key_id_is_found_wherever_the_credential_is() {
        let first = "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/kms/aws4_request, \
                     SignedHeaders=host, Signature=ab";
        let later = "AWS4-HMAC-SHA256 SignedHeaders=host,Credential=AKID/2015/x";
        assert_eq!(access_key_id(first), Some("AKID"));
        assert_eq!(access_key_id(later), Some("AKID"));
        assert_eq!(access_key_id("Bearer Credential=K"), Some("K"));
        assert_eq!(access_key_id("AWS4-HMAC-SHA256 Credential=/2015"), None);
        assert_eq!(access_key_id("AWS4-HMAC-SHA256 Signature=ab"), None);
    }
}
