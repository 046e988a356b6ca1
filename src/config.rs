//! Configuration: built-in defaults < `trent.toml` (or `--config FILE`) < `TRENT_*` env.
//!
//! Plain data only: this module knows no dialect and no authenticator; they
//! check and convert its entries when the service starts.

use crate::cache_sizing;
use figment::Figment;
use figment::error::{Actual, Kind};
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Default listen address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:4599";
/// SoftHSM's module path on Debian.
pub const SOFTHSM_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// The whole service configuration.
#[derive(Debug, Deserialize, Serialize)]
pub struct Config {
    /// Where the database, dev-mode tokens and credentials live.
    pub data_dir: PathBuf,
    /// The metadata database: a PostgreSQL URL (`postgres://user@host:5432/trent`),
    /// for several nodes sharing one database, or `sqlite://` and a file's
    /// path (several nodes on one machine); when absent, the SQLite file
    /// `trent.db` in `data_dir`. Kept secret: it may carry a password.
    #[serde(default, skip_serializing)]
    pub store_url: Option<SecretString>,
    /// Root certificates (PEM) that a PostgreSQL server's TLS certificate
    /// must chain to; the system's roots when absent.
    pub store_ca_file: Option<PathBuf>,
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// Serve HTTPS with this certificate and key.
    pub tls: Option<TlsConfig>,
    /// Allow plain HTTP on an address other than loopback (only behind
    /// something that authenticates and encrypts).
    pub allow_plaintext_non_loopback: bool,
    /// Region used when a request carries no SigV4 credential scope. With
    /// explicit `regions` it must be one of them; dev mode provisions it.
    pub default_region: String,
    /// Account of the dev-mode credentials (their principal is this account's root).
    pub account_id: String,
    /// Credential entries: access key, secret and principal. When empty, the
    /// `[default]` profile of `<data_dir>/credentials` (generated on first
    /// start) is the only credential, as the root of `account_id`.
    pub credentials: Vec<CredentialConfig>,
    /// Explicitly configured regions: exactly these are hosted. When empty,
    /// dev mode provisions `dev_regions` as SoftHSM tokens under the data
    /// directory, and later any region of AWS's name form on first use.
    pub regions: Vec<RegionConfig>,
    /// Region names provisioned in dev mode at start-up.
    pub dev_regions: Vec<String>,
    /// PKCS#11 module used for dev-mode tokens.
    pub softhsm_module: PathBuf,
    /// The audit trail file; `<data_dir>/audit.log` when absent.
    pub audit_log: Option<PathBuf>,
    /// This node's id, on every audit line (1–64 letters, digits, `.`, `_`,
    /// `-`); when absent, one made on first start and kept in
    /// `<data_dir>/node-id`.
    pub node_id: Option<String>,
    /// How long a node joining a cluster waits at start-up for a member to
    /// answer its enrolment offer for a region whose domain key the store
    /// names and its token lacks (ADR 0016); members answer no older offer.
    pub enrolment_wait_secs: u64,
    /// Run the cryptographic operations (Encrypt, Decrypt, ReEncrypt,
    /// GenerateDataKey*, GenerateMac, VerifyMac, Sign, Verify,
    /// DeriveSharedSecret, GenerateRandom) on the async workers rather than
    /// the blocking pool. Right for tokens that answer in microseconds
    /// (SoftHSM's AES, HMAC and ECDSA); set false for network HSMs whose
    /// calls take milliseconds, or where RSA private-key operations (some
    /// milliseconds each for RSA_4096, even on SoftHSM) are frequent.
    pub inline_crypto: bool,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Most client connections open at once; past it, new ones are closed
    /// as soon as they are accepted.
    pub max_connections: usize,
    /// PKCS#11 worker sessions per region.
    pub sessions_per_region: usize,
    /// Unwrapped backing keys kept as session objects, by the tokens of all
    /// regions together; when absent, sized from memory
    /// ([`Config::cache_capacities`]).
    pub key_cache_capacity: Option<usize>,
    /// Key records and wrapped materials kept in memory; when absent, sized
    /// from memory ([`Config::cache_capacities`]).
    pub metadata_cache_capacity: Option<usize>,
    /// How long a change made by another node sharing the database may go
    /// unseen by the key-record cache; 0 disables the record cache.
    pub metadata_max_staleness_ms: u64,
    /// Session objects destroyed on a PKCS#11 module after which it is
    /// re-initialised, bounding SoftHSM's per-destroyed-object memory; 0: never.
    pub reinitialize_module_after: u64,
    /// How often background jobs look for keys due for deletion or rotation.
    pub job_interval_secs: u64,
    /// Most on-demand rotations (RotateKeyOnDemand) one key may have.
    pub on_demand_rotation_limit: usize,
    /// Most grants one key may have (AWS's quota is 50,000).
    pub grants_per_key_limit: usize,
    /// How log lines are written to standard error: `text` (for people) or
    /// `json` (one JSON object a line, for log collectors).
    pub log_format: LogFormat,
    /// Huawei dialect projects: project id → region and account. When empty
    /// in dev mode, one project per region is made and written to
    /// `<data_dir>/huawei-projects.json`.
    #[serde(default)]
    pub huawei_projects: std::collections::BTreeMap<String, HuaweiProject>,
    /// Huawei dialect `X-Auth-Token`s (`[[auth_tokens]]`), each scoped to a
    /// principal and a project, with an expiry.
    #[serde(default)]
    pub auth_tokens: Vec<TokenConfig>,
}

