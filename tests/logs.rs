//! The log's format: `TRENT_LOG_FORMAT=json` writes only JSON lines, and
//! the lines a request logs (also while its answer is made) carry its id,
//! the `x-amzn-RequestId` header's; an unknown format stops start-up.

mod common;

use aws_sdk_kms::operation::RequestId;
use common::Server;

/// A region no server hosts at start: the first request for it provisions
/// it, which logs at `info` inside the request.
const NEW_REGION: &str = "eu-central-1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_lines_carry_the_request_id_of_the_request_that_logged_them() {
    let server = Server::start_logged(&[("TRENT_LOG_FORMAT", "json")]);
    let out = server
        .client(NEW_REGION)
        .create_key()
        .send()
        .await
        .expect("CreateKey");
    let request_id = out.request_id().expect("x-amzn-RequestId").to_string();
    let log = server.log();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let of_the_request: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|line| line.to_string().contains(NEW_REGION))
        .collect();
    assert!(
        of_the_request
            .iter()
            .any(|line| line["fields"]["message"] == "created the region's domain key"),
        "{log}"
    );
    for line in of_the_request {
        assert_eq!(line["span"]["name"], "request", "{line}");
        assert_eq!(line["span"]["id"], request_id.as_str(), "{line}");
    }

    // An operation that panics: the panic, and the internal error logged
    // while its answer is made, carry the request's id.
    server.raw("/_trent/test/panic", &[], b"");
    let failed = server
        .client(NEW_REGION)
        .list_keys()
        .send()
        .await
        .expect_err("the operation panics");
    let request_id = failed.request_id().expect("x-amzn-RequestId").to_string();
    let log = server.log();
    for message in ["panic", "operation panicked", "internal error"] {
        let line = log
            .lines()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
            .find(|line| line["fields"]["message"] == message)
            .unwrap_or_else(|| panic!("no {message:?} line: {log}"));
        assert_eq!(line["span"]["id"], request_id.as_str(), "{line}");
    }
    assert!(log.contains(r#""what":"panic requested through /_trent/test/panic""#));
    // The suite's build says, at start, that it must not be deployed.
    let warned = lines.iter().any(|line| {
        line["level"] == "WARN"
            && line["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("test-clock") && m.contains("never deploy"))
    });
    assert!(warned, "{log}");
}

#[test]
fn an_unknown_format_stops_start_up_saying_why() {
    let dir = tempfile::TempDir::new().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trent"))
        .arg("serve")
        .env("TRENT_DATA_DIR", dir.path().join("data"))
        .env("TRENT_LISTEN", "127.0.0.1:0")
        .env("TRENT_LOG_FORMAT", "xml")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("LOG_FORMAT") && stderr.contains("xml") && stderr.contains("json"),
        "{stderr}"
    );
    assert!(!dir.path().join("data").exists());
}
