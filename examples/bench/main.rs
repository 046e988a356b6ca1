//! Load generator for Trent: drives a real `trent serve` over loopback
//! HTTP/1.1 keep-alive with SigV4-signed AWS KMS requests and prints figures.
//! It never asserts on a number. After the operations it runs the HTTP
//! ceiling (`ceiling.rs`, a bare handler on the same HTTP stack, in a child
//! process) at the same concurrency levels and prints every operation's
//! throughput and server CPU per request as a ratio to it (`--no-ceiling`
//! skips it).
//!
//! Build the server, then run the bench (both in release mode):
//!
//! ```text
//! cargo build --release --bin trent && cargo run --release --example bench -- [OPTIONS]
//! ```
//!
//! `cargo run --example` builds the example and the library, not the `trent`
//! binary, so the first command is needed whenever `src/` changed. The bench
//! runs `trent` from the directory above its own executable
//! (`target/release/trent`), or `--trent PATH`.
//!
//! Examples:
//!
//! ```text
//! ... -- --duration 3 --warmup 1 --concurrency 1,16,64       # every op
//! ... -- --ops encrypt32,decrypt --raw                         # with the PKCS#11 baseline
//! ... -- --ops none --keys 10,100000                           # key-count mode only
//! ... -- --ops none --keys 10,100000 --raw                     # and the token alone
//! ... -- --endpoint http://127.0.0.1:4599 --data-dir trent-data --server-pid 1234
//! ... -- --invalidation 200 --server-env TRENT_STORE_URL=postgres://postgres@127.0.0.1/b1
//! ```

mod ceiling;
mod interleave;
mod invalidation;
mod load;
mod passes;
mod raw;
mod server;
mod zipf;

use clap::Parser;
use load::{Client, KeyKind, Keys, Op, PointResult, Signer, Workload};
use server::Server;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use zipf::{Rng, Zipf};

/// The allocator Trent serves with, so that the ceiling (`ceiling.rs`) runs
/// on the same one; the load generator uses it too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The `getpid` Trent serves with (ADR 0023), so that the raw token work
/// (`raw.rs`) skips SoftHSM's per-call system call as the server does.
#[unsafe(no_mangle)]
pub extern "C" fn getpid() -> libc::pid_t {
    trent::process_id::cached()
}

#[derive(Parser)]
#[command(
    name = "bench",
    about = "Load generator for Trent (AWS KMS API over SoftHSM): prints figures, asserts nothing"
)]
struct Args {
    /// Operations to run, comma-separated: encrypt32, encrypt4k, decrypt, gdk,
    /// sign-rsa, sign-ecdsa, verify-ecdsa, mac, create-key, or `all` or `none`.
    #[arg(long, default_value = "all")]
    ops: String,
    /// Concurrency levels (concurrent connections), comma-separated.
    #[arg(long, default_value = "1,16,64")]
    concurrency: String,
    /// Measured seconds per point.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Warm-up seconds per point (not measured).
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Also run the same cryptographic work directly through PKCS#11 on the
    /// server's token, with as many threads as connections, and print the
    /// ratio; in key-count mode (with `--ops none`), also Encrypt through
    /// PKCS#11 over as many session keys as the server caches at the
    /// smallest and at the largest count.
    #[arg(long)]
    raw: bool,
    /// Key-count mode: key counts, comma-separated and increasing (e.g.
    /// 10,100000). Keys are created (cumulatively) on a fresh server, then
    /// Encrypt runs with Zipf-distributed key choice; cold-key latency,
    /// memory and start-up time are measured.
    #[arg(long)]
    keys: Option<String>,
    /// Concurrency used to create keys in key-count mode.
    #[arg(long, default_value_t = 16)]
    create_concurrency: usize,
    /// Number of distinct keys probed for cold-key latency after a restart.
    #[arg(long, default_value_t = 20)]
    cold_keys: usize,
    /// Key-count mode: rounds of the interleaved comparison of the smallest
    /// and largest count (each on its own server); 0 skips it.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Cross-node invalidation mode, instead of every other measurement:
    /// starts two nodes on the store of --server-env's TRENT_STORE_URL (a
    /// fresh SQLite file when it names none), and times this many rounds of
    /// DisableKey/EnableKey on one node until the other's Encrypt reflects it.
    #[arg(long, value_name = "ROUNDS", conflicts_with_all = ["ops", "keys", "raw", "endpoint", "data_dir"])]
    invalidation: Option<usize>,
    /// Zipf exponent for the key choice.
    #[arg(long, default_value_t = 1.0)]
    zipf_exponent: f64,
    /// Target an already running server at this loopback URL instead of
    /// starting one (needs --data-dir for its credentials).
    #[arg(long, requires = "data_dir")]
    endpoint: Option<String>,
    /// Data directory: of the --endpoint server, or for the server the bench
    /// starts (default: a fresh temporary directory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Pid of the --endpoint server, for its CPU time and memory.
    #[arg(long)]
    server_pid: Option<u32>,
    /// The trent binary to start (default: `trent` next to the bench's own directory).
    #[arg(long)]
    trent: Option<PathBuf>,
    /// Extra environment for the started server, e.g. TRENT_KEY_CACHE_CAPACITY=100000.
    #[arg(long = "server-env", value_name = "KEY=VALUE")]
    server_env: Vec<String>,
    /// Region (SigV4 credential scope and token `trent-<region>`).
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Tokio worker threads of the load generator (default: number of CPUs).
    #[arg(long)]
    client_threads: Option<usize>,
    /// PKCS#11 module for --raw.
    #[arg(long, default_value = raw::SOFTHSM_MODULE)]
    module: PathBuf,
    /// Skip the HTTP ceiling (a bare handler run after the operations, whose
    /// figures the others are divided by).
    #[arg(long)]
    no_ceiling: bool,
    /// Operations mode: measure the operations, the ceiling (and with --raw
    /// the raw token work) this many times, one after the other, and print
    /// each ratio's median over the passes with its range: a machine whose
    /// speed drifts over minutes (shared cloud CPUs) then moves both sides
    /// of a ratio alike.
    #[arg(long, default_value_t = 1)]
    passes: usize,
    /// Internal: serve the ceiling's fixed answer from this file.
    #[arg(long, hide = true)]
    ceiling_serve: Option<PathBuf>,
}

