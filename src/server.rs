//! Start-up and the HTTP server: opens the store and every region's token,
//! then serves the dialects and runs background jobs.

use crate::api;
use crate::api::huawei::Projects;
use crate::api::state::AppState;
use crate::audit::AuditLog;
use crate::auth::Authenticator;
use crate::auth::credentials::from_shared_file;
use crate::config::{Config, TlsConfig};
use crate::connection_limit::LimitAcceptor;
use crate::hsm::{CacheBudget, Hsm, Modules};
use crate::kms::enrolment::EnrolmentError;
use crate::kms::{JobOutcome, Kms, Member, OfferTrust, Provisioner, Settings};
use crate::metrics::metrics;
use crate::provision::{self, DevProvisioner, DevTokens, Opening, RegionPlan};
use crate::store::{Store, StoreLocation};
use axum::Router;
use axum::routing::{any, get, post};
use axum_server::accept::DefaultAcceptor;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Start-up failures.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory could not be prepared.
    #[error(transparent)]
    Provision(#[from] provision::ProvisionError),
    /// A token could not be opened.
    #[error("region {0}: {1}")]
    Hsm(String, crate::hsm::HsmError),
    /// A region's domain key could not be settled with the cluster.
    #[error(transparent)]
    Enrolment(crate::kms::enrolment::EnrolmentError),
    /// The database could not be opened.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The audit trail could not be opened.
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    /// The credentials are misconfigured.
    #[error(transparent)]
    Credentials(#[from] crate::auth::credentials::CredentialError),
    /// The configuration is inconsistent.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The Huawei dialect's projects or tokens are misconfigured.
    #[error("huawei dialect: {0}")]
    Huawei(String),
}

/// Prepares the data directory, opens the store and every token. Must run
/// before any other thread starts (SoftHSM reads its configuration from the
/// environment during module initialisation).
pub fn open(config: &Config) -> Result<Arc<AppState>, StartError> {
    if !config.dev_mode() {
        let names = config.region_names();
        if !names.contains(&config.default_region) {
            return Err(crate::config::ConfigError::UnknownDefaultRegion(
                config.default_region.clone(),
                names,
            )
            .into());
        }
    }
    let mut prepared = provision::prepare(config)?;
    // The store first: it names each region's domain key, which every
    // token must hold (or receive by enrolment) before it serves.
    let location = StoreLocation::from_url(
        config.store_url.as_ref(),
        config.store_ca_file.as_deref(),
        &config.data_dir,
    )?;
    let capacities = config.cache_capacities();
    tracing::info!(
        store = %location,
        key_cache_capacity = capacities.keys,
        metadata_cache_capacity = capacities.metadata,
        "opening the metadata store"
    );
    let store = Store::open(
        &location,
        capacities.metadata,
        Duration::from_millis(config.metadata_max_staleness_ms),
    )?;
    prepared.add_cluster_regions(&store.domain_key_regions()?)?;
    let opening = Opening {
        node_id: prepared.node_id.clone(),
        enrolment_wait: Duration::from_secs(config.enrolment_wait_secs),
        sessions: config.sessions_per_region,
        cache_budget: CacheBudget::new(capacities.keys),
    };
    let offer_trust = prepared
        .dev
        .as_ref()
        .map(|tokens| Box::new(tokens.offer_trust()) as Box<dyn OfferTrust>);
    let mut modules = Modules::new(config.reinitialize_module_after);
    // A start-up that fails after loading a module finalises it, so that
    // nothing of the library is alive when the process's exit handlers
    // tear it down.
    let started = (|| -> Result<Arc<AppState>, StartError> {
        let member = Member {
            store: &store,
            node_id: &prepared.node_id,
            enrolment_wait: opening.enrolment_wait,
            trust: offer_trust.as_deref(),
        };
        let regions = open_regions(&prepared.plans, &mut modules, &member, &opening)?;
        let names: Vec<String> = regions.keys().cloned().collect();
        let projects = Arc::new(Projects::load(config, &names).map_err(StartError::Huawei)?);
        let provisioner = prepared
            .dev
            .map(|tokens| dev_provisioner(config, tokens, &mut modules, opening, projects.clone()))
            .transpose()?;
        let kms = Kms::new(
            regions,
            provisioner,
            offer_trust,
            store,
            Settings {
                default_region: config.default_region.clone(),
                on_demand_rotation_limit: config.on_demand_rotation_limit,
                grants_per_key_limit: config.grants_per_key_limit,
                node_id: prepared.node_id.clone(),
                enrolment_wait: Duration::from_secs(config.enrolment_wait_secs),
            },
        );
        #[cfg(feature = "test-clock")]
        test_clock::apply_start_offset(&kms);
        let credentials = if config.credentials.is_empty() {
            vec![from_shared_file(
                &config.data_dir.join("credentials"),
                &config.account_id,
            )?]
        } else {
            config.credentials.clone()
        };
        let authenticator = Authenticator::new("kms", &credentials)?;
        let huawei = api::huawei::dialect::Dialect::open(config, &credentials, projects)
            .map_err(StartError::Huawei)?;
        let audit_path = config
            .audit_log
            .clone()
            .unwrap_or_else(|| config.data_dir.join("audit.log"));
        let audit = AuditLog::open(&audit_path, &prepared.node_id)?;
        Ok(Arc::new(AppState {
            kms,
            authenticator,
            audit,
            max_body_bytes: config.max_body_bytes,
            max_connections: config.max_connections.max(1),
            inline_crypto: config.inline_crypto,
            huawei,
            secure_transport: config.tls.is_some(),
            #[cfg(feature = "test-clock")]
            panic_next: Default::default(),
            #[cfg(feature = "test-clock")]
            job_runs: Default::default(),
        }))
    })();
    if started.is_err() {
        modules.close_all();
    }
    started
}

/// Opens the token of every planned region, loading each module once, each
/// with its domain key settled with the store, in region order. While it
/// waits for a member to answer an enrolment offer, this node answers the
/// offers of other nodes for the regions it has opened (as `member`).
///
/// A dev-mode region whose offer nobody answers in time is left out (and
/// logged): no running member holds it; dev mode provisions it again on
/// first use. A configured region stops start-up.
fn open_regions(
    plans: &[RegionPlan],
    modules: &mut Modules,
    member: &Member<'_>,
    opening: &Opening,
) -> Result<BTreeMap<String, Arc<Hsm>>, StartError> {
    let mut regions = BTreeMap::new();
    for plan in plans {
        let module = modules
            .load(&plan.module, plan.softhsm_conf.as_deref())
            .map_err(|e| StartError::Hsm(plan.name.clone(), e))?;
        let answer_others = || {
            if let Err(e) = member.answer_offers(&regions) {
                tracing::warn!(error = %e, "answering enrolment offers while starting failed");
            }
        };
        let opened = plan.open(module, member.store, opening, &answer_others);
        let hsm = match opened {
            Ok(hsm) => hsm,
            Err(e @ EnrolmentError::Unanswered { .. }) if plan.provision_so_pin.is_some() => {
                tracing::error!(error = %e, "dev mode: starting without the region");
                continue;
            }
            Err(EnrolmentError::Hsm(region, e)) => return Err(StartError::Hsm(region, e)),
            Err(e) => return Err(StartError::Enrolment(e)),
        };
        regions.insert(plan.name.clone(), Arc::new(hsm));
    }
    Ok(regions)
}

/// Dev mode's provisioner of regions on first use, over the dev tokens'
/// module (which opening the start-up regions initialised).
fn dev_provisioner(
    config: &Config,
    tokens: DevTokens,
    modules: &mut Modules,
    opening: Opening,
    projects: Arc<Projects>,
) -> Result<Box<dyn Provisioner>, StartError> {
    let module = modules
        .load(tokens.module(), Some(tokens.softhsm_conf()))
        .map_err(|e| StartError::Hsm(config.default_region.clone(), e))?;
    Ok(Box::new(DevProvisioner {
        tokens,
        module,
        opening,
        projects,
    }))
}

/// The HTTP routes of every dialect.
pub fn router(state: Arc<AppState>) -> Router {
    let router = Router::new()
        .route("/", post(api::aws::handle))
        .route("/healthz", get(api::health::healthz))
        .route("/readyz", get(api::health::readyz))
        .route("/metrics", get(api::metrics::metrics))
        .route("/v1.0/{*path}", any(api::huawei::handle))
        .route("/v2/{*path}", any(api::huawei::handle));
    #[cfg(feature = "test-clock")]
    tracing::warn!(
        "this build has the test-clock feature: /_trent/test/* moves the clock, runs jobs \
         and injects faults for anyone who can connect, unauthenticated; it is for the test \
         suite only, never deploy it"
    );
    #[cfg(feature = "test-clock")]
    let router = router
        .route("/_trent/test/clock", post(test_clock::advance))
        .route("/_trent/test/panic", post(test_clock::panic_next))
        .route("/_trent/test/store", post(test_clock::store))
        .route("/_trent/test/jobs", post(test_clock::run_jobs_once))
        .route(
            "/_trent/test/ticks",
            post(test_clock::job_runs).get(test_clock::job_runs),
        );
    router
        .fallback(api::unrouted::no_route)
        .method_not_allowed_fallback(api::unrouted::wrong_method)
        .with_state(state)
}

/// How long a shutdown waits for the requests in flight: then the
/// connections still open are closed.
pub const DRAIN: Duration = Duration::from_secs(10);

/// Serves HTTP, or HTTPS with `tls`, until SIGINT or SIGTERM, running the
/// background jobs meanwhile. On the signal it stops accepting connections,
/// closes idle ones, and returns once the requests in flight are answered
/// (each connection closed after its response), or after [`DRAIN`].
/// [`shut_down`] does the rest.
pub async fn run(
    state: Arc<AppState>,
    listener: std::net::TcpListener,
    tls: Option<&TlsConfig>,
    job_interval: Duration,
) -> std::io::Result<()> {
    let warm = state.clone();
    tokio::task::spawn_blocking(move || warm.kms.warm_metadata());
    tokio::spawn(background_jobs(state.clone(), job_interval));
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        let signal = shutdown_signal().await;
        tracing::info!(
            signal,
            drain_secs = DRAIN.as_secs(),
            "shutting down: no new connections, answering the requests in flight"
        );
        stopper.graceful_shutdown(Some(DRAIN));
    });
    let limited = LimitAcceptor::new(state.max_connections, DefaultAcceptor);
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let served = match tls {
        Some(tls) => {
            let config = RustlsConfig::from_pem_file(&tls.cert_file, &tls.key_file).await?;
            let acceptor = RustlsAcceptor::new(config).acceptor(limited);
            guarded(axum_server::from_tcp(listener)?.acceptor(acceptor))
                .handle(handle)
                .serve(app)
                .await
        }
        None => {
            guarded(axum_server::from_tcp(listener)?.acceptor(limited))
                .handle(handle)
                .serve(app)
                .await
        }
    };
    if served.is_ok() {
        tracing::info!("stopped serving");
    }
    served
}

