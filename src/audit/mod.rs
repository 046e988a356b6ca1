//! The audit log: one JSON line per request, each line carrying the SHA-256
//! of the line before it, so that altering, inserting or removing a line
//! breaks the chain at the line after it.
//!
//! A line is the record's JSON with `prev_hash` as its first field and the
//! writing node's id as its second:
//!
//! ```text
//! {"prev_hash":"<64 hex>","node":"node-1","time":"…","request_id":"…","dialect":"aws",…}
//! ```
//!
//! Each node of a cluster writes its own file, so each file is one chain.
//!
//! `prev_hash` is the lowercase hex SHA-256 of the previous line's bytes
//! (without its newline); the first line's is 64 zeros.

mod chain;
mod record_json;
mod redact;
mod writer;

pub use chain::{Broken, Fault, Verification, verify};
pub use redact::{Parameters, REDACTED, redact, redact_json};
pub use writer::AuditLog;

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::SystemTime;
use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;

/// One audited request. Fields serialise in declaration order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When the request arrived: RFC 3339 UTC with milliseconds (see [`timestamp`]).
    pub time: String,
    /// The request id returned to the caller.
    pub request_id: String,
    /// API dialect: `aws` or `huawei`.
    pub dialect: String,
    /// Operation name, e.g. `Encrypt`.
    pub operation: String,
    /// Region the request was served in.
    pub region: Option<String>,
    /// Caller principal ARN, when authenticated.
    pub principal: Option<String>,
    /// Access key id the request was signed with.
    pub access_key_id: Option<String>,
    /// Address the request came from.
    pub source_address: Option<String>,
    /// ARNs of the keys the request touched.
    pub key_arns: Vec<String>,
    /// Request parameters, passed through [`redact`] or [`redact_json`].
    pub parameters: Parameters,
    /// AWS error type when the call failed.
    pub error_code: Option<String>,
}

/// What can go wrong while writing or reading an audit log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The file or its directory could not be created, read or written.
    #[error("audit log {0}: {1}")]
    Io(String, std::io::Error),
    /// An earlier append failed part-way, so the file's end is unknown.
    #[error("audit log {0}: an earlier append failed; reopen the log")]
    Failed(String),
    /// A record could not be serialised.
    #[error("audit record could not be serialised: {0}")]
    Encode(#[from] serde_json::Error),
}

const TIMESTAMP: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// Formats `at` as RFC 3339 UTC with milliseconds, e.g. `2026-11-26T01:02:03.456Z`.
/// The date and time up to the second are formatted once per second per
/// thread; only the milliseconds are added per call.
pub fn timestamp(at: SystemTime) -> String {
    thread_local! {
        static SECOND: std::cell::RefCell<(u64, String)> = const {
            std::cell::RefCell::new((u64::MAX, String::new()))
        };
    }
    let Ok(since_epoch) = at.duration_since(std::time::UNIX_EPOCH) else {
        return format_full(at);
    };
    let (second, millis) = (since_epoch.as_secs(), since_epoch.subsec_millis());
    SECOND.with_borrow_mut(|(cached, prefix)| {
        if *cached != second {
            let full = format_full(at);
            *prefix = full[..full.len() - ".mmmZ".len()].to_string();
            *cached = second;
        }
        // Concatenated without the formatting machinery (once a request).
        let digits = [millis / 100, millis / 10 % 10, millis % 10].map(|d| b'0' + d as u8);
        let mut time = String::with_capacity(prefix.len() + 5);
        time.push_str(prefix);
        time.push('.');
        time.extend(digits.map(char::from));
        time.push('Z');
        time
    })
}

/// A client's address as an audit line records it (`a.b.c.d:port`, or
/// `[v6]:port`), as `Display` writes it: an IPv4 address without the
/// formatting machinery (once a request).
pub fn source_address(peer: SocketAddr) -> String {
    let SocketAddr::V4(v4) = peer else {
        return peer.to_string();
    };
    let mut digits = itoa::Buffer::new();
    let mut text = String::with_capacity(21);
    for (i, octet) in v4.ip().octets().into_iter().enumerate() {
        text.push_str(digits.format(octet));
        text.push(if i < 3 { '.' } else { ':' });
    }
    text.push_str(digits.format(v4.port()));
    text
}

/// Most characters an audit line keeps of what a client names before it is
/// authenticated (the operation, a route's path, an access key id).
pub const MAX_CLIENT_TEXT: usize = 128;

