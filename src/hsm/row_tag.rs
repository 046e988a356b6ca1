//! Tags that bind a stored material row to its key (ADR 0025).
//!
//! The store holds every material wrapped under the domain key, but a wrap
//! names no key: whoever can write the store could move a blob to another
//! key, plant a blob of material they imported (and so know), or put a
//! public key of their own beside a private key. Each material row
//! therefore carries a tag that only a token holding the region's keys can
//! make: the wrap, under the region's row-tag key, of a 24-byte digest of
//! the row (region, key id, material id, key spec and usage, wrapped
//! material, public key). Key wrap is deterministic, so checking is making
//! the tag again. The wrap is computed from AES-ECB blocks of the row-tag
//! key in the token, not by `C_WrapKey` of an object holding the digest:
//! making or checking a tag creates no session object (SoftHSM keeps a
//! record of every destroyed one until the module is re-initialised).
//!
//! The row-tag key is a 16-byte AES key made in a token and kept in the
//! store wrapped under the domain key, like materials (so every node of the
//! region has it), and used as a session object: a tag costs no use of the
//! domain key, whose token file SoftHSM reads again at every use. The store
//! cannot swap in a key someone knows: every other wrap under the domain key
//! that leaves the token (generated, imported or replicated material, the
//! check blob) wraps at least 25 bytes, and a blob that is not the wrap of
//! 16 bytes is refused. Only the PIN holder, who can use the domain key at
//! will, can make tags outside Trent.
//!
//! Rows written before tags existed are tagged once per region, by the
//! node that names its first row-tag key (`kms::row_tags`). Every token
//! that served the region with tags holds a marker object ([`RowTagsState`]);
//! an untagged row is always refused like an altered one, and a marked
//! token refuses a store that names no row-tag key (deleting tags, or the
//! key, from the store cannot make a node tag again).

use super::mechanisms::{self, Wrapping};
use super::token::Token;
use super::{HsmError, WrappedMaterial};
use crate::growing_lru::growing;
use crate::metrics::metrics;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use lru::LruCache;
use sha2::{Digest, Sha256};
use std::num::NonZeroUsize;
use std::sync::{Mutex, MutexGuard, OnceLock};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Length of the digest a tag wraps.
pub(super) const TAGGED_LEN: usize = 24;
/// Label of the token object that marks a token as requiring tags.
pub const MARKER_LABEL: &str = "trent-row-tags";
/// Domain separation of the digest a tag wraps.
const CONTEXT: &[u8] = b"trent material row tag v1";
/// Domain separation of a checked row's fingerprint.
const SEEN_CONTEXT: &[u8] = b"trent checked material row v1";
/// How many checked rows are remembered per key the token caches: a key
/// evicted from the token's cache is usually seen again soon.
pub(super) const VERIFIED_PER_CACHED: usize = 4;

/// What every opening of a token shares about row tags.
pub(super) struct RowTags {
    /// The rows checked or tagged.
    pub(super) verified: VerifiedRows,
    /// The region's row-tag key, wrapped under the domain key, once known.
    pub(super) key: OnceLock<Vec<u8>>,
}

impl RowTags {
    /// Remembers at most `capacity` checked rows.
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            verified: VerifiedRows::new(capacity),
            key: OnceLock::new(),
        }
    }
}

/// Fingerprints of the rows, tags included, whose tags this process checked
/// in the token or made there, most recent first: a row that misses the
/// token's cache again, unchanged, is not checked in the token again (a
/// check creates, wraps and destroys an object). Bounded, about 0.07 KiB
/// an entry.
pub(super) struct VerifiedRows {
    seen: Mutex<LruCache<[u8; 32], ()>>,
}

