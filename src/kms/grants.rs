//! Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant,
//! RevokeGrant, and the check that lets a grantee in. Grants are stored
//! before CreateGrant answers, so a grant (and its token) works at once.

use super::Missing;
use super::access::Verdict;
use super::condition_keys::Facts;
use super::invalid::{Field, Invalid};
use super::key_ref::Aliases;
use super::paging::{self, Page};
use super::{
    Caller, EncryptionContext, Kms, KmsError, KmsResult, key_arn_in, record_arn, validate,
};
use crate::auth::credentials::principal_account;
use crate::authz::{Decision, names_role_of_session};
use crate::model::{GrantRecord, KeyRecord, KeySpec, KeyUsage};
use crate::store::GrantInsert;
use base64::Engine;

/// Operations a grant may allow.
const GRANT_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
    "Encapsulate",
    "Decapsulate",
];
/// The grant operations a key of `spec` and `usage` supports, beyond
/// DescribeKey, CreateGrant and RetireGrant, which every key supports.
fn grant_operations_for(spec: KeySpec, usage: KeyUsage) -> &'static [&'static str] {
    match (spec, usage) {
        (KeySpec::SymmetricDefault, _) => &[
            "Decrypt",
            "Encrypt",
            "GenerateDataKey",
            "GenerateDataKeyWithoutPlaintext",
            "ReEncryptFrom",
            "ReEncryptTo",
            "GenerateDataKeyPair",
            "GenerateDataKeyPairWithoutPlaintext",
        ],
        (_, KeyUsage::EncryptDecrypt) => &[
            "Decrypt",
            "Encrypt",
            "ReEncryptFrom",
            "ReEncryptTo",
            "GetPublicKey",
        ],
        (_, KeyUsage::SignVerify) => &["Sign", "Verify", "GetPublicKey"],
        (_, KeyUsage::GenerateVerifyMac) => &["GenerateMac", "VerifyMac"],
        (_, KeyUsage::KeyAgreement) => &["DeriveSharedSecret", "GetPublicKey"],
    }
}

/// Refuses grant operations or constraints the key's type does not
/// support, as AWS does: constraints bind only symmetric encryption keys.
fn check_grant_for_key(
    key: &KeyRecord,
    operations: &[String],
    constraints: Option<&GrantConstraints>,
) -> KmsResult<()> {
    let supported = grant_operations_for(key.key_spec, key.key_usage);
    let unsupported: Vec<String> = operations
        .iter()
        .filter(|op| {
            !matches!(op.as_str(), "DescribeKey" | "CreateGrant" | "RetireGrant")
                && !supported.contains(&op.as_str())
        })
        .cloned()
        .collect();
    if !unsupported.is_empty() {
        return Err(KmsError::Validation(Invalid::GrantOperationsForKey {
            operations: unsupported,
            spec: key.key_spec,
            usage: key.key_usage,
        }));
    }
    if key.key_spec != KeySpec::SymmetricDefault && constraints.is_some_and(|c| !c.is_empty()) {
        return Err(KmsError::Validation(Invalid::GrantConstraintsForKey(
            key.key_spec,
        )));
    }
    Ok(())
}

/// Operations that take an encryption context, to which constraints apply.
const CONTEXT_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
];

/// Encryption-context constraints of a grant.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GrantConstraints {
    /// The request's context must contain these pairs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_context_subset: Option<EncryptionContext>,
    /// The request's context must be exactly these pairs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_context_equals: Option<EncryptionContext>,
    /// AWS's `SourceArn`, the resource a service principal acts for. Trent
    /// serves no service principal, so CreateGrant refuses it rather than
    /// make a grant wider than asked; no grant carries it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_arn: Option<String>,
}

