//! The calls on key pairs: sign and verify, RSA encryption, ECDH, and data
//! key pairs generated in the token for the caller.

use super::public_key::{self, PublicParts};
use super::signing::{self, Signing};
use super::{Hsm, HsmError, PairRole, SecretKind, WrappedMaterial, ec_import, oaep};
use crate::metrics::metrics;
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::MechanismType;
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};
use cryptoki::session::Session;
use std::sync::atomic::Ordering;
use zeroize::Zeroizing;

/// The hash of RSAES-OAEP (with MGF1 of the same hash and an empty label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Oaep {
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
}

impl Oaep {
    /// CKM_RSA_PKCS_OAEP with this hash, MGF1 of it and no label.
    pub(super) fn mechanism(self) -> Mechanism<'static> {
        let (hash, mgf) = match self {
            Oaep::Sha1 => (MechanismType::SHA1, PkcsMgfType::MGF1_SHA1),
            Oaep::Sha256 => (MechanismType::SHA256, PkcsMgfType::MGF1_SHA256),
        };
        Mechanism::RsaPkcsOaep(PkcsOaepParams::new(hash, mgf, PkcsOaepSource::empty()))
    }
}

/// A data key pair: the private key as PKCS#8 DER, and the public key.
pub struct KeyPair {
    /// PKCS#8 DER of the private key.
    pub private_key: Zeroizing<Vec<u8>>,
    /// DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
}

impl Hsm {
    /// Signs `digest` (made with the scheme's hash) with the private key.
    pub fn sign(
        &self,
        material: &WrappedMaterial<'_>,
        signing: Signing,
        digest: &[u8],
    ) -> Result<Vec<u8>, HsmError> {
        let (mechanism, input) = signing.token_input(digest);
        let token = self.token()?;
        token.require(&mechanism, "Sign")?;
        let raw = token.with_key(material, |session, key| {
            Ok(metrics().pkcs11("sign", signing.mechanism_name(), || {
                session.sign(&mechanism, key, &input)
            })?)
        })?;
        match signing {
            Signing::Ecdsa(_) => signing::ecdsa_to_der(&raw),
            _ => Ok(raw),
        }
    }

    /// Whether `signature` signs `digest` under the key pair whose public
    /// key the material's row holds, checked in the token.
    pub fn verify(
        &self,
        material: &WrappedMaterial<'_>,
        signing: Signing,
        digest: &[u8],
        signature: &[u8],
    ) -> Result<bool, HsmError> {
        let signature = match (signing, material.reference.kind) {
            (Signing::Ecdsa(_), SecretKind::Ec(curve, _)) => {
                match signing::ecdsa_from_der(signature, curve) {
                    Some(raw) => raw,
                    None => return Ok(false),
                }
            }
            _ => signature.to_vec(),
        };
        let (mechanism, input) = signing.token_input(digest);
        let token = self.token()?;
        token.require(&mechanism, "Verify")?;
        token.with_public_key(material, |session, key| {
            let verified = metrics().pkcs11("verify", signing.mechanism_name(), || {
                session.verify(&mechanism, key, &input, &signature)
            });
            match verified {
                Ok(()) => Ok(true),
                Err(Error::Pkcs11(RvError::SignatureInvalid | RvError::SignatureLenRange, _)) => {
                    Ok(false)
                }
                Err(e) => Err(e.into()),
            }
        })
    }

