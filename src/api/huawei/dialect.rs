//! The dialect's own state: its projects and its authenticator, built from
//! the configuration's plain entries at start-up.

use super::projects::Projects;
use crate::auth::huawei_sign::HuaweiAuthenticator;
use crate::config::{Config, CredentialConfig};
use std::sync::Arc;

/// State of the dialect: its projects and its authenticator.
pub struct Dialect {
    /// The projects served (in dev mode, growing with the regions).
    pub(super) projects: Arc<Projects>,
    /// Verifies `SDK-HMAC-SHA256` signatures and `X-Auth-Token`s.
    pub(super) authenticator: HuaweiAuthenticator,
}

impl Dialect {
    /// Serves `projects` (see [`Projects::load`]) and builds the
    /// authenticator over the same credential entries as SigV4.
    pub fn open(
        config: &Config,
        credentials: &[CredentialConfig],
        projects: Arc<Projects>,
    ) -> Result<Self, String> {
        let project_account = |id: &str| projects.get(id).map(|p| p.account);
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
