//! The `trent` command.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
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
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TRENT_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
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
    }
}

fn serve(config_file: Option<PathBuf>) -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::load(config_file.as_deref())?;
    // Tokens are opened before the runtime starts any thread.
    let state = trent::server::open(&config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        println!("trent listening on http://{addr}");
        tracing::info!(%addr, regions = ?state.kms.region_names(), "serving");
        trent::server::run(
            state,
            listener,
            Duration::from_secs(config.job_interval_secs.max(1)),
        )
        .await
    })?;
    Ok(())
}
