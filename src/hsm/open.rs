//! Opening a token: finding its slot, provisioning, login and the domain key.
//! Runs at start-up and when a module is re-initialised, never per request.

use super::HsmError;
use cryptoki::context::Pkcs11;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
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

/// Finds the token's domain key, generating it on first use.
pub fn domain_key(session: &Session, token_label: &str) -> Result<ObjectHandle, HsmError> {
    let label = Attribute::Label(DOMAIN_KEY_LABEL.as_bytes().to_vec());
    let found = session.find_objects(&[
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::Token(true),
        label.clone(),
    ])?;
    match found.as_slice() {
        [key] => Ok(*key),
        [] => Ok(session.generate_key(
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
                label,
            ],
        )?),
        many => Err(HsmError::AmbiguousDomainKey(token_label.into(), many.len())),
    }
}
