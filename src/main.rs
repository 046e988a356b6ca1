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
use trent::config::Config;

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
    /// Inspect audit logs.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check that an audit log's hash chain is intact (exit 1 when it is not).
    Verify {
        /// The audit log file.
        file: PathBuf,
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
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config } => match serve(config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("trent: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Audit {
            command: AuditCommand::Verify { file },
        } => verify_audit_log(&file),
    }
}

/// Prints whether the chain holds: exit 0 when intact, 1 when broken, 2 when
/// the file cannot be read.
fn verify_audit_log(file: &Path) -> ExitCode {
    match audit::verify(file) {
        Ok(Verification {
            lines,
            broken: None,
        }) => {
            println!("OK: {lines} lines, chain intact");
            ExitCode::SUCCESS
        }
        Ok(Verification {
            broken: Some(broken),
            ..
        }) => {
            println!("BROKEN at line {}: {}", broken.line, broken.reason);
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("trent: {e}");
            ExitCode::from(2)
        }
    }
}

fn serve(config_file: Option<PathBuf>) -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::load(config_file.as_deref())?;
    config.check_listen()?;
    // Tokens are opened before the runtime starts any thread.
    let state = trent::server::open(&config)?;
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
