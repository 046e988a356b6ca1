//! Dev mode: everything a fresh data directory needs on first start — a
//! SoftHSM configuration, token PINs and client credentials — and the
//! regions provisioned later, on first use ([`DevProvisioner`]). Token
//! creation itself happens when the HSM layer opens a region whose token is
//! missing.

use crate::api::huawei::Projects;
use crate::config::{Config, ConfigError, PinSource};
use crate::dir_lock::{DirLock, LockMode};
use crate::hsm::{CacheBudget, DomainKeySharing, Hsm, Module, TokenSpec};
use crate::kms::enrolment::{self, EnrolmentError, Settle, Settled, WithoutDomainKey};
use crate::kms::row_tags;
use crate::kms::{EnrolmentRecord, KmsError, KmsResult, OfferTrust, Provisioner};
use crate::store::Store;
use secrecy::SecretString;
use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The longest a request waits for a region that dev mode provisions on
/// first use while this node enrols into it: the members of a dev-mode
/// cluster answer within a job interval or two.
const ON_DEMAND_ENROLMENT_WAIT: Duration = Duration::from_secs(30);

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

/// How a node opens its regions' tokens: as which node, and with what
/// patience for enrolment.
#[derive(Clone)]
pub struct Opening {
    /// This node's id.
    pub node_id: String,
    /// How long to wait for a member to answer an enrolment offer.
    pub enrolment_wait: Duration,
    /// Worker sessions per token.
    pub sessions: usize,
    /// How many unwrapped keys the tokens of every region cache together.
    pub cache_budget: Arc<CacheBudget>,
}

impl RegionPlan {
    /// Opens the region's token through `module` (provisioning it in dev
    /// mode when missing), first settling its domain key with the store
    /// (verified, created and named, or brought by enrolment: see
    /// [`enrolment`]). Dev mode creates a shareable domain key when the
    /// store names none; a configured token must hold its own (`trent
    /// init-domain-key`) or enrol. `while_waiting` runs while the node
    /// waits for the answer to an enrolment offer.
    pub fn open(
        &self,
        module: Arc<Module>,
        store: &Store,
        opening: &Opening,
        while_waiting: &dyn Fn(),
    ) -> Result<Hsm, EnrolmentError> {
        let failed = |e| EnrolmentError::Hsm(self.name.clone(), e);
        let spec = TokenSpec {
            module: self.module.display().to_string(),
            label: &self.token_label,
            pin: &self.pin,
            provision_so_pin: self.provision_so_pin.as_ref(),
            sessions: opening.sessions,
            cache_budget: Arc::clone(&opening.cache_budget),
        };
        let without = match self.provision_so_pin {
            Some(_) => WithoutDomainKey::Create(DomainKeySharing::Shareable),
            None => WithoutDomainKey::Refuse,
        };
        {
            let mut setup = module.domain_key_setup(&spec).map_err(failed)?;
            let settled = enrolment::settle_domain_key(
                store,
                &mut setup,
                &Settle {
                    region: &self.name,
                    node_id: &opening.node_id,
                    without,
                    wait: opening.enrolment_wait,
                    while_waiting,
                },
            )?;
            if settled != Settled::Verified {
                tracing::info!(region = %self.name, ?settled, "region's domain key settled");
            }
        }
        let hsm = Hsm::open(module, spec).map_err(failed)?;
        row_tags::adopt_row_tags(store, &hsm, &self.name)?;
        Ok(hsm)
    }
}

/// What start-up opens: every region's plan and, in dev mode, where
/// regions provisioned later go.
pub struct Prepared {
    /// How to open each region hosted from the start.
    pub plans: Vec<RegionPlan>,
    /// Dev mode's tokens; `None` with explicit `[[regions]]`.
    pub dev: Option<DevTokens>,
    /// This node's id: `node_id` from the configuration, else the one kept in
    /// `<data_dir>/node-id` (made on first start).
    pub node_id: String,
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
    /// A data directory or secret file that another user owns or may
    /// write: whoever can could plant PINs, credentials or a SoftHSM
    /// configuration of their own.
    #[error(
        "{0}: {1}; Trent uses a data directory, token and secrets directories and secret \
         files only when its own user owns them and no one else may write them (chown them to \
         this user, chmod go-w)"
    )]
    Unguarded(String, &'static str),
    /// A node id that is not 1–64 letters, digits, `.`, `_` or `-`.
    #[error("node id {0:?} must be 1-64 letters, digits, '.', '_' or '-'")]
    NodeId(String),
}

