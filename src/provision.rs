//! Dev mode: everything a fresh data directory needs on first start — a
//! SoftHSM configuration, token PINs and client credentials. Token creation
//! itself happens when the HSM layer opens a region whose token is missing.

use crate::config::{Config, ConfigError, PinSource};
use secrecy::SecretString;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// SoftHSM configuration template shipped in `hsm/`.
const SOFTHSM_TEMPLATE: &str = include_str!("../hsm/softhsm2.conf.template");

/// Everything needed to open one region's token.
pub struct RegionPlan {
    /// Region name.
    pub name: String,
    /// PKCS#11 module path.
    pub module: PathBuf,
    /// Token label.
    pub token_label: String,
    /// User PIN.
    pub pin: SecretString,
    /// SO PIN, in dev mode only: the token may then be created on first
    /// start, and its domain key with it. A configured token must exist and
    /// hold its domain key (`trent init-domain-key` creates it).
    pub provision_so_pin: Option<SecretString>,
    /// `SOFTHSM2_CONF` to export before initialising the module.
    pub softhsm_conf: Option<PathBuf>,
}

/// Errors while preparing the data directory.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// A file or directory could not be created or read.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    /// A PIN could not be resolved.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// Creates the data directory and, in dev mode, its SoftHSM configuration,
/// PIN files and credentials file; returns how to open every region.
pub fn prepare(config: &Config) -> Result<Vec<RegionPlan>, ProvisionError> {
    create_private_dir(&config.data_dir)?;
    write_credentials_if_missing(&config.data_dir.join("credentials"))?;
    if !config.dev_mode() {
        return config
            .regions
            .iter()
            .map(|r| {
                Ok(RegionPlan {
                    name: r.name.clone(),
                    module: r.module.clone(),
                    token_label: r.token_label.clone(),
                    pin: r.pin.resolve(&r.name)?,
                    provision_so_pin: None,
                    softhsm_conf: r.softhsm_conf.clone(),
                })
            })
            .collect();
    }
    let data_dir = absolute(&config.data_dir)?;
    let token_dir = data_dir.join("tokens");
    let secrets_dir = data_dir.join("secrets");
    create_private_dir(&token_dir)?;
    create_private_dir(&secrets_dir)?;
    let conf = data_dir.join("softhsm2.conf");
    if !conf.exists() {
        let text = SOFTHSM_TEMPLATE.replace("@TOKENDIR@", &token_dir.to_string_lossy());
        write_private(&conf, &text)?;
    }
    config
        .dev_regions
        .iter()
        .map(|name| {
            let pin_file = secrets_dir.join(format!("{name}.pin"));
            let so_pin_file = secrets_dir.join(format!("{name}.so-pin"));
            ensure_secret_file(&pin_file, 16)?;
            ensure_secret_file(&so_pin_file, 16)?;
            let source = |path: PathBuf| PinSource {
                pin_file: Some(path),
                ..PinSource::default()
            };
            Ok(RegionPlan {
                name: name.clone(),
                module: config.softhsm_module.clone(),
                token_label: format!("trent-{name}"),
                pin: source(pin_file).resolve(name)?,
                provision_so_pin: Some(source(so_pin_file).resolve(name)?),
                softhsm_conf: Some(conf.clone()),
            })
        })
        .collect()
}

fn absolute(path: &Path) -> Result<PathBuf, ProvisionError> {
    std::path::absolute(path).map_err(|e| ProvisionError::Io(path.display().to_string(), e))
}

fn create_private_dir(path: &Path) -> Result<(), ProvisionError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| ProvisionError::Io(path.display().to_string(), e))
}

fn write_private(path: &Path, contents: &str) -> Result<(), ProvisionError> {
    let io = |e| ProvisionError::Io(path.display().to_string(), e);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    file.write_all(contents.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

fn ensure_secret_file(path: &Path, random_bytes: usize) -> Result<(), ProvisionError> {
    if path.exists() {
        return Ok(());
    }
    write_private(path, &hex::encode(random(random_bytes)))
}

fn write_credentials_if_missing(path: &Path) -> Result<(), ProvisionError> {
    if path.exists() {
        return Ok(());
    }
    const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let key_id: String = random(16)
        .iter()
        .map(|b| BASE32[(*b as usize) % 32] as char)
        .collect();
    use base64::Engine;
    let secret = base64::engine::general_purpose::STANDARD.encode(random(30));
    let text =
        format!("[default]\naws_access_key_id = AKIA{key_id}\naws_secret_access_key = {secret}\n");
    write_private(path, &text)
}

fn random(len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    getrandom::fill(&mut buf).expect("operating system random source");
    buf
}