/// How long a connection may take to send a request's headers, counted
/// from when the server starts waiting for them: on a new connection, and
/// on an idle keep-alive one, which is closed after this long.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The most an HTTP/1.1 connection may send before its headers end
/// (hyper's default is some 400 KiB; a signed KMS request's headers are a
/// few hundred bytes).
const MAX_HEADER_BUFFER: usize = 64 * 1024;

/// `server` with the limits that keep slow or idle clients from holding
/// connections and memory: [`HEADER_READ_TIMEOUT`] for every request's
/// headers and for the first request of a connection (HTTP/2 included),
/// and [`MAX_HEADER_BUFFER`]. Bodies have their own timeout
/// ([`crate::api::request::BODY_READ_TIMEOUT`]).
fn guarded<A: axum_server::Address, Acceptor>(
    mut server: axum_server::Server<A, Acceptor>,
) -> axum_server::Server<A, Acceptor> {
    server
        .http_builder()
        .http1()
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEADER_BUFFER);
    server.first_request_timeout(HEADER_READ_TIMEOUT)
}

/// The end of a shutdown, after [`run`] returned and the runtime stopped:
/// syncs the audit trail to disk and logs out of every token, logging each
/// step. A failed sync is logged and returned.
pub fn shut_down(state: &AppState) -> Result<(), crate::audit::AuditError> {
    let synced = state.audit.sync();
    match &synced {
        Ok(()) => tracing::info!("audit trail synced to disk"),
        Err(e) => tracing::error!(error = %e, "audit trail sync failed"),
    }
    state.kms.close_tokens();
    synced
}

