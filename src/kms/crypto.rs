//! Encrypt, Decrypt, ReEncrypt, GenerateDataKey(WithoutPlaintext), GenerateRandom.

use super::ciphertext;
use super::condition_keys::Facts;
use super::current;
use super::invalid::{Field, Invalid, UsageProblem};
use super::key_ref::Aliases;
use super::specs;
use super::{Caller, EncryptionContext, Kms, KmsError, KmsResult, record_arn, validate};
use crate::hsm::{Oaep, TAG_LEN};
use crate::model::{KeyRecord, KeySpec, KeyUsage};
use zeroize::Zeroizing;

const ALGORITHMS: &[&str] = &[
    "SYMMETRIC_DEFAULT",
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "SM2PKE",
];
const MAX_PLAINTEXT: usize = 4096;
const MAX_CIPHERTEXT: usize = 6144;
const MAX_RANDOM: usize = 1024;

/// Encrypt result.
pub struct EncryptOutput {
    /// The ciphertext blob.
    pub ciphertext: Vec<u8>,
    /// ARN of the key used.
    pub key_arn: String,
    /// Material that sealed it.
    pub material_id: String,
}

/// Decrypt result.
pub struct DecryptOutput {
    /// The recovered plaintext.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// ARN of the key used.
    pub key_arn: String,
    /// Material that opened it (symmetric keys only: AWS names key
    /// material for symmetric encryption keys alone).
    pub material_id: Option<String>,
}

/// ReEncrypt result.
pub struct ReEncryptOutput {
    /// The new ciphertext blob.
    pub ciphertext: Vec<u8>,
    /// ARN of the key that opened the source.
    pub source_key_arn: String,
    /// ARN of the key that sealed the result.
    pub key_arn: String,
    /// Source material (symmetric keys only).
    pub source_material_id: Option<String>,
    /// Destination material (symmetric keys only).
    pub destination_material_id: Option<String>,
}

/// GenerateDataKey result.
pub struct DataKeyOutput {
    /// The data key sealed under the KMS key.
    pub ciphertext: Vec<u8>,
    /// The data key in the clear (absent for WithoutPlaintext).
    pub plaintext: Option<Zeroizing<Vec<u8>>>,
    /// ARN of the KMS key.
    pub key_arn: String,
    /// Material that sealed it.
    pub material_id: String,
}

/// How a key encrypts for a request: AES-GCM with a ciphertext header, or
/// RSAES-OAEP with a raw RSA ciphertext.
#[derive(Clone, Copy)]
enum Cipher {
    Symmetric,
    Rsa(Oaep),
}

/// The cipher `key` uses with the algorithm asked for (none means
/// `SYMMETRIC_DEFAULT`), if the key offers it.
fn cipher(key: &KeyRecord, algorithm: Option<&str>) -> KmsResult<Cipher> {
    let algorithm = algorithm.unwrap_or("SYMMETRIC_DEFAULT");
    validate::one_of(algorithm, ALGORITHMS, Field::EncryptionAlgorithm)?;
    let offered = specs::encryption_algorithms(key.key_spec, key.key_usage);
    match specs::oaep(algorithm) {
        _ if !offered.contains(&algorithm) => {
            Err(KmsError::InvalidKeyUsage(UsageProblem::Algorithm {
                algorithm: algorithm.to_string(),
                spec: key.key_spec,
            }))
        }
        Some(oaep) => Ok(Cipher::Rsa(oaep)),
        None => Ok(Cipher::Symmetric),
    }
}

/// An `EncryptionAlgorithm` member, if given, is one of the model's.
fn algorithm_in_model(algorithm: Option<&str>) -> KmsResult<()> {
    algorithm.map_or(Ok(()), |a| {
        validate::one_of(a, ALGORITHMS, Field::EncryptionAlgorithm)
    })
}

/// The facts a policy sees for an encryption request: the encryption
/// context, or an RSA algorithm (which takes no context).
fn cipher_facts<'a>(context: &'a EncryptionContext, algorithm: Option<&'a str>) -> Facts<'a> {
    match algorithm.filter(|a| specs::oaep(a).is_some()) {
        Some(algorithm) => Facts::default().with("kms:EncryptionAlgorithm", [algorithm]),
        None => Facts::context(context),
    }
}

/// Whether a Decrypt or ReEncrypt runs, or only checks that it would
/// succeed (AWS's `DryRun`), and whether that check skips the ciphertext
/// (`DryRunModifiers` with `IGNORE_CIPHERTEXT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DryRun {
    /// The operation runs.
    Off,
    /// Every check runs, the operation does not.
    On,
    /// Only the key, its state and the caller's rights are checked: the
    /// ciphertext may be absent or anything.
    IgnoringCiphertext,
}

