//! Imported key material (origin `EXTERNAL`): GetParametersForImport,
//! ImportKeyMaterial, DeleteImportedKeyMaterial, and the job that deletes
//! material whose time is up.

use super::condition_keys::Facts;
use super::error::{MaterialProblem, Missing, TokenProblem};
use super::invalid::{self, Field, Invalid, Rule};
use super::key_ref::Aliases;
use super::{Caller, JobOutcome, Kms, KmsError, KmsResult, record_arn, specs, validate};
use crate::hsm::{HsmError, ImportWrapping, Oaep, SecretKind};
use crate::model::{KeyRecord, KeySpec, KeyState, MaterialImport, MaterialRecord};
use crate::store::{ImportAs, ImportWrite};
use sha2::Digest as _;
use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::sync::Mutex;

/// Every wrapping algorithm AWS has.
const WRAPPING_ALGORITHMS: &[&str] = &[
    "RSAES_PKCS1_V1_5",
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "RSA_AES_KEY_WRAP_SHA_1",
    "RSA_AES_KEY_WRAP_SHA_256",
    "SM2PKE",
];
/// Every wrapping key spec AWS has.
const WRAPPING_KEY_SPECS: &[&str] = &["RSA_2048", "RSA_3072", "RSA_4096", "SM2"];
/// AWS's expiration models.
const EXPIRATION_MODELS: &[&str] = &["KEY_MATERIAL_EXPIRES", "KEY_MATERIAL_DOES_NOT_EXPIRE"];
/// AWS's import types.
const IMPORT_TYPES: &[&str] = &["NEW_KEY_MATERIAL", "EXISTING_KEY_MATERIAL"];
/// The characters a key material description may have.
const DESCRIPTION_PATTERN: &str = "^[a-zA-Z0-9:/_\\s.-]+$";
/// Length of a key material id (hex SHA-256).
const MATERIAL_ID_LEN: usize = 64;
/// How long a public key and import token are valid (24 hours, as AWS).
const PARAMETERS_VALID_MS: i64 = 24 * 3_600_000;
/// The latest ValidTo AWS accepts, from now (365 days).
const MAX_VALID_MS: i64 = 365 * 86_400_000;
/// Longest EncryptedKeyMaterial AWS accepts.
const MAX_ENCRYPTED: usize = 6144;
/// Length of an import token.
const TOKEN_LEN: usize = 32;

/// What GetParametersForImport returns.
pub struct ImportParameters {
    /// ARN of the key.
    pub key_arn: String,
    /// The import token to give back with the material.
    pub import_token: Vec<u8>,
    /// The wrapping public key (DER SubjectPublicKeyInfo).
    pub public_key: Vec<u8>,
    /// Until when the two are valid (Unix ms).
    pub valid_to: i64,
}

/// What DeleteImportedKeyMaterial did.
pub struct DeletedMaterial {
    /// ARN of the key.
    pub key_arn: String,
    /// The id of the (deleted) material.
    pub material_id: String,
    /// False when the key was pending import already, so nothing changed
    /// (AWS succeeds; a dialect may refuse).
    pub had_material: bool,
}

/// An ImportKeyMaterial request's fields, as given.
pub struct ImportInput<'a> {
    /// The key.
    pub key_id: Option<&'a str>,
    /// The token from GetParametersForImport.
    pub import_token: Option<&'a [u8]>,
    /// The material wrapped under the token's public key.
    pub encrypted: Option<&'a [u8]>,
    /// `KEY_MATERIAL_EXPIRES` (the default, as AWS; it needs a ValidTo) or
    /// `KEY_MATERIAL_DOES_NOT_EXPIRE`.
    pub expiration_model: Option<&'a str>,
    /// When the material expires (Unix ms), with `KEY_MATERIAL_EXPIRES`.
    pub valid_to: Option<i64>,
    /// `NEW_KEY_MATERIAL` or `EXISTING_KEY_MATERIAL`; by default new for a
    /// key's first material and existing after.
    pub import_type: Option<&'a str>,
    /// A description of the material (symmetric keys).
    pub description: Option<&'a str>,
    /// The id the re-imported material must have (symmetric keys).
    pub material_id: Option<&'a str>,
    /// Where a private key comes.
    pub private_key: PrivateKeyCarriage<'a>,
}

