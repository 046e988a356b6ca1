//! Cross-node invalidation latency (`--invalidation ROUNDS`): two `trent
//! serve` nodes share one store (the `TRENT_STORE_URL` of `--server-env`,
//! else a fresh SQLite file), a key is created on node A and used on node B
//! (which caches its record), then each round disables the key on A (every
//! other round enables it again) and measures, from A's answer, how long B's
//! Encrypt keeps giving the old answer. B is polled back to back, one
//! Encrypt at a time, so the resolution is one Encrypt round trip.
//!
//! A random pause before each round keeps the rounds out of step with B's
//! periodic version check (every `metadata_max_staleness_ms`), which a
//! SQLite store relies on alone. Prints the quantiles; asserts nothing.

use crate::load::{self, Client, KeyKind, Op, Signer};
use crate::server::Server;
use crate::zipf::Rng;
use std::path::Path;
use std::time::{Duration, Instant};

/// The variable naming the store the nodes share.
const STORE_URL: &str = "TRENT_STORE_URL";
/// The variable setting the staleness bound, and Trent's default for it.
const MAX_STALENESS: (&str, u64) = ("TRENT_METADATA_MAX_STALENESS_MS", 1000);
/// Longest B may keep the old answer before the round is given up.
const ROUND_TIMEOUT: Duration = Duration::from_secs(30);

/// The two nodes: A takes the writes, B is polled.
struct Nodes {
    a: Server,
    b: Server,
    /// What the store is, for the report.
    store: String,
}

/// Measures `rounds` rounds on two nodes of `binary` started with `env`
/// (plus a SQLite store when it names none), in `region`, and prints them.
pub fn run(
    rt: &tokio::runtime::Runtime,
    binary: &Path,
    env: &[(String, String)],
    region: &str,
    rounds: usize,
) -> Result<(), String> {
    let nodes = start_nodes(binary, env)?;
    println!();
    println!("== cross-node invalidation, {rounds} rounds ==");
    println!(
        "# store: {}; node A pid {} on http://{}, node B pid {} on http://{}",
        nodes.store,
        nodes.a.pid.unwrap_or(0),
        nodes.a.addr,
        nodes.b.pid.unwrap_or(0),
        nodes.b.addr
    );
    let staleness = max_staleness(env)?;
    println!(
        "# each round: a random pause of 0-{} ms (metadata_max_staleness_ms), DisableKey on A \
         (EnableKey every other round), then Encrypt on B back to back until its answer \
         reflects the change; latency = A's answer -> end of B's first such answer",
        staleness.as_millis()
    );
    let (key_id, secret) = nodes.a.credentials()?;
    let signer_a = Signer::new(&key_id, &secret, region, nodes.a.addr);
    let signer_b = Signer::new(&key_id, &secret, region, nodes.b.addr);
    let mut a = (Client::new(nodes.a.addr), &signer_a);
    let mut b = (Client::new(nodes.b.addr), &signer_b);
    let started = Instant::now();
    let result = rt.block_on(async {
        let key = load::create_key(&mut a.0, a.1, KeyKind::Symmetric).await?;
        if !usable_on(&mut b, &key).await? {
            return Err(format!("node B cannot use the new key {key}"));
        }
        let mut rng = Rng::new(23);
        let mut latencies = Vec::with_capacity(rounds);
        let mut polls = 0;
        for i in 0..rounds {
            let pause = staleness.mul_f64(rng.next_f64());
            tokio::time::sleep(pause).await;
            let (latency, n) = round(&mut a, &mut b, &key, i % 2 == 1).await?;
            latencies.push(latency.as_micros() as u32);
            polls += n;
        }
        Ok((latencies, polls))
    });
    let (mut latencies, polls) = result?;
    report(&mut latencies, polls, started.elapsed());
    Ok(())
}

