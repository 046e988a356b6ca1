//! Asymmetric signing keys: Sign and Verify in the token, and GetPublicKey
//! from the store (public keys are kept in the clear).

use super::condition_keys::Facts;
use super::invalid::{Field, Invalid, UsageProblem};
use super::key_ref::Aliases;
use super::{Caller, Kms, KmsError, KmsResult, current, record_arn, specs, validate};
use crate::hsm::Signing;
use crate::model::{KeyRecord, KeySpec, KeyUsage};
use std::sync::Arc;

/// Longest message AWS signs.
const MAX_MESSAGE: usize = 4096;
/// Longest signature AWS accepts to verify.
const MAX_SIGNATURE: usize = 6144;
/// Message types AWS has.
const MESSAGE_TYPES: &[&str] = &["RAW", "DIGEST", "EXTERNAL_MU"];

/// A Sign or Verify request's fields, as given.
pub struct SignInput<'a> {
    /// The key.
    pub key_id: Option<&'a str>,
    /// The message, or its digest.
    pub message: Option<&'a [u8]>,
    /// `RAW` (the default) or `DIGEST`.
    pub message_type: Option<&'a str>,
    /// The signing algorithm.
    pub algorithm: Option<&'a str>,
    /// Whether to stop before signing.
    pub dry_run: bool,
}

/// What Sign returns.
pub struct SignOutput {
    /// The signature (DER for ECDSA).
    pub signature: Vec<u8>,
    /// ARN of the key.
    pub key_arn: String,
    /// The signing algorithm used.
    pub algorithm: &'static str,
}

/// What GetPublicKey returns.
pub struct PublicKeyView {
    /// ARN of the key.
    pub key_arn: String,
    /// DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
    /// The key's spec.
    pub key_spec: KeySpec,
    /// The key's usage.
    pub key_usage: KeyUsage,
}

/// A validated Sign or Verify request.
struct Signable {
    key: Arc<KeyRecord>,
    algorithm: &'static str,
    signing: Signing,
    digest: Vec<u8>,
}

impl Kms {
    /// Sign: signs a message of up to 4096 bytes, or its digest, with the
    /// private key in the token.
    pub fn sign(&self, caller: &Caller, input: SignInput<'_>) -> KmsResult<SignOutput> {
        let signable = self.signable(caller, &input, "Sign")?;
        if input.dry_run {
            return Err(KmsError::DryRun);
        }
        let key = &signable.key;
        let material = self.current_material(key)?;
        let signature = self.hsm(&caller.region)?.sign(
            &current::wrapped(key, &material),
            signable.signing,
            &signable.digest,
        )?;
        Ok(SignOutput {
            signature,
            key_arn: record_arn(key),
            algorithm: signable.algorithm,
        })
    }

    /// Verify: checks a signature with the public key in the token; one that
    /// does not verify is `KMSInvalidSignatureException`. Returns the key's
    /// ARN and the algorithm.
    pub fn verify(
        &self,
        caller: &Caller,
        input: SignInput<'_>,
        signature: Option<&[u8]>,
    ) -> KmsResult<(String, &'static str)> {
        let signature = validate::required(signature, Field::Signature)?;
        validate::length(signature.len(), 1, MAX_SIGNATURE, Field::Signature)?;
        let signable = self.signable(caller, &input, "Verify")?;
        if input.dry_run {
            return Err(KmsError::DryRun);
        }
        let key = &signable.key;
        let material = self.current_material(key)?;
        let valid = self.hsm(&caller.region)?.verify(
            &current::wrapped(key, &material),
            signable.signing,
            &signable.digest,
            signature,
        )?;
        if !valid {
            return Err(KmsError::InvalidSignature);
        }
        Ok((record_arn(key), signable.algorithm))
    }

    /// GetPublicKey: the public key of an asymmetric key, from the store.
    pub fn get_public_key(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
    ) -> KmsResult<PublicKeyView> {
        let key_id = validate::required(key_id, Field::KeyId)?;
        let key = self.load_key(
            caller,
            key_id,
            Aliases::Accepted,
            "kms:GetPublicKey",
            &Facts::NONE,
        )?;
        if !specs::is_asymmetric(key.key_spec) {
            return Err(KmsError::UnsupportedOperation(format!(
                "{} is not an asymmetric key; GetPublicKey works only on asymmetric keys.",
                record_arn(&key)
            )));
        }
        super::require_enabled(&key)?;
        let material = self.current_material(&key)?;
        let public_key = current::public_key(&key, &material)?.to_vec();
        self.hsm(&key.region)?
            .check_material(&current::wrapped(&key, &material))?;
        Ok(PublicKeyView {
            key_arn: record_arn(&key),
            public_key,
            key_spec: key.key_spec,
            key_usage: key.key_usage,
        })
    }

    /// Validates a Sign or Verify request and loads its key: an enabled
    /// signing key that offers the algorithm, which the caller may use.
    fn signable(
        &self,
        caller: &Caller,
        input: &SignInput<'_>,
        operation: &'static str,
    ) -> KmsResult<Signable> {
        let key_id = validate::required(input.key_id, Field::KeyId)?;
        let message = validate::required(input.message, Field::Message)?;
        validate::length(message.len(), 1, MAX_MESSAGE, Field::Message)?;
        let algorithm = validate::required(input.algorithm, Field::SigningAlgorithm)?;
        validate::one_of(
            algorithm,
            specs::SIGNING_ALGORITHM_NAMES,
            Field::SigningAlgorithm,
        )?;
        let message_type = input.message_type.unwrap_or("RAW");
        validate::one_of(message_type, MESSAGE_TYPES, Field::MessageType)?;
        let facts = Facts::default()
            .with("kms:SigningAlgorithm", [algorithm])
            .with("kms:MessageType", [message_type]);
        let action = if operation == "Sign" {
            "kms:Sign"
        } else {
            "kms:Verify"
        };
        let key = self.load_key(caller, key_id, Aliases::Accepted, action, &facts)?;
        if key.key_usage != KeyUsage::SignVerify {
            return Err(KmsError::InvalidKeyUsage(UsageProblem::Usage {
                arn: record_arn(&key),
                usage: key.key_usage,
                operation,
            }));
        }
        let offered = specs::signing_algorithms(key.key_spec, key.key_usage)
            .iter()
            .find(|offered| **offered == algorithm)
            .ok_or_else(|| {
                KmsError::InvalidKeyUsage(UsageProblem::Algorithm {
                    algorithm: algorithm.to_string(),
                    spec: key.key_spec,
                })
            })?;
        let signing = specs::signing(offered).ok_or_else(|| {
            KmsError::Internal(format!("signing algorithm {offered} has no scheme"))
        })?;
        let digest = match message_type {
            "RAW" => signing.digest().of(message),
            "DIGEST" if message.len() == signing.digest().output_len() => message.to_vec(),
            "DIGEST" => {
                return Err(KmsError::Validation(Invalid::DigestLength {
                    algorithm: offered,
                    expected: signing.digest().output_len(),
                    got: message.len(),
                }));
            }
            other => {
                return Err(KmsError::Validation(Invalid::MessageTypeForAlgorithm {
                    message_type: other.to_string(),
                    algorithm: offered,
                }));
            }
        };
        super::require_enabled(&key)?;
        Ok(Signable {
            key,
            algorithm: offered,
            signing,
            digest,
        })
    }
}
