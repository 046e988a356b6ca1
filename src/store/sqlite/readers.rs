//! Connections that only read, for the reads a cache miss makes (a key
//! record, a material): in WAL mode each reads beside the writer and beside
//! the others, and sees every transaction committed before its read began,
//! so two misses no longer wait for each other or for a write.

use super::{BUSY_TIMEOUT, PAGE_CACHE_KIB};
use crate::store::StoreResult;
use rusqlite::Connection;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, TryLockError};

/// A few read-only connections to one database file.
pub(super) struct Readers {
    connections: Vec<Mutex<Connection>>,
}

impl Readers {
    /// Opens one connection per CPU (at least one, at most four) to the
    /// already migrated database at `path`, each refusing writes
    /// (`query_only`) and with a page cache of half the writer's.
    pub(super) fn open(path: &Path) -> StoreResult<Self> {
        let count = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        let connections = (0..count)
            .map(|_| {
                let conn = Connection::open(path)?;
                conn.busy_timeout(BUSY_TIMEOUT)?;
                conn.pragma_update(None, "query_only", true)?;
                conn.pragma_update(None, "cache_size", -PAGE_CACHE_KIB / 2)?;
                Ok(Mutex::new(conn))
            })
            .collect::<StoreResult<_>>()?;
        Ok(Self { connections })
    }

    /// A connection no one else is reading on, or the first one's turn
    /// when all are busy.
    pub(super) fn get(&self) -> MutexGuard<'_, Connection> {
        for connection in &self.connections {
            match connection.try_lock() {
                Ok(guard) => return guard,
                Err(TryLockError::Poisoned(e)) => return e.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        self.connections[0]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Sqlite;
    use super::*;

    #[test]
    fn a_reader_sees_each_commit_and_refuses_to_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let sqlite = Sqlite::open(&path).unwrap();
        let count = |conn: &Connection| -> i64 {
            conn.query_row("SELECT COUNT(*) FROM aliases", [], |r| r.get(0))
                .unwrap()
        };
        let reader = sqlite.readers.get();
        assert_eq!(count(&reader), 0);
        for n in 1..=3 {
            sqlite
                .conn()
                .execute(
                    "INSERT INTO aliases (region, account_id, alias_name, key_id, \
                     creation_date, last_updated) VALUES ('r', 'a', ?1, 'k', 0, 0)",
                    [format!("alias/{n}")],
                )
                .unwrap();
            assert_eq!(count(&reader), n);
        }
        let refused = reader.execute("DELETE FROM aliases", []);
        assert!(refused.is_err(), "a reader wrote: {refused:?}");
    }

    #[test]
    fn readers_are_lent_out_side_by_side() {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = Sqlite::open(&dir.path().join("t.db")).unwrap();
        let held: Vec<_> = (0..sqlite.readers.connections.len())
            .map(|_| sqlite.readers.get())
            .collect();
        let addresses: std::collections::HashSet<_> =
            held.iter().map(|c| &**c as *const Connection).collect();
        assert_eq!(addresses.len(), held.len());
    }

    #[test]
    fn a_miss_reads_while_a_write_holds_the_writing_connection() {
        use crate::store::backend::Keys;
        let dir = tempfile::tempdir().unwrap();
        let sqlite = std::sync::Arc::new(Sqlite::open(&dir.path().join("t.db")).unwrap());
        let mut writer = sqlite.conn();
        let write = writer
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .unwrap();
        let (done, finished) = std::sync::mpsc::channel();
        let reading = sqlite.clone();
        std::thread::spawn(move || {
            let key = reading.key("r", "k").map(|k| k.is_none());
            let material = reading.material("r", "k", "m").map(|m| m.is_none());
            done.send((key.ok(), material.ok())).unwrap();
        });
        let read = finished.recv_timeout(std::time::Duration::from_secs(10));
        write.rollback().unwrap();
        assert_eq!(
            read,
            Ok((Some(true), Some(true))),
            "the miss waited for the write"
        );
    }
}
