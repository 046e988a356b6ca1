//! The `trent` binary answers `getpid` itself (ADR 0023): SoftHSM's per-call
//! fork check binds to the binary's cached id, not to glibc's system call.
//! glibc's dynamic linker reports each symbol binding under
//! `LD_DEBUG=bindings`; the test reads that report.

mod common;

use common::*;
use std::path::Path;

/// The lines of the linker's binding reports under `dir` that bind
/// `getpid` for a SoftHSM module, and what they bind it to.
fn softhsm_getpid_bindings(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("report directory")
        .flat_map(|entry| {
            let text = std::fs::read_to_string(entry.expect("report").path()).expect("report");
            text.lines()
                .filter(|l| l.contains("softhsm2") && l.contains("symbol `getpid'"))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn softhsm_asks_trent_for_the_process_id() {
    let reports = tempfile::TempDir::new().expect("temp dir");
    let output = reports.path().join("ld");
    let server = Server::start_with_env(&[
        ("LD_DEBUG", "bindings"),
        ("LD_DEBUG_OUTPUT", output.to_str().expect("UTF-8 path")),
    ]);
    let kms = server.client(EAST);
    let key = new_key(&kms).await;
    let blob = encrypt_text(&kms, &key, "fork check").await;
    assert_eq!(decrypt_text(&kms, &blob).await.plaintext, "fork check");

    let bindings = softhsm_getpid_bindings(reports.path());
    assert!(
        !bindings.is_empty(),
        "the linker reported no binding of getpid for SoftHSM"
    );
    for line in &bindings {
        let target = line
            .split(" to ")
            .nth(1)
            .and_then(|t| t.split_whitespace().next())
            .unwrap_or_else(|| panic!("no binding target in {line:?}"));
        assert!(
            target.ends_with("/trent"),
            "SoftHSM's getpid bound to {target}, not to the trent binary: {line}"
        );
    }
}
