//! The template of backing-key session objects, shared by the token (which
//! generates and unwraps them) and the transport (which wraps them for
//! another region).

use super::{Curve, PairRole, SecretKind};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectClass};

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
/// that encrypts and decrypts, a generic secret that signs and verifies
/// (HMAC), or a private key that signs, decrypts or derives, as its role
/// says. Generation adds the length; an unwrap template may not state it.
///
/// The object is sensitive (its value never leaves the token in the clear)
/// but not private: a session object is visible only to this process, which
/// is always logged in, so CKA_PRIVATE would protect nothing, while SoftHSM
/// would decrypt the value under its token key, behind one global lock, on
/// every use (docs/adr/0007-session-objects.md). Nobody may change it.
pub(super) fn backing_key_template(purpose: Purpose, kind: SecretKind) -> Vec<Attribute> {
    let for_use = purpose == Purpose::Use;
    let mut template = vec![
        Attribute::KeyType(kind.key_type()),
        Attribute::Token(false),
        Attribute::Private(false),
        Attribute::Sensitive(true),
        Attribute::Extractable(!for_use),
        Attribute::WrapWithTrusted(false),
    ];
    match kind {
        SecretKind::Aes256 | SecretKind::Hmac(_) => {
            let ciphers = for_use && kind == SecretKind::Aes256;
            let macs = for_use && kind != SecretKind::Aes256;
            template.extend([
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::Encrypt(ciphers),
                Attribute::Decrypt(ciphers),
                Attribute::Wrap(false),
                Attribute::Unwrap(false),
                Attribute::Sign(macs),
                Attribute::Verify(macs),
                Attribute::Derive(false),
            ]);
        }
        SecretKind::Rsa(_, role) | SecretKind::Ec(_, role) => {
            template.extend([
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Sign(for_use && role == PairRole::Sign),
                Attribute::Decrypt(for_use && role == PairRole::Decrypt),
                Attribute::Derive(for_use && role == PairRole::Agree),
                Attribute::Unwrap(false),
                Attribute::SignRecover(false),
            ]);
        }
    }
    // Last: SoftHSM 2.6.1 refuses (CKR_ATTRIBUTE_READ_ONLY) an unwrap
    // template that states any attribute after CKA_MODIFIABLE = false.
    template.push(Attribute::Modifiable(false));
    template
}

/// The public half's template when a key pair of `kind` is generated: a
/// session object that only lends its value (modulus and exponent, or EC
/// point) and is destroyed at once.
pub(super) fn generated_public_template(kind: SecretKind) -> Vec<Attribute> {
    let mut template = vec![
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(kind.key_type()),
        Attribute::Token(false),
        Attribute::Private(false),
        Attribute::Verify(false),
        Attribute::Encrypt(false),
        Attribute::Wrap(false),
        Attribute::Derive(false),
    ];
    match kind {
        SecretKind::Rsa(bits, _) => template.extend([
            Attribute::ModulusBits(u64::from(bits).into()),
            Attribute::PublicExponent(vec![1, 0, 1]),
        ]),
        SecretKind::Ec(curve, _) => template.push(Attribute::EcParams(ec_params(curve))),
        SecretKind::Aes256 | SecretKind::Hmac(_) => {}
    }
    template
}

/// CKA_EC_PARAMS of a named curve: the DER of its OID.
pub(super) fn ec_params(curve: Curve) -> Vec<u8> {
    use der::Encode;
    curve.oid().to_der().expect("an OID encodes")
}

/// The mechanism that generates a key pair of `kind`.
pub(super) fn pair_generation(kind: SecretKind) -> Mechanism<'static> {
    match kind {
        SecretKind::Ec(..) => Mechanism::EccKeyPairGen,
        _ => Mechanism::RsaPkcsKeyPairGen,
    }
}