/// What one run of the background jobs did on this node.
#[derive(Debug, Default, serde::Serialize)]
struct JobRun {
    /// Primary Region updates completed.
    primary_updates: usize,
    /// Automatic rotations committed.
    rotated: usize,
    /// Keys deleted after their waiting period.
    deleted: usize,
    /// Imported key materials deleted at their ValidTo.
    expired: usize,
    /// Enrolment offers of joining nodes answered with a domain key.
    enrolled: usize,
    /// Claims lost to another writer, over every job: conditional commits
    /// that found the work already done (or the key changed) elsewhere.
    conflicts: usize,
    /// Jobs that failed (each is logged).
    errors: usize,
}

impl JobRun {
    /// Adds one job's outcome (or its failure, logged as `job`), and
    /// counts the run in the metrics under `job`.
    fn add(&mut self, job: &'static str, outcome: crate::kms::KmsResult<JobOutcome>) -> usize {
        metrics().job_run(job, outcome.is_err());
        match outcome {
            Ok(outcome) => {
                self.conflicts += outcome.conflicts;
                outcome.done
            }
            Err(e) => {
                tracing::error!(error = %e, "{job} job failed");
                self.errors += 1;
                0
            }
        }
    }
}

/// Runs every background job once: completes primary Region updates,
/// rotates keys that are due, deletes keys whose waiting period is over and
/// imported material whose ValidTo has passed, and answers the enrolment
/// offers of nodes joining this node's regions.
fn run_jobs(kms: &Kms) -> JobRun {
    kms.bury_evicted_keys();
    kms.reinitialize_modules_if_due();
    let mut run = JobRun::default();
    run.primary_updates = run.add("primary Region update", kms.complete_primary_updates());
    run.rotated = run.add("rotation", kms.rotate_due_keys());
    run.deleted = run.add("deletion", kms.delete_due_keys());
    run.expired = run.add("imported material expiry", kms.expire_imported_material());
    run.enrolled = run.add("enrolment offer answers", kms.answer_offers());
    run
}

