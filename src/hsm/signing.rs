//! Signature schemes as the token runs them: each signs a digest that this
//! process computed, and ECDSA's raw r || s becomes the DER that AWS returns.

use super::{Curve, HsmError};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use der::asn1::UintRef;
use der::{Decode, Encode, Sequence};

/// A SHA-2 digest a signature covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Digest {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl Digest {
    /// Length of the digest in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Digest::Sha256 => 32,
            Digest::Sha384 => 48,
            Digest::Sha512 => 64,
        }
    }

    /// The digest of `message`.
    pub fn of(self, message: &[u8]) -> Vec<u8> {
        use sha2::Digest as _;
        match self {
            Digest::Sha256 => sha2::Sha256::digest(message).to_vec(),
            Digest::Sha384 => sha2::Sha384::digest(message).to_vec(),
            Digest::Sha512 => sha2::Sha512::digest(message).to_vec(),
        }
    }

    fn mechanism(self) -> MechanismType {
        match self {
            Digest::Sha256 => MechanismType::SHA256,
            Digest::Sha384 => MechanismType::SHA384,
            Digest::Sha512 => MechanismType::SHA512,
        }
    }

    fn mgf(self) -> PkcsMgfType {
        match self {
            Digest::Sha256 => PkcsMgfType::MGF1_SHA256,
            Digest::Sha384 => PkcsMgfType::MGF1_SHA384,
            Digest::Sha512 => PkcsMgfType::MGF1_SHA512,
        }
    }

    /// The DER DigestInfo prefix that PKCS#1 v1.5 puts before the digest.
    fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            Digest::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            Digest::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            Digest::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
        }
    }
}

/// A signature scheme over a digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signing {
    /// RSASSA-PSS with MGF1 of the same digest and a salt as long as it.
    RsaPss(Digest),
    /// RSASSA-PKCS1-v1_5.
    RsaPkcs1(Digest),
    /// ECDSA; the signature is DER (SEQUENCE of r and s).
    Ecdsa(Digest),
}

impl Signing {
    /// The digest the scheme signs.
    pub fn digest(self) -> Digest {
        match self {
            Signing::RsaPss(d) | Signing::RsaPkcs1(d) | Signing::Ecdsa(d) => d,
        }
    }

    /// The mechanism's name, as a metrics label.
    pub(super) fn mechanism_name(self) -> &'static str {
        match self {
            Signing::RsaPss(_) => "RSA-PSS",
            Signing::RsaPkcs1(_) => "RSA-PKCS1",
            Signing::Ecdsa(_) => "ECDSA",
        }
    }

    /// The mechanism and the data the token signs for `digest`.
    pub(super) fn token_input(self, digest: &[u8]) -> (Mechanism<'static>, Vec<u8>) {
        match self {
            Signing::RsaPss(d) => (
                Mechanism::RsaPkcsPss(PkcsPssParams {
                    hash_alg: d.mechanism(),
                    mgf: d.mgf(),
                    s_len: (d.output_len() as u64).into(),
                }),
                digest.to_vec(),
            ),
            Signing::RsaPkcs1(d) => (
                Mechanism::RsaPkcs,
                [d.digest_info_prefix(), digest].concat(),
            ),
            Signing::Ecdsa(_) => (Mechanism::Ecdsa, digest.to_vec()),
        }
    }
}

/// An ECDSA signature as X9.62 DER.
#[derive(Sequence)]
struct EcdsaSignature<'a> {
    r: UintRef<'a>,
    s: UintRef<'a>,
}

/// DER of the token's raw r || s.
pub(super) fn ecdsa_to_der(raw: &[u8]) -> Result<Vec<u8>, HsmError> {
    let (r, s) = raw.split_at(raw.len() / 2);
    let bad = |e: der::Error| HsmError::Der(format!("ECDSA signature: {e}"));
    EcdsaSignature {
        r: UintRef::new(r).map_err(bad)?,
        s: UintRef::new(s).map_err(bad)?,
    }
    .to_der()
    .map_err(bad)
}

/// The raw r || s the token verifies, from a DER signature; `None` when the
/// signature is not DER or its values do not fit the curve.
pub(super) fn ecdsa_from_der(signature: &[u8], curve: Curve) -> Option<Vec<u8>> {
    let parsed = EcdsaSignature::from_der(signature).ok()?;
    let len = curve.field_len();
    let mut raw = vec![0u8; 2 * len];
    for (value, slot) in [parsed.r, parsed.s].iter().zip(raw.chunks_mut(len)) {
        let bytes = value.as_bytes();
        if bytes.len() > len {
            return None;
        }
        slot[len - bytes.len()..].copy_from_slice(bytes);
    }
    Some(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecdsa_signatures_round_trip_through_der_with_leading_zeros() {
        let mut raw = vec![0u8; 64];
        raw[1] = 0x80;
        raw[40] = 0x01;
        let der = ecdsa_to_der(&raw).unwrap();
        assert_eq!(ecdsa_from_der(&der, Curve::P256).unwrap(), raw);
        assert!(ecdsa_from_der(&der[..der.len() - 1], Curve::P256).is_none());
    }
}
