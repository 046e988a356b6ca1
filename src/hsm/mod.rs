//! PKCS#11 custody: the only module that touches cryptoki.
//!
//! Each region's token holds one domain key. Backing keys are generated in the
//! token, leave it only wrapped under the domain key, and are used through
//! session objects that the token unwraps on demand and this module caches.

mod asymmetric;
mod cache;
mod ec_import;
mod enrolment;
mod error;
mod key_import;
mod kind;
mod library;
mod locking;
mod mechanisms;
mod module;
mod oaep;
mod open;
mod pool;
mod public_key;
mod row_tag;
mod setup;
mod signing;
mod single_part;
mod spare;
mod template;
mod token;
mod transport;

pub use asymmetric::{KeyPair, Oaep};
pub use cache::{CacheBudget, MaterialRef};
pub use enrolment::{Offer, fingerprint as offer_fingerprint};
pub use error::HsmError;
pub use key_import::{ImportKeyPair, ImportWrapping, ImportedMaterial};
pub use kind::{Curve, PairRole, SecretKind};
pub use mechanisms::{Mechanisms, Wrapping};
pub use module::{Module, Modules};
pub use open::{DOMAIN_KEY_LABEL, DomainKeySharing};
pub use row_tag::{MARKER_LABEL as ROW_TAGS_MARKER_LABEL, RowBinding, RowTagsState, TAG_KEY_LABEL};
pub use setup::DomainKeySetup;
pub use signing::{Digest, Signing};
pub use token::NewMaterial;
pub use transport::{ImportOffer, TransportPackage};

use crate::metrics::metrics;
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::Attribute;
use module::TokenGuard;
use secrecy::SecretString;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use subtle::ConstantTimeEq;
use token::TokenSettings;
use zeroize::Zeroizing;

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
    /// Dev mode, where Trent owns the token: a missing token is initialised
    /// with this SO PIN. Without it (a configured token), the token must
    /// exist. Either way the domain key comes from a [`DomainKeySetup`]
    /// (created, or brought by enrolment), never from opening.
    pub provision_so_pin: Option<&'a SecretString>,
    /// Number of worker sessions to open.
    pub sessions: usize,
    /// How many unwrapped keys the caches of every token may hold together.
    pub cache_budget: Arc<CacheBudget>,
}

/// A wrapped backing key as the store holds it.
pub struct WrappedMaterial<'a> {
    /// Which key version this is.
    pub reference: MaterialRef,
    /// The material wrapped under the token's domain key.
    pub wrapped: &'a [u8],
    /// The rest of its store row, and the row's tag.
    pub row: RowBinding<'a>,
}

/// The HMAC mechanism for an HMAC backing key of `kind`.
fn hmac_mechanism(kind: SecretKind) -> Result<Mechanism<'static>, HsmError> {
    match kind {
        SecretKind::Hmac(28) => Ok(Mechanism::Sha224Hmac),
        SecretKind::Hmac(32) => Ok(Mechanism::Sha256Hmac),
        SecretKind::Hmac(48) => Ok(Mechanism::Sha384Hmac),
        SecretKind::Hmac(64) => Ok(Mechanism::Sha512Hmac),
        other => Err(HsmError::NotAMacKey(format!("{other:?}"))),
    }
}

/// One region's token: the calls the service makes on it. The token itself
/// lives in its module, which may re-initialise it between calls.
pub struct Hsm {
    module: Arc<Module>,
    index: usize,
    next_import: AtomicU64,
    iv_buffer: Mutex<Vec<u8>>,
    /// Set once the token refused RSA-OAEP with SHA-256, which is then done
    /// with raw RSA in the token and OAEP here.
    oaep_sha256_raw: AtomicBool,
}

impl Hsm {
    /// Opens (and if asked, provisions) the token, logs in and finds its
    /// domain key; fails with [`HsmError::NoDomainKey`] when the token has
    /// none (a [`DomainKeySetup`] makes or brings it first).
    pub fn open(module: Arc<Module>, spec: TokenSpec<'_>) -> Result<Self, HsmError> {
        let settings = TokenSettings {
            module: spec.module,
            label: spec.label.to_string(),
            pin: spec.pin.clone(),
            sessions: spec.sessions,
            row_tags: Arc::new(row_tag::RowTags::new(
                spec.cache_budget
                    .limit()
                    .saturating_mul(row_tag::VERIFIED_PER_CACHED),
            )),
            cache_budget: spec.cache_budget,
        };
        let index = module.open_token(settings, spec.provision_so_pin)?;
        Ok(Self {
            module,
            index,
            next_import: AtomicU64::new(1),
            iv_buffer: Mutex::new(Vec::new()),
            oaep_sha256_raw: AtomicBool::new(false),
        })
    }

