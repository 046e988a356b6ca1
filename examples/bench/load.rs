//! The HTTP side: SigV4-signed AWS JSON 1.1 requests over persistent HTTP/1.1
//! connections, one per concurrent task, and the timed runs built from them.

use crate::zipf::{Rng, Zipf};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// Longest a single request may take before it counts as an error.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const JSON: &str = "application/x-amz-json-1.1";

/// A benchmarked operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Encrypt 32 bytes.
    Encrypt32,
    /// Encrypt 4 KiB.
    Encrypt4k,
    /// Decrypt a 32-byte ciphertext made at setup.
    Decrypt,
    /// GenerateDataKey, AES_256.
    Gdk,
    /// Sign 32 bytes with an RSA_2048 key, RSASSA_PSS_SHA_256.
    SignRsa,
    /// Sign 32 bytes with an ECC_NIST_P256 key, ECDSA_SHA_256.
    SignEcdsa,
    /// Verify the ECDSA_SHA_256 signature made at setup.
    VerifyEcdsa,
    /// GenerateMac of 32 bytes with an HMAC_256 key.
    Mac,
    /// CreateKey (symmetric, default spec).
    CreateKey,
}

impl Op {
    /// Every operation, in the default order (CreateKey last: it adds keys).
    pub const ALL: [Op; 9] = [
        Op::Encrypt32,
        Op::Encrypt4k,
        Op::Decrypt,
        Op::Gdk,
        Op::SignRsa,
        Op::SignEcdsa,
        Op::VerifyEcdsa,
        Op::Mac,
        Op::CreateKey,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Op::Encrypt32 => "encrypt32",
            Op::Encrypt4k => "encrypt4k",
            Op::Decrypt => "decrypt",
            Op::Gdk => "gdk",
            Op::SignRsa => "sign-rsa",
            Op::SignEcdsa => "sign-ecdsa",
            Op::VerifyEcdsa => "verify-ecdsa",
            Op::Mac => "mac",
            Op::CreateKey => "create-key",
        }
    }

    /// Parses a command-line name.
    pub fn parse(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name() == name)
    }

    /// The `X-Amz-Target` of the operation's requests.
    pub fn target(self) -> &'static str {
        match self {
            Op::Encrypt32 | Op::Encrypt4k => "TrentService.Encrypt",
            Op::Decrypt => "TrentService.Decrypt",
            Op::Gdk => "TrentService.GenerateDataKey",
            Op::SignRsa | Op::SignEcdsa => "TrentService.Sign",
            Op::VerifyEcdsa => "TrentService.Verify",
            Op::Mac => "TrentService.GenerateMac",
            Op::CreateKey => "TrentService.CreateKey",
        }
    }

    /// The kind of key the operation's requests name.
    pub fn key_kind(self) -> KeyKind {
        match self {
            Op::SignRsa => KeyKind::Rsa2048,
            Op::SignEcdsa | Op::VerifyEcdsa => KeyKind::EccP256,
            Op::Mac => KeyKind::Hmac256,
            _ => KeyKind::Symmetric,
        }
    }

    /// The `SigningAlgorithm` of Sign and Verify.
    fn signing_algorithm(self) -> &'static str {
        match self {
            Op::SignRsa => "RSASSA_PSS_SHA_256",
            _ => "ECDSA_SHA_256",
        }
    }

    /// Plaintext size of an Encrypt (and of the setup ciphertext for
    /// Decrypt), or message size of a Sign, Verify or GenerateMac.
    pub fn plaintext_len(self) -> usize {
        match self {
            Op::Encrypt4k => 4096,
            _ => 32,
        }
    }
}

/// A kind of key the bench creates at setup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyKind {
    /// SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT.
    Symmetric,
    /// RSA_2048, SIGN_VERIFY.
    Rsa2048,
    /// ECC_NIST_P256, SIGN_VERIFY.
    EccP256,
    /// HMAC_256, GENERATE_VERIFY_MAC.
    Hmac256,
}

