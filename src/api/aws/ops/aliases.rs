//! Aliases: CreateAlias, UpdateAlias, DeleteAlias and ListAliases.

use super::{OpResult, done, parse, reply};
use crate::api::aws::shapes::{Epoch, KeyPaging, PageEnd};
use crate::kms::{Caller, Kms, alias_arn};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AliasTarget {
    alias_name: Option<String>,
    target_key_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListAliasesResponse<'a> {
    aliases: Vec<AliasEntry<'a>>,
    #[serde(flatten)]
    page: PageEnd,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AliasEntry<'a> {
    alias_name: &'a str,
    alias_arn: String,
    target_key_id: &'a str,
    creation_date: Epoch,
    last_updated_date: Epoch,
}

/// CreateAlias.
pub fn create_alias(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: AliasTarget = parse(body)?;
    kms.create_alias(caller, r.alias_name.as_deref(), r.target_key_id.as_deref())?;
    done()
}

/// UpdateAlias.
pub fn update_alias(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: AliasTarget = parse(body)?;
    kms.update_alias(caller, r.alias_name.as_deref(), r.target_key_id.as_deref())?;
    done()
}

/// DeleteAlias.
pub fn delete_alias(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: AliasTarget = parse(body)?;
    kms.delete_alias(caller, r.alias_name.as_deref())?;
    done()
}

/// ListAliases.
pub fn list_aliases(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: KeyPaging = parse(body)?;
    let page = kms.list_aliases(caller, r.key_id.as_deref(), r.limit, r.marker.as_deref())?;
    let aliases = page
        .items
        .iter()
        .map(|a| AliasEntry {
            alias_name: &a.alias_name,
            alias_arn: alias_arn(caller, &a.alias_name),
            target_key_id: &a.key_id,
            creation_date: Epoch(a.creation_date),
            last_updated_date: Epoch(a.last_updated),
        })
        .collect();
    reply(ListAliasesResponse {
        aliases,
        page: PageEnd::new(page.next_marker),
    })
}
