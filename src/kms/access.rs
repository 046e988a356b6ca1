//! Who may do what: every request is checked against the key's policy, the
//! caller's identity policy and the key's grants. Explicit denies win; an
//! account principal in a key policy delegates to the identity policy; a
//! caller without an identity policy may do everything its account allows.

use super::{Caller, EncryptionContext, Kms, KmsError, KmsResult, alias_arn, key_arn_in};
use crate::authz::{ConditionContext, Decision, Policy, PolicyKind, Request};
use crate::store::KeyRecord;
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

/// The condition keys of a request.
fn condition_context(
    caller: &Caller,
    key: Option<&KeyRecord>,
    context: Option<&EncryptionContext>,
) -> ConditionContext {
    let mut c = ConditionContext::new();
    c.set("kms:CallerAccount", [caller.account_id.as_str()])
        .set("aws:PrincipalArn", [caller.principal.arn.as_str()])
        .set("aws:PrincipalAccount", [caller.account_id.as_str()])
        .set("aws:RequestedRegion", [caller.region.as_str()])
        .set("kms:GrantIsForAWSResource", ["false"]);
    if let Some(key) = key {
        c.set("kms:KeySpec", [key.key_spec.as_str()])
            .set("kms:KeyUsage", [key.key_usage.as_str()])
            .set("kms:KeyOrigin", [key.origin.as_str()])
            .set(
                "kms:MultiRegion",
                [if key.multi_region { "true" } else { "false" }],
            );
    }
    if let Some(context) = context {
        c.set(
            "kms:EncryptionContextKeys",
            context.keys().map(String::as_str),
        );
        for (k, v) in context {
            c.set(&format!("kms:EncryptionContext:{k}"), [v.as_str()]);
        }
    }
    c
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

fn denied(caller: &Caller, action: &str, resource: &str, why: &str) -> KmsError {
    KmsError::AccessDenied(format!(
        "User: {} is not authorized to perform: {action} on resource: {resource} because {why}",
        caller.principal.arn
    ))
}

impl Kms {
    /// Checks that the caller may perform `action` on `key`.
    pub(super) fn authorize(
        &self,
        caller: &Caller,
        action: &str,
        key: &KeyRecord,
        context: Option<&EncryptionContext>,
    ) -> KmsResult<()> {
        let resource = key_arn_in(&key.region, &key.account_id, &key.key_id);
        if caller.account_id != key.account_id && !CROSS_ACCOUNT_ACTIONS.contains(&action) {
            return Err(denied(
                caller,
                action,
                &resource,
                "this operation cannot be performed on a KMS key in a different AWS account",
            ));
        }
        match self.policies_allow(caller, action, key, context) {
            Verdict::Denied => Err(denied(
                caller,
                action,
                &resource,
                "an explicit deny applies",
            )),
            Verdict::Allowed => Ok(()),
            Verdict::NotAllowed if self.grant_allows(caller, key, action, context)? => Ok(()),
            Verdict::NotAllowed => Err(denied(
                caller,
                action,
                &resource,
                "no key policy, identity policy or grant allows it",
            )),
        }
    }

    /// What the key policy and the identity policy (without grants) say.
    pub(super) fn policies_allow(
        &self,
        caller: &Caller,
        action: &str,
        key: &KeyRecord,
        context: Option<&EncryptionContext>,
    ) -> Verdict {
        let resource = key_arn_in(&key.region, &key.account_id, &key.key_id);
        let conditions = condition_context(caller, Some(key), context);
        let request = Request {
            principal_arn: &caller.principal.arn,
            principal_account: &caller.account_id,
            action,
            resource: &resource,
            context: &conditions,
        };
        let by_key = self
            .policies
            .get(key)
            .map_or(Decision::NotApplicable, |p| p.evaluate(&request));
        let by_identity = caller
            .principal
            .identity_policy
            .as_ref()
            .map_or(Decision::Allow, |p| p.evaluate(&request));
        if by_key == Decision::Deny || by_identity == Decision::Deny {
            return Verdict::Denied;
        }
        let same_account = caller.account_id == key.account_id;
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

    /// Checks an action that names no key (CreateKey, ListKeys, ...)
    /// against the caller's identity policy alone.
    pub(super) fn authorize_account(&self, caller: &Caller, action: &str) -> KmsResult<()> {
        let resource = key_arn_in(&caller.region, &caller.account_id, "*");
        self.authorize_identity(caller, action, &resource)
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
        self.authorize_identity(caller, action, &alias_arn(caller, alias_name))
    }

    /// What the caller's identity policy alone says about `action` on
    /// `resource`; a caller without one may do what its account may.
    fn authorize_identity(&self, caller: &Caller, action: &str, resource: &str) -> KmsResult<()> {
        let Some(policy) = &caller.principal.identity_policy else {
            return Ok(());
        };
        let conditions = condition_context(caller, None, None);
        let request = Request {
            principal_arn: &caller.principal.arn,
            principal_account: &caller.account_id,
            action,
            resource,
            context: &conditions,
        };
        match policy.evaluate(&request) {
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
