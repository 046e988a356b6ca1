//! Resolving what clients call a key — key id, key ARN, alias name or alias
//! ARN — to the key's record in the caller's region and account.

use super::condition_keys::Facts;
use super::invalid::Field;
use super::{Caller, Kms, KmsError, KmsResult, Missing, validate};
use crate::model::KeyRecord;
use std::sync::Arc;

pub use crate::model::key_arn_in;

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

/// The ARN of a key record (in its own region and account).
pub fn record_arn(key: &KeyRecord) -> String {
    key.arn().to_owned()
}

/// The ARN of an alias in the caller's region and account.
pub fn alias_arn(caller: &Caller, alias_name: &str) -> String {
    alias_arn_in(&caller.region, &caller.account_id, alias_name)
}

fn alias_arn_in(region: &str, account_id: &str, alias_name: &str) -> String {
    format!("arn:aws:kms:{region}:{account_id}:{alias_name}")
}

enum KeyName<'a> {
    KeyId(&'a str),
    Alias(&'a str),
}

/// A parsed key reference: the account it lives in and its key id or alias.
struct Reference<'a> {
    account_id: &'a str,
    name: KeyName<'a>,
}

impl Kms {
    /// Loads the key named by `reference` in the caller's region and checks
    /// that the caller may perform `action` on it (with `context` for the
    /// encryption-context condition keys). A key of another account can be
    /// named only by its ARN, and only a key policy can let the caller in.
    pub(super) fn load_key(
        &self,
        caller: &Caller,
        reference: &str,
        aliases: Aliases,
        action: &str,
        facts: &Facts<'_>,
    ) -> KmsResult<Arc<KeyRecord>> {
        let (key, alias) = self.resolve_named(caller, reference, aliases)?;
        self.authorize_named(caller, action, &key, facts, alias)?;
        Ok(key)
    }

    /// Finds the key named by `reference` without checking what the caller
    /// may do with it (for callers whose right comes from elsewhere, such as
    /// a grant's retiring principal).
    pub(super) fn resolve_key(
        &self,
        caller: &Caller,
        reference: &str,
        aliases: Aliases,
    ) -> KmsResult<Arc<KeyRecord>> {
        Ok(self.resolve_named(caller, reference, aliases)?.0)
    }

    /// Finds a key of the caller's own account named by `reference` (an id
    /// or ARN) without consulting its key policy, for `action`, which the
    /// identity policy alone governs (ListAliases with `KeyId`). A reference
    /// into another account is refused before any lookup, so the refusal
    /// does not tell whether the key exists.
    pub(super) fn resolve_own_key(
        &self,
        caller: &Caller,
        reference: &str,
        action: &str,
    ) -> KmsResult<Arc<KeyRecord>> {
        if parse(caller, reference)?.account_id != caller.account_id {
            return Err(super::access::denied(
                caller,
                action,
                reference,
                "this operation cannot be performed on a KMS key in a different AWS account",
            ));
        }
        self.resolve_key(caller, reference, Aliases::Refused)
    }

    /// [`Kms::resolve_key`], also returning the alias name the reference
    /// used, if it named the key by an alias (for `kms:RequestAlias`).
    pub(super) fn resolve_named<'r>(
        &self,
        caller: &'r Caller,
        reference: &'r str,
        aliases: Aliases,
    ) -> KmsResult<(Arc<KeyRecord>, Option<&'r str>)> {
        let parsed = parse(caller, reference)?;
        let alias = match parsed.name {
            KeyName::Alias(name) => Some(name),
            KeyName::KeyId(_) => None,
        };
        let key_id = match parsed.name {
            KeyName::KeyId(id) => id.to_string(),
            KeyName::Alias(_) if aliases == Aliases::Refused => {
                return Err(KmsError::NotFound(Missing::AliasNotAccepted(
                    reference.to_string(),
                )));
            }
            KeyName::Alias(name) => {
                self.store
                    .alias(&caller.region, parsed.account_id, name)?
                    .ok_or_else(|| {
                        KmsError::NotFound(Missing::Alias(alias_arn_in(
                            &caller.region,
                            parsed.account_id,
                            name,
                        )))
                    })?
                    .key_id
            }
        };
        if let Some(name) = alias {
            caller
                .keys
                .note(alias_arn_in(&caller.region, parsed.account_id, name));
        }
        Ok((self.find_key(caller, parsed.account_id, &key_id)?, alias))
    }

    /// Loads the key a ciphertext names, whichever account owns it (key ids
    /// are unique), and checks that the caller may perform `action` on it.
    pub(super) fn load_key_by_id(
        &self,
        caller: &Caller,
        key_id: &str,
        action: &str,
        facts: &Facts<'_>,
    ) -> KmsResult<Arc<KeyRecord>> {
        let key = self
            .store
            .key(&caller.region, key_id)?
            .ok_or_else(|| KmsError::NotFound(Missing::Key(key_arn(caller, key_id))))?;
        caller.keys.note(record_arn(&key));
        self.authorize(caller, action, &key, facts)?;
        Ok(key)
    }

    /// The key `key_id` of `account_id` in the caller's region, noted as
    /// one the request touched.
    fn find_key(
        &self,
        caller: &Caller,
        account_id: &str,
        key_id: &str,
    ) -> KmsResult<Arc<KeyRecord>> {
        let key = self
            .store
            .key(&caller.region, key_id)?
            .filter(|k| k.account_id == account_id)
            .ok_or_else(|| {
                KmsError::NotFound(Missing::Key(key_arn_in(&caller.region, account_id, key_id)))
            })?;
        caller.keys.note(record_arn(&key));
        Ok(key)
    }
}

/// Splits a reference into its account and a key id or an alias name. An
/// ARN must name the caller's region; it may name another account.
fn parse<'a>(caller: &'a Caller, reference: &'a str) -> KmsResult<Reference<'a>> {
    validate::key_reference(reference, Field::KeyId)?;
    if let Some(rest) = reference.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        let [partition, service, region, account, resource] = parts[..] else {
            return Err(invalid_arn(reference));
        };
        if !partition.starts_with("aws")
            || service != "kms"
            || account.len() != 12
            || !account.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(invalid_arn(reference));
        }
        let name = if let Some(id) = resource.strip_prefix("key/") {
            KeyName::KeyId(id)
        } else if resource.starts_with("alias/") {
            KeyName::Alias(resource)
        } else {
            return Err(invalid_arn(reference));
        };
        if partition != "aws" {
            return Err(KmsError::NotFound(Missing::OtherPartition {
                arn: reference.to_string(),
                partition: partition.to_string(),
            }));
        }
        if region != caller.region {
            return Err(KmsError::NotFound(Missing::OtherRegion {
                arn: reference.to_string(),
                region: region.to_string(),
            }));
        }
        return Ok(Reference {
            account_id: account,
            name: check_key_id(name, reference)?,
        });
    }
    let name = if reference.starts_with("alias/") {
        KeyName::Alias(reference)
    } else {
        check_key_id(KeyName::KeyId(reference), reference)?
    };
    Ok(Reference {
        account_id: &caller.account_id,
        name,
    })
}

fn check_key_id<'a>(name: KeyName<'a>, reference: &str) -> KmsResult<KeyName<'a>> {
    match name {
        KeyName::KeyId(id) if !is_key_id(id) => Err(KmsError::NotFound(Missing::InvalidKeyId(
            reference.to_string(),
        ))),
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