impl GrantConstraints {
    /// Whether `context` satisfies the constraints. As AWS documents, a
    /// constraint's keys compare ignoring case and its values exactly.
    fn satisfied_by(&self, context: &EncryptionContext) -> bool {
        let has = |k: &str, v: &str| {
            let k = k.to_lowercase();
            context
                .iter()
                .any(|(ck, cv)| cv == v && ck.to_lowercase() == k)
        };
        let subset = self
            .encryption_context_subset
            .as_ref()
            .is_none_or(|s| s.iter().all(|(k, v)| has(k, v)));
        let equals = self.encryption_context_equals.as_ref().is_none_or(|e| {
            e.iter().all(|(k, v)| has(k, v))
                && context.iter().all(|(ck, cv)| {
                    let ck = ck.to_lowercase();
                    e.iter().any(|(k, v)| v == cv && k.to_lowercase() == ck)
                })
        });
        subset && equals
    }

    /// True when no constraint is set.
    fn is_empty(&self) -> bool {
        self.encryption_context_subset.is_none() && self.encryption_context_equals.is_none()
    }

    /// Whether a grant with the constraints `new` can allow only requests
    /// that these constraints allow too: the rule for a grant created by a
    /// grantee whose CreateGrant right comes from a grant with these.
    fn admit(&self, new: Option<&GrantConstraints>) -> bool {
        if self.is_empty() {
            return true;
        }
        match new {
            Some(GrantConstraints {
                encryption_context_equals: Some(e),
                ..
            }) => self.satisfied_by(e),
            Some(GrantConstraints {
                encryption_context_subset: Some(s),
                ..
            }) => self.encryption_context_equals.is_none() && self.satisfied_by(s),
            _ => false,
        }
    }
}

/// CreateGrant parameters.
#[derive(Default)]
pub struct GrantInput {
    /// Who the grant lets in.
    pub grantee: Option<String>,
    /// Who may retire it.
    pub retiring: Option<String>,
    /// Operations allowed.
    pub operations: Option<Vec<String>>,
    /// Encryption-context constraints.
    pub constraints: Option<GrantConstraints>,
    /// Name, for idempotent retries.
    pub name: Option<String>,
    /// Validate only.
    pub dry_run: bool,
    /// AWS's `GranteeServicePrincipal` and `RetiringServicePrincipal`:
    /// checked against the model, then refused, as Trent serves no AWS
    /// service.
    pub service_principals: (Option<String>, Option<String>),
}

/// A created (or, for a retried named request, found) grant.
pub struct GrantCreated {
    /// Grant id.
    pub grant_id: String,
    /// Grant token.
    pub token: String,
}

/// The grant a RetireGrant or RevokeGrant request names, as given.
pub struct GrantRef<'a> {
    /// The grant's token (RetireGrant).
    pub token: Option<&'a str>,
    /// The grant's key.
    pub key_id: Option<&'a str>,
    /// The grant's id.
    pub grant_id: Option<&'a str>,
    /// Whether to stop before the grant is deleted.
    pub dry_run: bool,
}

/// The constraints stored with a grant.
pub fn constraints_of(grant: &GrantRecord) -> Option<GrantConstraints> {
    grant
        .constraints
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok())
}

/// The condition keys of a CreateGrant request, as AWS supplies them.
fn grant_facts<'a>(
    grantee: &str,
    retiring: Option<&str>,
    operations: &[String],
    constraints: Option<&'a GrantConstraints>,
) -> Facts<'a> {
    let mut facts = Facts::default()
        .with("kms:GranteePrincipal", [grantee])
        .with("kms:GrantOperations", operations.iter().cloned())
        .with("kms:RetiringPrincipal", retiring);
    // CreateGrant refuses both constraint kinds at once, before this.
    let constraint = constraints.and_then(|c| {
        c.encryption_context_subset
            .as_ref()
            .map(|s| ("EncryptionContextSubset", s))
            .or(c
                .encryption_context_equals
                .as_ref()
                .map(|e| ("EncryptionContextEquals", e)))
    });
    if let Some((kind, context)) = constraint {
        facts = facts.with("kms:GrantConstraintType", [kind]);
        facts.constraint_context = Some(context);
    }
    facts
}