/// Validated settings.
struct Plan {
    ops: Vec<Op>,
    levels: Vec<usize>,
    duration: Duration,
    warmup: Duration,
    keys: Vec<usize>,
    env: Vec<(String, String)>,
    binary: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let outcome = match &args.ceiling_serve {
        Some(answer) => ceiling::serve(answer),
        None => run(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn plan(args: &Args) -> Result<Plan, String> {
    let ops = match args.ops.as_str() {
        "all" => Op::ALL.to_vec(),
        "none" => Vec::new(),
        list => list
            .split(',')
            .map(|s| Op::parse(s.trim()).ok_or_else(|| format!("unknown op {s:?}")))
            .collect::<Result<_, _>>()?,
    };
    let levels = parse_list(&args.concurrency, "--concurrency")?;
    if levels.iter().any(|&c| c == 0 || c > 4096) {
        return Err("--concurrency levels must be between 1 and 4096".into());
    }
    let keys = match &args.keys {
        Some(list) => parse_list(list, "--keys")?,
        None => Vec::new(),
    };
    if keys.iter().any(|&n| n == 0 || n > 10_000_000) || keys.windows(2).any(|w| w[0] >= w[1]) {
        return Err("--keys must be increasing counts between 1 and 10,000,000".into());
    }
    let seconds = |s: f64, name: &str| {
        if s.is_finite() && (0.0..=3600.0).contains(&s) {
            Ok(Duration::from_secs_f64(s))
        } else {
            Err(format!("{name} must be between 0 and 3600 seconds"))
        }
    };
    let duration = seconds(args.duration, "--duration")?;
    if duration.is_zero() {
        return Err("--duration must be positive".into());
    }
    if !(1..=4096).contains(&args.create_concurrency) {
        return Err("--create-concurrency must be between 1 and 4096".into());
    }
    let env = args
        .server_env
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| format!("--server-env wants KEY=VALUE, got {kv:?}"))
        })
        .collect::<Result<_, _>>()?;
    let binary = match &args.trent {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .map_err(|e| format!("own executable: {e}"))?
            .parent()
            .and_then(|examples| examples.parent())
            .ok_or("cannot locate the target directory")?
            .join("trent"),
    };
    Ok(Plan {
        ops,
        levels,
        duration,
        warmup: seconds(args.warmup, "--warmup")?,
        keys,
        env,
        binary,
    })
}

fn parse_list(list: &str, name: &str) -> Result<Vec<usize>, String> {
    list.split(',')
        .map(|s| {
            s.trim()
                .replace('_', "")
                .parse()
                .map_err(|_| format!("{name}: {s:?} is not a number"))
        })
        .collect()
}

/// A fresh temporary directory and the data directory to create in it.
fn fresh_data_dir() -> Result<(tempfile::TempDir, PathBuf), String> {
    let temp = tempfile::Builder::new()
        .prefix("trent-bench-")
        .tempdir()
        .map_err(|e| format!("temporary directory: {e}"))?;
    let data = temp.path().join("data");
    Ok((temp, data))
}