    /// Logs out of this token's module's tokens and finalises it, at
    /// shutdown (see [`Module::close`]); the other regions on the same
    /// module are closed with it.
    pub fn close(&self) {
        self.module.close()
    }

    /// Destroys the session objects the shared cache budget pushed out of
    /// this token's caches while calls cached keys in other tokens.
    pub fn bury_evicted(&self) -> Result<(), HsmError> {
        self.token()?.bury_evicted();
        Ok(())
    }

    /// Re-initialises this token's module if enough session objects were
    /// destroyed on it (see [`Module::reinitialize_if_due`]).
    pub fn reinitialize_module_if_due(&self) -> Result<bool, HsmError> {
        self.module.reinitialize_if_due()
    }

    /// Generates a new backing key of the reference's kind inside the token
    /// and returns it wrapped under the domain key, with the public key of a
    /// key pair. The unwrapped object stays cached.
    pub fn generate_material(&self, reference: &MaterialRef) -> Result<NewMaterial, HsmError> {
        self.token()?.generate_material(reference)
    }

    /// The tag of a material row as it is to be stored (its own tag, if
    /// any, is ignored): see [`RowBinding`].
    pub fn tag_material(&self, material: &WrappedMaterial<'_>) -> Result<Vec<u8>, HsmError> {
        let token = self.token()?;
        let owner = token.lock_owner();
        token.row_tag(&owner, material)
    }

    /// Refuses a material row whose tag is missing or not its own
    /// ([`HsmError::UntrustedMaterial`]). Every use of a material unwrapped
    /// or made from the store checks it first; this is for uses that need
    /// no token object (a public key handed out).
    pub fn check_material(&self, material: &WrappedMaterial<'_>) -> Result<(), HsmError> {
        let token = self.token()?;
        let session = token.worker();
        token.check_row(&session, material)
    }

    /// A new row-tag key for the region: a 16-byte AES key generated in
    /// the token, returned wrapped under the domain key, to be named in the
    /// store and then used with [`Hsm::use_row_tag_key`].
    pub fn new_row_tag_key(&self) -> Result<Vec<u8>, HsmError> {
        let token = self.token()?;
        let owner = token.lock_owner();
        token.new_row_tag_key(&owner)
    }

    /// Makes tags with the row-tag key the store names (wrapped under the
    /// domain key), from now on and after every re-initialisation of the
    /// module; refuses a blob that is not a 16-byte key.
    pub fn use_row_tag_key(&self, wrapped: &[u8]) -> Result<(), HsmError> {
        let token = self.token()?;
        if let Some(known) = token.row_tags().key.get()
            && known.as_slice() != wrapped
        {
            return Err(HsmError::RowTagKey(
                "a different row-tag key is already in use".into(),
            ));
        }
        token.load_row_tag_key(wrapped)?;
        let _ = token.row_tags().key.set(wrapped.to_vec());
        Ok(())
    }

    /// The token's word on its region's row tags (its marker objects).
    pub fn row_tags_state(&self) -> Result<RowTagsState, HsmError> {
        let token = self.token()?;
        let owner = token.lock_owner();
        token.row_tags_state(&owner)
    }

    /// Records the token's word on its region's row tags.
    pub fn set_row_tags_state(&self, state: RowTagsState) -> Result<(), HsmError> {
        let token = self.token()?;
        let owner = token.lock_owner();
        token.set_row_tags_state(&owner, state)
    }

    /// Whether this token can keep a key of `kind` wrapped under its domain
    /// key (a private key needs RFC 5649); an error naming the missing
    /// mechanism if not. For keys whose material comes later (origin
    /// `EXTERNAL`).
    pub fn check_keepable(&self, kind: SecretKind) -> Result<(), HsmError> {
        let token = self.token()?;
        token
            .mechanisms()
            .wrapping_of(kind.wrapped_len(), token.label())
            .map(|_| ())
    }

    /// AES-256-GCM encryption with the given backing key: appends
    /// ciphertext || tag to `out`.
    pub fn encrypt(
        &self,
        material: &WrappedMaterial<'_>,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), HsmError> {
        let token = self.token()?;
        token.with_key(material, |session, key| {
            let mut iv = *iv;
            let params = GcmParams::new(&mut iv, aad, ((TAG_LEN * 8) as u64).into())?;
            let mechanism = Mechanism::AesGcm(params);
            Ok(metrics().pkcs11("encrypt", "AES-GCM", || {
                single_part::into(
                    single_part::Operation::Encrypt,
                    token.functions(),
                    session,
                    (&mechanism, key),
                    plaintext,
                    plaintext.len() + TAG_LEN,
                    out,
                )
            })?)
        })
    }