/// Creates the data directory and, in dev mode, its SoftHSM configuration,
/// PIN files and credentials file; returns how to open every region hosted
/// from the start.
pub fn prepare(config: &Config) -> Result<Prepared, ProvisionError> {
    create_private_dir(&config.data_dir)?;
    guarded(&config.data_dir)?;
    write_credentials_if_missing(&config.data_dir.join("credentials"))?;
    let node_id = node_id(config)?;
    if !config.dev_mode() {
        let plans = config
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
            .collect::<Result<_, ProvisionError>>()?;
        return Ok(Prepared {
            plans,
            dev: None,
            node_id,
        });
    }
    let dev = DevTokens::prepare(config)?;
    let plans = dev
        .start_regions(config)?
        .iter()
        .map(|name| dev.plan(name))
        .collect::<Result<_, _>>()?;
    Ok(Prepared {
        plans,
        node_id,
        dev: Some(dev),
    })
}

impl Prepared {
    /// Dev mode: hosts from the start every region of `names` (the regions
    /// whose domain key the cluster's store names) too, so that a node
    /// joining a dev-mode cluster enrols into each of them at start-up.
    pub fn add_cluster_regions(&mut self, names: &[String]) -> Result<(), ProvisionError> {
        let Some(dev) = &self.dev else {
            return Ok(());
        };
        for name in names {
            if !self.plans.iter().any(|plan| &plan.name == name) {
                self.plans.push(dev.plan(name)?);
            }
        }
        Ok(())
    }
}

/// Dev mode's tokens: one SoftHSM module and, in the data directory, its
/// configuration (`softhsm2.conf`), token directory (`tokens/`) and the PIN
/// files of every region (`secrets/<region>.pin`, `.so-pin`).
pub struct DevTokens {
    module: PathBuf,
    conf: PathBuf,
    data_dir: PathBuf,
    secrets_dir: PathBuf,
}

impl DevTokens {
    /// Creates the token and secrets directories and the SoftHSM
    /// configuration when missing.
    fn prepare(config: &Config) -> Result<Self, ProvisionError> {
        let data_dir = absolute(&config.data_dir)?;
        let token_dir = data_dir.join("tokens");
        let secrets_dir = data_dir.join("secrets");
        create_private_dir(&token_dir)?;
        create_private_dir(&secrets_dir)?;
        guarded(&token_dir)?;
        guarded(&secrets_dir)?;
        let conf = data_dir.join("softhsm2.conf");
        let text = SOFTHSM_TEMPLATE.replace("@TOKENDIR@", &token_dir.to_string_lossy());
        if conf.exists() {
            guarded(&conf)?;
            bring_up_to_date(&conf, &text)?;
        } else {
            write_private(&conf, &text)?;
        }
        Ok(Self {
            module: config.softhsm_module.clone(),
            conf,
            data_dir,
            secrets_dir,
        })
    }

    /// The SoftHSM module of every dev-mode token.
    pub fn module(&self) -> &Path {
        &self.module
    }

    /// The `SOFTHSM2_CONF` the module is initialised with.
    pub fn softhsm_conf(&self) -> &Path {
        &self.conf
    }

    /// The regions hosted from the start: `dev_regions`, the default
    /// region, and every region an earlier run provisioned (it has PIN
    /// files), each once.
    fn start_regions(&self, config: &Config) -> Result<BTreeSet<String>, ProvisionError> {
        let io = |e| ProvisionError::Io(self.secrets_dir.display().to_string(), e);
        let mut names = config.dev_start_regions();
        for entry in fs::read_dir(&self.secrets_dir).map_err(io)? {
            let file = entry.map_err(io)?.file_name();
            if let Some(name) = file.to_string_lossy().strip_suffix(".pin") {
                names.insert(name.to_string());
            }
        }
        Ok(names)
    }

    /// How to open region `name`'s token (`trent-<name>`), creating its
    /// random user and SO PIN files first when missing. The token itself is
    /// created when it is opened.
    fn plan(&self, name: &str) -> Result<RegionPlan, ProvisionError> {
        let pin_file = self.secrets_dir.join(format!("{name}.pin"));
        let so_pin_file = self.secrets_dir.join(format!("{name}.so-pin"));
        ensure_secret_file(&so_pin_file, 16)?;
        // The user PIN file last: its presence marks a region to open at
        // the next start.
        ensure_secret_file(&pin_file, 16)?;
        let source = |path: PathBuf| PinSource {
            pin_file: Some(path),
            ..PinSource::default()
        };
        Ok(RegionPlan {
            name: name.to_string(),
            module: self.module.clone(),
            token_label: format!("trent-{name}"),
            pin: source(pin_file).resolve(name)?,
            provision_so_pin: Some(source(so_pin_file).resolve(name)?),
            softhsm_conf: Some(self.conf.clone()),
        })
    }
}