/// The form of the log lines on standard error.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (coloured on a terminal).
    #[default]
    Text,
    /// One JSON object a line, with the fields of the event and, for a
    /// request's lines, the request's `id`.
    Json,
}

/// TLS termination: PEM files of the certificate chain and private key.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct TlsConfig {
    /// Certificate chain, PEM.
    pub cert_file: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1), PEM.
    pub key_file: PathBuf,
}

/// One configured credential (`[[credentials]]`); the authenticators
/// check it when the service starts.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct CredentialConfig {
    /// Access key id, e.g. `AKIA...`.
    pub access_key_id: String,
    /// Secret access key.
    #[serde(skip_serializing)]
    pub secret_access_key: SecretString,
    /// Principal ARN, e.g. `arn:aws:iam::111122223333:user/alice`.
    pub principal: String,
    /// Optional identity policy (IAM policy language) of the principal.
    #[serde(default)]
    pub policy: Option<String>,
}

/// One `[[auth_tokens]]` entry: an `X-Auth-Token` accepted by the Huawei
/// dialect, the principal it names, the one project it is valid for and
/// when it stops being valid. The token is given either in clear (`token`)
/// or as the lowercase hex SHA-256 of its bytes (`token_sha256`), so that
/// the configuration need not hold a usable token. The Huawei dialect
/// checks it when the service starts.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct TokenConfig {
    /// The token itself (at least
    /// `auth::huawei_sign::MIN_TOKEN_CHARS` characters).
    #[serde(default, skip_serializing)]
    pub token: Option<SecretString>,
    /// The SHA-256 of the token, 64 hex digits, instead of the token.
    #[serde(default)]
    pub token_sha256: Option<String>,
    /// Principal ARN the token authenticates as.
    pub principal: String,
    /// The project (in the principal's account) the token is scoped to.
    pub project_id: String,
    /// End of validity, RFC 3339 (e.g. `2026-12-01T00:00:00Z`).
    pub expires_at: String,
}

/// One configured Huawei dialect project (`[huawei_projects.<project id>]`);
/// the dialect checks it and resolves the account.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct HuaweiProject {
    /// Region (a hosted region name) the project's requests go to.
    pub region: String,
    /// Account owning the project; the configuration's `account_id` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