fn run(args: Args) -> Result<(), String> {
    let plan = plan(&args)?;
    if args.raw && plan.ops.is_empty() && plan.keys.is_empty() {
        return Err("--raw needs at least one op, or --keys".into());
    }
    if args.raw && !plan.ops.is_empty() && !plan.keys.is_empty() && args.data_dir.is_none() {
        return Err(
            "--raw with --keys needs --ops none (the token alone is measured on the token of the \
             key-count server, which then is the first server)"
                .into(),
        );
    }
    if let Some(rounds) = args.invalidation {
        if rounds == 0 {
            return Err("--invalidation needs at least one round".into());
        }
        print_header(&args, &plan);
        if !plan.env.is_empty() {
            println!("# server env: {}", args.server_env.join(" "));
        }
        return invalidation::run(
            &runtime(&args)?,
            &plan.binary,
            &plan.env,
            &args.region,
            rounds,
        );
    }
    // The data directory is decided before any thread starts, so that
    // SOFTHSM2_CONF can be set for --raw while the process is single-threaded.
    let (temp, data_dir) = match (&args.endpoint, &args.data_dir) {
        (_, Some(dir)) => (None, dir.clone()),
        (None, None) => {
            let (temp, data) = fresh_data_dir()?;
            (Some(temp), data)
        }
        (Some(_), None) => unreachable!("clap requires --data-dir with --endpoint"),
    };
    if args.raw {
        let conf =
            std::path::absolute(data_dir.join("softhsm2.conf")).map_err(|e| e.to_string())?;
        // SAFETY: no other thread exists yet (the runtime and the server's
        // helper threads start below).
        unsafe { std::env::set_var("SOFTHSM2_CONF", conf) };
    }

    print_header(&args, &plan);
    let mut server = match &args.endpoint {
        Some(url) => {
            let server = Server::existing(url, data_dir, args.server_pid)?;
            println!(
                "# server: existing at http://{} (data dir {}, pid {})",
                server.addr,
                server.data_dir.display(),
                server
                    .pid
                    .map_or("unknown: no CPU or memory figures".into(), |p| p
                        .to_string())
            );
            server
        }
        None => {
            let fresh = temp.is_some();
            let (server, took) = Server::spawn(&plan.binary, data_dir, temp, &plan.env)?;
            println!(
                "# server: started {} {} on {} data dir {} (pid {}), listening on http://{} \
                 after {} ms{}",
                plan.binary.display(),
                binary_age(&plan.binary),
                if fresh { "a fresh" } else { "the given" },
                server.data_dir.display(),
                server.pid.unwrap_or(0),
                server.addr,
                took.as_millis(),
                if fresh {
                    " (includes creating its tokens)"
                } else {
                    ""
                },
            );
            if let Some(log) = server.log_path() {
                println!("# server stderr: {}", log.display());
            }
            server
        }
    };
    if !plan.env.is_empty() {
        println!("# server env: {}", args.server_env.join(" "));
    }

    let rt = runtime(&args)?;
    let (key_id, secret) = server.credentials()?;

    if !plan.ops.is_empty() {
        let raw = if args.raw {
            Some(raw::RawToken::open(
                &server.data_dir,
                &args.region,
                &args.module,
            )?)
        } else {
            None
        };
        let signer = Arc::new(Signer::new(&key_id, &secret, &args.region, server.addr));
        let setup = rt.block_on(Setup::make(server.addr, &signer, &plan.ops))?;
        setup.describe();
        let target = (server.addr, server.pid);
        let mut passes = passes::Passes::default();
        let service = run_ops(&rt, target, &signer, &setup, &plan);
        let ceiling = if args.no_ceiling {
            None
        } else {
            Some(Ceiling::spawn(&args.region, (&key_id, &secret), &setup)?)
        };
        let ceilings = ceiling.as_ref().map(|c| c.run(&rt, &plan, &service));
        let raws = raw
            .as_ref()
            .map(|raw| run_raw(raw, &plan, &service, ceilings.as_ref()));
        passes.add(&plan, &service, ceilings.as_ref(), raws.as_ref());
        for pass in 2..=args.passes {
            println!();
            println!("# pass {pass} of {}", args.passes);
            println!("{TABLE_HEADER}");
            let service = run_ops(&rt, target, &signer, &setup, &plan);
            let ceilings = ceiling.as_ref().map(|c| c.measure(&rt, &plan));
            let raws = raw
                .as_ref()
                .map(|raw| raw_rows(raw, &plan, &service, ceilings.as_ref()));
            passes.add(&plan, &service, ceilings.as_ref(), raws.as_ref());
        }
        if args.passes > 1 {
            passes.print();
        }
    }

    if !plan.keys.is_empty() {
        if server.can_restart() && args.data_dir.is_none() && !plan.ops.is_empty() {
            // A fresh server, so that the key counts are exactly the bench's.
            drop(server);
            let (temp, data) = fresh_data_dir()?;
            let (fresh, took) = Server::spawn(&plan.binary, data, Some(temp), &plan.env)?;
            server = fresh;
            println!();
            println!(
                "# key-count mode: fresh server (pid {}) on {}, started in {} ms",
                server.pid.unwrap_or(0),
                server.data_dir.display(),
                took.as_millis()
            );
        } else if args.data_dir.is_none() {
            println!();
            println!("# key-count mode: on the fresh server above");
        } else {
            println!();
            println!(
                "# key-count mode: on the same server (the keys it already holds count towards \
                 the counts below)"
            );
        }
        let (key_id, secret) = server.credentials()?;
        run_key_counts(
            &rt,
            &mut server,
            &plan,
            &args,
            (key_id.as_str(), secret.as_str()),
        )?;
        if args.raw && plan.keys.len() > 1 {
            token_alone(&server.data_dir, &plan, &args)?;
        }
    }
    drop(server);
    println!();
    println!("# load average at end: {}", server::load_average());
    Ok(())
}

/// The load generator's runtime, with `--client-threads` workers.
fn runtime(args: &Args) -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads.unwrap_or_else(cpus).max(1))
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))
}

