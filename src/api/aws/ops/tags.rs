//! Tags: TagResource, UntagResource and ListResourceTags.

use super::{OpResult, done, parse, reply};
use crate::api::aws::shapes::{
    KeyPaging, PageEnd, TagEntry, WireTag, tags_from_wire, tags_to_wire,
};
use crate::kms::{Caller, Kms};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagResource {
    key_id: Option<String>,
    tags: Option<Vec<WireTag>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UntagResource {
    key_id: Option<String>,
    tag_keys: Option<Vec<String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListResourceTagsResponse<'a> {
    tags: Vec<TagEntry<'a>>,
    #[serde(flatten)]
    page: PageEnd,
}

/// TagResource.
pub fn tag_resource(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: TagResource = parse(body)?;
    let tags = r.tags.map(tags_from_wire).transpose()?;
    kms.tag_resource(caller, r.key_id.as_deref(), tags)?;
    done()
}

/// UntagResource.
pub fn untag_resource(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: UntagResource = parse(body)?;
    kms.untag_resource(caller, r.key_id.as_deref(), r.tag_keys)?;
    done()
}

/// ListResourceTags.
pub fn list_resource_tags(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: KeyPaging = parse(body)?;
    let page = kms.list_resource_tags(caller, r.key_id.as_deref(), r.limit, r.marker.as_deref())?;
    reply(ListResourceTagsResponse {
        tags: tags_to_wire(&page.items),
        page: PageEnd::new(page.next_marker),
    })
}