/// Where an import carries a private key.
#[derive(Clone, Copy, Debug)]
pub enum PrivateKeyCarriage<'a> {
    /// Inside the encrypted key material, as AWS takes it: in
    /// `RSA_AES_KEY_WRAP_*`, or for an ECC key also with RSA-OAEP alone.
    Inside,
    /// Apart from it, as Huawei's import takes an asymmetric key's private
    /// key (`encrypted_privatekey`, which it requires): a PKCS#8 private key
    /// wrapped with RFC 5649 under the AES key that the encrypted key
    /// material then carries. With an import token issued for RSA-OAEP, the
    /// two parts are that algorithm's `RSA_AES_KEY_WRAP` counterpart.
    /// `None`: the request gave none.
    Apart(Option<&'a [u8]>),
}

/// An import token handed out and not used yet.
struct PendingToken {
    region: String,
    key_id: String,
    wrapping: ImportWrapping,
    wrapping_key: u64,
    valid_to: i64,
}

/// Import tokens handed out, by token.
#[derive(Default)]
pub(super) struct ImportTokens(Mutex<HashMap<Vec<u8>, PendingToken>>);

impl ImportTokens {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, PendingToken>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Kms {
    /// GetParametersForImport: an RSA wrapping key pair made in the
    /// region's token for one import into the key, and its token.
    pub fn get_parameters_for_import(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        algorithm: Option<&str>,
        wrapping_key_spec: Option<&str>,
    ) -> KmsResult<ImportParameters> {
        let key_id = validate::required(key_id, Field::KeyId)?;
        let algorithm = validate::required(algorithm, Field::WrappingAlgorithm)?;
        validate::one_of(algorithm, WRAPPING_ALGORITHMS, Field::WrappingAlgorithm)?;
        let spec = validate::required(wrapping_key_spec, Field::WrappingKeySpec)?;
        validate::one_of(spec, WRAPPING_KEY_SPECS, Field::WrappingKeySpec)?;
        let facts = Facts::default()
            .with("kms:WrappingAlgorithm", [algorithm])
            .with("kms:WrappingKeySpec", [spec]);
        let key = self.load_key(
            caller,
            key_id,
            Aliases::Refused,
            "kms:GetParametersForImport",
            &facts,
        )?;
        require_external(&key)?;
        super::require_not_pending_deletion(&key)?;
        super::require_not_updating(&key)?;
        let wrapping = wrapping(algorithm)?;
        let bits = match spec {
            "RSA_2048" => 2048,
            "RSA_3072" => 3072,
            "RSA_4096" => 4096,
            other => {
                return Err(KmsError::UnsupportedOperation(format!(
                    "WrappingKeySpec {other} is not supported: the token lacks its mechanism."
                )));
            }
        };
        let hsm = self.hsm(&caller.region)?;
        let pair = {
            let _long = self.long_calls.begin("GetParametersForImport")?;
            hsm.begin_key_import(bits, &caller.account_id)?
        };
        let import_token = hsm.random(TOKEN_LEN)?;
        let valid_to = self.now() + PARAMETERS_VALID_MS;
        let mut tokens = self.import_tokens.lock();
        let now = self.now();
        tokens.retain(|_, t| t.valid_to > now);
        tokens.insert(
            import_token.clone(),
            PendingToken {
                region: caller.region.clone(),
                key_id: key.key_id.clone(),
                wrapping,
                wrapping_key: pair.id,
                valid_to,
            },
        );
        Ok(ImportParameters {
            key_arn: record_arn(&key),
            import_token,
            public_key: pair.public_key,
            valid_to,
        })
    }