impl VerifiedRows {
    /// Remembers at most `capacity` rows.
    pub(super) fn new(capacity: usize) -> Self {
        let capacity = NonZeroUsize::new(capacity.max(1)).expect("non-zero");
        Self {
            seen: Mutex::new(growing(capacity)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, LruCache<[u8; 32], ()>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the row with this fingerprint was checked or made.
    fn contains(&self, fingerprint: &[u8; 32]) -> bool {
        self.lock().get(fingerprint).is_some()
    }

    fn insert(&self, fingerprint: [u8; 32]) {
        self.lock().put(fingerprint, ());
    }
}

/// What identifies a row with its tag among the checked ones.
fn fingerprint(digest: &[u8; TAGGED_LEN], tag: &[u8]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(SEEN_CONTEXT);
    hash.update(digest);
    hash.update(tag);
    hash.finalize().into()
}

/// What a material row's tag covers besides the material's key id,
/// material id and blob, and the tag the store holds for it.
#[derive(Clone, Copy, Debug)]
pub struct RowBinding<'a> {
    /// The region whose store row it is.
    pub region: &'a str,
    /// The key's spec, as the API names it.
    pub key_spec: &'a str,
    /// The key's usage, as the API names it.
    pub key_usage: &'a str,
    /// A key pair's public key (DER SubjectPublicKeyInfo).
    pub public_key: Option<&'a [u8]>,
    /// The tag the store holds; `None` for a row without one.
    pub tag: Option<&'a [u8]>,
}

/// The digest a material row's tag wraps.
fn digest(material: &WrappedMaterial<'_>) -> Zeroizing<[u8; TAGGED_LEN]> {
    let row = &material.row;
    let mut hash = Sha256::new();
    hash.update(CONTEXT);
    let fields: [&[u8]; 7] = [
        row.region.as_bytes(),
        material.reference.key_id.as_bytes(),
        material.reference.material_id.as_bytes(),
        row.key_spec.as_bytes(),
        row.key_usage.as_bytes(),
        material.wrapped,
        row.public_key.unwrap_or_default(),
    ];
    for field in fields {
        hash.update((field.len() as u64).to_be_bytes());
        hash.update(field);
    }
    hash.update([u8::from(row.public_key.is_some())]);
    let mut out = Zeroizing::new([0u8; TAGGED_LEN]);
    out.copy_from_slice(&hash.finalize()[..TAGGED_LEN]);
    out
}

/// RFC 5649's alternative initial value for a wrap of the digest: its
/// constant and the digest's length.
const RFC5649_IV: [u8; 8] = [0xA6, 0x59, 0x59, 0xA6, 0, 0, 0, TAGGED_LEN as u8];
/// RFC 3394's default initial value.
const RFC3394_IV: [u8; 8] = [0xA6; 8];

/// The wrap of `digest` by `wrapping` (RFC 5649 or RFC 3394: the digest is
/// three 8-byte blocks, so neither pads it and both run RFC 3394's wrapping
/// process, from different initial values), computed with `aes`, which
/// encrypts one block in place under the wrapping key: `C_WrapKey` of an
/// object holding the digest makes the same bytes.
fn wrap_digest(
    digest: &[u8; TAGGED_LEN],
    wrapping: Wrapping,
    mut aes: impl FnMut(&mut [u8; 16]) -> Result<(), HsmError>,
) -> Result<Vec<u8>, HsmError> {
    const N: usize = TAGGED_LEN / 8;
    let mut out = [0u8; 8 + TAGGED_LEN];
    out[..8].copy_from_slice(match wrapping {
        Wrapping::Rfc5649 => &RFC5649_IV,
        Wrapping::Rfc3394 => &RFC3394_IV,
    });
    out[8..].copy_from_slice(digest);
    for j in 0..6 {
        for i in 1..=N {
            let mut block = [0u8; 16];
            block[..8].copy_from_slice(&out[..8]);
            block[8..].copy_from_slice(&out[8 * i..8 * i + 8]);
            aes(&mut block)?;
            let (high, low) = block.split_at(8);
            let step = (N * j + i) as u64;
            let register = u64::from_be_bytes(high.try_into().expect("8 bytes")) ^ step;
            out[..8].copy_from_slice(&register.to_be_bytes());
            out[8 * i..8 * i + 8].copy_from_slice(low);
        }
    }
    Ok(out.to_vec())
}

/// Length of the row-tag key: an AES-128 key, so that its wrap under the
/// domain key wraps 16 bytes, a length no other wrap under it has (stored
/// materials wrap at least 25, nothing else wrapped under it leaves the
/// token): the store cannot swap in a wrap of a key someone knows.
const TAG_KEY_LEN: usize = 16;
/// Label of the row-tag key's session object.
pub const TAG_KEY_LABEL: &str = "trent-row-tag-key";

/// The row-tag key: generated only to be wrapped (`transit`), or unwrapped
/// to encrypt the AES-ECB blocks of tags and do nothing else.
fn tag_key_template(transit: bool) -> Vec<Attribute> {
    let mut template = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Label(TAG_KEY_LABEL.as_bytes().to_vec()),
        Attribute::Token(false),
        Attribute::Private(false),
        Attribute::Sensitive(true),
        Attribute::Extractable(transit),
        Attribute::Wrap(false),
        Attribute::Unwrap(false),
        Attribute::Encrypt(!transit),
        Attribute::Decrypt(false),
        Attribute::Sign(false),
        Attribute::Verify(false),
        Attribute::Derive(false),
    ];
    if transit {
        template.insert(0, Attribute::ValueLen((TAG_KEY_LEN as u64).into()));
    }
    template
}

/// A token's word on its region's row tags, kept in marker objects (private
/// token `CKO_DATA` objects), which only a PIN holder can make or remove.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowTagsState {
    /// No marker: the token has not served the region with row tags.
    Unmarked,
    /// This token is tagging the rows of a region it made the row-tag key
    /// for (its first start with row tags was cut short if found at start).
    Tagging,
    /// The region's rows are tagged: an untagged row is refused.
    Required,
}

