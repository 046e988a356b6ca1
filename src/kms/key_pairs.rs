//! GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext: key pairs
//! made in the token for the caller, the private key sealed under a
//! symmetric KMS key.

use super::condition_keys::Facts;
use super::invalid::{Field, UsageProblem};
use super::key_ref::Aliases;
use super::{Caller, EncryptionContext, Kms, KmsError, KmsResult, specs, validate};
use crate::model::{KeySpec, KeyUsage};
use zeroize::Zeroizing;

/// Every data key pair spec AWS has.
const KEY_PAIR_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SM2",
    "ECC_NIST_EDWARDS25519",
    "ML_KEM_512",
    "ML_KEM_768",
    "ML_KEM_1024",
];

/// What GenerateDataKeyPair returns.
pub struct DataKeyPair {
    /// The private key (PKCS#8 DER) sealed under the KMS key.
    pub private_key_ciphertext: Vec<u8>,
    /// The private key in the clear (absent for WithoutPlaintext).
    pub private_key: Option<Zeroizing<Vec<u8>>>,
    /// DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
    /// ARN of the KMS key.
    pub key_arn: String,
    /// The pair's spec.
    pub spec: &'static str,
    /// Material that sealed the private key.
    pub material_id: String,
}

impl Kms {
    /// GenerateDataKeyPair(WithoutPlaintext): a key pair generated in the
    /// token, its private key sealed under a symmetric encryption key with
    /// the encryption context.
    pub fn generate_data_key_pair(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        spec: Option<&str>,
        context: &EncryptionContext,
        with_plaintext: bool,
        dry_run: bool,
    ) -> KmsResult<DataKeyPair> {
        let action = if with_plaintext {
            "kms:GenerateDataKeyPair"
        } else {
            "kms:GenerateDataKeyPairWithoutPlaintext"
        };
        let key_id = validate::required(key_id, Field::KeyId)?;
        let spec = validate::required(spec, Field::KeyPairSpec)?;
        validate::one_of(spec, KEY_PAIR_SPECS, Field::KeyPairSpec)?;
        let facts = Facts::context(context).with("kms:DataKeyPairSpec", [spec]);
        let key = self.load_key(caller, key_id, Aliases::Accepted, action, &facts)?;
        let operation = action.trim_start_matches("kms:");
        if key.key_usage != KeyUsage::EncryptDecrypt {
            return Err(KmsError::InvalidKeyUsage(UsageProblem::Usage {
                arn: super::record_arn(&key),
                usage: key.key_usage,
                operation,
            }));
        }
        if key.key_spec != KeySpec::SymmetricDefault {
            return Err(KmsError::InvalidKeyUsage(UsageProblem::Algorithm {
                algorithm: "SYMMETRIC_DEFAULT".into(),
                spec: key.key_spec,
            }));
        }
        super::require_enabled(&key)?;
        let (Some(kind), Some(spec)) = (specs::key_pair_kind(spec), KeySpec::parse(spec)) else {
            return Err(KmsError::UnsupportedOperation(format!(
                "KeyPairSpec {spec} is not supported: {}",
                specs::why_unserved(spec)
            )));
        };
        if dry_run {
            return Err(KmsError::DryRun);
        }
        let pair = {
            let _long = self.long_calls.begin_generating(kind, operation)?;
            self.hsm(&caller.region)?.generate_data_key_pair(kind)?
        };
        let sealed = self.seal(caller, &key, &pair.private_key, context)?;
        Ok(DataKeyPair {
            private_key_ciphertext: sealed.ciphertext,
            private_key: with_plaintext.then_some(pair.private_key),
            public_key: pair.public_key,
            key_arn: sealed.key_arn,
            spec: spec.as_str(),
            material_id: sealed.material_id,
        })
    }
}