impl DryRun {
    /// From AWS's `DryRun` and `DryRunModifiers` (each checked against the
    /// model; they modify only a dry run).
    pub fn of(dry_run: Option<bool>, modifiers: Option<&[String]>) -> KmsResult<DryRun> {
        let modifiers = modifiers.unwrap_or_default();
        validate::dry_run_modifiers(modifiers)?;
        Ok(match dry_run {
            Some(true) if modifiers.is_empty() => DryRun::On,
            Some(true) => DryRun::IgnoringCiphertext,
            _ => DryRun::Off,
        })
    }
}

/// The key must be for encryption (else `InvalidKeyUsage` naming
/// `operation`, e.g. `Encrypt`) and enabled.
fn check_encrypt_usage(key: &KeyRecord, operation: &'static str) -> KmsResult<()> {
    if key.key_usage != KeyUsage::EncryptDecrypt {
        return Err(KmsError::InvalidKeyUsage(UsageProblem::Usage {
            arn: record_arn(key),
            usage: key.key_usage,
            operation,
        }));
    }
    super::require_enabled(key)
}

fn data_key_length(key_spec: Option<&str>, number_of_bytes: Option<i64>) -> KmsResult<usize> {
    // The model's checks of each member come before the rule that joins them.
    if let Some(spec) = key_spec {
        validate::one_of(spec, &["AES_256", "AES_128"], Field::KeySpec)?;
    }
    if let Some(n) = number_of_bytes {
        number_of_bytes_in_range(n)?;
    }
    match (key_spec, number_of_bytes) {
        (Some(_), Some(_)) => Err(KmsError::Validation(Invalid::Exclusive(
            Field::KeySpec,
            Field::NumberOfBytes,
        ))),
        (None, None) => Err(KmsError::Validation(Invalid::EitherRequired(
            Field::KeySpec,
            Field::NumberOfBytes,
        ))),
        (Some(spec), None) => Ok(if spec == "AES_256" { 32 } else { 16 }),
        (None, Some(n)) => Ok(n as usize),
    }
}

fn number_of_bytes_in_range(n: i64) -> KmsResult<()> {
    validate::value_in(n, 1..=MAX_RANDOM as i64, Field::NumberOfBytes)
}

impl Kms {
    /// Encrypt: seals up to 4096 bytes under the key's current material.
    pub fn encrypt(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        plaintext: Option<&[u8]>,
        context: &EncryptionContext,
        algorithm: Option<&str>,
        dry_run: bool,
    ) -> KmsResult<EncryptOutput> {
        let key_id = validate::key_id(key_id)?;
        let plaintext = validate::required(plaintext, Field::Plaintext)?;
        validate::length(plaintext.len(), 1, MAX_PLAINTEXT, Field::Plaintext)?;
        algorithm_in_model(algorithm)?;
        let key = self.load_key(
            caller,
            key_id,
            Aliases::Accepted,
            "kms:Encrypt",
            &cipher_facts(context, algorithm),
        )?;
        check_encrypt_usage(&key, "Encrypt")?;
        let cipher = cipher(&key, algorithm)?;
        if dry_run {
            return Err(KmsError::DryRun);
        }
        match cipher {
            Cipher::Symmetric => self.seal(caller, &key, plaintext, context),
            Cipher::Rsa(oaep) => self.rsa_seal(&key, oaep, plaintext, context),
        }
    }

