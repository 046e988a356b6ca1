//! CreateAlias, UpdateAlias, DeleteAlias, ListAliases.

use super::Missing;
use super::condition_keys::Facts;
use super::invalid::{Field, Invalid};
use super::key_ref::Aliases;
use super::paging::{self, Page};
use super::{Caller, Kms, KmsError, KmsResult, alias_arn, record_arn, validate};
use crate::model::{AliasRecord, KeyRecord};
use crate::store::StoreError;

/// Checks an alias name: 1–256 characters of `[a-zA-Z0-9:/_-]`, starting
/// `alias/`, with only `[a-zA-Z0-9/_-]` after the prefix (else
/// `ValidationException`, as AWS answers), and not `alias/aws/` (else
/// `InvalidAliasNameException`).
fn check_alias_name(name: &str) -> KmsResult<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-');
    validate::name(name, Field::AliasName)?;
    let Some(rest) = name.strip_prefix("alias/") else {
        return Err(KmsError::Validation(Invalid::AliasPrefix(name.to_string())));
    };
    if name.starts_with("alias/aws/") {
        return Err(KmsError::InvalidAliasName(format!(
            "Alias '{name}' uses the prefix alias/aws/, which is reserved for AWS managed keys."
        )));
    }
    if rest.is_empty() || !rest.chars().all(allowed) {
        return Err(KmsError::Validation(Invalid::AliasCharacters(
            name.to_string(),
        )));
    }
    Ok(())
}

/// How often UpdateAlias and DeleteAlias re-read an alias that another
/// writer moved between their check and their write.
const ALIAS_ATTEMPTS: usize = 8;

impl Kms {
    /// CreateAlias: needs kms:CreateAlias on the alias (identity policy) and
    /// on the key, which must be in the caller's account.
    pub fn create_alias(
        &self,
        caller: &Caller,
        alias_name: Option<&str>,
        target_key_id: Option<&str>,
    ) -> KmsResult<()> {
        let name = validate::required(alias_name, Field::AliasName)?;
        check_alias_name(name)?;
        self.authorize_alias(caller, "kms:CreateAlias", name)?;
        let key = self.alias_target(caller, target_key_id, "kms:CreateAlias")?;
        let now = self.now();
        let record = AliasRecord {
            alias_name: name.to_string(),
            key_id: key.key_id.clone(),
            creation_date: now,
            last_updated: now,
        };
        match self
            .store
            .insert_alias(&caller.region, &caller.account_id, &record)
        {
            Err(StoreError::Conflict) => Err(KmsError::AlreadyExists(format!(
                "An alias with the name {} already exists",
                alias_arn(caller, name)
            ))),
            Ok(true) => Ok(()),
            Ok(false) => Err(self.refusal_now(&key)),
            Err(e) => Err(e.into()),
        }
    }

    /// UpdateAlias: points an existing alias at another key of the same
    /// type and usage. As in AWS, the caller needs kms:UpdateAlias on the
    /// alias, on the key it points to now and on the new key. The alias is
    /// moved only if it still points where it pointed when checked.
    pub fn update_alias(
        &self,
        caller: &Caller,
        alias_name: Option<&str>,
        target_key_id: Option<&str>,
    ) -> KmsResult<()> {
        let name = validate::required(alias_name, Field::AliasName)?;
        check_alias_name(name)?;
        self.authorize_alias(caller, "kms:UpdateAlias", name)?;
        let key = self.alias_target(caller, target_key_id, "kms:UpdateAlias")?;
        for _ in 0..ALIAS_ATTEMPTS {
            let current = self.current_alias(caller, name)?;
            let old = self.store.key(&caller.region, &current.key_id)?;
            if let Some(old) = &old {
                caller.keys.note(record_arn(old));
                self.authorize(caller, "kms:UpdateAlias", old, &Facts::NONE)?;
                if old.key_spec != key.key_spec || old.key_usage != key.key_usage {
                    return Err(KmsError::Validation(Invalid::AliasTargetType {
                        alias: alias_arn(caller, name),
                        from: (old.key_spec, old.key_usage),
                        to: (key.key_spec, key.key_usage),
                    }));
                }
            }
            if self.store.retarget_alias(
                &caller.region,
                &caller.account_id,
                name,
                &current.key_id,
                &key.key_id,
                self.now(),
            )? {
                return Ok(());
            }
        }
        Err(alias_busy(caller, name))
    }

