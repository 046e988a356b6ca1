//! One token as opened by one initialisation of its module: the logged-in
//! sessions, the domain key, and the session objects cached on them. All of
//! it is dropped together when the module is re-initialised.

use super::SecretKind;
use super::cache::{CacheBudget, CachedKey, HandleCache, MaterialRef};
use super::library::Library;
use super::mechanisms::{self, Mechanisms, Wrapping};
use super::open;
use super::pool::{PooledSession, SessionPool};
use super::public_key;
use super::row_tag::RowTags;
use super::template::{Purpose, backing_key_template, generated_public_template, pair_generation};
use super::transport::PendingImport;
use super::{HsmError, WrappedMaterial};
use crate::metrics::metrics;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectHandle};
use cryptoki::session::Session;
use cryptoki_sys::CK_FUNCTION_LIST;
use secrecy::SecretString;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// A key-material import's wrapping key pair waiting for its import (see
/// `key_import`).
pub(super) struct PendingKeyImport {
    /// The private key, a session object.
    pub(super) private: ObjectHandle,
    /// Its modulus length.
    pub(super) bits: u32,
    /// The account that asked for it.
    pub(super) account: String,
}

/// A newly generated backing key.
pub struct NewMaterial {
    /// The key wrapped under the domain key.
    pub wrapped: Vec<u8>,
    /// A key pair's public key (DER SubjectPublicKeyInfo).
    pub public_key: Option<Vec<u8>>,
}

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
    /// How many unwrapped keys the caches of every token may hold together.
    pub cache_budget: Arc<CacheBudget>,
    /// What every opening of the token shares about row tags: the rows
    /// checked, and the row-tag key once known.
    pub row_tags: Arc<RowTags>,
}

/// A logged-in token with its domain key, worker sessions and cached keys.
pub(super) struct Token {
    /// Long-lived session for the token's own work (generating, wrapping,
    /// transport); a key a call misses is unwrapped on the call's worker
    /// session instead, which lives as long.
    owner: Mutex<Session>,
    workers: SessionPool,
    domain_key: ObjectHandle,
    cache: HandleCache,
    /// Public halves of key pairs, as session objects made from the
    /// stored public keys, by the private key's material.
    public_keys: HandleCache,
    imports: Mutex<HashMap<u64, PendingImport>>,
    /// Wrapping key pairs of key-material imports, by id (oldest first).
    key_imports: Mutex<BTreeMap<u64, PendingKeyImport>>,
    /// Session objects destroyed on the module (shared by its tokens).
    destroyed: Arc<AtomicU64>,
    /// The mechanisms chosen for this token.
    mechanisms: Mechanisms,
    /// Token label, for messages.
    label: String,
    /// The rows checked, and the row-tag key's blob once known.
    row_tags: Arc<RowTags>,
    /// The row-tag key, unwrapped (a session object), once known.
    tag_key: Mutex<Option<ObjectHandle>>,
    /// The library's function list, for single calls (`single_part`).
    functions: &'static CK_FUNCTION_LIST,
}

