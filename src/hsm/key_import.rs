//! Importing key material (origin `EXTERNAL`): an RSA wrapping key pair
//! made in the token for each GetParametersForImport, whose private key
//! never leaves it, and the unwrap of material wrapped under its public key.
//! The material is unwrapped into the token, wrapped under the domain key
//! like generated material, and fingerprinted there.

use super::asymmetric::{Oaep, decrypted};
use super::template::{Purpose, backing_key_template};
use super::token::{PendingKeyImport, Token};
use super::{Hsm, HsmError, PairRole, SecretKind, ec_import, hmac_mechanism, oaep, public_key};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::sync::atomic::Ordering;
use zeroize::Zeroizing;

/// Wrapping key pairs a token keeps for imports not completed yet; beyond
/// this, the oldest of the account that holds the most goes.
const MAX_PENDING_IMPORTS: usize = 1000;

/// How imported material is wrapped (AWS's `WrappingAlgorithm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportWrapping {
    /// RSA-OAEP of the material.
    RsaesOaep(Oaep),
    /// RSA-OAEP of an ephemeral AES-256 key, then that key's RFC 5649 wrap
    /// of the material.
    RsaAesKeyWrap(Oaep),
}

/// A wrapping key pair made for one import.
pub struct ImportKeyPair {
    /// Names the pair for [`Hsm::import_material`].
    pub id: u64,
    /// Its public key (DER SubjectPublicKeyInfo).
    pub public_key: Vec<u8>,
}

/// Material imported into the token.
pub struct ImportedMaterial {
    /// The material wrapped under the domain key.
    pub wrapped: Vec<u8>,
    /// A value that identifies the material without revealing it, computed
    /// in the token: AES-ECB of `salt`'s SHA-256 (first block) for an AES
    /// key, the HMAC of `salt` for an HMAC key; for a private key, `salt`
    /// followed by its public key.
    pub fingerprint: Vec<u8>,
    /// A private key's public key (DER SubjectPublicKeyInfo): read from an
    /// RSA key's modulus and exponent, found in the token for an EC key
    /// (see `ec_import`).
    pub public_key: Option<Vec<u8>>,
}

impl Hsm {
    /// Makes an RSA wrapping key pair of `bits` in the token: the private
    /// key can only unwrap and decrypt and never leaves the token; it is
    /// kept (as a session object) until [`Hsm::import_material`] uses it.
    /// Past [`MAX_PENDING_IMPORTS`] pairs, the oldest pair of the account
    /// holding the most is destroyed, so that one account asking again and
    /// again uses up only its own imports.
    pub fn begin_key_import(&self, bits: u32, account: &str) -> Result<ImportKeyPair, HsmError> {
        let token = self.token()?;
        let generation = Mechanism::RsaPkcsKeyPairGen;
        token.require(&generation, "GetParametersForImport")?;
        let owner = token.lock_owner();
        let (public, private) = owner.generate_key_pair(
            &generation,
            &[
                Attribute::Class(ObjectClass::PUBLIC_KEY),
                Attribute::KeyType(KeyType::RSA),
                Attribute::Token(false),
                Attribute::Private(false),
                Attribute::ModulusBits(u64::from(bits).into()),
                Attribute::PublicExponent(vec![1, 0, 1]),
                Attribute::Verify(false),
                Attribute::Encrypt(false),
                Attribute::Wrap(false),
            ],
            &[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::KeyType(KeyType::RSA),
                Attribute::Token(false),
                Attribute::Private(false),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Unwrap(true),
                Attribute::Decrypt(true),
                Attribute::Sign(false),
                Attribute::SignRecover(false),
                Attribute::Derive(false),
                Attribute::Modifiable(false),
            ],
        )?;
        let spki = public_key::read(&owner, public, SecretKind::Rsa(bits, PairRole::Decrypt));
        token.destroy(&owner, public);
        let public_key = match spki {
            Ok(spki) => spki,
            Err(e) => {
                token.destroy(&owner, private);
                return Err(e);
            }
        };
        let id = self.next_import.fetch_add(1, Ordering::Relaxed);
        let evicted = {
            let mut pending = token.key_imports();
            pending.insert(
                id,
                PendingKeyImport {
                    private,
                    bits,
                    account: account.to_string(),
                },
            );
            let holders = pending.iter().map(|(id, p)| (*id, p.account.as_str()));
            eviction(holders, MAX_PENDING_IMPORTS)
                .and_then(|id| pending.remove(&id))
                .map(|p| p.private)
        };
        if let Some(old) = evicted {
            token.destroy(&owner, old);
        }
        Ok(ImportKeyPair { id, public_key })
    }

