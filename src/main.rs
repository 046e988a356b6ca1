//! The `trent` command.

use clap::{Parser, Subcommand};

/// mimalloc: the request path allocates many small, short-lived buffers,
/// which glibc malloc served at about a sixth of the server's CPU time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `getpid` for the whole process, PKCS#11 modules included (exported by
/// `build.rs`): the cached id of [`trent::process_id`], where glibc makes a
/// system call on each of SoftHSM's per-call fork checks.
#[unsafe(no_mangle)]
pub extern "C" fn getpid() -> libc::pid_t {
    trent::process_id::cached()
}
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use tracing_subscriber::fmt::format::JsonFields;
use trent::audit::{self, Verification};
use trent::backup;
use trent::cluster;
use trent::config::{Config, LogFormat};
use trent::hsm::{DomainKeySharing, HsmError};
use trent::logs::LineFormat;
use trent::server::StartError;

#[derive(Parser)]
#[command(
    name = "trent",
    version,
    about = "HSM-backed key management service speaking the AWS KMS API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service.
    Serve {
        /// Configuration file (default: ./trent.toml if present).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Create the domain key on a configured region's token (once, on the
    /// region's first node, before its first `serve`) and name it in the
    /// store. Dev-mode tokens get theirs when `serve` creates them; other
    /// nodes of a cluster receive it by enrolment (`trent cluster approve`).
    InitDomainKey {
        /// Configuration file (default: ./trent.toml if present).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The region whose token gets the domain key.
        #[arg(long)]
        region: String,
        /// Make a domain key that other nodes of a cluster can receive
        /// (wrappable only under keys the token's Security Officer marks
        /// trusted). Without it, the key never leaves the token and the
        /// region can have one node only.
        #[arg(long)]
        shareable: bool,
    },
    /// Enrol nodes into a cluster: list and approve their offers.
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// Copy this node's data directory, consistently, while its server
    /// serves: the SQLite database (by SQLite's online backup), the dev-mode
    /// tokens and PIN files, credentials, node id, Huawei projects, the
    /// audit trail and the configuration file. `trent serve` with
    /// `TRENT_DATA_DIR=DEST` restores it. Refused for a PostgreSQL store.
    Backup {
        /// Configuration file (default: ./trent.toml if present).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Where the copy goes: a directory that must not exist or be empty.
        dest: PathBuf,
    },
    /// Inspect audit logs.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// List the enrolment offers waiting for an answer, with the
    /// fingerprint each joining node logged.
    Offers {
        /// Configuration file (default: ./trent.toml if present).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// On a member, approve a joining node's offer for a region: the SO of
    /// this member's token trusts the offer's key, and this member's server
    /// then sends the node the region's domain key wrapped for it. Refused
    /// unless the offer has the fingerprint given.
    Approve {
        /// Configuration file (default: ./trent.toml if present).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The region the node joins.
        #[arg(long)]
        region: String,
        /// The joining node's id.
        #[arg(long)]
        node: String,
        /// The offer's fingerprint, as the joining node logged it.
        #[arg(long)]
        fingerprint: String,
        /// File holding the SO PIN of this member's token for the region
        /// (default: read from standard input).
        #[arg(long)]
        so_pin_file: Option<PathBuf>,
    },
    /// The SO's step for one offer, run by a dev-mode member as a child
    /// process; the offer's public key (hex) comes on standard input.
    #[command(hide = true)]
    TrustOffer {
        #[arg(long)]
        module: PathBuf,
        #[arg(long)]
        softhsm_conf: Option<PathBuf>,
        #[arg(long)]
        token_label: String,
        #[arg(long)]
        node: String,
        #[arg(long)]
        so_pin_file: PathBuf,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check that audit logs' hash chains are intact, one chain per file
    /// (each node of a cluster writes its own); exit 1 when one is not.
    Verify {
        /// The audit log files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// Sends log lines to standard error in `format`, filtered by `TRENT_LOG`
/// (default `info`).
fn init_logging(format: LogFormat) {
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TRENT_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .event_format(LineFormat::Text)
            .init(),
        LogFormat::Json => logs
            .with_ansi(false)
            .fmt_fields(JsonFields::new())
            .event_format(LineFormat::Json)
            .init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Before any PIN, secret or key is read: no core dump of this process
    // and no debugger of the same user (SECURITY.md).
    if let Err(e) = trent::core_dumps::forbid() {
        eprintln!("trent: cannot turn core dumps off: {e}");
        return ExitCode::FAILURE;
    }
    // `serve` logs in its configuration's format, once it is loaded.
    if !matches!(cli.command, Command::Serve { .. }) {
        init_logging(LogFormat::Text);
    }
    // A panic is logged like any event, so inside a request it carries the
    // request's id (the operation's panics are caught and audited).
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(ToString::to_string).unwrap_or_default();
        let payload = info.payload();
        // Not `message`: that is the event's own text, and a JSON line
        // would carry the key twice.
        let what = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(not text)");
        tracing::error!(%location, what, "panic");
    }));
    match cli.command {
        Command::Serve { config } => match serve(config.as_deref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("trent: {e}");
                ExitCode::FAILURE
            }
        },
        Command::InitDomainKey {
            config,
            region,
            shareable,
        } => {
            let sharing = match shareable {
                true => DomainKeySharing::Shareable,
                false => DomainKeySharing::SingleNode,
            };
            report(
                load(config.as_deref())
                    .and_then(|config| Ok(cluster::init_domain_key(&config, &region, sharing)?)),
            )
        }
        Command::Cluster { command } => report(run_cluster(command)),
        Command::Backup { config, dest } => report(run_backup(config.as_deref(), &dest)),
        Command::Audit {
            command: AuditCommand::Verify { files },
        } => files
            .iter()
            .map(|file| verify_audit_log(file, files.len() > 1))
            .max()
            .map_or(ExitCode::SUCCESS, ExitCode::from),
    }
}

