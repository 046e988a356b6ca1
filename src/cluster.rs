//! The operator's commands for domain keys and clusters (ADR 0016):
//! `trent init-domain-key`, `trent cluster offers`, `trent cluster approve`,
//! and `trent cluster trust-offer`, the SO's step that a dev-mode member
//! runs as a child process (the token refuses the SO login in a process
//! where the user is logged in).

use crate::config::{Config, ConfigError};
use crate::hsm::{
    CacheBudget, DomainKeySharing, HsmError, Module, Modules, TokenSpec, offer_fingerprint,
};
use crate::kms::EnrolmentRecord;
use crate::kms::enrolment::{self, EnrolmentError, Settle, Settled, WithoutDomainKey};
use crate::provision::{self, ProvisionError, RegionPlan};
use crate::store::{Store, StoreError, StoreLocation};
use secrecy::SecretString;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Dev mode: Trent makes and shares its tokens' domain keys itself.
    #[error(
        "no regions are configured (dev mode): `trent serve` creates the dev-mode tokens and \
         their domain keys, and dev-mode members approve joining nodes themselves"
    )]
    DevMode,
    /// The region is not among the configured ones.
    #[error("region {0} is not configured (configured: {1})")]
    UnknownRegion(String, String),
    /// The store names the region's domain key and the token lacks it.
    #[error(
        "region {region}: the store already names the region's domain key (claimed by node \
         {claimed_by}), and this token holds none. A second domain key would split the \
         region: this node joins by enrolment instead. Start it (`trent serve`); it posts an \
         offer and logs its fingerprint; then approve it on a member with `trent cluster \
         approve --region {region} --node <this node's id> --fingerprint <fingerprint>`"
    )]
    NamedElsewhere {
        /// The region.
        region: String,
        /// The node that named the store's domain key.
        claimed_by: String,
    },
    /// No offer from the node for the region.
    #[error("no enrolment offer from node {node} for region {region} is waiting ({open})")]
    NoOffer {
        /// The joining node.
        node: String,
        /// The region.
        region: String,
        /// The offers that are waiting, for people.
        open: String,
    },
    /// The offer's fingerprint is not the one the operator read.
    #[error(
        "refused: the offer of node {node} for region {region} has fingerprint {actual}, not \
         {given}. Approve only the offer whose fingerprint the joining node logged; a \
         different one may not be that node's"
    )]
    FingerprintMismatch {
        /// The joining node.
        node: String,
        /// The region.
        region: String,
        /// The fingerprint given.
        given: String,
        /// The offer's.
        actual: String,
    },
    /// The offer's row no longer matches itself: its public key or its
    /// fingerprint was changed in the store after the node posted it.
    #[error(
        "refused: the offer of node {node} for region {region} was altered in the store: its \
         public key's fingerprint is {computed}, but the row says {stored}. Someone who can \
         write the store may be trying to receive the domain key; approve nothing until you \
         know who changed it, and have the node post a new offer"
    )]
    OfferAltered {
        /// The joining node.
        node: String,
        /// The region.
        region: String,
        /// The fingerprint of the row's public key.
        computed: String,
        /// The row's fingerprint column.
        stored: String,
    },
    /// The offer is approved, answered or too old already.
    #[error("the offer of node {node} for region {region} {why}")]
    OfferSettled {
        /// The joining node.
        node: String,
        /// The region.
        region: String,
        /// What became of it.
        why: String,
    },
    /// The store names no domain key for the region.
    #[error("the store names no domain key for region {0}: there is nothing to enrol into yet")]
    NoClusterKey(String),
    /// The store a command reads does not exist.
    #[error(
        "no store at {0}: run this with the configuration (data_dir or store_url) of a node of \
         the cluster"
    )]
    NoStore(String),
    /// The SO PIN could not be read.
    #[error("SO PIN: {0}")]
    SoPin(String),
    /// The offer's public key was not hex (`trent cluster trust-offer`).
    #[error("the offer's public key on standard input is not hex: {0}")]
    PublicKeyHex(String),
    /// The configuration could not be read.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A PIN or the data directory could not be prepared.
    #[error(transparent)]
    Provision(#[from] ProvisionError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The token failed or refused.
    #[error("region {0}: {1}")]
    Hsm(String, HsmError),
    /// The domain key could not be settled with the store.
    #[error(transparent)]
    Enrolment(#[from] EnrolmentError),
}

/// `trent init-domain-key`: creates the domain key on a configured region's
/// token (`sharing` says whether other nodes may ever receive it) and names
/// it in the store; refuses when the store names another one already.
/// Returns what was done.
pub fn init_domain_key(
    config: &Config,
    region: &str,
    sharing: DomainKeySharing,
) -> Result<String, CommandError> {
    let (plan, node_id) = configured_region(config, region)?;
    let store = open_store(config)?;
    let module = load(&plan)?;
    let spec = spec(&plan);
    let mut setup = module
        .domain_key_setup(&spec)
        .map_err(|e| CommandError::Hsm(region.into(), e))?;
    let held = setup.holds_domain_key();
    if let (false, Some(named)) = (held, store.domain_key(region)?) {
        return Err(CommandError::NamedElsewhere {
            region: region.into(),
            claimed_by: named.created_by,
        });
    }
    let settled = enrolment::settle_domain_key(
        &store,
        &mut setup,
        &Settle {
            region,
            node_id: &node_id,
            without: WithoutDomainKey::Create(sharing),
            wait: Duration::ZERO,
            while_waiting: &|| {},
        },
    )?;
    let kind = match setup.sharing() {
        Ok(Some(DomainKeySharing::Shareable)) => "shareable",
        _ => "single-node (never extractable)",
    };
    let label = &plan.token_label;
    Ok(match (held, settled) {
        (false, _) => format!(
            "region {region}: created the domain key ({kind}) on token {label:?}; the store \
             names it for the region"
        ),
        (true, Settled::Claimed) => format!(
            "region {region}: token {label:?} already held a domain key ({kind}); the store \
             names it for the region now"
        ),
        (true, _) => format!(
            "region {region}: token {label:?} already holds a domain key ({kind}), the one the \
             store names; nothing changed"
        ),
    })
}

/// `trent cluster offers`: the enrolment offers waiting for an answer, one
/// line each, with the fingerprints of their public keys (computed here,
/// not read from the store's column, which a row altered in the store
/// contradicts: such an offer is listed as altered).
pub fn list_offers(config: &Config) -> Result<String, CommandError> {
    let store = existing_store(config)?;
    let offers = store.open_offers(0)?;
    if offers.is_empty() {
        return Ok("no enrolment offer is waiting".into());
    }
    let oldest = oldest_answered(config);
    let mut out = String::from("REGION\tNODE\tFINGERPRINT\tOFFERED\tSTATE\n");
    for offer in offers {
        let fingerprint = offer_fingerprint(&offer.public_key);
        let state = match (&offer.approved_by, offer.offered_at < oldest) {
            _ if fingerprint != offer.fingerprint => {
                "ALTERED in the store (its fingerprint column is not its public key's): do not \
                 approve"
                    .to_string()
            }
            (_, true) => "expired (the node gave up waiting)".to_string(),
            (None, false) => "waiting for approval".to_string(),
            (Some(by), false) => format!("approved by {by}, waiting for its answer"),
        };
        out.push_str(&format!(
            "{}\t{}\t{fingerprint}\t{}\t{state}\n",
            offer.region,
            offer.node_id,
            rfc3339(offer.offered_at)
        ));
    }
    Ok(out.trim_end().to_string())
}

/// What `trent cluster approve` approves.
pub struct Approval<'a> {
    /// The region the node joins.
    pub region: &'a str,
    /// The joining node's id.
    pub node: &'a str,
    /// The fingerprint the joining node logged.
    pub fingerprint: &'a str,
    /// A file holding the SO PIN of this member's token for the region;
    /// without it, the PIN is read from standard input.
    pub so_pin_file: Option<&'a Path>,
}

