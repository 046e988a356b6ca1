//! HMAC keys: GenerateMac and VerifyMac, computed and checked in the token
//! with the key's current material (HMAC keys are never rotated).

use super::condition_keys::Facts;
use super::invalid::{Field, UsageProblem};
use super::key_ref::Aliases;
use super::{Caller, Kms, KmsError, KmsResult, current, record_arn, specs, validate};
use crate::model::{KeyRecord, KeyUsage};

/// Longest message AWS MACs.
const MAX_MESSAGE: usize = 4096;
/// Longest MAC AWS accepts to verify.
const MAX_MAC: usize = 6144;

/// What GenerateMac returns.
pub struct MacOutput {
    /// The MAC.
    pub mac: Vec<u8>,
    /// ARN of the HMAC key.
    pub key_arn: String,
    /// The MAC algorithm used.
    pub algorithm: &'static str,
}

/// A MAC request's fields, as given.
pub struct MacInput<'a> {
    /// The key.
    pub key_id: Option<&'a str>,
    /// The message.
    pub message: Option<&'a [u8]>,
    /// The MAC algorithm.
    pub algorithm: Option<&'a str>,
    /// Whether to stop before computing.
    pub dry_run: bool,
}

impl Kms {
    /// GenerateMac: the HMAC of up to 4096 bytes under an HMAC key.
    pub fn generate_mac(&self, caller: &Caller, input: MacInput<'_>) -> KmsResult<MacOutput> {
        let (key, message, algorithm) = self.mac_key(caller, &input, "GenerateMac")?;
        if input.dry_run {
            return Err(KmsError::DryRun);
        }
        let material = self.current_material(&key)?;
        let mac = self
            .hsm(&caller.region)?
            .generate_mac(&current::wrapped(&key, &material), message)?;
        Ok(MacOutput {
            mac,
            key_arn: record_arn(&key),
            algorithm,
        })
    }

    /// VerifyMac: checks `mac` against the HMAC of the message; a mismatch
    /// is `KMSInvalidMacException`. Returns the key's ARN and the algorithm.
    pub fn verify_mac(
        &self,
        caller: &Caller,
        input: MacInput<'_>,
        mac: Option<&[u8]>,
    ) -> KmsResult<(String, &'static str)> {
        let mac = validate::required(mac, Field::Mac)?;
        validate::length(mac.len(), 1, MAX_MAC, Field::Mac)?;
        let (key, message, algorithm) = self.mac_key(caller, &input, "VerifyMac")?;
        if input.dry_run {
            return Err(KmsError::DryRun);
        }
        let material = self.current_material(&key)?;
        let valid = self.hsm(&caller.region)?.verify_mac(
            &current::wrapped(&key, &material),
            message,
            mac,
        )?;
        if !valid {
            return Err(KmsError::InvalidMac);
        }
        Ok((record_arn(&key), algorithm))
    }

    /// Validates a MAC request and loads its key: an enabled HMAC key whose
    /// spec offers the algorithm, which the caller may use for `operation`.
    fn mac_key<'a>(
        &self,
        caller: &Caller,
        input: &MacInput<'a>,
        operation: &'static str,
    ) -> KmsResult<(std::sync::Arc<KeyRecord>, &'a [u8], &'static str)> {
        let key_id = validate::required(input.key_id, Field::KeyId)?;
        let message = validate::required(input.message, Field::Message)?;
        validate::length(message.len(), 1, MAX_MESSAGE, Field::Message)?;
        let algorithm = validate::required(input.algorithm, Field::MacAlgorithm)?;
        validate::one_of(algorithm, specs::MAC_ALGORITHM_NAMES, Field::MacAlgorithm)?;
        let facts = Facts::default().with("kms:MacAlgorithm", [algorithm]);
        let action = if operation == "GenerateMac" {
            "kms:GenerateMac"
        } else {
            "kms:VerifyMac"
        };
        let key = self.load_key(caller, key_id, Aliases::Accepted, action, &facts)?;
        if key.key_usage != KeyUsage::GenerateVerifyMac {
            return Err(KmsError::InvalidKeyUsage(UsageProblem::Usage {
                arn: record_arn(&key),
                usage: key.key_usage,
                operation,
            }));
        }
        let offered = specs::mac_algorithm(key.key_spec)
            .filter(|offered| *offered == algorithm)
            .ok_or_else(|| {
                KmsError::InvalidKeyUsage(UsageProblem::Algorithm {
                    algorithm: algorithm.to_string(),
                    spec: key.key_spec,
                })
            })?;
        super::require_enabled(&key)?;
        Ok((key, message, offered))
    }
}
