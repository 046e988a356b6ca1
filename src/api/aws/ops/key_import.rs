//! Imported key material: GetParametersForImport, ImportKeyMaterial and
//! DeleteImportedKeyMaterial.

use super::{OpResult, parse, reply};
use crate::api::aws::shapes::{Base64, Blob, Epoch};
use crate::kms::{Caller, ImportInput, Kms, PrivateKeyCarriage};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetParametersForImport {
    key_id: Option<String>,
    wrapping_algorithm: Option<String>,
    wrapping_key_spec: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetParametersForImportResponse<'a> {
    key_id: &'a str,
    import_token: Base64<'a>,
    public_key: Base64<'a>,
    parameters_valid_to: Epoch,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ImportKeyMaterial {
    key_id: Option<String>,
    import_token: Option<Blob>,
    encrypted_key_material: Option<Blob>,
    expiration_model: Option<String>,
    valid_to: Option<Epoch>,
    import_type: Option<String>,
    key_material_description: Option<String>,
    key_material_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct KeyMaterialResponse<'a> {
    key_id: &'a str,
    key_material_id: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteImportedKeyMaterial {
    key_id: Option<String>,
    key_material_id: Option<String>,
}

/// GetParametersForImport.
pub fn get_parameters_for_import(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: GetParametersForImport = parse(body)?;
    let out = kms.get_parameters_for_import(
        caller,
        r.key_id.as_deref(),
        r.wrapping_algorithm.as_deref(),
        r.wrapping_key_spec.as_deref(),
    )?;
    reply(GetParametersForImportResponse {
        key_id: &out.key_arn,
        import_token: Base64(&out.import_token),
        public_key: Base64(&out.public_key),
        parameters_valid_to: Epoch(out.valid_to),
    })
}

/// ImportKeyMaterial.
pub fn import_key_material(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: ImportKeyMaterial = parse(body)?;
    let (key_arn, material_id) = kms.import_key_material(
        caller,
        ImportInput {
            key_id: r.key_id.as_deref(),
            import_token: r.import_token.as_ref().map(|b| b.0.as_slice()),
            encrypted: r.encrypted_key_material.as_ref().map(|b| b.0.as_slice()),
            expiration_model: r.expiration_model.as_deref(),
            valid_to: r.valid_to.map(|t| t.0),
            import_type: r.import_type.as_deref(),
            description: r.key_material_description.as_deref(),
            material_id: r.key_material_id.as_deref(),
            private_key: PrivateKeyCarriage::Inside,
        },
    )?;
    reply(KeyMaterialResponse {
        key_id: &key_arn,
        key_material_id: &material_id,
    })
}

/// DeleteImportedKeyMaterial.
pub fn delete_imported_key_material(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: DeleteImportedKeyMaterial = parse(body)?;
    let out = kms.delete_imported_key_material(
        caller,
        r.key_id.as_deref(),
        r.key_material_id.as_deref(),
    )?;
    reply(KeyMaterialResponse {
        key_id: &out.key_arn,
        key_material_id: &out.material_id,
    })
}
