//! What the fuzz targets share: a real in-process Trent (both regions of dev
//! mode over fresh SoftHSM tokens in a temporary directory, opened once per
//! process), requests signed as a client would sign them and sent to the
//! dialects' real handlers, and fixed credentials.
//!
//! The service starts with a few keys so that fuzzed requests can name real
//! ones: a body or path may carry placeholders, replaced before signing:
//!
//! | placeholder | becomes |
//! | --- | --- |
//! | `@K0` | id of an enabled key with alias `alias/k0` |
//! | `@K1` | id of a disabled key |
//! | `@K2` | id of a multi-Region key (`mrk-…`), replicated to us-west-2 |
//! | `@K3` | id of a key pending deletion |
//! | `@H2` | `@K2` in the Huawei dialect's UUID form |
//! | `@C0` | base64 ciphertext of `@K0`, no encryption context |
//! | `@C1` | base64 ciphertext of `@K0`, context `{"purpose":"fuzz"}` |
//! | `@C2` | base64 ciphertext of `@K2` |
//! | `@X0` | hex ciphertext of a 32-byte data key of `@K0` |
//!
//! The state persists across inputs (a fuzzed `DisableKey` stays disabled),
//! so a crash found late may need the inputs before it; each crash so far
//! has reproduced alone.

use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use secrecy::SecretString;
use serde_json::{Value, json};
use sha2::Sha256;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use tempfile::TempDir;
use trent::api::state::AppState;
use trent::api::{aws, huawei, request::header_values};
use trent::auth::huawei_sign;
use trent::auth::sigv4::{self, Signature, SignedRequest};
use trent::config::{Config, CredentialConfig, HuaweiProject, TokenConfig};
use trent::server;

/// The account of every credential.
pub const ACCOUNT: &str = "111122223333";
/// The hosted regions.
pub const REGIONS: [&str; 2] = ["us-east-1", "us-west-2"];
/// Huawei project ids, one per region in [`REGIONS`] order.
pub const PROJECTS: [&str; 2] = ["east", "west"];
/// The `X-Auth-Token` accepted for alice in the Huawei dialect, in project
/// `east`.
pub const AUTH_TOKEN: &str = "fuzz-token-0123456789abcdef0123456789";

/// A signing identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    /// The account root, allowed everything by the default key policy.
    Root,
    /// `user/alice`, whose identity policy allows `kms:*` but denies
    /// `kms:Decrypt` without `kms:EncryptionContext:purpose` = `fuzz`.
    Alice,
}

impl Who {
    /// Access key id, secret and principal ARN.
    pub fn credential(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Who::Root => (
                "AKIDFUZZROOT",
                "fuzz-root-secret",
                "arn:aws:iam::111122223333:root",
            ),
            Who::Alice => (
                "AKIDFUZZALICE",
                "fuzz-alice-secret",
                "arn:aws:iam::111122223333:user/alice",
            ),
        }
    }
}

const ALICE_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"kms:*","Resource":"*"},
 {"Effect":"Deny","Action":"kms:Decrypt","Resource":"*",
  "Condition":{"StringNotEquals":{"kms:EncryptionContext:purpose":"fuzz"}}}]}"#;

/// Both credential entries, as the configuration names them.
pub fn credentials() -> Vec<CredentialConfig> {
    [Who::Root, Who::Alice]
        .into_iter()
        .map(|who| {
            let (ak, sk, arn) = who.credential();
            CredentialConfig {
                access_key_id: ak.into(),
                secret_access_key: SecretString::from(sk),
                principal: arn.into(),
                policy: (who == Who::Alice).then(|| ALICE_POLICY.into()),
            }
        })
        .collect()
}

