//! The data directory's lock (`<data_dir>/data.lock`, flock(2)): what
//! changes the dev-mode tokens, PIN files and Huawei projects (making a
//! region, trusting an enrolment offer) holds it shared; `trent backup`
//! holds it exclusively while it copies them and the database, so that the
//! copy never names a domain key the copied tokens lack.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The lock file's name in the data directory.
pub const LOCK_FILE: &str = "data.lock";

/// How the lock is held.
#[derive(Clone, Copy, Debug)]
pub enum LockMode {
    /// By a change to the tokens: several may hold it at once.
    Shared,
    /// By a backup: nobody else holds it meanwhile.
    Exclusive,
}

/// The lock, held until dropped (closing the file releases it).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Takes the lock of `data_dir` in `mode`, creating the lock file (mode
    /// 0600) if missing, waiting for whoever holds it otherwise.
    pub fn take(data_dir: &Path, mode: LockMode) -> std::io::Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(data_dir.join(LOCK_FILE))?;
        let operation = match mode {
            LockMode::Shared => libc::LOCK_SH,
            LockMode::Exclusive => libc::LOCK_EX,
        };
        loop {
            // SAFETY: flock only reads the descriptor, which `file` keeps
            // open for the call.
            let result = unsafe { libc::flock(file.as_raw_fd(), operation) };
            if result == 0 {
                return Ok(Self { _file: file });
            }
            let error = std::io::Error::last_os_error();
            if error.kind() != std::io::ErrorKind::Interrupted {
                return Err(error);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_holders_coexist_and_exclusive_waits_for_them() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::take(dir.path(), LockMode::Shared).unwrap();
        let second = DirLock::take(dir.path(), LockMode::Shared).unwrap();
        let path = dir.path().to_path_buf();
        let (sender, taken) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let lock = DirLock::take(&path, LockMode::Exclusive).unwrap();
            sender.send(()).unwrap();
            drop(lock);
        });
        let wait = std::time::Duration::from_millis(100);
        assert!(taken.recv_timeout(wait).is_err(), "taken while shared");
        drop(first);
        assert!(taken.recv_timeout(wait).is_err(), "taken while shared");
        drop(second);
        taken
            .recv_timeout(std::time::Duration::from_secs(5))
            .unwrap();
        waiter.join().unwrap();
    }
}
