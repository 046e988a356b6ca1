//! `trent audit verify FILE...` on intact and altered logs: each file is one
//! node's chain, and every line names the node that wrote it.

use std::path::Path;
use std::process::{Command, Output};
use std::time::SystemTime;
use trent::audit::{AuditLog, AuditRecord, redact, redact_json, timestamp};

fn record(n: usize) -> AuditRecord {
    AuditRecord {
        time: timestamp(SystemTime::now()),
        request_id: format!("req-{n}"),
        dialect: "aws".into(),
        operation: "Decrypt".into(),
        region: Some("eu-west-1".into()),
        principal: None,
        access_key_id: None,
        source_address: Some("127.0.0.1:40000".into()),
        key_arns: vec![],
        parameters: redact(serde_json::json!({ "CiphertextBlob": "AQID", "KeyId": n })),
        error_code: Some("InvalidCiphertextException".into()).filter(|_| n == 2),
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

fn verify(path: &Path) -> (Option<i32>, String) {
    verify_all(&[path])
}

fn verify_all(paths: &[&Path]) -> (Option<i32>, String) {
    let Output { status, stdout, .. } = Command::new(env!("CARGO_BIN_EXE_trent"))
        .args(["audit", "verify"])
        .args(paths)
        .output()
        .expect("run trent");
    (
        status.code(),
        String::from_utf8(stdout).expect("UTF-8 output"),
    )
}

#[test]
fn verify_reports_intact_and_broken_chains() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let log = AuditLog::open(&path, "node-test").unwrap();
    for n in 0..5 {
        append(&log, &record(n));
    }
    drop(log);

    assert_eq!(
        verify(&path),
        (
            Some(0),
            "OK: 5 lines, chain intact, written by node node-test\n".to_owned()
        )
    );

    let altered = std::fs::read_to_string(&path)
        .unwrap()
        .replacen("\"KeyId\":1", "\"KeyId\":7", 1);
    std::fs::write(&path, altered).unwrap();
    let (code, out) = verify(&path);
    assert_eq!(code, Some(1));
    assert!(out.starts_with("BROKEN at line 3: "), "{out}");
    assert!(out.contains("line 2 may have been altered"), "{out}");
}

#[test]
fn verify_fails_on_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = verify(&dir.path().join("absent.log"));
    assert_eq!((code, out.as_str()), (Some(2), ""));
}

/// Two nodes' logs are verified together, each as its own chain; changing
/// the node a line names breaks the chain like any other change, and the
/// exit status is the worst file's.
#[test]
fn every_nodes_chain_is_checked_and_names_its_node() {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<_> = ["node-a", "node-b"]
        .iter()
        .map(|node| {
            let path = dir.path().join(format!("{node}.log"));
            let log = AuditLog::open(&path, node).unwrap();
            for n in 0..3 {
                append(&log, &record(n));
            }
            path
        })
        .collect();
    let (a, b) = (paths[0].as_path(), paths[1].as_path());
    let first = std::fs::read_to_string(a).unwrap();
    assert!(
        first.lines().all(|l| l.contains("\"node\":\"node-a\"")),
        "{first}"
    );

    let (code, out) = verify_all(&[a, b]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!(
            "{}: OK: 3 lines, chain intact, written by node node-a",
            a.display()
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "{}: OK: 3 lines, chain intact, written by node node-b",
            b.display()
        )),
        "{out}"
    );

    let forged = std::fs::read_to_string(b).unwrap().replacen(
        "\"node\":\"node-b\"",
        "\"node\":\"node-a\"",
        1,
    );
    std::fs::write(b, forged).unwrap();
    let (code, out) = verify_all(&[a, b]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("node-a.log: OK"), "{out}");
    assert!(out.contains("node-b.log: BROKEN at line 2"), "{out}");
}

/// A request body nested as deep as the JSON parser allows is recorded cut
/// short, so its line stays readable and the chain intact; and a line that
/// does not fit the chain does not hide later ones that do not either.
#[test]
fn deep_bodies_keep_the_chain_readable_and_one_break_hides_no_other() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let log = AuditLog::open(&path, "node-test").unwrap();
    let deep = format!("{{\"x\":{}{}}}", "[".repeat(126), "]".repeat(126));
    for n in 0..6 {
        let mut line = record(n);
        if n == 1 {
            line.parameters = redact_json(deep.as_bytes());
        }
        append(&log, &line);
    }
    drop(log);
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(written.contains("<too deep>"), "{written}");
    assert_eq!(
        verify(&path),
        (
            Some(0),
            "OK: 6 lines, chain intact, written by node node-test\n".to_owned()
        )
    );

    let altered =
        written
            .replacen("\"KeyId\":2", "\"KeyId\":8", 1)
            .replacen("\"KeyId\":4", "\"KeyId\":9", 1);
    std::fs::write(&path, altered).unwrap();
    let (code, out) = verify(&path);
    assert_eq!(code, Some(1));
    assert!(out.starts_with("BROKEN at line 4: "), "{out}");
    assert!(out.contains("BROKEN also at 1 later line(s): 6"), "{out}");
}