    /// Unwraps material wrapped under the key pair `id` (which this uses
    /// up) into the token as a key of `kind`, refuses a secret of a length
    /// outside `lengths` or a private key of another size, type or curve,
    /// wraps it under the domain key and fingerprints it with `salt`.
    /// Nothing stays in the token.
    pub fn import_material(
        &self,
        id: u64,
        wrapping: ImportWrapping,
        encrypted: &[u8],
        kind: SecretKind,
        lengths: RangeInclusive<usize>,
        salt: &[u8],
    ) -> Result<ImportedMaterial, HsmError> {
        let token = self.token()?;
        let pending = token
            .key_imports()
            .remove(&id)
            .ok_or(HsmError::UnknownKeyImport)?;
        let owner = token.lock_owner();
        let transit = self.unwrap_import(&token, &owner, &pending, wrapping, encrypted, kind);
        token.destroy(&owner, pending.private);
        let transit = transit?;
        let wrapped = (|| {
            let (exact, public_key) = match kind {
                SecretKind::Rsa(bits, _) => (None, Some(rsa_public_key(&owner, transit, bits)?)),
                SecretKind::Ec(curve, _) => {
                    ec_import::check_curve(&owner, transit, curve)?;
                    (None, None)
                }
                _ => {
                    let (shortest, longest) = material_len(&token, &owner, transit)?;
                    if shortest > *lengths.end() || longest < *lengths.start() {
                        return Err(HsmError::MaterialLength(longest));
                    }
                    ((shortest == longest).then_some(longest), None)
                }
            };
            let wrapping = token.mechanisms().wrapping_of(exact, token.label())?;
            Ok((
                token.wrap(&owner, wrapping, token.domain_key(), transit)?,
                public_key,
            ))
        })();
        token.destroy(&owner, transit);
        let (wrapped, public_key) = wrapped?;
        let public_key = match (kind, public_key) {
            (SecretKind::Ec(curve, _), None) => {
                Some(ec_import::public_key(&token, &owner, &wrapped, curve)?)
            }
            (_, known) => known,
        };
        let usable = token.unwrap_for_use(&owner, &wrapped, kind)?;
        let fingerprint = match &public_key {
            Some(spki) => Ok([salt, spki.as_slice()].concat()),
            None => fingerprint(&owner, usable, kind, salt),
        };
        token.destroy(&owner, usable);
        Ok(ImportedMaterial {
            wrapped,
            fingerprint: fingerprint?,
            public_key,
        })
    }

    /// Unwraps imported material into a transit object of `kind`.
    fn unwrap_import(
        &self,
        token: &Token,
        owner: &Session,
        pending: &PendingKeyImport,
        wrapping: ImportWrapping,
        encrypted: &[u8],
        kind: SecretKind,
    ) -> Result<ObjectHandle, HsmError> {
        let transit = backing_key_template(Purpose::Transit, kind);
        use cryptoki::error::{Error, RvError};
        let invalid = |e: HsmError| match e {
            HsmError::Pkcs11(Error::Pkcs11(
                RvError::WrappedKeyInvalid
                | RvError::WrappedKeyLenRange
                | RvError::EncryptedDataInvalid
                | RvError::EncryptedDataLenRange
                | RvError::GeneralError,
                _,
            )) => HsmError::AuthenticationFailed,
            other => other,
        };
        match wrapping {
            ImportWrapping::RsaesOaep(hash) if kind.is_private_key() => {
                let carrier = self
                    .rsa_unwrap(owner, pending, hash, encrypted, &carrier_template())
                    .map_err(invalid)?;
                let private = private_key_of_carrier(token, owner, carrier, &transit)
                    .map_err(not_a_private_key(kind));
                token.destroy(owner, carrier);
                private
            }
            ImportWrapping::RsaesOaep(hash) => self
                .rsa_unwrap(owner, pending, hash, encrypted, &transit)
                .map_err(invalid),
            ImportWrapping::RsaAesKeyWrap(hash) => {
                let k = pending.bits as usize / 8;
                if encrypted.len() <= k {
                    return Err(HsmError::AuthenticationFailed);
                }
                let (wrapped_key, wrapped_material) = encrypted.split_at(k);
                let ephemeral = self
                    .rsa_unwrap(owner, pending, hash, wrapped_key, &ephemeral_template())
                    .map_err(invalid)?;
                let mechanism = Mechanism::AesKeyWrapPad;
                let material = token
                    .require(&mechanism, "RSA_AES_KEY_WRAP")
                    .and_then(|()| {
                        Ok(owner.unwrap_key(&mechanism, ephemeral, wrapped_material, &transit)?)
                    })
                    .map_err(not_a_private_key(kind))
                    .map_err(invalid);
                token.destroy(owner, ephemeral);
                material
            }
        }
    }