impl Token {
    /// Finds the token, logs in, finds its domain key and opens the worker
    /// sessions. Given an SO PIN (dev mode, where Trent owns the token), a
    /// missing token is provisioned. The domain key must exist: only a
    /// [`super::DomainKeySetup`], which the caller runs first with the
    /// store's word on the region, makes or brings one.
    pub(super) fn open(
        library: &Library,
        settings: &TokenSettings,
        provision_so_pin: Option<&SecretString>,
        destroyed: Arc<AtomicU64>,
    ) -> Result<Self, HsmError> {
        let ctx = library.ctx();
        let slot = open::token_slot(
            ctx,
            &settings.module,
            &settings.label,
            &settings.pin,
            provision_so_pin,
        )?;
        let mechanisms = Mechanisms::detect(ctx, slot, &settings.label)?;
        tracing::info!(
            token = %settings.label,
            wrapping = ?mechanisms.wrapping,
            unwraps = ?mechanisms.wrappings,
            "token mechanisms chosen"
        );
        let owner = ctx.open_rw_session(slot)?;
        open::login(&owner, &settings.pin)?;
        let domain_key = open::find_domain_key(&owner, &settings.label)?.ok_or_else(|| {
            HsmError::NoDomainKey(settings.label.clone(), settings.module.clone())
        })?;
        let workers = (0..settings.sessions.max(1))
            .map(|_| ctx.open_rw_session(slot))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            owner: Mutex::new(owner),
            workers: SessionPool::new(workers),
            domain_key,
            cache: HandleCache::new("keys", &settings.cache_budget),
            public_keys: HandleCache::new("public_keys", &settings.cache_budget),
            imports: Mutex::new(HashMap::new()),
            key_imports: Mutex::new(BTreeMap::new()),
            destroyed,
            mechanisms,
            label: settings.label.clone(),
            row_tags: Arc::clone(&settings.row_tags),
            tag_key: Mutex::new(None),
            functions: library.functions(),
        })
        .and_then(|token| {
            if let Some(blob) = settings.row_tags.key.get() {
                token.load_row_tag_key(blob)?;
            }
            Ok(token)
        })
    }

    /// The library's function list.
    pub(super) fn functions(&self) -> &'static CK_FUNCTION_LIST {
        self.functions
    }

    /// The mechanisms chosen for this token.
    pub(super) fn mechanisms(&self) -> &Mechanisms {
        &self.mechanisms
    }

    /// Refuses a request that needs `mechanism` on this token if it lacks it.
    pub(super) fn require(&self, mechanism: &Mechanism<'_>, purpose: &str) -> Result<(), HsmError> {
        self.mechanisms
            .require_offered(mechanism.mechanism_type(), purpose, &self.label)
    }

    /// The token's label.
    pub(super) fn label(&self) -> &str {
        &self.label
    }

    /// The rows checked, and the row-tag key's blob once known.
    pub(super) fn row_tags(&self) -> &RowTags {
        &self.row_tags
    }

    /// The row-tag key's handle slot.
    pub(super) fn tag_key(&self) -> MutexGuard<'_, Option<ObjectHandle>> {
        self.tag_key.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wraps `key` under `wrapping_key` with `wrapping`, as a blob that
    /// records it.
    pub(super) fn wrap(
        &self,
        session: &Session,
        wrapping: Wrapping,
        wrapping_key: ObjectHandle,
        key: ObjectHandle,
    ) -> Result<Vec<u8>, HsmError> {
        let raw = metrics().pkcs11("wrap", wrapping.name(), || {
            session.wrap_key(&wrapping.mechanism(), wrapping_key, key)
        })?;
        Ok(mechanisms::seal(wrapping, raw))
    }

    /// Unwraps a blob under `wrapping_key` with the wrapping it records,
    /// into an object with `template`.
    pub(super) fn unwrap(
        &self,
        session: &Session,
        wrapping_key: ObjectHandle,
        blob: &[u8],
        template: &[Attribute],
    ) -> Result<ObjectHandle, HsmError> {
        let (wrapping, raw) = mechanisms::open_blob(blob)?;
        self.mechanisms.require(wrapping, &self.label)?;
        Ok(metrics().pkcs11("unwrap", wrapping.name(), || {
            session.unwrap_key(&wrapping.mechanism(), wrapping_key, raw, template)
        })?)
    }

    /// The token's domain key.
    pub(super) fn domain_key(&self) -> ObjectHandle {
        self.domain_key
    }

    /// The session that owns cached and ephemeral objects.
    pub(super) fn lock_owner(&self) -> MutexGuard<'_, Session> {
        self.owner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Logs the application out of the token (`C_Logout`, for every
    /// session of this process), at shutdown.
    pub(super) fn logout(&self) -> Result<(), HsmError> {
        Ok(self.lock_owner().logout()?)
    }

    /// Borrows a worker session.
    pub(super) fn worker(&self) -> PooledSession<'_> {
        self.workers.get()
    }

    /// Wrapping key pairs of key-material imports not completed yet.
    pub(super) fn key_imports(&self) -> MutexGuard<'_, BTreeMap<u64, PendingKeyImport>> {
        self.key_imports.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Imports offered by this token and not yet completed.
    pub(super) fn imports(&self) -> MutexGuard<'_, HashMap<u64, PendingImport>> {
        self.imports.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Destroys a session object, counting it for the module's re-initialisation.
    pub(super) fn destroy(&self, session: &Session, handle: ObjectHandle) {
        if session.destroy_object(handle).is_ok() {
            self.destroyed.fetch_add(1, Ordering::Relaxed);
            metrics().session_object_destroyed();
        }
    }

    /// Generates a new backing key of the reference's kind and returns it
    /// wrapped under the domain key, with its public key for a key pair.
    /// The generated object must be extractable to be wrapped, so it can do
    /// nothing else and is destroyed right after; the copy cached for use is
    /// unwrapped from the blob, not extractable.
    pub(super) fn generate_material(
        &self,
        reference: &MaterialRef,
    ) -> Result<NewMaterial, HsmError> {
        let kind = reference.kind;
        let wrapping = self
            .mechanisms
            .wrapping_of(kind.wrapped_len(), &self.label)?;
        let owner = self.lock_owner();
        let (generated, public_key) = self.generate_extractable(&owner, kind)?;
        let wrapped = self.wrap(&owner, wrapping, self.domain_key, generated);
        self.destroy(&owner, generated);
        let wrapped = wrapped?;
        let handle = self.unwrap_for_use(&owner, &wrapped, kind)?;
        self.cache_handle(&owner, reference.clone(), handle);
        Ok(NewMaterial {
            wrapped,
            public_key,
        })
    }

    /// Generates a key of `kind` that can be wrapped and do nothing else,
    /// with the public key of a key pair (whose public object is destroyed).
    pub(super) fn generate_extractable(
        &self,
        owner: &Session,
        kind: SecretKind,
    ) -> Result<(ObjectHandle, Option<Vec<u8>>), HsmError> {
        if let Some((mechanism, len)) = kind.secret_generation() {
            self.require(&mechanism, "generating this key")?;
            let mut template = backing_key_template(Purpose::Transit, kind);
            template.insert(0, Attribute::ValueLen((len as u64).into()));
            return Ok((owner.generate_key(&mechanism, &template)?, None));
        }
        let mechanism = pair_generation(kind);
        self.require(&mechanism, "generating this key pair")?;
        let (public, private) = owner.generate_key_pair(
            &mechanism,
            &generated_public_template(kind),
            &backing_key_template(Purpose::Transit, kind),
        )?;
        let spki = public_key::read(owner, public, kind);
        self.destroy(owner, public);
        match spki {
            Ok(spki) => Ok((private, Some(spki))),
            Err(e) => {
                self.destroy(owner, private);
                Err(e)
            }
        }
    }

    /// Unwraps a blob made under the domain key, on `session`, into a
    /// session object that can do what a key of `kind` does (encrypt and
    /// decrypt, or sign and verify) and never leaves the token.
    pub(super) fn unwrap_for_use(
        &self,
        session: &Session,
        wrapped: &[u8],
        kind: SecretKind,
    ) -> Result<ObjectHandle, HsmError> {
        self.unwrap(
            session,
            self.domain_key,
            wrapped,
            &backing_key_template(Purpose::Use, kind),
        )
    }

    /// Destroys the cached session objects of every version of a key.
    pub(super) fn forget_key(&self, key_id: &str) {
        let owner = self.lock_owner();
        self.cache.remove_key(key_id);
        self.public_keys.remove_key(key_id);
        self.bury_dead(&owner);
    }

    /// Runs `op` on a worker session with the unwrapped key, unwrapping on a
    /// cache miss and retrying once if the cached handle turned out stale.
    pub(super) fn with_key<T>(
        &self,
        material: &WrappedMaterial<'_>,
        op: impl FnMut(&Session, ObjectHandle) -> Result<T, HsmError>,
    ) -> Result<T, HsmError> {
        let unwrap = |session: &Session| {
            self.check_row(session, material)?;
            let kind = material.reference.kind;
            self.unwrap_for_use(session, material.wrapped, kind)
                .map_err(|e| {
                    tracing::error!(error = %e, key_id = %material.reference.key_id, "unwrap failed");
                    HsmError::UnwrapFailed
                })
        };
        self.with_object(&self.cache, &material.reference, unwrap, op)
    }

    /// Runs `op` on a worker session with the public half of a key pair as
    /// a session object made from the row's public key once its tag checks
    /// (cached like unwrapped keys).
    pub(super) fn with_public_key<T>(
        &self,
        material: &WrappedMaterial<'_>,
        op: impl FnMut(&Session, ObjectHandle) -> Result<T, HsmError>,
    ) -> Result<T, HsmError> {
        let reference = &material.reference;
        let spki = material.row.public_key.ok_or_else(|| {
            HsmError::BadPublicKey(format!("key {} has no public key", reference.key_id))
        })?;
        let role = match reference.kind {
            SecretKind::Rsa(_, role) | SecretKind::Ec(_, role) => role,
            other => {
                return Err(HsmError::BadPublicKey(format!(
                    "{other:?} has no public key"
                )));
            }
        };
        let create = |session: &Session| {
            self.check_row(session, material)?;
            let template = public_key::object_template(&public_key::parse(spki)?, role)?;
            Ok(session.create_object(&template)?)
        };
        self.with_object(&self.public_keys, reference, create, op)
    }

    /// Runs `op` with the object `cache` holds for `reference`, making it
    /// with `make` on a miss, and retrying once if a cached handle turned
    /// out stale. A miss makes the object on the call's own worker session,
    /// so concurrent misses do not wait for each other: the object lives as
    /// long as that session, which is as long as the token, and any session
    /// of the token may use and destroy it.
    fn with_object<T>(
        &self,
        cache: &HandleCache,
        reference: &MaterialRef,
        make: impl Fn(&Session) -> Result<ObjectHandle, HsmError>,
        mut op: impl FnMut(&Session, ObjectHandle) -> Result<T, HsmError>,
    ) -> Result<T, HsmError> {
        let session = self.workers.get();
        let key = self.object_in_use(&session, cache, reference, &make)?;
        let result = op(&session, key.handle());
        let stale = matches!(&result, Err(e) if e.is_stale_handle());
        let was_cached = matches!(key, KeyInUse::Cached(_));
        self.release(&session, key);
        if !(stale && was_cached) {
            return result;
        }
        cache.remove(reference);
        let key = self.object_in_use(&session, cache, reference, &make)?;
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

    /// Destroys the session objects the caches let go of and no call uses,
    /// if any: the budget the caches share may push a key out of this
    /// token's cache while a call caches a key in another's.
    pub(super) fn bury_evicted(&self) {
        if self.cache.has_dead() || self.public_keys.has_dead() {
            self.bury_dead(&self.workers.get());
        }
    }

    /// Destroys, on `session`, the session objects the cache let go of and
    /// no call uses.
    fn bury_dead(&self, session: &Session) {
        let dead = self.cache.take_dead().into_iter();
        for handle in dead.chain(self.public_keys.take_dead()) {
            self.destroy(session, handle);
        }
    }

    /// The object for one call: cached, or made on `session` for this call
    /// alone when the cache does not admit it. Two calls that miss the same
    /// key at once both make it; the cache keeps the later one and the
    /// other is destroyed once unused.
    fn object_in_use(
        &self,
        session: &Session,
        cache: &HandleCache,
        reference: &MaterialRef,
        make: &impl Fn(&Session) -> Result<ObjectHandle, HsmError>,
    ) -> Result<KeyInUse, HsmError> {
        if let Some(key) = cache.get(reference) {
            cache.count_lookup(true);
            return Ok(KeyInUse::Cached(key));
        }
        cache.count_lookup(false);
        let handle = make(session)?;
        if !cache.admits(reference) {
            return Ok(KeyInUse::Once(handle));
        }
        let key = cache.insert(reference.clone(), handle);
        self.bury_dead(session);
        Ok(KeyInUse::Cached(key))
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
