//! The condition keys of a request, with the values AWS would supply: who
//! calls and from where, the key's properties, and what the operation's
//! request says (its encryption context, the grant it would create, ...).
//! Keys that cost a store read or formatting are computed only when a
//! policy that decides the request mentions them.

use super::{Caller, EncryptionContext, Kms, KmsResult};
use crate::authz::{ConditionContext, Policy};
use crate::model::KeyRecord;

/// What a request adds to the condition keys besides its caller and key.
#[derive(Debug, Default)]
pub(super) struct Facts<'a> {
    /// The encryption context of a cryptographic operation; `Some` marks
    /// one (it then also has `kms:EncryptionAlgorithm`).
    pub context: Option<&'a EncryptionContext>,
    /// The encryption context of the constraint CreateGrant would create
    /// (its keys are supplied as for a context, without an algorithm).
    pub constraint_context: Option<&'a EncryptionContext>,
    /// Other request-specific keys and their values.
    pub keys: Vec<(String, Vec<String>)>,
}

impl<'a> Facts<'a> {
    /// A request that adds nothing.
    pub const NONE: Facts<'static> = Facts {
        context: None,
        constraint_context: None,
        keys: Vec::new(),
    };

    /// A cryptographic operation with encryption context `context`.
    pub fn context(context: &'a EncryptionContext) -> Self {
        Facts {
            context: Some(context),
            ..Facts::default()
        }
    }

    /// Adds a request-specific key.
    pub fn with<I, V>(mut self, key: &str, values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<String>,
    {
        self.keys.push((
            key.to_string(),
            values.into_iter().map(Into::into).collect(),
        ));
        self
    }

    /// Adds `aws:RequestTag/<key>` for each tag and `aws:TagKeys`.
    pub fn with_tags<'t>(mut self, tags: impl IntoIterator<Item = (&'t str, &'t str)>) -> Self {
        let mut names = Vec::new();
        for (k, v) in tags {
            self.keys
                .push((format!("aws:RequestTag/{k}"), vec![v.to_string()]));
            names.push(k.to_string());
        }
        self.with("aws:TagKeys", names)
    }
}

/// Actions for which AWS supplies `kms:GrantIsForAWSResource`.
const GRANT_ACTIONS: &[&str] = &["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"];

impl Kms {
    /// The condition keys of `caller`'s request for `action` on `key` (none
    /// for account-level actions), for deciding with `policies`.
    pub(super) fn condition_keys(
        &self,
        caller: &Caller,
        action: &str,
        key: Option<&KeyRecord>,
        facts: &Facts<'_>,
        request_alias: Option<&str>,
        policies: &[&Policy],
    ) -> KmsResult<ConditionContext> {
        let mut c = ConditionContext::new();
        if !policies.iter().any(|p| p.has_conditions()) {
            // Nothing would read them (most keys have the default policy).
            return Ok(c);
        }
        let mentioned = |k: &str| policies.iter().any(|p| p.mentions(k));
        // A session's aws:PrincipalArn is its role's ARN, as in IAM.
        let principal_arn = crate::authz::role_of_session(&caller.principal.arn)
            .unwrap_or_else(|| caller.principal.arn.clone());
        c.set("kms:CallerAccount", [caller.account_id.as_str()])
            .set("aws:PrincipalArn", [principal_arn])
            .set("aws:PrincipalAccount", [caller.account_id.as_str()])
            .set("aws:RequestedRegion", [caller.region.as_str()])
            .set("aws:ViaAWSService", ["false"])
            .set(
                "aws:SecureTransport",
                [bool_str(caller.origin.secure_transport)],
            );
        if let Some(ip) = caller.origin.source_ip {
            c.set("aws:SourceIp", [ip.to_string()]);
        }
        if mentioned("aws:CurrentTime") || mentioned("aws:EpochTime") {
            let now = self.now();
            c.set("aws:EpochTime", [(now / 1000).to_string()]);
            if let Ok(t) = time::OffsetDateTime::from_unix_timestamp(now / 1000) {
                let format = time::format_description::well_known::Rfc3339;
                if let Ok(text) = t.format(&format) {
                    c.set("aws:CurrentTime", [text]);
                }
            }
        }
        if GRANT_ACTIONS.contains(&action) {
            c.set("kms:GrantIsForAWSResource", ["false"]);
        }
        if let Some(key) = key {
            self.key_keys(&mut c, key, &mentioned)?;
        }
        if let Some(context) = facts.context {
            c.set("kms:EncryptionAlgorithm", ["SYMMETRIC_DEFAULT"]);
            add_context(&mut c, context);
        }
        if let Some(context) = facts.constraint_context {
            add_context(&mut c, context);
        }
        if let Some(alias) = request_alias {
            c.set("kms:RequestAlias", [alias]);
        }
        for (k, values) in &facts.keys {
            for v in values {
                c.add(k, v.as_str());
            }
        }
        Ok(c)
    }

    /// The keys that describe the key itself.
    fn key_keys(
        &self,
        c: &mut ConditionContext,
        key: &KeyRecord,
        mentioned: &dyn Fn(&str) -> bool,
    ) -> KmsResult<()> {
        c.set("kms:KeySpec", [key.key_spec.as_str()])
            .set("kms:CustomerMasterKeySpec", [key.key_spec.as_str()])
            .set("kms:KeyUsage", [key.key_usage.as_str()])
            .set("kms:CustomerMasterKeyUsage", [key.key_usage.as_str()])
            .set("kms:KeyOrigin", [key.origin.as_str()])
            .set("kms:MultiRegion", [bool_str(key.multi_region)]);
        if key.multi_region && mentioned("kms:MultiRegionKeyType") {
            if let Some(copies) = self.store.multi_region(&key.key_id)? {
                let kind = if copies.primary_region == key.region {
                    "PRIMARY"
                } else {
                    "REPLICA"
                };
                c.set("kms:MultiRegionKeyType", [kind]);
            }
        }
        if mentioned("kms:ResourceAliases") {
            let aliases = self
                .store
                .aliases_of_key(&key.region, &key.account_id, &key.key_id)?;
            c.set("kms:ResourceAliases", aliases);
        }
        if mentioned("aws:ResourceTag/") {
            for tag in self.store.tags(&key.region, &key.key_id)? {
                c.set(&format!("aws:ResourceTag/{}", tag.key), [tag.value]);
            }
        }
        Ok(())
    }
}

/// `kms:EncryptionContextKeys` and `kms:EncryptionContext:<key>`. Condition
/// key names compare ignoring case, so context keys that differ only in
/// case name one condition key, which then has all their values.
fn add_context(c: &mut ConditionContext, context: &EncryptionContext) {
    c.set(
        "kms:EncryptionContextKeys",
        context.keys().map(String::as_str),
    );
    for (k, v) in context {
        c.add(&format!("kms:EncryptionContext:{k}"), v.as_str());
    }
}

fn bool_str(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}
