//! Huawei projects: a project id in the path names a region and an account.
//!
//! Configured as `[huawei_projects.<project id>]` with `region` and
//! (optionally, default `account_id`) `account`. In dev mode with none
//! configured, Trent makes one project per hosted region on first start,
//! and one for each region provisioned later on first use, and writes them
//! to `<data_dir>/huawei-projects.json` as `{"<project_id>": "<region>"}`,
//! reusing that file on later starts. A made project's id is derived from
//! the account and the region, so the nodes of a cluster, each with its
//! own data directory, serve the same project ids.

use crate::config::{Config, HuaweiProject};
use arc_swap::ArcSwap;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// File written in dev mode.
pub const DEV_FILE: &str = "huawei-projects.json";

/// A project as served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Project {
    /// Project id.
    pub id: String,
    /// Region.
    pub region: String,
    /// Owning account.
    pub account: String,
}

/// Every project, by id: the configured ones, or in dev mode the generated
/// ones, which grow with the hosted regions.
pub struct Projects {
    by_id: ArcSwap<BTreeMap<String, Project>>,
    /// Set when the projects are generated (dev mode without configured ones).
    generated: Option<Generated>,
}

/// Where generated projects are kept, and whose they are.
struct Generated {
    /// The directory of [`DEV_FILE`].
    data_dir: PathBuf,
    /// The configuration's `account_id`, which owns every generated project.
    account: String,
    /// Held while the file is rewritten and the projects replaced.
    writing: Mutex<()>,
}

impl Projects {
    /// The project with this id.
    pub fn get(&self, id: &str) -> Option<Project> {
        self.by_id.load().get(id).cloned()
    }

    /// Gives a newly hosted region its generated project, written to
    /// [`DEV_FILE`] first (an earlier one in the file is taken up). Does
    /// nothing when the projects are configured.
    pub fn add_dev_region(&self, region: &str) -> Result<(), String> {
        let Some(generated) = &self.generated else {
            return Ok(());
        };
        let _one_at_a_time = generated.writing.lock().unwrap_or_else(|e| e.into_inner());
        let made = dev_projects(
            &generated.data_dir,
            &generated.account,
            &[region.to_string()],
        )?;
        let mut by_id = BTreeMap::clone(&self.by_id.load());
        for (id, region) in made {
            let account = generated.account.clone();
            by_id.insert(
                id.clone(),
                Project {
                    id,
                    region,
                    account,
                },
            );
        }
        self.by_id.store(by_id.into());
        Ok(())
    }

    /// Loads the configured projects, or in dev mode the generated ones
    /// (generating and writing them when missing). Every project must name
    /// a hosted region.
    pub fn load(config: &Config, hosted: &[String]) -> Result<Self, String> {
        let generated =
            (config.huawei_projects.is_empty() && config.dev_mode()).then(|| Generated {
                data_dir: config.data_dir.clone(),
                account: config.account_id.clone(),
                writing: Mutex::new(()),
            });
        let configured: BTreeMap<String, HuaweiProject> = if generated.is_some() {
            dev_projects(&config.data_dir, &config.account_id, hosted)?
                .into_iter()
                .map(|(id, region)| {
                    (
                        id,
                        HuaweiProject {
                            region,
                            account: None,
                        },
                    )
                })
                .collect()
        } else {
            config.huawei_projects.clone()
        };
        let mut by_id = BTreeMap::new();
        for (id, p) in configured {
            if !hosted.contains(&p.region) {
                return Err(format!(
                    "project {id}: region {:?} is not hosted here (hosted: {})",
                    p.region,
                    hosted.join(", ")
                ));
            }
            let account = p.account.unwrap_or_else(|| config.account_id.clone());
            if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "project {id}: account {account:?} is not 12 digits"
                ));
            }
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(format!(
                    "project id {id:?} must be letters, digits and '-' only"
                ));
            }
            by_id.insert(
                id.clone(),
                Project {
                    id,
                    region: p.region,
                    account,
                },
            );
        }
        Ok(Self {
            by_id: ArcSwap::from_pointee(by_id),
            generated,
        })
    }
}

/// Reads `<data_dir>/huawei-projects.json`, adds a project of `account`
/// for every hosted region that has none, and writes the file back when it
/// changed.
fn dev_projects(
    data_dir: &Path,
    account: &str,
    hosted: &[String],
) -> Result<BTreeMap<String, String>, String> {
    let path = data_dir.join(DEV_FILE);
    let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let mut projects: BTreeMap<String, String> = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| fail(&e))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(e) => return Err(fail(&e)),
    };
    let mut changed = false;
    for region in hosted {
        if !projects.values().any(|r| r == region) {
            projects.insert(dev_project_id(account, region), region.clone());
            changed = true;
        }
    }
    if changed {
        let text = serde_json::to_string_pretty(&projects).map_err(|e| fail(&e))?;
        let temporary = data_dir.join(format!("{DEV_FILE}.tmp"));
        std::fs::write(&temporary, text + "\n").map_err(|e| fail(&e))?;
        std::fs::rename(&temporary, &path).map_err(|e| fail(&e))?;
    }
    projects.retain(|_, region| hosted.contains(region));
    Ok(projects)
}

/// The id of `account`'s generated project in `region`: 32 hex digits
/// (the length of Huawei's project ids) of a SHA-256 of both, the same on
/// every node.
fn dev_project_id(account: &str, region: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("trent dev project\0{account}\0{region}"));
    hex::encode(&digest[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "111122223333";

    #[test]
    fn nodes_with_their_own_data_directories_make_the_same_projects() {
        let (a, b) = (
            tempfile::TempDir::new().unwrap(),
            tempfile::TempDir::new().unwrap(),
        );
        let hosted = vec!["r1".to_string(), "r2".to_string()];
        let on_a = dev_projects(a.path(), ACCOUNT, &hosted).unwrap();
        assert_eq!(on_a, dev_projects(b.path(), ACCOUNT, &hosted).unwrap());
        let other = dev_projects(
            tempfile::TempDir::new().unwrap().path(),
            "444455556666",
            &hosted,
        );
        assert!(other.unwrap().keys().all(|id| !on_a.contains_key(id)));
    }

    #[test]
    fn dev_projects_are_made_once_per_region_and_kept() {
        let dir = tempfile::TempDir::new().unwrap();
        let hosted = vec!["r1".to_string(), "r2".to_string()];
        let first = dev_projects(dir.path(), ACCOUNT, &hosted).unwrap();
        assert_eq!(first.len(), 2);
        assert!(first.keys().all(|id| id.len() == 32));
        let again = dev_projects(dir.path(), ACCOUNT, &hosted).unwrap();
        assert_eq!(first, again);
        let more = dev_projects(dir.path(), ACCOUNT, &["r1".into(), "r3".into()]).unwrap();
        assert_eq!(more.len(), 2);
        assert!(more.values().any(|r| r == "r3"));
        assert!(
            more.iter()
                .all(|(id, r)| r != "r1" || first.contains_key(id))
        );
    }
}
