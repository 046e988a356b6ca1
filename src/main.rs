//! The `trent` command.

use clap::{Parser, Subcommand};

/// mimalloc: the request path allocates many small, short-lived buffers,
/// which glibc malloc served at about a sixth of the server's CPU time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use trent::audit::{self, Verification};
use trent::config::{Config, ConfigError};
use trent::hsm::{DomainKeyInit, HsmError, Modules};
use trent::provision::{self, ProvisionError};
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
    /// Create the domain key on a configured region's token (once, before
    /// the first `serve`). Dev-mode tokens get theirs when `serve` creates them.
    InitDomainKey {
        /// Configuration file (default: ./trent.toml if present).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The region whose token gets the domain key.
        #[arg(long)]
        region: String,
    },
    /// Inspect audit logs.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
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

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TRENT_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    // A panic is logged like any event, so inside a request it carries the
    // request's id (the operation's panics are caught and audited).
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(ToString::to_string).unwrap_or_default();
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(not text)");
        tracing::error!(%location, message, "panic");
    }));
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config } => match serve(config.as_deref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("trent: {e}");
                ExitCode::FAILURE
            }
        },
        Command::InitDomainKey { config, region } => {
            match init_domain_key(config.as_deref(), &region) {
                Ok(message) => {
                    println!("{message}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("trent: {e}");
                    ExitCode::FAILURE
                }
            }
        }
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
        }) => {
            println!(
                "{prefix}OK: {lines} lines, chain intact, written by {}",
                nodes_named(&nodes)
            );
            0
        }
        Ok(Verification {
            broken: Some(broken),
            ..
        }) => {
            println!("{prefix}BROKEN at line {}: {}", broken.line, broken.reason);
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

/// Why `trent init-domain-key` failed.
#[derive(Debug, thiserror::Error)]
enum InitDomainKeyError {
    /// Dev mode: `serve` creates its tokens and their domain keys itself.
    #[error(
        "no regions are configured (dev mode): `trent serve` creates the dev-mode tokens \
         and their domain keys itself"
    )]
    DevMode,
    /// The region is not among the configured ones.
    #[error("region {0} is not configured (configured: {1})")]
    UnknownRegion(String, String),
    /// The configuration could not be read.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A PIN or the data directory could not be prepared.
    #[error(transparent)]
    Provision(#[from] ProvisionError),
    /// The token could not be opened or the key not be created.
    #[error("region {0}: {1}")]
    Hsm(String, HsmError),
}

/// A configured region's token holds no domain key: start-up stops, and the
/// message says why and what to do.
#[derive(Debug, thiserror::Error)]
#[error(
    "region {region}: {cause}. Trent creates a domain key only on a token it provisions \
     itself (dev mode). If this token is new, create its domain key with `{command}` and \
     start again. If it held one before, the token was reset or replaced: every key of \
     region {region} is wrapped under the lost domain key, so restore the token from its \
     backup instead."
)]
struct MissingDomainKey {
    region: String,
    cause: HsmError,
    command: String,
}

/// Creates the domain key on a configured region's token; returns what was done.
fn init_domain_key(config_file: Option<&Path>, region: &str) -> Result<String, InitDomainKeyError> {
    let config = Config::load(config_file)?;
    if config.dev_mode() {
        return Err(InitDomainKeyError::DevMode);
    }
    let plan = provision::prepare(&config)?
        .plans
        .into_iter()
        .find(|plan| plan.name == region)
        .ok_or_else(|| {
            InitDomainKeyError::UnknownRegion(region.into(), config.region_names().join(", "))
        })?;
    let failed = |e| InitDomainKeyError::Hsm(region.into(), e);
    let module = Modules::new(0)
        .load(&plan.module, plan.softhsm_conf.as_deref())
        .map_err(failed)?;
    let outcome = module
        .init_domain_key(&plan.token_label, &plan.pin)
        .map_err(failed)?;
    let label = &plan.token_label;
    Ok(match outcome {
        DomainKeyInit::Created => {
            format!("region {region}: created the domain key on token {label:?}")
        }
        DomainKeyInit::AlreadyPresent => {
            format!("region {region}: token {label:?} already holds a domain key; nothing changed")
        }
    })
}

fn serve(config_file: Option<&Path>) -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::load(config_file)?;
    config.check_listen()?;
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
    runtime.block_on(async {
        println!("trent listening on {scheme}://{addr}");
        tracing::info!(%addr, regions = ?state.kms.region_names(), "serving");
        trent::server::run(
            state,
            listener,
            config.tls.as_ref(),
            Duration::from_secs(config.job_interval_secs.max(1)),
        )
        .await
    })?;
    Ok(())
}
