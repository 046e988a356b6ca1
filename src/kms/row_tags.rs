//! A region's material rows tagged before its token serves (ADR 0025).

use super::current;
use super::enrolment::EnrolmentError;
use crate::hsm::Hsm;
use crate::store::Store;

/// Tags the region's material rows that have no tag, the first time this
/// node's token serves the region with row tags, and marks the token so
/// that it never does so again: afterwards an untagged row is refused, so
/// deleting a row's tag in the store does not get it tagged anew. On a
/// marked token, untagged rows are only counted and logged. Returns how
/// many rows were tagged.
pub fn adopt_row_tags(store: &Store, hsm: &Hsm, region: &str) -> Result<usize, EnrolmentError> {
    let store_failed = |e| EnrolmentError::Store(region.to_string(), e);
    let hsm_failed = |e| EnrolmentError::Hsm(region.to_string(), e);
    let untagged = store.untagged_materials(region).map_err(store_failed)?;
    if hsm.requires_row_tags().map_err(hsm_failed)? {
        if !untagged.is_empty() {
            tracing::error!(
                region,
                rows = untagged.len(),
                "material rows without a tag: they are refused (altered in the store, or \
                 written by an older Trent after this node first served the region)"
            );
        }
        return Ok(0);
    }
    let mut tagged = 0;
    for (key, material) in &untagged {
        let tag = hsm
            .tag_material(&current::row_in(region, key, material))
            .map_err(hsm_failed)?;
        if store
            .set_material_tag(region, &key.key_id, &material.material_id, &tag)
            .map_err(store_failed)?
        {
            tagged += 1;
        }
    }
    hsm.require_row_tags().map_err(hsm_failed)?;
    if tagged > 0 {
        tracing::info!(
            region,
            rows = tagged,
            "tagged the material rows written before row tags"
        );
    }
    Ok(tagged)
}
