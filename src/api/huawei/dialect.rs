//! The dialect's own state: its projects and its authenticator, built from
//! the configuration's plain entries at start-up.

use super::projects::Projects;
use crate::auth::huawei_sign::HuaweiAuthenticator;
use crate::config::{Config, CredentialConfig};

/// State of the dialect: its projects and its authenticator.
pub struct Dialect {
    /// The projects served.
    pub(super) projects: Projects,
    /// Verifies `SDK-HMAC-SHA256` signatures and `X-Auth-Token`s.
    pub(super) authenticator: HuaweiAuthenticator,
}

impl Dialect {
    /// Loads the projects (generating dev-mode ones when needed) and builds
    /// the authenticator over the same credential entries as SigV4.
    pub fn open(
        config: &Config,
        credentials: &[CredentialConfig],
        hosted: &[String],
    ) -> Result<Self, String> {
        let projects = Projects::load(config, hosted)?;
        let project_account = |id: &str| projects.get(id).map(|p| p.account.clone());
        let authenticator =
            HuaweiAuthenticator::new(credentials, &config.auth_tokens, &project_account)
                .map_err(|e| e.to_string())?;
        Ok(Self {
            projects,
            authenticator,
        })
    }

    /// The projects served.
    pub fn projects(&self) -> &Projects {
        &self.projects
    }
}