impl RowTagsState {
    /// The marker's label.
    fn label(self) -> Option<&'static str> {
        match self {
            RowTagsState::Unmarked => None,
            RowTagsState::Tagging => Some(TAGGING_LABEL),
            RowTagsState::Required => Some(MARKER_LABEL),
        }
    }
}

/// Label of the marker of a token tagging its region's rows.
const TAGGING_LABEL: &str = "trent-row-tags-tagging";

/// A marker object's template (and, without `CKA_PRIVATE`, its search
/// template).
fn marker_template(label: &str) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Label(label.as_bytes().to_vec()),
    ]
}

impl Token {
    /// The tag of a material row, made on `session`.
    pub(super) fn row_tag(
        &self,
        session: &Session,
        material: &WrappedMaterial<'_>,
    ) -> Result<Vec<u8>, HsmError> {
        let wrapping = self
            .mechanisms()
            .wrapping_of(Some(TAGGED_LEN), self.label())?;
        let digest = digest(material);
        let tag = self.row_tag_with(session, &digest, wrapping)?;
        self.row_tags().verified.insert(fingerprint(&digest, &tag));
        Ok(tag)
    }

    /// The tag of a row with this digest: its wrap under the row-tag key,
    /// from one multi-part AES-ECB encryption on `session`.
    fn row_tag_with(
        &self,
        session: &Session,
        digest: &[u8; TAGGED_LEN],
        wrapping: Wrapping,
    ) -> Result<Vec<u8>, HsmError> {
        let tag_key = self.tag_key().ok_or_else(|| {
            HsmError::RowTagKey(format!("none loaded on token {:?}", self.label()))
        })?;
        let raw = metrics().pkcs11("row_tag", "AES-ECB", || {
            session.encrypt_init(&Mechanism::AesEcb, tag_key)?;
            let raw = wrap_digest(digest, wrapping, |block| {
                let encrypted = session.encrypt_update(block)?;
                block.copy_from_slice(encrypted.get(..16).ok_or_else(|| {
                    HsmError::RowTagKey(format!(
                        "token {:?} returned {} bytes for an AES-ECB block",
                        self.label(),
                        encrypted.len()
                    ))
                })?);
                Ok(())
            });
            // Ends the operation; after a failed step the token has ended
            // it already, and says so.
            let ended = session.encrypt_final();
            let raw = raw?;
            ended?;
            Ok::<_, HsmError>(raw)
        })?;
        Ok(mechanisms::seal(wrapping, raw))
    }

    /// A new row-tag key, made on `owner` and returned wrapped under the
    /// domain key; the generated object is destroyed.
    pub(super) fn new_row_tag_key(&self, owner: &Session) -> Result<Vec<u8>, HsmError> {
        let wrapping = self
            .mechanisms()
            .wrapping_of(Some(TAG_KEY_LEN), self.label())?;
        let key = owner.generate_key(&Mechanism::AesKeyGen, &tag_key_template(true))?;
        let wrapped = self.wrap(owner, wrapping, self.domain_key(), key);
        self.destroy(owner, key);
        wrapped
    }