    /// DeleteAlias: needs kms:DeleteAlias on the alias and on its key. The
    /// alias is deleted only if it still points at the key checked.
    pub fn delete_alias(&self, caller: &Caller, alias_name: Option<&str>) -> KmsResult<()> {
        let name = validate::required(alias_name, Field::AliasName)?;
        check_alias_name(name)?;
        self.authorize_alias(caller, "kms:DeleteAlias", name)?;
        for _ in 0..ALIAS_ATTEMPTS {
            let alias = self.current_alias(caller, name)?;
            if let Some(key) = self.store.key(&caller.region, &alias.key_id)? {
                caller.keys.note(record_arn(&key));
                self.authorize(caller, "kms:DeleteAlias", &key, &Facts::NONE)?;
            }
            if self
                .store
                .delete_alias(&caller.region, &caller.account_id, name, &alias.key_id)?
            {
                return Ok(());
            }
        }
        Err(alias_busy(caller, name))
    }

    /// ListAliases: the caller's aliases (optionally of one key of its own
    /// account), paginated. The identity policy alone decides, with or
    /// without `KeyId`, as AWS documents ("kms:ListAliases (IAM policy)"):
    /// a key policy cannot grant it.
    pub fn list_aliases(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        limit: Option<i64>,
        marker: Option<&str>,
    ) -> KmsResult<Page<AliasRecord>> {
        self.authorize_account(caller, "kms:ListAliases", &Facts::NONE)?;
        let limit = paging::limit(limit, 50, 100)?;
        let after = paging::after(marker)?;
        let key = key_id
            .map(|k| self.resolve_own_key(caller, k, "kms:ListAliases"))
            .transpose()?;
        let aliases = self.store.list_aliases(
            &caller.region,
            &caller.account_id,
            key.as_ref().map(|k| k.key_id.as_str()),
            &after,
            limit + 1,
        )?;
        Ok(paging::page(aliases, limit, |a| a.alias_name.as_str()))
    }

    /// The alias of the caller's account named `name`.
    fn current_alias(&self, caller: &Caller, name: &str) -> KmsResult<AliasRecord> {
        self.store
            .alias(&caller.region, &caller.account_id, name)?
            .ok_or_else(|| alias_not_found(caller, name))
    }

    /// The key an alias may point at: by id or ARN, in the caller's own
    /// account (cross-account targets are refused by `authorize`), not
    /// pending deletion.
    fn alias_target(
        &self,
        caller: &Caller,
        target: Option<&str>,
        action: &str,
    ) -> KmsResult<std::sync::Arc<KeyRecord>> {
        let target = validate::required(target, Field::TargetKeyId)?;
        validate::key_reference(target, Field::TargetKeyId)?;
        let key = self.load_key(caller, target, Aliases::Refused, action, &Facts::NONE)?;
        super::require_not_pending_deletion(&key)?;
        Ok(key)
    }
}

fn alias_busy(caller: &Caller, name: &str) -> KmsError {
    KmsError::Conflict(format!(
        "Alias {} kept changing while this request was checking it; try again.",
        alias_arn(caller, name)
    ))
}

fn alias_not_found(caller: &Caller, name: &str) -> KmsError {
    KmsError::NotFound(Missing::Alias(alias_arn(caller, name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_names() {
        assert!(check_alias_name("alias/my-key_1/x").is_ok());
        assert!(matches!(
            check_alias_name("my-key"),
            Err(KmsError::Validation(Invalid::AliasPrefix(_)))
        ));
        assert!(matches!(
            check_alias_name("alias/aws/s3"),
            Err(KmsError::InvalidAliasName(_))
        ));
        assert!(matches!(
            check_alias_name("alias/a:b"),
            Err(KmsError::Validation(Invalid::AliasCharacters(_)))
        ));
        assert!(matches!(
            check_alias_name("alias/a b"),
            Err(KmsError::Validation(_))
        ));
        assert!(matches!(check_alias_name(""), Err(KmsError::Validation(_))));
    }
}
