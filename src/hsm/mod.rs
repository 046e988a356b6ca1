//! PKCS#11 custody: the only module that touches cryptoki.
//!
//! Each region's token holds one domain key. Backing keys are generated in the
//! token, leave it only wrapped under the domain key, and are used through
//! session objects that the token unwraps on demand and this module caches.

mod cache;
mod error;
mod open;
mod pool;
mod transport;

pub use cache::MaterialRef;
pub use error::HsmError;
pub use open::{DOMAIN_KEY_LABEL, Modules};
pub use transport::{ImportOffer, TransportPackage};

use cache::HandleCache;
use cryptoki::context::Pkcs11;
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use pool::SessionPool;
use secrecy::SecretString;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

/// Length of the GCM IV the service uses.
pub const IV_LEN: usize = 12;
/// Length of the GCM tag the service uses.
pub const TAG_LEN: usize = 16;
/// Random bytes fetched from the token at a time for IVs.
const IV_BUFFER: usize = IV_LEN * 341;

/// How to open one region's token.
pub struct TokenSpec<'a> {
    /// Module path, for messages.
    pub module: String,
    /// Token label.
    pub label: &'a str,
    /// User PIN.
    pub pin: &'a SecretString,
    /// When set, a missing token is initialised with this SO PIN.
    pub provision_so_pin: Option<&'a SecretString>,
    /// Number of worker sessions to open.
    pub sessions: usize,
    /// Maximum number of unwrapped keys kept as session objects.
    pub cache_capacity: usize,
}

/// A wrapped backing key as the store holds it.
pub struct WrappedMaterial<'a> {
    /// Which key version this is.
    pub reference: MaterialRef,
    /// The material wrapped under the token's domain key.
    pub wrapped: &'a [u8],
}

/// One region's token, logged in, with its domain key and worker sessions.
pub struct Hsm {
    /// Keeps the module loaded for as long as sessions exist.
    _ctx: Arc<Pkcs11>,
    /// Long-lived session that owns every cached session object.
    owner: Mutex<Session>,
    workers: SessionPool,
    domain_key: ObjectHandle,
    cache: HandleCache,
    imports: Mutex<HashMap<u64, transport::PendingImport>>,
    next_import: AtomicU64,
    iv_buffer: Mutex<Vec<u8>>,
}

