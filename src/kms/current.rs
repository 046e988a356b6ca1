//! A key's current material as the token takes it.

use super::{Kms, KmsError, KmsResult, specs};
use crate::hsm::{MaterialRef, RowBinding, WrappedMaterial};
use crate::model::{KeyRecord, MaterialRecord};
use std::sync::Arc;

impl Kms {
    /// The key's current material record.
    pub(super) fn current_material(&self, key: &KeyRecord) -> KmsResult<Arc<MaterialRecord>> {
        self.store
            .material(&key.region, &key.key_id, &key.current_material_id)?
            .ok_or_else(|| {
                KmsError::Internal(format!("key {} lacks its current material", key.key_id))
            })
    }

    /// `material` with the tag of its row as a material of `key` in
    /// `region`, made in that region's token (a tag it had is replaced).
    pub(super) fn tagged(
        &self,
        region: &str,
        key: &KeyRecord,
        mut material: MaterialRecord,
    ) -> KmsResult<MaterialRecord> {
        let tag = self
            .hsm(region)?
            .tag_material(&row_in(region, key, &material))?;
        material.tag = Some(tag);
        Ok(material)
    }
}

/// The key's material, wrapped, as the token takes it, with its row and
/// the row's tag.
pub(super) fn wrapped<'a>(key: &'a KeyRecord, material: &'a MaterialRecord) -> WrappedMaterial<'a> {
    row_in(&key.region, key, material)
}

/// A material of `key` as its row in `region` (a copy of a multi-Region
/// key there) holds it.
pub(super) fn row_in<'a>(
    region: &'a str,
    key: &'a KeyRecord,
    material: &'a MaterialRecord,
) -> WrappedMaterial<'a> {
    WrappedMaterial {
        reference: MaterialRef {
            key_id: key.key_id.clone(),
            material_id: material.material_id.clone(),
            kind: specs::kind_of(key),
        },
        wrapped: &material.wrapped,
        row: RowBinding {
            region,
            key_spec: key.key_spec.as_str(),
            key_usage: key.key_usage.as_str(),
            public_key: material.public_key.as_deref(),
            tag: material.tag.as_deref(),
        },
    }
}

/// The public key of an asymmetric key's material.
pub(super) fn public_key<'a>(key: &KeyRecord, material: &'a MaterialRecord) -> KmsResult<&'a [u8]> {
    material.public_key.as_deref().ok_or_else(|| {
        KmsError::Internal(format!("asymmetric key {} has no public key", key.key_id))
    })
}
