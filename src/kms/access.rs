//! Who may do what: every request is checked against the key's policy, the
//! caller's identity policy and the key's grants. Explicit denies win; an
//! account principal in a key policy delegates to the identity policy; a
//! caller without an identity policy may do everything its account allows.

use super::condition_keys::Facts;
use super::{Caller, Kms, KmsError, KmsResult, alias_arn};
use crate::authz::{Decision, Policy, PolicyKind, Request};
use crate::model::KeyRecord;
use lru::LruCache;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

/// Parsed key policies, by policy text: keys with the same policy (most
/// keys have their account's default policy) share one parsed copy.
pub(super) struct PolicyCache {
    entries: Mutex<LruCache<Arc<str>, Arc<Policy>>>,
}

impl PolicyCache {
    /// A cache of at most `capacity` distinct parsed policies.
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(LruCache::new(
                NonZeroUsize::new(capacity.max(1)).expect("non-zero"),
            )),
        }
    }

    /// The parsed policy of `key`, or `None` if its text does not parse.
    fn get(&self, key: &KeyRecord) -> Option<Arc<Policy>> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(policy) = entries.get(&*key.policy) {
            return Some(policy.clone());
        }
        let policy = Arc::new(Policy::parse(&key.policy, PolicyKind::Key).ok()?);
        entries.put(key.policy.clone(), policy.clone());
        Some(policy)
    }
}

/// The actions AWS lets a principal of another account perform on a key
/// (when the key policy and its own identity policy allow it); every other
/// action works only on keys of the caller's own account.
const CROSS_ACCOUNT_ACTIONS: &[&str] = &[
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DeriveSharedSecret",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GenerateMac",
    "kms:GetKeyRotationStatus",
    "kms:GetPublicKey",
    "kms:ListGrants",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:RetireGrant",
    "kms:RevokeGrant",
    "kms:Sign",
    "kms:Verify",
    "kms:VerifyMac",
];

/// What policies (not grants) say about a request.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// An explicit deny applies: nothing can allow it.
    Denied,
    /// The key policy (with the identity policy) allows it.
    Allowed,
    /// No policy allows it; a grant still may.
    NotAllowed,
}

/// What the key policy's and the identity policy's decisions (an absent
/// identity policy decides `Allow`) make of a request by a caller of the
/// key's account or, when `same_account` is false, of another account.
fn combine(by_key: Decision, by_identity: Decision, same_account: bool) -> Verdict {
    if by_key == Decision::Deny || by_identity == Decision::Deny {
        return Verdict::Denied;
    }
    let allowed = match by_key {
        Decision::Allow => same_account || by_identity == Decision::Allow,
        Decision::AllowAccount => by_identity == Decision::Allow,
        Decision::Deny | Decision::NotApplicable => false,
    };
    if allowed {
        Verdict::Allowed
    } else {
        Verdict::NotAllowed
    }
}

/// `AccessDeniedException` in AWS's words: who may not do what on which
/// resource, and why.
pub(super) fn denied(caller: &Caller, action: &str, resource: &str, why: &str) -> KmsError {
    KmsError::AccessDenied(format!(
        "User: {} is not authorized to perform: {action} on resource: {resource} because {why}",
        caller.principal.arn
    ))
}

impl Kms {
    /// Checks that the caller may perform `action` on `key`, with the
    /// request's own condition keys in `facts`.
    pub(super) fn authorize(
        &self,
        caller: &Caller,
        action: &str,
        key: &KeyRecord,
        facts: &Facts<'_>,
    ) -> KmsResult<()> {
        self.authorize_named(caller, action, key, facts, None)
    }

    /// [`Kms::authorize`] for a request that named the key by the alias
    /// `request_alias` (`kms:RequestAlias`).
    pub(super) fn authorize_named(
        &self,
        caller: &Caller,
        action: &str,
        key: &KeyRecord,
        facts: &Facts<'_>,
        request_alias: Option<&str>,
    ) -> KmsResult<()> {
        // The key's ARN is formatted only for a refusal's message.
        let refuse = |why: &str| Err(denied(caller, action, key.arn(), why));
        if caller.account_id != key.account_id && !CROSS_ACCOUNT_ACTIONS.contains(&action) {
            return refuse(
                "this operation cannot be performed on a KMS key in a different AWS account",
            );
        }
        match self.policies_allow(caller, action, key, facts, request_alias)? {
            Verdict::Denied => refuse("an explicit deny applies"),
            Verdict::Allowed => Ok(()),
            Verdict::NotAllowed if self.grant_allows(caller, key, action, facts.context)? => Ok(()),
            Verdict::NotAllowed => refuse("no key policy, identity policy or grant allows it"),
        }
    }

    /// What the key policy and the identity policy (without grants) say.
    pub(super) fn policies_allow(
        &self,
        caller: &Caller,
        action: &str,
        key: &KeyRecord,
        facts: &Facts<'_>,
        request_alias: Option<&str>,
    ) -> KmsResult<Verdict> {
        let resource = key.arn();
        let key_policy = self.policies.get(key);
        let identity = caller.principal.identity_policy.as_deref();
        let deciding: Vec<&Policy> = key_policy.as_deref().into_iter().chain(identity).collect();
        let conditions =
            self.condition_keys(caller, action, Some(key), facts, request_alias, &deciding)?;
        let request = Request {
            principal_arn: &caller.principal.arn,
            principal_account: &caller.account_id,
            action,
            resource,
            context: &conditions,
        };
        let by_key = key_policy.map_or(Decision::NotApplicable, |p| p.evaluate(&request));
        let by_identity = identity.map_or(Decision::Allow, |p| p.evaluate(&request));
        Ok(combine(
            by_key,
            by_identity,
            caller.account_id == key.account_id,
        ))
    }

