//! The one error type of the KMS layer; each dialect maps it to its wire form.

use crate::hsm::HsmError;
use crate::store::StoreError;
use thiserror::Error;

/// Every failure an operation can report. Variants name the AWS error they map to.
#[derive(Debug, Error)]
pub enum KmsError {
    /// A request field is malformed or out of range.
    #[error("{0}")]
    Validation(String),
    /// A required request field is missing (its name as the dialect's
    /// request shape spells it, e.g. `keyId`).
    #[error("the required parameter {0} is missing")]
    MissingParameter(String),
    /// The named key or alias does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The key is disabled.
    #[error("{0}")]
    Disabled(String),
    /// The key's state does not allow the operation.
    #[error("{0}")]
    InvalidState(String),
    /// The key is pending deletion (`state` is `PendingDeletion` or
    /// `PendingReplicaDeletion`), which refuses the operation.
    #[error("{arn} is in state {state}.")]
    PendingDeletion {
        /// The key's ARN.
        arn: String,
        /// The key state's AWS name.
        state: &'static str,
    },
    /// The ciphertext is not one this service made, was altered, or the
    /// encryption context differs.
    #[error("{0}")]
    InvalidCiphertext(String),
    /// The ciphertext was made under a different key than the one given.
    #[error("{0}")]
    IncorrectKey(String),
    /// The key's usage or spec does not allow the operation or algorithm.
    #[error("{0}")]
    InvalidKeyUsage(String),
    /// The operation or option is not supported for this key or deployment.
    #[error("{0}")]
    UnsupportedOperation(String),
    /// The resource already exists.
    #[error("{0}")]
    AlreadyExists(String),
    /// The alias name is not valid.
    #[error("{0}")]
    InvalidAliasName(String),
    /// An ARN is malformed.
    #[error("{0}")]
    InvalidArn(String),
    /// Tags are malformed or too many.
    #[error("{0}")]
    Tag(String),
    /// A pagination marker is not one this service issued.
    #[error("{0}")]
    InvalidMarker(String),
    /// A limit was reached.
    #[error("{0}")]
    LimitExceeded(String),
    /// The caller may not perform the action.
    #[error("{0}")]
    AccessDenied(String),
    /// A grant id is malformed.
    #[error("{0}")]
    InvalidGrantId(String),
    /// A grant token is not one this service issued, or its grant is gone.
    #[error("{0}")]
    InvalidGrantToken(String),
    /// A concurrent change to the same resource won.
    #[error("{0}")]
    Conflict(String),
    /// A key policy document is not valid.
    #[error("{0}")]
    MalformedPolicyDocument(String),
    /// The request was addressed (by its credential scope) to a region this
    /// deployment does not host.
    #[error("{0}")]
    UnrecognizedRegion(String),
    /// The request would have succeeded; DryRun was set.
    #[error("The request would have succeeded, but the DryRun option is set.")]
    DryRun,
    /// An internal fault; the detail is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for KmsError {
    fn from(e: StoreError) -> Self {
        KmsError::Internal(format!("store: {e}"))
    }
}

impl From<HsmError> for KmsError {
    fn from(e: HsmError) -> Self {
        match e {
            HsmError::AuthenticationFailed => KmsError::InvalidCiphertext(
                "The ciphertext is invalid, was altered, or its encryption context does not match."
                    .into(),
            ),
            other => KmsError::Internal(format!("hsm: {other}")),
        }
    }
}

/// Result type of KMS operations.
pub type KmsResult<T> = Result<T, KmsError>;
