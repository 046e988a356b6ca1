//! The template of backing-key session objects, shared by the token (which
//! generates and unwraps them) and the transport (which wraps them for
//! another region).

use super::SecretKind;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass};

/// What a backing-key object made in the token is for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    /// Encrypting and decrypting: the only kind of object kept (and cached).
    /// Not extractable, so no one can wrap it under any key.
    Use,
    /// Being wrapped once, under the domain key (a freshly generated or
    /// imported key) or under a transport key (replication), then destroyed
    /// at once. Extractable, and unable to encrypt, decrypt or anything else.
    ///
    /// `CKA_WRAP_WITH_TRUSTED` would confine the wrapping to keys the SO
    /// marked trusted, but SoftHSM lets only the SO set `CKA_TRUSTED`, at
    /// creation, while no user is logged in: neither the domain key nor a
    /// derived transport key can be trusted, so it stays false (SECURITY.md).
    Transit,
}

/// Attributes of a backing key of `kind` as a session object: an AES key
/// that encrypts and decrypts, or a generic secret that signs and verifies
/// (HMAC). Generation adds the length; an unwrap template may not state it.
///
/// The object is sensitive (its value never leaves the token in the clear)
/// but not private: a session object is visible only to this process, which
/// is always logged in, so CKA_PRIVATE would protect nothing, while SoftHSM
/// would decrypt the value under its token key, behind one global lock, on
/// every use (docs/adr/0007-session-objects.md). Nobody may change it.
pub(super) fn backing_key_template(purpose: Purpose, kind: SecretKind) -> Vec<Attribute> {
    let for_use = purpose == Purpose::Use;
    let (key_type, ciphers, macs) = match kind {
        SecretKind::Aes256 => (KeyType::AES, for_use, false),
        SecretKind::Hmac(_) => (KeyType::GENERIC_SECRET, false, for_use),
    };
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(key_type),
        Attribute::Token(false),
        Attribute::Private(false),
        Attribute::Sensitive(true),
        Attribute::Extractable(!for_use),
        Attribute::WrapWithTrusted(false),
        Attribute::Encrypt(ciphers),
        Attribute::Decrypt(ciphers),
        Attribute::Wrap(false),
        Attribute::Unwrap(false),
        Attribute::Sign(macs),
        Attribute::Verify(macs),
        Attribute::Derive(false),
        // Last: SoftHSM 2.6.1 refuses (CKR_ATTRIBUTE_READ_ONLY) an unwrap
        // template that states any attribute after CKA_MODIFIABLE = false.
        Attribute::Modifiable(false),
    ]
}

/// The mechanism that generates a backing key of `kind`, and its length.
pub(super) fn generation(kind: SecretKind) -> (Mechanism<'static>, usize) {
    match kind {
        SecretKind::Aes256 => (Mechanism::AesKeyGen, 32),
        SecretKind::Hmac(bytes) => (Mechanism::GenericSecretKeyGen, bytes),
    }
}
