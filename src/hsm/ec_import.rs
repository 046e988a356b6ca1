//! Imported EC private keys: their curve is checked, and their public key
//! is found without the private key leaving the token. A PKCS#8 EC private
//! key unwrapped in SoftHSM 2.6.1 carries no public point (`CKA_EC_POINT`
//! is absent on private-key objects), so the token is asked for what it
//! can give from the private scalar `d`:
//!
//! 1. a probe copy of the key is unwrapped from its blob under the domain
//!    key: sensitive, not extractable, able to sign and to derive;
//! 2. ECDH (`CKM_ECDH1_DERIVE`, `CKD_NULL`) of the probe with the curve's
//!    generator `G` as the peer gives x(d·G), the x-coordinate of the public
//!    point (the same value DeriveSharedSecret returns for any peer);
//! 3. the two points with that x-coordinate (compressed `02 || x` and
//!    `03 || x`) are decompressed here with the curve's arithmetic;
//! 4. the probe signs a fixed digest (`CKM_ECDSA`), and the candidate whose
//!    public-key object verifies it in the token is the key's public point;
//! 5. the probe is destroyed.
//!
//! Only public values pass through this process: `G`, the x-coordinate,
//! the two candidate points and a signature of a fixed digest.

use super::public_key::{self, PublicParts};
use super::template::{Purpose, backing_key_template, ec_params};
use super::token::Token;
use super::{Curve, HsmError, PairRole, SecretKind};
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use p256::elliptic_curve::group::{Curve as _, Group as _};
use p256::elliptic_curve::sec1::{EncodedPoint, FromEncodedPoint, ModulusSize, ToEncodedPoint};
use p256::elliptic_curve::{AffinePoint, CurveArithmetic, FieldBytesSize};

/// What the probe signs to tell the two candidate points apart.
const PROBE_MESSAGE: &[u8] = b"trent: the public point of an imported EC private key";

/// Checks that the unwrapped private key `key` lies on `curve` (the token
/// takes the curve from the PKCS#8, whatever the unwrap template says);
/// another curve is [`HsmError::WrongPrivateKey`].
pub(super) fn check_curve(
    session: &Session,
    key: ObjectHandle,
    curve: Curve,
) -> Result<(), HsmError> {
    let params = match session
        .get_attributes(key, &[AttributeType::EcParams])?
        .into_iter()
        .next()
    {
        Some(Attribute::EcParams(params)) => params,
        _ => return Err(HsmError::Der("the token gave no EC parameters".into())),
    };
    if params == ec_params(curve) {
        return Ok(());
    }
    use der::Decode;
    let found = match der::asn1::ObjectIdentifier::from_der(&params) {
        Ok(oid) => match Curve::from_oid(&oid) {
            Some(other) => format!("it is on {other:?}, not on {curve:?}"),
            None => format!("it is on the curve {oid}, not on {curve:?}"),
        },
        Err(_) => format!("its curve is given by explicit parameters, not named {curve:?}"),
    };
    Err(HsmError::WrongPrivateKey(found))
}

/// The public key (DER SubjectPublicKeyInfo) of the EC private key on
/// `curve` that `wrapped` holds under the domain key, found in the token as
/// the module documentation says. The probe object is destroyed whatever
/// happens.
pub(super) fn public_key(
    token: &Token,
    owner: &Session,
    wrapped: &[u8],
    curve: Curve,
) -> Result<Vec<u8>, HsmError> {
    let generator = generator(curve);
    let derive = Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), &generator));
    token.require(&derive, "importing an EC private key")?;
    token.require(&Mechanism::Ecdsa, "importing an EC private key")?;
    let probe = token.unwrap(owner, token.domain_key(), wrapped, &probe_template(curve))?;
    let found = public_point(token, owner, probe, &derive, curve);
    token.destroy(owner, probe);
    let point = found?;
    public_key::encode(&PublicParts::Ec {
        curve,
        point: &point,
    })
}

