//! Appending to the log file.

use super::chain::{self, GENESIS, Hash};
use super::record_json;
use super::{AuditError, AuditRecord};
use crate::metrics::metrics;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;

/// How far back to read at a time when looking for the last line.
const TAIL_CHUNK: u64 = 8192;

/// An open audit log. Appends from any thread; at most one `AuditLog` (in one
/// process) may write a given file, or the chain breaks.
///
/// Lines are committed in groups: [`AuditLog::add`] puts a request's line
/// in the chain (in the order the lock is granted) and in the pending
/// group; the request then waits ([`Line::written`]), without holding its
/// thread, until the line is written. Whichever waiting request finds no
/// write under way writes the whole pending group with one `write`; lines
/// added meanwhile form the next group. So concurrent requests share a
/// system call, and every line is written by a request waiting for it, or
/// by its own [`Line`] when that is dropped unwaited.
pub struct AuditLog {
    inner: Arc<Inner>,
}

/// A line added to the chain: wait for it with [`Line::written`]; dropped
/// before it was written, it writes itself (blocking briefly).
#[must_use = "a response must wait until its audit line is written"]
pub struct Line {
    log: Arc<Inner>,
    /// How many lines must be written for this one to be.
    number: u64,
}

struct Inner {
    path: String,
    /// This node's id as a JSON string, as every line carries it.
    node_json: String,
    /// Written only by the holder of `State::writing`.
    file: File,
    state: Mutex<State>,
    /// How many lines have been written, or that a write failed.
    written: watch::Sender<Written>,
}

struct State {
    /// Hash of the last line added to the chain.
    last: Hash,
    /// Lines added to the chain and not yet handed to a write, each with
    /// its newline.
    pending: Vec<u8>,
    /// An emptied buffer of an earlier group, to gather a later one in.
    spare: Vec<u8>,
    /// Number of lines added to the chain since the log was opened.
    added: u64,
    /// Whether a group is being written now.
    writing: bool,
}

/// How far the writes have got.
#[derive(Clone, Copy, Default)]
struct Written {
    /// Number of lines written to the file.
    lines: u64,
    /// Whether a write failed part-way: the file's end is then unknown,
    /// and no later line is written.
    failed: bool,
}

impl AuditLog {
    /// Opens the log at `path` for node `node` (whose id every line names),
    /// creating it (mode 0600) and its parent directories (mode 0700) if
    /// needed, and recovers the last line's hash so appends continue the
    /// chain. A file that ends in an incomplete line (a write cut short by
    /// a crash) has that fragment moved beside it first: see
    /// [`set_aside_torn_tail`].
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
        let mut tail = last_line(&file).map_err(io)?;
        if let Tail::Torn = tail {
            set_aside_torn_tail(&file, path).map_err(io)?;
            tail = last_line(&file).map_err(io)?;
        }
        let last = match tail {
            Tail::Empty => GENESIS,
            Tail::Line(line) => chain::hash(&line),
            Tail::Torn => unreachable!("the file ends at a newline or is empty"),
        };
        let inner = Inner {
            path: name,
            node_json: serde_json::to_string(node)?,
            file,
            state: Mutex::new(State {
                last,
                pending: Vec::new(),
                spare: Vec::new(),
                added: 0,
                writing: false,
            }),
            written: watch::Sender::new(Written::default()),
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Adds `record` as the chain's next line, to be written with the
    /// pending group. Lines are never interleaved: each is written whole,
    /// in chain order.
    pub fn add(&self, record: &AuditRecord) -> Result<Line, AuditError> {
        let encoded = record_json::encode(record);
        let log = &self.inner;
        let mut state = log.lock()?;
        if log.written.borrow().failed {
            return Err(log.failed());
        }
        let last = state.last;
        state.last = chain::append_line(&mut state.pending, &last, &log.node_json, &encoded);
        state.pending.push(b'\n');
        state.added += 1;
        Ok(Line {
            log: Arc::clone(log),
            number: state.added,
        })
    }

    /// Adds `record` and waits until its line is written.
    pub async fn append(&self, record: &AuditRecord) -> Result<(), AuditError> {
        self.add(record)?.written().await
    }

    /// Flushes every written line to disk.
    pub fn sync(&self) -> Result<(), AuditError> {
        self.inner
            .file
            .sync_data()
            .map_err(|e| AuditError::Io(self.inner.path.clone(), e))
    }
}

impl Line {
    /// Resolves once the line has reached the operating system (not synced
    /// to disk: see [`AuditLog::sync`]), writing the pending group itself
    /// when no write is under way (after letting the other ready tasks of
    /// its thread run once).
    pub async fn written(self) -> Result<(), AuditError> {
        let mut written = self.log.written.subscribe();
        // Let the requests ready on this thread add their lines first, so
        // that one write carries them all.
        tokio::task::yield_now().await;
        loop {
            let now = *written.borrow_and_update();
            if now.lines >= self.number {
                return Ok(());
            }
            if now.failed {
                return Err(self.log.failed());
            }
            if !self.log.write_pending()? {
                let _ = written.changed().await;
            }
        }
    }
}

impl Drop for Line {
    /// A line nobody waits for any more (its request was dropped) is
    /// written now: once a write under way ends, the pending group holds it.
    fn drop(&mut self) {
        loop {
            let now = *self.log.written.borrow();
            if now.lines >= self.number || now.failed {
                return;
            }
            match self.log.write_pending() {
                Ok(true) => {}
                Ok(false) => std::thread::yield_now(),
                Err(_) => return,
            }
        }
    }
}

impl Inner {
    /// Writes the pending group unless a group is being written; returns
    /// whether it wrote. Counts the lines and the write, or its failure, in
    /// the metrics.
    fn write_pending(&self) -> Result<bool, AuditError> {
        let mut state = self.lock()?;
        if state.writing || state.pending.is_empty() {
            return Ok(false);
        }
        state.writing = true;
        let spare = std::mem::take(&mut state.spare);
        let group = std::mem::replace(&mut state.pending, spare);
        let upto = state.added;
        drop(state);
        let result = (&self.file).write_all(&group);
        let mut state = self.lock()?;
        state.writing = false;
        state.spare = group;
        state.spare.clear();
        drop(state);
        match result {
            Ok(()) => {
                let mut lines = 0;
                self.written.send_modify(|w| {
                    lines = upto.saturating_sub(w.lines);
                    w.lines = upto;
                });
                metrics().audit_written(lines);
                Ok(true)
            }
            Err(e) => {
                metrics().audit_write_failed();
                self.written.send_modify(|w| w.failed = true);
                Err(AuditError::Io(self.path.clone(), e))
            }
        }
    }

