//! Custody: the token's object count does not grow with the number of keys,
//! and no key material is stored in the clear.

mod common;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use common::Server;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::object::Attribute;
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use std::path::Path;

/// Counts the persistent objects on a dev-mode region's token, logged in as
/// the user, through the token's own PKCS#11 module.
fn token_object_count(ctx: &Pkcs11, data: &Path, region: &str) -> usize {
    let label = format!("trent-{region}");
    let slot = ctx
        .get_slots_with_initialized_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label().trim_end() == label)
        .expect("token present");
    let pin = std::fs::read_to_string(data.join(format!("secrets/{region}.pin"))).unwrap();
    let session = ctx.open_ro_session(slot).unwrap();
    session
        .login(UserType::User, Some(&AuthPin::from(pin.trim().to_string())))
        .unwrap();
    let count = session
        .find_objects(&[Attribute::Token(true)])
        .unwrap()
        .len();
    session.logout().unwrap();
    count
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_keys_leave_the_token_object_count_unchanged() {
    let server = Server::start();
    let data = server.data_dir().to_path_buf();
    // SoftHSM reads its configuration at C_Initialize; this test binary has
    // no other PKCS#11 user, and no other thread is touching the environment.
    unsafe { std::env::set_var("SOFTHSM2_CONF", data.join("softhsm2.conf")) };
    let ctx = Pkcs11::new("/usr/lib/softhsm/libsofthsm2.so").unwrap();
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();

    let before = token_object_count(&ctx, &data, "us-east-1");
    assert_eq!(
        before, 2,
        "a fresh token holds just its domain key and its row-tags marker"
    );

    let kms = server.client("us-east-1");
    let mut blobs = Vec::new();
    for i in 0..200 {
        let id = common::new_key(&kms).await;
        if i % 20 == 0 {
            let blob = kms
                .encrypt()
                .key_id(&id)
                .plaintext(Blob::new(format!("key {i}").into_bytes()))
                .send()
                .await
                .unwrap()
                .ciphertext_blob
                .unwrap();
            blobs.push((i, blob));
        }
    }
    let after = token_object_count(&ctx, &data, "us-east-1");
    assert_eq!(after, before, "token objects grew with the number of keys");
    assert_eq!(
        kms.list_keys()
            .limit(1000)
            .send()
            .await
            .unwrap()
            .keys
            .unwrap()
            .len(),
        200
    );
    for (i, blob) in blobs {
        let out = kms.decrypt().ciphertext_blob(blob).send().await.unwrap();
        assert_eq!(
            out.plaintext.unwrap().as_ref(),
            format!("key {i}").as_bytes()
        );
    }
}

/// The stored blob is a wrapped AES-256 key with the header naming its
/// wrapping, and survives a restart, as does a blob from before the header. That it is the key wrapped under the domain key, and nothing
/// else, is proven through PKCS#11 in tests/custody_pkcs11.rs.
#[tokio::test(flavor = "multi_thread")]
async fn store_holds_only_wrapped_material() {
    let server = Server::start();
    let kms = server.client("us-east-1");
    let id = common::new_key(&kms).await;
    let data = server.stop();
    let db = rusqlite::Connection::open(data.path.join("trent.db")).unwrap();
    let wrapped: Vec<u8> = db
        .query_row(
            "SELECT wrapped FROM key_materials WHERE key_id = ?1",
            [&id],
            |r| r.get(0),
        )
        .unwrap();
    // A 4-byte header naming the wrapping (RFC 5649 on SoftHSM), then the
    // 40 bytes that AES key wrap with padding makes of a 32-byte key.
    assert_eq!(&wrapped[..4], b"TW\x01\x01");
    assert_eq!(wrapped.len(), 44);
    // A data directory from before the header holds the 40 bytes alone;
    // they still unwrap (tests/store_tampering.rs, whose rows from before
    // row tags can have them).
}

