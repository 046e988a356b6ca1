//! TagResource, UntagResource, ListResourceTags.

use super::key_ref::Aliases;
use super::paging::{self, Page};
use super::{Caller, Kms, KmsError, KmsResult, validate};
use crate::store::Tag;
use std::collections::BTreeSet;

impl Kms {
    /// TagResource: adds or overwrites tags, keeping at most 50 on the key.
    pub fn tag_resource(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        tags: Option<Vec<Tag>>,
    ) -> KmsResult<()> {
        let key = self.load_key(
            caller,
            validate::required(key_id, "keyId")?,
            Aliases::Refused,
            "kms:TagResource",
            None,
        )?;
        let tags = validate::required(tags, "tags")?;
        validate::tags(&tags)?;
        super::require_not_pending_deletion(&key)?;
        let mut names: BTreeSet<String> = self
            .store
            .tags(&caller.region, &key.key_id)?
            .into_iter()
            .map(|t| t.key)
            .collect();
        names.extend(tags.iter().map(|t| t.key.clone()));
        if names.len() > validate::MAX_TAGS {
            return Err(KmsError::LimitExceeded(format!(
                "A key can have at most {} tags; this request would leave {}.",
                validate::MAX_TAGS,
                names.len()
            )));
        }
        self.store.put_tags(&caller.region, &key.key_id, &tags)?;
        Ok(())
    }

    /// UntagResource.
    pub fn untag_resource(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        tag_keys: Option<Vec<String>>,
    ) -> KmsResult<()> {
        let key = self.load_key(
            caller,
            validate::required(key_id, "keyId")?,
            Aliases::Refused,
            "kms:UntagResource",
            None,
        )?;
        let tag_keys = validate::required(tag_keys, "tagKeys")?;
        for k in &tag_keys {
            validate::byte_length(k.chars().count(), 1, 128, "tagKeys")?;
        }
        super::require_not_pending_deletion(&key)?;
        self.store
            .remove_tags(&caller.region, &key.key_id, &tag_keys)?;
        Ok(())
    }

    /// ListResourceTags, paginated by tag key.
    pub fn list_resource_tags(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        limit: Option<i64>,
        marker: Option<&str>,
    ) -> KmsResult<Page<Tag>> {
        let key = self.load_key(
            caller,
            validate::required(key_id, "keyId")?,
            Aliases::Refused,
            "kms:ListResourceTags",
            None,
        )?;
        let limit = paging::limit(limit, 50, 50)?;
        let after = paging::after(marker)?;
        let tags: Vec<Tag> = self
            .store
            .tags(&caller.region, &key.key_id)?
            .into_iter()
            .filter(|t| t.key > after)
            .take(limit + 1)
            .collect();
        Ok(paging::page(tags, limit, |t| t.key.as_str()))
    }
}
