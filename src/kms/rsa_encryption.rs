//! Encrypt and Decrypt with RSA keys (RSAES-OAEP): the ciphertext is the
//! raw RSA output, so one made offline with the public key decrypts here.

use super::condition_keys::Facts;
use super::crypto::{DecryptOutput, EncryptOutput};
use super::invalid::Invalid;
use super::key_ref::Aliases;
use super::{Caller, EncryptionContext, Kms, KmsError, KmsResult, current, record_arn, specs};
use crate::hsm::Oaep;
use crate::model::KeyRecord;
use std::sync::Arc;

impl Kms {
    /// The RSA key a request names (an RSA ciphertext has no header that
    /// names it), and the caller's right to `action` with `algorithm`.
    pub(super) fn rsa_key(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        action: &str,
        algorithm: Option<&str>,
    ) -> KmsResult<Arc<KeyRecord>> {
        let key_id = key_id.ok_or(KmsError::Validation(Invalid::AsymmetricKeyIdRequired))?;
        let facts = Facts::default().with("kms:EncryptionAlgorithm", algorithm);
        self.load_key(caller, key_id, Aliases::Accepted, action, &facts)
    }

    /// RSAES-OAEP encryption of `plaintext` under the key's public key.
    pub(super) fn rsa_seal(
        &self,
        key: &KeyRecord,
        oaep: Oaep,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> KmsResult<EncryptOutput> {
        refuse_context(context)?;
        let max = specs::rsa_max_plaintext(key.key_spec, oaep);
        if plaintext.len() > max {
            return Err(KmsError::Validation(Invalid::RsaPlaintextLength {
                algorithm: algorithm_name(oaep),
                spec: key.key_spec,
                max,
                got: plaintext.len(),
            }));
        }
        let material = self.current_material(key)?;
        let ciphertext = self.hsm(&key.region)?.rsa_encrypt(
            &current::wrapped(key, &material),
            oaep,
            plaintext,
        )?;
        Ok(EncryptOutput {
            ciphertext,
            key_arn: record_arn(key),
            material_id: key.current_material_id.clone(),
        })
    }

    /// RSAES-OAEP decryption with the key's private key in the token.
    pub(super) fn rsa_open(
        &self,
        key: &KeyRecord,
        oaep: Oaep,
        ciphertext: &[u8],
        context: &EncryptionContext,
    ) -> KmsResult<DecryptOutput> {
        refuse_context(context)?;
        let material = self.current_material(key)?;
        let plaintext = self.hsm(&key.region)?.rsa_decrypt(
            &current::wrapped(key, &material),
            oaep,
            ciphertext,
        )?;
        Ok(DecryptOutput {
            plaintext,
            key_arn: record_arn(key),
            material_id: None,
        })
    }
}

/// RSA encryption takes no encryption context.
fn refuse_context(context: &EncryptionContext) -> KmsResult<()> {
    if context.is_empty() {
        return Ok(());
    }
    Err(KmsError::Validation(Invalid::ContextForAsymmetric))
}

/// AWS's name of an OAEP algorithm.
fn algorithm_name(oaep: Oaep) -> &'static str {
    match oaep {
        Oaep::Sha1 => "RSAES_OAEP_SHA_1",
        Oaep::Sha256 => "RSAES_OAEP_SHA_256",
    }
}