    /// ImportKeyMaterial: unwraps the material in the token, checks it is
    /// the key's (a key that had material takes only the same again), and
    /// stores it wrapped under the domain key. Returns the key's ARN and the
    /// material id.
    pub fn import_key_material(
        &self,
        caller: &Caller,
        input: ImportInput<'_>,
    ) -> KmsResult<(String, String)> {
        let key_id = validate::key_id(input.key_id)?;
        let token = validate::required(input.import_token, Field::ImportToken)?;
        validate::length(token.len(), 1, 6144, Field::ImportToken)?;
        let encrypted = validate::required(input.encrypted, Field::EncryptedKeyMaterial)?;
        validate::length(
            encrypted.len(),
            1,
            MAX_ENCRYPTED,
            Field::EncryptedKeyMaterial,
        )?;
        let model = input.expiration_model.unwrap_or("KEY_MATERIAL_EXPIRES");
        validate::one_of(model, EXPIRATION_MODELS, Field::ExpirationModel)?;
        // Each member's own checks before the rules that join them.
        let new_material = match input.import_type {
            Some(t) => {
                validate::one_of(t, IMPORT_TYPES, Field::ImportType)?;
                Some(t == "NEW_KEY_MATERIAL")
            }
            None => None,
        };
        if let Some(text) = input.description {
            material_description(text)?;
        }
        if let Some(id) = input.material_id {
            material_id_format(id)?;
        }
        let now = self.now();
        let valid_to = match (model, input.valid_to) {
            ("KEY_MATERIAL_EXPIRES", None) => {
                return Err(KmsError::Validation(Invalid::ValidToRequired));
            }
            ("KEY_MATERIAL_EXPIRES", Some(t)) if t <= now || t > now + MAX_VALID_MS => {
                return Err(KmsError::Validation(Invalid::ValidToRange));
            }
            ("KEY_MATERIAL_EXPIRES", Some(t)) => Some(t),
            (_, Some(_)) => return Err(KmsError::Validation(Invalid::ValidToWithoutExpiry)),
            (_, None) => None,
        };
        let mut facts = Facts::default().with("kms:ExpirationModel", [model]);
        if let Some(t) = valid_to {
            facts = facts.with("kms:ValidTo", [(t / 1000).to_string()]);
        }
        if input.material_id.is_some() && new_material == Some(true) {
            return Err(KmsError::Validation(Invalid::MaterialIdWithNewMaterial));
        }
        let key = self.load_key(
            caller,
            key_id,
            Aliases::Refused,
            "kms:ImportKeyMaterial",
            &facts,
        )?;
        require_external(&key)?;
        super::require_not_pending_deletion(&key)?;
        let imports = self.store.material_imports(&key.region, &key.key_id)?;
        let plan = plan_import(&key, new_material, &input, &imports)?;
        let kind = specs::kind_of(&key);
        let pending = self.take_token(&key, token, now)?;
        let (wrapping, encrypted) =
            import_wrapping(&key, pending.wrapping, encrypted, input.private_key)?;
        let imported = self
            .hsm(&key.region)?
            .import_material(
                pending.wrapping_key,
                wrapping,
                &encrypted,
                kind,
                material_lengths(key.key_spec),
                key.key_id.as_bytes(),
            )
            .map_err(|e| match e {
                HsmError::UnknownKeyImport => KmsError::InvalidImportToken(TokenProblem::Forgotten),
                HsmError::MaterialLength(len) => {
                    KmsError::IncorrectKeyMaterial(MaterialProblem::Length {
                        len,
                        spec: key.key_spec,
                    })
                }
                HsmError::WrongPrivateKey(why) => {
                    KmsError::IncorrectKeyMaterial(MaterialProblem::PrivateKey {
                        spec: key.key_spec,
                        why,
                    })
                }
                other => other.into(),
            })?;
        let material_id = hex::encode(sha2::Sha256::digest(&imported.fingerprint));
        check_material(&key, plan, &material_id, input.material_id, &imports)?;
        let material = MaterialRecord {
            material_id: material_id.clone(),
            wrapped: imported.wrapped,
            public_key: imported.public_key,
            creation_date: now,
            rotation_type: None,
            tag: None,
        };
        let material = self.tagged(&key.region, &key, material)?;
        let write = ImportWrite {
            material: &material,
            valid_to,
            description: input.description,
            kind: plan,
        };
        if !self
            .store
            .import_material(&key.region, &key.key_id, &write)?
        {
            return Err(self.import_lost(&key, new_material, &input, &material_id));
        }
        self.hsm(&key.region)?.forget_key(&key.key_id);
        tracing::info!(region = %key.region, key_id = %key.key_id, %material_id, "key material imported");
        Ok((record_arn(&key), material_id))
    }

