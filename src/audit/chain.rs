//! The hash chain: how a record becomes a line, and how a file is checked.

use super::{AuditError, AuditRecord};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// SHA-256 of one line's bytes.
pub(super) type Hash = [u8; 32];

/// What the first line's `prev_hash` stands for.
pub(super) const GENESIS: Hash = [0; 32];

/// Appends to `out` the line of a record serialised on its own (by
/// `record_json`, before the chain's lock is taken), written by the node
/// whose id is `node_json` (a JSON string), chained to the line whose hash
/// is `prev`, without a newline: `prev_hash` first, then `node`, then the
/// record's fields in order. Returns the line's hash.
pub(super) fn append_line(out: &mut Vec<u8>, prev: &Hash, node_json: &str, record: &[u8]) -> Hash {
    let start = out.len();
    out.extend_from_slice(b"{\"prev_hash\":\"");
    let mut hex = [0u8; 64];
    hex::encode_to_slice(prev, &mut hex).expect("64 hex digits for 32 bytes");
    out.extend_from_slice(&hex);
    out.extend_from_slice(b"\",\"node\":");
    out.extend_from_slice(node_json.as_bytes());
    match record.strip_prefix(b"{") {
        Some(b"}") | None => out.push(b'}'),
        Some(fields) => {
            out.push(b',');
            out.extend_from_slice(fields);
        }
    }
    hash(&out[start..])
}

/// The hash the next line must carry as `prev_hash`.
pub(super) fn hash(line: &[u8]) -> Hash {
    Sha256::digest(line).into()
}

/// Result of checking an audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Number of lines in the file.
    pub lines: u64,
    /// The first line that does not fit the chain; `None` when it is intact.
    pub broken: Option<Broken>,
    /// The later lines that do not fit the chain either (each checked
    /// against the line before it, as written), so that one broken line
    /// cannot hide what was done to the lines after it.
    pub also_broken: Vec<u64>,
    /// The node ids the lines name, in order of first appearance (lines
    /// written before node ids were recorded name none).
    pub nodes: Vec<String>,
}

/// The first line that does not fit the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// 1-based line number.
    pub line: u64,
    /// What is wrong with it.
    pub reason: Fault,
}

/// Why a line does not fit the chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    /// The last line has no newline: a write was cut short or the file truncated.
    #[error(
        "incomplete line (no trailing newline): a write was interrupted or the file was truncated"
    )]
    Incomplete,
    /// The line is not a JSON object.
    #[error("bad JSON: {0}")]
    BadJson(String),
    /// The object has no `prev_hash` field.
    #[error("missing prev_hash")]
    MissingPrevHash,
    /// `prev_hash` is not 64 lowercase hex digits.
    #[error("prev_hash is not 64 lowercase hex digits")]
    MalformedPrevHash,
    /// The first line's `prev_hash` is not 64 zeros.
    #[error("first line's prev_hash is not 64 zeros: lines may have been removed from the start")]
    NotFirst,
    /// `prev_hash` is not the hash of the given (previous) line.
    #[error(
        "prev_hash does not match the hash of line {0}: line {0} may have been altered, \
         or lines removed or inserted before this one"
    )]
    Mismatch(u64),
    /// The chain holds, but the object is not an audit record.
    #[error("not an audit record: {0}")]
    NotARecord(String),
}

/// Checks every line of the log at `path`, reporting the first that does not
/// fit the chain and every later one that does not either. Removing lines
/// from the end cannot be detected this way.
pub fn verify(path: &Path) -> Result<Verification, AuditError> {
    let io = |e| AuditError::Io(path.display().to_string(), e);
    let mut reader = BufReader::new(File::open(path).map_err(io)?);
    let mut buf = Vec::new();
    let mut expected = GENESIS;
    let mut lines = 0;
    let mut broken = None;
    let mut also_broken = Vec::new();
    let mut nodes = Vec::new();
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).map_err(io)? == 0 {
            break;
        }
        lines += 1;
        let line = buf.strip_suffix(b"\n");
        let checked = match line {
            Some(line) => check(line, lines, &expected),
            None => Err(Fault::Incomplete),
        };
        match checked {
            Ok(Some(node)) if !nodes.contains(&node) => nodes.push(node),
            Ok(_) => {}
            Err(_) if broken.is_some() => also_broken.push(lines),
            Err(reason) => {
                broken = Some(Broken {
                    line: lines,
                    reason,
                })
            }
        }
        expected = hash(line.unwrap_or(&buf));
    }
    Ok(Verification {
        lines,
        broken,
        also_broken,
        nodes,
    })
}

/// Checks one line against the hash it must carry; the node id it names.
fn check(line: &[u8], number: u64, expected: &Hash) -> Result<Option<String>, Fault> {
    let value: serde_json::Value =
        serde_json::from_slice(line).map_err(|e| Fault::BadJson(e.to_string()))?;
    let object = value
        .as_object()
        .ok_or_else(|| Fault::BadJson("not an object".into()))?;
    let prev = object.get("prev_hash").ok_or(Fault::MissingPrevHash)?;
    let prev = prev
        .as_str()
        .filter(|p| p.len() == 64 && p.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .ok_or(Fault::MalformedPrevHash)?;
    if prev != hex::encode(expected) {
        return Err(match number {
            1 => Fault::NotFirst,
            n => Fault::Mismatch(n - 1),
        });
    }
    AuditRecord::deserialize(&value).map_err(|e| Fault::NotARecord(e.to_string()))?;
    match object.get("node") {
        None => Ok(None),
        Some(serde_json::Value::String(node)) => Ok(Some(node.clone())),
        Some(_) => Err(Fault::NotARecord("node is not a string".into())),
    }
}
