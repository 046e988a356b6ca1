//! Loaded PKCS#11 libraries and their re-initialisation.
//!
//! SoftHSM 2.6.1 keeps a small record (~240 bytes) of every session object
//! ever destroyed until `C_Finalize`, and its object bookkeeping slows down as
//! those records pile up. A service that unwraps a key for one request and
//! destroys it afterwards would grow without bound, so a module is
//! re-initialised (`C_Finalize`, `C_Initialize`, log in again, empty caches)
//! once enough session objects were destroyed on it. Every token call holds
//! the module's read lock; re-initialisation takes the write lock, so it runs
//! between calls and no handle outlives the initialisation it came from.
//!
//! Tearing a module down takes long with many objects (SoftHSM: about a
//! second and a half with 100,000), so a re-initialisation first opens the
//! tokens through the module's spare copy (`spare`), holds the write lock
//! only to switch the calls over to it, and finalises the old instance
//! afterwards, while requests run on the new one. Without a spare it
//! re-initialises in place, under the write lock.

use super::HsmError;
use super::library::Library;
use super::spare::Spare;
use super::token::{Token, TokenSettings};
use crate::metrics::metrics;
use cryptoki::context::Pkcs11;
use secrecy::SecretString;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

/// Loaded and initialised PKCS#11 modules, one per library path, with the
/// SoftHSM configuration each was initialised with.
pub struct Modules {
    loaded: HashMap<PathBuf, Arc<Module>>,
    reinitialize_after: u64,
}

impl Modules {
    /// Modules that are re-initialised once `reinitialize_after` session
    /// objects were destroyed on them (0: never).
    pub fn new(reinitialize_after: u64) -> Self {
        Self {
            loaded: HashMap::new(),
            reinitialize_after,
        }
    }

    /// Loads and initialises `path` once; later calls return the same module.
    ///
    /// `softhsm_conf`, when given, is exported as `SOFTHSM2_CONF` just before
    /// the module's `C_Initialize`, which is when SoftHSM reads it. Call this
    /// before any other thread starts. A module can be initialised only once
    /// per process, so asking for it again with another configuration fails.
    pub fn load(
        &mut self,
        path: &Path,
        softhsm_conf: Option<&Path>,
    ) -> Result<Arc<Module>, HsmError> {
        if let Some(module) = self.loaded.get(path) {
            if module.softhsm_conf.as_deref() != softhsm_conf {
                return Err(HsmError::ModuleConfigConflict(path.display().to_string()));
            }
            return Ok(module.clone());
        }
        if let Some(conf) = softhsm_conf {
            // SAFETY: called during single-threaded start-up, before the
            // async runtime or any worker thread exists.
            unsafe { std::env::set_var("SOFTHSM2_CONF", conf) };
        }
        let library = Library::load(path)?;
        library.initialize()?;
        let module = Arc::new(Module {
            path: path.to_path_buf(),
            softhsm_conf: softhsm_conf.map(Path::to_path_buf),
            reinitialize_after: self.reinitialize_after,
            destroyed: Arc::new(AtomicU64::new(0)),
            tokens: RwLock::new(Tokens {
                library,
                settings: Vec::new(),
                open: Vec::new(),
                generation: 0,
                closed: false,
            }),
            opening: Mutex::new(()),
            spare: Mutex::new(Spare::NotLoaded),
        });
        self.loaded.insert(path.to_path_buf(), module.clone());
        Ok(module)
    }

    /// Closes every loaded module ([`Module::close`]).
    pub fn close_all(&self) {
        self.loaded.values().for_each(|module| module.close());
    }
}

/// One PKCS#11 library and the tokens opened through it.
pub struct Module {
    path: PathBuf,
    softhsm_conf: Option<PathBuf>,
    reinitialize_after: u64,
    /// Session objects destroyed since the last initialisation.
    destroyed: Arc<AtomicU64>,
    tokens: RwLock<Tokens>,
    /// Held while a token is opened: one at a time, as provisioning takes
    /// the module's free slot; and by a re-initialisation.
    opening: Mutex<()>,
    /// The library's second instance, which the next re-initialisation
    /// switches to.
    spare: Mutex<Spare>,
}

/// The tokens of the current initialisation, and how to open them again.
struct Tokens {
    /// The initialised instance of the library they were opened through.
    library: Library,
    settings: Vec<TokenSettings>,
    /// Open tokens, in `settings` order; shorter only after a failed
    /// re-initialisation, until the next attempt succeeds.
    open: Vec<Token>,
    /// Re-initialisations so far: a token opened before one is dead.
    generation: u64,
    /// Set by [`Module::close`]: the module is finalised for good.
    closed: bool,
}

/// The module, held by [`Module::hold`].
pub(super) struct ModuleHold<'a> {
    /// Its path, for messages.
    pub(super) path: &'a Path,
    _opening: MutexGuard<'a, ()>,
    tokens: RwLockReadGuard<'a, Tokens>,
}