    /// The error for an import whose conditional write lost to another
    /// writer: what the key now refuses, else a conflict to retry.
    fn import_lost(
        &self,
        key: &KeyRecord,
        new_material: Option<bool>,
        input: &ImportInput<'_>,
        material_id: &str,
    ) -> KmsError {
        let refusal = || -> KmsResult<()> {
            let Some(now_key) = self.store.key(&key.region, &key.key_id)? else {
                return Err(KmsError::Conflict(
                    "The key was deleted during the import.".into(),
                ));
            };
            super::require_not_pending_deletion(&now_key)?;
            let imports = self.store.material_imports(&key.region, &key.key_id)?;
            let plan = plan_import(&now_key, new_material, input, &imports)?;
            check_material(&now_key, plan, material_id, input.material_id, &imports)
        };
        match refusal() {
            Err(e) => e,
            Ok(()) => KmsError::Conflict(format!(
                "Key {} changed while its material was imported; try again.",
                record_arn(key)
            )),
        }
    }

    /// DeleteImportedKeyMaterial: one material (by default the current one)
    /// is deleted; material the key uses sends the key back to
    /// `PendingImport`, to wait for a re-import of the same material.
    pub fn delete_imported_key_material(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        material_id: Option<&str>,
    ) -> KmsResult<DeletedMaterial> {
        let key_id = validate::required(key_id, Field::KeyId)?;
        if let Some(id) = material_id {
            material_id_format(id)?;
        }
        let key = self.load_key(
            caller,
            key_id,
            Aliases::Refused,
            "kms:DeleteImportedKeyMaterial",
            &Facts::NONE,
        )?;
        require_external(&key)?;
        // AWS's key-state table: allowed pending deletion (the state stays),
        // no effect on material already gone, refused while the primary is
        // updated.
        super::require_not_updating(&key)?;
        let target = material_id.unwrap_or(&key.current_material_id).to_string();
        let imports = self.store.material_imports(&key.region, &key.key_id)?;
        let present = match imports.iter().find(|m| m.material_id == target) {
            Some(m) => m.imported,
            None if material_id.is_none() => false,
            None => {
                return Err(KmsError::NotFound(Missing::KeyMaterial {
                    arn: record_arn(&key),
                    material_id: target,
                }));
            }
        };
        if !present {
            return Ok(DeletedMaterial {
                key_arn: record_arn(&key),
                material_id: target,
                had_material: false,
            });
        }
        if !self
            .store
            .delete_imported_material(&key.region, &key.key_id, &target, None)?
        {
            return Err(KmsError::Conflict(format!(
                "Key {} changed while its material was deleted; try again.",
                record_arn(&key)
            )));
        }
        self.hsm(&key.region)?.forget_key(&key.key_id);
        tracing::info!(region = %key.region, key_id = %key.key_id, material_id = %target, "imported key material deleted");
        Ok(DeletedMaterial {
            key_arn: record_arn(&key),
            material_id: target,
            had_material: true,
        })
    }

    /// The expiry job: deletes imported material whose ValidTo has passed;
    /// each deletion is claimed by a conditional write in the store.
    pub fn expire_imported_material(&self) -> KmsResult<JobOutcome> {
        let now = self.now();
        let mut outcome = JobOutcome::default();
        for (region, key_id, material_id) in self.store.expired_imports(now)? {
            let deleted =
                self.store
                    .delete_imported_material(&region, &key_id, &material_id, Some(now))?;
            if deleted {
                if let Some(hsm) = self.regions.get(&region) {
                    hsm.forget_key(&key_id);
                }
                tracing::info!(%region, %key_id, %material_id, "imported key material expired");
            }
            outcome.count(deleted);
        }
        Ok(outcome)
    }

