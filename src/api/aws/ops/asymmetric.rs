//! Asymmetric keys: Sign, Verify, GetPublicKey, DeriveSharedSecret,
//! GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext.

use super::{GrantTokens, OpResult, Recipient, check_grant_tokens, parse, refuse_recipient, reply};
use crate::api::aws::shapes::{Base64, Blob};
use crate::kms::{
    Caller, EncryptionContext, Kms, SignInput, encryption_algorithms, key_agreement_algorithms,
    signing_algorithms,
};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SignRequest {
    key_id: Option<String>,
    message: Option<Blob>,
    message_type: Option<String>,
    signing_algorithm: Option<String>,
    signature: Option<Blob>,
    dry_run: Option<bool>,
    grant_tokens: GrantTokens,
}

impl SignRequest {
    fn input(&self) -> SignInput<'_> {
        SignInput {
            key_id: self.key_id.as_deref(),
            message: self.message.as_ref().map(|b| b.0.as_slice()),
            message_type: self.message_type.as_deref(),
            algorithm: self.signing_algorithm.as_deref(),
            dry_run: self.dry_run.unwrap_or(false),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SignResponse<'a> {
    key_id: &'a str,
    signature: Base64<'a>,
    signing_algorithm: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct VerifyResponse<'a> {
    key_id: &'a str,
    signature_valid: bool,
    signing_algorithm: &'static str,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetPublicKey {
    key_id: Option<String>,
    grant_tokens: GrantTokens,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetPublicKeyResponse<'a> {
    key_id: &'a str,
    public_key: Base64<'a>,
    customer_master_key_spec: &'static str,
    key_spec: &'static str,
    key_usage: &'static str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    encryption_algorithms: &'static [&'static str],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    signing_algorithms: &'static [&'static str],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    key_agreement_algorithms: &'static [&'static str],
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeriveSharedSecretRequest {
    key_id: Option<String>,
    key_agreement_algorithm: Option<String>,
    public_key: Option<Blob>,
    dry_run: Option<bool>,
    recipient: Recipient,
    grant_tokens: GrantTokens,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DeriveSharedSecretResponse<'a> {
    key_id: &'a str,
    shared_secret: Base64<'a>,
    key_agreement_algorithm: &'static str,
    key_origin: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DataKeyPairRequest {
    key_id: Option<String>,
    key_pair_spec: Option<String>,
    encryption_context: Option<EncryptionContext>,
    dry_run: Option<bool>,
    recipient: Recipient,
    grant_tokens: GrantTokens,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DataKeyPairResponse<'a> {
    private_key_ciphertext_blob: Base64<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    private_key_plaintext: Option<Base64<'a>>,
    public_key: Base64<'a>,
    key_id: &'a str,
    key_pair_spec: &'static str,
    key_material_id: &'a str,
}

/// Sign.
pub fn sign(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: SignRequest = parse(body)?;
    check_grant_tokens(&r.grant_tokens)?;
    let out = kms.sign(caller, r.input())?;
    reply(SignResponse {
        key_id: &out.key_arn,
        signature: Base64(&out.signature),
        signing_algorithm: out.algorithm,
    })
}

/// Verify: a signature that does not verify is
/// `KMSInvalidSignatureException`.
pub fn verify(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: SignRequest = parse(body)?;
    check_grant_tokens(&r.grant_tokens)?;
    let (key_arn, algorithm) = kms.verify(
        caller,
        r.input(),
        r.signature.as_ref().map(|b| b.0.as_slice()),
    )?;
    reply(VerifyResponse {
        key_id: &key_arn,
        signature_valid: true,
        signing_algorithm: algorithm,
    })
}

/// GetPublicKey.
pub fn get_public_key(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: GetPublicKey = parse(body)?;
    check_grant_tokens(&r.grant_tokens)?;
    let out = kms.get_public_key(caller, r.key_id.as_deref())?;
    reply(GetPublicKeyResponse {
        key_id: &out.key_arn,
        public_key: Base64(&out.public_key),
        customer_master_key_spec: out.key_spec.as_str(),
        key_spec: out.key_spec.as_str(),
        key_usage: out.key_usage.as_str(),
        encryption_algorithms: encryption_algorithms(out.key_spec, out.key_usage),
        signing_algorithms: signing_algorithms(out.key_spec, out.key_usage),
        key_agreement_algorithms: key_agreement_algorithms(out.key_usage),
    })
}

/// DeriveSharedSecret.
pub fn derive_shared_secret(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    let r: DeriveSharedSecretRequest = parse(body)?;
    check_grant_tokens(&r.grant_tokens)?;
    refuse_recipient(&r.recipient)?;
    let out = kms.derive_shared_secret(
        caller,
        r.key_id.as_deref(),
        r.key_agreement_algorithm.as_deref(),
        r.public_key.as_ref().map(|b| b.0.as_slice()),
        r.dry_run.unwrap_or(false),
    )?;
    reply(DeriveSharedSecretResponse {
        key_id: &out.key_arn,
        shared_secret: Base64(&out.secret),
        key_agreement_algorithm: "ECDH",
        key_origin: &out.origin,
    })
}

/// GenerateDataKeyPair.
pub fn generate_data_key_pair(kms: &Kms, caller: &Caller, body: &[u8]) -> OpResult {
    data_key_pair(kms, caller, body, true)
}

/// GenerateDataKeyPairWithoutPlaintext.
pub fn generate_data_key_pair_without_plaintext(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
) -> OpResult {
    data_key_pair(kms, caller, body, false)
}

fn data_key_pair(kms: &Kms, caller: &Caller, body: &[u8], with_plaintext: bool) -> OpResult {
    let r: DataKeyPairRequest = parse(body)?;
    check_grant_tokens(&r.grant_tokens)?;
    if with_plaintext {
        refuse_recipient(&r.recipient)?;
    }
    let out = kms.generate_data_key_pair(
        caller,
        r.key_id.as_deref(),
        r.key_pair_spec.as_deref(),
        &r.encryption_context.unwrap_or_default(),
        with_plaintext,
        r.dry_run.unwrap_or(false),
    )?;
    reply(DataKeyPairResponse {
        private_key_ciphertext_blob: Base64(&out.private_key_ciphertext),
        private_key_plaintext: out.private_key.as_ref().map(|p| Base64(p)),
        public_key: Base64(&out.public_key),
        key_id: &out.key_arn,
        key_pair_spec: out.spec,
        key_material_id: &out.material_id,
    })
}
