//! A consistent copy of a live SQLite database, by SQLite's online backup
//! API.

use super::create_private_file;
use crate::store::{StoreError, StoreResult};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long the copy waits for a lock the database's writers hold.
const BUSY_WAIT: Duration = Duration::from_secs(30);

/// Copies the database at `source` to the new file `dest` (mode 0600) while
/// other processes keep writing it. Every page is copied in one step, under
/// one read transaction: the copy is the database as of one commit, and in
/// WAL mode the writers go on meanwhile.
pub(in crate::store) fn backup(source: &Path, dest: &Path) -> StoreResult<()> {
    let from = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    from.busy_timeout(BUSY_WAIT)?;
    create_private_file(dest)?;
    let mut to = Connection::open(dest)?;
    {
        let copy = Backup::new(&from, &mut to)?;
        let deadline = Instant::now() + BUSY_WAIT;
        loop {
            match copy.step(-1)? {
                StepResult::Done => break,
                StepResult::More | StepResult::Busy | StepResult::Locked
                    if Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => return Err(StoreError::Timeout(BUSY_WAIT)),
            }
        }
    }
    drop(to);
    std::fs::File::open(dest)
        .and_then(|file| file.sync_all())
        .map_err(StoreError::Io)
}