/// Prints whether the chain of `file` holds (prefixed with the file's name
/// when `named`) and the nodes its lines name: 0 when intact, 1 when
/// broken, 2 when the file cannot be read.
fn verify_audit_log(file: &Path, named: bool) -> u8 {
    let prefix = match named {
        true => format!("{}: ", file.display()),
        false => String::new(),
    };
    match audit::verify(file) {
        Ok(Verification {
            lines,
            broken: None,
            nodes,
            ..
        }) => {
            println!(
                "{prefix}OK: {lines} lines, chain intact, written by {}",
                nodes_named(&nodes)
            );
            0
        }
        Ok(Verification {
            broken: Some(broken),
            also_broken,
            ..
        }) => {
            println!("{prefix}BROKEN at line {}: {}", broken.line, broken.reason);
            if !also_broken.is_empty() {
                let shown: Vec<String> = also_broken.iter().take(20).map(u64::to_string).collect();
                let more = match also_broken.len() > shown.len() {
                    true => format!(" and {} more", also_broken.len() - shown.len()),
                    false => String::new(),
                };
                println!(
                    "{prefix}BROKEN also at {} later line(s): {}{more}",
                    also_broken.len(),
                    shown.join(", ")
                );
            }
            1
        }
        Err(e) => {
            eprintln!("trent: {e}");
            2
        }
    }
}

/// The node ids a chain names, for people.
fn nodes_named(nodes: &[String]) -> String {
    match nodes {
        [] => "no named node".into(),
        [one] => format!("node {one}"),
        many => format!("nodes {}", many.join(", ")),
    }
}

