//! Errors raised by the PKCS#11 custody layer.

use super::DOMAIN_KEY_LABEL;
use thiserror::Error;

/// What can go wrong while talking to a token.
#[derive(Debug, Error)]
pub enum HsmError {
    /// The PKCS#11 module reported an error.
    #[error("PKCS#11 call failed: {0}")]
    Pkcs11(#[from] cryptoki::error::Error),
    /// Two regions name one module path with different SoftHSM configurations.
    #[error(
        "module {0} is configured with two different softhsm_conf files; a module is \
         initialised once per process, so give each configuration its own copy of the module"
    )]
    ModuleConfigConflict(String),
    /// No slot holds a token with the configured label.
    #[error("no token labelled {0:?} in module {1}")]
    TokenNotFound(String, String),
    /// The module has no free slot to initialise a new token in.
    #[error("module {0} has no uninitialised slot to provision token {1:?}")]
    NoFreeSlot(String, String),
    /// A configured token holds no domain key. Trent never creates one on
    /// its own there: on a token that was reset or swapped, a new domain key
    /// would silently orphan every key the store holds for the region.
    #[error("token {0:?} in module {1} holds no domain key ({DOMAIN_KEY_LABEL:?})")]
    NoDomainKey(String, String),
    /// The token holds more than one domain key: refusing to guess.
    #[error("token {0:?} holds {1} domain keys; expected one")]
    AmbiguousDomainKey(String, usize),
    /// Authenticated decryption failed: the ciphertext, tag or AAD was altered.
    #[error("authenticated decryption failed")]
    AuthenticationFailed,
    /// A transport package names an import this token never offered.
    #[error("no pending import {0}")]
    UnknownImport(u64),
    /// The token's module is being (or failed to be) re-initialised.
    #[error("token {0:?} is not open: its module's re-initialisation failed")]
    TokenUnavailable(String),
    /// A stored material row has no tag, or one that is not its own: it
    /// was altered in the store (or written without a tag). Names the key.
    #[error("the stored material of key {0} fails its tag (altered in the store?)")]
    UntrustedMaterial(String),
    /// The region's row-tag key is missing, malformed or not yet loaded.
    #[error("row-tag key: {0}")]
    RowTagKey(String),
    /// A wrapped key blob could not be unwrapped under the domain key.
    #[error("wrapped key material could not be unwrapped")]
    UnwrapFailed,
    /// The token lacks a mechanism Trent needs (named, with its use).
    #[error("token {0:?} lacks the PKCS#11 mechanism {1}")]
    MissingMechanism(String, String),
    /// A wrapped key blob has a header this version does not know.
    #[error("wrapped key blob has an unknown format")]
    UnknownBlobFormat,
    /// A MAC was asked of a key that is not an HMAC key of a known length.
    #[error("{0} is not an HMAC key")]
    NotAMacKey(String),
    /// A public key (ours, from the store, or a peer's) is not a DER
    /// SubjectPublicKeyInfo of the kind needed.
    #[error("bad public key: {0}")]
    BadPublicKey(String),
    /// An import names a wrapping key pair this token does not hold (used
    /// already, evicted, or made before a restart).
    #[error("no pending key-material import with that wrapping key")]
    UnknownKeyImport,
    /// Imported material of a length the key spec does not take.
    #[error("imported key material is {0} bytes, a length this key spec does not take")]
    MaterialLength(usize),
    /// An imported private key is not of the key's kind (another key type,
    /// another curve, or not a PKCS#8 private key at all); says why.
    #[error("the imported private key is not the key's: {0}")]
    WrongPrivateKey(String),
    /// A plaintext is too long for the RSA key's OAEP encryption.
    #[error("the plaintext is too long for this RSA key and algorithm")]
    MessageTooLong,
    /// A value the token gave could not be put in DER.
    #[error("DER encoding failed: {0}")]
    Der(String),
    /// An enrolment package was given to a set-up that made no offer.
    #[error("no enrolment offer is pending on this token")]
    NoOffer,
    /// An enrolment package does not unwrap under the offer's key.
    #[error("the enrolment package does not unwrap under this node's offer key: {0}")]
    BadPackage(String),
    /// A key (an enrolment package's) is not the domain key the store
    /// names: the check blob does not unwrap under it.
    #[error("the key is not the domain key the store names (the check blob does not unwrap)")]
    NotTheDomainKey,
    /// The domain key cannot be wrapped for another node.
    #[error(
        "token {0:?} holds a never-extractable domain key, which no other node can receive; \
         its region can have one node only (ADR 0016)"
    )]
    NotShareable(String),
    /// The Security Officer could not log in (token label, why).
    #[error("logging in to token {0:?} as its Security Officer failed: {1}")]
    SoLogin(String, String),
    /// Two tokens share no key wrapping to carry material between them.
    #[error("the two tokens share no AES key wrapping mechanism")]
    NoCommonWrapping,
}

impl HsmError {
    /// True when the error says a cached object handle is no longer valid.
    pub fn is_stale_handle(&self) -> bool {
        use cryptoki::error::{Error, RvError};
        matches!(
            self,
            HsmError::Pkcs11(Error::Pkcs11(
                RvError::ObjectHandleInvalid | RvError::KeyHandleInvalid,
                _
            ))
        )
    }
}
