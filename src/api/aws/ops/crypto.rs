//! Cryptography: Encrypt, Decrypt, ReEncrypt, GenerateDataKey and
//! GenerateDataKeyWithoutPlaintext.

use super::{GrantTokens, OpResult, Recipient, check_grant_tokens, parse, refuse_recipient, reply};
use crate::api::aws::shapes::{Base64, Blob};
use crate::kms::{Caller, DryRun, EncryptionContext, Kms};
use serde::{Deserialize, Serialize};

/// The encryption algorithm of symmetric keys, and the default.
const SYMMETRIC_DEFAULT: &str = "SYMMETRIC_DEFAULT";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Encrypt {
    key_id: Option<String>,
    plaintext: Option<Blob>,
    encryption_context: Option<EncryptionContext>,
    encryption_algorithm: Option<String>,
    dry_run: Option<bool>,
    grant_tokens: GrantTokens,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Decrypt {
    key_id: Option<String>,
    ciphertext_blob: Option<Blob>,
    encryption_context: Option<EncryptionContext>,
    encryption_algorithm: Option<String>,
    dry_run: Option<bool>,
    dry_run_modifiers: Option<Vec<String>>,
    recipient: Recipient,
    grant_tokens: GrantTokens,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReEncrypt {
    ciphertext_blob: Option<Blob>,
    source_key_id: Option<String>,
    source_encryption_context: Option<EncryptionContext>,
    destination_key_id: Option<String>,
    destination_encryption_context: Option<EncryptionContext>,
    source_encryption_algorithm: Option<String>,
    destination_encryption_algorithm: Option<String>,
    dry_run: Option<bool>,
    dry_run_modifiers: Option<Vec<String>>,
    grant_tokens: GrantTokens,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GenerateDataKey {
    key_id: Option<String>,
    key_spec: Option<String>,
    number_of_bytes: Option<i64>,
    encryption_context: Option<EncryptionContext>,
    dry_run: Option<bool>,
    recipient: Recipient,
    grant_tokens: GrantTokens,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EncryptResponse<'a> {
    ciphertext_blob: Base64<'a>,
    key_id: &'a str,
    encryption_algorithm: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DecryptResponse<'a> {
    key_id: &'a str,
    plaintext: Base64<'a>,
    encryption_algorithm: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_material_id: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ReEncryptResponse<'a> {
    ciphertext_blob: Base64<'a>,
    source_key_id: &'a str,
    key_id: &'a str,
    source_encryption_algorithm: &'a str,
    destination_encryption_algorithm: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_key_material_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    destination_key_material_id: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GenerateDataKeyResponse<'a> {
    ciphertext_blob: Base64<'a>,
    key_id: &'a str,
    key_material_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    plaintext: Option<Base64<'a>>,
}

/// Encrypt.
pub fn encrypt(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: Encrypt = parse(body)?;
    check_grant_tokens(&r.grant_tokens)?;
    let out = kms.encrypt(
        caller,
        r.key_id.as_deref(),
        r.plaintext.as_ref().map(|b| b.0.as_slice()),
        &r.encryption_context.unwrap_or_default(),
        r.encryption_algorithm.as_deref(),
        r.dry_run.unwrap_or(false),
    )?;
    reply(EncryptResponse {
        ciphertext_blob: Base64(&out.ciphertext),
        key_id: &out.key_arn,
        encryption_algorithm: r
            .encryption_algorithm
            .as_deref()
            .unwrap_or(SYMMETRIC_DEFAULT),
    })
}

/// Decrypt.
pub fn decrypt(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: Decrypt = parse(body)?;
    check_grant_tokens(&r.grant_tokens)?;
    refuse_recipient(&r.recipient)?;
    let dry_run = DryRun::of(r.dry_run, r.dry_run_modifiers.as_deref())?;
    let out = kms.decrypt(
        caller,
        r.key_id.as_deref(),
        r.ciphertext_blob.as_ref().map(|b| b.0.as_slice()),
        &r.encryption_context.unwrap_or_default(),
        r.encryption_algorithm.as_deref(),
        dry_run,
    )?;
    reply(DecryptResponse {
        key_id: &out.key_arn,
        plaintext: Base64(&out.plaintext),
        encryption_algorithm: r
            .encryption_algorithm
            .as_deref()
            .unwrap_or(SYMMETRIC_DEFAULT),
        key_material_id: out.material_id.as_deref(),
    })
}

/// ReEncrypt.
pub fn re_encrypt(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: ReEncrypt = parse(body)?;
    check_grant_tokens(&r.grant_tokens)?;
    let dry_run = DryRun::of(r.dry_run, r.dry_run_modifiers.as_deref())?;
    let out = kms.re_encrypt(
        caller,
        r.ciphertext_blob.as_ref().map(|b| b.0.as_slice()),
        r.source_key_id.as_deref(),
        &r.source_encryption_context.unwrap_or_default(),
        r.destination_key_id.as_deref(),
        &r.destination_encryption_context.unwrap_or_default(),
        (
            r.source_encryption_algorithm.as_deref(),
            r.destination_encryption_algorithm.as_deref(),
        ),
        dry_run,
    )?;
    reply(ReEncryptResponse {
        ciphertext_blob: Base64(&out.ciphertext),
        source_key_id: &out.source_key_arn,
        key_id: &out.key_arn,
        source_encryption_algorithm: r
            .source_encryption_algorithm
            .as_deref()
            .unwrap_or(SYMMETRIC_DEFAULT),
        destination_encryption_algorithm: r
            .destination_encryption_algorithm
            .as_deref()
            .unwrap_or(SYMMETRIC_DEFAULT),
        source_key_material_id: out.source_material_id.as_deref(),
        destination_key_material_id: out.destination_material_id.as_deref(),
    })
}

/// GenerateDataKey.
pub fn generate_data_key(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    data_key(kms, caller, body, true)
}

/// GenerateDataKeyWithoutPlaintext.
pub fn generate_data_key_without_plaintext(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    data_key(kms, caller, body, false)
}

/// A data key under a KMS key, returned in the clear too when `plaintext`.
fn data_key(kms: &Kms, caller: &Caller, body: &[u8], plaintext: bool) -> OpResult {
    let r: GenerateDataKey = parse(body)?;
    check_grant_tokens(&r.grant_tokens)?;
    if plaintext {
        refuse_recipient(&r.recipient)?;
    }
    let out = kms.generate_data_key(
        caller,
        r.key_id.as_deref(),
        r.key_spec.as_deref(),
        r.number_of_bytes,
        &r.encryption_context.unwrap_or_default(),
        plaintext,
        r.dry_run.unwrap_or(false),
    )?;
    reply(GenerateDataKeyResponse {
        ciphertext_blob: Base64(&out.ciphertext),
        key_id: &out.key_arn,
        key_material_id: &out.material_id,
        plaintext: out.plaintext.as_deref().map(|p| Base64(p)),
    })
}