/// Prints a command's outcome (on standard output) or its failure (on
/// standard error).
fn report(outcome: Result<String, Box<dyn std::error::Error>>) -> ExitCode {
    match outcome {
        Ok(message) => {
            if !message.is_empty() {
                println!("{message}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("trent: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The configuration, for a command.
fn load(config_file: Option<&Path>) -> Result<Config, Box<dyn std::error::Error>> {
    Ok(Config::load(config_file)?)
}

/// Runs `trent backup`; returns what it copied, for people.
fn run_backup(
    config_file: Option<&Path>,
    dest: &Path,
) -> Result<String, Box<dyn std::error::Error>> {
    let config = load(config_file)?;
    let config_file = config_file.or(Some(Path::new("trent.toml")));
    let copied = backup::backup(&config, config_file, dest)?;
    Ok(format!(
        "backed up to {}: the database, {} other files, {} audit lines",
        dest.display(),
        copied.files,
        copied.audit_lines
    ))
}

/// Runs a `trent cluster` command; returns what to print.
fn run_cluster(command: ClusterCommand) -> Result<String, Box<dyn std::error::Error>> {
    match command {
        ClusterCommand::Offers { config } => Ok(cluster::list_offers(&load(config.as_deref())?)?),
        ClusterCommand::Approve {
            config,
            region,
            node,
            fingerprint,
            so_pin_file,
        } => Ok(cluster::approve(
            &load(config.as_deref())?,
            &cluster::Approval {
                region: &region,
                node: &node,
                fingerprint: &fingerprint,
                so_pin_file: so_pin_file.as_deref(),
            },
        )?),
        ClusterCommand::TrustOffer {
            module,
            softhsm_conf,
            token_label,
            node,
            so_pin_file,
        } => {
            let mut public_key = String::new();
            std::io::stdin().read_to_string(&mut public_key)?;
            cluster::trust_offer(
                &module,
                softhsm_conf.as_deref(),
                &token_label,
                &node,
                &so_pin_file,
                &public_key,
            )?;
            Ok(String::new())
        }
    }
}

/// The `init-domain-key` command line for `region`, naming the
/// configuration file when one was given.
fn init_command(config_file: Option<&Path>, region: &str) -> String {
    match config_file {
        Some(file) => format!(
            "trent init-domain-key --config {} --region {region}",
            file.display()
        ),
        None => format!("trent init-domain-key --region {region}"),
    }
}

/// A configured region's token holds no domain key and the store names
/// none: start-up stops, and the message says why and what to do.
#[derive(Debug, thiserror::Error)]
#[error(
    "region {region}: {cause}, and the store names no domain key for the region. Trent creates \
     a domain key only on a token it provisions itself (dev mode). If this token is new and \
     this is the region's first node, create its domain key with `{command}` (add \
     --shareable if other nodes are to join the region) and start again. If it held one \
     before, the token was reset or replaced: every key of region {region} is wrapped under \
     the lost domain key, so restore the token from its backup instead."
)]
struct MissingDomainKey {
    region: String,
    cause: HsmError,
    command: String,
}

fn serve(config_file: Option<&Path>) -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::load(config_file)?;
    init_logging(config.log_format);
    config.check_listen()?;
    match trent::connection_limit::raise_open_files_limit() {
        Ok(open_files) => tracing::info!(
            open_files,
            max_connections = config.max_connections,
            "limits on open files and client connections"
        ),
        Err(e) => tracing::warn!(error = %e, "cannot raise the limit on open files"),
    }
    // Tokens are opened before the runtime starts any thread.
    let state = trent::server::open(&config).map_err(|e| -> Box<dyn std::error::Error> {
        match e {
            StartError::Hsm(region, cause @ HsmError::NoDomainKey(..)) => {
                Box::new(MissingDomainKey {
                    command: init_command(config_file, &region),
                    region,
                    cause,
                })
            }
            e => Box::new(e),
        }
    })?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = std::net::TcpListener::bind(config.listen)?;
    let addr = listener.local_addr()?;
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let serving = state.clone();
    runtime.block_on(async {
        println!("trent listening on {scheme}://{addr}");
        tracing::info!(%addr, regions = ?state.kms.region_names(), "serving");
        trent::server::run(
            serving,
            listener,
            config.tls.as_ref(),
            Duration::from_secs(config.job_interval_secs.max(1)),
        )
        .await
    })?;
    // The background jobs stop here; a blocking call still running is left
    // to finish, and closing the tokens waits for its token call.
    runtime.shutdown_timeout(RUNTIME_STOP);
    trent::server::shut_down(&state)?;
    tracing::info!("stopped");
    Ok(())
}

/// How long a shutdown waits for the runtime's tasks to stop.
const RUNTIME_STOP: Duration = Duration::from_secs(1);