/// One region: a named PKCS#11 token.
#[derive(Debug, Deserialize, Serialize)]
pub struct RegionConfig {
    /// Region name, e.g. `eu-west-1`.
    pub name: String,
    /// Path of the PKCS#11 module.
    pub module: PathBuf,
    /// Token label.
    pub token_label: String,
    /// The token's user PIN.
    #[serde(flatten)]
    pub pin: PinSource,
    /// For SoftHSM: the `SOFTHSM2_CONF` file to use for this module.
    #[serde(default)]
    pub softhsm_conf: Option<PathBuf>,
}

/// Where a PIN comes from: given directly, from an environment variable, or a file.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct PinSource {
    /// The PIN itself.
    #[serde(default, skip_serializing)]
    pub pin: Option<SecretString>,
    /// Name of an environment variable holding the PIN.
    #[serde(default)]
    pub pin_env: Option<String>,
    /// File whose contents (trimmed) are the PIN.
    #[serde(default)]
    pub pin_file: Option<PathBuf>,
}

/// Configuration errors.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The sources could not be merged or parsed. Shown without the values
    /// read (see [`withholding_values`]).
    #[error("invalid configuration: {}", withholding_values(.0))]
    Invalid(#[from] Box<figment::Error>),
    /// A PIN source is missing or unreadable.
    #[error("region {0}: {1}")]
    Pin(String, String),
    /// The configuration file is writable by every user of the machine,
    /// any of whom could give Trent credentials or a PKCS#11 module.
    #[error(
        "{0}: any user of this machine may write it, and so give Trent credentials or a \
         PKCS#11 module of their own; chmod o-w it"
    )]
    WorldWritable(String),
    /// Plain HTTP on a non-loopback address without saying so.
    #[error(
        "listen address {0} is not loopback and TLS is not configured; configure [tls] or set \
         allow_plaintext_non_loopback = true"
    )]
    PlaintextExposed(SocketAddr),
    /// The default region is not among the configured ones.
    #[error("default_region {0:?} is not one of the configured regions {1:?}")]
    UnknownDefaultRegion(String, Vec<String>),
}

/// What went wrong in the configuration, each error with its key and
/// source, but never the value read: a PIN written as a number (`pin =
/// 1234`) or a syntax error on a secret's line would otherwise be printed
/// to the service's log (figment and the TOML parser quote both).
/// Refuses a configuration file every user may write (a missing one is
/// left to the parser, which names it).
fn refuse_world_writable(path: &Path) -> Result<(), ConfigError> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Ok(meta) if meta.permissions().mode() & 0o002 != 0 => {
            Err(ConfigError::WorldWritable(path.display().to_string()))
        }
        _ => Ok(()),
    }
}