    fn failed(&self) -> AuditError {
        AuditError::Failed(self.path.clone())
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>, AuditError> {
        self.state.lock().map_err(|_| self.failed())
    }
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
    let start = line_start(file, end)?;
    let mut line = vec![0; (end - start) as usize];
    file.read_exact_at(&mut line, start)?;
    Ok(Tail::Line(line))
}

/// Where the line holding the byte before `end` starts: just after the
/// last newline before `end`, or 0.
fn line_start(file: &File, end: u64) -> std::io::Result<u64> {
    let mut start = end;
    let mut chunk = vec![0; TAIL_CHUNK as usize];
    while start > 0 {
        let size = start.min(TAIL_CHUNK);
        let chunk = &mut chunk[..size as usize];
        file.read_exact_at(chunk, start - size)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(start - size + i as u64 + 1);
        }
        start -= size;
    }
    Ok(0)
}

/// Moves the incomplete last line of the log at `path` to a file beside it
/// (`<name>.torn-<unix millis>`, mode 0600, synced) and truncates the log
/// after its last newline, with a warning naming both.
///
/// Such a fragment is what a crash leaves in the middle of a group's
/// `write`. No response waited on it: a request is answered only once the
/// whole group holding its line was written. So the log keeps every
/// acknowledged line, and the fragment is kept for inspection, not
/// discarded.
fn set_aside_torn_tail(file: &File, path: &Path) -> std::io::Result<()> {
    let len = file.metadata()?.len();
    let start = line_start(file, len)?;
    let mut fragment = vec![0; (len - start) as usize];
    file.read_exact_at(&mut fragment, start)?;
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".torn-{millis}"));
    let kept = Path::new(&name);
    let mut copy = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(kept)?;
    copy.write_all(&fragment)?;
    copy.sync_all()?;
    file.set_len(start)?;
    file.sync_all()?;
    tracing::warn!(
        log = %path.display(),
        fragment = %kept.display(),
        bytes = fragment.len(),
        "the audit log ended in an incomplete line (a write cut short, e.g. by a crash); \
         no response waited on it: it was moved beside the log and the log truncated \
         after its last complete line"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

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
    fn a_torn_tail_is_moved_beside_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let long = vec![b'x'; 2 * TAIL_CHUNK as usize + 3];
        for (contents, kept, fragment) in [
            (
                b"first\nsecond\nthi".to_vec(),
                b"first\nsecond\n".to_vec(),
                b"thi".to_vec(),
            ),
            (
                b"only a fragment".to_vec(),
                Vec::new(),
                b"only a fragment".to_vec(),
            ),
            (
                [b"a\n".as_slice(), &long].concat(),
                b"a\n".to_vec(),
                long.clone(),
            ),
        ] {
            std::fs::write(&path, &contents).unwrap();
            let file = OpenOptions::new()
                .read(true)
                .append(true)
                .open(&path)
                .unwrap();
            set_aside_torn_tail(&file, &path).unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), kept);
            let torn: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p != &path)
                .collect();
            assert_eq!(torn.len(), 1, "{torn:?}");
            let name = torn[0].file_name().unwrap().to_string_lossy().to_string();
            assert!(name.starts_with("audit.log.torn-"), "{name}");
            assert_eq!(std::fs::read(&torn[0]).unwrap(), fragment);
            let mode = std::fs::metadata(&torn[0]).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            std::fs::remove_file(&torn[0]).unwrap();
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
