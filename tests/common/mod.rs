//! Test harness: runs the real `trent` binary over fresh SoftHSM tokens in a
//! temporary data directory and talks to it with the official AWS SDK.
//!
//! The PKCS#11 module is chosen with one switch, `TRENT_TEST_PKCS11`: unset
//! (or `softhsm`), [`Server::start`] runs dev mode on SoftHSM; `kryoptic`
//! makes it run on explicit `[[regions]]` whose tokens are Kryoptic tokens
//! made by the harness (module path in `TRENT_TEST_KRYOPTIC_MODULE`, built
//! by `scripts/kryoptic.sh`): `us-east-1` and `us-west-2`, or the regions of
//! the test's `TRENT_DEV_REGIONS`. Dev-mode provisioning on first use and
//! SoftHSM's token files are then out of reach: tests of those stay on
//! SoftHSM.
//! [`Server::start_on`] puts chosen regions on chosen modules whatever the
//! switch says.
//!
//! The metadata store is chosen with `TRENT_TEST_STORE_URL`: unset, each
//! server keeps SQLite's `trent.db` in its data directory; set to a
//! PostgreSQL server's URL (`postgres://postgres@127.0.0.1:5432/postgres`),
//! each data directory gets a database of its own on that server, made on
//! first start (see [`test_store_url`]), which restarts and siblings share.

#![allow(dead_code)]

pub mod asymmetric;
pub mod import;
pub mod postgres;

use aws_sdk_kms::Client;
use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// How long a server may take to print its listen line.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one SDK call (with its retries) may take.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a stopped server may take to exit before it is killed.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A data directory outliving the server that used it.
pub struct DataDir {
    /// Its path.
    pub path: PathBuf,
    dir: Option<TempDir>,
    tokens: Option<Tokens>,
}

/// A running server and the data directory it owns.
pub struct Server {
    child: Child,
    /// Address the server listens on.
    pub addr: SocketAddr,
    data: PathBuf,
    log: Option<PathBuf>,
    tokens: Option<Tokens>,
    _dir: Option<TempDir>,
}

impl Server {
    /// Starts a server on a fresh data directory (tokens created on first start).
    pub fn start() -> Self {
        Self::start_with_env(&[])
    }

    /// Like [`Server::start`], with extra environment variables. With
    /// `TRENT_TEST_PKCS11=kryoptic`, on Kryoptic tokens (see the module
    /// documentation).
    pub fn start_with_env(env: &[(&str, &str)]) -> Self {
        if let Some(module) = selected_kryoptic() {
            // The regions a test asks dev mode for become configured ones.
            let mut names = vec![EAST.to_string(), WEST.to_string()];
            if let Some((_, list)) = env.iter().find(|(k, _)| *k == "TRENT_DEV_REGIONS") {
                names = list
                    .split('"')
                    .skip(1)
                    .step_by(2)
                    .map(str::to_string)
                    .collect();
            }
            let regions: Vec<(&str, Pkcs11)> = names
                .iter()
                .map(|name| (name.as_str(), Pkcs11::Kryoptic(module.clone())))
                .collect();
            return Self::start_on_with_env(&regions, env);
        }
        let dir = TempDir::new().expect("temp dir");
        let data = dir.path().join("data");
        let mut server = Self::start_in(data, env);
        server._dir = Some(dir);
        server
    }

    /// Like [`Server::start_with_env`], logging at `info` to a file that
    /// [`Server::log`] reads.
    pub fn start_logged(env: &[(&str, &str)]) -> Self {
        let dir = TempDir::new().expect("temp dir");
        let log = dir.path().join("server.log");
        let mut env = env.to_vec();
        env.push(("TRENT_LOG", "info"));
        let mut server = Self::launch(dir.path().join("data"), &env, None, Some(&log));
        server._dir = Some(dir);
        server
    }

    /// What the server logged so far (servers from [`Server::start_logged`]).
    pub fn log(&self) -> String {
        let file = self.log.as_ref().expect("server started with start_logged");
        std::fs::read_to_string(file).expect("read server log")
    }

    /// Starts a server on a fresh data directory with `config` as its
    /// configuration file (`trent serve --config`).
    pub fn start_with_config(config: &str) -> Self {
        let dir = TempDir::new().expect("temp dir");
        let file = dir.path().join("trent.toml");
        std::fs::write(&file, config).expect("write config");
        let mut server = Self::launch(dir.path().join("data"), &[], Some(&file), None);
        server._dir = Some(dir);
        server
    }

