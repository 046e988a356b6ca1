//! Drift-cancelling comparison of two key counts: the smallest and the
//! largest count each get their own server, and their Encrypt-Zipf points are
//! measured alternately, several rounds, so that a machine whose speed drifts
//! over minutes (shared cloud CPUs) slows both alike. Before the first
//! round every key is used once, then each side serves the Zipf load until
//! its key cache's miss rate (read from `/metrics`) has settled (moved by at
//! most a quarter of a point over 60 s, or after 30 minutes), so both
//! servers are measured in the steady state of a server that has been
//! running, not while their caches fill. Prints each round's ratio, each
//! side's miss rate, and the median ratio.

use crate::load::{self, Client, Keys, Op, Signer, Workload};
use crate::server::Server;
use crate::zipf::{Rng, Zipf};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Length of one settling slice of the warm-up.
const SETTLE_SLICE: Duration = Duration::from_secs(5);
/// Change of the miss rate over [`SETTLE_SPAN`] slices below which it has
/// settled (a quarter of a percentage point).
const SETTLED: f64 = 0.0025;
/// Slices between the two miss rates compared: 60 s, since a cache that
/// was just emptied (by a module re-initialisation) or that holds most of a
/// million keys refills over many minutes, by less than half a point per
/// slice once its hottest keys are back.
const SETTLE_SPAN: usize = 12;
/// Longest warm-up until the miss rate settles.
const SETTLE_LIMIT: Duration = Duration::from_secs(1800);

/// One side of the comparison: a server and the keys it serves.
pub struct Side<'a> {
    /// The server.
    pub server: &'a Server,
    /// Its keys, in Zipf rank order.
    pub ids: Vec<String>,
}

/// Settings of the comparison.
pub struct Rounds {
    /// Number of alternations.
    pub rounds: usize,
    /// Warm-up before the first round on each side (caches fill).
    pub first_warmup: Duration,
    /// Measured time per side per round.
    pub duration: Duration,
    /// Zipf exponent of the key choice.
    pub exponent: f64,
}

/// Measures `small` and `large` alternately at `concurrency` and prints the
/// per-round throughputs, their ratios and the median ratio.
pub fn compare(
    rt: &tokio::runtime::Runtime,
    (small, large): (&Side<'_>, &Side<'_>),
    credentials: (&(String, String), &(String, String)),
    region: &str,
    concurrency: usize,
    settings: &Rounds,
    rng: &mut Rng,
) {
    let setup = |side: &Side<'_>, (id, secret): &(String, String), rng: &mut Rng| {
        let zipf = Zipf::new(side.ids.len(), settings.exponent, rng);
        (
            Arc::new(Signer::new(id, secret, region, side.server.addr)),
            Arc::new(Workload {
                op: Op::Encrypt32,
                keys: Keys::Zipf(side.ids.clone(), zipf),
                fixture: None,
            }),
        )
    };
    let sides = [
        (small, setup(small, credentials.0, rng)),
        (large, setup(large, credentials.1, rng)),
    ];
    println!(
        "interleaved: {} rounds of {:.0} s per side at concurrency {concurrency} ({} keys, then \
         {} keys; {:.0} s of warm-up before the first round on each)",
        settings.rounds,
        settings.duration.as_secs_f64(),
        small.ids.len(),
        large.ids.len(),
        settings.first_warmup.as_secs_f64(),
    );
    for (side, (signer, workload)) in &sides {
        if let Err(e) = rt.block_on(touch_all(side, signer.clone())) {
            println!("  using every key once failed: {e}");
            return;
        }
        let started = Instant::now();
        let mut rates: Vec<f64> = Vec::new();
        let settled = loop {
            let before = key_cache_lookups(side.server.addr);
            rt.block_on(load::run_point(
                side.server.addr,
                signer.clone(),
                workload.clone(),
                concurrency,
                Duration::ZERO,
                SETTLE_SLICE,
                side.server.pid,
            ));
            let Some(rate) = miss_rate(before, key_cache_lookups(side.server.addr)) else {
                break None;
            };
            rates.push(rate);
            let span_ago = rates.len().checked_sub(SETTLE_SPAN + 1).map(|i| rates[i]);
            if span_ago.is_some_and(|then| (rate - then).abs() <= SETTLED)
                || started.elapsed() >= SETTLE_LIMIT
            {
                break Some(rate);
            }
        };
        println!(
            "  {} keys: Zipf warm-up of {:.0} s, key cache miss rate settled at {}",
            side.ids.len(),
            started.elapsed().as_secs_f64(),
            settled.map_or("? (no /metrics)".into(), |r| format!("{:.1}%", r * 100.0)),
        );
    }
    let mut ratios = Vec::with_capacity(settings.rounds);
    for round in 0..settings.rounds {
        let warmup = if round == 0 {
            settings.first_warmup
        } else {
            Duration::from_secs(1)
        };
        let rates: Vec<(f64, f64, Option<f64>)> = sides
            .iter()
            .map(|(side, (signer, workload))| {
                let before = key_cache_lookups(side.server.addr);
                let r = rt.block_on(load::run_point(
                    side.server.addr,
                    signer.clone(),
                    workload.clone(),
                    concurrency,
                    warmup,
                    settings.duration,
                    side.server.pid,
                ));
                let cpu = r.server_cpu.map_or(f64::NAN, |c| {
                    c.as_secs_f64() * 1e6 / r.latencies.len().max(1) as f64
                });
                let misses = miss_rate(before, key_cache_lookups(side.server.addr));
                (r.rate(), cpu, misses)
            })
            .collect();
        let ratio = rates[1].0 / rates[0].0;
        let percent = |m: Option<f64>| m.map_or("?".into(), |m| format!("{:.1}%", m * 100.0));
        println!(
            "  round {}: {} keys {:.0} req/s ({:.1} µs CPU/req, key cache misses {}), {} keys \
             {:.0} req/s ({:.1} µs CPU/req, key cache misses {}): ratio {ratio:.2}",
            round + 1,
            small.ids.len(),
            rates[0].0,
            rates[0].1,
            percent(rates[0].2),
            large.ids.len(),
            rates[1].0,
            rates[1].1,
            percent(rates[1].2),
        );
        ratios.push(ratio);
    }
    println!(
        "Encrypt-Zipf throughput at {} keys relative to {} keys, interleaved, concurrency \
         {concurrency}: {}",
        large.ids.len(),
        small.ids.len(),
        median_of_rounds(ratios),
    );
}

