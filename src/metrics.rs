//! The process's Prometheus metrics, served by `GET /metrics` in the text
//! exposition format (OpenMetrics 1.0, which Prometheus scrapes natively).
//!
//! Every handle is registered once, at first use, in one process-wide
//! registry ([`metrics`]); the hot paths only bump pre-registered counters
//! whose label sets are small structs of `&'static str`, so counting
//! allocates nothing. Each thread keeps its own handles of the families'
//! metrics ([`LocalHandles`]): a hot-path count takes neither a family's
//! lock, shared by every core, nor a SipHash of its labels. Labels come
//! from bounded sets (dialect, operation name, error code, mechanism, job,
//! region, key state): never a key id, principal or other per-tenant value.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{LazyLock, Mutex};
use std::thread::LocalKey;
use std::time::{Duration, Instant};

/// The content type of the exposition [`Metrics::render`] writes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The operation label of a request whose operation this service lacks.
pub const UNKNOWN_OPERATION: &str = "unknown";

/// The outcome label of a request that succeeded.
pub const OK: &str = "ok";

/// Labels of a served request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// `aws` or `huawei`.
    dialect: &'static str,
    /// The operation's API name, or [`UNKNOWN_OPERATION`].
    operation: &'static str,
    /// The error code answered, or [`OK`].
    outcome: &'static str,
}

/// Labels of a request's latency.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    /// `aws` or `huawei`.
    dialect: &'static str,
    /// The operation's API name, or [`UNKNOWN_OPERATION`].
    operation: &'static str,
}

/// Labels of a PKCS#11 call's latency.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Pkcs11Labels {
    /// The call: `encrypt`, `decrypt`, `sign`, `verify`, `generate_mac`,
    /// `verify_mac`, `random`, `wrap` or `unwrap`.
    call: &'static str,
    /// The mechanism, e.g. `AES-GCM`.
    mechanism: &'static str,
}

/// Labels of a cache lookup.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    /// Which cache.
    cache: &'static str,
    /// `hit` or `miss`.
    result: &'static str,
}

/// Labels of a background job.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    /// The job's name.
    job: &'static str,
}

/// Labels of the keys gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyLabels {
    /// A hosted region (a configured, bounded set).
    region: String,
    /// The key state, e.g. `Enabled`.
    state: &'static str,
}

/// A histogram family whose histograms are made by a plain function.
type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Buckets of request latencies: 100 µs to about 6.5 s.
fn request_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 17))
}

/// Buckets of PKCS#11 call latencies: 10 µs to about 0.65 s.
fn pkcs11_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.00001, 2.0, 17))
}

/// One thread's handles of one family's metrics, by label set. A handle
/// shares its metric with the family (and every other thread's handle),
/// so what it counts is what the family encodes.
type LocalHandles<L, M> = RefCell<HashMap<L, M, foldhash::fast::FixedState>>;

thread_local! {
    static REQUESTS: LocalHandles<RequestLabels, Counter> = RefCell::default();
    static REQUEST_DURATIONS: LocalHandles<OperationLabels, Histogram> = RefCell::default();
    static PKCS11_DURATIONS: LocalHandles<Pkcs11Labels, Histogram> = RefCell::default();
}

/// Runs `update` on this thread's handle of `family`'s metric for
/// `labels` (`local` holding the thread's handles of that family only),
/// taking the handle from the family the first time.
fn with_local<L, M, C>(
    local: &'static LocalKey<LocalHandles<L, M>>,
    family: &Family<L, M, C>,
    labels: L,
    update: impl FnOnce(&M),
) where
    L: Clone + Hash + Eq,
    M: Clone,
    C: MetricConstructor<M>,
{
    local.with(|handles| {
        let mut handles = handles.borrow_mut();
        let metric = handles
            .entry(labels)
            .or_insert_with_key(|labels| family.get_or_create(labels).clone());
        update(metric);
    });
}

/// The hit and miss counters of one cache's lookups, taken from their
/// family once by the cache, so that counting a lookup is one atomic add.
#[derive(Clone, Debug)]
pub struct LookupCounts {
    hit: Counter,
    miss: Counter,
}

impl LookupCounts {
    /// The counters of `cache` in a cache-lookup family.
    fn of(family: &Family<CacheLabels, Counter>, cache: &'static str) -> Self {
        let counter = |result| family.get_or_create(&CacheLabels { cache, result }).clone();
        Self {
            hit: counter("hit"),
            miss: counter("miss"),
        }
    }

    /// Counts one lookup, as a hit or a miss.
    pub fn count(&self, hit: bool) {
        match hit {
            true => self.hit.inc(),
            false => self.miss.inc(),
        };
    }
}

/// The process's metric handles and the registry that encodes them.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_duration: Histograms<OperationLabels>,
    pkcs11_duration: Histograms<Pkcs11Labels>,
    session_objects: Gauge,
    session_cache: Family<CacheLabels, Counter>,
    metadata_cache: Family<CacheLabels, Counter>,
    audit_lines: Counter,
    audit_groups: Counter,
    audit_failures: Counter,
    job_runs: Family<JobLabels, Counter>,
    job_failures: Family<JobLabels, Counter>,
    module_reinitializations: Counter,
    session_objects_destroyed: Counter,
    keys: Family<KeyLabels, Gauge>,
    /// Held while a scrape refreshes the keys gauge and encodes.
    scrape: Mutex<()>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

