//! Credential entries: access key id, secret access key and principal, from
//! the configuration or, in dev mode, from the generated credentials file.

use crate::config::CredentialConfig;
use secrecy::SecretString;
use std::path::Path;

/// Errors in credential configuration.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The principal is not an IAM ARN with a 12-digit account.
    #[error(
        "credential {0}: principal {1:?} must be an IAM ARN like arn:aws:iam::111122223333:user/alice"
    )]
    BadPrincipal(String, String),
    /// An identity policy does not parse.
    #[error("credential {0}: identity policy: {1}")]
    BadPolicy(String, String),
    /// Two entries share an access key id.
    #[error("access key id {0} is configured twice")]
    Duplicate(String),
    /// The dev credentials file could not be read.
    #[error("cannot read credentials file {0}: {1}")]
    File(String, String),
}

/// The 12-digit account of an IAM principal ARN.
pub fn principal_account(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let valid = account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && (resource == "root"
            || resource.starts_with("user/")
            || resource.starts_with("role/")
            || resource.starts_with("assumed-role/"));
    valid.then_some(account)
}

/// Reads the `[default]` profile of an AWS shared-credentials file as the
/// root principal of `account_id`.
pub fn from_shared_file(
    path: &Path,
    account_id: &str,
) -> Result<CredentialConfig, CredentialError> {
    let fail = |m: String| CredentialError::File(path.display().to_string(), m);
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let mut in_default = false;
    let (mut key_id, mut secret) = (None, None);
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_default = line == "[default]";
        } else if let (true, Some((k, v))) = (in_default, line.split_once('=')) {
            match k.trim() {
                "aws_access_key_id" => key_id = Some(v.trim().to_string()),
                "aws_secret_access_key" => secret = Some(SecretString::from(v.trim().to_string())),
                _ => {}
            }
        }
    }
    match (key_id, secret) {
        (Some(access_key_id), Some(secret_access_key)) => Ok(CredentialConfig {
            access_key_id,
            secret_access_key,
            principal: format!("arn:aws:iam::{account_id}:root"),
            policy: None,
        }),
        _ => Err(fail("no [default] access key in it".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principal_accounts() {
        assert_eq!(
            principal_account("arn:aws:iam::111122223333:user/alice"),
            Some("111122223333")
        );
        assert_eq!(
            principal_account("arn:aws:iam::111122223333:root"),
            Some("111122223333")
        );
        assert_eq!(principal_account("arn:aws:iam::1111:user/alice"), None);
        assert_eq!(principal_account("arn:aws:s3:::bucket"), None);
    }
}