/// `trent cluster approve`: on a member, checks that the node's offer has
/// the fingerprint the operator read (that of the public key the SO is
/// about to trust, computed here, and the row's own), has the SO of this
/// member's token trust it, and marks it approved by this member, whose server then
/// answers it. Returns what was done.
pub fn approve(config: &Config, approval: &Approval<'_>) -> Result<String, CommandError> {
    let Approval {
        region,
        node,
        fingerprint,
        ..
    } = *approval;
    let (plan, me) = configured_region(config, region)?;
    let store = existing_store(config)?;
    if store.domain_key(region)?.is_none() {
        return Err(CommandError::NoClusterKey(region.into()));
    }
    let offer = waiting_offer(config, &store, node, region)?;
    if offer.fingerprint != fingerprint.trim().to_ascii_lowercase() {
        return Err(CommandError::FingerprintMismatch {
            node: node.into(),
            region: region.into(),
            given: fingerprint.into(),
            actual: offer.fingerprint,
        });
    }
    let so_pin = read_so_pin(approval.so_pin_file, &plan.token_label)?;
    let module = load(&plan)?;
    let hsm = |e| CommandError::Hsm(region.into(), e);
    module
        .trust_offer(&plan.token_label, &so_pin, node, &offer.public_key)
        .map_err(hsm)?;
    if !store.approve_offer(node, region, &offer.fingerprint, &me)? {
        module
            .distrust_offer(&plan.token_label, &so_pin, node, &offer.public_key)
            .map_err(hsm)?;
        return Err(CommandError::OfferSettled {
            node: node.into(),
            region: region.into(),
            why: "changed while it was approved (approved elsewhere, or replaced); nothing \
                  was approved"
                .into(),
        });
    }
    Ok(format!(
        "approved the enrolment offer of node {node} for region {region} (fingerprint \
         {fingerprint}): this node ({me}) answers it with the region's domain key at its next \
         background job run, if its server is running"
    ))
}