fn check_principal(principal: &str, field: &str) -> KmsResult<()> {
    if principal_account(principal).is_none() {
        return Err(KmsError::InvalidArn(format!(
            "{field} '{principal}' is not a valid IAM principal ARN."
        )));
    }
    Ok(())
}

/// Grants listed per page by default.
const GRANTS_PAGE: usize = 50;
/// Most grants listed per page (AWS's documented `Limit`).
const MAX_GRANTS_PAGE: usize = 100;

/// A `GrantId` member as the model allows it: 1–128 characters.
fn grant_id_in_model(grant_id: &str) -> KmsResult<()> {
    validate::text_length(grant_id, 1, 128, Field::GrantId)
}

fn check_grant_id(grant_id: &str) -> KmsResult<()> {
    grant_id_in_model(grant_id)?;
    if grant_id.len() != 64 || !grant_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(KmsError::InvalidGrantId(format!(
            "Invalid grant id '{grant_id}'."
        )));
    }
    Ok(())
}

impl Kms {
    /// CreateGrant.
    pub fn create_grant(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        input: GrantInput,
    ) -> KmsResult<GrantCreated> {
        let source_arn = input
            .constraints
            .as_ref()
            .and_then(|c| c.source_arn.as_ref());
        let (grantee_service, retiring_service) = &input.service_principals;
        if let Some(service) = grantee_service {
            validate::service_principal(service, Field::GranteeServicePrincipal)?;
        }
        if let Some(service) = retiring_service {
            validate::service_principal(service, Field::RetiringServicePrincipal)?;
        }
        if let Some(arn) = source_arn {
            validate::source_arn(arn)?;
        }
        if grantee_service.is_some() || retiring_service.is_some() || source_arn.is_some() {
            return Err(KmsError::UnsupportedOperation(
                "Grants to service principals (GranteeServicePrincipal, \
                 RetiringServicePrincipal) and the SourceArn grant constraint are not \
                 supported: this deployment serves no AWS service."
                    .into(),
            ));
        }
        let grantee = validate::required(input.grantee, Field::GranteePrincipal)?;
        validate::principal(&grantee, Field::GranteePrincipal)?;
        check_principal(&grantee, "GranteePrincipal")?;
        if let Some(retiring) = &input.retiring {
            validate::principal(retiring, Field::RetiringPrincipal)?;
            check_principal(retiring, "RetiringPrincipal")?;
        }
        let mut operations = validate::required(input.operations, Field::Operations)?;
        validate::length(operations.len(), 1, usize::MAX, Field::Operations)?;
        for op in &operations {
            validate::one_of(op, GRANT_OPERATIONS, Field::Operations)?;
        }
        operations.sort();
        operations.dedup();
        if operations == ["CreateGrant"] {
            return Err(KmsError::Validation(Invalid::GrantOnlyCreateGrant));
        }
        if let Some(c) = &input.constraints {
            if c.encryption_context_subset.is_some() && c.encryption_context_equals.is_some() {
                return Err(KmsError::Validation(Invalid::ConstraintsBoth));
            }
        }
        if let Some(name) = &input.name {
            validate::name(name, Field::Name)?;
        }
        let facts = grant_facts(
            &grantee,
            input.retiring.as_deref(),
            &operations,
            input.constraints.as_ref(),
        );
        let key = self.load_key(
            caller,
            validate::required(key_id, Field::KeyId)?,
            Aliases::Refused,
            "kms:CreateGrant",
            &facts,
        )?;
        self.check_grant_delegation(
            caller,
            &key,
            &operations,
            input.constraints.as_ref(),
            &facts,
        )?;
        check_grant_for_key(&key, &operations, input.constraints.as_ref())?;
        super::require_not_pending_deletion(&key)?;
        super::require_enabled(&key)?;
        if input.dry_run {
            return Err(KmsError::DryRun);
        }
        let constraints = input
            .constraints
            .as_ref()
            .filter(|c| !c.is_empty())
            .map(|c| serde_json::to_string(c).expect("constraints serialize"));
        if let Some(name) = &input.name {
            let named = self.store.grants_named(&caller.region, &key.key_id, name)?;
            if let Some(same) = named.iter().find(|g| {
                g.grantee == grantee
                    && g.retiring == input.retiring
                    && g.operations == operations
                    && g.constraints == constraints
            }) {
                return Ok(GrantCreated {
                    grant_id: same.grant_id.clone(),
                    token: same.token.clone(),
                });
            }
        }
        let hsm = self.hsm(&caller.region)?;
        let grant_id = hex::encode(hsm.random(32)?);
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode([grant_id.as_bytes(), b":", hsm.random(32)?.as_slice()].concat());
        let inserted = self.store.insert_grant(
            &GrantRecord {
                grant_id: grant_id.clone(),
                region: caller.region.clone(),
                key_id: key.key_id.clone(),
                name: input.name,
                grantee,
                retiring: input.retiring,
                operations,
                constraints,
                issuing_account: caller.account_id.clone(),
                creation_date: self.now(),
                token: token.clone(),
            },
            self.settings.grants_per_key_limit,
        )?;
        match inserted {
            GrantInsert::Inserted => Ok(GrantCreated { grant_id, token }),
            GrantInsert::LimitReached => Err(KmsError::LimitExceeded(format!(
                "Key {} already has {} grants, the most a key may have.",
                record_arn(&key),
                self.settings.grants_per_key_limit
            ))),
            GrantInsert::KeyUnavailable => Err(self.refusal_now(&key)),
        }
    }