/// Every `interval` (and once at start, so work missed while the server was
/// down happens now), and whenever an operation asks for it
/// ([`Kms::jobs_wanted`]: an accepted UpdatePrimaryRegion completes within
/// moments, not an interval later): runs the background jobs ([`run_jobs`]).
async fn background_jobs(state: Arc<AppState>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = jobs_wanted(&state.kms) => {}
        }
        let jobs = state.clone();
        match tokio::task::spawn_blocking(move || run_jobs(&jobs.kms)).await {
            Ok(run) => tracing::debug!(
                primary_updates = run.primary_updates,
                rotated = run.rotated,
                deleted = run.deleted,
                expired = run.expired,
                enrolled = run.enrolled,
                conflicts = run.conflicts,
                errors = run.errors,
                "background jobs ran"
            ),
            // A blocking task is cancelled only when the runtime shuts down
            // before it starts: that is a shutdown, not a fault.
            Err(e) if e.is_cancelled() => {
                tracing::debug!("background jobs cancelled by the shutdown");
            }
            Err(e) => tracing::error!(error = %e, "background job panicked"),
        }
        #[cfg(feature = "test-clock")]
        state
            .job_runs
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Resolves when an operation asks for the jobs to run now; never while a
/// test holds the loop to its interval (feature `test-clock`,
/// `TRENT_TEST_NO_JOB_WAKE`), so that it can watch the state in between.
async fn jobs_wanted(kms: &Kms) {
    #[cfg(feature = "test-clock")]
    if test_clock::no_job_wake() {
        return std::future::pending().await;
    }
    kms.jobs_wanted().notified().await
}

