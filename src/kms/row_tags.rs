//! A region's row-tag key settled, and its rows tagged once, before its
//! token serves (ADR 0025).

use super::current;
use super::enrolment::EnrolmentError;
use crate::hsm::{Hsm, HsmError, RowTagsState};
use crate::store::Store;

/// Settles the region's row tags on this node's token, which then makes and
/// checks tags with the region's row-tag key:
///
/// - the store names a row-tag key: the token uses it, and from then on
///   refuses untagged rows (a new member of a region whose rows are tagged
///   tags nothing);
/// - the store names none and the token has served the region with one, or
///   rows in the store carry tags: the store was altered, and the region is
///   refused;
/// - the store names none, nor do its rows carry tags: the region has never
///   had tags. The node makes the key and, if it names it first, tags every
///   row (resumed at the next start if cut short), then requires tags.
///
/// Returns how many rows it tagged.
pub fn adopt_row_tags(store: &Store, hsm: &Hsm, region: &str) -> Result<usize, EnrolmentError> {
    let store_failed = |e| EnrolmentError::Store(region.to_string(), e);
    let hsm_failed = |e| EnrolmentError::Hsm(region.to_string(), e);
    let altered = |why: &str| {
        hsm_failed(HsmError::RowTagKey(format!(
            "the store names none, yet {why}: the store was altered or replaced (restore it \
             from a backup)"
        )))
    };
    let mut state = hsm.row_tags_state().map_err(hsm_failed)?;
    let tag_key = match store.row_tag_key(region).map_err(store_failed)? {
        Some(wrapped) => wrapped,
        None if state != RowTagsState::Unmarked => {
            return Err(altered("this token served the region with one"));
        }
        None if store.has_tagged_materials(region).map_err(store_failed)? => {
            return Err(altered("the region's rows carry tags"));
        }
        None => {
            let made = hsm.new_row_tag_key().map_err(hsm_failed)?;
            let named = store
                .claim_row_tag_key(region, &made)
                .map_err(store_failed)?;
            if named {
                state = RowTagsState::Tagging;
                hsm.set_row_tags_state(state).map_err(hsm_failed)?;
                made
            } else {
                store
                    .row_tag_key(region)
                    .map_err(store_failed)?
                    .ok_or_else(|| altered("a node named one a moment ago"))?
            }
        }
    };
    hsm.use_row_tag_key(&tag_key).map_err(hsm_failed)?;
    let mut tagged = 0;
    if state == RowTagsState::Tagging {
        for (key, material) in store.untagged_materials(region).map_err(store_failed)? {
            let tag = hsm
                .tag_material(&current::row_in(region, &key, &material))
                .map_err(hsm_failed)?;
            if store
                .set_material_tag(region, &key.key_id, &material.material_id, &tag)
                .map_err(store_failed)?
            {
                tagged += 1;
            }
        }
        tracing::info!(
            region,
            rows = tagged,
            "tagged the material rows written before row tags"
        );
    }
    hsm.set_row_tags_state(RowTagsState::Required)
        .map_err(hsm_failed)?;
    Ok(tagged)
}
