//! What a token can do: its mechanism list, read once when the token is
//! opened, and the choices Trent makes from it. Also the wrapped-blob
//! format, which records the wrapping a blob was made with so that any
//! token offering that wrapping can unwrap it.

use super::HsmError;
use cryptoki::context::Pkcs11;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::slot::Slot;

/// First bytes of a blob that records its wrapping. Blobs made before the
/// header existed have none; they are told apart by length: every wrapping
/// yields a multiple of 8 bytes, and the header is 4 bytes long.
const BLOB_MAGIC: [u8; 3] = *b"TW\x01";
/// Length of a blob's header.
const HEADER_LEN: usize = BLOB_MAGIC.len() + 1;

/// An AES key-wrapping algorithm, as a blob records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wrapping {
    /// RFC 5649, AES key wrap with padding: `CKM_AES_KEY_WRAP_PAD` on
    /// SoftHSM 2.6 (PKCS#11 3.0 names it `CKM_AES_KEY_WRAP_KWP`, which
    /// cryptoki 0.12 cannot name).
    Rfc5649,
    /// RFC 3394, AES key wrap: `CKM_AES_KEY_WRAP`, for keys whose length is
    /// a multiple of 8 bytes (every AES key).
    Rfc3394,
}

impl Wrapping {
    /// Preference order: RFC 5649 where the token has it, else RFC 3394.
    const ALL: [Wrapping; 2] = [Wrapping::Rfc5649, Wrapping::Rfc3394];

    /// The PKCS#11 mechanism that performs it.
    pub(super) fn mechanism(self) -> Mechanism<'static> {
        match self {
            Wrapping::Rfc5649 => Mechanism::AesKeyWrapPad,
            Wrapping::Rfc3394 => Mechanism::AesKeyWrap,
        }
    }

    /// The mechanism's name, as a metrics label.
    pub(super) fn name(self) -> &'static str {
        match self {
            Wrapping::Rfc5649 => "AES-KWP",
            Wrapping::Rfc3394 => "AES-KW",
        }
    }

    /// Whether it can wrap a key of `len` bytes (RFC 3394: multiples of 8).
    pub(super) fn wraps(self, len: Option<usize>) -> bool {
        self != Wrapping::Rfc3394 || len.is_some_and(|len| len % 8 == 0)
    }

    fn mechanism_type(self) -> MechanismType {
        match self {
            Wrapping::Rfc5649 => MechanismType::AES_KEY_WRAP_PAD,
            Wrapping::Rfc3394 => MechanismType::AES_KEY_WRAP,
        }
    }

    fn id(self) -> u8 {
        match self {
            Wrapping::Rfc5649 => 1,
            Wrapping::Rfc3394 => 2,
        }
    }

    fn from_id(id: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.id() == id)
    }
}

/// Prefixes a wrapped key with the header naming its wrapping.
pub(super) fn seal(wrapping: Wrapping, raw: Vec<u8>) -> Vec<u8> {
    let mut blob = Vec::with_capacity(HEADER_LEN + raw.len());
    blob.extend_from_slice(&BLOB_MAGIC);
    blob.push(wrapping.id());
    blob.extend_from_slice(&raw);
    blob
}

/// The wrapping a blob was made with, and the wrapped key. A blob without a
/// header (a multiple of 8 bytes long) predates the header: RFC 5649.
pub(super) fn open_blob(blob: &[u8]) -> Result<(Wrapping, &[u8]), HsmError> {
    if blob.len() % 8 == 0 {
        return Ok((Wrapping::Rfc5649, blob));
    }
    match blob.split_at_checked(HEADER_LEN) {
        Some((header, raw)) if header[..BLOB_MAGIC.len()] == BLOB_MAGIC => {
            let wrapping =
                Wrapping::from_id(header[BLOB_MAGIC.len()]).ok_or(HsmError::UnknownBlobFormat)?;
            Ok((wrapping, raw))
        }
        _ => Err(HsmError::UnknownBlobFormat),
    }
}

/// Mechanisms every token must offer, with what Trent needs each for.
const REQUIRED: [(MechanismType, &str); 7] = [
    (MechanismType::AES_KEY_GEN, "generating keys"),
    (MechanismType::AES_GCM, "encrypting and decrypting"),
    (
        MechanismType::AES_ECB,
        "making and checking material rows' tags",
    ),
    (
        MechanismType::ECC_KEY_PAIR_GEN,
        "replication's ephemeral keys",
    ),
    (MechanismType::ECDH1_DERIVE, "replication's key agreement"),
    (
        MechanismType::AES_CBC_ENCRYPT_DATA,
        "replication's transport key",
    ),
    (MechanismType::SHA256, "replication's transcript hash"),
];

/// The mechanisms Trent uses on one token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mechanisms {
    /// The wrapping new blobs are made with.
    pub wrapping: Wrapping,
    /// Every wrapping the token can unwrap, in preference order.
    pub wrappings: Vec<Wrapping>,
    /// Every mechanism the token offers, for the ones only some requests
    /// need (such as HMAC).
    offered: Vec<MechanismType>,
}

impl Mechanisms {
    /// Reads the token's mechanism list and chooses from it; a token that
    /// lacks a required mechanism is refused with its name.
    pub(super) fn detect(ctx: &Pkcs11, slot: Slot, label: &str) -> Result<Self, HsmError> {
        let offered = ctx.get_mechanism_list(slot)?;
        Self::choose(&offered, label)
    }

