//! The AWS JSON 1.1 error envelope: `{"__type": ..., "message": ...}` and a
//! status code. The single place where `KmsError` meets the AWS wire.

use crate::api::request::BodyRefused;
use crate::auth::AuthError;
use crate::kms::KmsError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::words;

/// Everything the AWS dialect can answer with instead of a result.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// An error from the KMS core.
    #[error(transparent)]
    Kms(#[from] KmsError),
    /// The body is not valid JSON for the operation's shape.
    #[error("{0}")]
    Serialization(String),
    /// The X-Amz-Target names no operation this service has.
    #[error("{0}")]
    UnknownOperation(String),
    /// The request is not (validly) signed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The body exceeds the configured limit or came too slowly.
    #[error(transparent)]
    Body(#[from] BodyRefused),
}

impl AwsError {
    /// AWS error type name and HTTP status.
    pub fn kind(&self) -> (&'static str, StatusCode) {
        use KmsError as K;
        let bad = StatusCode::BAD_REQUEST;
        match self {
            AwsError::Serialization(_) => ("SerializationException", bad),
            AwsError::UnknownOperation(_) => ("UnknownOperationException", bad),
            AwsError::Body(BodyRefused::TooLarge(_)) => {
                ("ValidationException", StatusCode::PAYLOAD_TOO_LARGE)
            }
            AwsError::Body(BodyRefused::Malformed) => ("ValidationException", bad),
            AwsError::Body(BodyRefused::TooSlow) => {
                ("RequestTimeoutException", StatusCode::REQUEST_TIMEOUT)
            }
            AwsError::Auth(e) => match e {
                AuthError::Missing => {
                    ("MissingAuthenticationTokenException", StatusCode::FORBIDDEN)
                }
                AuthError::Incomplete(_) => ("IncompleteSignatureException", bad),
                AuthError::InvalidSignature(_) | AuthError::Expired(_) => {
                    ("InvalidSignatureException", bad)
                }
                AuthError::UnknownAccessKey => ("UnrecognizedClientException", bad),
            },
            AwsError::Kms(e) => match e {
                K::Validation(_) | K::MissingParameter(_) => ("ValidationException", bad),
                K::NotFound(_) => ("NotFoundException", bad),
                K::Disabled(_) => ("DisabledException", bad),
                K::InvalidState(_) | K::PendingDeletion { .. } => ("KMSInvalidStateException", bad),
                K::InvalidCiphertext(_) => ("InvalidCiphertextException", bad),
                K::IncorrectKey(_) => ("IncorrectKeyException", bad),
                K::InvalidKeyUsage(_) => ("InvalidKeyUsageException", bad),
                K::UnsupportedOperation(_) | K::NotExternal { .. } => {
                    ("UnsupportedOperationException", bad)
                }
                K::AlreadyExists(_) => ("AlreadyExistsException", bad),
                K::InvalidAliasName(_) => ("InvalidAliasNameException", bad),
                K::InvalidArn(_) => ("InvalidArnException", bad),
                K::Tag(_) => ("TagException", bad),
                K::InvalidMarker(_) => ("InvalidMarkerException", bad),
                K::LimitExceeded(_) => ("LimitExceededException", bad),
                K::Throttled(_) => ("ThrottlingException", bad),
                K::MalformedPolicyDocument(_) => ("MalformedPolicyDocumentException", bad),
                K::UnrecognizedRegion(_) => ("UnrecognizedClientException", bad),
                K::Conflict(_) => ("ConflictException", bad),
                K::AccessDenied(_) => ("AccessDeniedException", bad),
                K::InvalidGrantId(_) => ("InvalidGrantIdException", bad),
                K::InvalidGrantToken(_) => ("InvalidGrantTokenException", bad),
                K::DryRun => ("DryRunOperationException", bad),
                K::InvalidMac => ("KMSInvalidMacException", bad),
                K::InvalidSignature => ("KMSInvalidSignatureException", bad),
                K::InvalidImportToken(_) => ("InvalidImportTokenException", bad),
                K::ExpiredImportToken(_) => ("ExpiredImportTokenException", bad),
                K::IncorrectKeyMaterial(_) => ("IncorrectKeyMaterialException", bad),
                K::Internal(_) => ("KMSInternalException", StatusCode::INTERNAL_SERVER_ERROR),
                K::StoreUnreachable(_) => (
                    "DependencyTimeoutException",
                    StatusCode::SERVICE_UNAVAILABLE,
                ),
            },
        }
    }
}

impl AwsError {
    /// The message AWS sends with this error, if it sends one.
    fn message(&self) -> Option<String> {
        match self {
            AwsError::Kms(e) => words::kms_message(e),
            other => Some(other.to_string()),
        }
    }
}

impl IntoResponse for AwsError {
    fn into_response(self) -> Response {
        let (kind, status) = self.kind();
        let body = match self.message() {
            Some(message) => serde_json::json!({ "__type": kind, "message": message }),
            None => serde_json::json!({ "__type": kind }),
        }
        .to_string();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(super::CONTENT_TYPE),
        );
        response
            .headers_mut()
            .insert("x-amzn-ErrorType", HeaderValue::from_static(kind));
        response
    }
}