/// Dev mode's provisioning of a region on first use, for the core: the
/// region's PIN files, its Huawei project (when the projects are
/// generated), then its token, whose domain key is settled with the store
/// as at start-up: a new one when the store names none, else the cluster's,
/// received by enrolment (waiting at most [`ON_DEMAND_ENROLMENT_WAIT`]).
/// Each step takes up what an earlier, interrupted attempt left. It holds
/// the data directory's lock (shared) throughout, so a backup copies the
/// region whole or not at all (see `crate::dir_lock`).
pub struct DevProvisioner {
    /// Where the tokens and PIN files go.
    pub tokens: DevTokens,
    /// The module of [`DevTokens::module`], initialised.
    pub module: Arc<Module>,
    /// How tokens are opened.
    pub opening: Opening,
    /// The Huawei dialect's projects, which gain one for the region.
    pub projects: Arc<Projects>,
}

impl Provisioner for DevProvisioner {
    fn provision(&self, region: &str, store: &Store) -> KmsResult<Hsm> {
        let failed = |what: &str, e: &dyn std::fmt::Display| {
            KmsError::Internal(format!("provisioning region {region}: {what}: {e}"))
        };
        let _backup_waits = DirLock::take(&self.tokens.data_dir, LockMode::Shared)
            .map_err(|e| failed("data directory lock", &e))?;
        let plan = self
            .tokens
            .plan(region)
            .map_err(|e| failed("PIN files", &e))?;
        self.projects
            .add_dev_region(region)
            .map_err(|e| failed("Huawei project", &e))?;
        let opening = Opening {
            enrolment_wait: self.opening.enrolment_wait.min(ON_DEMAND_ENROLMENT_WAIT),
            ..self.opening.clone()
        };
        // The background jobs answer other nodes' offers meanwhile.
        match plan.open(self.module.clone(), store, &opening, &|| {}) {
            Ok(hsm) => Ok(hsm),
            Err(
                e @ (EnrolmentError::Unanswered { .. } | EnrolmentError::DifferentDomainKey { .. }),
            ) => Err(KmsError::UnrecognizedRegion(format!(
                "Region '{region}' is not hosted here yet: it belongs to this node's \
                     cluster, and this node could not receive its domain key: {e}"
            ))),
            Err(e) => Err(failed("token", &e)),
        }
    }
}

/// Dev mode's SO step of approving an enrolment offer ([`OfferTrust`]):
/// `trent cluster trust-offer` run as a child process (the token refuses
/// the SO login in the serving process, where the user is logged in), with
/// the SO PIN Trent keeps in `<data_dir>/secrets/<region>.so-pin`, under
/// the data directory's lock (shared), as it changes the token.
pub struct DevOfferTrust {
    /// The SoftHSM module of the dev-mode tokens.
    pub module: PathBuf,
    /// Its `SOFTHSM2_CONF`.
    pub conf: PathBuf,
    /// The data directory, whose lock the SO step holds.
    pub data_dir: PathBuf,
    /// Where the PIN files are.
    pub secrets_dir: PathBuf,
}

impl DevTokens {
    /// The SO step of this node's dev-mode tokens.
    pub fn offer_trust(&self) -> DevOfferTrust {
        DevOfferTrust {
            module: self.module.clone(),
            conf: self.conf.clone(),
            data_dir: self.data_dir.clone(),
            secrets_dir: self.secrets_dir.clone(),
        }
    }
}

