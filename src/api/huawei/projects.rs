//! Huawei projects: a project id in the path names a region and an account.
//!
//! Configured as `[huawei_projects.<project id>]` with `region` and
//! (optionally, default `account_id`) `account`. In dev mode with none
//! configured, Trent makes one project per hosted region on first start,
//! and one for each region provisioned later on first use, and writes them
//! to `<data_dir>/huawei-projects.json` as `{"<project_id>": "<region>"}`,
//! reusing that file on later starts.

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
        let made = dev_projects(&generated.data_dir, &[region.to_string()])?;
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
            dev_projects(&config.data_dir, hosted)?
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

/// Reads `<data_dir>/huawei-projects.json`, adds a project for every hosted
/// region that has none, and writes the file back when it changed.
fn dev_projects(data_dir: &Path, hosted: &[String]) -> Result<BTreeMap<String, String>, String> {
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
            projects.insert(uuid::Uuid::new_v4().simple().to_string(), region.clone());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_projects_are_made_once_per_region_and_kept() {
        let dir = tempfile::TempDir::new().unwrap();
        let hosted = vec!["r1".to_string(), "r2".to_string()];
        let first = dev_projects(dir.path(), &hosted).unwrap();
        assert_eq!(first.len(), 2);
        assert!(first.keys().all(|id| id.len() == 32));
        let again = dev_projects(dir.path(), &hosted).unwrap();
        assert_eq!(first, again);
        let more = dev_projects(dir.path(), &["r1".into(), "r3".into()]).unwrap();
        assert_eq!(more.len(), 2);
        assert!(more.values().any(|r| r == "r3"));
        assert!(
            more.iter()
                .all(|(id, r)| r != "r1" || first.contains_key(id))
        );
    }
}