    /// Decrypt: the header names key and material; a given KeyId must match.
    pub fn decrypt(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        blob: Option<&[u8]>,
        context: &EncryptionContext,
        algorithm: Option<&str>,
        dry_run: DryRun,
    ) -> KmsResult<DecryptOutput> {
        if let Some(key_id) = key_id {
            validate::key_reference(key_id, Field::KeyId)?;
        }
        algorithm_in_model(algorithm)?;
        if dry_run == DryRun::IgnoringCiphertext {
            let key_id = validate::required(key_id, Field::KeyId)?;
            let facts = cipher_facts(context, algorithm);
            let key = self.load_key(caller, key_id, Aliases::Accepted, "kms:Decrypt", &facts)?;
            check_encrypt_usage(&key, "Decrypt")?;
            cipher(&key, algorithm)?;
            return Err(KmsError::DryRun);
        }
        let blob = validate::required(blob, Field::CiphertextBlob)?;
        validate::length(blob.len(), 1, MAX_CIPHERTEXT, Field::CiphertextBlob)?;
        if let Some(oaep) = algorithm.and_then(specs::oaep) {
            let key = self.rsa_key(caller, key_id, "kms:Decrypt", algorithm)?;
            check_encrypt_usage(&key, "Decrypt")?;
            cipher(&key, algorithm)?;
            if dry_run == DryRun::On {
                return Err(KmsError::DryRun);
            }
            return self.rsa_open(&key, oaep, blob, context);
        }
        let parsed = match ciphertext::parse(blob) {
            Ok(parsed) => parsed,
            Err(e) => return Err(self.unparsed(caller, key_id, algorithm, context, e)),
        };
        let key = self.source_key(
            caller,
            key_id,
            parsed.key_id,
            "kms:Decrypt",
            &Facts::context(context),
        )?;
        check_encrypt_usage(&key, "Decrypt")?;
        cipher(&key, algorithm)?;
        if dry_run == DryRun::On {
            return Err(KmsError::DryRun);
        }
        let plaintext = self.open(caller, &key, &parsed, context)?;
        Ok(DecryptOutput {
            plaintext,
            key_arn: record_arn(&key),
            material_id: Some(parsed.material_id),
        })
    }

    /// ReEncrypt: opens under the source key and seals under the destination
    /// key's current material, without the plaintext leaving the service.
    #[allow(clippy::too_many_arguments)]
    pub fn re_encrypt(
        &self,
        caller: &Caller,
        blob: Option<&[u8]>,
        source_key_id: Option<&str>,
        source_context: &EncryptionContext,
        destination_key_id: Option<&str>,
        destination_context: &EncryptionContext,
        algorithms: (Option<&str>, Option<&str>),
        dry_run: DryRun,
    ) -> KmsResult<ReEncryptOutput> {
        // The model's checks first, naming ReEncrypt's own members.
        let key_ids = [
            (source_key_id, Field::SourceKeyId),
            (destination_key_id, Field::DestinationKeyId),
        ];
        for (key_id, field) in key_ids {
            key_id.map_or(Ok(()), |id| validate::key_reference(id, field))?;
        }
        let algorithm_fields = [
            (algorithms.0, Field::SourceEncryptionAlgorithm),
            (algorithms.1, Field::DestinationEncryptionAlgorithm),
        ];
        for (algorithm, field) in algorithm_fields {
            algorithm.map_or(Ok(()), |a| validate::one_of(a, ALGORITHMS, field))?;
        }
        if dry_run == DryRun::IgnoringCiphertext {
            self.re_encrypt_rights(
                caller,
                validate::required(source_key_id, Field::SourceKeyId)?,
                source_context,
                destination_key_id,
                destination_context,
                algorithms,
            )?;
            return Err(KmsError::DryRun);
        }
        let blob = validate::required(blob, Field::CiphertextBlob)?;
        validate::length(blob.len(), 1, MAX_CIPHERTEXT, Field::CiphertextBlob)?;
        let rsa_source = algorithms.0.and_then(specs::oaep).is_some();
        let parsed = match rsa_source {
            true => None,
            false => Some(ciphertext::parse(blob)?),
        };
        let destination_ref = validate::required(destination_key_id, Field::DestinationKeyId)?;
        let (destination, alias) =
            self.resolve_named(caller, destination_ref, Aliases::Accepted)?;
        let source = match rsa_source {
            true => Some(self.rsa_key(caller, source_key_id, "kms:ReEncryptFrom", algorithms.0)?),
            false => None,
        };
        let source_id = match (&parsed, &source) {
            (Some(parsed), _) => parsed.key_id,
            (None, Some(key)) => key.key_id.as_str(),
            (None, None) => "",
        };
        let same_key = (destination.key_id == source_id).to_string();
        self.authorize_named(
            caller,
            "kms:ReEncryptTo",
            &destination,
            &cipher_facts(destination_context, algorithms.1)
                .with("kms:ReEncryptOnSameKey", [same_key.as_str()]),
            alias,
        )?;
        let source = match (source, &parsed) {
            (Some(key), _) => key,
            (None, Some(parsed)) => self.source_key(
                caller,
                source_key_id,
                parsed.key_id,
                "kms:ReEncryptFrom",
                &Facts::context(source_context).with("kms:ReEncryptOnSameKey", [same_key.as_str()]),
            )?,
            (None, None) => return Err(KmsError::Internal("ReEncrypt lost its source".into())),
        };
        check_encrypt_usage(&source, "ReEncrypt")?;
        check_encrypt_usage(&destination, "ReEncrypt")?;
        let source_cipher = cipher(&source, algorithms.0)?;
        let destination_cipher = cipher(&destination, algorithms.1)?;
        if dry_run == DryRun::On {
            return Err(KmsError::DryRun);
        }
        let (plaintext, source_material_id) = match (source_cipher, parsed) {
            (Cipher::Rsa(oaep), _) => {
                let opened = self.rsa_open(&source, oaep, blob, source_context)?;
                (opened.plaintext, opened.material_id)
            }
            (Cipher::Symmetric, Some(parsed)) => (
                self.open(caller, &source, &parsed, source_context)?,
                Some(parsed.material_id),
            ),
            (Cipher::Symmetric, None) => {
                return Err(KmsError::Internal("ReEncrypt lost its ciphertext".into()));
            }
        };
        let (sealed, destination_material_id) = match destination_cipher {
            Cipher::Symmetric => {
                let sealed = self.seal(caller, &destination, &plaintext, destination_context)?;
                let material_id = Some(sealed.material_id.clone());
                (sealed, material_id)
            }
            Cipher::Rsa(oaep) => (
                self.rsa_seal(&destination, oaep, &plaintext, destination_context)?,
                None,
            ),
        };
        Ok(ReEncryptOutput {
            ciphertext: sealed.ciphertext,
            source_key_arn: record_arn(&source),
            key_arn: sealed.key_arn,
            source_material_id,
            destination_material_id,
        })
    }