    /// Takes the import token for `key`: refused if it names another key
    /// (and left for its key), expired, or unknown (used already).
    fn take_token(&self, key: &KeyRecord, token: &[u8], now: i64) -> KmsResult<PendingToken> {
        let mut tokens = self.import_tokens.lock();
        let Some(pending) = tokens.get(token) else {
            return Err(KmsError::InvalidImportToken(TokenProblem::Unknown));
        };
        if pending.key_id != key.key_id || pending.region != key.region {
            return Err(KmsError::InvalidImportToken(TokenProblem::OtherKey(
                record_arn(key),
            )));
        }
        let pending = tokens.remove(token).expect("present under the lock");
        if pending.valid_to <= now {
            return Err(KmsError::ExpiredImportToken(
                "The import token has expired; call GetParametersForImport again.".into(),
            ));
        }
        Ok(pending)
    }
}

/// Only keys of origin `EXTERNAL` take imported material.
fn require_external(key: &KeyRecord) -> KmsResult<()> {
    if key.origin == "EXTERNAL" {
        return Ok(());
    }
    Err(KmsError::NotExternal {
        arn: record_arn(key),
        origin: key.origin.clone(),
    })
}

/// The wrapping of an algorithm name this deployment serves.
fn wrapping(algorithm: &str) -> KmsResult<ImportWrapping> {
    match algorithm {
        "RSAES_OAEP_SHA_1" => Ok(ImportWrapping::RsaesOaep(Oaep::Sha1)),
        "RSAES_OAEP_SHA_256" => Ok(ImportWrapping::RsaesOaep(Oaep::Sha256)),
        "RSA_AES_KEY_WRAP_SHA_1" => Ok(ImportWrapping::RsaAesKeyWrap(Oaep::Sha1)),
        "RSA_AES_KEY_WRAP_SHA_256" => Ok(ImportWrapping::RsaAesKeyWrap(Oaep::Sha256)),
        other => Err(KmsError::UnsupportedOperation(format!(
            "WrappingAlgorithm {other} is not supported (RSAES_PKCS1_V1_5 is deprecated by \
             AWS; SM2PKE needs an SM2 mechanism the token lacks)."
        ))),
    }
}

/// How to unwrap the material of `key` under an import token issued for
/// `wrapping`, and the bytes to unwrap: an RSA private key comes inside
/// `RSA_AES_KEY_WRAP_*` (RSA-OAEP alone cannot carry it, as AWS says), an
/// ECC private key also with RSA-OAEP alone, and a private key carried
/// apart next to an RSA-OAEP-wrapped AES key is the same wrapping in two
/// parts.
fn import_wrapping<'e>(
    key: &KeyRecord,
    wrapping: ImportWrapping,
    encrypted: &'e [u8],
    private_key: PrivateKeyCarriage<'_>,
) -> KmsResult<(ImportWrapping, std::borrow::Cow<'e, [u8]>)> {
    use PrivateKeyCarriage::{Apart, Inside};
    let kind = specs::kind_of(key);
    let private = kind.is_private_key();
    match (private_key, wrapping) {
        (Inside, ImportWrapping::RsaesOaep(_)) if matches!(kind, SecretKind::Rsa(..)) => {
            Err(KmsError::UnsupportedOperation(format!(
                "{} is a {} key: its private key is imported with RSA_AES_KEY_WRAP_SHA_1 or \
                 RSA_AES_KEY_WRAP_SHA_256 (RSA-OAEP alone cannot carry it).",
                record_arn(key),
                key.key_spec
            )))
        }
        (Apart(None), _) if private => Err(KmsError::UnsupportedOperation(format!(
            "{} is a {} key: its private key is given apart, wrapped under the AES key that \
             the encrypted key material carries.",
            record_arn(key),
            key.key_spec
        ))),
        (Inside | Apart(None), wrapping) => Ok((wrapping, encrypted.into())),
        (Apart(Some(_)), _) if !private => Err(KmsError::UnsupportedOperation(format!(
            "{} is a {} key: it has no private key to import.",
            record_arn(key),
            key.key_spec
        ))),
        (Apart(Some(wrapped)), ImportWrapping::RsaesOaep(hash)) => Ok((
            ImportWrapping::RsaAesKeyWrap(hash),
            [encrypted, wrapped].concat().into(),
        )),
        (Apart(Some(_)), ImportWrapping::RsaAesKeyWrap(_)) => Err(KmsError::UnsupportedOperation(
            "The import token was issued for RSA_AES_KEY_WRAP, whose encrypted key material \
             carries the private key itself: give no private key apart."
                .into(),
        )),
    }
}

/// The material lengths a key spec takes, in bytes (AWS's rules).
fn material_lengths(spec: KeySpec) -> RangeInclusive<usize> {
    match spec {
        KeySpec::Hmac224 => 28..=64,
        KeySpec::Hmac256 => 32..=64,
        KeySpec::Hmac384 => 48..=128,
        KeySpec::Hmac512 => 64..=128,
        _ => 32..=32,
    }
}