impl Hsm {
    /// Opens (and if asked, provisions) the token, logs in and finds its domain key.
    pub fn open(ctx: Arc<Pkcs11>, spec: TokenSpec<'_>) -> Result<Self, HsmError> {
        let slot = match open::find_slot(&ctx, spec.label)? {
            Some(slot) => slot,
            None => match spec.provision_so_pin {
                Some(so_pin) => {
                    open::provision_token(&ctx, &spec.module, spec.label, so_pin, spec.pin)?
                }
                None => return Err(HsmError::TokenNotFound(spec.label.into(), spec.module)),
            },
        };
        let owner = ctx.open_rw_session(slot)?;
        open::login(&owner, spec.pin)?;
        let domain_key = open::domain_key(&owner, spec.label)?;
        let workers = (0..spec.sessions.max(1))
            .map(|_| ctx.open_rw_session(slot))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            _ctx: ctx,
            owner: Mutex::new(owner),
            workers: SessionPool::new(workers),
            domain_key,
            cache: HandleCache::new(spec.cache_capacity),
            imports: Mutex::new(HashMap::new()),
            next_import: AtomicU64::new(1),
            iv_buffer: Mutex::new(Vec::new()),
        })
    }

    /// Generates a new AES-256 backing key inside the token and returns it
    /// wrapped under the domain key. The unwrapped object stays cached.
    pub fn generate_material(&self, reference: &MaterialRef) -> Result<Vec<u8>, HsmError> {
        let owner = self.lock_owner();
        let handle = owner.generate_key(&Mechanism::AesKeyGen, &backing_key_template(true))?;
        let wrapped = match owner.wrap_key(&Mechanism::AesKeyWrapPad, self.domain_key, handle) {
            Ok(w) => w,
            Err(e) => {
                let _ = owner.destroy_object(handle);
                return Err(e.into());
            }
        };
        self.cache_handle(&owner, reference.clone(), handle);
        Ok(wrapped)
    }

    /// AES-256-GCM encryption with the given backing key; returns ciphertext || tag.
    pub fn encrypt(
        &self,
        material: &WrappedMaterial<'_>,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, HsmError> {
        self.with_key(material, |session, key| {
            let mut iv = *iv;
            let params = GcmParams::new(&mut iv, aad, ((TAG_LEN * 8) as u64).into())?;
            Ok(session.encrypt(&Mechanism::AesGcm(params), key, plaintext)?)
        })
    }

    /// AES-256-GCM decryption of ciphertext || tag with the given backing key.
    pub fn decrypt(
        &self,
        material: &WrappedMaterial<'_>,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        ciphertext_and_tag: &[u8],
    ) -> Result<Vec<u8>, HsmError> {
        use cryptoki::error::{Error, RvError};
        self.with_key(material, |session, key| {
            let mut iv = *iv;
            let params = GcmParams::new(&mut iv, aad, ((TAG_LEN * 8) as u64).into())?;
            match session.decrypt(&Mechanism::AesGcm(params), key, ciphertext_and_tag) {
                Ok(plain) => Ok(plain),
                Err(Error::Pkcs11(
                    RvError::GeneralError
                    | RvError::EncryptedDataInvalid
                    | RvError::EncryptedDataLenRange,
                    _,
                )) => Err(HsmError::AuthenticationFailed),
                Err(e) => Err(e.into()),
            }
        })
    }

    /// A fresh GCM IV from the token's generator. IVs are drawn from a
    /// buffer refilled with one C_GenerateRandom call per 341 IVs; they are
    /// public (each ciphertext carries its IV), so only their uniqueness
    /// matters, and each buffered byte is handed out once.
    pub fn iv(&self) -> Result<[u8; IV_LEN], HsmError> {
        let mut buffer = self.iv_buffer.lock().unwrap_or_else(|e| e.into_inner());
        if buffer.len() < IV_LEN {
            let mut fresh = vec![0u8; IV_BUFFER];
            self.workers.get().generate_random_slice(&mut fresh)?;
            *buffer = fresh;
        }
        let at = buffer.len() - IV_LEN;
        let mut iv = [0u8; IV_LEN];
        iv.copy_from_slice(&buffer[at..]);
        buffer.truncate(at);
        Ok(iv)
    }

    /// Random bytes from the token's generator.
    pub fn random(&self, len: usize) -> Result<Vec<u8>, HsmError> {
        let mut out = vec![0u8; len];
        self.workers.get().generate_random_slice(&mut out)?;
        Ok(out)
    }

    /// Destroys the cached session objects of every version of a key.
    pub fn forget_key(&self, key_id: &str) {
        let owner = self.lock_owner();
        for handle in self.cache.remove_key(key_id) {
            let _ = owner.destroy_object(handle);
        }
    }

    /// Number of token (persistent) objects the user can see on this token.
    pub fn token_object_count(&self) -> Result<usize, HsmError> {
        Ok(self
            .workers
            .get()
            .find_objects(&[Attribute::Token(true)])?
            .len())
    }

    /// Runs `op` on a worker session with the unwrapped key, unwrapping on a
    /// cache miss and retrying once if the cached handle turned out stale.
    fn with_key<T>(
        &self,
        material: &WrappedMaterial<'_>,
        op: impl Fn(&Session, ObjectHandle) -> Result<T, HsmError>,
    ) -> Result<T, HsmError> {
        let (key, cached) = self.key_handle(material)?;
        let session = self.workers.get();
        let result = match op(&session, key) {
            Err(e) if e.is_stale_handle() && cached => {
                self.cache.remove(&material.reference);
                let (key, cached) = self.key_handle(material)?;
                let retried = op(&session, key);
                if !cached {
                    let _ = session.destroy_object(key);
                }
                return retried;
            }
            other => other,
        };
        if !cached {
            let _ = session.destroy_object(key);
        }
        result
    }

    /// The handle of the unwrapped key, and whether it is cached (else the
    /// caller destroys it after use).
    fn key_handle(&self, material: &WrappedMaterial<'_>) -> Result<(ObjectHandle, bool), HsmError> {
        if let Some(handle) = self.cache.get(&material.reference) {
            return Ok((handle, true));
        }
        let owner = self.lock_owner();
        if let Some(handle) = self.cache.get(&material.reference) {
            return Ok((handle, true));
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
            return Ok((handle, false));
        }
        self.cache_handle(&owner, material.reference.clone(), handle);
        Ok((handle, true))
    }

    fn cache_handle(&self, owner: &Session, reference: MaterialRef, handle: ObjectHandle) {
        if let Some(evicted) = self.cache.insert(reference, handle) {
            let _ = owner.destroy_object(evicted);
        }
    }

    fn lock_owner(&self) -> std::sync::MutexGuard<'_, Session> {
        self.owner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Attributes of a backing key as a session object. Generation states the
/// length; an unwrap template may not.
fn backing_key_template(with_length: bool) -> Vec<Attribute> {
    let mut template = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(false),
        Attribute::Private(true),
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