    /// ListGrants: a key's grants, optionally one grant or one grantee's.
    pub fn list_grants(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        grant_id: Option<&str>,
        (grantee, grantee_service): (Option<&str>, Option<&str>),
        limit: Option<i64>,
        marker: Option<&str>,
    ) -> KmsResult<Page<GrantRecord>> {
        if let Some(grantee) = grantee {
            validate::principal(grantee, Field::GranteePrincipal)?;
        }
        if let Some(service) = grantee_service {
            validate::service_principal(service, Field::GranteeServicePrincipal)?;
        }
        let key_id = validate::key_id(key_id)?;
        if let Some(id) = grant_id {
            grant_id_in_model(id)?;
        }
        let limit = paging::limit(limit, GRANTS_PAGE, MAX_GRANTS_PAGE)?;
        let after = paging::after(marker)?;
        let key = self.load_key(
            caller,
            key_id,
            Aliases::Refused,
            "kms:ListGrants",
            &Facts::NONE,
        )?;
        if let Some(id) = grant_id {
            check_grant_id(id)?;
        }
        let grants = self.store.grants_of_key(&caller.region, &key.key_id)?;
        let grants = grants
            .into_iter()
            .filter(|g| grant_id.is_none_or(|id| g.grant_id == id))
            .filter(|g| grantee.is_none_or(|p| g.grantee == p))
            // No grant is to a service principal: such a filter keeps none.
            .filter(|_| grantee_service.is_none())
            .collect();
        paging::page_in_order(grants, limit, &after, |g| g.grant_id.as_str())
    }

