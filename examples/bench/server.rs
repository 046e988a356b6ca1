//! The server under test: a `trent serve` child on a loopback port (started,
//! restarted and stopped here) or an existing one, and its /proc accounting.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a spawned server may take to print its listen line.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a stopping server may take before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// A Trent server the bench talks to.
pub struct Server {
    /// Address the server listens on (always loopback).
    pub addr: SocketAddr,
    /// Its data directory (credentials, SoftHSM configuration, PINs).
    pub data_dir: PathBuf,
    /// Its process id, when known.
    pub pid: Option<u32>,
    spawned: Option<Spawned>,
}

struct Spawned {
    binary: PathBuf,
    env: Vec<(String, String)>,
    child: Child,
    log: PathBuf,
    /// Keeps a fresh data directory alive until the bench ends.
    _temp: Option<tempfile::TempDir>,
    /// The ceiling's answer file, kept until it stops.
    _answer: Option<tempfile::NamedTempFile>,
}

impl Server {
    /// Starts `binary serve` on `data_dir` (created on first start). `temp`,
    /// when given, is the temporary directory holding it, removed with the
    /// server. Returns the server and its start-up time.
    pub fn spawn(
        binary: &Path,
        data_dir: PathBuf,
        temp: Option<tempfile::TempDir>,
        env: &[(String, String)],
    ) -> Result<(Self, Duration), String> {
        if !binary.is_file() {
            return Err(format!(
                "the trent binary {} does not exist: build it first with \
                 `cargo build --release --bin trent` (or pass --trent PATH)",
                binary.display()
            ));
        }
        let log = match &temp {
            Some(t) => t.path().join("server.log"),
            None => std::env::temp_dir().join(format!("trent-bench-{}.log", std::process::id())),
        };
        let (child, addr, took) = launch(binary, &data_dir, env, &log)?;
        let pid = child.id();
        Ok((
            Server {
                addr,
                data_dir,
                pid: Some(pid),
                spawned: Some(Spawned {
                    binary: binary.to_path_buf(),
                    env: env.to_vec(),
                    child,
                    log,
                    _temp: temp,
                    _answer: None,
                }),
            },
            took,
        ))
    }

    /// Starts the bench's own bare HTTP handler (`bench --ceiling-serve
    /// ANSWER_FILE`, see `ceiling.rs`) as a child process, so that its CPU
    /// is measured as a server's is.
    pub fn spawn_ceiling(answer: tempfile::NamedTempFile) -> Result<Self, String> {
        let bench = std::env::current_exe().map_err(|e| format!("own executable: {e}"))?;
        let log = std::env::temp_dir().join(format!("trent-ceiling-{}.log", std::process::id()));
        let log_file =
            std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut cmd = Command::new(&bench);
        cmd.arg("--ceiling-serve")
            .arg(answer.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file);
        let (child, addr, _) = launch_command(cmd, &log)?;
        let pid = child.id();
        Ok(Server {
            addr,
            data_dir: answer.path().to_path_buf(),
            pid: Some(pid),
            spawned: Some(Spawned {
                binary: bench,
                env: Vec::new(),
                child,
                log,
                _temp: None,
                _answer: Some(answer),
            }),
        })
    }

    /// An already running server at `endpoint` (must resolve to loopback).
    pub fn existing(endpoint: &str, data_dir: PathBuf, pid: Option<u32>) -> Result<Self, String> {
        let authority = endpoint
            .strip_prefix("http://")
            .ok_or_else(|| format!("--endpoint must be http://HOST:PORT, got {endpoint:?}"))?
            .trim_end_matches('/');
        let addrs: Vec<SocketAddr> = authority
            .to_socket_addrs()
            .map_err(|e| format!("--endpoint {endpoint}: {e}"))?
            .collect();
        let addr = addrs
            .iter()
            .copied()
            .find(|a| a.ip().is_loopback())
            .ok_or_else(|| format!("--endpoint {endpoint} is not a loopback address"))?;
        if addrs.iter().any(|a| !a.ip().is_loopback()) {
            return Err(format!("--endpoint {endpoint} resolves beyond loopback"));
        }
        Ok(Server {
            addr,
            data_dir,
            pid,
            spawned: None,
        })
    }

    /// True when the bench started this server (it can restart it).
    pub fn can_restart(&self) -> bool {
        self.spawned.is_some()
    }

    /// Where the spawned server's stderr goes.
    pub fn log_path(&self) -> Option<&Path> {
        self.spawned.as_ref().map(|s| s.log.as_path())
    }