    /// RSA-OAEP unwrap with the import private key into an object with
    /// `template`: in the token where it takes the hash; else (SoftHSM and
    /// SHA-256) a raw RSA decryption in the token, the OAEP decoding here
    /// and the value created as the object (SECURITY.md).
    fn rsa_unwrap(
        &self,
        owner: &Session,
        pending: &PendingKeyImport,
        hash: Oaep,
        encrypted: &[u8],
        template: &[Attribute],
    ) -> Result<ObjectHandle, HsmError> {
        if let Some(native) = self.native_oaep(hash, || {
            Ok(owner.unwrap_key(&hash.mechanism(), pending.private, encrypted, template)?)
        }) {
            return native;
        }
        let k = pending.bits as usize / 8;
        if encrypted.len() != k {
            return Err(HsmError::AuthenticationFailed);
        }
        let encoded = Zeroizing::new(decrypted(owner.decrypt(
            &Mechanism::RsaX509,
            pending.private,
            encrypted,
        ))?);
        let value = oaep::decode(&encoded, k).ok_or(HsmError::AuthenticationFailed)?;
        let mut with_value = template.to_vec();
        with_value.push(Attribute::Value(value.to_vec()));
        let created = owner.create_object(&with_value);
        if let Some(Attribute::Value(v)) = with_value.last_mut() {
            zeroize::Zeroize::zeroize(v);
        }
        Ok(created?)
    }
}

/// What a token's refusal to unwrap a private key of `kind` means: SoftHSM
/// answers `CKR_FUNCTION_FAILED` to unwrapped bytes that are not a PKCS#8
/// private key of the template's key type.
fn not_a_private_key(kind: SecretKind) -> impl Fn(HsmError) -> HsmError {
    use cryptoki::error::{Error, RvError};
    move |e| match e {
        HsmError::Pkcs11(Error::Pkcs11(RvError::FunctionFailed, _)) if kind.is_private_key() => {
            HsmError::WrongPrivateKey(format!(
                "the token does not read it as a PKCS#8 {} private key",
                match kind {
                    SecretKind::Rsa(..) => "RSA",
                    _ => "EC",
                }
            ))
        }
        other => other,
    }
}

/// What RSA-OAEP alone unwraps a private key into: a generic secret whose
/// value is the private key's PKCS#8 encoding (PKCS#11 unwraps only secret
/// keys with RSA), kept as a transit object is.
fn carrier_template() -> Vec<Attribute> {
    backing_key_template(Purpose::Transit, SecretKind::Hmac(0))
}

/// The private key whose PKCS#8 encoding is the value of `carrier`, as an
/// object made with `template`, without the encoding leaving the token: an
/// RFC 5649 wrap of a private key wraps its PKCS#8 encoding, so the
/// carrier's wrap under the domain key is such a wrap, and unwraps as that
/// private key. The wrap is dropped.
fn private_key_of_carrier(
    token: &Token,
    owner: &Session,
    carrier: ObjectHandle,
    template: &[Attribute],
) -> Result<ObjectHandle, HsmError> {
    let mechanism = Mechanism::AesKeyWrapPad;
    token.require(&mechanism, "RSAES_OAEP import of a private key")?;
    let wrapped = owner.wrap_key(&mechanism, token.domain_key(), carrier)?;
    Ok(owner.unwrap_key(&mechanism, token.domain_key(), &wrapped, template)?)
}

/// The ephemeral AES key of `RSA_AES_KEY_WRAP_*`: it only unwraps.
fn ephemeral_template() -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(false),
        Attribute::Private(false),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Unwrap(true),
        Attribute::Wrap(false),
        Attribute::Encrypt(false),
        Attribute::Decrypt(false),
    ]
}

