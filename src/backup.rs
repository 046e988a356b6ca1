//! `trent backup DEST`: a consistent copy of a node's data directory, taken
//! while its server serves, from which `trent serve` with
//! `TRENT_DATA_DIR=DEST` serves every key acknowledged before the backup
//! began.
//!
//! Order and locking. The token files, PIN files and Huawei projects change
//! only when dev mode makes a region or trusts an enrolment offer, and those
//! hold the data directory's lock shared ([`crate::dir_lock`]). The backup
//! holds it exclusively while it copies them and then the database: a
//! region's domain key is in its token before the database names it, so a
//! database copied after the tokens, with no region made in between, names
//! no domain key the copied tokens lack, and every key in it is wrapped
//! under a domain key the copy holds. (The other order, or no lock, could
//! name a region whose token was not copied: the restored node would wait
//! for an enrolment nobody answers.) The database is copied by SQLite's
//! online backup in one read transaction: it holds every commit made before
//! the copy began, so every key and material acknowledged before the backup
//! began. The audit trail is copied last, up to its last complete line: it
//! then holds the lines of every request the copied database reflects,
//! except those still being served while it was copied.

use crate::config::Config;
use crate::dir_lock::{DirLock, LockMode};
use crate::store::{Store, StoreError, StoreLocation};
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Files of the data directory copied as they are, when present.
const FILES: &[&str] = &["credentials", "node-id", "huawei-projects.json"];

/// Directories of the data directory copied whole, when present: the
/// dev-mode PIN files and SoftHSM tokens. (`softhsm2.conf` is left out: it
/// names the source's token directory, and `serve` writes one naming the
/// copy's.)
const DIRS: &[&str] = &["secrets", "tokens"];

/// Why a backup was not taken.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The store is a PostgreSQL database, which its own tools back up.
    #[error(
        "the store is PostgreSQL ({0}): back it up with PostgreSQL's own tools (pg_basebackup, \
         pg_dump, or the managed service's snapshots); `trent backup` copies a SQLite store only"
    )]
    Postgres(String),
    /// The destination exists and is not an empty directory.
    #[error("{0}: the backup's destination must not exist or be an empty directory")]
    NotEmpty(String),
    /// The destination is an empty directory of another user, who could
    /// change the backup before it is restored.
    #[error(
        "{0}: the backup's destination belongs to another user (uid {1}); give a directory \
         of your own, or one that does not exist yet"
    )]
    NotOwned(String, u32),
    /// A file or directory could not be read or written.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    /// The database could not be copied.
    #[error("database copy: {0}")]
    Store(#[from] StoreError),
}

/// What a backup copied, for the operator.
#[derive(Debug, Default)]
pub struct Copied {
    /// Files copied besides the database and the audit trail.
    pub files: usize,
    /// Complete lines of the audit trail copied.
    pub audit_lines: usize,
}

/// Copies into `dest` (which must not exist or be empty; created with mode
/// 0700, every file 0600) the data directory of `config`'s node: PIN files,
/// tokens, credentials, node id and Huawei projects, the SQLite database as
/// `trent.db`, the audit trail as `audit.log`, and `config_file` (the
/// configuration, when there is one) as `trent.toml`. Refused for a
/// PostgreSQL store.
pub fn backup(
    config: &Config,
    config_file: Option<&Path>,
    dest: &Path,
) -> Result<Copied, BackupError> {
    let database = match StoreLocation::from_url(
        config.store_url.as_ref(),
        config.store_ca_file.as_deref(),
        &config.data_dir,
    )? {
        StoreLocation::Sqlite(path) => path,
        postgres @ StoreLocation::Postgres(..) => {
            return Err(BackupError::Postgres(postgres.to_string()));
        }
    };
    prepare_dest(dest)?;
    let mut copied = Copied::default();
    {
        let _nothing_changes_the_tokens = DirLock::take(&config.data_dir, LockMode::Exclusive)
            .map_err(io_error(&config.data_dir))?;
        for dir in DIRS {
            let source = config.data_dir.join(dir);
            if source.is_dir() {
                copied.files += copy_tree(&source, &dest.join(dir))?;
            }
        }
        for file in FILES {
            let source = config.data_dir.join(file);
            if source.is_file() {
                copy_file(&source, &dest.join(file), u64::MAX)?;
                copied.files += 1;
            }
        }
        Store::backup_sqlite(&database, &dest.join("trent.db"))?;
    }
    let audit = config
        .audit_log
        .clone()
        .unwrap_or_else(|| config.data_dir.join("audit.log"));
    if audit.is_file() {
        copied.audit_lines = copy_complete_lines(&audit, &dest.join("audit.log"))?;
    }
    if let Some(file) = config_file.filter(|file| file.is_file()) {
        copy_file(file, &dest.join("trent.toml"), u64::MAX)?;
        copied.files += 1;
    }
    sync_dir(dest)?;
    Ok(copied)
}