    /// Stops the server with SIGTERM and starts it again on the same data;
    /// returns the time from spawn to the listen line.
    pub fn restart(&mut self) -> Result<Duration, String> {
        let spawned = self
            .spawned
            .as_mut()
            .ok_or("only a server the bench started can be restarted")?;
        stop_child(&mut spawned.child);
        let (child, addr, took) =
            launch(&spawned.binary, &self.data_dir, &spawned.env, &spawned.log)?;
        self.pid = Some(child.id());
        self.addr = addr;
        spawned.child = child;
        Ok(took)
    }

    /// The `[default]` access key id and secret from `<data>/credentials`.
    pub fn credentials(&self) -> Result<(String, String), String> {
        let path = self.data_dir.join("credentials");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut in_default = false;
        let (mut key, mut secret) = (None, None);
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
        match (key, secret) {
            (Some(k), Some(s)) => Ok((k, s)),
            _ => Err(format!("no [default] credentials in {}", path.display())),
        }
    }

    /// `VmRSS` and `VmHWM` of the server, in KiB.
    pub fn memory_kib(&self) -> Option<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid?)).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        };
        Some((field("VmRSS:")?, field("VmHWM:")?))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(spawned) = self.spawned.as_mut() {
            stop_child(&mut spawned.child);
        }
    }
}

fn launch(
    binary: &Path,
    data_dir: &Path,
    env: &[(String, String)],
    log: &Path,
) -> Result<(Child, SocketAddr, Duration), String> {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let mut cmd = Command::new(binary);
    cmd.arg("serve")
        .env("TRENT_DATA_DIR", data_dir)
        .env("TRENT_LISTEN", "127.0.0.1:0")
        .env("TRENT_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log_file);
    for (k, v) in env {
        cmd.env(k, v);
    }
    launch_command(cmd, log)
}

/// Starts `cmd` (stdout piped) and waits for its first line,
/// `<name> listening on http://127.0.0.1:PORT`.
fn launch_command(mut cmd: Command, log: &Path) -> Result<(Child, SocketAddr, Duration), String> {
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
    let stdout = child.stdout.take().expect("piped stdout");
    // Read the listen line on a helper thread so a hung server cannot hang the bench.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let result = reader.read_line(&mut line).map(|_| line);
        let _ = tx.send(result);
        // Keep draining stdout so the server never blocks on a full pipe.
        let mut sink = String::new();
        while matches!(reader.read_line(&mut sink), Ok(n) if n > 0) {
            sink.clear();
        }
    });
    let line = match rx.recv_timeout(START_TIMEOUT) {
        Ok(Ok(line)) => line,
        Ok(Err(e)) => {
            stop_child(&mut child);
            return Err(format!("reading the server's stdout: {e}"));
        }
        Err(_) => {
            stop_child(&mut child);
            return Err(format!(
                "the server printed no listen line within {START_TIMEOUT:?}; see {}",
                log.display()
            ));
        }
    };
    let took = started.elapsed();
    let addr: Option<SocketAddr> = line
        .trim()
        .split_once("listening on http://")
        .and_then(|(_, a)| a.parse().ok());
    match addr {
        Some(addr) if addr.ip().is_loopback() => Ok((child, addr, took)),
        _ => {
            stop_child(&mut child);
            Err(format!(
                "unexpected first line from the server: {line:?} (expected \
                 \"trent listening on http://127.0.0.1:PORT\"); see {}",
                log.display()
            ))
        }
    }
}

/// SIGTERM, then SIGKILL if the server is still there after [`STOP_TIMEOUT`].
fn stop_child(child: &mut Child) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let deadline = Instant::now() + STOP_TIMEOUT;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Clock ticks per second of /proc's CPU times.
pub fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as u64 } else { 100 }
}

/// utime + stime of a process, from /proc/<pid>/stat.
pub fn process_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start at field 3.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let ticks = clock_ticks();
    Some(Duration::from_micros((utime + stime) * 1_000_000 / ticks))
}

/// CPU time all processes of the machine have spent busy (every CPU), from
/// the first line of /proc/stat: everything but idle and iowait.
pub fn machine_busy() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .take(8)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let (idle, iowait) = (*fields.get(3)?, *fields.get(4)?);
    let busy = fields.iter().sum::<u64>() - idle - iowait;
    Some(Duration::from_micros(busy * 1_000_000 / clock_ticks()))
}

/// The 1, 5 and 15-minute load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}
