//! One token as opened by one initialisation of its module: the logged-in
//! sessions, the domain key, and the session objects cached on them. All of
//! it is dropped together when the module is re-initialised.

use super::cache::{CachedKey, HandleCache, MaterialRef};
use super::open;
use super::pool::{PooledSession, SessionPool};
use super::transport::PendingImport;
use super::{HsmError, WrappedMaterial};
use cryptoki::context::Pkcs11;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use secrecy::SecretString;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// What is needed to open a token again after its module is re-initialised.
pub(super) struct TokenSettings {
    /// Module path, for messages.
    pub module: String,
    /// Token label.
    pub label: String,
    /// User PIN.
    pub pin: SecretString,
    /// Number of worker sessions.
    pub sessions: usize,
    /// Maximum number of unwrapped keys kept as session objects.
    pub cache_capacity: usize,
}

/// A logged-in token with its domain key, worker sessions and cached keys.
pub(super) struct Token {
    /// Long-lived session that owns every cached session object.
    owner: Mutex<Session>,
    workers: SessionPool,
    domain_key: ObjectHandle,
    cache: HandleCache,
    imports: Mutex<HashMap<u64, PendingImport>>,
    /// Session objects destroyed on the module (shared by its tokens).
    destroyed: Arc<AtomicU64>,
}

