//! Custody checks made from a test's own PKCS#11 session, on tokens a
//! `trent` server used: the domain key's attributes, and that a stored blob
//! is a key wrapped under it (the test unwraps it and decrypts with it a
//! ciphertext the server made). Used by `tests/custody_pkcs11.rs` and
//! `tests/separate_tokens.rs`.

#![allow(dead_code)]

use cryptoki::context::Pkcs11;
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{
    Attribute, AttributeInfo, AttributeType, KeyType, ObjectClass, ObjectHandle,
};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use std::collections::BTreeMap;

/// Header bytes after the key id: material id (32) and IV (12); then the
/// GCM output ends with a 16-byte tag (docs/adr/0002-ciphertext-format.md).
const MATERIAL_ID_LEN: usize = 32;
const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// A ciphertext split as docs/adr/0002-ciphertext-format.md lays it out.
pub struct Parsed<'a> {
    pub header: &'a [u8],
    pub key_id: &'a str,
    /// Hex, as `key_materials.material_id` holds it.
    pub material_id: String,
    pub iv: [u8; IV_LEN],
    /// Ciphertext and tag.
    pub sealed: &'a [u8],
}

pub fn parse(blob: &[u8]) -> Parsed<'_> {
    assert_eq!(blob[0], 1, "format version");
    let id_len = blob[1] as usize;
    let header_len = 2 + id_len + MATERIAL_ID_LEN + IV_LEN;
    assert!(blob.len() >= header_len + TAG_LEN, "blob too short");
    let material = &blob[2 + id_len..2 + id_len + MATERIAL_ID_LEN];
    Parsed {
        header: &blob[..header_len],
        key_id: std::str::from_utf8(&blob[2..2 + id_len]).unwrap(),
        material_id: hex::encode(material),
        iv: blob[header_len - IV_LEN..header_len].try_into().unwrap(),
        sealed: &blob[header_len..],
    }
}

/// The GCM AAD: the header, then the length-prefixed, key-sorted context.
pub fn aad(header: &[u8], context: &BTreeMap<String, String>) -> Vec<u8> {
    let mut out = header.to_vec();
    out.extend_from_slice(&(context.len() as u32).to_be_bytes());
    for (k, v) in context {
        for part in [k, v] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
    }
    out
}

/// The stored wrapped blob of one material.
pub fn stored_blob(
    db: &rusqlite::Connection,
    region: &str,
    key_id: &str,
    material: &str,
) -> Vec<u8> {
    db.query_row(
        "SELECT wrapped FROM key_materials WHERE region = ?1 AND key_id = ?2 AND material_id = ?3",
        [region, key_id, material],
        |r| r.get(0),
    )
    .unwrap_or_else(|e| panic!("no stored material {material} of {key_id} in {region}: {e}"))
}

/// A session of this process on the token labelled `label`, logged in as
/// the user.
pub fn logged_in(ctx: &Pkcs11, label: &str, pin: &str) -> Session {
    let slot = ctx
        .get_slots_with_initialized_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label().trim_end() == label)
        .unwrap_or_else(|| panic!("token {label} present"));
    let session = ctx.open_rw_session(slot).unwrap();
    match session.login(UserType::User, Some(&AuthPin::from(pin.to_string()))) {
        Ok(()) | Err(Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
        Err(e) => panic!("login to {label}: {e}"),
    }
    session
}

/// How a token came to hold its domain key, which its attributes show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DomainKeyOrigin {
    /// `trent init-domain-key` without `--shareable`: generated in the
    /// token, never extractable.
    SingleNode,
    /// Generated in the token as a shareable key (dev mode, or
    /// `init-domain-key --shareable`): wrappable only under trusted keys.
    SharedGenerated,
    /// Received by enrolment: unwrapped from a member's package, so not
    /// generated here (`CKA_LOCAL` false) and not always sensitive.
    SharedReceived,
}