impl KeyKind {
    /// The CreateKey request body for a key of this kind.
    fn create_body(self) -> String {
        let (spec, usage) = match self {
            KeyKind::Symmetric => return "{}".to_string(),
            KeyKind::Rsa2048 => ("RSA_2048", "SIGN_VERIFY"),
            KeyKind::EccP256 => ("ECC_NIST_P256", "SIGN_VERIFY"),
            KeyKind::Hmac256 => ("HMAC_256", "GENERATE_VERIFY_MAC"),
        };
        serde_json::json!({"KeySpec": spec, "KeyUsage": usage}).to_string()
    }
}

/// Which key a request uses.
pub enum Keys {
    /// Always this key.
    One(String),
    /// A Zipf-distributed choice among these keys.
    Zipf(Vec<String>, Zipf),
}

/// What every request of a run does.
pub struct Workload {
    /// The operation.
    pub op: Op,
    /// Key choice (ignored by CreateKey and Decrypt).
    pub keys: Keys,
    /// Made at setup, base64: for Decrypt, the ciphertext blob and the
    /// plaintext it must give back; for Verify, the message and its signature.
    pub fixture: Option<(String, String)>,
}

impl Workload {
    /// The request body, serialised as a client would for each call.
    fn body(&self, rng: &mut Rng, plaintext: &mut [u8]) -> String {
        let key = match &self.keys {
            Keys::One(id) => id.as_str(),
            Keys::Zipf(ids, zipf) => ids[zipf.sample(rng)].as_str(),
        };
        match self.op {
            Op::Encrypt32 | Op::Encrypt4k => {
                rng.fill(plaintext);
                serde_json::json!({"KeyId": key, "Plaintext": B64.encode(&*plaintext)}).to_string()
            }
            Op::Decrypt => {
                let (blob, _) = self.fixture.as_ref().expect("decrypt fixture");
                serde_json::json!({"CiphertextBlob": blob}).to_string()
            }
            Op::Gdk => serde_json::json!({"KeyId": key, "KeySpec": "AES_256"}).to_string(),
            Op::SignRsa | Op::SignEcdsa => {
                rng.fill(plaintext);
                serde_json::json!({
                    "KeyId": key,
                    "Message": B64.encode(&*plaintext),
                    "MessageType": "RAW",
                    "SigningAlgorithm": self.op.signing_algorithm(),
                })
                .to_string()
            }
            Op::VerifyEcdsa => {
                let (message, signature) = self.fixture.as_ref().expect("verify fixture");
                serde_json::json!({
                    "KeyId": key,
                    "Message": message,
                    "MessageType": "RAW",
                    "Signature": signature,
                    "SigningAlgorithm": self.op.signing_algorithm(),
                })
                .to_string()
            }
            Op::Mac => {
                rng.fill(plaintext);
                serde_json::json!({
                    "KeyId": key,
                    "Message": B64.encode(&*plaintext),
                    "MacAlgorithm": "HMAC_SHA_256",
                })
                .to_string()
            }
            Op::CreateKey => KeyKind::Symmetric.create_body(),
        }
    }

    /// Checks a 200 response as a client would use it; for CreateKey returns the new key id.
    fn check(&self, body: &[u8]) -> Result<Option<String>, String> {
        let json: Value =
            serde_json::from_slice(body).map_err(|e| format!("response is not JSON: {e}"))?;
        let has = |field: &str| json[field].as_str().is_some_and(|s| !s.is_empty());
        match self.op {
            Op::Encrypt32 | Op::Encrypt4k if has("CiphertextBlob") => Ok(None),
            Op::Gdk if has("CiphertextBlob") && has("Plaintext") => Ok(None),
            Op::SignRsa | Op::SignEcdsa if has("Signature") => Ok(None),
            Op::VerifyEcdsa if json["SignatureValid"] == true => Ok(None),
            Op::Mac if has("Mac") => Ok(None),
            Op::Decrypt => {
                let (_, want) = self.fixture.as_ref().expect("decrypt fixture");
                if json["Plaintext"].as_str() == Some(want.as_str()) {
                    Ok(None)
                } else {
                    Err("Decrypt returned the wrong plaintext".into())
                }
            }
            Op::CreateKey => json["KeyMetadata"]["KeyId"]
                .as_str()
                .map(|id| Some(id.to_string()))
                .ok_or_else(|| "CreateKey response without KeyMetadata.KeyId".into()),
            _ => Err(format!("unexpected response: {json}")),
        }
    }
}