impl ModuleHold<'_> {
    /// The initialised library.
    pub(super) fn ctx(&self) -> &Pkcs11 {
        self.tokens.library.ctx()
    }
}

/// A token of the current initialisation; the module cannot be
/// re-initialised while one is held.
pub(super) struct TokenGuard<'a> {
    tokens: RwLockReadGuard<'a, Tokens>,
    index: usize,
}

impl std::ops::Deref for TokenGuard<'_> {
    type Target = Token;
    fn deref(&self) -> &Token {
        &self.tokens.open[self.index]
    }
}

impl Module {
    /// Opens (and if given an SO PIN, provisions) a token; returns its index.
    ///
    /// Opening takes a while (provisioning a SoftHSM token ~100 ms), so it
    /// runs under the read lock: calls on the module's other tokens go on
    /// meanwhile, and the module cannot be re-initialised. The write lock
    /// is taken only to add the open token; if a re-initialisation slipped
    /// in between, the token is opened again.
    pub(super) fn open_token(
        &self,
        settings: TokenSettings,
        provision_so_pin: Option<&SecretString>,
    ) -> Result<usize, HsmError> {
        let _one_at_a_time = self.opening.lock().unwrap_or_else(|e| e.into_inner());
        let (token, generation) = {
            let tokens = self.tokens.read().unwrap_or_else(|e| e.into_inner());
            let token = Token::open(
                &tokens.library,
                &settings,
                provision_so_pin,
                self.destroyed.clone(),
            )?;
            (token, tokens.generation)
        };
        let mut tokens = self.tokens.write().unwrap_or_else(|e| e.into_inner());
        let index = tokens.settings.len();
        // After a failed re-initialisation the next attempt opens every
        // token, this one included.
        if tokens.open.len() == index {
            let token = match tokens.generation == generation {
                true => token,
                false => Token::open(&tokens.library, &settings, None, self.destroyed.clone())?,
            };
            tokens.open.push(token);
        }
        tokens.settings.push(settings);
        Ok(index)
    }