fn withholding_values(error: &figment::Error) -> String {
    error
        .clone()
        .into_iter()
        .map(|e| {
            let what = match &e.kind {
                Kind::InvalidType(actual, expected) => {
                    format!("expected {expected}, found {}", type_of(actual))
                }
                Kind::InvalidValue(actual, expected) => {
                    format!("invalid {}: expected {expected}", type_of(actual))
                }
                Kind::Message(text) => without_quoted_lines(text),
                other => other.to_string(),
            };
            // The key as its source spells it (`TRENT_LOG_FORMAT`, `log_format`).
            let key = match (&e.profile, &e.metadata, e.path.is_empty()) {
                (_, _, true) => String::new(),
                (Some(profile), Some(m), false) => {
                    format!(" for key `{}`", m.interpolate(profile, &e.path))
                }
                _ => format!(" for key `{}`", e.path.join(".")),
            };
            let source = e.metadata.as_ref().map_or(String::new(), |m| {
                let at = m.source.as_ref().map_or(String::new(), |s| format!(" {s}"));
                format!(" in {}{at}", m.name)
            });
            format!("{what}{key}{source}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The kind of value `actual` is, without the value.
fn type_of(actual: &Actual) -> &'static str {
    match actual {
        Actual::Bool(_) => "a boolean",
        Actual::Unsigned(_) | Actual::Signed(_) => "an integer",
        Actual::Float(_) => "a float",
        Actual::Char(_) | Actual::Str(_) => "a string",
        Actual::Bytes(_) => "bytes",
        Actual::Seq => "a sequence",
        Actual::Map => "a map",
        _ => "a value",
    }
}

/// A parser's message without the lines that quote the source (`3 | pin =
/// ...` and the caret lines around it).
fn without_quoted_lines(text: &str) -> String {
    text.lines()
        .filter(|line| {
            let rest = line
                .trim_start()
                .trim_start_matches(|c: char| c.is_ascii_digit());
            !rest.trim_start().starts_with('|')
        })
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("trent-data"),
            store_url: None,
            store_ca_file: None,
            listen: DEFAULT_LISTEN.parse().expect("valid default address"),
            tls: None,
            allow_plaintext_non_loopback: false,
            default_region: "us-east-1".into(),
            account_id: "111122223333".into(),
            credentials: Vec::new(),
            regions: Vec::new(),
            dev_regions: vec!["us-east-1".into(), "us-west-2".into()],
            softhsm_module: PathBuf::from(SOFTHSM_MODULE),
            audit_log: None,
            node_id: None,
            enrolment_wait_secs: 600,
            inline_crypto: true,
            max_body_bytes: 256 * 1024,
            max_connections: 4096,
            sessions_per_region: 8,
            key_cache_capacity: None,
            metadata_cache_capacity: None,
            metadata_max_staleness_ms: 1_000,
            reinitialize_module_after: 1_000_000,
            job_interval_secs: 5,
            on_demand_rotation_limit: 10,
            grants_per_key_limit: 50_000,
            log_format: LogFormat::Text,
            huawei_projects: Default::default(),
            auth_tokens: Default::default(),
        }
    }
}

/// The configuration file read from the working directory when no
/// `--config` is given.
pub const DEFAULT_FILE: &str = "trent.toml";

impl Config {
    /// Loads defaults, then `file` (or `./trent.toml` if present), then
    /// `TRENT_*` variables. Only the working directory's `trent.toml` is
    /// read, never one in a parent directory (figment's `Toml::file`
    /// searches every parent up to `/`, where another user may have put
    /// credentials or a PKCS#11 module of their own).
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        let default_file = Path::new(DEFAULT_FILE);
        let file = file.or(default_file.is_file().then_some(default_file));
        if let Some(path) = file {
            refuse_world_writable(path)?;
            figment = figment.merge(Toml::file_exact(path));
        }
        let config: Config = figment
            .merge(Env::prefixed("TRENT_"))
            .extract()
            .map_err(Box::new)?;
        Ok(config)
    }

    /// Refuses plain HTTP on a non-loopback address unless explicitly allowed.
    pub fn check_listen(&self) -> Result<(), ConfigError> {
        if self.tls.is_none()
            && !self.listen.ip().is_loopback()
            && !self.allow_plaintext_non_loopback
        {
            return Err(ConfigError::PlaintextExposed(self.listen));
        }
        Ok(())
    }

    /// Names of the explicitly configured regions; none in dev mode, which
    /// hosts `dev_regions`, the default region and every region provisioned
    /// on first use.
    pub fn region_names(&self) -> Vec<String> {
        self.regions.iter().map(|r| r.name.clone()).collect()
    }

    /// True when regions are provisioned automatically under the data directory.
    pub fn dev_mode(&self) -> bool {
        self.regions.is_empty()
    }

    /// The regions dev mode hosts from the start, before any it provisioned
    /// in an earlier run: `dev_regions` and the default region, each once.
    pub fn dev_start_regions(&self) -> std::collections::BTreeSet<String> {
        let mut names: std::collections::BTreeSet<String> =
            self.dev_regions.iter().cloned().collect();
        names.insert(self.default_region.clone());
        names
    }

    /// The capacity of the key caches (all regions together) and of the
    /// metadata cache: the configured ones, else as many keys as fit in half
    /// the memory the process may use ([`cache_sizing::default_capacity`]).
    pub fn cache_capacities(&self) -> CacheCapacities {
        match (self.key_cache_capacity, self.metadata_cache_capacity) {
            (Some(keys), Some(metadata)) => CacheCapacities { keys, metadata },
            (keys, metadata) => {
                let sized = cache_sizing::available_memory()
                    .map_or(cache_sizing::WITHOUT_MEMORY, |memory| {
                        cache_sizing::default_capacity(memory)
                    });
                CacheCapacities {
                    keys: keys.unwrap_or(sized),
                    metadata: metadata.unwrap_or(sized),
                }
            }
        }
    }
}

