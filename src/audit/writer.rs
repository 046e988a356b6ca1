//! Appending to the log file.

use super::chain::{self, GENESIS, Hash};
use super::{AuditError, AuditRecord};
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Mutex;

/// How far back to read at a time when looking for the last line.
const TAIL_CHUNK: u64 = 8192;

/// An open audit log. Appends from any thread; at most one `AuditLog` (in one
/// process) may write a given file, or the chain breaks.
pub struct AuditLog {
    path: String,
    node: String,
    state: Mutex<State>,
}

struct State {
    file: File,
    /// Hash of the last line written.
    last: Hash,
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
            node: node.to_string(),
            state: Mutex::new(State {
                file,
                last,
                failed: false,
            }),
        })
    }

    /// Appends `record` as one line with a single write, so concurrent appends
    /// never interleave. The line reaches the operating system before this
    /// returns but is not synced to disk (see [`AuditLog::sync`]).
    pub fn append(&self, record: &AuditRecord) -> Result<(), AuditError> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| AuditError::Failed(self.path.clone()))?;
        if state.failed {
            return Err(AuditError::Failed(self.path.clone()));
        }
        let mut line = chain::encode(record, &state.last, &self.node)?;
        let hash = chain::hash(&line);
        line.push(b'\n');
        if let Err(e) = state.file.write_all(&line) {
            state.failed = true;
            return Err(AuditError::Io(self.path.clone(), e));
        }
        state.last = hash;
        Ok(())
    }

    /// Flushes every appended line to disk.
    pub fn sync(&self) -> Result<(), AuditError> {
        let state = self
            .state
            .lock()
            .map_err(|_| AuditError::Failed(self.path.clone()))?;
        state
            .file
            .sync_data()
            .map_err(|e| AuditError::Io(self.path.clone(), e))
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
