//! Resolving what clients call a key — key id, key ARN, alias name or alias
//! ARN — to the key's record in the caller's region and account.

use super::{Caller, Kms, KmsError, KmsResult};
use crate::store::KeyRecord;

/// Longest key identifier AWS accepts.
const MAX_KEY_ID_LEN: usize = 2048;

/// Whether an operation accepts alias names and alias ARNs as well as keys.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Aliases {
    /// Alias names and alias ARNs are accepted.
    Accepted,
    /// Only key ids and key ARNs are accepted.
    Refused,
}

/// The ARN of a key in the caller's region and account.
pub fn key_arn(caller: &Caller, key_id: &str) -> String {
    key_arn_in(&caller.region, &caller.account_id, key_id)
}

/// The ARN of a key in a given region and account.
pub fn key_arn_in(region: &str, account_id: &str, key_id: &str) -> String {
    format!("arn:aws:kms:{region}:{account_id}:key/{key_id}")
}

/// The ARN of an alias in the caller's region and account.
pub fn alias_arn(caller: &Caller, alias_name: &str) -> String {
    format!(
        "arn:aws:kms:{}:{}:{alias_name}",
        caller.region, caller.account_id
    )
}

enum KeyName<'a> {
    KeyId(&'a str),
    Alias(&'a str),
}

impl Kms {
    /// Loads the key named by `reference`, which must exist in the caller's
    /// region and account.
    pub(super) fn load_key(
        &self,
        caller: &Caller,
        reference: &str,
        aliases: Aliases,
    ) -> KmsResult<KeyRecord> {
        let key_id = match parse(caller, reference)? {
            KeyName::KeyId(id) => id.to_string(),
            KeyName::Alias(_) if aliases == Aliases::Refused => {
                return Err(KmsError::NotFound(format!(
                    "Invalid keyId '{reference}': this operation takes a key id or key ARN, not an alias."
                )));
            }
            KeyName::Alias(name) => {
                self.store
                    .alias(&caller.region, &caller.account_id, name)?
                    .ok_or_else(|| {
                        KmsError::NotFound(format!(
                            "Alias '{}' is not found.",
                            super::alias_arn(caller, name)
                        ))
                    })?
                    .key_id
            }
        };
        self.load_key_by_id(caller, &key_id)
    }

    /// Loads a key by bare id from the caller's region and account.
    pub(super) fn load_key_by_id(&self, caller: &Caller, key_id: &str) -> KmsResult<KeyRecord> {
        self.store
            .key(&caller.region, key_id)?
            .filter(|k| k.account_id == caller.account_id)
            .ok_or_else(|| {
                KmsError::NotFound(format!("Key '{}' does not exist", key_arn(caller, key_id)))
            })
    }
}

/// Splits a reference into a key id or an alias name, checking any ARN
/// against the caller's region and account.
fn parse<'a>(caller: &Caller, reference: &'a str) -> KmsResult<KeyName<'a>> {
    if reference.is_empty() || reference.len() > MAX_KEY_ID_LEN {
        return Err(KmsError::Validation(format!(
            "1 validation error detected: Value at 'keyId' failed to satisfy constraint: \
             Member must have length between 1 and {MAX_KEY_ID_LEN}"
        )));
    }
    if let Some(rest) = reference.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        let [partition, service, region, account, resource] = parts[..] else {
            return Err(invalid_arn(reference));
        };
        if !partition.starts_with("aws") || service != "kms" {
            return Err(invalid_arn(reference));
        }
        let name = if let Some(id) = resource.strip_prefix("key/") {
            KeyName::KeyId(id)
        } else if resource.starts_with("alias/") {
            KeyName::Alias(resource)
        } else {
            return Err(invalid_arn(reference));
        };
        if region != caller.region || account != caller.account_id {
            return Err(KmsError::NotFound(format!(
                "Key '{reference}' does not exist in this region and account"
            )));
        }
        return check_key_id(name, reference);
    }
    if reference.starts_with("alias/") {
        return Ok(KeyName::Alias(reference));
    }
    check_key_id(KeyName::KeyId(reference), reference)
}

fn check_key_id<'a>(name: KeyName<'a>, reference: &str) -> KmsResult<KeyName<'a>> {
    match name {
        KeyName::KeyId(id) if !is_key_id(id) => {
            Err(KmsError::NotFound(format!("Invalid keyId '{reference}'")))
        }
        other => Ok(other),
    }
}

/// True for a UUID-shaped key id, or a multi-Region `mrk-` id.
fn is_key_id(id: &str) -> bool {
    if let Some(hexpart) = id.strip_prefix("mrk-") {
        return hexpart.len() == 32 && hexpart.bytes().all(|b| b.is_ascii_hexdigit());
    }
    uuid::Uuid::try_parse(id).is_ok() && id.len() == 36
}

fn invalid_arn(reference: &str) -> KmsError {
    KmsError::InvalidArn(format!("Invalid ARN '{reference}'"))
}
