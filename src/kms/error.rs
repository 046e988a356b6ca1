//! The one error type of the KMS layer; each dialect maps it to its wire form.

use super::invalid::{Field, Invalid, TagProblem, UsageProblem};
use crate::hsm::HsmError;
use crate::model::KeySpec;
use crate::store::StoreError;
use thiserror::Error;

/// Every failure an operation can report. Variants name the AWS error they map to.
#[derive(Debug, Error)]
pub enum KmsError {
    /// A request field is malformed or out of range, or fields conflict.
    #[error("invalid request: {0:?}")]
    Validation(Invalid),
    /// A required request field is missing.
    #[error("the required parameter {} is missing", .0.name())]
    MissingParameter(Field),
    /// The named key, alias, grant or policy does not exist.
    #[error("{0}")]
    NotFound(Missing),
    /// The key is disabled.
    #[error("{0}")]
    Disabled(String),
    /// The key's state does not allow the operation.
    #[error("{0}")]
    InvalidState(String),
    /// The key's state (`PendingDeletion`, `PendingReplicaDeletion` or
    /// `PendingImport`) refuses the operation.
    #[error("{arn} is in state {state}.")]
    PendingDeletion {
        /// The key's ARN.
        arn: String,
        /// The key state's AWS name.
        state: &'static str,
    },
    /// The ciphertext is not one this service made, was altered, or the
    /// encryption context differs; the reason, for the log and for
    /// dialects that show one.
    #[error("{0}")]
    InvalidCiphertext(&'static str),
    /// The ciphertext was made under a different key than the one given
    /// (the given key's ARN).
    #[error("the key {0} did not make this ciphertext")]
    IncorrectKey(String),
    /// The key's usage or spec does not allow the operation or algorithm.
    #[error("key usage refused: {0:?}")]
    InvalidKeyUsage(UsageProblem),
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
    /// Tags break a tagging rule.
    #[error("tags refused: {0:?}")]
    Tag(TagProblem),
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
    /// The MAC does not match the message under the key.
    #[error("the MAC does not match")]
    InvalidMac,
    /// An import token that is not valid for this key (another key's, used
    /// already, or unknown).
    #[error("{0}")]
    InvalidImportToken(TokenProblem),
    /// An import token past its 24 hours.
    #[error("{0}")]
    ExpiredImportToken(String),
    /// Imported material that is not the key's (or not valid for it).
    #[error("{0}")]
    IncorrectKeyMaterial(MaterialProblem),
    /// An import operation on a key whose origin is not `EXTERNAL`.
    #[error("{arn} origin is {origin} which is not valid for this operation.")]
    NotExternal {
        /// The key's ARN.
        arn: String,
        /// The key's origin.
        origin: String,
    },
    /// A signature did not verify.
    #[error("The signature is not valid for this message and key.")]
    InvalidSignature,
    /// The request would have succeeded; DryRun was set.
    #[error("The request would have succeeded, but the DryRun option is set.")]
    DryRun,
    /// Too many long token calls in flight (`throttle`); retry later.
    #[error("{0}")]
    Throttled(String),
    /// An internal fault; the detail is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
    /// The store could not be reached or did not answer in time; the
    /// request may succeed when retried. The detail is logged, never sent.
    #[error("store unreachable: {0}")]
    StoreUnreachable(String),
}

/// What was not found.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Missing {
    /// No key has this ARN.
    #[error("Key '{0}' does not exist")]
    Key(String),
    /// No alias has this ARN.
    #[error("Alias '{0}' is not found.")]
    Alias(String),
    /// The key has no grant with this id.
    #[error("Grant {grant_id} does not exist on {key}.")]
    Grant {
        /// The grant id given.
        grant_id: String,
        /// The key's ARN.
        key: String,
    },
    /// A key policy name other than `default`.
    #[error("No such policy '{0}'; the only key policy name is 'default'.")]
    Policy(String),
    /// The reference is not a key id, key ARN, alias name or alias ARN.
    #[error("Invalid keyId '{0}'")]
    InvalidKeyId(String),
    /// An alias was given where only a key id or key ARN is accepted.
    #[error("Invalid keyId '{0}': this operation takes a key id or key ARN, not an alias.")]
    AliasNotAccepted(String),
    /// A key ARN names another partition than `aws`, the one Trent's keys
    /// are in.
    #[error(
        "Key '{arn}' does not exist in partition {partition}: Trent's keys are in partition aws"
    )]
    OtherPartition {
        /// The ARN given.
        arn: String,
        /// The partition it names.
        partition: String,
    },
    /// A key ARN names another Region than the request's.
    #[error("Key '{arn}' does not exist in this region")]
    OtherRegion {
        /// The ARN given.
        arn: String,
        /// The Region it names.
        region: String,
    },
    /// The key has no material with this id.
    #[error("Key material {material_id} is not associated with {arn}.")]
    KeyMaterial {
        /// The key's ARN.
        arn: String,
        /// The material id given.
        material_id: String,
    },
}

