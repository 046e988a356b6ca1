//! Clusters (ADR 0016): nodes with their own data directories and their own
//! SoftHSM tokens on one store share each region's domain key by
//! enrolment, never in the clear.
//!
//! The store is one SQLite file in WAL mode (`sqlite://`), which serves
//! several processes on one machine, or with `TRENT_TEST_STORE_URL` a
//! PostgreSQL database of its own on that server.

mod common;
mod custody_proof;

use aws_sdk_kms::Client;
use common::{ALICE_AND_BOB, EAST, Server, WEST, decrypt_text, encrypt_text};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass};
use custody_proof::DomainKeyOrigin;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// A region no node hosts from the start: dev mode provisions it on first use.
const CENTRAL: &str = "eu-central-1";

/// Nodes of one cluster on this machine: a directory each under one root,
/// one configuration file, one store.
struct Cluster {
    root: TempDir,
    config: PathBuf,
    store_url: String,
}

impl Cluster {
    /// A dev-mode cluster: every node gets `config`.
    fn new(config: &str) -> Self {
        let root = TempDir::new().unwrap();
        let file = root.path().join("trent.toml");
        std::fs::write(&file, config).unwrap();
        Self::with_config(root, file)
    }

    fn with_config(root: TempDir, config: PathBuf) -> Self {
        let store_url = common::test_store_url(&root.path().join("cluster"))
            .unwrap_or_else(|| format!("sqlite://{}", root.path().join("cluster.db").display()));
        Self {
            root,
            config,
            store_url,
        }
    }

