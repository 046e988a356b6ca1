//! A PostgreSQL server of a test's own, to stop and start under a running
//! Trent: `initdb` into a temporary directory (as the `postgres` user when
//! the tests run as root, since PostgreSQL refuses root), `pg_ctl` on a
//! free loopback port, trusting loopback.

use std::path::PathBuf;
use std::process::{Command, Output};
use tempfile::TempDir;

/// A throwaway PostgreSQL server; stopped (immediately) when dropped.
pub struct PrivatePostgres {
    bin: PathBuf,
    dir: TempDir,
    port: u16,
    /// Serves TLS only (`hostssl`), with the certificate and key in
    /// `server.crt` and `server.key` of `dir`.
    tls: bool,
}

impl PrivatePostgres {
    /// Makes and starts a server from Debian's newest installed
    /// PostgreSQL, or `None` (with the reason printed) when none is.
    pub fn start() -> Option<Self> {
        Self::start_with(None)
    }

    /// Like [`Self::start`], accepting only TLS connections, with this
    /// certificate chain and private key (PEM).
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> Option<Self> {
        Self::start_with(Some((cert_pem, key_pem)))
    }

    fn start_with(tls: Option<(&str, &str)>) -> Option<Self> {
        let Some(bin) = newest_bin() else {
            eprintln!("skipped: no PostgreSQL under /usr/lib/postgresql");
            return None;
        };
        let dir = TempDir::new().expect("temp dir");
        if let Some((cert, key)) = tls {
            use std::os::unix::fs::PermissionsExt;
            std::fs::write(dir.path().join("server.crt"), cert).expect("server.crt");
            let key_file = dir.path().join("server.key");
            std::fs::write(&key_file, key).expect("server.key");
            std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600))
                .expect("chmod server.key");
        }
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(status.success(), "chown postgres {}", dir.path().display());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let server = Self {
            bin,
            dir,
            port,
            tls: tls.is_some(),
        };
        server.pg(
            "initdb",
            &["-D", &server.data(), "-A", "trust", "-U", "postgres"],
        );
        if server.tls {
            let hba = "local all all trust\nhostssl all all 127.0.0.1/32 trust\n";
            let file = server.dir.path().join("data/pg_hba.conf");
            std::fs::write(&file, hba).expect("pg_hba.conf");
        }
        server.resume();
        Some(server)
    }

    /// The URL of database `postgres` on this server.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server the way an operator's restart does (`-m fast`:
    /// sessions are ended, then it shuts down cleanly).
    pub fn stop(&self) {
        self.pg("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    /// Starts the (stopped) server again on the same port and data.
    pub fn resume(&self) {
        let dir = self.dir.path().display();
        let mut options = format!("-p {} -k {dir} -c listen_addresses=127.0.0.1", self.port);
        if self.tls {
            options.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={dir}/server.crt -c ssl_key_file={dir}/server.key"
            ));
        }
        let log = self.dir.path().join("server.log");
        self.pg(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log.to_string_lossy(),
                "-w",
                "-o",
                &options,
                "start",
            ],
        );
    }

    fn data(&self) -> String {
        self.dir.path().join("data").to_string_lossy().into_owned()
    }

    /// Stops every process of the server (SIGSTOP) without closing a
    /// connection: a database host that stopped answering.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Lets a frozen server go on (SIGCONT).
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    /// Sends `signal` to the postmaster and its children.
    fn signal(&self, signal: &str) {
        let pid_file = std::fs::read_to_string(self.dir.path().join("data/postmaster.pid"))
            .expect("postmaster.pid");
        let pid = pid_file.lines().next().expect("the postmaster's pid");
        let status = Command::new("kill").args([signal, pid]).status();
        assert!(status.is_ok_and(|s| s.success()), "kill {signal} {pid}");
        let _ = Command::new("pkill").args([signal, "-P", pid]).status();
    }

    /// PostgreSQL's program `name`, run as `postgres` when the tests run
    /// as root.
    fn command(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        if is_root() {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(&program);
            cmd
        } else {
            Command::new(&program)
        }
    }

    /// Runs PostgreSQL's program `name`; panics with its output when it
    /// fails.
    fn pg(&self, name: &str, args: &[&str]) -> Output {
        let out = self
            .command(name)
            .args(args)
            .output()
            .expect("run a PostgreSQL program");
        assert!(
            out.status.success(),
            "{name} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        if self.dir.path().join("data/postmaster.pid").exists() {
            self.thaw();
        }
        let data = self.data();
        let _ = self
            .command("pg_ctl")
            .args(["-D", data.as_str(), "-m", "immediate", "stop"])
            .output();
    }
}

/// The `bin` directory of the newest PostgreSQL Debian installed.
fn newest_bin() -> Option<PathBuf> {
    let mut bins: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("pg_ctl").exists().then_some((version, bin))
        })
        .collect();
    bins.sort();
    bins.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}