    /// Checks an action that names no key (CreateKey, ListKeys, ...)
    /// against the caller's identity policy alone, on the resource `*` as
    /// AWS does: a statement whose `Resource` is a key ARN pattern
    /// (`arn:aws:kms:*:111122223333:key/*`, "use our keys") does not allow
    /// creating keys, listing them or GenerateRandom.
    pub(super) fn authorize_account(
        &self,
        caller: &Caller,
        action: &str,
        facts: &Facts<'_>,
    ) -> KmsResult<()> {
        self.authorize_identity(caller, action, "*", facts)
    }

    /// Checks an action on an alias of the caller's account (the alias ARN
    /// is the resource) against the caller's identity policy, as AWS does:
    /// key policies do not govern aliases.
    pub(super) fn authorize_alias(
        &self,
        caller: &Caller,
        action: &str,
        alias_name: &str,
    ) -> KmsResult<()> {
        self.authorize_identity(caller, action, &alias_arn(caller, alias_name), &Facts::NONE)
    }

    /// What the caller's identity policy alone decides about `action` on
    /// `resource`: `Allow` for a caller without one, which may do what its
    /// account may.
    pub(super) fn identity_decision(
        &self,
        caller: &Caller,
        action: &str,
        resource: &str,
        facts: &Facts<'_>,
    ) -> KmsResult<Decision> {
        let Some(policy) = &caller.principal.identity_policy else {
            return Ok(Decision::Allow);
        };
        let conditions = self.condition_keys(caller, action, None, facts, None, &[policy])?;
        let request = Request {
            principal_arn: &caller.principal.arn,
            principal_account: &caller.account_id,
            action,
            resource,
            context: &conditions,
        };
        Ok(policy.evaluate(&request))
    }

    /// What the caller's identity policy alone says about `action` on
    /// `resource`; a caller without one may do what its account may.
    fn authorize_identity(
        &self,
        caller: &Caller,
        action: &str,
        resource: &str,
        facts: &Facts<'_>,
    ) -> KmsResult<()> {
        match self.identity_decision(caller, action, resource, facts)? {
            Decision::Allow | Decision::AllowAccount => Ok(()),
            Decision::Deny => Err(denied(caller, action, resource, "an explicit deny applies")),
            Decision::NotApplicable => Err(denied(
                caller,
                action,
                resource,
                "no identity-based policy allows it",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Decision::{Allow, AllowAccount, Deny, NotApplicable};

    const ALL: [Decision; 4] = [Deny, Allow, AllowAccount, NotApplicable];

    #[test]
    fn a_deny_in_either_policy_wins() {
        for other in ALL {
            for same in [true, false] {
                assert!(combine(Deny, other, same) == Verdict::Denied);
                assert!(combine(other, Deny, same) == Verdict::Denied);
            }
        }
    }

    #[test]
    fn a_key_policy_naming_the_caller_suffices_within_its_account() {
        assert!(combine(Allow, NotApplicable, true) == Verdict::Allowed);
        assert!(combine(Allow, Allow, true) == Verdict::Allowed);
        // Another account's caller also needs its identity policy.
        assert!(combine(Allow, NotApplicable, false) == Verdict::NotAllowed);
        assert!(combine(Allow, Allow, false) == Verdict::Allowed);
    }

    #[test]
    fn an_account_principal_delegates_to_the_identity_policy() {
        assert!(combine(AllowAccount, Allow, true) == Verdict::Allowed);
        assert!(combine(AllowAccount, NotApplicable, true) == Verdict::NotAllowed);
        assert!(combine(AllowAccount, AllowAccount, true) == Verdict::NotAllowed);
        assert!(combine(AllowAccount, Allow, false) == Verdict::Allowed);
    }

    #[test]
    fn nothing_in_the_key_policy_leaves_it_to_grants() {
        for identity in [Allow, AllowAccount, NotApplicable] {
            for same in [true, false] {
                assert!(combine(NotApplicable, identity, same) == Verdict::NotAllowed);
            }
        }
    }

    #[test]
    fn only_awss_cross_account_actions_are_listed() {
        for action in [
            "kms:Decrypt",
            "kms:CreateGrant",
            "kms:DescribeKey",
            "kms:ReEncryptTo",
        ] {
            assert!(CROSS_ACCOUNT_ACTIONS.contains(&action), "{action}");
        }
        for action in [
            "kms:PutKeyPolicy",
            "kms:DisableKey",
            "kms:ScheduleKeyDeletion",
            "kms:TagResource",
            "kms:CreateAlias",
            "kms:UpdateAlias",
            "kms:ReplicateKey",
            "kms:GetKeyPolicy",
            "kms:ListResourceTags",
        ] {
            assert!(!CROSS_ACCOUNT_ACTIONS.contains(&action), "{action}");
        }
    }
}
