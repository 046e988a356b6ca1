//! What a backing key is in the token: a secret key (AES or HMAC) or the
//! private half of a key pair (RSA or EC), and what its use copy may do.

use cryptoki::mechanism::Mechanism;
use cryptoki::object::KeyType;

/// The kind of backing key: what the token generates, wraps and unwraps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SecretKind {
    /// An AES-256 key for AES-GCM (`SYMMETRIC_DEFAULT`).
    Aes256,
    /// An HMAC key of this many bytes (`HMAC_224` to `HMAC_512`).
    Hmac(usize),
    /// An RSA private key with a modulus of this many bits.
    Rsa(u32, PairRole),
    /// An EC private key on this curve.
    Ec(Curve, PairRole),
}

/// What the use copy of a private key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PairRole {
    /// Sign (`SIGN_VERIFY`).
    Sign,
    /// Decrypt (`ENCRYPT_DECRYPT`, RSA only).
    Decrypt,
    /// Derive shared secrets (`KEY_AGREEMENT`, EC only).
    Agree,
}

/// A named elliptic curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Curve {
    /// NIST P-256 (secp256r1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
    /// NIST P-521 (secp521r1).
    P521,
    /// secp256k1.
    Secp256k1,
}

impl Curve {
    /// The curve's object identifier.
    pub fn oid(self) -> der::asn1::ObjectIdentifier {
        use der::asn1::ObjectIdentifier as Oid;
        match self {
            Curve::P256 => Oid::new_unwrap("1.2.840.10045.3.1.7"),
            Curve::P384 => Oid::new_unwrap("1.3.132.0.34"),
            Curve::P521 => Oid::new_unwrap("1.3.132.0.35"),
            Curve::Secp256k1 => Oid::new_unwrap("1.3.132.0.10"),
        }
    }

    /// The curve named by `oid`, if it is one of these.
    pub fn from_oid(oid: &der::asn1::ObjectIdentifier) -> Option<Self> {
        [Curve::P256, Curve::P384, Curve::P521, Curve::Secp256k1]
            .into_iter()
            .find(|c| c.oid() == *oid)
    }

    /// Length in bytes of a field element (and of each of r and s).
    pub fn field_len(self) -> usize {
        match self {
            Curve::P256 | Curve::Secp256k1 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }
}

impl SecretKind {
    /// Whether this is the private half of a key pair.
    pub fn is_private_key(self) -> bool {
        matches!(self, SecretKind::Rsa(..) | SecretKind::Ec(..))
    }

    /// The PKCS#11 key type.
    pub(super) fn key_type(self) -> KeyType {
        match self {
            SecretKind::Aes256 => KeyType::AES,
            SecretKind::Hmac(_) => KeyType::GENERIC_SECRET,
            SecretKind::Rsa(..) => KeyType::RSA,
            SecretKind::Ec(..) => KeyType::EC,
        }
    }

    /// The length of the key's value when the token wraps it, if fixed: a
    /// private key is wrapped as PKCS#8, whose length varies, so it needs a
    /// padding wrapping.
    pub(super) fn wrapped_len(self) -> Option<usize> {
        match self {
            SecretKind::Aes256 => Some(32),
            SecretKind::Hmac(bytes) => Some(bytes),
            SecretKind::Rsa(..) | SecretKind::Ec(..) => None,
        }
    }

    /// The mechanism that generates a secret key of this kind, with its
    /// length; `None` for key pairs.
    pub(super) fn secret_generation(self) -> Option<(Mechanism<'static>, usize)> {
        match self {
            SecretKind::Aes256 => Some((Mechanism::AesKeyGen, 32)),
            SecretKind::Hmac(bytes) => Some((Mechanism::GenericSecretKeyGen, bytes)),
            SecretKind::Rsa(..) | SecretKind::Ec(..) => None,
        }
    }
}
