//! Opening a region's token: module initialisation, provisioning, login and the
//! domain key. Runs once at start-up, never on the request path.

use super::HsmError;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use secrecy::SecretString;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Label of the per-token AES-256 domain key that wraps every backing key.
pub const DOMAIN_KEY_LABEL: &str = "trent-domain-key";

/// Loaded and initialised PKCS#11 modules, one per library path, with the
/// SoftHSM configuration each was initialised with.
#[derive(Default)]
pub struct Modules {
    loaded: HashMap<PathBuf, (Arc<Pkcs11>, Option<PathBuf>)>,
}

impl Modules {
    /// Loads and initialises `path` once; later calls return the same context.
    ///
    /// `softhsm_conf`, when given, is exported as `SOFTHSM2_CONF` just before
    /// the module's `C_Initialize`, which is when SoftHSM reads it. Call this
    /// before any other thread starts. A module can be initialised only once
    /// per process, so asking for it again with another configuration fails.
    pub fn load(
        &mut self,
        path: &Path,
        softhsm_conf: Option<&Path>,
    ) -> Result<Arc<Pkcs11>, HsmError> {
        if let Some((ctx, conf)) = self.loaded.get(path) {
            if conf.as_deref() != softhsm_conf {
                return Err(HsmError::ModuleConfigConflict(path.display().to_string()));
            }
            return Ok(ctx.clone());
        }
        if let Some(conf) = softhsm_conf {
            // SAFETY: called during single-threaded start-up, before the
            // async runtime or any worker thread exists.
            unsafe { std::env::set_var("SOFTHSM2_CONF", conf) };
        }
        let ctx = Pkcs11::new(path)?;
        ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))?;
        let ctx = Arc::new(ctx);
        self.loaded.insert(
            path.to_path_buf(),
            (ctx.clone(), softhsm_conf.map(Path::to_path_buf)),
        );
        Ok(ctx)
    }
}

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
