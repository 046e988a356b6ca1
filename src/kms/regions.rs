//! The hosted regions and their tokens.
//!
//! With `[[regions]]` configured, the set is fixed at start-up. In dev mode
//! it grows: the first request addressed to a region that is not hosted yet
//! but has a name of AWS's form (`eu-central-1`) has the region provisioned
//! by the [`Provisioner`] the server supplies, once however many requests
//! race. Requests read the set without a lock (an `ArcSwap` load); only
//! provisioning replaces it.

use super::{KmsError, KmsResult};
use crate::hsm::Hsm;
use crate::store::Store;
use arc_swap::ArcSwap;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Longest region name provisioned on demand, so that its dev-mode token
/// label, `trent-<region>`, fits the 32 characters of a PKCS#11 label.
pub const MAX_REGION_NAME: usize = 26;

/// Makes a region hostable from now on: its token, opened, and whatever
/// else the deployment keeps per region. Dev mode only.
pub trait Provisioner: Send + Sync {
    /// Provisions `region` (or takes up what an earlier attempt or start
    /// left of it) and returns its opened token, whose domain key is the
    /// one `store` names for the region (created and named now if none is).
    fn provision(&self, region: &str, store: &Store) -> KmsResult<Hsm>;
}

/// True for a region name of AWS's form, `<area>-<word>[-<word>...]-<number>`
/// in lowercase ASCII with an area of two to four letters: `us-east-1`,
/// `eu-central-1`, `ap-southeast-2`, `us-gov-west-1`, `cn-north-1`,
/// `eusc-de-east-1`. At most [`MAX_REGION_NAME`] characters.
pub fn is_region_name(name: &str) -> bool {
    let letters = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase());
    let parts: Vec<&str> = name.split('-').collect();
    match parts.as_slice() {
        [area, words @ .., number] if !words.is_empty() && name.len() <= MAX_REGION_NAME => {
            (2..=4).contains(&area.len())
                && letters(area)
                && words.iter().all(|w| letters(w))
                && !number.is_empty()
                && number.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    }
}

/// The hosted regions' tokens by region name, and in dev mode the means to
/// add one.
pub(super) struct Regions {
    hosted: ArcSwap<BTreeMap<String, Arc<Hsm>>>,
    provisioner: Option<Box<dyn Provisioner>>,
    /// Held while a region is provisioned: one at a time, each once.
    provisioning: Mutex<()>,
}

impl Regions {
    /// The regions opened at start-up; with a provisioner (dev mode), more
    /// are added on first use.
    pub(super) fn new(
        hosted: BTreeMap<String, Arc<Hsm>>,
        provisioner: Option<Box<dyn Provisioner>>,
    ) -> Self {
        Self {
            hosted: ArcSwap::from_pointee(hosted),
            provisioner,
            provisioning: Mutex::new(()),
        }
    }

    /// The token of a hosted region.
    pub(super) fn get(&self, region: &str) -> Option<Arc<Hsm>> {
        self.hosted.load().get(region).cloned()
    }

    /// True when `region` is hosted now.
    pub(super) fn hosts(&self, region: &str) -> bool {
        self.hosted.load().contains_key(region)
    }

    /// Names of the regions hosted now.
    pub(super) fn names(&self) -> Vec<String> {
        self.hosted.load().keys().cloned().collect()
    }

    /// Every region hosted now, with its token.
    pub(super) fn all(&self) -> Arc<BTreeMap<String, Arc<Hsm>>> {
        self.hosted.load_full()
    }

    /// Succeeds when `region` is hosted or would be provisioned on first
    /// use; otherwise [`KmsError::UnrecognizedRegion`] says why.
    pub(super) fn check(&self, region: &str) -> KmsResult<()> {
        if self.hosts(region) || self.provisions(region) {
            return Ok(());
        }
        Err(self.refusal(region))
    }

    /// Makes sure `region` is hosted, provisioning it first when it is not
    /// yet and dev mode takes its name (its domain key settled with
    /// `store`). Of several requests racing for a new region, one
    /// provisions it and the others wait for it.
    pub(super) fn ensure(&self, region: &str, store: &Store) -> KmsResult<()> {
        if self.hosts(region) {
            return Ok(());
        }
        let Some(provisioner) = self
            .provisioner
            .as_deref()
            .filter(|_| is_region_name(region))
        else {
            return Err(self.refusal(region));
        };
        let _one_at_a_time = self.provisioning.lock().unwrap_or_else(|e| e.into_inner());
        if self.hosts(region) {
            return Ok(());
        }
        let started = Instant::now();
        let hsm = Arc::new(provisioner.provision(region, store)?);
        // Only the holder of `provisioning` replaces the map, so no other
        // addition can be lost between this load and the store.
        let mut hosted = BTreeMap::clone(&self.hosted.load());
        hosted.insert(region.to_string(), hsm);
        self.hosted.store(Arc::new(hosted));
        tracing::info!(
            region,
            millis = started.elapsed().as_millis() as u64,
            "region provisioned on first use"
        );
        Ok(())
    }

    /// True when dev mode would provision `region` on first use.
    fn provisions(&self, region: &str) -> bool {
        self.provisioner.is_some() && is_region_name(region)
    }

    /// Why `region` is not served: the hosted regions, and how to get
    /// another one.
    fn refusal(&self, region: &str) -> KmsError {
        let how = match self.provisioner {
            None => "To host another region, add a [[regions]] entry for it to the \
                     configuration file."
                .to_string(),
            Some(_) => format!(
                "Dev mode (no [[regions]] configured) provisions a region on first use when \
                 its name has AWS's form, like eu-central-1, in at most {MAX_REGION_NAME} \
                 characters."
            ),
        };
        KmsError::UnrecognizedRegion(format!(
            "Region '{region}' is not hosted here (hosted regions: {}). {how}",
            self.names().join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names_of_aws_form_are_recognised() {
        for name in [
            "us-east-1",
            "eu-central-1",
            "ap-southeast-2",
            "us-gov-west-1",
            "cn-north-1",
            "us-isob-east-1",
            "eusc-de-east-1",
            "il-central-1",
        ] {
            assert!(is_region_name(name), "{name}");
        }
        for name in [
            "",
            "us",
            "us-1",
            "east-1",
            "u-east-1",
            "abcde-east-1",
            "US-EAST-1",
            "us-east-",
            "us-east-1a",
            "us--east-1",
            "us-east-1-",
            "us_east_1",
            "us-east-1/../x",
            "local",
            "us-eastttttttttttttttttttt-1",
        ] {
            assert!(!is_region_name(name), "{name}");
        }
    }
}
