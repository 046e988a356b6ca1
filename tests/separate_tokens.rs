//! Two regions on two separately configured SoftHSM modules, each with its
//! own token directory: multi-Region keys move between them only through the
//! transport exchange, and neither token directory gains the other's files.

mod common;
mod custody_proof;

use aws_sdk_kms::Client;
use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeyState, MultiRegionKeyType};
use common::{Decrypted, current_material, decrypt_text, encrypt_text, error_code};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use tempfile::TempDir;

const WEST: &str = "eu-west-1";
const CENTRAL: &str = "eu-central-1";
const SOFTHSM_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// One region's token: its directory, SoftHSM configuration and module copy.
struct Token {
    region: &'static str,
    label: String,
    pin: &'static str,
    dir: PathBuf,
    conf: PathBuf,
    module: PathBuf,
}

impl Token {
    /// Makes the token directory and configuration, copies the module and
    /// initialises one token with `softhsm2-util`.
    fn create(root: &Path, region: &'static str, pin: &'static str) -> Self {
        let base = root.join(region);
        let dir = base.join("tokens");
        std::fs::create_dir_all(&dir).unwrap();
        let conf = base.join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                dir.display()
            ),
        )
        .unwrap();
        // A separate copy per region, so each is loaded and initialised on
        // its own with its own SOFTHSM2_CONF.
        let module = base.join("libsofthsm2.so");
        std::fs::copy(SOFTHSM_MODULE, &module).expect("copy the SoftHSM module");
        let label = format!("trent-{region}");
        let out = Command::new("softhsm2-util")
            .args(["--init-token", "--free", "--label", &label])
            .args(["--so-pin", "so-secret-1", "--pin", pin])
            .env("SOFTHSM2_CONF", &conf)
            .output()
            .expect("run softhsm2-util");
        assert!(
            out.status.success(),
            "softhsm2-util for {region}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Token {
            region,
            label,
            pin,
            dir,
            conf,
            module,
        }
    }

    fn toml(&self) -> String {
        format!(
            "[[regions]]\nname = \"{}\"\nmodule = \"{}\"\ntoken_label = \"{}\"\npin = \"{}\"\n\
             softhsm_conf = \"{}\"\n",
            self.region,
            self.module.display(),
            self.label,
            self.pin,
            self.conf.display()
        )
    }

    /// The token subdirectories (SoftHSM names one per token).
    fn token_subdirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        dirs
    }

    /// Every file under the token directory, relative to it.
    fn files(&self) -> BTreeSet<PathBuf> {
        fn walk(dir: &Path, root: &Path, out: &mut BTreeSet<PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, root, out);
                } else {
                    out.insert(path.strip_prefix(root).unwrap().to_path_buf());
                }
            }
        }
        let mut out = BTreeSet::new();
        walk(&self.dir, &self.dir, &mut out);
        out
    }

    /// Object files of the token other than the token's own.
    fn objects(&self) -> Vec<PathBuf> {
        self.files()
            .into_iter()
            .filter(|f| {
                f.extension().is_some_and(|e| e == "object")
                    && f.file_name().is_some_and(|n| n != "token.object")
            })
            .collect()
    }
}

/// A `trent serve --config FILE` process.
struct ConfiguredServer {
    child: Child,
    addr: SocketAddr,
    /// Access key id and secret of the `[default]` profile the server wrote
    /// to `<data_dir>/credentials` on first start.
    credentials: (String, String),
}