/// `text` as an audit line records a client's unchecked words: at most
/// [`MAX_CLIENT_TEXT`] characters, and `…` where it was cut, so that an
/// unauthenticated request cannot write long lines.
pub fn clipped(text: &str) -> String {
    match text.char_indices().nth(MAX_CLIENT_TEXT) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

fn format_full(at: SystemTime) -> String {
    OffsetDateTime::from(at)
        .format(TIMESTAMP)
        .expect("a UTC date-time has every component of the format")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::Path;
    use std::sync::Arc;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn client_text_is_clipped_at_a_character() {
        assert_eq!(clipped("ListKeys"), "ListKeys");
        let long = "é".repeat(500);
        let cut = clipped(&long);
        assert_eq!(cut.chars().count(), MAX_CLIENT_TEXT + 1);
        assert!(cut.ends_with('…'));
    }

    fn record(n: usize) -> AuditRecord {
        AuditRecord {
            time: timestamp(UNIX_EPOCH + Duration::from_millis(1_795_654_923_456)),
            request_id: format!("req-{n}"),
            dialect: "aws".into(),
            operation: "Encrypt".into(),
            region: Some("eu-west-1".into()),
            principal: Some("arn:aws:iam::111122223333:user/alice".into()),
            access_key_id: Some("AKIAEXAMPLE".into()),
            source_address: Some("127.0.0.1:50000".into()),
            key_arns: vec![format!("arn:aws:kms:eu-west-1:111122223333:key/k{n}")],
            parameters: redact(serde_json::json!({
                "KeyId": format!("k{n}"),
                "Plaintext": "c2VjcmV0",
                "EncryptionContext": {"purpose": "test"},
            })),
            error_code: None,
        }
    }

    /// Appends `record` and waits until it is written.
    fn append(log: &AuditLog, record: &AuditRecord) {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(log.append(record))
            .unwrap();
    }

    fn write_log(path: &Path, count: usize) {
        let log = AuditLog::open(path, "node-test").unwrap();
        for n in 0..count {
            append(&log, &record(n));
        }
    }

    fn lines(path: &Path) -> Vec<String> {
        fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn rewrite(path: &Path, lines: &[String]) {
        fs::write(
            path,
            lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
        )
        .unwrap();
    }

    fn broken(path: &Path) -> Broken {
        verify(path)
            .unwrap()
            .broken
            .expect("chain should be broken")
    }

    #[test]
    fn source_addresses_read_as_display_writes_them() {
        for address in [
            "127.0.0.1:50000",
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "10.20.3.4:9",
            "[::1]:4599",
            "[2001:db8::7]:443",
        ] {
            let peer: SocketAddr = address.parse().unwrap();
            assert_eq!(source_address(peer), peer.to_string());
            assert_eq!(source_address(peer), address);
        }
    }

    #[test]
    fn timestamp_is_rfc3339_utc_with_milliseconds() {
        let at = UNIX_EPOCH + Duration::from_millis(1_795_654_923_456);
        assert_eq!(timestamp(at), "2026-11-26T01:02:03.456Z");
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let late = UNIX_EPOCH + Duration::new(59, 999_999_999);
        assert_eq!(timestamp(late), "1970-01-01T00:00:59.999Z");
    }

    #[test]
    fn lines_start_with_prev_hash_and_keep_field_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        write_log(&path, 2);
        let lines = lines(&path);
        let first = format!(
            "{{\"prev_hash\":\"{}\",\"node\":\"node-test\",\"time\":",
            "0".repeat(64)
        );
        assert!(lines[0].starts_with(&first), "{}", lines[0]);
        assert!(lines[0].ends_with(",\"error_code\":null}"), "{}", lines[0]);
        assert!(lines[0].contains("\"Plaintext\":\"<redacted>\""));
        let value: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
        let expected = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&lines[0]));
        assert_eq!(value["prev_hash"], expected.as_str());
    }

    /// The line as `serde` would write it with the record's fields
    /// flattened after `prev_hash` and `node`.
    #[derive(Serialize)]
    struct Line<'a> {
        prev_hash: String,
        node: &'a str,
        #[serde(flatten)]
        record: &'a AuditRecord,
    }

    #[test]
    fn a_line_is_the_record_flattened_after_prev_hash_and_node() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let node = "node \"quoted\"";
        let log = AuditLog::open(&path, node).unwrap();
        let (first, second) = (record(1), record(2));
        append(&log, &first);
        append(&log, &second);
        let written = lines(&path);
        let expected = serde_json::to_string(&Line {
            prev_hash: "0".repeat(64),
            node,
            record: &first,
        })
        .unwrap();
        assert_eq!(written[0], expected);
        let expected = serde_json::to_string(&Line {
            prev_hash: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&written[0])),
            node,
            record: &second,
        })
        .unwrap();
        assert_eq!(written[1], expected);
    }

    #[test]
    fn timestamps_within_a_second_share_its_formatting() {
        let second = UNIX_EPOCH + Duration::from_secs(1_795_654_923);
        for (millis, text) in [
            (456, "2026-11-26T01:02:03.456Z"),
            (7, "2026-11-26T01:02:03.007Z"),
            (1_000, "2026-11-26T01:02:04.000Z"),
            (999, "2026-11-26T01:02:03.999Z"),
        ] {
            assert_eq!(timestamp(second + Duration::from_millis(millis)), text);
        }
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn three_records_verify_and_reopen_continues_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir/audit.log");
        write_log(&path, 3);
        let v = verify(&path).unwrap();
        assert_eq!((v.lines, v.broken), (3, None));

        let log = AuditLog::open(&path, "node-test").unwrap();
        append(&log, &record(3));
        log.sync().unwrap();
        let v = verify(&path).unwrap();
        assert_eq!((v.lines, v.broken), (4, None));
    }

    #[test]
    fn creates_a_private_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        AuditLog::open(&path, "node-test").unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(verify(&path).unwrap().lines, 0);
    }

    #[test]
    fn altered_line_breaks_the_next_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        write_log(&path, 4);
        let mut lines = lines(&path);
        lines[1] = lines[1].replace("\"KeyId\":\"k1\"", "\"KeyId\":\"k9\"");
        rewrite(&path, &lines);
        let b = broken(&path);
        assert_eq!((b.line, &b.reason), (3, &Fault::Mismatch(2)));
        assert!(
            b.reason
                .to_string()
                .contains("line 2 may have been altered")
        );
        assert_eq!(verify(&path).unwrap().lines, 4);
    }

    #[test]
    fn removed_lines_break_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        write_log(&path, 4);
        let all = lines(&path);

        rewrite(&path, &[&all[..1], &all[2..]].concat());
        let b = broken(&path);
        assert_eq!((b.line, b.reason), (2, Fault::Mismatch(1)));

        rewrite(&path, &all[1..]);
        let b = broken(&path);
        assert_eq!((b.line, b.reason), (1, Fault::NotFirst));
    }

    #[test]
    fn a_truncated_last_line_is_reported_then_set_aside_on_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        write_log(&path, 3);
        let whole = lines(&path);
        let bytes = fs::read(&path).unwrap();
        fs::write(&path, &bytes[..bytes.len() - 20]).unwrap();
        let b = broken(&path);
        assert_eq!((b.line, b.reason), (3, Fault::Incomplete));

        let log = AuditLog::open(&path, "node-test").unwrap();
        append(&log, &record(9));
        let after = lines(&path);
        assert_eq!(after.len(), 3);
        assert_eq!(after[..2], whole[..2]);
        let report = verify(&path).unwrap();
        assert!(report.broken.is_none(), "{:?}", report.broken);
        assert_eq!(report.lines, 3);
    }

    #[test]
    fn malformed_lines_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        write_log(&path, 3);
        let all = lines(&path);

        rewrite(&path, &[all[0].clone(), "{not json".into(), all[2].clone()]);
        let b = broken(&path);
        assert_eq!(b.line, 2);
        assert!(matches!(b.reason, Fault::BadJson(_)));

        let stripped = all[1].replacen("\"prev_hash\"", "\"prev_hush\"", 1);
        rewrite(&path, &[all[0].clone(), stripped, all[2].clone()]);
        assert_eq!(broken(&path).reason, Fault::MissingPrevHash);

        let not_record = format!("{{\"prev_hash\":\"{}\"}}", "0".repeat(64));
        rewrite(&path, &[not_record]);
        assert!(matches!(broken(&path).reason, Fault::NotARecord(_)));
    }

    #[test]
    fn concurrent_appends_keep_the_chain_intact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let log = Arc::new(AuditLog::open(&path, "node-test").unwrap());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let log = Arc::clone(&log);
                let path = path.clone();
                std::thread::spawn(move || {
                    for n in 0..200 {
                        let record = record(t * 1000 + n);
                        append(&log, &record);
                        // Once append returns, the line is in the file.
                        if n % 50 == 0 {
                            let written = fs::read_to_string(&path).unwrap();
                            let id = format!("\"request_id\":\"{}\"", record.request_id);
                            assert!(written.contains(&id), "{id} not written");
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let v = verify(&path).unwrap();
        assert_eq!((v.lines, v.broken), (1600, None));
        let mut ids: Vec<_> = lines(&path)
            .iter()
            .map(|l| serde_json::from_str::<AuditRecord>(l).unwrap().request_id)
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 1600);
    }
}