    /// RSAES-OAEP encryption under the key pair whose public key the
    /// material's row holds.
    pub fn rsa_encrypt(
        &self,
        material: &WrappedMaterial<'_>,
        oaep: Oaep,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, HsmError> {
        let token = self.token()?;
        if let Some(native) = self.native_oaep(oaep, || {
            token.with_public_key(material, |session, key| {
                Ok(session.encrypt(&oaep.mechanism(), key, plaintext)?)
            })
        }) {
            return native;
        }
        let k = modulus_len(material.reference.kind)?;
        let seed = self.random(32)?;
        let encoded = oaep::encode(plaintext, k, &seed).ok_or(HsmError::MessageTooLong)?;
        token.require(&Mechanism::RsaX509, "RSAES_OAEP_SHA_256 on this token")?;
        token.with_public_key(material, |session, key| {
            Ok(session.encrypt(&Mechanism::RsaX509, key, &encoded)?)
        })
    }

    /// RSAES-OAEP decryption with the private key.
    pub fn rsa_decrypt(
        &self,
        material: &WrappedMaterial<'_>,
        oaep: Oaep,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, HsmError> {
        let token = self.token()?;
        let k = modulus_len(material.reference.kind)?;
        if ciphertext.len() != k {
            return Err(HsmError::AuthenticationFailed);
        }
        if let Some(native) = self.native_oaep(oaep, || {
            token.with_key(material, |session, key| {
                decrypted(session.decrypt(&oaep.mechanism(), key, ciphertext))
            })
        }) {
            return native.map(Zeroizing::new);
        }
        token.require(&Mechanism::RsaX509, "RSAES_OAEP_SHA_256 on this token")?;
        let encoded = Zeroizing::new(token.with_key(material, |session, key| {
            decrypted(session.decrypt(&Mechanism::RsaX509, key, ciphertext))
        })?);
        oaep::decode(&encoded, k).ok_or(HsmError::AuthenticationFailed)
    }

    /// The raw ECDH shared secret (the x-coordinate) of the private key and
    /// a peer's public key (DER SubjectPublicKeyInfo on the key's curve).
    pub fn derive_shared_secret(
        &self,
        material: &WrappedMaterial<'_>,
        peer: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, HsmError> {
        let SecretKind::Ec(curve, PairRole::Agree) = material.reference.kind else {
            return Err(HsmError::BadPublicKey("not a key agreement key".into()));
        };
        let point = match public_key::parse(peer)? {
            PublicParts::Ec { curve: c, point } if c == curve && ec_import::on_curve(c, point) => {
                point
            }
            _ => {
                return Err(HsmError::BadPublicKey(format!(
                    "the peer's public key is not on the key's curve ({curve:?})"
                )));
            }
        };
        let token = self.token()?;
        let mechanism = Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), point));
        token.require(&mechanism, "DeriveSharedSecret")?;
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::Token(false),
            Attribute::Private(false),
            Attribute::Sensitive(false),
            Attribute::Extractable(true),
            Attribute::ValueLen((curve.field_len() as u64).into()),
        ];
        token.with_key(material, |session, key| {
            let secret = match session.derive_key(&mechanism, key, &template) {
                Ok(secret) => secret,
                Err(Error::Pkcs11(
                    RvError::ArgumentsBad
                    | RvError::MechanismParamInvalid
                    | RvError::DomainParamsInvalid,
                    _,
                )) => {
                    return Err(HsmError::BadPublicKey(
                        "the peer's point is not on the key's curve".into(),
                    ));
                }
                Err(e) => return Err(e.into()),
            };
            let value = session.get_attributes(secret, &[AttributeType::Value]);
            token.destroy(session, secret);
            match value?.into_iter().next() {
                Some(Attribute::Value(v)) => Ok(Zeroizing::new(v)),
                _ => Err(HsmError::BadPublicKey(
                    "the token gave no shared secret".into(),
                )),
            }
        })
    }

    /// A key pair of `kind` generated in the token for the caller to keep:
    /// the token wraps the private key (PKCS#8 inside RFC 5649) under an
    /// ephemeral AES key that this process may read, which then unwraps it
    /// here. Every object is destroyed before returning.
    pub fn generate_data_key_pair(&self, kind: SecretKind) -> Result<KeyPair, HsmError> {
        let token = self.token()?;
        let wrapping = Mechanism::AesKeyWrapPad;
        token.require(&wrapping, "GenerateDataKeyPair")?;
        let owner = token.lock_owner();
        let (private, public_key) = token.generate_extractable(&owner, kind)?;
        let wrapped = ephemeral_wrap(&owner, &wrapping, private);
        token.destroy(&owner, private);
        drop(owner);
        let (kek, wrapped) = wrapped?;
        let kek: Zeroizing<[u8; 32]> = Zeroizing::new(
            kek.as_slice()
                .try_into()
                .map_err(|_| HsmError::Der("the ephemeral key is not 32 bytes".into()))?,
        );
        let unwrapped = Zeroizing::new(
            aes_kw::KekAes256::from(*kek)
                .unwrap_with_padding_vec(&wrapped)
                .map_err(|_| HsmError::UnwrapFailed)?,
        );
        Ok(KeyPair {
            private_key: Zeroizing::new(pkcs8_only(&unwrapped)?.to_vec()),
            public_key: public_key.ok_or_else(|| HsmError::Der("no public key".into()))?,
        })
    }

    /// Runs `native`, the token's own RSA-OAEP, unless this token is known
    /// to refuse OAEP with SHA-256. `None` means the caller does the OAEP
    /// around raw RSA instead: the token refused (now or before) SHA-256.
    pub(super) fn native_oaep<T>(
        &self,
        oaep: Oaep,
        native: impl FnOnce() -> Result<T, HsmError>,
    ) -> Option<Result<T, HsmError>> {
        if oaep == Oaep::Sha256 && self.oaep_sha256_raw.load(Ordering::Relaxed) {
            return None;
        }
        match native() {
            Err(e) if oaep == Oaep::Sha256 && refuses_parameters(&e) => {
                self.note_raw_oaep();
                None
            }
            other => Some(other),
        }
    }

    /// Remembers that this token takes OAEP only with SHA-1, so that
    /// SHA-256 goes through raw RSA from now on.
    fn note_raw_oaep(&self) {
        if !self.oaep_sha256_raw.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "the token refuses RSA-OAEP with SHA-256; RSAES_OAEP_SHA_256 is served with raw \
                 RSA in the token and OAEP in this process (SECURITY.md)"
            );
        }
    }
}