/// "median M (rounds: r1, r2, ...)" of per-round ratios, in increasing order.
pub fn median_of_rounds(mut ratios: Vec<f64>) -> String {
    ratios.sort_by(f64::total_cmp);
    let rounds: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
    format!(
        "median {:.2} (rounds: {})",
        ratios[ratios.len() / 2],
        rounds.join(", ")
    )
}

/// Connections used to touch every key once.
const TOUCH_CONNECTIONS: usize = 16;

/// Encrypts once under every key of `side`, over several connections.
async fn touch_all(side: &Side<'_>, signer: Arc<Signer>) -> Result<(), String> {
    let chunk = side.ids.len().div_ceil(TOUCH_CONNECTIONS).max(1);
    let tasks: Vec<_> = side
        .ids
        .chunks(chunk)
        .enumerate()
        .map(|(i, keys)| {
            let (keys, signer, addr) = (keys.to_vec(), signer.clone(), side.server.addr);
            tokio::spawn(async move {
                let mut client = Client::new(addr);
                let mut rng = Rng::new(1000 + i as u64);
                for key in &keys {
                    load::encrypt_once(&mut client, &signer, key, &mut rng).await?;
                }
                Ok::<(), String>(())
            })
        })
        .collect();
    for task in tasks {
        task.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}

/// The server's key-cache lookups so far, (hits, misses), from `/metrics`.
fn key_cache_lookups(addr: SocketAddr) -> Option<(u64, u64)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let count = |result: &str| {
        let name = format!(
            "trent_session_object_cache_lookups_total{{cache=\"keys\",result=\"{result}\"}} "
        );
        text.lines()
            .find_map(|line| line.strip_prefix(name.as_str()))
            .and_then(|value| value.trim().parse::<u64>().ok())
    };
    // A series appears with its first lookup.
    text.contains("trent_session_object_cache_lookups")
        .then(|| (count("hit").unwrap_or(0), count("miss").unwrap_or(0)))
}

/// The share of lookups between two readings that missed.
fn miss_rate(before: Option<(u64, u64)>, after: Option<(u64, u64)>) -> Option<f64> {
    let ((hits0, misses0), (hits1, misses1)) = (before?, after?);
    let (hits, misses) = (hits1.checked_sub(hits0)?, misses1.checked_sub(misses0)?);
    (hits + misses > 0).then(|| misses as f64 / (hits + misses) as f64)
}