/// The uncompressed public point of the probe `probe`.
fn public_point(
    token: &Token,
    session: &Session,
    probe: ObjectHandle,
    derive: &Mechanism<'_>,
    curve: Curve,
) -> Result<Vec<u8>, HsmError> {
    let x = x_coordinate(token, session, probe, derive, curve)?;
    let digest = <sha2::Sha256 as sha2::Digest>::digest(PROBE_MESSAGE);
    let signature = session.sign(&Mechanism::Ecdsa, probe, &digest)?;
    for prefix in [0x02, 0x03] {
        let compressed = [&[prefix][..], &x].concat();
        let Some(point) = decompress(curve, &compressed) else {
            continue;
        };
        let template = public_key::object_template(
            &PublicParts::Ec {
                curve,
                point: &point,
            },
            PairRole::Sign,
        )?;
        let candidate = session.create_object(&template)?;
        let verified = session.verify(&Mechanism::Ecdsa, candidate, &digest, &signature);
        token.destroy(session, candidate);
        match verified {
            Ok(()) => return Ok(point),
            Err(Error::Pkcs11(RvError::SignatureInvalid | RvError::SignatureLenRange, _)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(HsmError::BadPublicKey(
        "no point with the x-coordinate the token derived verifies the key's signature".into(),
    ))
}

/// x(d·G): ECDH of the probe with the generator, as a readable generic
/// secret (a public value) that is destroyed once read.
fn x_coordinate(
    token: &Token,
    session: &Session,
    probe: ObjectHandle,
    derive: &Mechanism<'_>,
    curve: Curve,
) -> Result<Vec<u8>, HsmError> {
    let secret = session.derive_key(
        derive,
        probe,
        &[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::Token(false),
            Attribute::Private(false),
            Attribute::Sensitive(false),
            Attribute::Extractable(true),
            Attribute::ValueLen((curve.field_len() as u64).into()),
        ],
    )?;
    let value = session.get_attributes(secret, &[AttributeType::Value]);
    token.destroy(session, secret);
    match value?.into_iter().next() {
        Some(Attribute::Value(x)) if x.len() == curve.field_len() => Ok(x),
        _ => Err(HsmError::BadPublicKey(
            "the token gave no x-coordinate of the field's length".into(),
        )),
    }
}

/// The probe's template: the use copy of a signing key (sensitive, not
/// extractable, a session object that cannot unwrap, as the domain key's
/// unwrap template demands) that may also derive.
fn probe_template(curve: Curve) -> Vec<Attribute> {
    backing_key_template(Purpose::Use, SecretKind::Ec(curve, PairRole::Sign))
        .into_iter()
        .map(|attribute| match attribute {
            Attribute::Derive(_) => Attribute::Derive(true),
            other => other,
        })
        .collect()
}

/// The curve's generator, uncompressed (SEC 1).
fn generator(curve: Curve) -> Vec<u8> {
    match curve {
        Curve::P256 => generator_of::<p256::NistP256>(),
        Curve::P384 => generator_of::<p384::NistP384>(),
        Curve::P521 => generator_of::<p521::NistP521>(),
        Curve::Secp256k1 => generator_of::<k256::Secp256k1>(),
    }
}

/// Whether `point` (SEC 1, compressed or not) is a point of the curve
/// other than the identity: a peer's ECDH key is checked here, whatever
/// the token checks, since a point off the curve lets the shared secret
/// leak the private key (an invalid-curve attack).
pub(super) fn on_curve(curve: Curve, point: &[u8]) -> bool {
    let identity = matches!(point.first(), None | Some(0));
    !identity && decompress(curve, point).is_some()
}

/// The point a compressed SEC 1 encoding names, uncompressed; `None` when
/// no point of the curve has that x-coordinate.
fn decompress(curve: Curve, compressed: &[u8]) -> Option<Vec<u8>> {
    match curve {
        Curve::P256 => decompress_on::<p256::NistP256>(compressed),
        Curve::P384 => decompress_on::<p384::NistP384>(compressed),
        Curve::P521 => decompress_on::<p521::NistP521>(compressed),
        Curve::Secp256k1 => decompress_on::<k256::Secp256k1>(compressed),
    }
}

fn generator_of<C>() -> Vec<u8>
where
    C: CurveArithmetic,
    AffinePoint<C>: ToEncodedPoint<C>,
    FieldBytesSize<C>: ModulusSize,
{
    C::ProjectivePoint::generator()
        .to_affine()
        .to_encoded_point(false)
        .as_bytes()
        .to_vec()
}

fn decompress_on<C>(compressed: &[u8]) -> Option<Vec<u8>>
where
    C: CurveArithmetic,
    AffinePoint<C>: FromEncodedPoint<C> + ToEncodedPoint<C>,
    FieldBytesSize<C>: ModulusSize,
{
    let encoded = EncodedPoint::<C>::from_bytes(compressed).ok()?;
    let point: Option<AffinePoint<C>> = AffinePoint::<C>::from_encoded_point(&encoded).into();
    Some(point?.to_encoded_point(false).as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compressed_generator_decompresses_to_the_generator() {
        for curve in [Curve::P256, Curve::P384, Curve::P521, Curve::Secp256k1] {
            let g = generator(curve);
            assert_eq!(g.len(), 1 + 2 * curve.field_len(), "{curve:?}");
            let x = &g[1..=curve.field_len()];
            let odd = g[g.len() - 1] & 1;
            let same = decompress(curve, &[&[0x02 | odd][..], x].concat());
            let other = decompress(curve, &[&[0x03 ^ odd][..], x].concat()).unwrap();
            assert_eq!(same.as_deref(), Some(g.as_slice()), "{curve:?}");
            assert_eq!(other[..=curve.field_len()], g[..=curve.field_len()]);
            assert_ne!(other, g, "{curve:?}: the other point is -G");
        }
        let not_on_p256 = [&[0x02][..], &[0xff; 32]].concat();
        assert!(decompress(Curve::P256, &not_on_p256).is_none());
    }

    #[test]
    fn only_points_of_the_curve_other_than_the_identity_are_on_it() {
        for curve in [Curve::P256, Curve::P384, Curve::P521, Curve::Secp256k1] {
            let mut g = generator(curve);
            assert!(on_curve(curve, &g), "{curve:?}");
            *g.last_mut().unwrap() ^= 1;
            assert!(!on_curve(curve, &g), "{curve:?}");
            assert!(!on_curve(curve, &[0x00]), "{curve:?}: the identity");
            assert!(!on_curve(curve, &[]), "{curve:?}");
        }
    }
}
