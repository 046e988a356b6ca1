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

/// Generates the token's domain key: an AES-256 token object that wraps and
/// unwraps and does nothing else, never leaves the token, and can be changed
/// by nobody.
///
/// Its `CKA_UNWRAP_TEMPLATE` binds every object unwrapped under it, whoever
/// asks: a session object (`CKA_TOKEN` false), sensitive, and unable to
/// unwrap. SoftHSM 2.6.1 refuses an unwrap whose template contradicts one of
/// these or leaves out `CKA_SENSITIVE` or `CKA_UNWRAP`. The template names
/// only attributes that secret and private keys both have, so every key kind
/// can be stored under it; it does not fix `CKA_EXTRACTABLE`, because the
/// replication path needs a wrappable copy (SECURITY.md, "Key custody").
pub fn create_domain_key(session: &Session) -> Result<ObjectHandle, HsmError> {
    let unwrapped = [
        Attribute::Token(false),
        Attribute::Sensitive(true),
        Attribute::Unwrap(false),
    ];
    let key = with_unwrap_template(&unwrapped, |template| {
        session.generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::ValueLen(32.into()),
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Modifiable(false),
                Attribute::Wrap(true),
                Attribute::Unwrap(true),
                Attribute::Encrypt(false),
                Attribute::Decrypt(false),
                Attribute::Sign(false),
                Attribute::Verify(false),
                Attribute::Derive(false),
                template,
                Attribute::Label(DOMAIN_KEY_LABEL.as_bytes().to_vec()),
            ],
        )
    })?;
    Ok(key)
}

/// Runs `call` with a `CKA_UNWRAP_TEMPLATE` attribute holding `attributes`.
///
/// cryptoki 0.12 has no variant for attribute-array attributes, so the value
/// is the array of `CK_ATTRIBUTE` structures laid out as the C API expects,
/// pointing into `attributes`: it is valid only while `attributes` is
/// borrowed, which is why it is handed to a closure rather than returned.
fn with_unwrap_template<T>(attributes: &[Attribute], call: impl FnOnce(Attribute) -> T) -> T {
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