/// The domain key of the token, checked to be the only one and to have
/// the custody attributes of its `origin`, read through PKCS#11.
pub fn checked_domain_key(
    session: &Session,
    region: &str,
    origin: DomainKeyOrigin,
) -> ObjectHandle {
    let found = session
        .find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Token(true),
            Attribute::Label(b"trent-domain-key".to_vec()),
        ])
        .unwrap();
    assert_eq!(found.len(), 1, "{region}: one domain key");
    let key = found[0];
    let shared = origin != DomainKeyOrigin::SingleNode;
    let generated = origin != DomainKeyOrigin::SharedReceived;
    // SoftHSM 2.6.1 leaves CKA_VALUE_LEN at 0 on a key it unwraps (and
    // refuses it in an unwrap template); the received key is the 32-byte
    // key all the same, as the cross-node decryptions and check blobs show.
    let value_len: u64 = if generated { 32 } else { 0 };
    let wanted = [
        Attribute::KeyType(KeyType::AES),
        Attribute::ValueLen(value_len.into()),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::AlwaysSensitive(generated),
        Attribute::Extractable(shared),
        Attribute::NeverExtractable(!shared),
        Attribute::WrapWithTrusted(shared),
        Attribute::Local(generated),
        Attribute::Modifiable(false),
        Attribute::Wrap(true),
        Attribute::Unwrap(true),
        Attribute::Encrypt(false),
        Attribute::Decrypt(false),
        Attribute::Sign(false),
        Attribute::Verify(false),
        Attribute::Derive(false),
    ];
    let types: Vec<AttributeType> = wanted.iter().map(Attribute::attribute_type).collect();
    let read = session.get_attributes(key, &types).unwrap();
    assert_eq!(read, wanted, "{region}: domain key attributes ({origin:?})");
    // The token itself refuses to give out the value, and to wrap the key
    // under a key of the caller's choosing: a never-extractable key is
    // unextractable, a shareable one wrappable only under a trusted key.
    let value = session
        .get_attribute_info(key, &[AttributeType::Value])
        .unwrap();
    assert!(
        matches!(value.as_slice(), [AttributeInfo::Sensitive]),
        "{region}: CKA_VALUE of the domain key: {value:?}"
    );
    let mine = session
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(false),
                Attribute::ValueLen(32.into()),
                Attribute::Wrap(true),
            ],
        )
        .unwrap();
    match (
        shared,
        session.wrap_key(&Mechanism::AesKeyWrapPad, mine, key),
    ) {
        (false, Err(Error::Pkcs11(RvError::KeyUnextractable, _)))
        | (true, Err(Error::Pkcs11(RvError::KeyNotWrappable, _))) => {}
        (_, other) => panic!("{region}: wrapping the domain key gave {other:?}"),
    }
    session.destroy_object(mine).unwrap();
    key
}

/// The wrapped key in a stored blob, which must record RFC 5649 (SoftHSM's
/// CKM_AES_KEY_WRAP_PAD): the blob format of `src/hsm/mechanisms.rs` is a
/// 4-byte header, `TW`, 1, then the wrapping's id (1 for RFC 5649).
pub fn wrapped_key(blob: &[u8]) -> &[u8] {
    let (header, key) = blob.split_at(4);
    assert_eq!(header, b"TW\x01\x01", "a blob wrapped with RFC 5649");
    key
}

/// Unwraps the stored blob `wrapped` under `domain_key` into a session
/// object of this test: the attributes the domain key's
/// CKA_UNWRAP_TEMPLATE accepts, and decrypt only.
pub fn unwrap_for_test(
    session: &Session,
    domain_key: ObjectHandle,
    wrapped: &[u8],
) -> Result<ObjectHandle, Error> {
    session.unwrap_key(
        &Mechanism::AesKeyWrapPad,
        domain_key,
        wrapped_key(wrapped),
        &[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(false),
            Attribute::Private(false),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Encrypt(false),
            Attribute::Decrypt(true),
            Attribute::Wrap(false),
            Attribute::Unwrap(false),
        ],
    )
}

/// Decrypts a ciphertext blob the server made, with `key` (unwrapped by
/// the test) and the encryption context it was made with.
pub fn decrypt_with(
    session: &Session,
    key: ObjectHandle,
    blob: &[u8],
    context: &BTreeMap<String, String>,
) -> Result<Vec<u8>, Error> {
    let parsed = parse(blob);
    let mut iv = parsed.iv;
    let aad = aad(parsed.header, context);
    let params = GcmParams::new(&mut iv, &aad, ((TAG_LEN * 8) as u64).into())?;
    session.decrypt(&Mechanism::AesGcm(params), key, parsed.sealed)
}

/// Proves that the blob `trent.db` stores for the material of `blob` in
/// `region` is that material wrapped under `domain_key`: this session
/// unwraps it and decrypts `blob` with it. Returns the plaintext.
pub fn decrypt_from_store(
    session: &Session,
    domain_key: ObjectHandle,
    db: &rusqlite::Connection,
    region: &str,
    blob: &[u8],
    context: &BTreeMap<String, String>,
) -> Vec<u8> {
    let parsed = parse(blob);
    let wrapped = stored_blob(db, region, parsed.key_id, &parsed.material_id);
    let key = unwrap_for_test(session, domain_key, &wrapped)
        .unwrap_or_else(|e| panic!("{region}: unwrap the stored blob under the domain key: {e}"));
    let plain = decrypt_with(session, key, blob, context);
    session.destroy_object(key).unwrap();
    plain.unwrap_or_else(|e| panic!("{region}: decrypt with the unwrapped stored blob: {e}"))
}
