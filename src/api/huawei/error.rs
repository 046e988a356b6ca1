//! The Huawei Cloud KMS error envelope and the one place where `KmsError`
//! and authentication failures meet Huawei's error codes:
//!
//! ```json
//! {"error": {"error_code": "KMS.0207", "error_msg": "..."}}
//! ```

use super::words;
use crate::api::request::BodyRefused;
use crate::auth::huawei_sign::HuaweiAuthError;
use crate::kms::{Invalid, KmsError, MaterialProblem, TokenProblem};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Content type of the dialect's responses.
pub const CONTENT_TYPE: &str = "application/json;charset=UTF-8";

/// A refusal: HTTP status, Huawei error code and message.
#[derive(Debug)]
pub struct HuaweiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Huawei error code, e.g. `KMS.0207`.
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
}

impl HuaweiError {
    /// A 400 with `code`.
    pub fn bad(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code,
            message: message.into(),
        }
    }

    /// KMS.0204: a required parameter is missing.
    pub fn missing(field: &str) -> Self {
        Self::bad(
            "KMS.0204",
            format!("The request message lacks the required parameter '{field}'."),
        )
    }

    /// KMS.0308: a parameter has an invalid value.
    pub fn invalid(field: &str, detail: impl std::fmt::Display) -> Self {
        Self::bad("KMS.0308", format!("Invalid {field}: {detail}"))
    }

    /// KMS.0205: a key id is not a key id.
    pub fn invalid_key_id(given: &str) -> Self {
        Self::bad(
            "KMS.0205",
            format!(
                "Invalid key_id '{given}': a key id is 36 characters, \
                 xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx."
            ),
        )
    }

    /// KMS.0202: the body is not a JSON object.
    pub fn bad_json(detail: impl std::fmt::Display) -> Self {
        Self::bad(
            "KMS.0202",
            format!("The JSON format of the request message is invalid: {detail}"),
        )
    }

    /// KMS.0203: the body is too long or cut short (400), or did not arrive
    /// in time (408).
    pub fn body_refused(refused: BodyRefused) -> Self {
        match refused {
            BodyRefused::TooLarge(limit) => Self::bad(
                "KMS.0203",
                format!("The request message length exceeds the limit of {limit} bytes."),
            ),
            BodyRefused::Malformed => Self::bad("KMS.0203", refused.to_string()),
            BodyRefused::TooSlow => Self {
                status: StatusCode::REQUEST_TIMEOUT,
                code: "KMS.0203",
                message: refused.to_string(),
            },
        }
    }

    /// enable-key of a key that is not disabled (`KMS.1201`), or
    /// disable-key of one that is not enabled (`KMS.1301`): Huawei changes
    /// only a key in the other state.
    pub fn state_unchanged(key_id: &str, enable: bool) -> Self {
        match enable {
            true => Self::bad(
                "KMS.1201",
                format!("The key {key_id} is not disabled: only a disabled key can be enabled."),
            ),
            false => Self::bad(
                "KMS.1301",
                format!("The key {key_id} is not enabled: only an enabled key can be disabled."),
            ),
        }
    }

    /// No such API under the dialect's paths.
    pub fn no_such_api(method: &str, path: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "KMS.0201",
            message: format!("Invalid request URL: no API {method} {path}."),
        }
    }

    /// The project id in the path is not configured.
    pub fn unknown_project(project_id: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "KMS.0201",
            message: format!("Invalid request URL: project '{project_id}' is not configured."),
        }
    }

    /// The project belongs to another account than the caller.
    pub fn foreign_project(project_id: &str) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            code: "KMS.0307",
            message: format!("The caller has no permission to use project '{project_id}'."),
        }
    }

    /// A 500 whose detail goes to the log only.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "KMS.0101",
            message: "KMS error.".into(),
        }
    }

    /// KMS.0207: the key or resource does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "KMS.0207",
            message: message.into(),
        }
    }

    /// Maps a core error with this dialect's generic codes.
    pub fn from_kms(e: KmsError) -> Self {
        use KmsError as K;
        let bad = |code, m: String| Self::bad(code, m);
        match e {
            K::MissingParameter(field) => Self::missing(words::field(field)),
            K::Validation(Invalid::AsymmetricKeyIdRequired) => Self::missing("key_id"),
            K::Validation(Invalid::ValidToRange) => {
                bad("KMS.2602", words::invalid(&Invalid::ValidToRange))
            }
            K::Validation(invalid) => bad("KMS.0308", words::invalid(&invalid)),
            K::InvalidKeyUsage(problem) => bad("KMS.0308", words::usage(&problem)),
            K::UnsupportedOperation(m)
            | K::MalformedPolicyDocument(m)
            | K::InvalidGrantId(m)
            | K::InvalidGrantToken(m)
            | K::LimitExceeded(m)
            | K::Conflict(m)
            | K::AlreadyExists(m)
            | K::UnrecognizedRegion(m) => bad("KMS.0308", m),
            K::NotFound(missing) => Self::not_found(missing.to_string()),
            K::Disabled(m) => bad("KMS.0209", m),
            K::PendingDeletion {
                arn,
                state: "PendingImport",
            } => bad(
                "KMS.0308",
                format!("The key {arn} is pending import (key_state 5): import its key material."),
            ),
            K::PendingDeletion { arn, state } => {
                bad("KMS.0210", format!("The key {arn} is in state {state}."))
            }
            K::InvalidState(m) => bad("KMS.0308", m),
            K::NotExternal { arn, .. } => bad(
                "KMS.0309",
                format!("The key {arn} is not an external key (origin external)."),
            ),
            K::ExpiredImportToken(_) => bad(
                "KMS.2601",
                "The import_token has expired; call get-parameters-for-import again.".into(),
            ),
            K::InvalidImportToken(problem) => {
                let code = match problem {
                    TokenProblem::OtherKey(_) => "KMS.2603",
                    TokenProblem::Unknown | TokenProblem::Forgotten => "KMS.2605",
                };
                bad(code, words::token(&problem))
            }
            K::IncorrectKeyMaterial(problem) => {
                let code = match problem {
                    MaterialProblem::Length { .. } | MaterialProblem::PrivateKey { .. } => {
                        "KMS.2604"
                    }
                    MaterialProblem::NotTheKeys(_)
                    | MaterialProblem::AlreadyTheKeys(_)
                    | MaterialProblem::NotNamed(_) => "KMS.2606",
                };
                bad(code, words::material(&problem))
            }
            K::InvalidCiphertext(reason) => bad("KMS.2201", reason.into()),
            K::IncorrectKey(arn) => bad(
                "KMS.0205",
                format!("The key {arn} did not encrypt this cipher_text."),
            ),
            K::InvalidArn(m) => bad("KMS.0205", m),
            K::InvalidAliasName(m) => bad("KMS.1101", m),
            K::Tag(problem) => bad("KMS.0406", words::tag(&problem)),
            K::InvalidMarker(m) => bad("KMS.1602", m),
            K::AccessDenied(m) => Self {
                status: StatusCode::FORBIDDEN,
                code: "KMS.0306",
                message: m,
            },
            K::DryRun => bad("KMS.0308", "DryRun is not part of this dialect.".into()),
            K::InvalidMac => bad("KMS.0308", "The MAC does not match the message.".into()),
            K::InvalidSignature => bad("KMS.0308", "The signature does not verify.".into()),
            K::Internal(detail) => Self::internal(detail),
            // Huawei's API gateway answers throttled requests so.
            K::Throttled(m) => Self {
                status: StatusCode::TOO_MANY_REQUESTS,
                code: "APIGW.0308",
                message: m,
            },
            K::StoreUnreachable(detail) => {
                tracing::error!(%detail, "store unreachable");
                Self {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    code: "KMS.0101",
                    message: "The service's database did not answer; retry the request.".into(),
                }
            }
        }
    }

    /// import-key-material's refusals: material that does not decrypt
    /// under the wrapping key (the core's invalid ciphertext) is Huawei's
    /// `KMS.0311`; the rest as [`Self::from_kms`].
    pub fn from_import(e: KmsError) -> Self {
        match e {
            KmsError::InvalidCiphertext(_) => Self::bad(
                "KMS.0311",
                "Failed to decrypt encrypted_key_material using the RSA private key: wrap the \
                 material under the public_key that came with the import_token, with its \
                 wrapping_algorithm.",
            ),
            other => Self::from_kms(other),
        }
    }

    /// delete-imported-key-material of a key pending import, which has no
    /// material to delete: Huawei's `KMS.2701` (AWS succeeds).
    pub fn nothing_to_delete(arn: &str) -> Self {
        Self::bad(
            "KMS.2701",
            format!(
                "The key {arn} is pending import (key_state 5): only the key material of an \
                 enabled or disabled key can be deleted."
            ),
        )
    }

    /// An authentication failure: always 401.
    pub fn from_auth(e: HuaweiAuthError) -> Self {
        let code = match e {
            HuaweiAuthError::BadToken
            | HuaweiAuthError::TokenExpired
            | HuaweiAuthError::TokenScope => "KMS.0302",
            HuaweiAuthError::Expired(_) => "KMS.0303",
            _ => "KMS.0301",
        };
        Self {
            status: StatusCode::UNAUTHORIZED,
            code,
            message: e.to_string(),
        }
    }

    /// The response body.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({ "error": { "error_code": self.code, "error_msg": self.message } })
    }
}

impl From<KmsError> for HuaweiError {
    fn from(e: KmsError) -> Self {
        Self::from_kms(e)
    }
}

impl IntoResponse for HuaweiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body().to_string()).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        response
    }
}