/// The `X-Auth-Token` configuration: [`AUTH_TOKEN`] for alice in project
/// `east`, valid until 2099.
pub fn auth_tokens() -> Vec<TokenConfig> {
    vec![TokenConfig {
        token: Some(SecretString::from(AUTH_TOKEN)),
        token_sha256: None,
        principal: Who::Alice.credential().2.into(),
        project_id: PROJECTS[0].into(),
        expires_at: "2099-01-01T00:00:00Z".into(),
    }]
}

/// The account of a Huawei project id, if it is one of [`PROJECTS`].
pub fn project_account(project: &str) -> Option<String> {
    PROJECTS.contains(&project).then(|| ACCOUNT.to_string())
}

/// Now as `YYYYMMDDTHHMMSSZ`, as X-Amz-Date and X-Sdk-Date spell it.
pub fn request_date() -> String {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::OffsetDateTime::now_utc()
        .format(&format)
        .expect("the date formats")
}

/// Hex HMAC-SHA256.
fn hmac_hex(key: &[u8], data: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The SigV4 Authorization header for `request`, signed by `who` for
/// `region` and service `kms` at `date`, covering `signed_headers`
/// (lowercase names, which must be in the request).
pub fn sigv4_authorization(
    request: &SignedRequest<'_>,
    who: Who,
    region: &str,
    date: &str,
    signed_headers: &[&str],
    presigned: bool,
) -> String {
    let (ak, sk, _) = who.credential();
    let signature = Signature {
        access_key_id: ak.into(),
        scope_date: date[..8].into(),
        region: region.into(),
        service: "kms".into(),
        signed_headers: signed_headers.iter().map(|h| h.to_string()).collect(),
        signature: String::new(),
        amz_date: date.into(),
        expires: presigned.then_some(300),
        presigned,
    };
    let canonical = sigv4::canonical_request(request, &signature);
    let to_sign = sigv4::string_to_sign(&signature, &canonical);
    let key = sigv4::signing_key(sk, &signature.scope_date, region, "kms");
    let hex = hmac_hex(&key, &to_sign);
    format!(
        "{} Credential={ak}/{}/{region}/kms/aws4_request, SignedHeaders={}, Signature={hex}",
        sigv4::ALGORITHM,
        signature.scope_date,
        signed_headers.join(";")
    )
}

/// The `SDK-HMAC-SHA256` Authorization header for `request` signed by
/// `who` over `signed_headers` (`;`-joined lowercase names), or `None` when
/// the request cannot be signed (a signed header is missing, or
/// X-Sdk-Content-Sha256 is not the body's hash).
pub fn huawei_authorization(
    request: &SignedRequest<'_>,
    who: Who,
    date: &str,
    signed_headers: &str,
) -> Option<String> {
    let (ak, sk, _) = who.credential();
    let canonical = huawei_sign::canonical_request(request, signed_headers).ok()?;
    let signature = huawei_sign::sign(sk, &huawei_sign::string_to_sign(date, &canonical));
    Some(format!(
        "{} Access={ak}, SignedHeaders={signed_headers}, Signature={signature}",
        huawei_sign::ALGORITHM
    ))
}

/// A service answer: status and body.
pub struct Answer {
    /// HTTP status.
    pub status: StatusCode,
    /// Body, as sent.
    pub body: Vec<u8>,
    /// Whether the AWS dialect answered (else the Huawei one).
    aws: bool,
}

impl Answer {
    /// Panics when the service failed (5xx) on a client's request (every
    /// problem with a request must be the client's: 4xx), or when the answer
    /// is not the dialect's shape: a JSON object body (optional in the
    /// Huawei dialect) and, for an error, the dialect's error envelope.
    pub fn check(&self, what: &str) {
        let shown = || {
            format!(
                "{what}: {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        };
        assert!(!self.status.is_server_error(), "{}", shown());
        if self.body.is_empty() && !self.aws {
            return;
        }
        let body = self.json();
        assert!(body.is_object(), "not a JSON object: {}", shown());
        if self.status.is_client_error() {
            let envelope = if self.aws {
                body["__type"].is_string() && body["message"].is_string()
            } else {
                body["error"]["error_code"].is_string() && body["error"]["error_msg"].is_string()
            };
            assert!(envelope, "not the error envelope: {}", shown());
        }
    }

    /// The body as JSON (`null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// The in-process service.
pub struct Service {
    app: Arc<AppState>,
    runtime: tokio::runtime::Runtime,
    placeholders: Vec<(&'static str, String)>,
    _dir: TempDir,
}

/// The service of this process, opened on first use.
pub fn service() -> &'static Service {
    static SERVICE: OnceLock<Service> = OnceLock::new();
    SERVICE.get_or_init(Service::open)
}

const PEER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 1);

impl Service {
    fn open() -> Self {
        let dir = TempDir::new().expect("temp dir");
        let config = Config {
            data_dir: dir.path().join("data"),
            audit_log: Some("/dev/null".into()),
            credentials: credentials(),
            auth_tokens: auth_tokens(),
            sessions_per_region: 2,
            huawei_projects: REGIONS
                .iter()
                .zip(PROJECTS)
                .map(|(region, id)| {
                    (
                        id.to_string(),
                        HuaweiProject {
                            region: region.to_string(),
                            account: None,
                        },
                    )
                })
                .collect(),
            ..Config::default()
        };
        // Opens the SoftHSM modules before any other thread starts.
        let app = server::open(&config).expect("the service opens");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let mut service = Service {
            app,
            runtime,
            placeholders: Vec::new(),
            _dir: dir,
        };
        service.make_keys();
        service
    }

    /// Creates the keys and ciphertexts the placeholders name.
    fn make_keys(&mut self) {
        let call = |s: &Service, op: &str, body: Value| {
            let answer = s.aws(op, REGIONS[0], Who::Root, body.to_string().as_bytes());
            assert!(answer.status.is_success(), "set-up {op}: {}", answer.json());
            answer.json()
        };
        let create = |s: &Service, body: Value| {
            call(s, "CreateKey", body)["KeyMetadata"]["KeyId"]
                .as_str()
                .expect("KeyId")
                .to_string()
        };
        let k0 = create(self, json!({}));
        call(
            self,
            "CreateAlias",
            json!({ "AliasName": "alias/k0", "TargetKeyId": k0 }),
        );
        let k1 = create(self, json!({}));
        call(self, "DisableKey", json!({ "KeyId": k1 }));
        let k2 = create(self, json!({ "MultiRegion": true }));
        call(
            self,
            "ReplicateKey",
            json!({ "KeyId": k2, "ReplicaRegion": REGIONS[1] }),
        );
        let k3 = create(self, json!({}));
        call(self, "ScheduleKeyDeletion", json!({ "KeyId": k3 }));
        let encrypt = |s: &Service, key: &str, context: Value| {
            call(
                s,
                "Encrypt",
                json!({ "KeyId": key, "Plaintext": "ZnV6eg==", "EncryptionContext": context }),
            )["CiphertextBlob"]
                .as_str()
                .expect("CiphertextBlob")
                .to_string()
        };
        let c0 = encrypt(self, &k0, json!({}));
        let c1 = encrypt(self, &k0, json!({ "purpose": "fuzz" }));
        let c2 = encrypt(self, &k2, json!({}));
        let data_key = call(
            self,
            "GenerateDataKey",
            json!({ "KeyId": k0, "NumberOfBytes": 32 }),
        );
        let x0 = hex::encode(
            STANDARD
                .decode(data_key["CiphertextBlob"].as_str().expect("CiphertextBlob"))
                .expect("base64"),
        );
        let h2 = huawei::ids::to_huawei(&k2);
        self.placeholders = vec![
            ("@K0", k0),
            ("@K1", k1),
            ("@K2", k2),
            ("@K3", k3),
            ("@H2", h2),
            ("@C0", c0),
            ("@C1", c1),
            ("@C2", c2),
            ("@X0", x0),
        ];
    }

    /// `bytes` with every placeholder replaced.
    pub fn substitute(&self, bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        for (name, value) in &self.placeholders {
            out = replace(&out, name.as_bytes(), value.as_bytes());
        }
        out
    }

    fn send(&self, request: Request, aws_dialect: bool) -> Answer {
        self.runtime.block_on(async {
            let state = State(self.app.clone());
            let response = if aws_dialect {
                aws::handle(state, ConnectInfo(PEER), request).await
            } else {
                huawei::handle(state, ConnectInfo(PEER), request).await
            };
            let status = response.status();
            let body = to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("the response body reads");
            Answer {
                status,
                body: body.to_vec(),
                aws: aws_dialect,
            }
        })
    }

    /// Sends an AWS JSON 1.1 request for `operation` (`X-Amz-Target:
    /// TrentService.<operation>`) with `body`, signed by `who` for `region`.
    pub fn aws(&self, operation: &str, region: &str, who: Who, body: &[u8]) -> Answer {
        let date = request_date();
        let mut request = Request::new(Body::from(body.to_vec()));
        *request.method_mut() = Method::POST;
        let headers = request.headers_mut();
        headers.insert("host", "localhost".parse().expect("header"));
        headers.insert("content-type", aws::CONTENT_TYPE.parse().expect("header"));
        headers.insert("x-amz-date", date.parse().expect("header"));
        let target = format!("TrentService.{operation}");
        headers.insert("x-amz-target", target.parse().expect("an operation name"));
        let authorization = sign_aws(request.headers(), body, who, region, &date);
        request.headers_mut().insert(
            "authorization",
            authorization.parse().expect("an Authorization header"),
        );
        self.send(request, true)
    }

    /// Sends a Huawei-dialect request: `method` on `uri` (path and query)
    /// with `body`, signed by `who` with SDK-HMAC-SHA256, or carrying
    /// [`AUTH_TOKEN`] when `token` is set.
    pub fn huawei(&self, method: Method, uri: Uri, body: &[u8], who: Who, token: bool) -> Answer {
        let date = request_date();
        let mut request = Request::new(Body::from(body.to_vec()));
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        let headers = request.headers_mut();
        headers.insert("host", "localhost".parse().expect("header"));
        headers.insert("content-type", "application/json".parse().expect("header"));
        headers.insert("x-sdk-date", date.parse().expect("header"));
        if token {
            headers.insert("x-auth-token", AUTH_TOKEN.parse().expect("header"));
        } else {
            let (parts, body_) = request.into_parts();
            let values = |name: &str| header_values(&parts, name);
            let signed = SignedRequest {
                method: parts.method.as_str(),
                path: parts.uri.path(),
                query: parts.uri.query().unwrap_or(""),
                headers: &values,
                body,
            };
            let authorization =
                huawei_authorization(&signed, who, &date, "content-type;host;x-sdk-date")
                    .expect("the signed headers are there");
            request = Request::from_parts(parts, body_);
            request.headers_mut().insert(
                "authorization",
                authorization.parse().expect("an Authorization header"),
            );
        }
        self.send(request, false)
    }
}

/// The Authorization header for an AWS-dialect request with these headers.
fn sign_aws(headers: &HeaderMap, body: &[u8], who: Who, region: &str, date: &str) -> String {
    let values = |name: &str| -> Vec<&str> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    };
    let request = SignedRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &values,
        body,
    };
    sigv4_authorization(
        &request,
        who,
        region,
        date,
        &["content-type", "host", "x-amz-date", "x-amz-target"],
        false,
    )
}

/// `haystack` with every `needle` replaced by `with`.
fn replace(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(i) = rest.windows(needle.len()).position(|w| w == needle) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(with);
        rest = &rest[i + needle.len()..];
    }
    out.extend_from_slice(rest);
    out
}
