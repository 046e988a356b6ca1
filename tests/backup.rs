//! `trent backup`: taken while the server serves a CreateKey+Encrypt load,
//! restored by serving the copy, which decrypts every ciphertext
//! acknowledged before the backup began; its audit trail verifies; a
//! non-empty destination and a PostgreSQL store are refused.

mod common;

use common::{EAST, Server, WEST, decrypt_text, encrypt_text, new_key};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Load tasks; each makes keys and encrypts under them.
const TASKS: usize = 6;
/// A region no task uses before the load: provisioned during it.
const NEW_REGION: &str = "eu-west-1";

/// One acknowledged Encrypt: its region, plaintext, ciphertext and when the
/// answer arrived.
struct Acknowledged {
    region: &'static str,
    plaintext: String,
    ciphertext: Vec<u8>,
    at: Instant,
}

/// Runs `trent backup DEST` on the data directory `data`.
fn backup(data: &Path, dest: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trent"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("TRENT_") {
            cmd.env_remove(name);
        }
    }
    cmd.arg("backup")
        .arg(dest)
        .env("TRENT_DATA_DIR", data)
        .envs(env.iter().copied())
        .output()
        .expect("run trent backup")
}

/// Every file under `dir` is mode 0600 and every directory 0700.
fn assert_private(dir: &Path) {
    let mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{}", dir.display());
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            assert_private(&path);
        } else {
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", path.display());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_under_load_serves_every_acknowledged_ciphertext() {
    if std::env::var_os("TRENT_TEST_STORE_URL").is_some() {
        eprintln!("skipped: trent backup copies a SQLite store only");
        return;
    }
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    let server = Arc::new(Server::start_in(data.clone(), &[]));
    let acknowledged = Arc::new(Mutex::new(Vec::<Acknowledged>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let (server, acknowledged, stop) = (server.clone(), acknowledged.clone(), stop.clone());
        let region = [EAST, WEST, NEW_REGION][task % 3];
        tasks.push(tokio::spawn(async move {
            let kms = server.client(region);
            let mut round = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let key = new_key(&kms).await;
                for n in 0..3 {
                    let plaintext = format!("task {task} round {round} text {n}");
                    let ciphertext = encrypt_text(&kms, &key, &plaintext).await;
                    acknowledged.lock().unwrap().push(Acknowledged {
                        region,
                        plaintext,
                        ciphertext,
                        at: Instant::now(),
                    });
                }
                round += 1;
            }
        }));
    }
    while acknowledged.lock().unwrap().len() < 30 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let dest = dir.path().join("backup");
    let began = Instant::now();
    let out = tokio::task::spawn_blocking({
        let (data, dest) = (data.clone(), dest.clone());
        move || backup(&data, &dest, &[])
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "trent backup failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = acknowledged.lock().unwrap().len();
    while acknowledged.lock().unwrap().len() < after + 10 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for task in tasks {
        task.await.expect("load task");
    }
    let before: Vec<Acknowledged> = std::mem::take(&mut *acknowledged.lock().unwrap())
        .into_iter()
        .filter(|a| a.at < began)
        .collect();
    assert!(before.len() >= 30, "{} acknowledged before", before.len());
    drop(Arc::into_inner(server).expect("load tasks ended").stop());

    assert_private(&dest);
    assert!(!dest.join("softhsm2.conf").exists());
    let restored = Server::start_in(dest.clone(), &[]);
    for (i, a) in before.iter().enumerate() {
        let kms = restored.client(a.region);
        let decrypted = decrypt_text(&kms, &a.ciphertext).await;
        assert_eq!(decrypted.plaintext, a.plaintext, "ciphertext {i}");
    }
    let regions = restored.client(NEW_REGION);
    let key = new_key(&regions).await;
    let blob = encrypt_text(&regions, &key, "after the restore").await;
    assert_eq!(
        decrypt_text(&regions, &blob).await.plaintext,
        "after the restore"
    );
    drop(restored.stop());

    let verified = Command::new(env!("CARGO_BIN_EXE_trent"))
        .args(["audit", "verify"])
        .arg(dest.join("audit.log"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&verified.stdout);
    assert!(verified.status.success(), "audit verify: {said}");
    assert!(said.starts_with("OK: "), "{said}");

    let again = backup(&data, &dest, &[]);
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("must not exist or be an empty directory"),
        "{stderr}"
    );
}

#[test]
fn a_postgresql_store_is_refused_and_named_without_its_password() {
    let dir = TempDir::new().unwrap();
    let out = backup(
        &dir.path().join("data"),
        &dir.path().join("backup"),
        &[(
            "TRENT_STORE_URL",
            "postgres://trent:s3cret@db.internal:5432/trent",
        )],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pg_basebackup"), "{stderr}");
    assert!(!stderr.contains("s3cret"), "{stderr}");
    assert!(!dir.path().join("backup").exists());
}

/// An empty destination directory others may write is made the backup
/// owner's alone (mode 0700) before anything is copied into it; another
/// user's is refused.
#[test]
fn an_empty_destination_is_made_private_first() {
    let server = Server::start();
    let data = server.data_dir().to_path_buf();
    let _kept = server.stop();
    let root = tempfile::TempDir::new().unwrap();
    let dest = root.path().join("open");
    std::fs::create_dir(&dest).unwrap();
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = backup(&data, &dest, &[]);
    assert!(
        out.status.success(),
        "trent backup failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_private(&dest);

    // An empty directory of another user is refused (changing its owner
    // takes root, as CI runs; elsewhere this last part is left out).
    let theirs = root.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    if std::os::unix::fs::chown(&theirs, Some(65534), None).is_ok() {
        let out = backup(&data, &theirs, &[]);
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("belongs to another user"), "{stderr}");
    }
}