/// Creates `dest` (mode 0700), or takes an empty directory of this user
/// and makes it mode 0700: another user's, or one others may write, could
/// be changed before the backup is restored.
fn prepare_dest(dest: &Path) -> Result<(), BackupError> {
    match fs::read_dir(dest) {
        Ok(mut entries) => match entries.next() {
            None => {
                let owner = fs::symlink_metadata(dest).map_err(io_error(dest))?.uid();
                // SAFETY: geteuid has no preconditions and cannot fail.
                if owner != unsafe { libc::geteuid() } {
                    return Err(BackupError::NotOwned(dest.display().to_string(), owner));
                }
                fs::set_permissions(dest, fs::Permissions::from_mode(0o700)).map_err(io_error(dest))
            }
            Some(_) => Err(BackupError::NotEmpty(dest.display().to_string())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_private_dir(dest),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            Err(BackupError::NotEmpty(dest.display().to_string()))
        }
        Err(e) => Err(BackupError::Io(dest.display().to_string(), e)),
    }
}

/// Copies the directory `source` with everything under it to the new
/// directory `dest`; returns how many files it copied.
fn copy_tree(source: &Path, dest: &Path) -> Result<usize, BackupError> {
    create_private_dir(dest)?;
    let mut files = 0;
    for entry in fs::read_dir(source).map_err(io_error(source))? {
        let entry = entry.map_err(io_error(source))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(io_error(&path))?;
        if kind.is_dir() {
            files += copy_tree(&path, &dest.join(entry.file_name()))?;
        } else if kind.is_file() {
            copy_file(&path, &dest.join(entry.file_name()), u64::MAX)?;
            files += 1;
        }
    }
    sync_dir(dest)?;
    Ok(files)
}

/// Copies at most `limit` bytes of `source` to the new file `dest` (mode
/// 0600) and syncs it to disk.
fn copy_file(source: &Path, dest: &Path, limit: u64) -> Result<(), BackupError> {
    let mut from = File::open(source).map_err(io_error(source))?.take(limit);
    let mut to = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dest)
        .map_err(io_error(dest))?;
    std::io::copy(&mut from, &mut to).map_err(io_error(dest))?;
    to.flush().map_err(io_error(dest))?;
    to.sync_all().map_err(io_error(dest))
}

/// Copies the audit trail at `source` up to its last complete line (a line
/// being appended meanwhile is left out, so the copy's chain ends on a
/// whole line and a node restored from it continues it); returns how many
/// lines it copied.
fn copy_complete_lines(source: &Path, dest: &Path) -> Result<usize, BackupError> {
    let bytes = fs::read(source).map_err(io_error(source))?;
    let end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    copy_file(source, dest, end as u64)?;
    Ok(bytes[..end].iter().filter(|&&b| b == b'\n').count())
}

/// Creates the directory `path` (and missing parents) with mode 0700.
fn create_private_dir(path: &Path) -> Result<(), BackupError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(io_error(path))
}

/// Syncs a directory's entries to disk.
fn sync_dir(path: &Path) -> Result<(), BackupError> {
    File::open(path)
        .and_then(|dir| dir.sync_all())
        .map_err(io_error(path))
}

/// An I/O failure on `path`.
fn io_error(path: &Path) -> impl Fn(std::io::Error) -> BackupError {
    let path: PathBuf = path.to_path_buf();
    move |e| BackupError::Io(path.display().to_string(), e)
}
