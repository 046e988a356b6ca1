//! A key's current material as the token takes it.

use super::{Kms, KmsError, KmsResult, specs};
use crate::hsm::{MaterialRef, WrappedMaterial};
use crate::model::{KeyRecord, MaterialRecord};

impl Kms {
    /// The key's current material record.
    pub(super) fn current_material(&self, key: &KeyRecord) -> KmsResult<MaterialRecord> {
        self.store
            .material(&key.region, &key.key_id, &key.current_material_id)?
            .ok_or_else(|| {
                KmsError::Internal(format!("key {} lacks its current material", key.key_id))
            })
    }
}

/// Names the key's current material for the token.
pub(super) fn reference(key: &KeyRecord) -> MaterialRef {
    MaterialRef {
        key_id: key.key_id.clone(),
        material_id: key.current_material_id.clone(),
        kind: specs::kind_of(key),
    }
}

/// The key's current material, wrapped, as the token takes it.
pub(super) fn wrapped<'a>(key: &KeyRecord, material: &'a MaterialRecord) -> WrappedMaterial<'a> {
    WrappedMaterial {
        reference: reference(key),
        wrapped: &material.wrapped,
    }
}

/// The public key of an asymmetric key's material.
pub(super) fn public_key<'a>(key: &KeyRecord, material: &'a MaterialRecord) -> KmsResult<&'a [u8]> {
    material.public_key.as_deref().ok_or_else(|| {
        KmsError::Internal(format!("asymmetric key {} has no public key", key.key_id))
    })
}