/// Signs requests with the official SigV4 signer, the way an SDK does: a
/// fresh signature (and timestamp) for every request.
pub struct Signer {
    identity: Identity,
    region: String,
    host: String,
    url: String,
}

impl Signer {
    /// A signer for `region` with the given credentials, for a server at `addr`.
    pub fn new(access_key_id: &str, secret: &str, region: &str, addr: SocketAddr) -> Self {
        Signer {
            identity: aws_credential_types::Credentials::new(
                access_key_id,
                secret,
                None,
                None,
                "trent-bench",
            )
            .into(),
            region: region.to_string(),
            host: addr.to_string(),
            url: format!("http://{addr}/"),
        }
    }

    /// A signed POST / for `target` with `body`.
    fn request(&self, target: &str, body: String) -> Result<Request<Full<Bytes>>, String> {
        let body = Bytes::from(body);
        let mut request = Request::builder()
            .method(Method::POST)
            .uri("/")
            .header("host", &self.host)
            .header("content-type", JSON)
            .header("x-amz-target", target)
            .body(Full::new(body.clone()))
            .map_err(|e| e.to_string())?;
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name("kms")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let headers = request
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_str().unwrap_or("")));
        let signable = SignableRequest::new(
            "POST",
            self.url.as_str(),
            headers,
            SignableBody::Bytes(&body),
        )
        .map_err(|e| e.to_string())?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| e.to_string())?
            .into_parts();
        instructions.apply_to_request_http1x(&mut request);
        Ok(request)
    }
}

/// One persistent HTTP/1.1 connection, reopened after a transport error.
pub struct Client {
    addr: SocketAddr,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Client {
    /// A client for `addr`; connects on first use.
    pub fn new(addr: SocketAddr) -> Self {
        Client { addr, sender: None }
    }

    /// Sends a request and reads the whole response: (status, body).
    async fn send(&mut self, request: Request<Full<Bytes>>) -> Result<(u16, Bytes), String> {
        let result = tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(request)).await;
        let result = result.unwrap_or_else(|_| Err("request timed out".into()));
        if result.is_err() {
            self.sender = None;
        }
        result
    }

    async fn exchange(&mut self, request: Request<Full<Bytes>>) -> Result<(u16, Bytes), String> {
        if self.sender.is_none() {
            self.sender = Some(connect(self.addr).await?);
        }
        let sender = self.sender.as_mut().expect("connected");
        sender.ready().await.map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, body))
    }

    /// Signs and sends one request of `workload`; returns the round-trip time
    /// (send to last response byte) and, for CreateKey, the new key id.
    pub async fn call(
        &mut self,
        signer: &Signer,
        workload: &Workload,
        rng: &mut Rng,
        plaintext: &mut [u8],
    ) -> Result<(Duration, Option<String>), String> {
        let body = workload.body(rng, plaintext);
        let request = signer.request(workload.op.target(), body)?;
        let sent = Instant::now();
        let (status, body) = self.send(request).await?;
        let took = sent.elapsed();
        if status != 200 {
            let text = String::from_utf8_lossy(&body);
            return Err(format!(
                "HTTP {status}: {}",
                text.chars().take(200).collect::<String>()
            ));
        }
        Ok((took, workload.check(&body)?))
    }
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// One request's completion time (µs since the run started) and latency (µs).
#[derive(Clone, Copy)]
struct Sample {
    done_at: u64,
    latency: u32,
}

#[derive(Default)]
struct TaskLog {
    samples: Vec<Sample>,
    errors: Vec<u64>,
    first_error: Option<String>,
    created: Vec<String>,
}

impl TaskLog {
    fn error(&mut self, at: u64, message: String) {
        self.errors.push(at);
        self.first_error.get_or_insert(message);
    }
}