impl Metrics {
    /// Registers every metric under the `trent_` prefix.
    fn new() -> Self {
        let mut registry = Registry::with_prefix("trent");
        let requests = Family::default();
        registry.register(
            "requests",
            "Requests served, by dialect, operation and outcome (error code or ok)",
            requests.clone(),
        );
        let request_duration: Histograms<_> = Family::new_with_constructor(request_histogram);
        registry.register_with_unit(
            "request_duration",
            "Request latency, from arrival to response, by operation",
            Unit::Seconds,
            request_duration.clone(),
        );
        let pkcs11_duration: Histograms<_> = Family::new_with_constructor(pkcs11_histogram);
        registry.register_with_unit(
            "pkcs11_call_duration",
            "PKCS#11 call latency, by call and mechanism",
            Unit::Seconds,
            pkcs11_duration.clone(),
        );
        let session_objects = Gauge::default();
        registry.register(
            "session_object_cache_size",
            "Unwrapped keys and public keys cached as session objects",
            session_objects.clone(),
        );
        let session_cache = Family::default();
        registry.register(
            "session_object_cache_lookups",
            "Session-object cache lookups, by cache and result",
            session_cache.clone(),
        );
        let metadata_cache = Family::default();
        registry.register(
            "metadata_cache_lookups",
            "Metadata cache lookups, by cache and result",
            metadata_cache.clone(),
        );
        let audit_lines = Counter::default();
        registry.register(
            "audit_lines_written",
            "Audit lines written",
            audit_lines.clone(),
        );
        let audit_groups = Counter::default();
        registry.register(
            "audit_groups_written",
            "Audit writes (each a group of lines)",
            audit_groups.clone(),
        );
        let audit_failures = Counter::default();
        registry.register(
            "audit_write_failures",
            "Audit writes that failed",
            audit_failures.clone(),
        );
        let job_runs = Family::default();
        registry.register(
            "background_job_runs",
            "Background job runs, by job",
            job_runs.clone(),
        );
        let job_failures = Family::default();
        registry.register(
            "background_job_failures",
            "Background job runs that failed, by job",
            job_failures.clone(),
        );
        let module_reinitializations = Counter::default();
        registry.register(
            "pkcs11_module_reinitializations",
            "PKCS#11 module re-initialisations",
            module_reinitializations.clone(),
        );
        let session_objects_destroyed = Counter::default();
        registry.register(
            "session_objects_destroyed",
            "Session objects destroyed (SoftHSM keeps a record of each until the module \
             is re-initialised: reinitialize_module_after)",
            session_objects_destroyed.clone(),
        );
        let keys = Family::default();
        registry.register(
            "keys",
            "Keys by region and state, counted in the store at scrape time",
            keys.clone(),
        );
        Self {
            registry,
            requests,
            request_duration,
            pkcs11_duration,
            session_objects,
            session_cache,
            metadata_cache,
            audit_lines,
            audit_groups,
            audit_failures,
            job_runs,
            job_failures,
            module_reinitializations,
            session_objects_destroyed,
            keys,
            scrape: Mutex::new(()),
        }
    }

    /// Counts one served request and its latency.
    pub fn request(
        &self,
        dialect: &'static str,
        operation: &'static str,
        outcome: &'static str,
        took: Duration,
    ) {
        let labels = RequestLabels {
            dialect,
            operation,
            outcome,
        };
        with_local(&REQUESTS, &self.requests, labels, |c| {
            c.inc();
        });
        let labels = OperationLabels { dialect, operation };
        with_local(&REQUEST_DURATIONS, &self.request_duration, labels, |h| {
            h.observe(took.as_secs_f64())
        });
    }

    /// Runs one PKCS#11 call and records its latency.
    pub fn pkcs11<T>(
        &self,
        call: &'static str,
        mechanism: &'static str,
        f: impl FnOnce() -> T,
    ) -> T {
        let started = Instant::now();
        let result = f();
        let took = started.elapsed().as_secs_f64();
        let labels = Pkcs11Labels { call, mechanism };
        with_local(&PKCS11_DURATIONS, &self.pkcs11_duration, labels, |h| {
            h.observe(took)
        });
        result
    }

    /// Moves the number of cached session objects by `by`.
    pub fn session_objects(&self, by: i64) {
        self.session_objects.inc_by(by);
    }

    /// The lookup counters of the session-object cache `cache`.
    pub fn session_cache(&self, cache: &'static str) -> LookupCounts {
        LookupCounts::of(&self.session_cache, cache)
    }

    /// The lookup counters of the metadata cache `cache`.
    pub fn metadata_cache(&self, cache: &'static str) -> LookupCounts {
        LookupCounts::of(&self.metadata_cache, cache)
    }

    /// Counts one audit write, of a group of `lines` lines.
    pub fn audit_written(&self, lines: u64) {
        self.audit_lines.inc_by(lines);
        self.audit_groups.inc();
    }

    /// Counts one audit write that failed.
    pub fn audit_write_failed(&self) {
        self.audit_failures.inc();
    }

    /// Counts one run of a background job, and whether it failed.
    pub fn job_run(&self, job: &'static str, failed: bool) {
        let labels = JobLabels { job };
        self.job_runs.get_or_create(&labels).inc();
        if failed {
            self.job_failures.get_or_create(&labels).inc();
        }
    }

    /// Counts one PKCS#11 module re-initialisation.
    pub fn module_reinitialized(&self) {
        self.module_reinitializations.inc();
    }

    /// Counts a destroyed session object.
    pub fn session_object_destroyed(&self) {
        self.session_objects_destroyed.inc();
    }

    /// The exposition, with the keys gauge set to `keys` (region, state,
    /// count).
    pub fn render(&self, keys: &[(String, &'static str, u64)]) -> String {
        let _scrape = self.scrape.lock().unwrap_or_else(|e| e.into_inner());
        self.keys.clear();
        for (region, state, count) in keys {
            let labels = KeyLabels {
                region: region.clone(),
                state,
            };
            self.keys
                .get_or_create(&labels)
                .set(i64::try_from(*count).unwrap_or(i64::MAX));
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}