impl Token {
    /// Finds (or, given an SO PIN, provisions) the token, logs in, finds its
    /// domain key and opens the worker sessions.
    pub(super) fn open(
        ctx: &Pkcs11,
        settings: &TokenSettings,
        provision_so_pin: Option<&SecretString>,
        destroyed: Arc<AtomicU64>,
    ) -> Result<Self, HsmError> {
        let slot = match open::find_slot(ctx, &settings.label)? {
            Some(slot) => slot,
            None => match provision_so_pin {
                Some(so_pin) => open::provision_token(
                    ctx,
                    &settings.module,
                    &settings.label,
                    so_pin,
                    &settings.pin,
                )?,
                None => {
                    return Err(HsmError::TokenNotFound(
                        settings.label.clone(),
                        settings.module.clone(),
                    ));
                }
            },
        };
        let owner = ctx.open_rw_session(slot)?;
        open::login(&owner, &settings.pin)?;
        let domain_key = open::domain_key(&owner, &settings.label)?;
        let workers = (0..settings.sessions.max(1))
            .map(|_| ctx.open_rw_session(slot))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            owner: Mutex::new(owner),
            workers: SessionPool::new(workers),
            domain_key,
            cache: HandleCache::new(settings.cache_capacity),
            imports: Mutex::new(HashMap::new()),
            destroyed,
        })
    }

    /// The token's domain key.
    pub(super) fn domain_key(&self) -> ObjectHandle {
        self.domain_key
    }

    /// The session that owns cached and ephemeral objects.
    pub(super) fn lock_owner(&self) -> MutexGuard<'_, Session> {
        self.owner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Borrows a worker session.
    pub(super) fn worker(&self) -> PooledSession<'_> {
        self.workers.get()
    }

    /// Imports offered by this token and not yet completed.
    pub(super) fn imports(&self) -> MutexGuard<'_, HashMap<u64, PendingImport>> {
        self.imports.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Destroys a session object, counting it for the module's re-initialisation.
    pub(super) fn destroy(&self, session: &Session, handle: ObjectHandle) {
        if session.destroy_object(handle).is_ok() {
            self.destroyed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Generates a new AES-256 backing key and returns it wrapped under the
    /// domain key. The unwrapped object stays cached.
    pub(super) fn generate_material(&self, reference: &MaterialRef) -> Result<Vec<u8>, HsmError> {
        let owner = self.lock_owner();
        let handle = owner.generate_key(&Mechanism::AesKeyGen, &backing_key_template(true))?;
        let wrapped = match owner.wrap_key(&Mechanism::AesKeyWrapPad, self.domain_key, handle) {
            Ok(w) => w,
            Err(e) => {
                self.destroy(&owner, handle);
                return Err(e.into());
            }
        };
        self.cache_handle(&owner, reference.clone(), handle);
        Ok(wrapped)
    }

    /// Destroys the cached session objects of every version of a key.
    pub(super) fn forget_key(&self, key_id: &str) {
        let owner = self.lock_owner();
        self.cache.remove_key(key_id);
        self.bury_dead(&owner);
    }

    /// Runs `op` on a worker session with the unwrapped key, unwrapping on a
    /// cache miss and retrying once if the cached handle turned out stale.
    pub(super) fn with_key<T>(
        &self,
        material: &WrappedMaterial<'_>,
        op: impl Fn(&Session, ObjectHandle) -> Result<T, HsmError>,
    ) -> Result<T, HsmError> {
        let key = self.key_in_use(material)?;
        let session = self.workers.get();
        let result = op(&session, key.handle());
        let stale = matches!(&result, Err(e) if e.is_stale_handle());
        let was_cached = matches!(key, KeyInUse::Cached(_));
        self.release(&session, key);
        if !(stale && was_cached) {
            return result;
        }
        self.cache.remove(&material.reference);
        let key = self.key_in_use(material)?;
        let retried = op(&session, key.handle());
        self.release(&session, key);
        retried
    }

    /// Caches a handle, destroying whatever the cache let go of and no call
    /// still uses.
    pub(super) fn cache_handle(
        &self,
        owner: &Session,
        reference: MaterialRef,
        handle: ObjectHandle,
    ) -> Arc<CachedKey> {
        let key = self.cache.insert(reference, handle);
        self.bury_dead(owner);
        key
    }

    /// Destroys the session objects the cache let go of and no call uses.
    fn bury_dead(&self, owner: &Session) {
        for handle in self.cache.take_dead() {
            self.destroy(owner, handle);
        }
    }

    /// The unwrapped key for one call: cached, or unwrapped for this call
    /// alone when the cache does not admit it.
    fn key_in_use(&self, material: &WrappedMaterial<'_>) -> Result<KeyInUse, HsmError> {
        if let Some(key) = self.cache.get(&material.reference) {
            return Ok(KeyInUse::Cached(key));
        }
        let owner = self.lock_owner();
        if let Some(key) = self.cache.get(&material.reference) {
            return Ok(KeyInUse::Cached(key));
        }
        let handle = owner
            .unwrap_key(
                &Mechanism::AesKeyWrapPad,
                self.domain_key,
                material.wrapped,
                &backing_key_template(false),
            )
            .map_err(|e| {
                tracing::error!(error = %e, key_id = %material.reference.key_id, "unwrap failed");
                HsmError::UnwrapFailed
            })?;
        if !self.cache.admits(&material.reference) {
            return Ok(KeyInUse::Once(handle));
        }
        Ok(KeyInUse::Cached(self.cache_handle(
            &owner,
            material.reference.clone(),
            handle,
        )))
    }

    /// Ends a call's use of a key: a key unwrapped for the call is destroyed.
    fn release(&self, session: &Session, key: KeyInUse) {
        if let KeyInUse::Once(handle) = key {
            self.destroy(session, handle);
        }
    }
}

/// A key as one call uses it.
enum KeyInUse {
    /// From the cache; destroyed once the cache and every call let go.
    Cached(Arc<CachedKey>),
    /// Unwrapped for this call only; destroyed when the call ends.
    Once(ObjectHandle),
}

impl KeyInUse {
    fn handle(&self) -> ObjectHandle {
        match self {
            KeyInUse::Cached(key) => key.handle(),
            KeyInUse::Once(handle) => *handle,
        }
    }
}

/// Attributes of a backing key as a session object. Generation states the
/// length; an unwrap template may not.
///
/// The object is sensitive (its value never leaves the token in the clear)
/// but not private: a session object is visible only to this process, which
/// is always logged in, so CKA_PRIVATE would protect nothing, while SoftHSM
/// would decrypt the value under its token key, behind one global lock, on
/// every use (docs/adr/0007-session-objects.md).
pub(super) fn backing_key_template(with_length: bool) -> Vec<Attribute> {
    let mut template = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(false),
        Attribute::Private(false),
        Attribute::Sensitive(true),
        Attribute::Extractable(true),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Wrap(false),
        Attribute::Unwrap(false),
        Attribute::Sign(false),
        Attribute::Verify(false),
    ];
    if with_length {
        template.push(Attribute::ValueLen(32.into()));
    }
    template
}