/// An asymmetric key's row in `trent.db`: its private key only wrapped
/// (the header, then ciphertext in which no PKCS#8 structure shows), its
/// public key in the clear and equal to GetPublicKey's answer.
#[tokio::test(flavor = "multi_thread")]
async fn store_holds_private_keys_only_wrapped() {
    if !common::key_pairs_served() {
        return;
    }
    let server = Server::start();
    let kms = server.client("us-east-1");
    // PKCS#8's algorithm identifiers: id-ecPublicKey and rsaEncryption.
    let specs = [
        (
            KeySpec::EccNistP256,
            &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01][..],
        ),
        (
            KeySpec::Rsa2048,
            &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01][..],
        ),
    ];
    let mut keys = Vec::new();
    for (spec, oid) in specs {
        let id = kms
            .create_key()
            .key_spec(spec)
            .key_usage(KeyUsageType::SignVerify)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .key_id;
        let public = kms
            .get_public_key()
            .key_id(&id)
            .send()
            .await
            .unwrap()
            .public_key
            .unwrap()
            .into_inner();
        keys.push((id, oid, public));
    }
    let data = server.stop();
    let db = rusqlite::Connection::open(data.path.join("trent.db")).unwrap();
    for (id, oid, public) in keys {
        let (wrapped, stored_public): (Vec<u8>, Vec<u8>) = db
            .query_row(
                "SELECT wrapped, public_key FROM key_materials WHERE key_id = ?1",
                [&id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(&wrapped[..4], b"TW\x01\x01", "{id}: an RFC 5649 blob");
        assert!(
            !wrapped.windows(oid.len()).any(|w| w == oid),
            "{id}: no PKCS#8 in the clear"
        );
        assert_eq!(
            stored_public, public,
            "{id}: the public key as GetPublicKey gives it"
        );
    }
}

/// With a session-object cache far smaller than the number of keys, keys
/// used once are unwrapped for one use and destroyed, and keys in steady use
/// are admitted; every key keeps working.
#[tokio::test(flavor = "multi_thread")]
async fn a_tiny_key_cache_serves_many_keys_correctly() {
    let server = Server::start_with_env(&[("TRENT_KEY_CACHE_CAPACITY", "2")]);
    let kms = server.client("us-east-1");
    let mut keys = Vec::new();
    for _ in 0..6 {
        keys.push(common::new_key(&kms).await);
    }
    for round in 0..4 {
        for (i, key) in keys.iter().enumerate() {
            let text = format!("round {round} key {i}");
            let blob = kms
                .encrypt()
                .key_id(key)
                .plaintext(Blob::new(text.clone().into_bytes()))
                .send()
                .await
                .unwrap()
                .ciphertext_blob
                .unwrap();
            let out = kms.decrypt().ciphertext_blob(blob).send().await.unwrap();
            assert_eq!(out.plaintext.unwrap().as_ref(), text.as_bytes());
        }
    }
}

/// A sample of the server's `/metrics`, 0 when absent.
fn metric(server: &Server, series: &str) -> f64 {
    let (status, body) = server.get("/metrics");
    assert_eq!(status, 200, "{body}");
    common::metric_samples(&body)
        .get(series)
        .copied()
        .unwrap_or(0.0)
}

/// The key caches of all regions share one capacity: keys in steady use in
/// one region take the room an idle region's keys held, and the caches
/// never hold more than the capacity together.
#[tokio::test(flavor = "multi_thread")]
async fn regions_share_one_key_cache_capacity() {
    let server = Server::start_with_env(&[("TRENT_KEY_CACHE_CAPACITY", "3")]);
    let (east, west) = (server.client(common::EAST), server.client(common::WEST));
    let cached = || metric(&server, "trent_session_object_cache_size");
    let misses = || {
        metric(
            &server,
            "trent_session_object_cache_lookups_total{cache=\"keys\",result=\"miss\"}",
        )
    };
    let idle = [common::new_key(&east).await, common::new_key(&east).await];
    assert_eq!(cached(), 2.0, "CreateKey caches its key");
    let busy = [common::new_key(&west).await, common::new_key(&west).await];
    assert_eq!(cached(), 3.0, "the two regions hold three keys together");
    let round_trips = |kms: aws_sdk_kms::Client, keys: Vec<String>| async move {
        for (i, key) in keys.iter().enumerate() {
            let text = format!("key {i}");
            let blob = common::encrypt_text(&kms, key, &text).await;
            assert_eq!(common::decrypt_text(&kms, &blob).await.plaintext, text);
        }
    };
    round_trips(west.clone(), busy.to_vec()).await;
    let before = misses();
    for _ in 0..5 {
        round_trips(west.clone(), busy.to_vec()).await;
    }
    assert_eq!(misses(), before, "the busy region's keys stay cached");
    round_trips(east.clone(), idle.to_vec()).await;
    round_trips(east, idle.to_vec()).await;
    assert_eq!(cached(), 3.0, "never more than the capacity");
}

/// A key pushed out of an idle region's cache, to make room for another
/// region's, is destroyed in its own token by the background job: the idle
/// region makes no call that would do it.
#[tokio::test(flavor = "multi_thread")]
async fn keys_pushed_out_of_an_idle_region_are_destroyed_by_the_job() {
    let server = Server::start_with_env(&[
        ("TRENT_KEY_CACHE_CAPACITY", "2"),
        ("TRENT_JOB_INTERVAL_SECS", "1"),
    ]);
    let (east, west) = (server.client(common::EAST), server.client(common::WEST));
    let destroyed = || metric(&server, "trent_session_objects_destroyed_total");
    common::new_key(&east).await;
    common::new_key(&east).await;
    let before = destroyed();
    // Each CreateKey destroys the extractable object it generated, and
    // caching its use copy pushes one of the idle region's keys out.
    common::new_key(&west).await;
    common::new_key(&west).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while destroyed() < before + 4.0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(destroyed(), before + 4.0, "two generated, two pushed out");
    assert_eq!(metric(&server, "trent_session_object_cache_size"), 2.0);
}

/// Times the server's log says it re-initialised a PKCS#11 module.
fn reinitialisations(server: &Server) -> usize {
    server
        .log()
        .matches("re-initialised the PKCS#11 module")
        .count()
}

/// SoftHSM 2.6.1 keeps a record of every destroyed session object until
/// C_Finalize, so the module is re-initialised once enough were destroyed:
/// through its spare copy (a second instance of the library), which opens
/// the tokens while the first keeps serving. No request fails, and no
/// cached handle of the old instance is used afterwards: every Encrypt and
/// Decrypt under load succeeds with the right plaintext, across several
/// re-initialisations, and every ciphertext still decrypts at the end.
#[tokio::test(flavor = "multi_thread")]
async fn the_module_is_reinitialised_under_load_without_failing_a_request() {
    let log = reinitialise_under_load(&[]).await;
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("re-initialised the PKCS#11 module"))
        .collect();
    assert!(
        lines.iter().all(|l| l.contains("spare=true")),
        "a re-initialisation without the spare copy:\n{}",
        lines.join("\n")
    );
}

