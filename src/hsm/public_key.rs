//! Public keys as DER SubjectPublicKeyInfo (what GetPublicKey returns and
//! the store keeps in the clear), read from a generated key pair's public
//! half, and turned back into a session object to verify or encrypt with.

use super::{Curve, HsmError, PairRole, SecretKind};
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use der::asn1::{Any, BitString, Null, ObjectIdentifier, OctetStringRef, UintRef};
use der::{Decode, Encode};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};

/// rsaEncryption (RFC 8017).
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// id-ecPublicKey (RFC 5480).
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

/// A public key's values, as PKCS#11 states them.
pub(super) enum PublicParts<'a> {
    /// RSA modulus and public exponent, big-endian.
    Rsa {
        modulus: &'a [u8],
        exponent: &'a [u8],
    },
    /// An EC point (SEC 1 encoding) on a curve.
    Ec { curve: Curve, point: &'a [u8] },
}

/// The SubjectPublicKeyInfo of the public key object `public` of `kind`.
pub(super) fn read(
    session: &Session,
    public: ObjectHandle,
    kind: SecretKind,
) -> Result<Vec<u8>, HsmError> {
    match kind {
        SecretKind::Rsa(..) => {
            let values = session.get_attributes(
                public,
                &[AttributeType::Modulus, AttributeType::PublicExponent],
            )?;
            let (mut modulus, mut exponent) = (None, None);
            for value in values {
                match value {
                    Attribute::Modulus(m) => modulus = Some(m),
                    Attribute::PublicExponent(e) => exponent = Some(e),
                    _ => {}
                }
            }
            let (Some(modulus), Some(exponent)) = (modulus, exponent) else {
                return Err(bad("the token did not give the RSA modulus and exponent"));
            };
            encode(&PublicParts::Rsa {
                modulus: &modulus,
                exponent: &exponent,
            })
        }
        SecretKind::Ec(curve, _) => {
            let values = session.get_attributes(public, &[AttributeType::EcPoint])?;
            let Some(Attribute::EcPoint(wrapped)) = values.into_iter().next() else {
                return Err(bad("the token did not give the EC point"));
            };
            let point = OctetStringRef::from_der(&wrapped)
                .map_err(|e| bad(&format!("CKA_EC_POINT is not a DER OCTET STRING: {e}")))?;
            encode(&PublicParts::Ec {
                curve,
                point: point.as_bytes(),
            })
        }
        SecretKind::Aes256 | SecretKind::Hmac(_) => Err(bad("a secret key has no public key")),
    }
}

/// DER SubjectPublicKeyInfo of these values.
pub(super) fn encode(parts: &PublicParts<'_>) -> Result<Vec<u8>, HsmError> {
    let der = |e: der::Error| bad(&e.to_string());
    let (oid, parameters, key) = match parts {
        PublicParts::Rsa { modulus, exponent } => {
            let key = pkcs1::RsaPublicKey {
                modulus: UintRef::new(modulus).map_err(der)?,
                public_exponent: UintRef::new(exponent).map_err(der)?,
            };
            (
                RSA_ENCRYPTION,
                Any::encode_from(&Null).map_err(der)?,
                key.to_der().map_err(der)?,
            )
        }
        PublicParts::Ec { curve, point } => (
            EC_PUBLIC_KEY,
            Any::encode_from(&curve.oid()).map_err(der)?,
            point.to_vec(),
        ),
    };
    SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid,
            parameters: Some(parameters),
        },
        subject_public_key: BitString::from_bytes(&key).map_err(der)?,
    }
    .to_der()
    .map_err(der)
}

/// The values of a DER SubjectPublicKeyInfo holding an RSA or a named-curve
/// EC public key.
pub(super) fn parse(spki: &[u8]) -> Result<PublicParts<'_>, HsmError> {
    let info = SubjectPublicKeyInfoRef::from_der(spki)
        .map_err(|e| bad(&format!("not a DER SubjectPublicKeyInfo: {e}")))?;
    let key = info
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| bad("the key's BIT STRING has unused bits"))?;
    match info.algorithm.oid {
        RSA_ENCRYPTION => {
            let rsa = pkcs1::RsaPublicKey::from_der(key)
                .map_err(|e| bad(&format!("not a PKCS#1 RSAPublicKey: {e}")))?;
            Ok(PublicParts::Rsa {
                modulus: rsa.modulus.as_bytes(),
                exponent: rsa.public_exponent.as_bytes(),
            })
        }
        EC_PUBLIC_KEY => {
            let curve = info
                .algorithm
                .parameters
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .and_then(|oid| Curve::from_oid(&oid))
                .ok_or_else(|| bad("the EC key is not on P-256, P-384, P-521 or secp256k1"))?;
            Ok(PublicParts::Ec { curve, point: key })
        }
        other => Err(bad(&format!("algorithm {other} is neither RSA nor EC"))),
    }
}

/// The template of a session object holding `parts`, able to do what the
/// public half of a key with `role` does (verify, or encrypt) and nothing
/// else.
pub(super) fn object_template(
    parts: &PublicParts<'_>,
    role: PairRole,
) -> Result<Vec<Attribute>, HsmError> {
    let mut template = vec![
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::Token(false),
        Attribute::Private(false),
        Attribute::Verify(role == PairRole::Sign),
        Attribute::Encrypt(role == PairRole::Decrypt),
        Attribute::Wrap(false),
        Attribute::Derive(false),
    ];
    match parts {
        PublicParts::Rsa { modulus, exponent } => template.extend([
            Attribute::KeyType(cryptoki::object::KeyType::RSA),
            Attribute::Modulus(modulus.to_vec()),
            Attribute::PublicExponent(exponent.to_vec()),
        ]),
        PublicParts::Ec { curve, point } => template.extend([
            Attribute::KeyType(cryptoki::object::KeyType::EC),
            Attribute::EcParams(super::template::ec_params(*curve)),
            Attribute::EcPoint(
                OctetStringRef::new(point)
                    .and_then(|o| o.to_der())
                    .map_err(|e| bad(&e.to_string()))?,
            ),
        ]),
    }
    template.push(Attribute::Modifiable(false));
    Ok(template)
}

fn bad(why: &str) -> HsmError {
    HsmError::BadPublicKey(why.to_string())
}