/// The `[default]` access key of an AWS shared-credentials file.
fn default_profile(path: &Path) -> (String, String) {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("credentials file {}: {e}", path.display()));
    let (mut in_default, mut key, mut secret) = (false, None, None);
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_default = line == "[default]";
        } else if let (true, Some((k, v))) = (in_default, line.split_once('=')) {
            match k.trim() {
                "aws_access_key_id" => key = Some(v.trim().to_string()),
                "aws_secret_access_key" => secret = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    (
        key.expect("aws_access_key_id"),
        secret.expect("aws_secret_access_key"),
    )
}

impl ConfiguredServer {
    fn start(config: &Path, data_dir: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_trent"))
            .arg("serve")
            .arg("--config")
            .arg(config)
            .env("TRENT_LISTEN", "127.0.0.1:0")
            .env("TRENT_JOB_INTERVAL_SECS", "1")
            .env("TRENT_SESSIONS_PER_REGION", "4")
            .env("TRENT_LOG", "warn")
            .env_remove("SOFTHSM2_CONF")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn trent");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read listen line");
        let addr = line
            .trim()
            .strip_prefix("trent listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line from trent: {line:?}"))
            .parse()
            .expect("listen address");
        ConfiguredServer {
            child,
            addr,
            credentials: default_profile(&data_dir.join("credentials")),
        }
    }

    fn client(&self, region: &str) -> Client {
        let http = aws_smithy_http_client::Builder::new().build_http();
        let config = aws_sdk_kms::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .credentials_provider(Credentials::new(
                &self.credentials.0,
                &self.credentials.1,
                None,
                None,
                "test",
            ))
            .endpoint_url(format!("http://{}", self.addr))
            .http_client(http)
            .build();
        Client::from_conf(config)
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for ConfiguredServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn regions_on_separate_token_directories() {
    let root = TempDir::new().unwrap();
    let west = Token::create(root.path(), WEST, "west-user-pin");
    let central = Token::create(root.path(), CENTRAL, "central-user-pin");
    let (west_subdirs, central_subdirs) = (west.token_subdirs(), central.token_subdirs());
    assert_eq!(west_subdirs.len(), 1);
    assert_eq!(central_subdirs.len(), 1);
    assert!(west.objects().is_empty() && central.objects().is_empty());

    let data_dir = root.path().join("data");
    let config = root.path().join("trent.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\ndefault_region = \"{WEST}\"\n\n{}\n{}",
            data_dir.display(),
            west.toml(),
            central.toml()
        ),
    )
    .unwrap();
    init_domain_key(&config, WEST);
    init_domain_key(&config, CENTRAL);

    let server = ConfiguredServer::start(&config, &data_dir);
    let kms_west = server.client(WEST);
    let kms_central = server.client(CENTRAL);
    // Only the configured regions are hosted. (AWS refuses a signature
    // scoped to a region the endpoint does not serve.)
    let unhosted = error_code(server.client("us-east-1").create_key().send().await);
    assert!(
        ["UnrecognizedClientException", "InvalidSignatureException"].contains(&unhosted.as_str()),
        "{unhosted}"
    );

    let id = kms_west
        .create_key()
        .multi_region(true)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let replica = kms_west
        .replicate_key()
        .key_id(&id)
        .replica_region(CENTRAL)
        .send()
        .await
        .unwrap_or_else(|e| panic!("ReplicateKey across tokens: {e:?}"))
        .replica_key_metadata
        .unwrap();
    let config_of = replica.multi_region_configuration.unwrap();
    assert_eq!(
        config_of.multi_region_key_type,
        Some(MultiRegionKeyType::Replica)
    );
    assert_eq!(config_of.primary_key.unwrap().region.as_deref(), Some(WEST));
    assert_eq!(replica.key_state, Some(KeyState::Enabled));

    // (plaintext, ciphertext, material) made in either region.
    let mut made: Vec<(String, Vec<u8>, String)> = Vec::new();
    for round in 0..3 {
        if round > 0 {
            kms_west
                .rotate_key_on_demand()
                .key_id(&id)
                .send()
                .await
                .unwrap_or_else(|e| panic!("rotation across tokens: {e:?}"));
        }
        let material = current_material(&kms_west, &id).await;
        assert_eq!(current_material(&kms_central, &id).await, material);
        for (region, kms) in [(WEST, &kms_west), (CENTRAL, &kms_central)] {
            let text = format!("round {round} in {region}");
            made.push((
                text.clone(),
                encrypt_text(kms, &id, &text).await,
                material.clone(),
            ));
        }
        for (text, blob, material) in &made {
            for kms in [&kms_west, &kms_central] {
                let Decrypted {
                    plaintext: plain,
                    material: used,
                    ..
                } = decrypt_text(kms, blob).await;
                assert_eq!(&plain, text);
                assert_eq!(&used, material);
            }
        }
    }
    let materials: BTreeSet<&String> = made.iter().map(|m| &m.2).collect();
    assert_eq!(materials.len(), 3);

    // A key of one region alone stays there.
    let local = common::new_key(&kms_central).await;
    let blob = encrypt_text(&kms_central, &local, "central only").await;
    assert_eq!(
        decrypt_text(&kms_central, &blob).await.plaintext,
        "central only"
    );
    assert_eq!(
        error_code(
            kms_west
                .decrypt()
                .ciphertext_blob(Blob::new(blob))
                .send()
                .await
        ),
        "InvalidCiphertextException"
    );

    server.stop();

    // Each token directory still holds exactly its own token, and each token
    // gained its own domain key and row-tags marker (ADR 0025): neither
    // region used the other's token.
    assert_eq!(west.token_subdirs(), west_subdirs);
    assert_eq!(central.token_subdirs(), central_subdirs);
    assert_eq!(
        west.objects().len(),
        2,
        "{WEST} token objects: {:?}",
        west.files()
    );
    assert_eq!(
        central.objects().len(),
        2,
        "{CENTRAL} token objects: {:?}",
        central.files()
    );
    eprintln!(
        "{WEST} token files: {:?}\n{CENTRAL} token files: {:?}",
        west.files(),
        central.files()
    );
    let west_names: BTreeSet<_> = west.files();
    let central_names: BTreeSet<_> = central.files();
    assert!(
        west_names.is_disjoint(&central_names),
        "token directories share files: {:?}",
        west_names.intersection(&central_names).collect::<Vec<_>>()
    );
    // Nothing was written to the data directory but the database and
    // credentials: no tokens of a dev-mode fallback.
    assert!(!data_dir.join("tokens").exists());
    assert!(data_dir.join("trent.db").exists());

    // A restart on the same configuration reopens both tokens.
    let server = ConfiguredServer::start(&config, &data_dir);
    for (text, blob, material) in &made {
        for region in [WEST, CENTRAL] {
            let Decrypted {
                plaintext: plain,
                material: used,
                ..
            } = decrypt_text(&server.client(region), blob).await;
            assert_eq!(&plain, text);
            assert_eq!(&used, material);
        }
    }
    server.stop();

    // Through each region's own module copy, loaded in this process: the
    // domain key `trent init-domain-key` made is sensitive and never
    // extractable, and every material the region stored (generated there
    // or brought by the transport exchange) is a key wrapped under it,
    // which this test unwraps and decrypts the server's ciphertexts with.
    let db = rusqlite::Connection::open(data_dir.join("trent.db")).unwrap();
    for token in [&west, &central] {
        // SoftHSM reads SOFTHSM2_CONF at C_Initialize; each copy is
        // initialised once, and nothing else in this binary reads it.
        unsafe { std::env::set_var("SOFTHSM2_CONF", &token.conf) };
        let ctx = Pkcs11::new(&token.module).unwrap();
        ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .unwrap();
        let session = custody_proof::logged_in(&ctx, &token.label, token.pin);
        let domain_key = custody_proof::checked_domain_key(
            &session,
            token.region,
            custody_proof::DomainKeyOrigin::SingleNode,
        );
        for (text, blob, _) in &made {
            let plain = custody_proof::decrypt_from_store(
                &session,
                domain_key,
                &db,
                token.region,
                blob,
                &Default::default(),
            );
            assert_eq!(plain, text.as_bytes());
        }
    }
}