    /// Node `name`'s data directory.
    fn data(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    /// Starts node `name` on the cluster's store with `config`; returns
    /// once it listens, that is once its regions are enrolled.
    fn start(&self, name: &str, config: &Path, env: &[(&str, &str)]) -> Server {
        let mut all = vec![("TRENT_STORE_URL", self.store_url.as_str())];
        all.extend_from_slice(env);
        Server::start_configured(self.data(name), config, &all)
    }

    /// The first column of the first row of a query on the cluster's
    /// store, as text: `sqlite` on SQLite, `postgres` with `psql` on
    /// PostgreSQL.
    fn query(&self, sqlite: &str, postgres: &str) -> String {
        if self.store_url.starts_with("sqlite://") {
            let db = rusqlite::Connection::open(self.root.path().join("cluster.db")).unwrap();
            return db
                .query_row(sqlite, [], |r| {
                    r.get::<_, rusqlite::types::Value>(0).map(|v| match v {
                        rusqlite::types::Value::Integer(i) => i.to_string(),
                        rusqlite::types::Value::Text(t) => t,
                        other => panic!("unexpected value {other:?}"),
                    })
                })
                .unwrap();
        }
        self.psql(postgres)
    }

    /// Runs `sql` with `psql` on the cluster's PostgreSQL store; its
    /// unaligned output, trimmed.
    fn psql(&self, sql: &str) -> String {
        let out = Command::new("psql")
            .arg(&self.store_url)
            .args(["-v", "ON_ERROR_STOP=1", "-Atc", sql])
            .output()
            .expect("run psql");
        assert!(out.status.success(), "psql: {out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// Runs a statement on the cluster's store: `sqlite` on SQLite,
    /// `postgres` with `psql` on PostgreSQL.
    fn execute(&self, sqlite: &str, postgres: &str) {
        if self.store_url.starts_with("sqlite://") {
            let db = rusqlite::Connection::open(self.root.path().join("cluster.db")).unwrap();
            db.execute(sqlite, []).unwrap();
            return;
        }
        self.psql(postgres);
    }

    /// Replaces the public key of node `node`'s offer, in hex, leaving
    /// every other column, its fingerprint included, as it is.
    fn set_offer_public_key(&self, node: &str, hex: &str) {
        self.execute(
            &format!("UPDATE enrolments SET public_key = X'{hex}' WHERE node_id = '{node}'"),
            &format!(
                "UPDATE enrolments SET public_key = decode('{hex}', 'hex') WHERE node_id = '{node}'"
            ),
        );
    }

    /// Runs `trent ARGS` as node `name` of the cluster.
    fn trent(&self, name: &str, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_trent"));
        for (var, _) in std::env::vars_os() {
            if var.to_string_lossy().starts_with("TRENT_") {
                cmd.env_remove(var);
            }
        }
        cmd.args(args)
            .env("TRENT_DATA_DIR", self.data(name))
            .env("TRENT_STORE_URL", &self.store_url)
            .env("TRENT_LOG", "warn")
            .stdin(Stdio::null())
            .output()
            .expect("run trent")
    }
}

/// An SDK client for `region` of `node`, as alice of [`ALICE_AND_BOB`].
fn alice(node: &Server, region: &str) -> Client {
    node.client_as(region, "AKIAALICE0000000000A", "alice-secret")
}

/// A session of this test on the token labelled `label`, as its user.
fn token_session(ctx: &Pkcs11, label: &str, pin: &str) -> cryptoki::session::Session {
    custody_proof::logged_in(ctx, label, pin)
}

/// This process's SoftHSM, initialised with `conf` (once per process: only
/// one test of this binary calls it).
fn softhsm(conf: &Path) -> Pkcs11 {
    // SAFETY: set before this process initialises SoftHSM, which reads it
    // then; no other thread of this test reads the environment meanwhile.
    unsafe { std::env::set_var("SOFTHSM2_CONF", conf) };
    let ctx = Pkcs11::new(SOFTHSM).unwrap();
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    ctx
}

/// The check blob the store names for `region` unwraps under
/// `domain_key`: the token holds the region's domain key.
fn check_blob_unwraps(
    session: &cryptoki::session::Session,
    domain_key: cryptoki::object::ObjectHandle,
    check_blob: &[u8],
) {
    let key = session
        .unwrap_key(
            &Mechanism::AesKeyWrapPad,
            domain_key,
            custody_proof::wrapped_key(check_blob),
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::Token(false),
                Attribute::Sensitive(true),
                Attribute::Unwrap(false),
            ],
        )
        .expect("the store's check blob unwraps under the node's domain key");
    session.destroy_object(key).unwrap();
}

/// Dev mode: nodes started with the same configuration on one store form a
/// cluster with no other step. The second and third nodes, each on tokens
/// of their own, receive every region's domain key at start-up (answered
/// by a member, which approves automatically), and a region provisioned on
/// first use on one node when another asks for it; keys made on any node
/// work on every other; a node's received domain key is a token object that
/// only trusted keys can wrap; the store holds check blobs and no offer
/// once they are answered.
#[tokio::test(flavor = "multi_thread")]
async fn dev_mode_nodes_on_one_store_share_every_region() {
    let cluster = Cluster::new(ALICE_AND_BOB);
    let config = cluster.config.clone();
    let a = cluster.start("a", &config, &[]);
    let (a_east, a_west) = (alice(&a, EAST), alice(&a, WEST));
    let east_key = common::new_key(&a_east).await;
    let from_a = encrypt_text(&a_east, &east_key, "made on A").await;

    let b = cluster.start("b", &config, &[]);
    let (b_east, b_west) = (alice(&b, EAST), alice(&b, WEST));
    assert_eq!(decrypt_text(&b_east, &from_a).await.plaintext, "made on A");
    let from_b = encrypt_text(&b_east, &east_key, "made on B").await;
    assert_eq!(decrypt_text(&a_east, &from_b).await.plaintext, "made on B");
    let west_key = common::new_key(&b_west).await;
    let west_from_b = encrypt_text(&b_west, &west_key, "west, made on B").await;
    assert_eq!(
        decrypt_text(&a_west, &west_from_b).await.plaintext,
        "west, made on B"
    );

    let c = cluster.start("c", &config, &[]);
    let c_east = alice(&c, EAST);
    for (blob, text) in [(&from_a, "made on A"), (&from_b, "made on B")] {
        assert_eq!(decrypt_text(&c_east, blob).await.plaintext, text);
    }
    let from_c = encrypt_text(&c_east, &east_key, "made on C").await;
    assert_eq!(decrypt_text(&a_east, &from_c).await.plaintext, "made on C");

    // A region dev mode provisions on first use: A makes and names its
    // domain key; B, asked for it later, enrols into it within the request;
    // C, restarted, enrols into it at start-up (the store names it).
    let a_central = alice(&a, CENTRAL);
    let central_key = common::new_key(&a_central).await;
    let central_from_a = encrypt_text(&a_central, &central_key, "central, made on A").await;
    let b_central = alice(&b, CENTRAL);
    assert_eq!(
        decrypt_text(&b_central, &central_from_a).await.plaintext,
        "central, made on A"
    );
    c.stop();
    let c = cluster.start("c", &config, &[]);
    assert_eq!(
        decrypt_text(&alice(&c, CENTRAL), &central_from_a)
            .await
            .plaintext,
        "central, made on A"
    );

    // B's tokens, seen through this test's own PKCS#11 session: each holds
    // its region's domain key as a token object received by enrolment,
    // wrappable only under a trusted key, and it unwraps the store's check
    // blob.
    let b_data = cluster.data("b");
    let ctx = softhsm(&b_data.join("softhsm2.conf"));
    for region in [EAST, WEST, CENTRAL] {
        let pin = std::fs::read_to_string(b_data.join(format!("secrets/{region}.pin"))).unwrap();
        let session = token_session(&ctx, &format!("trent-{region}"), pin.trim());
        let key =
            custody_proof::checked_domain_key(&session, region, DomainKeyOrigin::SharedReceived);
        let blob = cluster.query(
            &format!("SELECT hex(check_blob) FROM domain_keys WHERE region = '{region}'"),
            &format!("SELECT encode(check_blob, 'hex') FROM domain_keys WHERE region = '{region}'"),
        );
        check_blob_unwraps(&session, key, &hex::decode(blob).unwrap());
    }
    let offers = "SELECT COUNT(*) FROM enrolments";
    assert_eq!(
        cluster.query(offers, offers),
        "0",
        "answered offers are deleted"
    );
}

/// Starts the named nodes of `cluster` at once (one thread each) and
/// returns them once all listen.
fn start_together(cluster: &Cluster, names: &[&str]) -> Vec<Server> {
    let starts: Vec<_> = names
        .iter()
        .map(|name| {
            let (data, config) = (cluster.data(name), cluster.config.clone());
            let store = cluster.store_url.clone();
            std::thread::spawn(move || {
                Server::start_configured(data, &config, &[("TRENT_STORE_URL", &store)])
            })
        })
        .collect();
    starts
        .into_iter()
        .map(|start| start.join().expect("node started"))
        .collect()
}

/// Three dev-mode nodes started at once on an empty store: each may create
/// a region's first domain key, one claim wins, the others discard theirs
/// and enrol, and all three serve the same keys.
#[tokio::test(flavor = "multi_thread")]
async fn dev_mode_nodes_started_together_agree_on_one_domain_key() {
    let cluster = Cluster::new(ALICE_AND_BOB);
    let nodes = start_together(&cluster, &["a", "b", "c"]);
    let key = common::new_key(&alice(&nodes[0], EAST)).await;
    let blob = encrypt_text(&alice(&nodes[0], EAST), &key, "together").await;
    for node in &nodes {
        assert_eq!(
            decrypt_text(&alice(node, EAST), &blob).await.plaintext,
            "together"
        );
    }
}

/// Two dev-mode nodes each provision a region the other never asked for,
/// then restart at once: each lacks a region only the other holds. Each
/// settles its regions in name order and, while it waits for its own
/// answer, answers the other's offer for a region it has opened, so both
/// come up (instead of waiting for each other until the enrolment wait
/// ends).
#[tokio::test(flavor = "multi_thread")]
async fn nodes_restarting_together_answer_each_other_while_they_wait() {
    const OTHER: &str = "eu-west-1";
    let cluster = Cluster::new(ALICE_AND_BOB);
    let config = cluster.config.clone();
    let a = cluster.start("a", &config, &[]);
    let b = cluster.start("b", &config, &[]);
    let central_key = common::new_key(&alice(&a, CENTRAL)).await;
    let central = encrypt_text(&alice(&a, CENTRAL), &central_key, "central").await;
    let other_key = common::new_key(&alice(&b, OTHER)).await;
    let other = encrypt_text(&alice(&b, OTHER), &other_key, "other").await;
    a.stop();
    b.stop();

    let nodes = start_together(&cluster, &["a", "b"]);
    for node in &nodes {
        assert_eq!(
            decrypt_text(&alice(node, CENTRAL), &central)
                .await
                .plaintext,
            "central"
        );
        assert_eq!(
            decrypt_text(&alice(node, OTHER), &other).await.plaintext,
            "other"
        );
    }
}

/// A node whose token holds a domain key other than the one the store
/// names for a region refuses to start, naming the region.
#[tokio::test(flavor = "multi_thread")]
async fn a_node_whose_token_holds_another_domain_key_refuses_to_start() {
    let cluster = Cluster::new(ALICE_AND_BOB);
    let config = cluster.config.clone();
    let a = cluster.start("a", &config, &[]);
    common::new_key(&alice(&a, EAST)).await;

    // D starts alone first, on a store of its own: its tokens get domain
    // keys of their own.
    let alone = Server::start_configured(cluster.data("d"), &config, &[]);
    alone.stop();
    let out = serve_until_exit(&cluster, "d", Duration::from_secs(60));
    assert!(!out.status.success(), "D started with another domain key");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "region us-east-1",
        "holds a domain key other than the one the store names",
    ] {
        assert!(stderr.contains(expected), "{expected:?} missing: {stderr}");
    }
}

/// Runs `trent serve` as node `name` of the cluster until it exits (it
/// must, within `limit`).
fn serve_until_exit(cluster: &Cluster, name: &str, limit: Duration) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trent"));
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("TRENT_") {
            cmd.env_remove(var);
        }
    }
    let mut child = cmd
        .arg("serve")
        .arg("--config")
        .arg(&cluster.config)
        .env("TRENT_DATA_DIR", cluster.data(name))
        .env("TRENT_STORE_URL", &cluster.store_url)
        .env("TRENT_LISTEN", "127.0.0.1:0")
        .env("TRENT_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("trent serve did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

/// One node's configuration with an explicit region on its own SoftHSM
/// token (label `trent-east-<name>`, in the shared token directory of
/// `conf`), and its SO PIN in `<root>/<name>.so-pin`.
fn configured_node(root: &Path, conf: &Path, name: &str) -> PathBuf {
    let label = format!("trent-east-{name}");
    let made = Command::new("softhsm2-util")
        .args(["--init-token", "--free", "--label", &label])
        .args(["--so-pin", &format!("so-pin-{name}")])
        .args(["--pin", &format!("user-pin-{name}")])
        .env("SOFTHSM2_CONF", conf)
        .output()
        .unwrap();
    assert!(made.status.success(), "softhsm2-util: {made:?}");
    std::fs::write(
        root.join(format!("{name}.so-pin")),
        format!("so-pin-{name}\n"),
    )
    .unwrap();
    let config = root.join(format!("{name}.toml"));
    std::fs::write(
        &config,
        format!(
            "node_id = \"node-{name}\"\n{ALICE_AND_BOB}\n[[regions]]\nname = \"{EAST}\"\n\
             module = \"{SOFTHSM}\"\ntoken_label = \"{label}\"\npin = \"user-pin-{name}\"\n\
             softhsm_conf = \"{}\"\n",
            conf.display()
        ),
    )
    .unwrap();
    config
}

/// The fingerprint of node `node`'s waiting offer for `region`, from
/// `trent cluster offers`, once there is one.
fn waiting_offer(cluster: &Cluster, member: &str, config: &Path, node: &str) -> String {
    let start = Instant::now();
    loop {
        let out = cluster.trent(
            member,
            &["cluster", "offers", "--config", config.to_str().unwrap()],
        );
        assert!(out.status.success(), "cluster offers: {out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if let Some(line) = stdout.lines().find(|l| l.contains(node)) {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields[0], EAST, "{line}");
            assert_eq!(fields[4], "waiting for approval", "{line}");
            return fields[2].to_string();
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no offer from {node}: {stdout}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Configured regions: the first node makes a shareable domain key with
/// `trent init-domain-key --shareable`; a second node's token cannot get a
/// key of its own (`init-domain-key` refuses: the store names one), and
/// its offer stays unanswered until an operator approves it on the member
/// with `trent cluster approve` and the fingerprint the offer has; a wrong
/// fingerprint is refused. Then the second node starts and uses the first
/// one's keys.
#[tokio::test(flavor = "multi_thread")]
async fn a_configured_node_joins_once_its_offer_is_approved() {
    let root = TempDir::new().unwrap();
    let tokens = root.path().join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    let conf = root.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!("directories.tokendir = {}\n", tokens.display()),
    )
    .unwrap();
    let a_config = configured_node(root.path(), &conf, "a");
    let b_config = configured_node(root.path(), &conf, "b");
    let cluster = Cluster::with_config(root, a_config.clone());
    let (a_toml, b_toml) = (a_config.to_str().unwrap(), b_config.to_str().unwrap());

    let init = |name: &str, toml: &str| {
        cluster.trent(
            name,
            &[
                "init-domain-key",
                "--config",
                toml,
                "--region",
                EAST,
                "--shareable",
            ],
        )
    };
    let out = init("a", a_toml);
    assert!(out.status.success(), "init-domain-key on A: {out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("created the domain key (shareable)"),
        "{out:?}"
    );
    let out = init("b", b_toml);
    assert!(!out.status.success(), "B made a second domain key");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("joins by enrolment"),
        "{out:?}"
    );

    let a = cluster.start("a", &a_config, &[]);
    let a_east = alice(&a, EAST);
    let key = common::new_key(&a_east).await;
    let from_a = encrypt_text(&a_east, &key, "made on A").await;

    let b_start = {
        let (data, store) = (cluster.data("b"), cluster.store_url.clone());
        let config = b_config.clone();
        std::thread::spawn(move || {
            Server::start_configured(
                data,
                &config,
                &[
                    ("TRENT_STORE_URL", &store),
                    ("TRENT_ENROLMENT_WAIT_SECS", "120"),
                ],
            )
        })
    };
    let fingerprint = waiting_offer(&cluster, "a", &a_config, "node-b");
    let approve = |fingerprint: &str| {
        let so_pin = cluster.root.path().join("a.so-pin");
        cluster.trent(
            "a",
            &[
                "cluster",
                "approve",
                "--config",
                a_toml,
                "--region",
                EAST,
                "--node",
                "node-b",
                "--fingerprint",
                fingerprint,
                "--so-pin-file",
                so_pin.to_str().unwrap(),
            ],
        )
    };
    // A store writer puts a public key of their own in the offer and leaves
    // its fingerprint column alone: the fingerprint the node logged no
    // longer approves it, and the offer is listed as altered.
    let posted = cluster.query(
        "SELECT hex(public_key) FROM enrolments WHERE node_id = 'node-b'",
        "SELECT encode(public_key, 'hex') FROM enrolments WHERE node_id = 'node-b'",
    );
    let mut substitute = posted.to_ascii_lowercase();
    let last = substitute.split_off(substitute.len() - 2);
    substitute.push_str(if last == "03" { "01" } else { "03" });
    cluster.set_offer_public_key("node-b", &substitute);
    let out = approve(&fingerprint);
    assert!(
        !out.status.success(),
        "a substituted public key was approved"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refused") && stderr.contains("altered in the store"),
        "{stderr}"
    );
    let listed = cluster.trent("a", &["cluster", "offers", "--config", a_toml]);
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(
        listed.contains("ALTERED") && !listed.contains(&fingerprint),
        "{listed}"
    );
    assert_eq!(
        cluster.query(
            "SELECT count(*) FROM enrolments WHERE approved_by IS NOT NULL",
            "SELECT count(*) FROM enrolments WHERE approved_by IS NOT NULL",
        ),
        "0"
    );
    cluster.set_offer_public_key("node-b", &posted);

    let wrong = "00".repeat(32);
    let out = approve(&wrong);
    assert!(!out.status.success(), "a wrong fingerprint was approved");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refused") && stderr.contains(&fingerprint),
        "{stderr}"
    );

    // Unapproved, the offer stays unanswered through A's job runs.
    let ticks = a.job_ticks();
    assert!(common::eventually(Duration::from_secs(30), || a
        .job_ticks()
        >= ticks + 3));
    assert_eq!(
        waiting_offer(&cluster, "a", &a_config, "node-b"),
        fingerprint
    );
    assert!(!b_start.is_finished(), "B started without approval");

    let out = approve(&fingerprint);
    assert!(out.status.success(), "approve: {out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("approved the enrolment offer of node node-b"),
        "{out:?}"
    );
    let b = b_start.join().expect("B started once approved");
    let b_east = alice(&b, EAST);
    assert_eq!(decrypt_text(&b_east, &from_a).await.plaintext, "made on A");
    let from_b = encrypt_text(&b_east, &key, "made on B").await;
    assert_eq!(decrypt_text(&a_east, &from_b).await.plaintext, "made on B");

    // Both tokens sit in one token directory here: A's key was generated
    // shareable, B's received.
    let ctx = softhsm(&conf);
    for (name, origin) in [
        ("a", DomainKeyOrigin::SharedGenerated),
        ("b", DomainKeyOrigin::SharedReceived),
    ] {
        let session = token_session(
            &ctx,
            &format!("trent-east-{name}"),
            &format!("user-pin-{name}"),
        );
        custody_proof::checked_domain_key(&session, EAST, origin);
    }
}