/// True when a CPU time spans enough clock ticks (10) to mean something.
fn measurable(cpu: Duration) -> bool {
    cpu.as_secs_f64() * server::clock_ticks() as f64 >= 10.0
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn print_header(args: &Args, plan: &Plan) {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown", |(_, m)| m.trim());
    let softhsm = std::process::Command::new("softhsm2-util")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "unknown (softhsm2-util not found)".into());
    let n = cpus();
    println!("# trent bench");
    println!(
        "# machine: {n} CPUs (nproc), {model}; SoftHSM {softhsm}; the load generator and the \
         server share these {n} CPUs"
    );
    println!(
        "# client: {} tokio worker threads; HTTP/1.1 keep-alive on loopback, one connection per \
         concurrent task; every request serialised and signed (aws-sigv4) at send time",
        args.client_threads.unwrap_or(n)
    );
    println!(
        "# per point: {:.1} s warm-up, {:.1} s measured; latency = request sent -> last \
         response byte (signing excluded; its CPU is in bench CPU)",
        plan.warmup.as_secs_f64(),
        plan.duration.as_secs_f64()
    );
    println!(
        "# CPU per request from /proc/<pid>/stat utime+stime, {} ticks/s (sysconf \
         _SC_CLK_TCK); srv cores = server CPU time / wall time; other cores = CPU used by \
         other processes of the machine in the window (/proc/stat), which skews the figures",
        server::clock_ticks()
    );
    println!("# load average at start: {}", server::load_average());
}

fn binary_age(binary: &std::path::Path) -> String {
    let age = std::fs::metadata(binary)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok());
    match age {
        Some(age) if age.as_secs() < 120 => format!("(built {} s ago)", age.as_secs()),
        Some(age) if age.as_secs() < 7200 => format!("(built {} min ago)", age.as_secs() / 60),
        Some(age) => format!("(built {} h ago)", age.as_secs() / 3600),
        None => String::new(),
    }
}

const TABLE_HEADER: &str = "op            conc      req/s   p50 µs   p90 µs   p99 µs   max µs  \
                            errors  srv CPU µs/req  srv cores  bench CPU µs/req  other cores";

fn print_row(name: &str, concurrency: usize, r: &PointResult) {
    let n = r.latencies.len() as u64;
    let per_request = |cpu: Option<Duration>| match cpu {
        Some(cpu) if n > 0 && measurable(cpu) => {
            format!("{:.1}", cpu.as_secs_f64() * 1e6 / n as f64)
        }
        _ => "-".into(),
    };
    let cores = r.server_cpu.map_or("-".into(), |cpu| {
        format!("{:.2}", cpu.as_secs_f64() / r.window.as_secs_f64())
    });
    println!(
        "{name:<12} {concurrency:>5} {:>10.0} {:>8} {:>8} {:>8} {:>8} {:>7}  {:>14}  {:>9}  {:>16}  \
         {:>11}",
        r.rate(),
        r.quantile(0.5),
        r.quantile(0.9),
        r.quantile(0.99),
        r.latencies.last().copied().unwrap_or(0),
        r.errors,
        per_request(r.server_cpu),
        cores,
        per_request(r.bench_cpu),
        r.other_cores().map_or("-".into(), |c| format!("{c:.2}")),
    );
    if r.errors + r.warmup_errors > 0 {
        println!(
            "    ({} errors in the window, {} in warm-up; first: {})",
            r.errors,
            r.warmup_errors,
            r.first_error.as_deref().unwrap_or("?")
        );
    }
}

/// Runs one point against the server at `target` (address and pid) and
/// prints its row under `name`.
fn measure(
    rt: &tokio::runtime::Runtime,
    target: (std::net::SocketAddr, Option<u32>),
    signer: &Arc<Signer>,
    workload: &Arc<Workload>,
    concurrency: usize,
    plan: &Plan,
    name: &str,
) -> PointResult {
    let r = rt.block_on(load::run_point(
        target.0,
        signer.clone(),
        workload.clone(),
        concurrency,
        plan.warmup,
        plan.duration,
        target.1,
    ));
    print_row(name, concurrency, &r);
    r
}