fn incorrect_material(key: &KeyRecord) -> KmsError {
    KmsError::IncorrectKeyMaterial(MaterialProblem::NotTheKeys(record_arn(key)))
}

/// What an import into `key` will be, from what the request says and
/// what the key has: refused before the import token is used when the
/// request cannot apply to this key.
fn plan_import(
    key: &KeyRecord,
    new_material: Option<bool>,
    input: &ImportInput<'_>,
    imports: &[MaterialImport],
) -> KmsResult<ImportAs> {
    let first = key.current_material_id.is_empty();
    let symmetric = key.key_spec == KeySpec::SymmetricDefault;
    let new_after_first = new_material == Some(true) && !first;
    if !symmetric && (input.description.is_some() || input.material_id.is_some() || new_after_first)
    {
        return Err(KmsError::Validation(Invalid::ImportOptionsForKey(
            key.key_spec,
        )));
    }
    if first {
        return match new_material {
            Some(false) => Err(KmsError::Validation(Invalid::NoMaterialYet(record_arn(
                key,
            )))),
            _ => Ok(ImportAs::First),
        };
    }
    if !new_after_first {
        return Ok(ImportAs::Existing);
    }
    if key.multi_region {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} is a multi-Region key: on-demand rotation with new imported material is \
             not supported for multi-Region keys yet.",
            record_arn(key)
        )));
    }
    if let Some(waiting) = imports.iter().find(|m| m.pending_rotation && m.imported) {
        return Err(KmsError::InvalidState(format!(
            "{} already has key material {} waiting for rotation; rotate the key \
             (RotateKeyOnDemand) or delete that material first.",
            record_arn(key),
            waiting.material_id
        )));
    }
    Ok(ImportAs::New)
}

/// Checks unwrapped material (its id) against the plan: new material must
/// be new to the key, existing material the key's (and the one named, if a
/// KeyMaterialId was given).
fn check_material(
    key: &KeyRecord,
    plan: ImportAs,
    material_id: &str,
    named: Option<&str>,
    imports: &[MaterialImport],
) -> KmsResult<()> {
    let known = key.current_material_id == material_id
        || imports.iter().any(|m| m.material_id == material_id);
    match plan {
        ImportAs::First => Ok(()),
        ImportAs::New if known => Err(KmsError::IncorrectKeyMaterial(
            MaterialProblem::AlreadyTheKeys(record_arn(key)),
        )),
        ImportAs::New => Ok(()),
        ImportAs::Existing => match named {
            Some(named) if named != material_id => Err(KmsError::IncorrectKeyMaterial(
                MaterialProblem::NotNamed(named.to_string()),
            )),
            _ if !known => Err(incorrect_material(key)),
            _ => Ok(()),
        },
    }
}

/// A key material description: up to 256 characters of AWS's pattern.
fn material_description(text: &str) -> KmsResult<()> {
    validate::text_length(text, 1, 256, Field::KeyMaterialDescription)?;
    let allowed = |c: char| {
        c.is_ascii_alphanumeric() || c.is_whitespace() || matches!(c, ':' | '/' | '_' | '.' | '-')
    };
    if !text.chars().all(allowed) {
        let rule = Rule::Pattern(DESCRIPTION_PATTERN);
        return Err(KmsError::Validation(invalid::field(
            Field::KeyMaterialDescription,
            text,
            rule,
        )));
    }
    Ok(())
}

/// A key material id: 64 lower-case hex digits.
fn material_id_format(id: &str) -> KmsResult<()> {
    validate::text_length(id, MATERIAL_ID_LEN, MATERIAL_ID_LEN, Field::KeyMaterialId)?;
    if !id.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')) {
        let rule = Rule::Pattern("^[a-f0-9]+$");
        return Err(KmsError::Validation(invalid::field(
            Field::KeyMaterialId,
            id,
            rule,
        )));
    }
    Ok(())
}

/// DescribeKey's `ExpirationModel` of a key with imported material.
pub fn expiration_model(key: &KeyRecord) -> Option<&'static str> {
    (key.origin == "EXTERNAL" && key.state != KeyState::PendingImport).then_some(
        match key.valid_to {
            Some(_) => "KEY_MATERIAL_EXPIRES",
            None => "KEY_MATERIAL_DOES_NOT_EXPIRE",
        },
    )
}