/// The outcome of one measured point.
pub struct PointResult {
    /// Sorted latencies (µs) of the requests that completed in the window.
    pub latencies: Vec<u32>,
    /// Failed requests completed in the window.
    pub errors: u64,
    /// Failed requests during warm-up.
    pub warmup_errors: u64,
    /// The first error seen, if any.
    pub first_error: Option<String>,
    /// The measured window as it actually was.
    pub window: Duration,
    /// Server CPU time spent in the window.
    pub server_cpu: Option<Duration>,
    /// This process's CPU time spent in the window.
    pub bench_cpu: Option<Duration>,
    /// Busy CPU time of the whole machine in the window.
    pub machine_cpu: Option<Duration>,
}

impl PointResult {
    /// Successful requests per second in the window.
    pub fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.window.as_secs_f64()
    }

    /// The q-quantile of the window's latencies (µs).
    pub fn quantile(&self, q: f64) -> u32 {
        quantile(&self.latencies, q)
    }

    /// CPUs' worth of time used by other processes in the window (what
    /// neither the server nor the bench used), when known.
    pub fn other_cores(&self) -> Option<f64> {
        let others = self.machine_cpu?.as_secs_f64()
            - self.server_cpu?.as_secs_f64()
            - self.bench_cpu?.as_secs_f64();
        Some(others.max(0.0) / self.window.as_secs_f64())
    }
}

/// The q-quantile (nearest rank) of sorted values; 0 when empty.
pub fn quantile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Runs `workload` with `concurrency` tasks, each on its own connection, for
/// `warmup` then `duration`; measures the window between them.
pub async fn run_point(
    addr: SocketAddr,
    signer: Arc<Signer>,
    workload: Arc<Workload>,
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
    server_pid: Option<u32>,
) -> PointResult {
    let start = Instant::now();
    let stop = start + warmup + duration;
    let tasks: Vec<_> = (0..concurrency)
        .map(|i| {
            let (signer, workload) = (signer.clone(), workload.clone());
            tokio::spawn(async move {
                let mut log = TaskLog::default();
                let mut client = Client::new(addr);
                let mut rng = Rng::new(i as u64);
                let mut plaintext = vec![0u8; workload.op.plaintext_len()];
                while Instant::now() < stop {
                    let result = client
                        .call(&signer, &workload, &mut rng, &mut plaintext)
                        .await;
                    let done_at = start.elapsed().as_micros() as u64;
                    match result {
                        Ok((took, _)) => log.samples.push(Sample {
                            done_at,
                            latency: took.as_micros().min(u32::MAX as u128) as u32,
                        }),
                        Err(e) => log.error(done_at, e),
                    }
                }
                log
            })
        })
        .collect();
    // The window is bounded by the instants at which CPU times were read.
    tokio::time::sleep_until((start + warmup).into()).await;
    let (server0, bench0) = (server_pid.and_then(crate::server::process_cpu), self_cpu());
    let machine0 = crate::server::machine_busy();
    let window_start = start.elapsed();
    tokio::time::sleep_until(stop.into()).await;
    let (server1, bench1) = (server_pid.and_then(crate::server::process_cpu), self_cpu());
    let machine1 = crate::server::machine_busy();
    let window_end = start.elapsed();
    let (lo, hi) = (
        window_start.as_micros() as u64,
        window_end.as_micros() as u64,
    );
    let mut result = PointResult {
        latencies: Vec::new(),
        errors: 0,
        warmup_errors: 0,
        first_error: None,
        window: window_end - window_start,
        server_cpu: server0.zip(server1).map(|(a, b)| b.saturating_sub(a)),
        bench_cpu: bench0.zip(bench1).map(|(a, b)| b.saturating_sub(a)),
        machine_cpu: machine0.zip(machine1).map(|(a, b)| b.saturating_sub(a)),
    };
    for task in tasks {
        let Ok(log) = task.await else {
            result.errors += 1;
            continue;
        };
        result.latencies.extend(
            log.samples
                .iter()
                .filter(|s| (lo..hi).contains(&s.done_at))
                .map(|s| s.latency),
        );
        result.errors += log
            .errors
            .iter()
            .filter(|&&t| (lo..hi).contains(&t))
            .count() as u64;
        result.warmup_errors += log.errors.iter().filter(|&&t| t < lo).count() as u64;
        if result.first_error.is_none() {
            result.first_error = log.first_error;
        }
    }
    result.latencies.sort_unstable();
    result
}