/// Without a spare copy (here: no temporary directory to copy the library
/// to), the module is re-initialised in place, requests waiting for it,
/// and again none fails.
#[tokio::test(flavor = "multi_thread")]
async fn without_a_spare_copy_the_module_is_reinitialised_in_place() {
    let log = reinitialise_under_load(&[("TMPDIR", "/nonexistent/trent-test")]).await;
    assert!(log.contains("no spare copy of the PKCS#11 module"), "{log}");
    assert!(
        !log.contains("spare=true"),
        "a spare copy was used after all:\n{log}"
    );
}

/// Runs Encrypt and Decrypt from eight workers on a server (with `env`)
/// that re-initialises its module every 100 destroyed session objects,
/// until it did so three times; checks every result and returns the log.
async fn reinitialise_under_load(env: &[(&str, &str)]) -> String {
    let mut env = env.to_vec();
    env.extend([
        ("TRENT_KEY_CACHE_CAPACITY", "2"),
        ("TRENT_REINITIALIZE_MODULE_AFTER", "100"),
    ]);
    let server = Server::start_logged(&env);
    let kms = server.client("us-east-1");
    let mut keys = Vec::new();
    for _ in 0..8 {
        keys.push(common::new_key(&kms).await);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut made = Vec::new();
    while reinitialisations(&server) < 3 && std::time::Instant::now() < deadline {
        let mut workers = Vec::new();
        for worker in 0..8 {
            let (kms, keys) = (kms.clone(), keys.clone());
            workers.push(tokio::spawn(async move {
                let mut made = Vec::new();
                for round in 0..25 {
                    let text = format!("worker {worker} round {round}");
                    let blob = kms
                        .encrypt()
                        .key_id(&keys[(worker + round) % keys.len()])
                        .plaintext(Blob::new(text.clone().into_bytes()))
                        .send()
                        .await
                        .unwrap_or_else(|e| panic!("encrypt during re-initialisation: {e:?}"))
                        .ciphertext_blob
                        .unwrap();
                    let out = kms
                        .decrypt()
                        .ciphertext_blob(blob.clone())
                        .send()
                        .await
                        .unwrap_or_else(|e| panic!("decrypt during re-initialisation: {e:?}"));
                    assert_eq!(out.plaintext.unwrap().as_ref(), text.as_bytes());
                    made.push((text, blob));
                }
                made
            }));
        }
        for w in workers {
            match w.await {
                Ok(ok) => made.extend(ok),
                Err(e) => panic!("{e:?}\nserver log:\n{}", server.log()),
            }
        }
    }
    assert!(
        reinitialisations(&server) >= 3,
        "the module was re-initialised {} times in 60 s",
        reinitialisations(&server)
    );
    for (text, blob) in made {
        let out = kms.decrypt().ciphertext_blob(blob).send().await.unwrap();
        assert_eq!(out.plaintext.unwrap().as_ref(), text.as_bytes());
    }
    server.log()
}

/// Runs `trent` with `args` on `data` and waits (at most 60 s) for it to
/// exit; returns (success, stdout, stderr).
fn run_trent(args: &[&str], data: &Path) -> (bool, String, String) {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_trent"))
        .args(args)
        .env("TRENT_DATA_DIR", data)
        .env("TRENT_LISTEN", "127.0.0.1:0")
        .env("TRENT_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn trent");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("trent {args:?} did not exit");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A configured token (one Trent did not create) without a domain key stops
/// start-up with a message naming the region, the token and the command
/// that creates the key; `trent init-domain-key` creates it (once), and the
/// service then starts and works.
#[tokio::test(flavor = "multi_thread")]
async fn a_configured_token_needs_init_domain_key_before_it_serves() {
    let dir = tempfile::TempDir::new().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!("directories.tokendir = {}\n", tokens.display()),
    )
    .unwrap();
    let made = std::process::Command::new("softhsm2-util")
        .args(["--init-token", "--free", "--label", "prod-east"])
        .args(["--so-pin", "so-pin-5678", "--pin", "user-pin-1234"])
        .env("SOFTHSM2_CONF", &conf)
        .output()
        .unwrap();
    assert!(made.status.success(), "softhsm2-util: {made:?}");
    let config = format!(
        "[[regions]]\nname = \"us-east-1\"\nmodule = \"/usr/lib/softhsm/libsofthsm2.so\"\n\
         token_label = \"prod-east\"\npin = \"user-pin-1234\"\nsofthsm_conf = \"{}\"\n",
        conf.display()
    );
    let file = dir.path().join("trent.toml");
    std::fs::write(&file, &config).unwrap();
    let file_arg = file.to_str().unwrap();
    let data = dir.path().join("data");

    let (ok, _, stderr) = run_trent(&["serve", "--config", file_arg], &data);
    assert!(!ok, "start-up must fail without a domain key");
    for expected in [
        "region us-east-1",
        "\"prod-east\"",
        "holds no domain key",
        &format!("trent init-domain-key --config {file_arg} --region us-east-1"),
    ] {
        assert!(
            stderr.contains(expected),
            "{expected:?} missing from {stderr}"
        );
    }

    let (ok, stdout, stderr) = run_trent(
        &[
            "init-domain-key",
            "--config",
            file_arg,
            "--region",
            "us-east-1",
        ],
        &data,
    );
    assert!(ok, "init-domain-key failed: {stderr}");
    assert!(stdout.contains("created the domain key"), "{stdout}");
    let (ok, stdout, _) = run_trent(
        &[
            "init-domain-key",
            "--config",
            file_arg,
            "--region",
            "us-east-1",
        ],
        &data,
    );
    assert!(ok);
    assert!(stdout.contains("already holds a domain key"), "{stdout}");
    let (ok, _, stderr) = run_trent(
        &[
            "init-domain-key",
            "--config",
            file_arg,
            "--region",
            "eu-west-9",
        ],
        &data,
    );
    assert!(!ok);
    assert!(
        stderr.contains("region eu-west-9 is not configured"),
        "{stderr}"
    );

    let server = Server::start_with_config(&config);
    let kms = server.client("us-east-1");
    let id = common::new_key(&kms).await;
    let blob = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new(b"configured".to_vec()))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let out = kms.decrypt().ciphertext_blob(blob).send().await.unwrap();
    assert_eq!(out.plaintext.unwrap().as_ref(), b"configured");
}

/// Dev mode (no regions configured) still creates tokens and their domain
/// keys on first start, and `init-domain-key` has nothing to do there.
#[tokio::test(flavor = "multi_thread")]
async fn dev_mode_creates_tokens_with_their_domain_keys() {
    let server = Server::start();
    let kms = server.client("us-west-2");
    common::new_key(&kms).await;
    let data = server.stop();
    let (ok, _, stderr) = run_trent(&["init-domain-key", "--region", "us-east-1"], &data.path);
    assert!(!ok);
    assert!(stderr.contains("dev mode"), "{stderr}");
    let restarted = Server::restart(data);
    common::new_key(&restarted.client("us-east-1")).await;
}