    /// ListRetirableGrants: grants in this region that `retiring` may
    /// retire, or none for a service principal (no grant names one).
    pub fn list_retirable_grants(
        &self,
        caller: &Caller,
        (retiring, retiring_service): (Option<&str>, Option<&str>),
        limit: Option<i64>,
        marker: Option<&str>,
    ) -> KmsResult<Page<GrantRecord>> {
        if let Some(retiring) = retiring {
            validate::principal(retiring, Field::RetiringPrincipal)?;
        }
        if let Some(service) = retiring_service {
            validate::service_principal(service, Field::RetiringServicePrincipal)?;
        }
        let retiring = match (retiring, retiring_service) {
            (Some(_), Some(_)) => {
                return Err(KmsError::Validation(Invalid::Exclusive(
                    Field::RetiringPrincipal,
                    Field::RetiringServicePrincipal,
                )));
            }
            (None, Some(_)) => None,
            (retiring, None) => Some(validate::required(retiring, Field::RetiringPrincipal)?),
        };
        self.authorize_account(caller, "kms:ListRetirableGrants", &Facts::NONE)?;
        let grants = match retiring {
            None => Vec::new(),
            Some(retiring) => self
                .store
                .grants_retirable_by(&caller.region, retiring)?
                .into_iter()
                .filter(|g| {
                    g.issuing_account == caller.account_id || retiring == caller.principal.arn
                })
                .collect(),
        };
        let limit = paging::limit(limit, GRANTS_PAGE, MAX_GRANTS_PAGE)?;
        let after = paging::after(marker)?;
        paging::page_in_order(grants, limit, &after, |g| g.grant_id.as_str())
    }

    /// RetireGrant, by token or by key and grant id, as the AWS developer
    /// guide's "Retiring and revoking grants" says: the grant decides, and
    /// key policies do not count. An explicit deny of `kms:RetireGrant` in
    /// the caller's identity policy refuses it. Else the retiring principal,
    /// a grantee whose grant allows RetireGrant, and the root of the account
    /// that created the grant may retire it, and so may a principal whose
    /// identity policy allows `kms:RetireGrant` on the key when it is of
    /// the key's account or of the account the grant names as its retiring
    /// principal (that account's delegation).
    pub fn retire_grant(&self, caller: &Caller, grant: GrantRef<'_>) -> KmsResult<()> {
        let GrantRef {
            token,
            key_id,
            grant_id,
            dry_run,
        } = grant;
        if let Some(token) = token {
            validate::text_length(token, 1, 8192, Field::GrantToken)?;
        }
        if let Some(key_id) = key_id {
            validate::key_reference(key_id, Field::KeyId)?;
        }
        if let Some(grant_id) = grant_id {
            grant_id_in_model(grant_id)?;
        }
        let grant = match (token, key_id, grant_id) {
            // Grants are regional: another region's token is not valid here.
            (Some(token), _, _) => self
                .store
                .grant_by_token(token)?
                .filter(|g| g.region == caller.region)
                .ok_or_else(|| {
                    KmsError::InvalidGrantToken("The grant token is not valid.".into())
                })?,
            (None, Some(key_id), Some(grant_id)) => {
                check_grant_id(grant_id)?;
                let key = self.resolve_key(caller, key_id, Aliases::Refused)?;
                self.find_grant(caller, &key, grant_id)?
            }
            _ => {
                return Err(KmsError::Validation(Invalid::GrantUnnamed));
            }
        };
        let arn = &caller.principal.arn;
        let key_account = self.grant_key_account(&grant)?;
        let key_arn = key_arn_in(&grant.region, &key_account, &grant.key_id);
        let root = format!("arn:aws:iam::{}:root", caller.account_id);
        let may = match self.identity_decision(caller, "kms:RetireGrant", &key_arn, &Facts::NONE)? {
            Decision::Deny => false,
            decision => {
                let is_caller = |p: &str| p == arn || names_role_of_session(p, arn);
                let named = grant.retiring.as_deref().is_some_and(is_caller)
                    || (is_caller(&grant.grantee)
                        && grant.operations.iter().any(|o| o == "RetireGrant"))
                    || *arn == format!("arn:aws:iam::{}:root", grant.issuing_account);
                let delegated = decision == Decision::Allow
                    && (caller.account_id == key_account
                        || grant.retiring.as_deref() == Some(root.as_str()));
                named || delegated
            }
        };
        if !may {
            return Err(KmsError::AccessDenied(format!(
                "User: {arn} is not authorized to perform: kms:RetireGrant on grant {}: an \
                 explicit deny applies, or it is not its retiring principal, a grantee allowed \
                 RetireGrant, the root of the account that created it, or allowed \
                 kms:RetireGrant by a policy",
                grant.grant_id
            )));
        }
        if dry_run {
            return Err(KmsError::DryRun);
        }
        self.store.delete_grant(&grant.grant_id)?;
        Ok(())
    }

