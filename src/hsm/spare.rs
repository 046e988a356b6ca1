//! A module's spare copy: a second, independent instance of its PKCS#11
//! library in this process, so that a re-initialisation can open the
//! tokens again through it while the first instance keeps serving, and
//! finalise the first one afterwards (docs/adr/0018-spare-module-copy.md).
//!
//! The dynamic loader maps a file once per process (it knows files by
//! device and inode), so the same library loaded twice would be one
//! instance with one state. The spare is loaded from a private copy of the
//! file, which is removed as soon as it is mapped.

use cryptoki::context::Pkcs11;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The state of a module's spare copy.
pub(super) enum Spare {
    /// Not loaded yet: the first re-initialisation loads it.
    NotLoaded,
    /// Loaded and not initialised, ready for the next re-initialisation.
    Ready(Pkcs11),
    /// Could not be loaded or used: re-initialisations happen in place.
    Unavailable,
}

impl Spare {
    /// Takes the spare copy of the library at `path`, loading it first if
    /// it never was; `None` when there is none to be had. Until it is put
    /// back with [`Spare::put_back`], the spare is unavailable.
    pub(super) fn take(&mut self, path: &Path) -> Option<Pkcs11> {
        match std::mem::replace(self, Spare::Unavailable) {
            Spare::Ready(ctx) => Some(ctx),
            Spare::Unavailable => None,
            Spare::NotLoaded => match load_copy(path) {
                Ok(ctx) => Some(ctx),
                Err(e) => {
                    tracing::warn!(
                        module = %path.display(),
                        error = %e,
                        "no spare copy of the PKCS#11 module: re-initialisations will pause its requests"
                    );
                    None
                }
            },
        }
    }

    /// Keeps `ctx`, finalised, as the spare for the next re-initialisation.
    pub(super) fn put_back(&mut self, ctx: Pkcs11) {
        *self = Spare::Ready(ctx);
    }
}

/// Loads a private copy of the library at `path`.
fn load_copy(path: &Path) -> io::Result<Pkcs11> {
    let copy = private_copy(path)?;
    let loaded = Pkcs11::new(&copy).map_err(io::Error::other);
    // Mapped (or failed): the file is no longer needed either way.
    let removed = std::fs::remove_file(&copy);
    let ctx = loaded?;
    removed?;
    Ok(ctx)
}

/// Copies the library at `path` to a new file only this user can read, in
/// the temporary directory, and returns its path.
fn private_copy(path: &Path) -> io::Result<PathBuf> {
    use std::os::unix::fs::OpenOptionsExt;
    static COPIES: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map_or_else(|| "module.so".into(), |n| n.to_string_lossy().into_owned());
    let copy = std::env::temp_dir().join(format!(
        "trent-{}-{}-{name}",
        std::process::id(),
        COPIES.fetch_add(1, Ordering::Relaxed)
    ));
    let mut target = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o700)
        .open(&copy)?;
    let copied =
        std::fs::File::open(path).and_then(|mut source| io::copy(&mut source, &mut target));
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&copy);
        return Err(e);
    }
    Ok(copy)
}
