//! The files `trent serve` trusts at start: without `--config`, the working
//! directory's `trent.toml` and never one in a parent directory, where
//! another local user could have put credentials or a PKCS#11 module; and a
//! data directory and secret files only its own user owns and may write.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Starts `trent serve` in `cwd` and returns whether it came to listen
/// (else its standard error).
fn serves_from(cwd: &Path, data: &Path) -> Result<(), String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trent"))
        .arg("serve")
        .current_dir(cwd)
        .env_remove("TRENT_LOG_FORMAT")
        .env("TRENT_DATA_DIR", data)
        .env("TRENT_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn trent");
    let stdout = child.stdout.take().unwrap();
    let (sent, listening) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("listening on") {
                let _ = sent.send(());
            }
        }
    });
    let served = listening.recv_timeout(Duration::from_secs(60)).is_ok();
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    match served {
        true => Ok(()),
        false => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
    }
}

#[test]
fn only_the_working_directorys_trent_toml_is_read() {
    let root = tempfile::TempDir::new().unwrap();
    let cwd = root.path().join("a").join("b");
    std::fs::create_dir_all(&cwd).unwrap();
    // A file that stops start-up wherever it is read.
    let refused = "log_format = \"xml\"\n";
    std::fs::write(root.path().join("trent.toml"), refused).unwrap();
    std::fs::write(root.path().join("a").join("trent.toml"), refused).unwrap();
    let data = root.path().join("data");
    serves_from(&cwd, &data).expect("the parents' trent.toml files are not read");

    std::fs::write(cwd.join("trent.toml"), refused).unwrap();
    let stderr = serves_from(&cwd, &data).expect_err("./trent.toml is read");
    assert!(
        stderr.contains("LOG_FORMAT") || stderr.contains("log_format"),
        "{stderr}"
    );

    // A trent.toml every user may write is refused, however valid.
    let own = cwd.join("trent.toml");
    std::fs::write(&own, "log_format = \"json\"\n").unwrap();
    serves_from(&cwd, &data).expect("a valid ./trent.toml serves");
    std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o666)).unwrap();
    let stderr = serves_from(&cwd, &data).expect_err("a world-writable trent.toml");
    assert!(
        stderr.contains("any user of this machine may write it"),
        "{stderr}"
    );
}

#[test]
fn a_data_directory_or_secret_file_others_may_write_is_refused() {
    let root = tempfile::TempDir::new().unwrap();
    let data = root.path().join("data");
    serves_from(root.path(), &data).expect("a fresh data directory serves");
    let mode = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };

    mode(&data, 0o777);
    let stderr = serves_from(root.path(), &data).expect_err("a 0777 data directory");
    assert!(stderr.contains("group or others may write it"), "{stderr}");
    mode(&data, 0o700);

    let credentials = data.join("credentials");
    mode(&credentials, 0o666);
    let stderr = serves_from(root.path(), &data).expect_err("writable credentials");
    assert!(stderr.contains("credentials"), "{stderr}");
    mode(&credentials, 0o600);

    let pins = data.join("secrets");
    mode(&pins, 0o775);
    let stderr = serves_from(root.path(), &data).expect_err("a writable secrets directory");
    assert!(stderr.contains("secrets"), "{stderr}");
    mode(&pins, 0o700);
    serves_from(root.path(), &data).expect("guarded again, it serves");

    // Another user's data directory (changing its owner takes root, as CI
    // runs; elsewhere this last part is left out).
    if std::os::unix::fs::chown(&data, Some(65534), None).is_ok() {
        let stderr = serves_from(root.path(), &data).expect_err("another user's directory");
        assert!(stderr.contains("another user owns it"), "{stderr}");
    }
}