/// Why an import token is refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TokenProblem {
    /// Used already, or never issued.
    #[error("The import token is not valid: it was used already or never issued.")]
    Unknown,
    /// Its wrapping key pair is gone from the token: the server restarted
    /// since, or newer imports pushed it out.
    #[error(
        "The import token is no longer valid (this server restarted since it was issued, \
         or it was pushed out by newer ones); call GetParametersForImport again."
    )]
    Forgotten,
    /// Issued for another key than this one (whose ARN it holds).
    #[error("The import token was issued for another key, not {0}.")]
    OtherKey(String),
}

/// Why imported key material is refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MaterialProblem {
    /// A length (in bytes) the key's spec does not take.
    #[error("The key material is {len} bytes, which a {spec} key does not take.")]
    Length {
        /// The material's length.
        len: usize,
        /// The key's spec.
        spec: KeySpec,
    },
    /// A private key that is not of the key's spec (another key type or
    /// curve, or not a PKCS#8 private key); says why.
    #[error("The imported private key does not fit this key's spec, {spec}: {why}.")]
    PrivateKey {
        /// The key's spec.
        spec: KeySpec,
        /// What the material is instead.
        why: String,
    },
    /// Not the material the key (whose ARN it holds) had before.
    #[error("The key material is not the material previously imported into {0}.")]
    NotTheKeys(String),
    /// New material (for a rotation) that the key (whose ARN it holds) has
    /// already.
    #[error(
        "The key material is already associated with {0}; import it again with \
             ImportType EXISTING_KEY_MATERIAL."
    )]
    AlreadyTheKeys(String),
    /// Not the material whose id the request named.
    #[error("The key material's id is not {0}, the KeyMaterialId given.")]
    NotNamed(String),
}

impl From<StoreError> for KmsError {
    fn from(e: StoreError) -> Self {
        if e.unreachable() {
            KmsError::StoreUnreachable(e.to_string())
        } else {
            KmsError::Internal(format!("store: {e}"))
        }
    }
}

impl From<HsmError> for KmsError {
    fn from(e: HsmError) -> Self {
        match e {
            HsmError::AuthenticationFailed => KmsError::InvalidCiphertext(
                "The ciphertext is invalid, was altered, or its encryption context does not match.",
            ),
            // A request for something this token cannot do (such as a key
            // length its key wrap cannot wrap): the client may use another.
            // The token's label is the operator's: it goes to the log only.
            HsmError::MissingMechanism(label, mechanism) => {
                tracing::warn!(token = %label, %mechanism, "refused: the token lacks a mechanism");
                KmsError::UnsupportedOperation(format!(
                    "This region's token lacks the PKCS#11 mechanism {mechanism}."
                ))
            }
            missing @ HsmError::NoCommonWrapping => {
                KmsError::UnsupportedOperation(missing.to_string())
            }
            other => KmsError::Internal(format!("hsm: {other}")),
        }
    }
}

/// Result type of KMS operations.
pub type KmsResult<T> = Result<T, KmsError>;