    /// The module held for work outside an open token (a token's domain
    /// key set-up, the SO's step of an enrolment): no token is opened and
    /// no re-initialisation happens until the hold is dropped.
    ///
    /// The hold is a read lock: calls on the module's open tokens from the
    /// holding thread take it again, which is safe only while nothing waits
    /// to re-initialise the module (a waiting writer would block them). So
    /// only start-up, before the background jobs run, makes such calls
    /// while holding it (a starting node answering enrolment offers).
    pub(super) fn hold(&self) -> ModuleHold<'_> {
        let opening = self.opening.lock().unwrap_or_else(|e| e.into_inner());
        let tokens = self.tokens.read().unwrap_or_else(|e| e.into_inner());
        ModuleHold {
            path: &self.path,
            _opening: opening,
            tokens,
        }
    }

    /// The token at `index`, held open for as long as the guard lives.
    pub(super) fn token(&self, index: usize) -> Result<TokenGuard<'_>, HsmError> {
        let tokens = self.tokens.read().unwrap_or_else(|e| e.into_inner());
        if index >= tokens.open.len() {
            let label = tokens
                .settings
                .get(index)
                .map_or_else(String::new, |s| s.label.clone());
            return Err(HsmError::TokenUnavailable(label));
        }
        Ok(TokenGuard { tokens, index })
    }

    /// Re-initialises the module when enough session objects were destroyed
    /// since the last time, or when the last attempt failed. Returns whether
    /// it did.
    pub fn reinitialize_if_due(&self) -> Result<bool, HsmError> {
        if !self.due(&self.tokens.read().unwrap_or_else(|e| e.into_inner())) {
            return Ok(false);
        }
        // No token is opened meanwhile, and one re-initialisation at a time.
        let _one_at_a_time = self.opening.lock().unwrap_or_else(|e| e.into_inner());
        let started = Instant::now();
        let destroyed = self.destroyed.load(Ordering::Relaxed);
        let (paused, spare) = match self.open_through_spare() {
            Some(opened) => (self.switch_to(opened), true),
            None => (self.reinitialize_in_place()?, false),
        };
        let Some(paused) = paused else {
            return Ok(false);
        };
        metrics().module_reinitialized();
        tracing::info!(
            module = %self.path.display(),
            destroyed_objects = destroyed,
            millis = started.elapsed().as_millis() as u64,
            paused_millis = paused.as_millis() as u64,
            spare,
            "re-initialised the PKCS#11 module"
        );
        Ok(true)
    }

    /// Whether the module is due for re-initialisation.
    fn due(&self, tokens: &Tokens) -> bool {
        !tokens.closed
            && (tokens.open.len() < tokens.settings.len()
                || (self.reinitialize_after > 0
                    && self.destroyed.load(Ordering::Relaxed) >= self.reinitialize_after))
    }

    /// Initialises the spare copy and opens every token through it, while
    /// calls go on through the current instance. `None` when there is no
    /// spare, or it failed (it is then not used again).
    fn open_through_spare(&self) -> Option<(Library, Vec<Token>)> {
        let library = self
            .spare
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take(&self.path)?;
        self.point_softhsm_at_conf();
        let opened = library.initialize().and_then(|()| {
            let tokens = self.tokens.read().unwrap_or_else(|e| e.into_inner());
            tokens
                .settings
                .iter()
                .map(|settings| Token::open(&library, settings, None, self.destroyed.clone()))
                .collect::<Result<Vec<_>, _>>()
        });
        match opened {
            Ok(open) => Some((library, open)),
            Err(e) => {
                let _ = library.finalize();
                tracing::warn!(
                    module = %self.path.display(),
                    error = %e,
                    "the spare copy of the PKCS#11 module could not open the tokens: \
                     re-initialisations will pause its requests"
                );
                None
            }
        }
    }

    /// Switches the calls over to the tokens `opened` through the spare,
    /// then closes the old tokens and finalises the old instance, which
    /// becomes the spare. Returns how long calls were held up (the write
    /// lock), or `None` if the module was closed meanwhile.
    fn switch_to(&self, (library, open): (Library, Vec<Token>)) -> Option<Duration> {
        let switching = Instant::now();
        let (old_library, old_tokens) = {
            let mut tokens = self.tokens.write().unwrap_or_else(|e| e.into_inner());
            if tokens.closed {
                drop(open);
                let _ = library.finalize();
                return None;
            }
            tokens.generation += 1;
            self.destroyed.store(0, Ordering::Relaxed);
            let old_tokens = std::mem::replace(&mut tokens.open, open);
            (std::mem::replace(&mut tokens.library, library), old_tokens)
        };
        let paused = switching.elapsed();
        // No call can reach the old tokens any more: close their sessions
        // (destroying their objects) and finalise their instance.
        drop(old_tokens);
        if let Err(e) = old_library.finalize() {
            tracing::warn!(module = %self.path.display(), error = %e, "C_Finalize failed");
        }
        self.spare
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .put_back(old_library);
        Some(paused)
    }

    /// Re-initialises the module's one instance under the write lock:
    /// calls wait for the whole of it. Returns how long, or `None` if it
    /// was no longer due.
    fn reinitialize_in_place(&self) -> Result<Option<Duration>, HsmError> {
        let mut tokens = self.tokens.write().unwrap_or_else(|e| e.into_inner());
        if !self.due(&tokens) {
            return Ok(None);
        }
        let started = Instant::now();
        self.destroyed.store(0, Ordering::Relaxed);
        // Close every session (and with them every session object) first, so
        // no handle of this initialisation can reach the next one.
        tokens.open.clear();
        tokens.generation += 1;
        if let Err(e) = tokens.library.finalize() {
            tracing::warn!(module = %self.path.display(), error = %e, "C_Finalize failed");
        }
        self.point_softhsm_at_conf();
        tokens.library.initialize()?;
        let Tokens {
            library,
            settings,
            open,
            ..
        } = &mut *tokens;
        for settings in settings.iter() {
            open.push(Token::open(
                library,
                settings,
                None,
                self.destroyed.clone(),
            )?);
        }
        Ok(Some(started.elapsed()))
    }

    /// At shutdown, once no request runs: logs out of every token opened
    /// through the module (`C_Logout`), closes their sessions (destroying
    /// their session objects) and finalises the module (`C_Finalize`),
    /// logging each step. Waits for calls in progress (a background job's);
    /// later calls find no token. Does nothing the second time.
    pub fn close(&self) {
        let mut tokens = self.tokens.write().unwrap_or_else(|e| e.into_inner());
        if tokens.closed {
            return;
        }
        tokens.closed = true;
        for token in tokens.open.drain(..) {
            match token.logout() {
                Ok(()) => tracing::info!(token = token.label(), "logged out of the token"),
                Err(e) => tracing::warn!(token = token.label(), error = %e, "C_Logout failed"),
            }
        }
        match tokens.library.finalize() {
            Ok(()) => tracing::info!(module = %self.path.display(), "finalised the PKCS#11 module"),
            Err(e) => {
                tracing::warn!(module = %self.path.display(), error = %e, "C_Finalize failed")
            }
        }
    }

    /// SoftHSM reads `SOFTHSM2_CONF` in `C_Initialize`. When another module
    /// copy was initialised with another configuration since, point the
    /// variable back at this one's.
    fn point_softhsm_at_conf(&self) {
        let Some(conf) = &self.softhsm_conf else {
            return;
        };
        if std::env::var_os("SOFTHSM2_CONF").as_deref() != Some(conf.as_os_str()) {
            // SAFETY: only reached when one process loads several SoftHSM
            // copies with different configurations (tests and multi-token
            // set-ups); Trent itself reads the environment only at start-up,
            // and this runs under the module's write lock.
            unsafe { std::env::set_var("SOFTHSM2_CONF", conf) };
        }
    }
}