/// The length of an unwrapped secret key's value, as the shortest and
/// longest it can be: SoftHSM leaves CKA_VALUE_LEN at 0 on an unwrapped
/// key, so its length is read off a wrap under the domain key. RFC 3394
/// wraps only multiples of 8 bytes, and then exactly (8 bytes more); RFC
/// 5649 pads to a multiple of 8 (so the length is known within 8 bytes).
/// The wraps are measured and dropped.
fn material_len(
    token: &Token,
    session: &Session,
    key: ObjectHandle,
) -> Result<(usize, usize), HsmError> {
    if let Some(Attribute::ValueLen(len)) = session
        .get_attributes(key, &[AttributeType::ValueLen])?
        .into_iter()
        .next()
    {
        let len = u64::from(len) as usize;
        if len > 0 {
            return Ok((len, len));
        }
    }
    let exact = token
        .require(&Mechanism::AesKeyWrap, "measuring imported material")
        .ok()
        .and_then(|()| {
            session
                .wrap_key(&Mechanism::AesKeyWrap, token.domain_key(), key)
                .ok()
        });
    if let Some(wrapped) = exact {
        let len = wrapped.len().saturating_sub(8);
        return Ok((len, len));
    }
    let padded = session.wrap_key(&Mechanism::AesKeyWrapPad, token.domain_key(), key)?;
    let longest = padded.len().saturating_sub(8);
    Ok((longest.saturating_sub(7).max(1), longest))
}

/// The public key of an unwrapped RSA private key, which must have a
/// modulus of `bits` (else [`HsmError::MaterialLength`], in bytes).
fn rsa_public_key(session: &Session, key: ObjectHandle, bits: u32) -> Result<Vec<u8>, HsmError> {
    let (mut modulus, mut exponent) = (None, None);
    for value in session.get_attributes(
        key,
        &[AttributeType::Modulus, AttributeType::PublicExponent],
    )? {
        match value {
            Attribute::Modulus(m) => modulus = Some(m),
            Attribute::PublicExponent(e) => exponent = Some(e),
            _ => {}
        }
    }
    let (Some(modulus), Some(exponent)) = (modulus, exponent) else {
        return Err(HsmError::Der("the token gave no RSA modulus".into()));
    };
    let significant = modulus.iter().skip_while(|b| **b == 0).count();
    if significant * 8 != bits as usize {
        return Err(HsmError::MaterialLength(significant));
    }
    public_key::encode(&public_key::PublicParts::Rsa {
        modulus: &modulus,
        exponent: &exponent,
    })
}

/// The material fingerprint of the usable key `key` of `kind`.
fn fingerprint(
    session: &Session,
    key: ObjectHandle,
    kind: SecretKind,
    salt: &[u8],
) -> Result<Vec<u8>, HsmError> {
    use sha2::Digest as _;
    match kind {
        SecretKind::Aes256 => {
            let block = &sha2::Sha256::digest(salt)[..16];
            Ok(session.encrypt(&Mechanism::AesEcb, key, block)?)
        }
        SecretKind::Hmac(_) => Ok(session.sign(&hmac_mechanism(kind)?, key, salt)?),
        other => Err(HsmError::NotAMacKey(format!(
            "{other:?} material cannot be imported yet"
        ))),
    }
}

/// Which pending pair goes when `pending` (id and account, ids rising with
/// age) holds more than `limit`: the oldest of the account holding the
/// most, the account with the older oldest pair among equals.
fn eviction<'a>(pending: impl Iterator<Item = (u64, &'a str)>, limit: usize) -> Option<u64> {
    let mut held: HashMap<&str, (usize, u64)> = HashMap::new();
    for (id, account) in pending {
        let entry = held.entry(account).or_insert((0, id));
        entry.0 += 1;
        entry.1 = entry.1.min(id);
    }
    if held.values().map(|(count, _)| count).sum::<usize>() <= limit {
        return None;
    }
    held.into_values()
        .max_by(|(count_a, oldest_a), (count_b, oldest_b)| {
            count_a.cmp(count_b).then(oldest_b.cmp(oldest_a))
        })
        .map(|(_, oldest)| oldest)
}

#[cfg(test)]
mod tests {
    use super::eviction;

    #[test]
    fn the_account_holding_the_most_loses_its_oldest_pair() {
        let two = [(1, "a"), (2, "b")];
        assert_eq!(eviction(two.iter().copied(), 2), None);
        // b asks again and again: its own oldest goes, never a's.
        let flood = [(1, "a"), (2, "b"), (3, "b"), (4, "b")];
        assert_eq!(eviction(flood.iter().copied(), 3), Some(2));
        // Among equals, the account whose oldest pair is older.
        let even = [(1, "a"), (2, "b"), (3, "b"), (4, "a"), (5, "c")];
        assert_eq!(eviction(even.iter().copied(), 4), Some(1));
    }
}
