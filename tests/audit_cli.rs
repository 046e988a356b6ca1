//! `trent audit verify FILE` on an intact and an altered log.

use std::path::Path;
use std::process::{Command, Output};
use std::time::SystemTime;
use trent::audit::{AuditLog, AuditRecord, redact, timestamp};

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

fn verify(path: &Path) -> (Option<i32>, String) {
    let Output { status, stdout, .. } = Command::new(env!("CARGO_BIN_EXE_trent"))
        .args(["audit", "verify"])
        .arg(path)
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
    let log = AuditLog::open(&path).unwrap();
    for n in 0..5 {
        log.append(&record(n)).unwrap();
    }
    drop(log);

    assert_eq!(
        verify(&path),
        (Some(0), "OK: 5 lines, chain intact\n".to_owned())
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