    /// RevokeGrant.
    pub fn revoke_grant(&self, caller: &Caller, named: GrantRef<'_>) -> KmsResult<()> {
        let key_id = validate::required(named.key_id, Field::KeyId)?;
        validate::key_reference(key_id, Field::KeyId)?;
        let grant_id = validate::required(named.grant_id, Field::GrantId)?;
        grant_id_in_model(grant_id)?;
        let key = self.load_key(
            caller,
            key_id,
            Aliases::Refused,
            "kms:RevokeGrant",
            &Facts::NONE,
        )?;
        check_grant_id(grant_id)?;
        let grant = self.find_grant(caller, &key, grant_id)?;
        if named.dry_run {
            return Err(KmsError::DryRun);
        }
        self.store.delete_grant(&grant.grant_id)?;
        Ok(())
    }

    /// A caller whom only grants let call CreateGrant may create a grant
    /// only within one grant of its own that allows CreateGrant: for no
    /// operation that grant does not allow, and with constraints at least
    /// as strict as that grant's.
    fn check_grant_delegation(
        &self,
        caller: &Caller,
        key: &KeyRecord,
        operations: &[String],
        constraints: Option<&GrantConstraints>,
        facts: &Facts<'_>,
    ) -> KmsResult<()> {
        if self.policies_allow(caller, "kms:CreateGrant", key, facts, None)? == Verdict::Allowed {
            return Ok(());
        }
        let enabling = self
            .own_grants(caller, key)?
            .into_iter()
            .filter(|g| g.operations.iter().any(|o| o == "CreateGrant"))
            .any(|g| {
                operations.iter().all(|op| g.operations.contains(op))
                    && constraints_of(&g).is_none_or(|c| c.admit(constraints))
            });
        if enabling {
            return Ok(());
        }
        Err(KmsError::AccessDenied(format!(
            "User: {} may create grants on {} only for operations that one of its own grants \
             with CreateGrant allows, and with constraints at least as strict as that grant's",
            caller.principal.arn,
            record_arn(key)
        )))
    }

    /// The ARN of the key a listed grant is on, in its owner's account (a
    /// grant made from another account is still on the owner's key).
    pub fn grant_key_arn(&self, grant: &GrantRecord) -> KmsResult<String> {
        let account = self.grant_key_account(grant)?;
        Ok(key_arn_in(&grant.region, &account, &grant.key_id))
    }

    /// The account that owns the key `grant` is on (the issuing account's,
    /// should the key be gone).
    fn grant_key_account(&self, grant: &GrantRecord) -> KmsResult<String> {
        Ok(match self.store.key(&grant.region, &grant.key_id)? {
            Some(key) => key.account_id.clone(),
            None => grant.issuing_account.clone(),
        })
    }

    /// The grants on `key` whose grantee is the caller, its account, or
    /// (for an assumed-role session) its role.
    fn own_grants(&self, caller: &Caller, key: &KeyRecord) -> KmsResult<Vec<GrantRecord>> {
        let root = format!("arn:aws:iam::{}:root", caller.account_id);
        let mut grants =
            self.store
                .grants_for(&key.region, &key.key_id, [&caller.principal.arn, &root])?;
        // An assumed-role session also holds its role's grants.
        if let Some(role) = crate::authz::role_of_session(&caller.principal.arn) {
            grants.extend(
                self.store
                    .grants_for(&key.region, &key.key_id, [&role, &role])?,
            );
        }
        Ok(grants)
    }