/// Resolves on SIGINT or SIGTERM, with the signal's name.
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}

/// Test-only control of the service clock (feature `test-clock`).
#[cfg(feature = "test-clock")]
mod test_clock {
    use super::AppState;
    use axum::extract::State;
    use std::sync::Arc;

    /// Starts the clock `TRENT_TEST_CLOCK_OFFSET_SECS` seconds ahead, so a
    /// test can restart a server at a later "now".
    pub fn apply_start_offset(kms: &crate::kms::Kms) {
        if let Some(secs) = std::env::var("TRENT_TEST_CLOCK_OFFSET_SECS")
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
        {
            kms.clock().advance_ms(secs * 1000);
        }
    }

    /// Whether `TRENT_TEST_NO_JOB_WAKE` is set: the job loop then runs only
    /// at start-up and on its interval, never because an operation asked,
    /// so a test can observe what happens before the jobs run (the
    /// Updating state of an UpdatePrimaryRegion, for one).
    pub fn no_job_wake() -> bool {
        std::env::var_os("TRENT_TEST_NO_JOB_WAKE").is_some()
    }

    /// `POST /_trent/test/panic`: the next operation panics.
    pub async fn panic_next(State(app): State<Arc<AppState>>) -> &'static str {
        app.panic_next
            .store(true, std::sync::atomic::Ordering::SeqCst);
        "armed"
    }

    /// `POST /_trent/test/jobs`: runs the background jobs once now, besides
    /// the loop, and answers what this run did as JSON:
    /// `{"primary_updates":n,"rotated":n,"deleted":n,"conflicts":n,"errors":n}`.
    /// It does not count as a run of the loop in `/_trent/test/ticks`.
    pub async fn run_jobs_once(State(app): State<Arc<AppState>>) -> String {
        let run = tokio::task::spawn_blocking(move || super::run_jobs(&app.kms))
            .await
            .expect("background jobs panicked");
        serde_json::to_string(&run).expect("job run as JSON")
    }

    /// `GET` or `POST /_trent/test/ticks`: how many runs of the background
    /// job loop have completed since start-up (the start-up run included).
    pub async fn job_runs(State(app): State<Arc<AppState>>) -> String {
        app.job_runs
            .load(std::sync::atomic::Ordering::SeqCst)
            .to_string()
    }

    /// `POST /_trent/test/store`: the store connection's `PRAGMA synchronous`
    /// and `journal_mode`, as `synchronous=N journal_mode=M`.
    pub async fn store(State(app): State<Arc<AppState>>) -> String {
        match app.kms.store_durability() {
            Ok((synchronous, journal)) => {
                format!("synchronous={synchronous} journal_mode={journal}")
            }
            Err(e) => format!("error: {e}"),
        }
    }

    /// `POST /_trent/test/clock` with the number of seconds to move forward.
    pub async fn advance(State(app): State<Arc<AppState>>, body: String) -> String {
        let seconds: i64 = body.trim().parse().unwrap_or(0);
        app.kms.clock().advance_ms(seconds * 1000);
        app.kms.clock().now_ms().to_string()
    }
}
