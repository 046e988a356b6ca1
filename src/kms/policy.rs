//! Key policies: stored and returned (evaluation comes with authorization).

use super::condition_keys::Facts;
use super::invalid::Field;
use super::key_ref::Aliases;
use super::{Caller, Kms, KmsError, KmsResult, Missing, Page, paging, record_arn, validate};
use crate::authz::{Policy, PolicyKind};
use crate::store::KeyChange;

/// The only policy name AWS KMS keys have.
const POLICY_NAME: &str = "default";
/// Largest policy document accepted, in characters (AWS's documented 32
/// KiB).
const MAX_POLICY_LEN: usize = 32_768;
/// Largest policy document AWS's model allows, in characters.
const MODEL_MAX_POLICY_LEN: usize = 131_072;

/// AWS's default key policy: the account root may do everything, which
/// delegates access control to the account's identity policies.
pub(super) fn default_policy(account_id: &str) -> String {
    format!(
        r#"{{
  "Version": "2012-10-17",
  "Id": "key-default-1",
  "Statement": [
    {{
      "Sid": "Enable IAM User Permissions",
      "Effect": "Allow",
      "Principal": {{
        "AWS": "arn:aws:iam::{account_id}:root"
      }},
      "Action": "kms:*",
      "Resource": "*"
    }}
  ]
}}"#
    )
}

/// A key policy must be at most 32 KiB of valid policy language, and
/// (unless `bypass_lockout_check`) must let the caller change it again later.
pub(super) fn check_document(
    policy: &str,
    caller: &Caller,
    key_arn: &str,
    bypass_lockout_check: bool,
) -> KmsResult<()> {
    document_in_model(policy)?;
    let parsed = Policy::parse(policy, PolicyKind::Key)
        .map_err(|e| KmsError::MalformedPolicyDocument(e.to_string()))?;
    if !bypass_lockout_check
        && !parsed.allows_principal_action(
            &caller.principal.arn,
            &caller.account_id,
            "kms:PutKeyPolicy",
            key_arn,
        )
    {
        return Err(KmsError::MalformedPolicyDocument(format!(
            "The new key policy will not allow you ({}) to update the key policy in the future.",
            caller.principal.arn
        )));
    }
    Ok(())
}

/// A policy document's length (at most AWS's documented 32 KiB) and
/// characters, checked before anything is looked up.
pub(super) fn document_in_model(policy: &str) -> KmsResult<()> {
    let len = policy.chars().count();
    validate::length(len, 1, MODEL_MAX_POLICY_LEN, Field::Policy)?;
    validate::length(len, 1, MAX_POLICY_LEN, Field::Policy)?;
    validate::policy_characters(policy)
}

/// A `PolicyName` member, if given, as the model allows it.
fn name_in_model(name: Option<&str>) -> KmsResult<()> {
    name.map_or(Ok(()), validate::policy_name)
}

/// The only policy a key has is `default`.
fn check_name(name: Option<&str>) -> KmsResult<()> {
    match name {
        None | Some(POLICY_NAME) => Ok(()),
        Some(other) => Err(KmsError::NotFound(Missing::Policy(other.to_string()))),
    }
}

impl Kms {
    /// PutKeyPolicy.
    pub fn put_key_policy(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        policy_name: Option<&str>,
        policy: Option<String>,
        bypass_lockout_check: bool,
    ) -> KmsResult<()> {
        let key_id = validate::key_id(key_id)?;
        name_in_model(policy_name)?;
        let policy = validate::required(policy, Field::Policy)?;
        document_in_model(&policy)?;
        let key = self.load_key(
            caller,
            key_id,
            Aliases::Refused,
            "kms:PutKeyPolicy",
            &Facts::default().with(
                "kms:BypassPolicyLockoutSafetyCheck",
                [bypass_lockout_check.to_string()],
            ),
        )?;
        check_name(policy_name)?;
        check_document(&policy, caller, &record_arn(&key), bypass_lockout_check)?;
        self.change_key(&key, KeyChange::Policy(&policy))
    }

    /// GetKeyPolicy.
    pub fn get_key_policy(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        policy_name: Option<&str>,
    ) -> KmsResult<String> {
        let key_id = validate::key_id(key_id)?;
        name_in_model(policy_name)?;
        let key = self.load_key(
            caller,
            key_id,
            Aliases::Refused,
            "kms:GetKeyPolicy",
            &Facts::NONE,
        )?;
        check_name(policy_name)?;
        Ok(key.policy.to_string())
    }

    /// ListKeyPolicies: every key has exactly the one policy, `default`.
    pub fn list_key_policies(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        limit: Option<i64>,
        marker: Option<&str>,
    ) -> KmsResult<Page<String>> {
        let key_id = validate::key_id(key_id)?;
        let limit = paging::limit(limit, 100, 1000)?;
        let after = paging::after(marker)?;
        self.load_key(
            caller,
            key_id,
            Aliases::Refused,
            "kms:ListKeyPolicies",
            &Facts::NONE,
        )?;
        paging::page_in_order(vec![POLICY_NAME.to_string()], limit, &after, |name| {
            name.as_str()
        })
    }
}