/// `trent cluster trust-offer` (hidden; dev-mode members run it as a child
/// process): the SO's step for the offer of `node` whose public key is
/// `public_key_hex`, on the token labelled `token_label`.
pub fn trust_offer(
    module: &Path,
    softhsm_conf: Option<&Path>,
    token_label: &str,
    node: &str,
    so_pin_file: &Path,
    public_key_hex: &str,
) -> Result<(), CommandError> {
    let public_key = hex::decode(public_key_hex.trim())
        .map_err(|e| CommandError::PublicKeyHex(e.to_string()))?;
    let so_pin = read_so_pin(Some(so_pin_file), token_label)?;
    let hsm = |e| CommandError::Hsm(token_label.into(), e);
    let module = Modules::new(0)
        .load(module, softhsm_conf)
        .map(CommandModule)
        .map_err(hsm)?;
    module
        .trust_offer(token_label, &so_pin, node, &public_key)
        .map_err(hsm)
}

/// A configured region's plan and this node's id; refuses dev mode and
/// unknown regions.
fn configured_region(config: &Config, region: &str) -> Result<(RegionPlan, String), CommandError> {
    if config.dev_mode() {
        return Err(CommandError::DevMode);
    }
    let prepared = provision::prepare(config)?;
    let plan = prepared
        .plans
        .into_iter()
        .find(|plan| plan.name == region)
        .ok_or_else(|| {
            CommandError::UnknownRegion(region.into(), config.region_names().join(", "))
        })?;
    Ok((plan, prepared.node_id))
}

/// The store the configuration names (a SQLite file is created if missing).
fn open_store(config: &Config) -> Result<Store, CommandError> {
    let location = StoreLocation::from_url(
        config.store_url.as_ref(),
        config.store_ca_file.as_deref(),
        &config.data_dir,
    )?;
    Ok(Store::open(&location, 1, Duration::ZERO)?)
}

/// The store the configuration names, which must exist already.
fn existing_store(config: &Config) -> Result<Store, CommandError> {
    let location = StoreLocation::from_url(
        config.store_url.as_ref(),
        config.store_ca_file.as_deref(),
        &config.data_dir,
    )?;
    if let StoreLocation::Sqlite(path) = &location {
        if !path.exists() {
            return Err(CommandError::NoStore(path.display().to_string()));
        }
    }
    Ok(Store::open(&location, 1, Duration::ZERO)?)
}

/// The plan's module, loaded and initialised in this process.
fn load(plan: &RegionPlan) -> Result<CommandModule, CommandError> {
    Modules::new(0)
        .load(&plan.module, plan.softhsm_conf.as_deref())
        .map(CommandModule)
        .map_err(|e| CommandError::Hsm(plan.name.clone(), e))
}

