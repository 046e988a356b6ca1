//! The server holds the PIN, unwrapped keys (SoftHSM runs in its process)
//! and plaintexts in flight: it turns core dumps off before it reads any
//! of them, and its running process allows no core file.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_server_allows_no_core_file() {
    let server = Server::start();
    // Serving: the PIN has been read and the tokens opened.
    server.client("us-east-1").list_keys().send().await.unwrap();
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid())).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap_or_else(|| panic!("no core limit in {limits}"));
    let values: Vec<&str> = core.split_whitespace().skip(4).take(2).collect();
    assert_eq!(values, ["0", "0"], "{core}");
}