/// The capacities of the caches a server starts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheCapacities {
    /// Unwrapped backing keys kept as session objects, all regions together.
    pub keys: usize,
    /// Key records and wrapped materials kept in memory.
    pub metadata: usize,
}

impl PinSource {
    /// Resolves the PIN from whichever source is set.
    pub fn resolve(&self, region: &str) -> Result<SecretString, ConfigError> {
        let err = |m: String| ConfigError::Pin(region.into(), m);
        if let Some(pin) = &self.pin {
            return Ok(pin.clone());
        }
        if let Some(var) = &self.pin_env {
            return std::env::var(var)
                .map(SecretString::from)
                .map_err(|_| err(format!("environment variable {var} is not set")));
        }
        if let Some(path) = &self.pin_file {
            return std::fs::read_to_string(path)
                .map(|s| SecretString::from(s.trim().to_string()))
                .map_err(|e| err(format!("cannot read PIN file {}: {e}", path.display())));
        }
        Err(err("no pin, pin_env or pin_file given".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(toml: &str) -> String {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("trent.toml");
        std::fs::write(&path, toml).unwrap();
        Config::load(Some(&path)).unwrap_err().to_string()
    }

    #[test]
    fn a_pin_of_the_wrong_type_is_named_not_shown() {
        let message = error_of(
            "[[regions]]\nname = \"eu-west-1\"\nmodule = \"/m.so\"\ntoken_label = \"t\"\npin = 918273\n",
        );
        assert!(!message.contains("918273"), "{message}");
        assert!(message.contains("found an integer"), "{message}");
        assert!(message.contains("regions"), "{message}");
    }

    #[test]
    fn a_syntax_error_on_a_secret_line_does_not_quote_it() {
        let message = error_of(
            "[[credentials]]\naccess_key_id = \"AKIA0000000000000001\"\nsecret_access_key = s3cr3t-Value-42\"\n",
        );
        assert!(!message.contains("s3cr3t"), "{message}");
        assert!(message.contains("line 3"), "{message}");
    }

    #[test]
    fn cache_capacities_are_the_configured_ones_or_sized_from_memory() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("trent.toml");
        std::fs::write(
            &path,
            "key_cache_capacity = 5\nmetadata_cache_capacity = 7\n",
        )
        .unwrap();
        let configured = Config::load(Some(&path)).unwrap().cache_capacities();
        assert_eq!((configured.keys, configured.metadata), (5, 7));

        let config = Config {
            key_cache_capacity: Some(5),
            ..Config::default()
        };
        let memory = cache_sizing::available_memory().expect("memory of a Linux machine");
        assert_eq!(config.cache_capacities().keys, 5);
        assert_eq!(
            config.cache_capacities().metadata,
            cache_sizing::default_capacity(memory)
        );
        assert_eq!(
            Config::default().cache_capacities().keys,
            cache_sizing::default_capacity(memory)
        );
    }

    #[test]
    fn dev_mode_starts_with_its_regions_and_the_default_one_once() {
        let config = Config {
            dev_regions: vec!["eu-west-1".into(), "us-east-1".into()],
            default_region: "us-east-1".into(),
            ..Config::default()
        };
        assert_eq!(
            config.dev_start_regions().into_iter().collect::<Vec<_>>(),
            ["eu-west-1", "us-east-1"]
        );
    }

    #[test]
    fn a_value_of_the_wrong_kind_is_described_by_its_type() {
        let message = error_of("listen = 918273645\n");
        assert!(!message.contains("918273645"), "{message}");
        assert!(message.contains("for key `default.listen`"), "{message}");
    }
}