    /// The choice from a mechanism list.
    fn choose(offered: &[MechanismType], label: &str) -> Result<Self, HsmError> {
        let missing = |what: String| HsmError::MissingMechanism(label.to_string(), what);
        for (mechanism, purpose) in REQUIRED {
            if !offered.contains(&mechanism) {
                return Err(missing(format!("{mechanism} (for {purpose})")));
            }
        }
        let wrappings: Vec<Wrapping> = Wrapping::ALL
            .into_iter()
            .filter(|w| offered.contains(&w.mechanism_type()))
            .collect();
        let wrapping = *wrappings.first().ok_or_else(|| {
            missing("CKM_AES_KEY_WRAP_PAD or CKM_AES_KEY_WRAP (for wrapping keys)".into())
        })?;
        Ok(Self {
            wrapping,
            wrappings,
            offered: offered.to_vec(),
        })
    }

    /// Refuses a request that needs `mechanism` (for `purpose`) on a token
    /// that lacks it.
    pub(super) fn require_offered(
        &self,
        mechanism: MechanismType,
        purpose: &str,
        label: &str,
    ) -> Result<(), HsmError> {
        if self.offered.contains(&mechanism) {
            return Ok(());
        }
        Err(HsmError::MissingMechanism(
            label.to_string(),
            format!("{mechanism} (for {purpose})"),
        ))
    }

    /// The wrapping to carry material to a token that unwraps `accepted`:
    /// the first of this token's that the other accepts.
    pub(super) fn wrapping_for(&self, accepted: &[Wrapping]) -> Result<Wrapping, HsmError> {
        self.wrappings
            .iter()
            .copied()
            .find(|w| accepted.contains(w))
            .ok_or(HsmError::NoCommonWrapping)
    }

    /// The wrapping for a new key of `len` bytes: this token's, when it can
    /// wrap that length (RFC 3394 wraps only multiples of 8 bytes).
    pub(super) fn wrapping_of(
        &self,
        len: Option<usize>,
        label: &str,
    ) -> Result<Wrapping, HsmError> {
        match self.wrapping {
            wrapping if !wrapping.wraps(len) => Err(HsmError::MissingMechanism(
                label.to_string(),
                format!(
                    "CKM_AES_KEY_WRAP_KWP or CKM_AES_KEY_WRAP_PAD (to wrap {}; \
                     CKM_AES_KEY_WRAP wraps only multiples of 8 bytes)",
                    len.map_or("a private key".to_string(), |len| format!(
                        "a {len}-byte key"
                    ))
                ),
            )),
            wrapping => Ok(wrapping),
        }
    }

    /// Refuses a wrapping this token lacks.
    pub(super) fn require(&self, wrapping: Wrapping, label: &str) -> Result<(), HsmError> {
        if self.wrappings.contains(&wrapping) {
            return Ok(());
        }
        Err(HsmError::MissingMechanism(
            label.to_string(),
            format!(
                "{} (to unwrap a blob made with it)",
                wrapping.mechanism_type()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<MechanismType> {
        REQUIRED.iter().map(|(m, _)| *m).collect()
    }

    #[test]
    fn softhsm_keeps_rfc5649_and_kryoptic_gets_rfc3394() {
        let mut softhsm = base();
        softhsm.extend([MechanismType::AES_KEY_WRAP, MechanismType::AES_KEY_WRAP_PAD]);
        let chosen = Mechanisms::choose(&softhsm, "t").unwrap();
        assert_eq!(chosen.wrapping, Wrapping::Rfc5649);
        assert_eq!(chosen.wrappings, vec![Wrapping::Rfc5649, Wrapping::Rfc3394]);

        let mut kryoptic = base();
        kryoptic.push(MechanismType::AES_KEY_WRAP);
        let other = Mechanisms::choose(&kryoptic, "t").unwrap();
        assert_eq!(other.wrapping, Wrapping::Rfc3394);
        assert_eq!(
            chosen.wrapping_for(&other.wrappings).unwrap(),
            Wrapping::Rfc3394
        );
        assert!(other.require(Wrapping::Rfc5649, "t").is_err());
        let hmac = MechanismType::SHA256_HMAC;
        let refused = other.require_offered(hmac, "GenerateMac", "t").unwrap_err();
        assert!(refused.to_string().contains("CKM_SHA256_HMAC"), "{refused}");
        let mut with_hmac = kryoptic.clone();
        with_hmac.push(hmac);
        let chosen = Mechanisms::choose(&with_hmac, "t").unwrap();
        assert!(chosen.require_offered(hmac, "GenerateMac", "t").is_ok());
    }

    #[test]
    fn a_token_without_a_required_mechanism_is_refused_by_name() {
        let offered: Vec<MechanismType> = base()
            .into_iter()
            .filter(|m| *m != MechanismType::AES_GCM)
            .collect();
        let refused = Mechanisms::choose(&offered, "tok").unwrap_err().to_string();
        assert!(refused.contains("CKM_AES_GCM"), "{refused}");
        let no_wrap = Mechanisms::choose(&base(), "tok").unwrap_err().to_string();
        assert!(no_wrap.contains("CKM_AES_KEY_WRAP"), "{no_wrap}");
    }

    #[test]
    fn blobs_record_their_wrapping_and_old_blobs_read_as_rfc5649() {
        let raw = vec![7u8; 40];
        let blob = seal(Wrapping::Rfc3394, raw.clone());
        assert_eq!(blob.len(), 44);
        assert_eq!(open_blob(&blob).unwrap(), (Wrapping::Rfc3394, &raw[..]));
        assert_eq!(open_blob(&raw).unwrap(), (Wrapping::Rfc5649, &raw[..]));
        assert!(open_blob(b"XX\x01\x02abcdefgh").is_err());
        assert!(open_blob(b"TW\x01\x09abcdefgh").is_err());
    }
}
