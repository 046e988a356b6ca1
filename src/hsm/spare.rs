//! A module's spare copy: a second, independent instance of its PKCS#11
//! library in this process, so that a re-initialisation can open the
//! tokens again through it while the first instance keeps serving, and
//! finalise the first one afterwards (docs/adr/0018-spare-module-copy.md).
//!
//! The dynamic loader maps a file once per process (it knows files by
//! device and inode), so the same library loaded twice would be one
//! instance with one state. The spare is loaded from a private copy of the
//! file, which is removed as soon as it is mapped.

use super::library::Library;
use std::io;
use std::path::Path;

/// The state of a module's spare copy.
pub(super) enum Spare {
    /// Not loaded yet: the first re-initialisation loads it.
    NotLoaded,
    /// Loaded and not initialised, ready for the next re-initialisation.
    Ready(Library),
    /// Could not be loaded or used: re-initialisations happen in place.
    Unavailable,
}

impl Spare {
    /// Takes the spare copy of the library at `path`, loading it first if
    /// it never was; `None` when there is none to be had. Until it is put
    /// back with [`Spare::put_back`], the spare is unavailable.
    pub(super) fn take(&mut self, path: &Path) -> Option<Library> {
        match std::mem::replace(self, Spare::Unavailable) {
            Spare::Ready(library) => Some(library),
            Spare::Unavailable => None,
            Spare::NotLoaded => match load_copy(path) {
                Ok(library) => Some(library),
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

    /// Keeps `library`, finalised, as the spare for the next re-initialisation.
    pub(super) fn put_back(&mut self, library: Library) {
        *self = Spare::Ready(library);
    }
}

/// Loads a private copy of the library at `path`: a new file in the
/// temporary directory (created exclusively under a random name, mode 0700),
/// removed once the library is mapped.
fn load_copy(path: &Path) -> io::Result<Library> {
    use std::os::unix::fs::PermissionsExt;
    let name = path
        .file_name()
        .map_or_else(|| "module.so".into(), |n| n.to_string_lossy().into_owned());
    let mut copy = tempfile::Builder::new()
        .prefix("trent-")
        .suffix(&format!("-{name}"))
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempfile()?;
    io::copy(&mut std::fs::File::open(path)?, copy.as_file_mut())?;
    let library = Library::load(copy.path()).map_err(io::Error::other)?;
    copy.close()?;
    Ok(library)
}
