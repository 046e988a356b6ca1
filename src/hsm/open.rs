//! Opening a token: finding its slot, provisioning, login and the domain key.
//! Runs at start-up and when a module is re-initialised, never per request.

use super::HsmError;
use cryptoki::context::Pkcs11;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use secrecy::SecretString;

/// Label of the per-token AES-256 domain key that wraps every backing key.
pub const DOMAIN_KEY_LABEL: &str = "trent-domain-key";

/// Finds the slot whose token carries `label`.
pub fn find_slot(ctx: &Pkcs11, label: &str) -> Result<Option<Slot>, HsmError> {
    for slot in ctx.get_slots_with_initialized_token()? {
        if ctx.get_token_info(slot)?.label().trim_end() == label {
            return Ok(Some(slot));
        }
    }
    Ok(None)
}

/// The slot of the token labelled `label`; when it is missing and an SO PIN
/// is given, a fresh token is provisioned with `user_pin`.
pub fn token_slot(
    ctx: &Pkcs11,
    module: &str,
    label: &str,
    user_pin: &SecretString,
    provision_so_pin: Option<&SecretString>,
) -> Result<Slot, HsmError> {
    match (find_slot(ctx, label)?, provision_so_pin) {
        (Some(slot), _) => Ok(slot),
        (None, Some(so_pin)) => provision_token(ctx, module, label, so_pin, user_pin),
        (None, None) => Err(HsmError::TokenNotFound(label.into(), module.into())),
    }
}

/// Initialises a fresh token labelled `label` in a free slot and sets its user PIN.
pub fn provision_token(
    ctx: &Pkcs11,
    module: &str,
    label: &str,
    so_pin: &SecretString,
    user_pin: &SecretString,
) -> Result<Slot, HsmError> {
    let mut free = None;
    for slot in ctx.get_slots_with_token()? {
        if !ctx.get_token_info(slot)?.token_initialized() {
            free = Some(slot);
            break;
        }
    }
    let slot = free.ok_or_else(|| HsmError::NoFreeSlot(module.into(), label.into()))?;
    let so_pin = AuthPin::from(so_pin.clone());
    ctx.init_token(slot, &so_pin, label)?;
    let slot = find_slot(ctx, label)?
        .ok_or_else(|| HsmError::TokenNotFound(label.into(), module.into()))?;
    let session = ctx.open_rw_session(slot)?;
    session.login(UserType::So, Some(&so_pin))?;
    session.init_pin(&AuthPin::from(user_pin.clone()))?;
    session.logout()?;
    Ok(slot)
}

