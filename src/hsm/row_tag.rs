//! Tags that bind a stored material row to its key (ADR 0025).
//!
//! The store holds every material wrapped under the domain key, but a wrap
//! names no key: whoever can write the store could move a blob to another
//! key, plant a blob of material they imported (and so know), or put a
//! public key of their own beside a private key. Each material row
//! therefore carries a tag that only a token holding the region's domain
//! key can make: the wrap, under the domain key, of a 24-byte digest of the
//! row (region, key id, material id, key spec and usage, wrapped material,
//! public key). The wrap is deterministic, so checking is making it again.
//!
//! Why a wrap cannot be forged with the API: every blob a caller can get
//! made under the domain key (generated, imported or replicated material,
//! the check blob) wraps at least 28 bytes and is at least 40 bytes long,
//! while a tag wraps exactly 24 and is 32 long (RFC 5649 and RFC 3394
//! alike), so no stored blob is a tag. Only the PIN holder, who can wrap
//! anything, can make tags outside Trent.
//!
//! Rows written before tags existed are tagged once, when a token first
//! serves the region with this version; the token then holds a marker
//! object, and from then on an untagged row is refused like an altered one
//! (deleting tags from the store cannot make a marked node tag again).

use super::mechanisms;
use super::token::Token;
use super::{HsmError, WrappedMaterial};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use lru::LruCache;
use sha2::{Digest, Sha256};
use std::num::NonZeroUsize;
use std::sync::{Mutex, MutexGuard};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Length of the digest a tag wraps: shorter than any key Trent keeps or
/// takes for import (28 bytes at least), so that no material blob is a tag.
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

/// Fingerprints of the rows, tags included, whose tags this process checked
/// in the token or made there, most recent first: a row that misses the
/// token's cache again, unchanged, is not checked in the token again (a
/// check creates, wraps and destroys an object). Bounded, about 0.1 KiB an
/// entry.
pub(super) struct VerifiedRows {
    seen: Mutex<LruCache<[u8; 32], ()>>,
}

impl VerifiedRows {
    /// Remembers at most `capacity` rows.
    pub(super) fn new(capacity: usize) -> Self {
        let capacity = NonZeroUsize::new(capacity.max(1)).expect("non-zero");
        Self {
            seen: Mutex::new(LruCache::new(capacity)),
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

/// Label of the object that carries a row's digest to be wrapped.
pub const CARRIER_LABEL: &str = "trent-row-tag";

/// A secret key object holding `value` (a row's digest, no key), made only
/// to be wrapped: the one object Trent creates from bytes it knows.
fn carrier_template(value: &[u8]) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Label(CARRIER_LABEL.as_bytes().to_vec()),
        Attribute::Value(value.to_vec()),
        Attribute::Token(false),
        Attribute::Private(false),
        Attribute::Sensitive(true),
        Attribute::Extractable(true),
        Attribute::Encrypt(false),
        Attribute::Decrypt(false),
        Attribute::Sign(false),
        Attribute::Verify(false),
        Attribute::Wrap(false),
        Attribute::Unwrap(false),
        Attribute::Derive(false),
    ]
}

/// The marker object's template (and search template).
fn marker_template() -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Label(MARKER_LABEL.as_bytes().to_vec()),
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
        self.verified_rows().insert(fingerprint(&digest, &tag));
        Ok(tag)
    }

    fn row_tag_with(
        &self,
        session: &Session,
        digest: &[u8; TAGGED_LEN],
        wrapping: mechanisms::Wrapping,
    ) -> Result<Vec<u8>, HsmError> {
        let carrier = session.create_object(&carrier_template(digest))?;
        let tag = self.wrap(session, wrapping, self.domain_key(), carrier);
        self.destroy(session, carrier);
        tag
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
        if self.verified_rows().contains(&seen) {
            return Ok(());
        }
        let (wrapping, _) = mechanisms::open_blob(stored).map_err(|_| refused(true))?;
        self.mechanisms().require(wrapping, self.label())?;
        let made = self.row_tag_with(session, &digest, wrapping)?;
        match bool::from(made.as_slice().ct_eq(stored)) {
            true => {
                self.verified_rows().insert(seen);
                Ok(())
            }
            false => Err(refused(true)),
        }
    }

    /// Whether the token holds the marker saying that its region's rows
    /// are tagged.
    pub(super) fn requires_row_tags(&self, session: &Session) -> Result<bool, HsmError> {
        Ok(!self.find_marker(session)?.is_empty())
    }

    /// Creates the marker (once).
    pub(super) fn require_row_tags(&self, session: &Session) -> Result<(), HsmError> {
        if self.find_marker(session)?.is_empty() {
            session.create_object(&marker_template())?;
        }
        Ok(())
    }

    fn find_marker(&self, session: &Session) -> Result<Vec<ObjectHandle>, HsmError> {
        let mut template = marker_template();
        template.retain(|a| a.attribute_type() != AttributeType::Private);
        Ok(session.find_objects(&template)?)
    }
}