    /// What a ReEncrypt that ignores its ciphertext checks: both keys'
    /// rights, states, usages and algorithms, the source named by the caller.
    fn re_encrypt_rights(
        &self,
        caller: &Caller,
        source_ref: &str,
        source_context: &EncryptionContext,
        destination_key_id: Option<&str>,
        destination_context: &EncryptionContext,
        algorithms: (Option<&str>, Option<&str>),
    ) -> KmsResult<()> {
        let (source, source_alias) = self.resolve_named(caller, source_ref, Aliases::Accepted)?;
        let destination_ref = validate::required(destination_key_id, Field::DestinationKeyId)?;
        let (destination, alias) =
            self.resolve_named(caller, destination_ref, Aliases::Accepted)?;
        let same_key = (destination.key_id == source.key_id).to_string();
        let same_key = [same_key.as_str()];
        let to = cipher_facts(destination_context, algorithms.1)
            .with("kms:ReEncryptOnSameKey", same_key);
        self.authorize_named(caller, "kms:ReEncryptTo", &destination, &to, alias)?;
        let from =
            cipher_facts(source_context, algorithms.0).with("kms:ReEncryptOnSameKey", same_key);
        self.authorize_named(caller, "kms:ReEncryptFrom", &source, &from, source_alias)?;
        check_encrypt_usage(&source, "ReEncrypt")?;
        check_encrypt_usage(&destination, "ReEncrypt")?;
        cipher(&source, algorithms.0)?;
        cipher(&destination, algorithms.1)?;
        Ok(())
    }

    /// GenerateDataKey and GenerateDataKeyWithoutPlaintext: random bytes from
    /// the token, sealed under the KMS key.
    #[allow(clippy::too_many_arguments)]
    pub fn generate_data_key(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        key_spec: Option<&str>,
        number_of_bytes: Option<i64>,
        context: &EncryptionContext,
        with_plaintext: bool,
        dry_run: bool,
    ) -> KmsResult<DataKeyOutput> {
        let action = if with_plaintext {
            "kms:GenerateDataKey"
        } else {
            "kms:GenerateDataKeyWithoutPlaintext"
        };
        let key_id = validate::key_id(key_id)?;
        let len = data_key_length(key_spec, number_of_bytes)?;
        let key = self.load_key(
            caller,
            key_id,
            Aliases::Accepted,
            action,
            &Facts::context(context),
        )?;
        let operation = action.trim_start_matches("kms:");
        check_encrypt_usage(&key, operation)?;
        // Data keys are sealed only under symmetric keys, as AWS does: an
        // RSA key's usage is ENCRYPT_DECRYPT, but SYMMETRIC_DEFAULT is not
        // among its algorithms.
        cipher(&key, None)?;
        if dry_run {
            return Err(KmsError::DryRun);
        }
        let data_key = Zeroizing::new(self.hsm(&caller.region)?.random(len)?);
        let sealed = self.seal(caller, &key, &data_key, context)?;
        Ok(DataKeyOutput {
            ciphertext: sealed.ciphertext,
            plaintext: with_plaintext.then_some(data_key),
            key_arn: sealed.key_arn,
            material_id: sealed.material_id,
        })
    }

