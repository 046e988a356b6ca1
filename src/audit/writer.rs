//! Appending to the log file.

use super::chain::{self, GENESIS, Hash};
use super::{AuditError, AuditRecord};
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::{Condvar, Mutex, MutexGuard};

/// How far back to read at a time when looking for the last line.
const TAIL_CHUNK: u64 = 8192;

/// An open audit log. Appends from any thread; at most one `AuditLog` (in one
/// process) may write a given file, or the chain breaks.
///
/// Appends are committed in groups: each request's line joins the chain
/// (in the order the lock is granted) and waits until it is written;
/// whichever waiting appender finds no write under way writes every line
/// gathered so far with one `write`, so concurrent requests share a
/// system call instead of queueing for one each.
pub struct AuditLog {
    path: String,
    /// This node's id as a JSON string, as every line carries it.
    node_json: String,
    /// Written only by the appender that set `State::writing`.
    file: File,
    state: Mutex<State>,
    /// Signalled whenever a group has been written (or failed).
    written: Condvar,
}

struct State {
    /// Hash of the last line added to the chain.
    last: Hash,
    /// Lines added to the chain and not yet handed to a write, each with
    /// its newline.
    pending: Vec<u8>,
    /// Number of lines added to the chain since the log was opened.
    appended: u64,
    /// Number of those lines written to the file.
    flushed: u64,
    /// Whether an appender is writing a group now.
    writing: bool,
    /// Set when a write failed part-way: the file's end is then unknown.
    failed: bool,
}

impl AuditLog {
    /// Opens the log at `path` for node `node` (whose id every line names),
    /// creating it (mode 0600) and its parent directories (mode 0700) if
    /// needed, and recovers the last line's hash so appends continue the
    /// chain. Fails if the file ends in an incomplete line.
    pub fn open(path: &Path, node: &str) -> Result<Self, AuditError> {
        let name = path.display().to_string();
        let io = |e| AuditError::Io(name.clone(), e);
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(io)?;
        }
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        let last = match last_line(&file).map_err(io)? {
            Tail::Empty => GENESIS,
            Tail::Line(line) => chain::hash(&line),
            Tail::Torn => return Err(AuditError::TornTail(name)),
        };
        Ok(Self {
            path: name,
            node_json: serde_json::to_string(node)?,
            file,
            state: Mutex::new(State {
                last,
                pending: Vec::new(),
                appended: 0,
                flushed: 0,
                writing: false,
                failed: false,
            }),
            written: Condvar::new(),
        })
    }

    /// Appends `record` as one line and returns once the line has reached
    /// the operating system (not synced to disk: see [`AuditLog::sync`]).
    /// Lines are never interleaved: each is written whole, in chain order.
    pub fn append(&self, record: &AuditRecord) -> Result<(), AuditError> {
        let encoded = chain::encode_record(record)?;
        let mut state = self.lock()?;
        if state.failed {
            return Err(AuditError::Failed(self.path.clone()));
        }
        let last = state.last;
        state.last = chain::append_line(&mut state.pending, &last, &self.node_json, &encoded);
        state.pending.push(b'\n');
        state.appended += 1;
        let mine = state.appended;
        loop {
            if state.flushed >= mine {
                return Ok(());
            }
            if state.failed {
                return Err(AuditError::Failed(self.path.clone()));
            }
            if state.writing {
                state = self
                    .written
                    .wait(state)
                    .map_err(|_| AuditError::Failed(self.path.clone()))?;
                continue;
            }
            state.writing = true;
            let group = std::mem::take(&mut state.pending);
            let upto = state.appended;
            drop(state);
            let result = (&self.file).write_all(&group);
            state = self.lock()?;
            state.writing = false;
            if state.pending.is_empty() {
                state.pending = reuse(group);
            }
            match result {
                Ok(()) => state.flushed = upto,
                Err(e) => {
                    state.failed = true;
                    self.written.notify_all();
                    return Err(AuditError::Io(self.path.clone(), e));
                }
            }
            self.written.notify_all();
        }
    }

    /// Flushes every appended line to disk.
    pub fn sync(&self) -> Result<(), AuditError> {
        self.file
            .sync_data()
            .map_err(|e| AuditError::Io(self.path.clone(), e))
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>, AuditError> {
        self.state
            .lock()
            .map_err(|_| AuditError::Failed(self.path.clone()))
    }
}

/// A written group's buffer, emptied, to gather the next group in.
fn reuse(mut group: Vec<u8>) -> Vec<u8> {
    group.clear();
    group
}

/// The end of an existing log.
enum Tail {
    /// The file is empty.
    Empty,
    /// The last line's bytes, without its newline.
    Line(Vec<u8>),
    /// The file does not end with a newline.
    Torn,
}

/// Reads the last line by scanning backwards from the end of the file.
fn last_line(file: &File) -> std::io::Result<Tail> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(Tail::Empty);
    }
    let mut byte = [0];
    file.read_exact_at(&mut byte, len - 1)?;
    if byte != *b"\n" {
        return Ok(Tail::Torn);
    }
    let end = len - 1;
    let mut start = end;
    let mut chunk = vec![0; TAIL_CHUNK as usize];
    while start > 0 {
        let size = start.min(TAIL_CHUNK);
        let chunk = &mut chunk[..size as usize];
        file.read_exact_at(chunk, start - size)?;
        match chunk.iter().rposition(|&b| b == b'\n') {
            Some(i) => {
                start = start - size + i as u64 + 1;
                break;
            }
            None => start -= size,
        }
    }
    let mut line = vec![0; (end - start) as usize];
    file.read_exact_at(&mut line, start)?;
    Ok(Tail::Line(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail(contents: &[u8]) -> Tail {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, contents).unwrap();
        last_line(&File::open(&path).unwrap()).unwrap()
    }

    fn line(contents: &[u8]) -> Vec<u8> {
        match tail(contents) {
            Tail::Line(line) => line,
            _ => panic!("expected a line"),
        }
    }

    #[test]
    fn finds_the_last_line() {
        assert!(matches!(tail(b""), Tail::Empty));
        assert!(matches!(tail(b"a\nb"), Tail::Torn));
        assert_eq!(line(b"only\n"), b"only");
        assert_eq!(line(b"a\nb\n"), b"b");
        assert_eq!(line(b"a\n\n"), b"");
        let long = vec![b'x'; 3 * TAIL_CHUNK as usize + 5];
        let contents = [b"first\n".as_slice(), &long, b"\n"].concat();
        assert_eq!(line(&contents), long);
        let exact = [
            vec![b'y'; TAIL_CHUNK as usize - 1],
            b"\n".to_vec(),
            long.clone(),
            b"\n".to_vec(),
        ]
        .concat();
        assert_eq!(line(&exact), long);
    }
}
