//! TagResource, UntagResource, ListResourceTags.

use super::condition_keys::Facts;
use super::invalid::{Field, TagProblem};
use super::key_ref::Aliases;
use super::paging::{self, Page};
use super::{Caller, Kms, KmsError, KmsResult, validate};
use crate::model::Tag;
use crate::store::TagsPut;

impl Kms {
    /// TagResource: adds or overwrites tags, keeping at most 50 on the key.
    pub fn tag_resource(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        tags: Option<Vec<Tag>>,
    ) -> KmsResult<()> {
        let tags = validate::required(tags, Field::Tags)?;
        validate::tags(&tags)?;
        let key = self.load_key(
            caller,
            validate::required(key_id, Field::KeyId)?,
            Aliases::Refused,
            "kms:TagResource",
            &Facts::default().with_tags(tags.iter().map(|t| (t.key.as_str(), t.value.as_str()))),
        )?;
        super::require_not_pending_deletion(&key)?;
        match self
            .store
            .put_tags(&caller.region, &key.key_id, &tags, validate::MAX_TAGS)?
        {
            TagsPut::Done => Ok(()),
            TagsPut::TooMany(count) => Err(KmsError::LimitExceeded(format!(
                "A key can have at most {} tags; this request would leave {count}.",
                validate::MAX_TAGS
            ))),
            TagsPut::KeyUnavailable => Err(self.refusal_now(&key)),
            TagsPut::CaseVariant(had, given) => {
                Err(KmsError::Tag(TagProblem::CaseVariant(had, given)))
            }
        }
    }

    /// UntagResource.
    pub fn untag_resource(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        tag_keys: Option<Vec<String>>,
    ) -> KmsResult<()> {
        let tag_keys = validate::required(tag_keys, Field::TagKeys)?;
        for k in &tag_keys {
            validate::length(k.chars().count(), 1, 128, Field::TagKeys)?;
        }
        let key = self.load_key(
            caller,
            validate::required(key_id, Field::KeyId)?,
            Aliases::Refused,
            "kms:UntagResource",
            &Facts::default().with("aws:TagKeys", tag_keys.iter().cloned()),
        )?;
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
        let key_id = validate::key_id(key_id)?;
        let limit = paging::limit(limit, 50, 50)?;
        let after = paging::after(marker)?;
        let key = self.load_key(
            caller,
            key_id,
            Aliases::Refused,
            "kms:ListResourceTags",
            &Facts::NONE,
        )?;
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
