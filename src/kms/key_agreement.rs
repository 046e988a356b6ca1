//! Key agreement keys: DeriveSharedSecret (ECDH in the token).

use super::condition_keys::Facts;
use super::invalid::{Field, Invalid, UsageProblem};
use super::key_ref::Aliases;
use super::{Caller, Kms, KmsError, KmsResult, current, record_arn, validate};
use crate::hsm::HsmError;
use crate::model::KeyUsage;
use zeroize::Zeroizing;

/// Longest public key AWS accepts.
const MAX_PUBLIC_KEY: usize = 8192;

/// What DeriveSharedSecret returns.
pub struct SharedSecret {
    /// The raw shared secret (the x-coordinate of the ECDH point).
    pub secret: Zeroizing<Vec<u8>>,
    /// ARN of the key.
    pub key_arn: String,
    /// Where the key's material came from.
    pub origin: String,
}

impl Kms {
    /// DeriveSharedSecret: ECDH of the key's private key with a peer's
    /// public key (DER SubjectPublicKeyInfo), in the token.
    pub fn derive_shared_secret(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        algorithm: Option<&str>,
        peer: Option<&[u8]>,
        dry_run: bool,
    ) -> KmsResult<SharedSecret> {
        let key_id = validate::required(key_id, Field::KeyId)?;
        let algorithm = validate::required(algorithm, Field::KeyAgreementAlgorithm)?;
        validate::one_of(algorithm, &["ECDH"], Field::KeyAgreementAlgorithm)?;
        let peer = validate::required(peer, Field::PublicKey)?;
        validate::length(peer.len(), 1, MAX_PUBLIC_KEY, Field::PublicKey)?;
        let facts = Facts::default().with("kms:KeyAgreementAlgorithm", [algorithm]);
        let key = self.load_key(
            caller,
            key_id,
            Aliases::Accepted,
            "kms:DeriveSharedSecret",
            &facts,
        )?;
        if key.key_usage != KeyUsage::KeyAgreement {
            return Err(KmsError::InvalidKeyUsage(UsageProblem::Usage {
                arn: record_arn(&key),
                usage: key.key_usage,
                operation: "DeriveSharedSecret",
            }));
        }
        super::require_enabled(&key)?;
        if dry_run {
            return Err(KmsError::DryRun);
        }
        let material = self.current_material(&key)?;
        let secret = self
            .hsm(&caller.region)?
            .derive_shared_secret(&current::wrapped(&key, &material), peer)
            .map_err(|e| match e {
                HsmError::BadPublicKey(why) => KmsError::Validation(Invalid::PeerKey(why)),
                other => other.into(),
            })?;
        Ok(SharedSecret {
            secret,
            key_arn: record_arn(&key),
            origin: key.origin.clone(),
        })
    }
}