    /// GenerateRandom: 1–1024 bytes from the region's token.
    pub fn generate_random(
        &self,
        caller: &Caller,
        number_of_bytes: Option<i64>,
        custom_key_store_id: Option<&str>,
    ) -> KmsResult<Vec<u8>> {
        if let Some(store) = custom_key_store_id {
            validate::custom_key_store_id(store)?;
            return Err(KmsError::UnsupportedOperation(
                "Custom key stores are not supported.".into(),
            ));
        }
        self.authorize_account(caller, "kms:GenerateRandom", &Facts::NONE)?;
        let n = validate::required(number_of_bytes, Field::NumberOfBytes)?;
        number_of_bytes_in_range(n)?;
        Ok(self.hsm(&caller.region)?.random(n as usize)?)
    }

    /// What to answer for a Decrypt blob that is no symmetric ciphertext:
    /// when the caller named an asymmetric key without its algorithm, the
    /// key's usage or algorithm is the fault (as AWS answers), else the
    /// blob is.
    fn unparsed(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        algorithm: Option<&str>,
        context: &EncryptionContext,
        unparsed: KmsError,
    ) -> KmsError {
        let Some(key_id) = key_id else {
            return unparsed;
        };
        let facts = Facts::context(context);
        match self.load_key(caller, key_id, Aliases::Accepted, "kms:Decrypt", &facts) {
            Ok(key) if key.key_spec != KeySpec::SymmetricDefault => {
                check_encrypt_usage(&key, "Decrypt")
                    .and_then(|()| cipher(&key, algorithm).map(drop))
                    .err()
                    .unwrap_or(unparsed)
            }
            _ => unparsed,
        }
    }

    /// The key that made a blob, checked against the KeyId the caller gave,
    /// and the caller's right to `action` with it.
    fn source_key(
        &self,
        caller: &Caller,
        given: Option<&str>,
        header_key_id: &str,
        action: &str,
        facts: &Facts<'_>,
    ) -> KmsResult<std::sync::Arc<KeyRecord>> {
        match given {
            // A short key id that is the ciphertext's own names its key in
            // whichever account holds it, as AWS allows for symmetric
            // ciphertexts (Decrypt's "Cross-account use").
            Some(reference) if reference == header_key_id => {
                self.load_key_by_id(caller, header_key_id, action, facts)
            }
            Some(reference) => {
                let key = self.load_key(caller, reference, Aliases::Accepted, action, facts)?;
                if key.key_id != header_key_id {
                    return Err(KmsError::IncorrectKey(record_arn(&key)));
                }
                Ok(key)
            }
            None => self
                .load_key_by_id(caller, header_key_id, action, facts)
                .map_err(|e| match e {
                    KmsError::NotFound(_) => KmsError::InvalidCiphertext(
                        "The ciphertext refers to a KMS key that does not exist in this region \
                         and account.",
                    ),
                    other => other,
                }),
        }
    }

    pub(super) fn seal(
        &self,
        caller: &Caller,
        key: &KeyRecord,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> KmsResult<EncryptOutput> {
        let hsm = self.hsm(&caller.region)?;
        let material_id = &key.current_material_id;
        let material = self.current_material(key)?;
        let iv = hsm.iv()?;
        let sealed_len = plaintext.len() + TAG_LEN;
        let mut blob = ciphertext::header(&key.key_id, material_id, &iv, sealed_len)?;
        let aad = ciphertext::aad(&blob, context);
        let wrapped = current::wrapped(key, &material);
        hsm.encrypt(&wrapped, &iv, &aad, plaintext, &mut blob)?;
        Ok(EncryptOutput {
            ciphertext: blob,
            key_arn: record_arn(key),
            material_id: material_id.clone(),
        })
    }

    fn open(
        &self,
        caller: &Caller,
        key: &KeyRecord,
        parsed: &ciphertext::Ciphertext<'_>,
        context: &EncryptionContext,
    ) -> KmsResult<Zeroizing<Vec<u8>>> {
        let material = self
            .store
            .material(&caller.region, &key.key_id, &parsed.material_id)?
            .ok_or(KmsError::InvalidCiphertext(
                "The ciphertext names key material this key does not have.",
            ))?;
        let aad = ciphertext::aad(parsed.header, context);
        Ok(self.hsm(&caller.region)?.decrypt(
            &current::wrapped(key, &material),
            &parsed.iv,
            &aad,
            parsed.sealed,
        )?)
    }
}