/// The PKCS#8 element an unwrapped private key starts with, without what
/// follows it: SoftHSM 2.6 pads a private key with zeros to a multiple of 8
/// bytes before wrapping it with RFC 5649, so that padding survives the
/// unwrap.
fn pkcs8_only(unwrapped: &[u8]) -> Result<&[u8], HsmError> {
    use der::Reader;
    der::SliceReader::new(unwrapped)
        .and_then(|mut reader| reader.tlv_bytes())
        .map_err(|e| HsmError::Der(format!("unwrapped private key: {e}")))
}

/// Wraps `private` under a fresh AES-256 key and returns that key's value
/// with the wrapped private key; the AES key is destroyed.
fn ephemeral_wrap(
    session: &Session,
    wrapping: &Mechanism<'_>,
    private: cryptoki::object::ObjectHandle,
) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>), HsmError> {
    let kek = session.generate_key(
        &Mechanism::AesKeyGen,
        &[
            Attribute::ValueLen(32.into()),
            Attribute::Token(false),
            Attribute::Private(false),
            Attribute::Sensitive(false),
            Attribute::Extractable(true),
            Attribute::Wrap(true),
            Attribute::Encrypt(false),
            Attribute::Decrypt(false),
        ],
    )?;
    let result = (|| {
        let wrapped = session.wrap_key(wrapping, kek, private)?;
        match session
            .get_attributes(kek, &[AttributeType::Value])?
            .into_iter()
            .next()
        {
            Some(Attribute::Value(v)) => Ok((Zeroizing::new(v), wrapped)),
            _ => Err(HsmError::Der("the token gave no ephemeral key".into())),
        }
    })();
    let _ = session.destroy_object(kek);
    result
}

/// The outcome of a private-key decryption: a refused ciphertext is
/// [`HsmError::AuthenticationFailed`].
pub(super) fn decrypted(result: cryptoki::error::Result<Vec<u8>>) -> Result<Vec<u8>, HsmError> {
    match result {
        Ok(plain) => Ok(plain),
        Err(Error::Pkcs11(
            RvError::EncryptedDataInvalid | RvError::EncryptedDataLenRange | RvError::GeneralError,
            _,
        )) => Err(HsmError::AuthenticationFailed),
        Err(e) => Err(e.into()),
    }
}

/// Whether the token refused a mechanism's parameters (SoftHSM 2.6 answers
/// CKR_ARGUMENTS_BAD to OAEP with SHA-256).
fn refuses_parameters(e: &HsmError) -> bool {
    matches!(
        e,
        HsmError::Pkcs11(Error::Pkcs11(
            RvError::ArgumentsBad | RvError::MechanismParamInvalid | RvError::MechanismInvalid,
            _
        ))
    )
}

/// Length in bytes of an RSA key's modulus.
fn modulus_len(kind: SecretKind) -> Result<usize, HsmError> {
    match kind {
        SecretKind::Rsa(bits, _) => Ok(bits as usize / 8),
        other => Err(HsmError::BadPublicKey(format!(
            "{other:?} is not an RSA key"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_follows_the_pkcs8_element_is_dropped() {
        let element = [0x30, 3, 1, 2, 3];
        assert_eq!(pkcs8_only(&[0x30, 3, 1, 2, 3, 0, 0, 0]).unwrap(), element);
        assert_eq!(pkcs8_only(&element).unwrap(), element);
        assert!(pkcs8_only(&[0x30, 9, 1]).is_err());
    }
}