impl OfferTrust for DevOfferTrust {
    fn trust(&self, region: &str, offer: &EnrolmentRecord) -> Result<(), String> {
        use std::process::{Command, Stdio};
        let _backup_waits = DirLock::take(&self.data_dir, LockMode::Shared)
            .map_err(|e| format!("data directory lock: {e}"))?;
        let exe = std::env::current_exe().map_err(|e| format!("this program's path: {e}"))?;
        let mut child = Command::new(exe)
            .args(["cluster", "trust-offer", "--module"])
            .arg(&self.module)
            .arg("--softhsm-conf")
            .arg(&self.conf)
            .args(["--token-label", &format!("trent-{region}")])
            .args(["--node", &offer.node_id])
            .arg("--so-pin-file")
            .arg(self.secrets_dir.join(format!("{region}.so-pin")))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run trent cluster trust-offer: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(hex::encode(&offer.public_key).as_bytes())
                .map_err(|e| format!("cannot hand the offer to trent cluster trust-offer: {e}"))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("trent cluster trust-offer: {e}"))?;
        match out.status.success() {
            true => Ok(()),
            false => Err(format!(
                "trent cluster trust-offer {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )),
        }
    }
}

/// Refuses `path` unless this process's user owns it and neither its group
/// nor others may write it.
fn guarded(path: &Path) -> Result<(), ProvisionError> {
    let name = || path.display().to_string();
    let meta = fs::metadata(path).map_err(|e| ProvisionError::Io(name(), e))?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    if meta.uid() != unsafe { libc::geteuid() } {
        return Err(ProvisionError::Unguarded(name(), "another user owns it"));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(ProvisionError::Unguarded(
            name(),
            "its group or others may write it",
        ));
    }
    Ok(())
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

/// Replaces the SoftHSM configuration at `path` with `current` when an
/// earlier Trent wrote it: when every line of it is a line of `current`
/// (earlier templates had fewer settings, e.g. no `slots.mechanisms`). A
/// file with a line of its own was edited by hand and is left as it is.
fn bring_up_to_date(path: &Path, current: &str) -> Result<(), ProvisionError> {
    let io = |e| ProvisionError::Io(path.display().to_string(), e);
    let existing = fs::read_to_string(path).map_err(io)?;
    let ours = existing
        .lines()
        .all(|line| current.lines().any(|l| l == line));
    if !ours || existing == current {
        return Ok(());
    }
    let fresh = path.with_extension("conf.new");
    let _ = fs::remove_file(&fresh);
    write_private(&fresh, current)?;
    fs::rename(&fresh, path).map_err(io)?;
    tracing::info!(path = %path.display(), "brought the dev-mode SoftHSM configuration up to date");
    Ok(())
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
        return guarded(path);
    }
    write_private(path, &hex::encode(random(random_bytes)))
}

fn write_credentials_if_missing(path: &Path) -> Result<(), ProvisionError> {
    if path.exists() {
        return guarded(path);
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

/// The configured node id, else the one in `<data_dir>/node-id`, written
/// there on first start (`node-` and 8 random hex digits).
fn node_id(config: &Config) -> Result<String, ProvisionError> {
    let path = config.data_dir.join("node-id");
    let id = match &config.node_id {
        Some(id) => id.clone(),
        None if path.exists() => std::fs::read_to_string(&path)
            .map_err(|e| ProvisionError::Io(path.display().to_string(), e))?
            .trim()
            .to_string(),
        None => {
            let id = format!("node-{}", hex::encode(random(4)));
            write_private(&path, &format!("{id}\n"))?;
            id
        }
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if id.is_empty() || id.len() > 64 || !id.chars().all(allowed) {
        return Err(ProvisionError::NodeId(id));
    }
    Ok(id)
}

fn random(len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    getrandom::fill(&mut buf).expect("operating system random source");
    buf
}

#[cfg(test)]
mod tests {
    use super::{SOFTHSM_TEMPLATE, bring_up_to_date};
    use std::fs;

    #[test]
    fn an_earlier_template_is_brought_up_to_date_and_a_hand_edited_one_is_not() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let current = SOFTHSM_TEMPLATE.replace("@TOKENDIR@", "/data/tokens");
        let earlier: String = current
            .lines()
            .take_while(|line| !line.starts_with("# Only the mechanisms"))
            .map(|line| format!("{line}\n"))
            .collect();
        assert!(!earlier.contains("slots.mechanisms"), "{earlier}");

        let old = dir.path().join("old.conf");
        fs::write(&old, &earlier).expect("write");
        bring_up_to_date(&old, &current).expect("upgrade");
        assert_eq!(fs::read_to_string(&old).expect("read"), current);

        let edited = dir.path().join("edited.conf");
        let text = format!("{earlier}log.level = DEBUG\n");
        fs::write(&edited, &text).expect("write");
        bring_up_to_date(&edited, &current).expect("left alone");
        assert_eq!(fs::read_to_string(&edited).expect("read"), text);
    }
}