    /// Unwraps the row-tag key `wrapped` (which must wrap 16 bytes: see
    /// [`TAG_KEY_LEN`]) and makes tags with it from now on.
    pub(super) fn load_row_tag_key(&self, wrapped: &[u8]) -> Result<(), HsmError> {
        let (_, raw) = mechanisms::open_blob(wrapped)?;
        if raw.len() != TAG_KEY_LEN + 8 {
            return Err(HsmError::RowTagKey(format!(
                "the store's is a {}-byte wrap, not the wrap of a {TAG_KEY_LEN}-byte key",
                raw.len()
            )));
        }
        let owner = self.lock_owner();
        let key = self.unwrap(&owner, self.domain_key(), wrapped, &tag_key_template(false))?;
        if let Some(old) = self.tag_key().replace(key) {
            self.destroy(&owner, old);
        }
        Ok(())
    }

    /// Checks a material row's tag on `session` (unless this process
    /// checked or made it before, unchanged): refuses a row without one, or
    /// whose tag is not its own.
    pub(super) fn check_row(
        &self,
        session: &Session,
        material: &WrappedMaterial<'_>,
    ) -> Result<(), HsmError> {
        let reference = &material.reference;
        let refused = |altered| {
            tracing::error!(
                region = material.row.region,
                key_id = %reference.key_id,
                material_id = %reference.material_id,
                altered,
                "a material row fails its tag: it was altered in the store, or written \
                 without a tag (by an older Trent, or by hand)"
            );
            HsmError::UntrustedMaterial(reference.key_id.clone())
        };
        let Some(stored) = material.row.tag else {
            return Err(refused(false));
        };
        let digest = digest(material);
        let seen = fingerprint(&digest, stored);
        if self.row_tags().verified.contains(&seen) {
            return Ok(());
        }
        let (wrapping, _) = mechanisms::open_blob(stored).map_err(|_| refused(true))?;
        self.mechanisms()
            .require(wrapping, self.label())
            .map_err(|_| refused(true))?;
        let made = self.row_tag_with(session, &digest, wrapping)?;
        match bool::from(made.as_slice().ct_eq(stored)) {
            true => {
                self.row_tags().verified.insert(seen);
                Ok(())
            }
            false => Err(refused(true)),
        }
    }

    /// The token's word on its region's row tags.
    pub(super) fn row_tags_state(&self, session: &Session) -> Result<RowTagsState, HsmError> {
        for state in [RowTagsState::Required, RowTagsState::Tagging] {
            if !self.find_marker(session, state)?.is_empty() {
                return Ok(state);
            }
        }
        Ok(RowTagsState::Unmarked)
    }

    /// Records `state`, removing the markers of the others.
    pub(super) fn set_row_tags_state(
        &self,
        session: &Session,
        state: RowTagsState,
    ) -> Result<(), HsmError> {
        if let Some(label) = state.label()
            && self.find_marker(session, state)?.is_empty()
        {
            session.create_object(&marker_template(label))?;
        }
        for other in [RowTagsState::Tagging, RowTagsState::Required] {
            if other != state {
                for marker in self.find_marker(session, other)? {
                    session.destroy_object(marker)?;
                }
            }
        }
        Ok(())
    }

    fn find_marker(
        &self,
        session: &Session,
        state: RowTagsState,
    ) -> Result<Vec<ObjectHandle>, HsmError> {
        let Some(label) = state.label() else {
            return Ok(Vec::new());
        };
        let mut template = marker_template(label);
        template.retain(|a| a.attribute_type() != AttributeType::Private);
        Ok(session.find_objects(&template)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::Aes128;
    use aes::cipher::{BlockEncrypt, KeyInit};

    /// The wrap computed block by block is the key wrap of RFC 5649 and of
    /// RFC 3394, as an independent implementation (RustCrypto's `aes-kw`)
    /// makes it, and as the tags `C_WrapKey` made before.
    #[test]
    fn a_digest_wrapped_block_by_block_is_the_standard_key_wrap() {
        let key = [0x42u8; 16];
        let aes = Aes128::new(&key.into());
        let encrypt = |block: &mut [u8; 16]| {
            aes.encrypt_block(block.into());
            Ok(())
        };
        let kek = aes_kw::KekAes128::new(&key.into());
        for seed in 0..8u8 {
            let digest: [u8; TAGGED_LEN] = std::array::from_fn(|i| seed.wrapping_mul(31) ^ i as u8);
            assert_eq!(
                wrap_digest(&digest, Wrapping::Rfc5649, encrypt).unwrap(),
                kek.wrap_with_padding_vec(&digest).unwrap()
            );
            assert_eq!(
                wrap_digest(&digest, Wrapping::Rfc3394, encrypt).unwrap(),
                kek.wrap_vec(&digest).unwrap()
            );
        }
    }
}
