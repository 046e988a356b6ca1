//! Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant and
//! RevokeGrant.

use super::{GrantTokens, OpResult, check_grant_tokens, done, parse, reply};
use crate::api::aws::shapes::{Epoch, PageEnd};
use crate::kms::{
    Caller, GrantConstraints, GrantInput, GrantRecord, GrantRef, Kms, KmsError, Page,
    constraints_of,
};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateGrant {
    key_id: Option<String>,
    grantee_principal: Option<String>,
    retiring_principal: Option<String>,
    operations: Option<Vec<String>>,
    constraints: Option<GrantConstraints>,
    name: Option<String>,
    dry_run: Option<bool>,
    grantee_service_principal: Option<String>,
    retiring_service_principal: Option<String>,
    grant_tokens: GrantTokens,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListGrants {
    key_id: Option<String>,
    grant_id: Option<String>,
    grantee_principal: Option<String>,
    grantee_service_principal: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListRetirableGrants {
    retiring_principal: Option<String>,
    retiring_service_principal: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GrantNamed {
    grant_token: Option<String>,
    key_id: Option<String>,
    grant_id: Option<String>,
    dry_run: Option<bool>,
}

impl GrantNamed {
    fn grant(&self) -> GrantRef<'_> {
        GrantRef {
            token: self.grant_token.as_deref(),
            key_id: self.key_id.as_deref(),
            grant_id: self.grant_id.as_deref(),
            dry_run: self.dry_run.unwrap_or(false),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CreateGrantResponse {
    grant_id: String,
    grant_token: String,
}

/// Response of ListGrants and ListRetirableGrants.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListGrantsResponse<'a> {
    grants: Vec<GrantEntry<'a>>,
    #[serde(flatten)]
    page: PageEnd,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GrantEntry<'a> {
    key_id: String,
    grant_id: &'a str,
    creation_date: Epoch,
    grantee_principal: &'a str,
    issuing_account: String,
    operations: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retiring_principal: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    constraints: Option<GrantConstraints>,
}

impl<'a> GrantEntry<'a> {
    /// A grant on the key `key_arn` as the listings show it.
    fn new(key_arn: String, g: &'a GrantRecord) -> Self {
        GrantEntry {
            key_id: key_arn,
            grant_id: &g.grant_id,
            creation_date: Epoch(g.creation_date),
            grantee_principal: &g.grantee,
            issuing_account: format!("arn:aws:iam::{}:root", g.issuing_account),
            operations: &g.operations,
            name: g.name.as_deref(),
            retiring_principal: g.retiring.as_deref(),
            constraints: constraints_of(g),
        }
    }
}

/// CreateGrant.
pub fn create_grant(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: CreateGrant = parse(body)?;
    check_grant_tokens(&r.grant_tokens)?;
    let created = kms.create_grant(
        caller,
        r.key_id.as_deref(),
        GrantInput {
            grantee: r.grantee_principal,
            retiring: r.retiring_principal,
            operations: r.operations,
            constraints: r.constraints,
            name: r.name,
            dry_run: r.dry_run.unwrap_or(false),
            service_principals: (r.grantee_service_principal, r.retiring_service_principal),
        },
    )?;
    reply(CreateGrantResponse {
        grant_id: created.grant_id,
        grant_token: created.token,
    })
}

/// ListGrants.
pub fn list_grants(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: ListGrants = parse(body)?;
    let page = kms.list_grants(
        caller,
        r.key_id.as_deref(),
        r.grant_id.as_deref(),
        (
            r.grantee_principal.as_deref(),
            r.grantee_service_principal.as_deref(),
        ),
        r.limit,
        r.marker.as_deref(),
    )?;
    grants_page(kms, page)
}

/// ListRetirableGrants.
pub fn list_retirable_grants(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: ListRetirableGrants = parse(body)?;
    let page = kms.list_retirable_grants(
        caller,
        (
            r.retiring_principal.as_deref(),
            r.retiring_service_principal.as_deref(),
        ),
        r.limit,
        r.marker.as_deref(),
    )?;
    grants_page(kms, page)
}

/// The response of ListGrants and ListRetirableGrants.
fn grants_page(kms: &Kms, page: Page<GrantRecord>) -> OpResult {
    reply(ListGrantsResponse {
        grants: page
            .items
            .iter()
            .map(|g| Ok(GrantEntry::new(kms.grant_key_arn(g)?, g)))
            .collect::<Result<_, KmsError>>()?,
        page: PageEnd::new(page.next_marker),
    })
}

/// RetireGrant.
pub fn retire_grant(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: GrantNamed = parse(body)?;
    kms.retire_grant(caller, r.grant())?;
    done()
}

/// RevokeGrant.
pub fn revoke_grant(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: GrantNamed = parse(body)?;
    kms.revoke_grant(caller, r.grant())?;
    done()
}
