//! TLS to PostgreSQL (#15): a node reaches a server that accepts only TLS
//! when its certificate chains to `store_ca_file` and names the URL's
//! host, whatever `sslmode` asks for short of `disable`; it refuses to
//! start otherwise, saying why. Runs its own PostgreSQL server, in the
//! PostgreSQL pass of `.ci/run` only.

mod common;

use common::postgres::PrivatePostgres;
use common::{EAST, Server, decrypt_text, encrypt_text, new_key};
use std::path::Path;
use std::process::Command;
use tempfile::TempDir;

/// A certificate authority, and a PostgreSQL server with a certificate it
/// issued for `localhost` only, accepting TLS connections only; `None`
/// outside the PostgreSQL pass.
fn tls_server(dir: &Path) -> Option<PrivatePostgres> {
    if std::env::var_os("TRENT_TEST_STORE_URL").is_none() {
        eprintln!("skipped: TRENT_TEST_STORE_URL is not set (the PostgreSQL pass runs it)");
        return None;
    }
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    PrivatePostgres::start_tls(&server.pem(), &server_key.serialize_pem())
}

/// `trent serve` on `url` with `ca_file`, expected to stop at start-up:
/// its standard error.
fn refused_start(url: &str, ca_file: Option<&Path>) -> String {
    let data = TempDir::new().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trent"));
    cmd.arg("serve")
        .env("TRENT_DATA_DIR", data.path().join("data"))
        .env("TRENT_LISTEN", "127.0.0.1:0")
        .env("TRENT_STORE_URL", url);
    if let Some(file) = ca_file {
        cmd.env("TRENT_STORE_CA_FILE", file);
    }
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "started on {url}");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!("refused {url}: {stderr}");
    stderr
}

#[tokio::test(flavor = "multi_thread")]
async fn the_store_is_reached_over_verified_tls_only() {
    let dir = TempDir::new().unwrap();
    let Some(postgres) = tls_server(dir.path()) else {
        return;
    };
    let ca = dir.path().join("ca.pem");
    let port = postgres.url().rsplit(':').next().unwrap().to_string();
    let port = port.split('/').next().unwrap();
    let by_name = format!("postgres://postgres@localhost:{port}/postgres");

    // The server takes TLS only, so a node that serves used it: with the
    // default sslmode (prefer), and with each mode that demands it. One
    // node, restarted with each URL, keeps serving what it made before.
    let ca_file = ca.to_string_lossy();
    let mut node: Option<common::DataDir> = None;
    let mut made: Vec<(Vec<u8>, String)> = Vec::new();
    for mode in [
        "",
        "?sslmode=require",
        "?sslmode=verify-ca",
        "?sslmode=verify-full",
    ] {
        let url = format!("{by_name}{mode}");
        let env = [
            ("TRENT_STORE_URL", url.as_str()),
            ("TRENT_STORE_CA_FILE", ca_file.as_ref()),
        ];
        let server = match node.take() {
            None => Server::start_with_env(&env),
            Some(data) => Server::restart_with_env(data, &env),
        };
        let kms = server.client(EAST);
        let key = new_key(&kms).await;
        made.push((encrypt_text(&kms, &key, &url).await, url.clone()));
        for (blob, text) in &made {
            assert_eq!(&decrypt_text(&kms, blob).await.plaintext, text, "on {url}");
        }
        assert_eq!(server.get("/readyz"), (200, "ready\n".into()));
        node = Some(server.stop());
    }

    // Not trusted: the system's roots do not hold the test's authority.
    let stderr = refused_start(&format!("{by_name}?sslmode=require"), None);
    assert!(
        stderr.contains("invalid peer certificate: UnknownIssuer"),
        "{stderr}"
    );
    // Trusted, but not issued for the host the URL names (`require`, which
    // libpq would not check so, is checked in full).
    let by_address = format!("postgres://postgres@127.0.0.1:{port}/postgres?sslmode=require");
    let stderr = refused_start(&by_address, Some(&ca));
    assert!(
        stderr.contains("certificate not valid for name"),
        "{stderr}"
    );
    // No TLS asked for: the server refuses the connection.
    let stderr = refused_start(&format!("{by_name}?sslmode=disable"), Some(&ca));
    assert!(stderr.contains("no pg_hba.conf entry"), "{stderr}");
}