/// The outcome of creating keys.
pub struct CreateResult {
    /// Ids of the keys created.
    pub ids: Vec<String>,
    /// Failed CreateKey calls.
    pub errors: u64,
    /// The first error seen, if any.
    pub first_error: Option<String>,
    /// Wall time of the whole phase.
    pub elapsed: Duration,
    /// Server CPU time of the whole phase.
    pub server_cpu: Option<Duration>,
    /// Sorted CreateKey latencies (µs).
    pub latencies: Vec<u32>,
}

/// Creates `count` keys with `concurrency` tasks (exactly `count` attempts).
pub async fn create_keys(
    addr: SocketAddr,
    signer: Arc<Signer>,
    count: usize,
    concurrency: usize,
    server_pid: Option<u32>,
) -> CreateResult {
    let workload = Arc::new(Workload {
        op: Op::CreateKey,
        keys: Keys::One(String::new()),
        fixture: None,
    });
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let cpu0 = server_pid.and_then(crate::server::process_cpu);
    let tasks: Vec<_> = (0..concurrency.min(count).max(1))
        .map(|i| {
            let (signer, workload) = (signer.clone(), workload.clone());
            let (next, done) = (next.clone(), done.clone());
            tokio::spawn(async move {
                let mut log = TaskLog::default();
                let mut client = Client::new(addr);
                let mut rng = Rng::new(i as u64);
                while next.fetch_add(1, Ordering::Relaxed) < count {
                    match client.call(&signer, &workload, &mut rng, &mut []).await {
                        Ok((took, id)) => {
                            log.samples.push(Sample {
                                done_at: 0,
                                latency: took.as_micros().min(u32::MAX as u128) as u32,
                            });
                            log.created.extend(id);
                        }
                        Err(e) => log.error(0, e),
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
                log
            })
        })
        .collect();
    let progress = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut last = (Instant::now(), 0usize);
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let now = (Instant::now(), done.load(Ordering::Relaxed));
                let rate = (now.1 - last.1) as f64 / (now.0 - last.0).as_secs_f64();
                eprintln!("  ... {} / {count} keys, {rate:.0} keys/s lately", now.1);
                last = now;
            }
        })
    };
    let mut result = CreateResult {
        ids: Vec::with_capacity(count),
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
        server_cpu: None,
        latencies: Vec::with_capacity(count),
    };
    for task in tasks {
        let Ok(log) = task.await else {
            result.errors += 1;
            continue;
        };
        result.ids.extend(log.created);
        result
            .latencies
            .extend(log.samples.iter().map(|s| s.latency));
        result.errors += log.errors.len() as u64;
        if result.first_error.is_none() {
            result.first_error = log.first_error;
        }
    }
    progress.abort();
    result.elapsed = start.elapsed();
    let cpu1 = server_pid.and_then(crate::server::process_cpu);
    result.server_cpu = cpu0.zip(cpu1).map(|(a, b)| b.saturating_sub(a));
    result.latencies.sort_unstable();
    result
}

/// One Encrypt (32 B) of `key` on `client`: its round-trip time.
pub async fn encrypt_once(
    client: &mut Client,
    signer: &Signer,
    key: &str,
    rng: &mut Rng,
) -> Result<Duration, String> {
    let workload = Workload {
        op: Op::Encrypt32,
        keys: Keys::One(key.to_string()),
        fixture: None,
    };
    let mut plaintext = [0u8; 32];
    Ok(client.call(signer, &workload, rng, &mut plaintext).await?.0)
}