/// Creates the domain key on `region`'s configured token with
/// `trent init-domain-key`, as an operator does once per new token.
fn init_domain_key(config: &Path, region: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_trent"))
        .arg("init-domain-key")
        .arg("--config")
        .arg(config)
        .args(["--region", region])
        .env("TRENT_LOG", "warn")
        .env_remove("SOFTHSM2_CONF")
        .stdin(Stdio::null())
        .output()
        .expect("run trent init-domain-key");
    assert!(
        out.status.success(),
        "init-domain-key {region}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `trent serve --config FILE`, expecting it to refuse to start;
/// returns what it wrote to stderr.
fn start_refused(config: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_trent"))
        .arg("serve")
        .arg("--config")
        .arg(config)
        .env("TRENT_LISTEN", "127.0.0.1:0")
        .env("TRENT_LOG", "warn")
        .env_remove("SOFTHSM2_CONF")
        .stdin(Stdio::null())
        .output()
        .expect("run trent");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && !stdout.contains("listening"),
        "trent started: {stdout}"
    );
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// One module file cannot serve two SoftHSM configurations: a module is
/// initialised once per process. Whether the same path or another path to
/// the same file is given, the server refuses to start instead of opening
/// a region's token from the wrong token directory.
#[tokio::test(flavor = "multi_thread")]
async fn one_module_with_two_configurations_is_refused() {
    let root = TempDir::new().unwrap();
    let west = Token::create(root.path(), WEST, "west-user-pin");
    let mut central = Token::create(root.path(), CENTRAL, "central-user-pin");
    let write_config = |central: &Token, name: &str| {
        let config = root.path().join(name);
        std::fs::write(
            &config,
            format!(
                "data_dir = \"{}\"\ndefault_region = \"{WEST}\"\n\n{}\n{}",
                root.path().join("data").display(),
                west.toml(),
                central.toml()
            ),
        )
        .unwrap();
        config
    };

    // The eu-west-1 token opens; eu-central-1's module is the one refused.
    init_domain_key(&write_config(&central, "valid.toml"), WEST);

    // The same path for both regions.
    central.module = west.module.clone();
    let stderr = start_refused(&write_config(&central, "same-path.toml"));
    assert!(
        stderr.contains("softhsm_conf"),
        "the refusal should say why: {stderr}"
    );

    // Another path (a symbolic link) to the same file.
    let link = root.path().join("link-to-west-module.so");
    std::os::unix::fs::symlink(&west.module, &link).unwrap();
    central.module = link;
    let stderr = start_refused(&write_config(&central, "symlink.toml"));
    eprintln!("symlinked module refused with: {stderr}");

    // Neither attempt touched the eu-central-1 token.
    assert!(
        central.objects().is_empty(),
        "{CENTRAL} token gained objects: {:?}",
        central.files()
    );
}