/// Logs the user in on `session`; the login then covers every session of the token.
pub fn login(session: &Session, pin: &SecretString) -> Result<(), HsmError> {
    use cryptoki::error::{Error, RvError};
    match session.login(UserType::User, Some(&AuthPin::from(pin.clone()))) {
        Ok(()) | Err(Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Finds the token's domain key, if it has one.
pub fn find_domain_key(
    session: &Session,
    token_label: &str,
) -> Result<Option<ObjectHandle>, HsmError> {
    let found = session.find_objects(&[
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::Token(true),
        Attribute::Label(DOMAIN_KEY_LABEL.as_bytes().to_vec()),
    ])?;
    match found.as_slice() {
        [key] => Ok(Some(*key)),
        [] => Ok(None),
        many => Err(HsmError::AmbiguousDomainKey(token_label.into(), many.len())),
    }
}

/// Whether a domain key can ever be copied to another token (ADR 0016).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DomainKeySharing {
    /// `CKA_EXTRACTABLE` false: it never leaves its token, and its region
    /// can have one node only.
    SingleNode,
    /// `CKA_EXTRACTABLE` and `CKA_WRAP_WITH_TRUSTED`: it can be wrapped,
    /// only under a key the token's Security Officer marked trusted (the
    /// public key of a joining node's enrolment offer), so that every node
    /// of a cluster holds it.
    Shareable,
}

/// What every object unwrapped under a domain key must be, whoever asks
/// (its `CKA_UNWRAP_TEMPLATE`): a session object (`CKA_TOKEN` false),
/// sensitive, and unable to unwrap. SoftHSM 2.6.1 refuses an unwrap whose
/// template contradicts one of these or leaves out `CKA_SENSITIVE` or
/// `CKA_UNWRAP`. It names only attributes that secret and private keys both
/// have, so every key kind can be stored under it; it does not fix
/// `CKA_EXTRACTABLE`, because the replication path needs a wrappable copy
/// (SECURITY.md, "Key custody").
fn unwrapped_under_domain_key() -> [Attribute; 3] {
    [
        Attribute::Token(false),
        Attribute::Sensitive(true),
        Attribute::Unwrap(false),
    ]
}

/// The usage and custody attributes of a domain key shared as `sharing`
/// says: private, sensitive, wrap and unwrap only, and (shareable) wrappable
/// only under a trusted key. Callers add the class, type, label, unwrap
/// template and, last, `CKA_MODIFIABLE` false (SoftHSM 2.6.1 applies an
/// unwrap template in order and refuses every attribute after it).
pub(super) fn domain_key_flags(sharing: DomainKeySharing) -> Vec<Attribute> {
    let shareable = sharing == DomainKeySharing::Shareable;
    let mut flags = vec![
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(shareable),
    ];
    if shareable {
        flags.push(Attribute::WrapWithTrusted(true));
    }
    flags.extend([
        Attribute::Wrap(true),
        Attribute::Unwrap(true),
        Attribute::Encrypt(false),
        Attribute::Decrypt(false),
        Attribute::Sign(false),
        Attribute::Verify(false),
        Attribute::Derive(false),
    ]);
    flags
}

/// Runs `call` with the complete template of a domain key token object:
/// class, type, `extra` (the length when generating), the flags of
/// `sharing`, the label, the unwrap template, and `CKA_MODIFIABLE` false
/// last. Generation and the unwrap of an enrolment package both use it, so
/// a node's copy is the same object as the original.
pub(super) fn with_domain_key_template<T>(
    sharing: DomainKeySharing,
    extra: &[Attribute],
    call: impl FnOnce(&[Attribute]) -> T,
) -> T {
    let unwrapped = unwrapped_under_domain_key();
    with_unwrap_template(&unwrapped, |unwrap_template| {
        let mut template = vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(true),
        ];
        template.extend_from_slice(extra);
        template.extend(domain_key_flags(sharing));
        template.extend([
            Attribute::Label(DOMAIN_KEY_LABEL.as_bytes().to_vec()),
            unwrap_template,
            Attribute::Modifiable(false),
        ]);
        call(&template)
    })
}

/// Generates the token's domain key: an AES-256 token object that wraps and
/// unwraps and does nothing else, can be changed by nobody, and binds every
/// object unwrapped under it (`CKA_UNWRAP_TEMPLATE`). A single-node key
/// never leaves the token; a shareable one leaves it only wrapped under a
/// key the SO marked trusted.
pub fn create_domain_key(
    session: &Session,
    sharing: DomainKeySharing,
) -> Result<ObjectHandle, HsmError> {
    let key = with_domain_key_template(sharing, &[Attribute::ValueLen(32.into())], |template| {
        session.generate_key(&Mechanism::AesKeyGen, template)
    })?;
    Ok(key)
}

/// How the domain key `key` is shared: shareable when it is extractable
/// (which the token allows only together with `CKA_WRAP_WITH_TRUSTED`).
pub fn domain_key_sharing(
    session: &Session,
    key: ObjectHandle,
) -> Result<DomainKeySharing, HsmError> {
    let read = session.get_attributes(
        key,
        &[AttributeType::Extractable, AttributeType::WrapWithTrusted],
    )?;
    let shareable = read.contains(&Attribute::Extractable(true))
        && read.contains(&Attribute::WrapWithTrusted(true));
    Ok(match shareable {
        true => DomainKeySharing::Shareable,
        false => DomainKeySharing::SingleNode,
    })
}

/// Runs `call` with a `CKA_UNWRAP_TEMPLATE` attribute holding `attributes`.
///
/// cryptoki 0.12 has no variant for attribute-array attributes, so the value
/// is the array of `CK_ATTRIBUTE` structures laid out as the C API expects,
/// pointing into `attributes`: it is valid only while `attributes` is
/// borrowed, which is why it is handed to a closure rather than returned.
pub(super) fn with_unwrap_template<T>(
    attributes: &[Attribute],
    call: impl FnOnce(Attribute) -> T,
) -> T {
    use cryptoki_sys::{CK_ATTRIBUTE, CKA_UNWRAP_TEMPLATE};
    use std::mem::{offset_of, size_of};
    let stride = size_of::<CK_ATTRIBUTE>();
    let mut bytes = vec![0u8; stride * attributes.len()];
    for (entry, attribute) in bytes.chunks_exact_mut(stride).zip(attributes) {
        let raw = CK_ATTRIBUTE::from(attribute);
        let mut put = |offset: usize, field: &[u8]| {
            entry[offset..offset + field.len()].copy_from_slice(field);
        };
        put(offset_of!(CK_ATTRIBUTE, type_), &raw.type_.to_ne_bytes());
        put(
            offset_of!(CK_ATTRIBUTE, pValue),
            &(raw.pValue as usize).to_ne_bytes(),
        );
        put(
            offset_of!(CK_ATTRIBUTE, ulValueLen),
            &raw.ulValueLen.to_ne_bytes(),
        );
    }
    call(Attribute::VendorDefined((
        AttributeType::VendorDefined(CKA_UNWRAP_TEMPLATE),
        bytes,
    )))
}