/// Signs and sends one request for `target` with `body`: the HTTP status
/// and the JSON answer (`Null` when the body is not JSON).
pub async fn request(
    client: &mut Client,
    signer: &Signer,
    (target, body): (&str, String),
) -> Result<(u16, Value), String> {
    let request = signer.request(target, body)?;
    let (status, body) = client.send(request).await?;
    Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

/// Sends one setup request and returns its JSON answer, or an error naming
/// `what` unless the answer is a 200.
pub async fn setup_call(
    client: &mut Client,
    signer: &Signer,
    call: (&str, String),
    what: &str,
) -> Result<Value, String> {
    match request(client, signer, call).await? {
        (200, json) => Ok(json),
        (status, json) => Err(format!("setup {what} failed: HTTP {status} {json}")),
    }
}

/// Creates one key of `kind` for the runs to use: its id.
pub async fn create_key(
    client: &mut Client,
    signer: &Signer,
    kind: KeyKind,
) -> Result<String, String> {
    let call = (Op::CreateKey.target(), kind.create_body());
    let json = setup_call(client, signer, call, "CreateKey").await?;
    json["KeyMetadata"]["KeyId"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("setup CreateKey ({kind:?}) gave no KeyId: {json}"))
}

/// The ids of every key the caller's account has, through ListKeys pages.
pub async fn list_keys(addr: SocketAddr, signer: &Signer) -> Result<Vec<String>, String> {
    let mut client = Client::new(addr);
    let mut ids = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let body = match &marker {
            Some(m) => serde_json::json!({"Limit": 1000, "Marker": m}),
            None => serde_json::json!({"Limit": 1000}),
        };
        let page = setup_call(
            &mut client,
            signer,
            ("TrentService.ListKeys", body.to_string()),
            "ListKeys",
        )
        .await?;
        let keys = page["Keys"].as_array().into_iter().flatten();
        ids.extend(keys.filter_map(|k| k["KeyId"].as_str().map(str::to_string)));
        match (page["Truncated"].as_bool(), page["NextMarker"].as_str()) {
            (Some(true), Some(next)) => marker = Some(next.to_string()),
            _ => return Ok(ids),
        }
    }
}

/// Makes the setup ciphertext for Decrypt: (blob, plaintext), base64.
pub async fn make_ciphertext(
    client: &mut Client,
    signer: &Signer,
    key: &str,
    len: usize,
) -> Result<(String, String), String> {
    let mut rng = Rng::new(7);
    let mut plaintext = vec![0u8; len];
    rng.fill(&mut plaintext);
    let plaintext = B64.encode(&plaintext);
    let body = serde_json::json!({"KeyId": key, "Plaintext": plaintext}).to_string();
    let json = setup_call(client, signer, (Op::Encrypt32.target(), body), "Encrypt").await?;
    match json["CiphertextBlob"].as_str() {
        Some(blob) => Ok((blob.to_string(), plaintext)),
        None => Err(format!("setup Encrypt gave no CiphertextBlob: {json}")),
    }
}

/// Makes the setup signature for Verify: a 32-byte message and its
/// ECDSA_SHA_256 signature under `key` (Sign), base64.
pub async fn make_signature(
    client: &mut Client,
    signer: &Signer,
    key: &str,
) -> Result<(String, String), String> {
    let sign = Workload {
        op: Op::SignEcdsa,
        keys: Keys::One(key.to_string()),
        fixture: None,
    };
    let mut message = [0u8; 32];
    let body = sign.body(&mut Rng::new(7), &mut message);
    let json = setup_call(client, signer, (sign.op.target(), body), "Sign").await?;
    match json["Signature"].as_str() {
        Some(signature) => Ok((B64.encode(message), signature.to_string())),
        None => Err(format!("setup Sign gave no Signature: {json}")),
    }
}

/// One answer of the server to `workload`, as sent (for the ceiling to
/// replay).
pub async fn answer_of(
    client: &mut Client,
    signer: &Signer,
    workload: &Workload,
) -> Result<Bytes, String> {
    let mut plaintext = vec![0u8; workload.op.plaintext_len()];
    let body = workload.body(&mut Rng::new(11), &mut plaintext);
    let request = signer.request(workload.op.target(), body)?;
    match client.send(request).await? {
        (200, body) => Ok(body),
        (status, body) => Err(format!(
            "setup {} failed: HTTP {status} {}",
            workload.op.name(),
            String::from_utf8_lossy(&body)
        )),
    }
}

/// This process's CPU time so far.
pub fn self_cpu() -> Option<Duration> {
    crate::server::process_cpu(std::process::id())
}