    /// AES-256-GCM decryption of ciphertext || tag with the given backing key.
    pub fn decrypt(
        &self,
        material: &WrappedMaterial<'_>,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        ciphertext_and_tag: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, HsmError> {
        use cryptoki::error::{Error, RvError};
        let token = self.token()?;
        token.with_key(material, |session, key| {
            let mut iv = *iv;
            let params = GcmParams::new(&mut iv, aad, ((TAG_LEN * 8) as u64).into())?;
            let mechanism = Mechanism::AesGcm(params);
            // Room for the whole input: a library may want it, tag and all,
            // before it has checked the tag.
            let mut plain = Zeroizing::new(Vec::new());
            let decrypted = metrics().pkcs11("decrypt", "AES-GCM", || {
                single_part::into(
                    single_part::Operation::Decrypt,
                    token.functions(),
                    session,
                    (&mechanism, key),
                    ciphertext_and_tag,
                    ciphertext_and_tag.len(),
                    &mut plain,
                )
            });
            match decrypted {
                Ok(()) => Ok(plain),
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

    /// The HMAC of `message` with the given HMAC backing key, computed in the
    /// token with the hash its length names (28 bytes: SHA-224, 32: SHA-256,
    /// 48: SHA-384, 64: SHA-512).
    pub fn generate_mac(
        &self,
        material: &WrappedMaterial<'_>,
        message: &[u8],
    ) -> Result<Vec<u8>, HsmError> {
        let mechanism = hmac_mechanism(material.reference.kind)?;
        let token = self.token()?;
        token.require(&mechanism, "GenerateMac")?;
        token.with_key(material, |session, key| {
            Ok(metrics().pkcs11("generate_mac", "HMAC", || {
                session.sign(&mechanism, key, message)
            })?)
        })
    }

    /// Whether `mac` is the HMAC of `message` with the given HMAC backing
    /// key: the token computes the HMAC (`C_Sign`) and this process compares
    /// it in constant time. The token's own `C_Verify` (SoftHSM's) compares
    /// with `memcmp`, whose time tells how many leading bytes of a forged
    /// MAC are right.
    pub fn verify_mac(
        &self,
        material: &WrappedMaterial<'_>,
        message: &[u8],
        mac: &[u8],
    ) -> Result<bool, HsmError> {
        let mechanism = hmac_mechanism(material.reference.kind)?;
        let token = self.token()?;
        token.require(&mechanism, "VerifyMac")?;
        let expected = token.with_key(material, |session, key| {
            Ok(metrics().pkcs11("verify_mac", "HMAC", || {
                session.sign(&mechanism, key, message)
            })?)
        })?;
        Ok(bool::from(expected.as_slice().ct_eq(mac)))
    }

    /// A fresh GCM IV from the token's generator. IVs are drawn from a
    /// buffer refilled with one C_GenerateRandom call per 341 IVs; they are
    /// public (each ciphertext carries its IV), so only their uniqueness
    /// matters, and each buffered byte is handed out once.
    pub fn iv(&self) -> Result<[u8; IV_LEN], HsmError> {
        let mut buffer = self.iv_buffer.lock().unwrap_or_else(|e| e.into_inner());
        if buffer.len() < IV_LEN {
            let mut fresh = vec![0u8; IV_BUFFER];
            let token = self.token()?;
            let worker = token.worker();
            metrics().pkcs11("random", "RNG", || worker.generate_random_slice(&mut fresh))?;
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
        let token = self.token()?;
        let worker = token.worker();
        metrics().pkcs11("random", "RNG", || worker.generate_random_slice(&mut out))?;
        Ok(out)
    }

    /// Destroys the cached session objects of every version of a key.
    pub fn forget_key(&self, key_id: &str) {
        if let Ok(token) = self.token() {
            token.forget_key(key_id);
        }
    }

    /// Number of token (persistent) objects the user can see on this token.
    pub fn token_object_count(&self) -> Result<usize, HsmError> {
        Ok(self
            .token()?
            .worker()
            .find_objects(&[Attribute::Token(true)])?
            .len())
    }

    /// This token in the module's current initialisation.
    fn token(&self) -> Result<TokenGuard<'_>, HsmError> {
        self.module.token(self.index)
    }
}