    /// Like [`Server::start_with_config`], after `seed` has put files into
    /// the data directory (which it is given, already created, mode 0700).
    pub fn start_with_config_seeded(config: &str, seed: impl FnOnce(&Path)) -> Self {
        use std::os::unix::fs::DirBuilderExt;
        let dir = TempDir::new().expect("temp dir");
        let file = dir.path().join("trent.toml");
        std::fs::write(&file, config).expect("write config");
        let data = dir.path().join("data");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&data)
            .expect("create data dir");
        seed(&data);
        let mut server = Self::launch(data, &[], Some(&file), None);
        server._dir = Some(dir);
        server
    }

    /// Starts a server on `data` (created on first start if missing) with
    /// `config` as its configuration file, and extra environment variables
    /// (a node of a cluster: its own data directory and configuration,
    /// the cluster's `TRENT_STORE_URL`). The caller keeps both paths.
    pub fn start_configured(data: PathBuf, config: &Path, env: &[(&str, &str)]) -> Self {
        Self::launch(data, env, Some(config), None)
    }

    /// Starts a server on `data` (created on first start if missing).
    pub fn start_in(data: PathBuf, env: &[(&str, &str)]) -> Self {
        Self::launch(data, env, None, None)
    }

    /// Starts a server with explicit `[[regions]]`: each named region on a
    /// new token of the given module, made by the harness as an operator
    /// would (see [`Tokens::create`]), with its domain key made by `trent
    /// init-domain-key`. [`Server::stop`] and [`Server::restart`] keep the
    /// tokens and the configuration.
    pub fn start_on(regions: &[(&str, Pkcs11)]) -> Self {
        Self::start_on_with_env(regions, &[])
    }

    /// Like [`Server::start_on`], with extra environment variables.
    pub fn start_on_with_env(regions: &[(&str, Pkcs11)], env: &[(&str, &str)]) -> Self {
        let dir = TempDir::new().expect("temp dir");
        let data = dir.path().join("data");
        let tokens = Tokens::create(dir.path(), &data, regions);
        let mut server = Self::launch_on(data, env, &tokens, None);
        server.tokens = Some(tokens);
        server._dir = Some(dir);
        server
    }

    /// Both default regions on Kryoptic tokens of `module`, two slots of one
    /// `KRYOPTIC_CONF`.
    pub fn start_on_kryoptic(module: &Path) -> Self {
        let on = Pkcs11::Kryoptic(module.to_path_buf());
        Self::start_on(&[(EAST, on.clone()), (WEST, on)])
    }

    /// Two kinds of token in one server: `us-east-1` on SoftHSM and
    /// `us-west-2` on Kryoptic (`module`).
    pub fn start_mixed(module: &Path) -> Self {
        Self::start_on(&[
            (EAST, Pkcs11::SoftHsm),
            (WEST, Pkcs11::Kryoptic(module.to_path_buf())),
        ])
    }

    /// Launches on the configuration and environment of `tokens`, plus `env`.
    fn launch_on(data: PathBuf, env: &[(&str, &str)], tokens: &Tokens, log: Option<&Path>) -> Self {
        let mut all: Vec<(&str, &str)> = tokens
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        all.extend_from_slice(env);
        Self::launch(data, &all, Some(&tokens.config), log)
    }

    fn launch(
        data: PathBuf,
        env: &[(&str, &str)],
        config: Option<&Path>,
        log: Option<&Path>,
    ) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_trent"));
        cmd.arg("serve");
        // Only what the test sets reaches the server, not the caller's TRENT_*.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("TRENT_") {
                cmd.env_remove(name);
            }
        }
        if let Some(file) = config {
            cmd.arg("--config").arg(file);
        }
        if let Some(url) = test_store_url(&data) {
            cmd.env("TRENT_STORE_URL", url);
        }
        cmd.env("TRENT_DATA_DIR", &data)
            .env("TRENT_LISTEN", "127.0.0.1:0")
            .env("TRENT_JOB_INTERVAL_SECS", "1")
            .env("TRENT_SESSIONS_PER_REGION", "4")
            .env("TRENT_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(match log {
                Some(file) => Stdio::from(std::fs::File::create(file).expect("create log")),
                None => Stdio::inherit(),
            });
        for (k, v) in env {
            cmd.env(k, v);
        }
        let (child, line) = start_listening(&mut cmd);
        let addr = line
            .trim()
            .strip_prefix("trent listening on http://")
            .or_else(|| line.trim().strip_prefix("trent listening on https://"))
            .unwrap_or_else(|| panic!("unexpected first line from trent: {line:?}"))
            .parse()
            .expect("listen address");
        Server {
            child,
            addr,
            data,
            log: log.map(Path::to_path_buf),
            tokens: None,
            _dir: None,
        }
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The endpoint URL for clients.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The access key id and secret of the dev-mode credentials file.
    pub fn credentials(&self) -> (String, String) {
        let text =
            std::fs::read_to_string(self.data.join("credentials")).expect("credentials file");
        let field = |name: &str| {
            text.lines()
                .filter_map(|l| l.split_once('='))
                .find(|(k, _)| k.trim() == name)
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_else(|| panic!("{name} missing from credentials file"))
        };
        (field("aws_access_key_id"), field("aws_secret_access_key"))
    }

    /// An SDK client for `region`, signing with the dev-mode credentials.
    pub fn client(&self, region: &str) -> Client {
        let (key, secret) = self.credentials();
        self.client_as(region, &key, &secret)
    }

    /// An SDK client for `region`, signing with the given credentials.
    pub fn client_as(&self, region: &str, access_key_id: &str, secret: &str) -> Client {
        let http = aws_smithy_http_client::Builder::new().build_http();
        let timeouts = aws_sdk_kms::config::timeout::TimeoutConfig::builder()
            .operation_timeout(OPERATION_TIMEOUT)
            .build();
        let config = aws_sdk_kms::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .timeout_config(timeouts)
            .region(Region::new(region.to_string()))
            .credentials_provider(Credentials::new(access_key_id, secret, None, None, "test"))
            .endpoint_url(self.url())
            .http_client(http)
            .build();
        Client::from_conf(config)
    }

    /// Stops the server with SIGTERM, waits for it (at most
    /// [`STOP_TIMEOUT`], then SIGKILL), and hands back its data.
    pub fn stop(mut self) -> DataDir {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return self.take_data();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.take_data()
    }

    /// Sends SIGTERM and waits at most `bound` for the server to exit (then
    /// panics); hands back its exit status, how long it took, and its data.
    pub fn terminate(mut self, bound: Duration) -> (std::process::ExitStatus, Duration, DataDir) {
        let sent = Instant::now();
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        while sent.elapsed() < bound {
            if let Ok(Some(status)) = self.child.try_wait() {
                return (status, sent.elapsed(), self.take_data());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("trent did not exit within {bound:?} of SIGTERM");
    }

    /// Kills the server with SIGKILL (no clean shutdown) and hands back its data.
    pub fn kill9(mut self) -> DataDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.take_data()
    }

    /// Starts a server again on data left by [`Server::stop`] or [`Server::kill9`].
    pub fn restart(data: DataDir) -> Self {
        Self::restart_with_env(data, &[])
    }

    /// Like [`Server::restart`], with extra environment variables.
    pub fn restart_with_env(data: DataDir, env: &[(&str, &str)]) -> Self {
        let mut server = match &data.tokens {
            Some(tokens) => Self::launch_on(data.path, env, tokens, None),
            None => Self::start_in(data.path, env),
        };
        server.tokens = data.tokens;
        server._dir = data.dir;
        server
    }

    /// Like [`Server::restart_with_env`], logging at `info` to a file that
    /// [`Server::log`] reads.
    pub fn restart_logged(data: DataDir, env: &[(&str, &str)]) -> Self {
        let log = data.path.with_extension("log");
        let mut env = env.to_vec();
        env.push(("TRENT_LOG", "info"));
        let mut server = match &data.tokens {
            Some(tokens) => Self::launch_on(data.path, &env, tokens, Some(&log)),
            None => Self::launch(data.path, &env, None, Some(&log)),
        };
        server.tokens = data.tokens;
        server._dir = data.dir;
        server
    }

    /// A second server sharing this one's data directory (tokens and database).
    pub fn start_sibling(&self, env: &[(&str, &str)]) -> Self {
        match &self.tokens {
            Some(tokens) => Self::launch_on(self.data.clone(), env, tokens, None),
            None => Self::start_in(self.data.clone(), env),
        }
    }

    /// Another node of a cluster with this one: a data directory of its
    /// own (a copy of this one's files: credentials, settings), the same
    /// configured tokens (started with [`Server::start_on`]) and the same
    /// database (`TRENT_TEST_STORE_URL` must be set).
    pub fn start_node(&self, env: &[(&str, &str)]) -> Self {
        let tokens = self.tokens.as_ref().expect("a node on configured tokens");
        let store = test_store_url(&self.data).expect("TRENT_TEST_STORE_URL for a cluster");
        let dir = TempDir::new().expect("temp dir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("data directory");
        for entry in std::fs::read_dir(&self.data).expect("read data directory") {
            let entry = entry.expect("data directory entry");
            if entry.file_type().expect("file type").is_file() {
                std::fs::copy(entry.path(), data.join(entry.file_name())).expect("copy");
            }
        }
        let mut all = vec![("TRENT_STORE_URL", store.as_str())];
        all.extend_from_slice(env);
        let mut server = Self::launch_on(data, &all, tokens, None);
        server._dir = Some(dir);
        server
    }

    fn take_data(&mut self) -> DataDir {
        DataDir {
            path: self.data.clone(),
            dir: self._dir.take(),
            tokens: self.tokens.take(),
        }
    }

    /// Moves the server's clock forward (feature `test-clock`).
    pub fn advance_clock(&self, seconds: i64) {
        let (status, _) = self.raw("/_trent/test/clock", &[], seconds.to_string().as_bytes());
        assert_eq!(status, 200, "clock control endpoint");
    }

    /// Runs the server's background jobs once, now (feature `test-clock`),
    /// and returns what that run did: `rotated`, `deleted`,
    /// `primary_updates`, `conflicts` (claims lost to another writer) and
    /// `errors`.
    pub fn run_jobs(&self) -> serde_json::Value {
        let (status, body) = self.raw("/_trent/test/jobs", &[], b"");
        assert_eq!(status, 200, "job endpoint: {body}");
        serde_json::from_str(&body).expect("job run as JSON")
    }

    /// How many runs of the background job loop have completed (feature
    /// `test-clock`).
    pub fn job_ticks(&self) -> u64 {
        let (status, body) = self.raw("/_trent/test/ticks", &[], b"");
        assert_eq!(status, 200, "ticks endpoint: {body}");
        body.trim().parse().expect("tick count")
    }

    /// Waits (at most 30 s) until the job loop has completed `ticks` runs.
    /// With `ticks` = [`Server::job_ticks`] read before an action, plus 2,
    /// the last of those runs started after the action: whatever the jobs
    /// would do about it, they have done.
    pub fn wait_for_job_ticks(&self, ticks: u64) {
        let start = Instant::now();
        while self.job_ticks() < ticks {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the job loop did not reach {ticks} runs in 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends a raw HTTP POST and returns (status, body).
    pub fn raw(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
        self.request("POST", path, headers, body)
    }

    /// Sends an HTTP GET without credentials (the probes) and returns
    /// (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        self.request("GET", path, &[], b"")
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String) {
        let mut stream = TcpStream::connect(self.addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (k, v) in headers {
            request.push_str(&format!("{k}: {v}\r\n"));
        }
        request.push_str("\r\n");
        // A server that refuses the request (a head or body too large) may
        // answer and close before it has read all of it: the rest of the
        // write then fails, and the answer is still there to read.
        let _ = stream
            .write_all(request.as_bytes())
            .and_then(|()| stream.write_all(body));
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        let text = String::from_utf8_lossy(&response).to_string();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
        (status, body)
    }

    /// SigV4 headers (Authorization, X-Amz-Date) signing a POST to `/` with
    /// `headers` and `body` for `region`, with the dev-mode credentials.
    pub fn sign(
        &self,
        region: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Vec<(String, String)> {
        let (key, secret) = self.credentials();
        sign_request(self, &Signing::new(region, &key, &secret), headers, body)
    }

    /// Sends an AWS JSON 1.1 request for `op`, signed for us-east-1, and
    /// returns (status, JSON body).
    pub fn call_raw(&self, op: &str, body: &str) -> (u16, serde_json::Value) {
        let target = format!("TrentService.{op}");
        let base = [
            ("X-Amz-Target", target.as_str()),
            ("Content-Type", "application/x-amz-json-1.1"),
        ];
        let signature = self.sign("us-east-1", &base, body.as_bytes());
        let mut headers: Vec<(&str, &str)> = base.to_vec();
        headers.extend(signature.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let (status, text) = self.raw("/", &headers, body.as_bytes());
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        (status, json)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How to sign a request.
pub struct Signing<'a> {
    /// Credential scope region.
    pub region: &'a str,
    /// Access key id.
    pub access_key_id: &'a str,
    /// Secret access key.
    pub secret: &'a str,
    /// Sign in the query string (presigned), valid this long.
    pub presign_for: Option<Duration>,
    /// The signing time.
    pub time: std::time::SystemTime,
}

impl<'a> Signing<'a> {
    /// Header signing, now.
    pub fn new(region: &'a str, access_key_id: &'a str, secret: &'a str) -> Self {
        Signing {
            region,
            access_key_id,
            secret,
            presign_for: None,
            time: std::time::SystemTime::now(),
        }
    }
}

/// Signs a POST to `/` on `server` with the official SigV4 signer. When
/// presigning, the query string is returned as the `?query` pseudo-header.
pub fn sign_request(
    server: &Server,
    signing: &Signing<'_>,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<(String, String)> {
    let (region, access_key_id, secret) = (signing.region, signing.access_key_id, signing.secret);
    use aws_sigv4::http_request::{
        SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
    };
    use aws_smithy_runtime_api::client::identity::Identity;
    let identity: Identity =
        aws_credential_types::Credentials::new(access_key_id, secret, None, None, "test").into();
    let mut settings = SigningSettings::default();
    if let Some(expiry) = signing.presign_for {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expiry);
    }
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("kms")
        .time(signing.time)
        .settings(settings)
        .build()
        .expect("signing params")
        .into();
    let host = server.addr.to_string();
    let mut all: Vec<(&str, &str)> = vec![("host", host.as_str())];
    all.extend_from_slice(headers);
    let url = format!("http://{host}/");
    let signable = SignableRequest::new("POST", url, all.into_iter(), SignableBody::Bytes(body))
        .expect("signable request");
    let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
    let (headers, query) = instructions.into_parts();
    let mut out: Vec<(String, String)> = headers
        .iter()
        .map(|h| (h.name().to_string(), h.value().to_string()))
        .collect();
    if !query.is_empty() {
        let query: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{k}={}", percent_encode(v)))
            .collect();
        out.push(("?query".to_string(), query.join("&")));
    }
    out
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Creates a symmetric key with the defaults and returns its id.
pub async fn new_key(kms: &Client) -> String {
    kms.create_key()
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .expect("key metadata")
        .key_id
}

/// The AWS error code of a failed SDK call.
pub fn error_code<E, R>(result: Result<R, aws_sdk_kms::error::SdkError<E>>) -> String
where
    E: aws_sdk_kms::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match result {
        Ok(r) => panic!("expected an error, got {r:?}"),
        Err(e) => e
            .as_service_error()
            .and_then(|s| s.code())
            .map(str::to_string)
            .unwrap_or_else(|| panic!("not a service error: {e:?}")),
    }
}

/// Polls `check` until it holds, or until `server`'s job loop has completed
/// `ticks` runs (read [`Server::job_ticks`] before the action, add 2: the
/// jobs have then had their chance) and it is checked a last time; returns
/// whether it held. Panics if the loop stalls for 30 s.
pub async fn until_job_ticks<F: std::future::Future<Output = bool>>(
    server: &Server,
    ticks: u64,
    mut check: impl FnMut() -> F,
) -> bool {
    let start = Instant::now();
    loop {
        if check().await {
            return true;
        }
        if server.job_ticks() >= ticks {
            return check().await;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the job loop did not reach {ticks} runs in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `check` holds or `timeout` passes; returns whether it held.
pub fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    check()
}

/// A key's current material id (DescribeKey's `CurrentKeyMaterialId`).
pub async fn current_material(kms: &Client, key: &str) -> String {
    kms.describe_key()
        .key_id(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DescribeKey {key}: {e:?}"))
        .key_metadata
        .expect("key metadata")
        .current_key_material_id
        .expect("CurrentKeyMaterialId")
}

/// Encrypts `text` under `key` without encryption context.
pub async fn encrypt_text(kms: &Client, key: &str, text: &str) -> Vec<u8> {
    kms.encrypt()
        .key_id(key)
        .plaintext(aws_sdk_kms::primitives::Blob::new(text.as_bytes().to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("Encrypt under {key}: {e:?}"))
        .ciphertext_blob
        .expect("CiphertextBlob")
        .into_inner()
}

/// What Decrypt reported.
pub struct Decrypted {
    /// The plaintext, as text.
    pub plaintext: String,
    /// The key ARN Decrypt named.
    pub key_id: String,
    /// The material id Decrypt named.
    pub material: String,
}

/// Decrypts `blob` (no encryption context, no KeyId).
pub async fn decrypt_text(kms: &Client, blob: &[u8]) -> Decrypted {
    let out = kms
        .decrypt()
        .ciphertext_blob(aws_sdk_kms::primitives::Blob::new(blob.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("Decrypt: {e:?}"));
    Decrypted {
        plaintext: String::from_utf8(out.plaintext.expect("Plaintext").into_inner())
            .expect("UTF-8 plaintext"),
        key_id: out.key_id.expect("KeyId"),
        material: out.key_material_id.expect("KeyMaterialId"),
    }
}

/// A tag for a request.
pub fn tag(key: &str, value: &str) -> aws_sdk_kms::types::Tag {
    aws_sdk_kms::types::Tag::builder()
        .tag_key(key)
        .tag_value(value)
        .build()
        .unwrap()
}

/// Two users of account `111122223333` (a `trent.toml`): alice
/// (`AKIAALICE0000000000A` / `alice-secret`), who owns the keys, and bob
/// (`AKIABOB00000000000BB` / `bob-secret`).
pub const ALICE_AND_BOB: &str = r#"
account_id = "111122223333"
[[credentials]]
access_key_id = "AKIAALICE0000000000A"
secret_access_key = "alice-secret"
principal = "arn:aws:iam::111122223333:user/alice"
[[credentials]]
access_key_id = "AKIABOB00000000000BB"
secret_access_key = "bob-secret"
principal = "arn:aws:iam::111122223333:user/bob"
"#;

/// A key policy that lets alice (of [`ALICE_AND_BOB`]) do everything and
/// nobody else anything.
pub const ALICE_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:*","Resource":"*"}]}"#;

/// The default region.
pub const EAST: &str = "us-east-1";
/// The other default region.
pub const WEST: &str = "us-west-2";
/// SoftHSM's module on Debian.
pub const SOFTHSM_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// Trent's SoftHSM configuration template (`@TOKENDIR@` to replace).
const SOFTHSM_TEMPLATE: &str = include_str!("../../hsm/softhsm2.conf.template");
/// Spawns `cmd` and reads the server's first line (its listen line). A
/// server that exits before printing one is started again, twice at most,
/// with its exit status on stderr: on a loaded 2-core machine a server
/// has been seen to die silently while starting, cause not found yet.
fn start_listening(cmd: &mut Command) -> (std::process::Child, String) {
    for attempt in 1..=3 {
        let mut child = cmd.spawn().expect("spawn trent");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, listen_line) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = sender.send(line);
        });
        let line = match listen_line.recv_timeout(START_TIMEOUT) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("trent did not print its listen line within {START_TIMEOUT:?}");
            }
        };
        if !line.is_empty() {
            return (child, line);
        }
        let status = child.wait().expect("wait for trent");
        eprintln!("trent exited before listening ({status}), attempt {attempt} of 3");
    }
    panic!("trent exited before listening three times");
}

/// With `TRENT_TEST_STORE_URL` set (a PostgreSQL server's URL), the URL of
/// the database of the server whose data directory is `data`:
/// `trent_test_<digest of the path>` on that server, created with `psql`
/// the first time, so that every test has a fresh database and a restarted
/// server finds its own again.
pub fn test_store_url(data: &Path) -> Option<String> {
    use sha2::Digest;
    use std::os::unix::ffi::OsStrExt;
    let server = std::env::var("TRENT_TEST_STORE_URL").ok()?;
    let digest = sha2::Sha256::digest(data.as_os_str().as_bytes());
    let name = format!("trent_test_{}", hex::encode(&digest[..8]));
    let out = Command::new("psql")
        .arg(&server)
        .args(["-v", "ON_ERROR_STOP=1", "-qc"])
        .arg(format!("CREATE DATABASE {name}"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run psql: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() || stderr.contains("already exists"),
        "CREATE DATABASE {name} failed: {stderr}"
    );
    Some(with_database(&server, &name))
}

/// A PostgreSQL URL naming database `name` instead of its own.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority..].find('/') {
        Some(slash) => &base[..authority + slash],
        None => base,
    };
    format!("{base}/{name}{query}")
}

/// SO PIN of every harness-made token.
const SO_PIN: &str = "harness-so-pin";

/// The Kryoptic module named by `TRENT_TEST_KRYOPTIC_MODULE`, when set
/// (panics if it names no file: a set variable means the tests must run).
pub fn kryoptic_module() -> Option<PathBuf> {
    let path = PathBuf::from(std::env::var_os("TRENT_TEST_KRYOPTIC_MODULE")?);
    assert!(
        path.is_file(),
        "TRENT_TEST_KRYOPTIC_MODULE={} is not a file (scripts/kryoptic.sh builds it)",
        path.display()
    );
    Some(path)
}

/// Whether the selected tokens serve key pairs (asymmetric keys and data key
/// pairs): a private key is wrapped with RFC 5649, which cryptoki 0.12 cannot
/// name on Kryoptic (ADR 0011), so there they are refused as unsupported.
pub fn key_pairs_served() -> bool {
    selected_kryoptic().is_none()
}

/// The Kryoptic module when `TRENT_TEST_PKCS11=kryoptic` selects it; panics
/// on an unknown value, or on `kryoptic` without `TRENT_TEST_KRYOPTIC_MODULE`.
fn selected_kryoptic() -> Option<PathBuf> {
    match std::env::var("TRENT_TEST_PKCS11").as_deref() {
        Err(_) | Ok("softhsm") => None,
        Ok("kryoptic") => Some(
            kryoptic_module().expect("TRENT_TEST_PKCS11=kryoptic needs TRENT_TEST_KRYOPTIC_MODULE"),
        ),
        Ok(other) => panic!("TRENT_TEST_PKCS11={other}: expected softhsm or kryoptic"),
    }
}

/// A PKCS#11 module the harness makes configured tokens on.
#[derive(Clone, Debug)]
pub enum Pkcs11 {
    /// SoftHSM 2 ([`SOFTHSM_MODULE`]); tokens made with `softhsm2-util`.
    SoftHsm,
    /// Kryoptic, at this module path; tokens made with OpenSC's `pkcs11-tool`.
    Kryoptic(PathBuf),
}

/// Configured tokens made by the harness, and the `trent.toml` and
/// environment that point a server at them.
#[derive(Clone, Debug)]
pub struct Tokens {
    /// The configuration file, one `[[regions]]` entry per token.
    config: PathBuf,
    /// Environment the server needs (`KRYOPTIC_CONF`).
    env: Vec<(String, String)>,
}

impl Tokens {
    /// Makes one token per region under `root/tokens`, as an operator
    /// would: SoftHSM regions share one `SOFTHSM2_CONF` made from Trent's
    /// template and get their token from `softhsm2-util`; Kryoptic regions
    /// are slots 1, 2, ... of one `KRYOPTIC_CONF` (a process-wide
    /// variable), each with its own SQLite file, initialised with
    /// `pkcs11-tool --init-token` and `--init-pin`. Every token is labelled
    /// `trent-<region>` with its user PIN in a file (`pin_file`); then
    /// `trent init-domain-key` gives each its domain key, with `data` as the
    /// data directory.
    pub fn create(root: &Path, data: &Path, regions: &[(&str, Pkcs11)]) -> Self {
        let dir = root.join("tokens");
        std::fs::create_dir_all(&dir).expect("token directory");
        let softhsm_conf = dir.join("softhsm2.conf");
        let kryoptic_conf = dir.join("kryoptic.conf");
        let mut kryoptic_slots = String::new();
        let mut toml = String::new();
        let mut inits: Vec<Command> = Vec::new();
        for (slot, (region, on)) in (1..).zip(regions) {
            let label = format!("trent-{region}");
            let pin = format!("user-pin-{region}");
            let pin_file = dir.join(format!("{region}.pin"));
            std::fs::write(&pin_file, &pin).expect("write PIN file");
            toml.push_str(&format!(
                "[[regions]]\nname = \"{region}\"\ntoken_label = \"{label}\"\npin_file = \"{}\"\n",
                pin_file.display()
            ));
            match on {
                Pkcs11::SoftHsm => {
                    let token_dir = dir.join("softhsm");
                    if !softhsm_conf.exists() {
                        std::fs::create_dir_all(&token_dir).expect("SoftHSM token directory");
                        let text = SOFTHSM_TEMPLATE
                            .replace("@TOKENDIR@", &token_dir.display().to_string());
                        std::fs::write(&softhsm_conf, text).expect("write softhsm2.conf");
                    }
                    toml.push_str(&format!(
                        "module = \"{SOFTHSM_MODULE}\"\nsofthsm_conf = \"{}\"\n",
                        softhsm_conf.display()
                    ));
                    let mut init = Command::new("softhsm2-util");
                    init.args(["--init-token", "--free", "--label", &label])
                        .args(["--so-pin", SO_PIN, "--pin", &pin])
                        .env("SOFTHSM2_CONF", &softhsm_conf);
                    inits.push(init);
                }
                Pkcs11::Kryoptic(module) => {
                    kryoptic_slots.push_str(&format!(
                        "[[slots]]\nslot = {slot}\ndbtype = \"sqlite\"\ndbargs = \"{}\"\n\n",
                        dir.join(format!("kryoptic-{region}.sql")).display()
                    ));
                    toml.push_str(&format!("module = \"{}\"\n", module.display()));
                    let tool = || {
                        let mut cmd = Command::new("pkcs11-tool");
                        cmd.arg("--module")
                            .arg(module)
                            .args(["--slot", &slot.to_string()])
                            .env("KRYOPTIC_CONF", &kryoptic_conf);
                        cmd
                    };
                    let mut init = tool();
                    init.args(["--init-token", "--label", &label, "--so-pin", SO_PIN]);
                    inits.push(init);
                    let mut init_pin = tool();
                    init_pin
                        .args(["--init-pin", "--so-pin", SO_PIN, "--pin", &pin])
                        .args(["--login", "--login-type", "so"]);
                    inits.push(init_pin);
                }
            }
            toml.push('\n');
        }
        let mut env = Vec::new();
        if !kryoptic_slots.is_empty() {
            std::fs::write(&kryoptic_conf, kryoptic_slots).expect("write KRYOPTIC_CONF");
            env.push((
                "KRYOPTIC_CONF".to_string(),
                kryoptic_conf.display().to_string(),
            ));
        }
        for mut init in inits {
            run(&mut init);
        }
        let config = root.join("trent.toml");
        std::fs::write(&config, toml).expect("write trent.toml");
        for (region, _) in regions {
            let mut init = Command::new(env!("CARGO_BIN_EXE_trent"));
            init.args(["init-domain-key", "--config"])
                .arg(&config)
                .args(["--region", region]);
            for (name, _) in std::env::vars_os() {
                if name.to_string_lossy().starts_with("TRENT_") {
                    init.env_remove(name);
                }
            }
            init.env("TRENT_DATA_DIR", data).env("TRENT_LOG", "warn");
            init.envs(env.iter().map(|(k, v)| (k, v)));
            run(&mut init);
        }
        Tokens { config, env }
    }
}

/// Runs `cmd`, panicking with its output unless it succeeds.
fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Creates a multi-Region primary key with the defaults and returns its id.
pub async fn new_mrk(kms: &Client) -> String {
    kms.create_key()
        .multi_region(true)
        .send()
        .await
        .expect("CreateKey MultiRegion")
        .key_metadata
        .expect("key metadata")
        .key_id
}

/// The AWS error code and message of a failed SDK call; the message is
/// `None` when the reply carried none.
pub fn refusal<E, R>(result: Result<R, aws_sdk_kms::error::SdkError<E>>) -> (String, Option<String>)
where
    E: aws_sdk_kms::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    let e = result.expect_err("expected an error");
    let service = e.as_service_error().expect("a service error");
    (
        service.code().expect("an error code").to_string(),
        service.message().map(str::to_string),
    )
}

/// The samples of a Prometheus exposition (`GET /metrics`): series (name
/// and labels, as written) to value.
pub fn metric_samples(body: &str) -> std::collections::HashMap<String, f64> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}