/// Starts node A on a fresh data directory, then node B on another one
/// holding a copy of A's credentials, both on the store `env` names (or a
/// SQLite file in A's temporary directory). B enrols with A for the
/// region's domain key, which may take a job interval or two.
fn start_nodes(binary: &Path, env: &[(String, String)]) -> Result<Nodes, String> {
    let (temp_a, data_a) = crate::fresh_data_dir()?;
    let mut env = env.to_vec();
    let store = match env.iter().find(|(k, _)| k == STORE_URL) {
        Some((_, url)) => format!("{} (from --server-env)", scheme(url)),
        None => {
            let file = temp_a.path().join("store.db");
            env.push((STORE_URL.into(), format!("sqlite://{}", file.display())));
            format!("SQLite file {}", file.display())
        }
    };
    let (a, took_a) = Server::spawn(binary, data_a, Some(temp_a), &env)?;
    let (temp_b, data_b) = crate::fresh_data_dir()?;
    std::fs::create_dir_all(&data_b).map_err(|e| format!("{}: {e}", data_b.display()))?;
    std::fs::copy(a.data_dir.join("credentials"), data_b.join("credentials"))
        .map_err(|e| format!("copying node A's credentials: {e}"))?;
    let (b, took_b) = Server::spawn(binary, data_b, Some(temp_b), &env)?;
    println!(
        "# node A started in {} ms, node B (enrolled) in {} ms; logs {} and {}",
        took_a.as_millis(),
        took_b.as_millis(),
        a.log_path().map_or("-".into(), |p| p.display().to_string()),
        b.log_path().map_or("-".into(), |p| p.display().to_string()),
    );
    Ok(Nodes { a, b, store })
}

/// The scheme of a store URL (never its credentials), e.g. `postgres`.
fn scheme(url: &str) -> &str {
    url.split_once("://").map_or("unknown store", |(s, _)| s)
}

/// The nodes' `metadata_max_staleness_ms`, from `env` or Trent's default.
fn max_staleness(env: &[(String, String)]) -> Result<Duration, String> {
    let (name, default) = MAX_STALENESS;
    let millis = match env.iter().find(|(k, _)| k == name) {
        Some((_, v)) => v
            .parse()
            .map_err(|_| format!("{name}: {v:?} is not a number"))?,
        None => default,
    };
    Ok(Duration::from_millis(millis))
}

/// One round: DisableKey (or EnableKey when `enable`) of `key` on node A,
/// then Encrypt on node B until it agrees. Returns the time from A's answer
/// to the end of B's first agreeing answer, and how many Encrypts B answered.
async fn round(
    a: &mut (Client, &Signer),
    b: &mut (Client, &Signer),
    key: &str,
    enable: bool,
) -> Result<(Duration, usize), String> {
    let target = if enable {
        "TrentService.EnableKey"
    } else {
        "TrentService.DisableKey"
    };
    let body = serde_json::json!({ "KeyId": key }).to_string();
    load::setup_call(&mut a.0, a.1, (target, body), target).await?;
    let acknowledged = Instant::now();
    let mut polls = 0;
    loop {
        let usable = usable_on(b, key).await?;
        polls += 1;
        if usable == enable {
            return Ok((acknowledged.elapsed(), polls));
        }
        if acknowledged.elapsed() > ROUND_TIMEOUT {
            return Err(format!(
                "node B still answered as before {ROUND_TIMEOUT:?} after {target} on node A"
            ));
        }
    }
}

/// Whether node B encrypts under `key`: true on success, false on
/// `DisabledException`, an error on any other answer.
async fn usable_on(b: &mut (Client, &Signer), key: &str) -> Result<bool, String> {
    let body = serde_json::json!({ "KeyId": key, "Plaintext": "AAAAAAAAAAAAAAAAAAAAAA==" });
    match load::request(&mut b.0, b.1, (Op::Encrypt32.target(), body.to_string())).await? {
        (200, _) => Ok(true),
        (400, json) if json["__type"].as_str() == Some("DisabledException") => Ok(false),
        (status, json) => Err(format!("Encrypt on node B: HTTP {status} {json}")),
    }
}

/// Prints the latencies' count and quantiles, and B's polling rate.
fn report(latencies: &mut [u32], polls: usize, took: Duration) {
    latencies.sort_unstable();
    let total: u64 = latencies.iter().map(|&l| u64::from(l)).sum();
    println!(
        "invalidation latency: {} rounds; p50 {} µs, p99 {} µs, max {} µs, min {} µs; node B \
         answered {polls} Encrypts while waiting ({:.0} µs each on average); {:.1} s in all",
        latencies.len(),
        load::quantile(latencies, 0.5),
        load::quantile(latencies, 0.99),
        latencies.last().copied().unwrap_or(0),
        latencies.first().copied().unwrap_or(0),
        if polls > 0 {
            total as f64 / polls as f64
        } else {
            0.0
        },
        took.as_secs_f64(),
    );
}
