//! Drift-cancelling comparison of two key counts: the smallest and the
//! largest count each get their own server, and their Encrypt-Zipf points are
//! measured alternately, several rounds, so that a machine whose speed drifts
//! over minutes (shared cloud CPUs) slows both alike. Before the first
//! round every key is used once, so both servers start from the steady
//! state of a server that has been running (each key's material unwrapped
//! and cached) rather than from a cold start. Prints each round's ratio and
//! the median.

use crate::load::{self, Client, Keys, Op, Signer, Workload};
use crate::server::Server;
use crate::zipf::{Rng, Zipf};
use std::sync::Arc;
use std::time::Duration;

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
    for (side, (signer, _)) in &sides {
        if let Err(e) = rt.block_on(touch_all(side, signer.clone())) {
            println!("  using every key once failed: {e}");
            return;
        }
    }
    let mut ratios = Vec::with_capacity(settings.rounds);
    for round in 0..settings.rounds {
        let warmup = if round == 0 {
            settings.first_warmup
        } else {
            Duration::from_secs(1)
        };
        let rates: Vec<(f64, f64)> = sides
            .iter()
            .map(|(side, (signer, workload))| {
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
                (r.rate(), cpu)
            })
            .collect();
        let ratio = rates[1].0 / rates[0].0;
        println!(
            "  round {}: {} keys {:.0} req/s ({:.1} µs CPU/req), {} keys {:.0} req/s ({:.1} µs \
             CPU/req): ratio {ratio:.2}",
            round + 1,
            small.ids.len(),
            rates[0].0,
            rates[0].1,
            large.ids.len(),
            rates[1].0,
            rates[1].1,
        );
        ratios.push(ratio);
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "Encrypt-Zipf throughput at {} keys relative to {} keys, interleaved, concurrency \
         {concurrency}: median {:.2} (rounds: {})",
        large.ids.len(),
        small.ids.len(),
        ratios[ratios.len() / 2],
        ratios
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
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