    /// Whether a grant on `key` lets the caller perform `action`.
    pub(super) fn grant_allows(
        &self,
        caller: &Caller,
        key: &KeyRecord,
        action: &str,
        context: Option<&EncryptionContext>,
    ) -> KmsResult<bool> {
        let Some(operation) = action.strip_prefix("kms:") else {
            return Ok(false);
        };
        let empty = EncryptionContext::new();
        Ok(self
            .own_grants(caller, key)?
            .iter()
            .filter(|g| g.operations.iter().any(|o| o == operation))
            .any(|g| {
                // Constraints bind only operations that take an encryption context.
                !CONTEXT_OPERATIONS.contains(&operation)
                    || constraints_of(g).is_none_or(|c| c.satisfied_by(context.unwrap_or(&empty)))
            }))
    }

    fn find_grant(
        &self,
        caller: &Caller,
        key: &KeyRecord,
        grant_id: &str,
    ) -> KmsResult<GrantRecord> {
        self.store
            .grant(&caller.region, &key.key_id, grant_id)?
            .ok_or_else(|| {
                KmsError::NotFound(Missing::Grant {
                    grant_id: grant_id.to_string(),
                    key: record_arn(key),
                })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(pairs: &[(&str, &str)]) -> EncryptionContext {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn subset(pairs: &[(&str, &str)]) -> GrantConstraints {
        GrantConstraints {
            encryption_context_subset: Some(context(pairs)),
            ..GrantConstraints::default()
        }
    }

    fn equals(pairs: &[(&str, &str)]) -> GrantConstraints {
        GrantConstraints {
            encryption_context_equals: Some(context(pairs)),
            ..GrantConstraints::default()
        }
    }

    #[test]
    fn subset_allows_extra_pairs_equals_does_not() {
        let s = subset(&[("tenant", "A")]);
        assert!(s.satisfied_by(&context(&[("tenant", "A")])));
        assert!(s.satisfied_by(&context(&[("tenant", "A"), ("app", "x")])));
        assert!(!s.satisfied_by(&context(&[("tenant", "B")])));
        assert!(!s.satisfied_by(&context(&[])));
        let e = equals(&[("tenant", "A")]);
        assert!(e.satisfied_by(&context(&[("tenant", "A")])));
        assert!(!e.satisfied_by(&context(&[("tenant", "A"), ("app", "x")])));
        assert!(!e.satisfied_by(&context(&[])));
    }

    #[test]
    fn constraint_keys_ignore_case_values_do_not() {
        let s = subset(&[("Tenant", "A")]);
        assert!(s.satisfied_by(&context(&[("tenant", "A")])));
        assert!(!s.satisfied_by(&context(&[("tenant", "a")])));
        let e = equals(&[("tenant", "A")]);
        assert!(e.satisfied_by(&context(&[("TENANT", "A")])));
        assert!(!e.satisfied_by(&context(&[("TENANT", "a")])));
    }

    #[test]
    fn a_delegated_grant_must_be_at_least_as_strict() {
        let none = GrantConstraints::default();
        let tenant_a = equals(&[("tenant", "A")]);
        let sub_a = subset(&[("tenant", "A")]);
        // No constraint: anything goes.
        assert!(none.admit(None));
        assert!(none.admit(Some(&sub_a)));
        // Equals: only the same pairs (keys ignoring case), as Equals.
        assert!(tenant_a.admit(Some(&equals(&[("Tenant", "A")]))));
        assert!(!tenant_a.admit(None));
        assert!(!tenant_a.admit(Some(&GrantConstraints::default())));
        assert!(!tenant_a.admit(Some(&sub_a)));
        assert!(!tenant_a.admit(Some(&equals(&[("tenant", "B")]))));
        assert!(!tenant_a.admit(Some(&equals(&[("tenant", "A"), ("x", "y")]))));
        // Subset: any constraint that contains its pairs.
        assert!(sub_a.admit(Some(&sub_a)));
        assert!(sub_a.admit(Some(&subset(&[("tenant", "A"), ("app", "x")]))));
        assert!(sub_a.admit(Some(&equals(&[("tenant", "A"), ("app", "x")]))));
        assert!(!sub_a.admit(Some(&subset(&[("app", "x")]))));
        assert!(!sub_a.admit(None));
    }
}