/// Service results by (op, concurrency): requests/s and server CPU per request.
type ServiceFigures = HashMap<(&'static str, usize), (f64, Option<Duration>)>;

/// Ceiling figures by concurrency: requests/s and server CPU per request.
pub type CeilingFigures = HashMap<usize, (f64, Option<Duration>)>;

/// The HTTP ceiling's server, replaying one Encrypt 32 B answer of Trent's.
struct Ceiling {
    server: Server,
    signer: Arc<Signer>,
    workload: Arc<Workload>,
}

impl Ceiling {
    /// Starts the ceiling with the answer `setup` got, and prints what it is.
    fn spawn(region: &str, (key_id, secret): (&str, &str), setup: &Setup) -> Result<Self, String> {
        let mut file = tempfile::NamedTempFile::new().map_err(|e| format!("answer file: {e}"))?;
        std::io::Write::write_all(&mut file, &setup.answer).map_err(|e| e.to_string())?;
        let server = Server::spawn_ceiling(file)?;
        let signer = Arc::new(Signer::new(key_id, secret, region, server.addr));
        let workload = Arc::new(Workload {
            op: Op::Encrypt32,
            keys: Keys::One(setup.keys[&KeyKind::Symmetric].clone()),
            fixture: None,
        });
        Ok(Self {
            server,
            signer,
            workload,
        })
    }

    /// Runs Encrypt 32 B against the ceiling at every concurrency level,
    /// prints its rows and every service figure as a ratio to it.
    fn run(
        &self,
        rt: &tokio::runtime::Runtime,
        plan: &Plan,
        service: &ServiceFigures,
    ) -> CeilingFigures {
        println!();
        println!(
            "# ceiling: a bare axum handler on Trent's HTTP stack (axum-server, hyper, tokio, \
             mimalloc), pid {}, answering every request with Trent's own Encrypt 32 B \
             answer; no SigV4 check, JSON, token, store or audit. Same client, same signing.",
            self.server.pid.unwrap_or(0),
        );
        println!("{TABLE_HEADER}");
        let ceilings = self.measure(rt, plan);
        println!();
        println!(
            "# ratios to the ceiling at the same concurrency: req/s (higher is better), server CPU per request (lower is better)"
        );
        println!("op            conc   req/s ÷ ceiling   CPU/req × ceiling");
        for &op in &plan.ops {
            for &c in &plan.levels {
                let Some((rate_ratio, cpu_multiple)) =
                    passes::ceiling_ratios(service, &ceilings, op.name(), c)
                else {
                    continue;
                };
                println!(
                    "{:<12} {c:>5}   {:>15}   {:>17}",
                    op.name(),
                    rate_ratio.map_or("-".into(), |r| format!("{r:.3}")),
                    cpu_multiple.map_or("-".into(), |m| format!("{m:.2}")),
                );
            }
        }
        ceilings
    }

    /// Measures the ceiling at every concurrency level, printing its rows.
    fn measure(&self, rt: &tokio::runtime::Runtime, plan: &Plan) -> CeilingFigures {
        plan.levels
            .iter()
            .map(|&c| {
                let r = measure(
                    rt,
                    (self.server.addr, self.server.pid),
                    &self.signer,
                    &self.workload,
                    c,
                    plan,
                    "ceiling",
                );
                (c, figures_of(&r))
            })
            .collect()
    }
}

/// A point's requests per second and server CPU per request.
fn figures_of(r: &PointResult) -> (f64, Option<Duration>) {
    let n = r.latencies.len() as u32;
    (r.rate(), r.server_cpu.filter(|_| n > 0).map(|cpu| cpu / n))
}

/// What the operations' requests use, made at setup.
struct Setup {
    /// One key of each kind the operations name (always a symmetric one).
    keys: HashMap<KeyKind, String>,
    /// For Decrypt: a 32-byte ciphertext under the symmetric key and its plaintext.
    ciphertext: (String, String),
    /// For Verify: a message and its signature under the ECC key.
    signature: Option<(String, String)>,
    /// One Encrypt 32 B answer, for the ceiling to replay.
    answer: axum::body::Bytes,
}

impl Setup {
    /// Creates the keys `ops` need, the Decrypt ciphertext, the Verify
    /// signature (when verify-ecdsa is among `ops`) and the ceiling's answer.
    async fn make(
        addr: std::net::SocketAddr,
        signer: &Signer,
        ops: &[Op],
    ) -> Result<Setup, String> {
        let mut client = Client::new(addr);
        let mut keys = HashMap::new();
        let kinds = std::iter::once(KeyKind::Symmetric).chain(ops.iter().map(|op| op.key_kind()));
        for kind in kinds {
            if let Entry::Vacant(slot) = keys.entry(kind) {
                slot.insert(load::create_key(&mut client, signer, kind).await?);
            }
        }
        let symmetric = keys[&KeyKind::Symmetric].clone();
        let ciphertext = load::make_ciphertext(&mut client, signer, &symmetric, 32).await?;
        let encrypt = Workload {
            op: Op::Encrypt32,
            keys: Keys::One(symmetric),
            fixture: None,
        };
        let answer = load::answer_of(&mut client, signer, &encrypt).await?;
        let signature = match keys.get(&KeyKind::EccP256) {
            Some(key) if ops.contains(&Op::VerifyEcdsa) => {
                Some(load::make_signature(&mut client, signer, key).await?)
            }
            _ => None,
        };
        Ok(Setup {
            keys,
            ciphertext,
            signature,
            answer,
        })
    }

    /// The workload of `op`: its key and its fixture.
    fn workload(&self, op: Op) -> Workload {
        let fixture = match op {
            Op::Decrypt => Some(self.ciphertext.clone()),
            Op::VerifyEcdsa => self.signature.clone(),
            _ => None,
        };
        Workload {
            op,
            keys: Keys::One(self.keys[&op.key_kind()].clone()),
            fixture,
        }
    }

    /// Prints the keys and fixtures the operations use.
    fn describe(&self) {
        let mut kinds: Vec<_> = self.keys.iter().collect();
        kinds.sort();
        for (kind, key) in kinds {
            println!("# setup: {kind:?} key {key}");
        }
        println!(
            "# setup: Decrypt uses one 32-byte ciphertext made under the Symmetric key; \
             verify-ecdsa one signature of a 32-byte message made with Sign"
        );
        println!();
        println!("{TABLE_HEADER}");
    }
}

/// Measures every operation at every concurrency level against the server
/// at `target`, printing a row each.
fn run_ops(
    rt: &tokio::runtime::Runtime,
    target: (std::net::SocketAddr, Option<u32>),
    signer: &Arc<Signer>,
    setup: &Setup,
    plan: &Plan,
) -> ServiceFigures {
    let mut figures = ServiceFigures::new();
    for &op in &plan.ops {
        let workload = Arc::new(setup.workload(op));
        for &c in &plan.levels {
            let r = measure(rt, target, signer, &workload, c, plan, op.name());
            figures.insert((op.name(), c), figures_of(&r));
        }
    }
    figures
}

/// Runs the raw token work of every operation at every level, printing its
/// header, its rows and their ratios to `service`.
fn run_raw(
    raw: &raw::RawToken,
    plan: &Plan,
    service: &ServiceFigures,
    ceilings: Option<&CeilingFigures>,
) -> RawFigures {
    println!();
    println!(
        "# raw: the same token work directly through PKCS#11 in this process (session AES-256 \
         key, one session per thread; GCM with C_GenerateRandom IV; gdk = 32 random bytes + \
         GCM; create-key = generate + KWP wrap + destroy); no HTTP, SigV4, JSON, store or audit"
    );
    println!(
        "# raw sign/verify/mac: session RSA-2048, P-256 and 32-byte generic-secret keys; \
         sign-rsa = SHA-256 in process + C_Sign CKM_RSA_PKCS_PSS (SHA-256, MGF1-SHA-256, salt \
         32); sign-ecdsa = SHA-256 + C_Sign CKM_ECDSA (no DER encoding); verify-ecdsa = SHA-256 \
         + C_Verify CKM_ECDSA; mac = C_Sign CKM_SHA256_HMAC"
    );
    raw_rows(raw, plan, service, ceilings)
}

/// Raw token figures by (op, threads): operations/s and CPU per operation, µs.
pub type RawFigures = HashMap<(&'static str, usize), (f64, Option<f64>)>;

/// Runs the raw token work of every operation at every level, printing a
/// row each with its ratios to `service`, and the ceiling's ratio to it:
/// the most of raw that any service could reach here.
fn raw_rows(
    raw: &raw::RawToken,
    plan: &Plan,
    service: &ServiceFigures,
    ceilings: Option<&CeilingFigures>,
) -> RawFigures {
    let mut figures = RawFigures::new();
    println!(
        "op          threads      ops/s   p50 µs   p99 µs  errors  CPU µs/op  service/raw \
         req/s  service/raw CPU  ceiling/raw req/s  other cores"
    );
    for &op in &plan.ops {
        for &threads in &plan.levels {
            let r = raw.run(op, threads, plan.warmup, plan.duration);
            let served = service
                .get(&(op.name(), threads))
                .copied()
                .unwrap_or((0.0, None));
            let raw_cpu = r.cpu_per_op.map(|c| c.as_secs_f64() * 1e6);
            figures.insert((op.name(), threads), (r.rate, raw_cpu));
            let (rate_ratio, cpu_ratio) = passes::raw_ratios(served, (r.rate, raw_cpu));
            let bound = ceilings.and_then(|t| passes::ceiling_over_raw(t, threads, (r.rate, None)));
            println!(
                "{:<12} {threads:>6} {:>10.0} {:>8} {:>8} {:>7}  {:>9}  {:>17}  {:>15}  {:>17}  {:>11}",
                op.name(),
                r.rate,
                r.p50,
                r.p99,
                r.errors,
                raw_cpu.map_or("-".into(), |c| format!("{c:.1}")),
                rate_ratio.map_or("-".into(), |q| format!("{q:.3}")),
                cpu_ratio.map_or("-".into(), |m| format!("{m:.1}x")),
                bound.map_or("-".into(), |q| format!("{q:.3}")),
                r.other_cores.map_or("-".into(), |c| format!("{c:.2}")),
            );
        }
    }
    figures
}

fn run_key_counts(
    rt: &tokio::runtime::Runtime,
    server: &mut Server,
    plan: &Plan,
    args: &Args,
    (key_id, secret): (&str, &str),
) -> Result<(), String> {
    let mut ids: Vec<String> = if args.data_dir.is_some() {
        // A given data directory's keys count towards the counts.
        let signer = Signer::new(key_id, secret, &args.region, server.addr);
        let had = rt.block_on(load::list_keys(server.addr, &signer))?;
        println!("the server holds {} keys already", had.len());
        had
    } else {
        Vec::new()
    };
    let mut rng = Rng::new(99);
    // Encrypt-Zipf requests/s by (key count, concurrency), for the closing comparison.
    let mut zipf_rates: Vec<(usize, Vec<(usize, f64)>)> = Vec::new();
    for &count in &plan.keys {
        println!();
        println!("== {count} keys ==");
        if count < ids.len() {
            println!("skipped: the server holds more keys already");
            continue;
        }
        let signer = Arc::new(Signer::new(key_id, secret, &args.region, server.addr));
        let missing = count.saturating_sub(ids.len());
        let created = rt.block_on(load::create_keys(
            server.addr,
            signer.clone(),
            missing,
            args.create_concurrency,
            server.pid,
        ));
        let n = created.ids.len();
        println!(
            "CreateKey: {n} keys in {:.2} s = {:.0} keys/s sustained at concurrency {}; \
             p50 {} µs, p99 {} µs, max {} µs; errors {}; server CPU {}",
            created.elapsed.as_secs_f64(),
            n as f64 / created.elapsed.as_secs_f64(),
            args.create_concurrency.min(missing.max(1)),
            load::quantile(&created.latencies, 0.5),
            load::quantile(&created.latencies, 0.99),
            created.latencies.last().copied().unwrap_or(0),
            created.errors,
            match created.server_cpu {
                Some(cpu) if n > 0 && measurable(cpu) =>
                    format!("{:.0} µs/key", cpu.as_secs_f64() * 1e6 / n as f64),
                Some(_) if n > 0 => "too little to measure in clock ticks".into(),
                _ => "-".into(),
            },
        );
        if let Some(e) = &created.first_error {
            println!("    (first error: {e})");
        }
        ids.extend(created.ids);
        if ids.is_empty() {
            return Err("no key could be created".into());
        }
        let zipf = Zipf::new(ids.len(), args.zipf_exponent, &mut rng);
        let top = ids.len() / 100;
        let head = if top > 1 {
            format!(
                ", the top 1% ({top} keys) take {:.1}%",
                zipf.head_share(top) * 100.0
            )
        } else {
            String::new()
        };
        println!(
            "Encrypt 32 B, key chosen by Zipf(s={}) over {} keys: the most popular key takes \
             {:.1}% of requests{head}",
            args.zipf_exponent,
            ids.len(),
            zipf.head_share(1) * 100.0,
        );
        let workload = Arc::new(Workload {
            op: Op::Encrypt32,
            keys: Keys::Zipf(ids.clone(), zipf),
            fixture: None,
        });
        println!("{TABLE_HEADER}");
        let mut rates = Vec::new();
        for &c in &plan.levels {
            let r = measure(
                rt,
                (server.addr, server.pid),
                &signer,
                &workload,
                c,
                plan,
                "encrypt-zipf",
            );
            rates.push((c, r.rate()));
        }
        zipf_rates.push((ids.len(), rates));
        match server.memory_kib() {
            Some((rss, hwm)) => println!(
                "server memory after the run: VmRSS {:.1} MiB (peak VmHWM {:.1} MiB)",
                rss as f64 / 1024.0,
                hwm as f64 / 1024.0
            ),
            None => println!("server memory: unknown (no server pid)"),
        }
        if !server.can_restart() {
            println!(
                "start-up time and cold-key latency: skipped (needs a server the bench started)"
            );
            continue;
        }
        let took = server.restart()?;
        let rss = server
            .memory_kib()
            .map_or("?".into(), |(rss, _)| format!("{:.1}", rss as f64 / 1024.0));
        println!(
            "restart: start-up with {} keys took {} ms (spawn -> listen line); VmRSS right after: \
             {rss} MiB",
            ids.len(),
            took.as_millis()
        );
        let signer = Signer::new(key_id, secret, &args.region, server.addr);
        let cold = rt.block_on(cold_probe(
            &signer,
            server.addr,
            &ids,
            args.cold_keys,
            &mut rng,
        ))?;
        println!("{cold}");
    }
    if zipf_rates.len() > 1 {
        let (base_n, base) = &zipf_rates[0];
        for (n, rates) in &zipf_rates[1..] {
            let ratios: Vec<String> = rates
                .iter()
                .zip(base)
                .map(|((c, r), (_, b))| format!("concurrency {c}: {:.2}", r / b))
                .collect();
            println!(
                "Encrypt-Zipf throughput at {n} keys relative to {base_n} keys: {}",
                ratios.join(", ")
            );
        }
    }
    if plan.keys.len() > 1 && args.rounds > 0 {
        if server.can_restart() {
            let credentials = (key_id.to_string(), secret.to_string());
            interleaved(rt, server, &ids, plan, args, &credentials, &mut rng)?;
        } else {
            println!("interleaved comparison: skipped (needs a server the bench started)");
        }
    }
    Ok(())
}

/// The token alone at the smallest and the largest key count: Encrypt 32 B
/// through PKCS#11 with Zipf choice over as many session keys as the server
/// caches at each count, alternately, so that what the token's own costs per
/// object take can be told from what the service's take. Each side starts
/// from a freshly initialized module, as each side's server does.
fn token_alone(data_dir: &std::path::Path, plan: &Plan, args: &Args) -> Result<(), String> {
    let capacity = plan
        .env
        .iter()
        .find(|(name, _)| name == "TRENT_KEY_CACHE_CAPACITY")
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or_else(|| trent::config::Config::default().cache_capacities().keys)
        .max(1);
    let counts = [plan.keys[0], plan.keys[plan.keys.len() - 1]].map(|n| n.clamp(1, capacity));
    println!();
    println!(
        "== the token alone: Encrypt 32 B through PKCS#11 (GCM, C_GenerateRandom IV) with \
         Zipf(s={}) choice over {} then {} session AES-256 keys (as many as the server caches \
         at {} and at {} keys), alternately, {} rounds, on {} threads (as many as the server's \
         async workers, which call the token); each side generates its keys in a freshly \
         initialized module, and finalizes it after ==",
        args.zipf_exponent,
        counts[0],
        counts[1],
        plan.keys[0],
        plan.keys[plan.keys.len() - 1],
        args.rounds.max(1),
        cpus(),
    );
    let mut rng = Rng::new(7);
    // As many threads as the server has async workers, which are the ones
    // that call the token for Encrypt (inline crypto): more threads would
    // measure SoftHSM's lock contention, which the server does not have.
    let threads = cpus();
    let mut ratios = Vec::new();
    for round in 0..args.rounds.max(1) {
        let mut shown = Vec::new();
        let mut rates = Vec::new();
        for n in counts {
            let token = raw::RawToken::open(data_dir, &args.region, &args.module)?;
            let made = std::time::Instant::now();
            let keyring = token.keyring(n)?;
            let made = made.elapsed();
            let zipf = Zipf::new(keyring.len(), args.zipf_exponent, &mut rng);
            let r = token.run_zipf(&keyring, &zipf, threads, (plan.warmup, plan.duration));
            drop(keyring);
            token.close()?;
            shown.push(format!(
                "{n} keys (made in {:.1} s) {:.0} ops/s, {} µs CPU/op, errors {}, other cores {}",
                made.as_secs_f64(),
                r.rate,
                r.cpu_per_op
                    .map_or("-".into(), |c| format!("{:.1}", c.as_secs_f64() * 1e6)),
                r.errors,
                r.other_cores.map_or("-".into(), |c| format!("{c:.2}")),
            ));
            rates.push(r.rate);
        }
        let ratio = rates[1] / rates[0];
        println!(
            "  round {}, {threads} threads: {}: ratio {ratio:.2}",
            round + 1,
            shown.join("; ")
        );
        ratios.push(ratio);
    }
    println!(
        "token-alone Encrypt-Zipf throughput with {} session keys relative to {}, {threads} \
         threads: {}",
        counts[1],
        counts[0],
        interleave::median_of_rounds(ratios),
    );
    Ok(())
}

/// Starts a second server with the smallest key count and compares it with
/// `large` (holding `ids`), alternating rounds (see `interleave`).
fn interleaved(
    rt: &tokio::runtime::Runtime,
    large: &Server,
    ids: &[String],
    plan: &Plan,
    args: &Args,
    credentials: &(String, String),
    rng: &mut Rng,
) -> Result<(), String> {
    let (temp, data) = fresh_data_dir()?;
    let (small, _) = Server::spawn(&plan.binary, data, Some(temp), &plan.env)?;
    let small_credentials = small.credentials()?;
    let signer = Arc::new(Signer::new(
        &small_credentials.0,
        &small_credentials.1,
        &args.region,
        small.addr,
    ));
    let created = rt.block_on(load::create_keys(
        small.addr,
        signer,
        plan.keys[0],
        args.create_concurrency,
        small.pid,
    ));
    if created.ids.len() != plan.keys[0] {
        return Err(format!(
            "interleaved comparison: created {} of {} keys",
            created.ids.len(),
            plan.keys[0]
        ));
    }
    println!();
    println!(
        "== interleaved comparison (second server, pid {}) ==",
        small.pid.unwrap_or(0)
    );
    let sides = (
        interleave::Side {
            server: &small,
            ids: created.ids,
        },
        interleave::Side {
            server: large,
            ids: ids.to_vec(),
        },
    );
    let settings = interleave::Rounds {
        rounds: args.rounds,
        first_warmup: plan.warmup,
        duration: plan.duration,
        exponent: args.zipf_exponent,
    };
    for &c in &plan.levels {
        interleave::compare(
            rt,
            (&sides.0, &sides.1),
            (&small_credentials, credentials),
            &args.region,
            c,
            &settings,
            rng,
        );
    }
    Ok(())
}

/// Right after a restart: the very first request, then the first Encrypt on
/// each of several other keys (cold: material not unwrapped yet), then the
/// same keys again (warm).
async fn cold_probe(
    signer: &Signer,
    addr: std::net::SocketAddr,
    ids: &[String],
    probes: usize,
    rng: &mut Rng,
) -> Result<String, String> {
    let mut client = Client::new(addr);
    let first_key = &ids[rng.below(ids.len())];
    let first = load::encrypt_once(&mut client, signer, first_key, rng).await?;
    // Warm the connection and the per-process paths on that one key.
    for _ in 0..20 {
        load::encrypt_once(&mut client, signer, first_key, rng).await?;
    }
    let mut candidates: Vec<&String> = ids.iter().filter(|k| *k != first_key).collect();
    let probes = probes.min(candidates.len());
    for i in 0..probes {
        let j = i + rng.below(candidates.len() - i);
        candidates.swap(i, j);
    }
    let mut cold = Vec::with_capacity(probes);
    for key in &candidates[..probes] {
        cold.push(
            load::encrypt_once(&mut client, signer, key, rng)
                .await?
                .as_micros() as u32,
        );
    }
    let mut warm = Vec::with_capacity(probes);
    for key in &candidates[..probes] {
        warm.push(
            load::encrypt_once(&mut client, signer, key, rng)
                .await?
                .as_micros() as u32,
        );
    }
    cold.sort_unstable();
    warm.sort_unstable();
    if probes == 0 {
        return Ok(format!(
            "cold key: first request after restart {} µs (only one key: no other cold key to probe)",
            first.as_micros()
        ));
    }
    Ok(format!(
        "cold key (first Encrypt on a key after restart, {probes} keys, concurrency 1): p50 {} µs, \
         max {} µs; same keys again (warm): p50 {} µs, max {} µs; very first request after \
         restart (new connection, cold process): {} µs",
        load::quantile(&cold, 0.5),
        cold.last().copied().unwrap_or(0),
        load::quantile(&warm, 0.5),
        warm.last().copied().unwrap_or(0),
        first.as_micros()
    ))
}