/// A module loaded for one command, finalised (`C_Finalize`) when the
/// command ends, so that nothing of the library is alive when the
/// process's exit handlers tear it down.
struct CommandModule(Arc<Module>);

impl std::ops::Deref for CommandModule {
    type Target = Module;

    fn deref(&self) -> &Module {
        &self.0
    }
}

impl Drop for CommandModule {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// How to open the plan's token for a command (one session, no cache).
fn spec(plan: &RegionPlan) -> TokenSpec<'_> {
    TokenSpec {
        module: plan.module.display().to_string(),
        label: &plan.token_label,
        pin: &plan.pin,
        provision_so_pin: None,
        sessions: 1,
        cache_budget: CacheBudget::new(1),
    }
}

/// The offer of `node` for `region`, if it still waits for an approval.
fn waiting_offer(
    config: &Config,
    store: &Store,
    node: &str,
    region: &str,
) -> Result<EnrolmentRecord, CommandError> {
    let settled = |why: String| CommandError::OfferSettled {
        node: node.into(),
        region: region.into(),
        why,
    };
    let Some(offer) = store.offer(node, region)? else {
        let open: Vec<String> = store
            .open_offers(oldest_answered(config))?
            .iter()
            .map(|o| format!("node {} for {}", o.node_id, o.region))
            .collect();
        return Err(CommandError::NoOffer {
            node: node.into(),
            region: region.into(),
            open: match open.is_empty() {
                true => "none is waiting; `trent cluster offers` lists them".into(),
                false => format!("waiting: {}", open.join(", ")),
            },
        });
    };
    if offer.package.is_some() {
        return Err(settled("is answered already".into()));
    }
    if let Some(by) = &offer.approved_by {
        return Err(settled(format!("is approved already, by node {by}")));
    }
    if offer.offered_at < oldest_answered(config) {
        return Err(settled(
            "is older than enrolment_wait_secs: the node gave up waiting; start it again for \
             a new offer"
                .into(),
        ));
    }
    let computed = offer_fingerprint(&offer.public_key);
    if computed != offer.fingerprint {
        return Err(CommandError::OfferAltered {
            node: node.into(),
            region: region.into(),
            computed,
            stored: offer.fingerprint,
        });
    }
    Ok(offer)
}

/// The oldest offer time (Unix ms) members still answer.
fn oldest_answered(config: &Config) -> i64 {
    let now = crate::clock::Clock::default().now_ms();
    now - (config.enrolment_wait_secs as i64).saturating_mul(1000)
}

/// Unix ms as RFC 3339, to the second.
fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms / 1000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

/// The SO PIN from `file` (its contents, trimmed), else from standard
/// input: one line, not echoed when it is a terminal.
fn read_so_pin(file: Option<&Path>, label: &str) -> Result<SecretString, CommandError> {
    use zeroize::Zeroize;
    let mut text = match file {
        Some(file) => std::fs::read_to_string(file)
            .map_err(|e| CommandError::SoPin(format!("cannot read {}: {e}", file.display())))?,
        None => read_hidden_line(&format!("SO PIN of token {label}: "))
            .map_err(|e| CommandError::SoPin(format!("cannot read standard input: {e}")))?,
    };
    let pin = SecretString::from(text.trim().to_string());
    let empty = text.trim().is_empty();
    text.zeroize();
    match empty {
        true => Err(CommandError::SoPin("empty".into())),
        false => Ok(pin),
    }
}

/// One line of standard input; on a terminal, after `prompt` on standard
/// error and with echo off (`stty -echo`) while it is typed.
fn read_hidden_line(prompt: &str) -> std::io::Result<String> {
    use std::process::{Command, Stdio};
    let terminal = std::io::stdin().is_terminal();
    let stty = |arg: &str| {
        let _ = Command::new("stty")
            .arg(arg)
            .stdin(Stdio::inherit())
            .status();
    };
    if terminal {
        eprint!("{prompt}");
        stty("-echo");
    }
    let mut line = String::new();
    let read = std::io::stdin().read_line(&mut line);
    if terminal {
        stty("echo");
        eprintln!();
    }
    read.map(|_| line)
}
