//! The symmetric ciphertext blob format (see docs/adr/0002-ciphertext-format.md).
//!
//! ```text
//! version (1) | key id length (1) | key id | material id (32) | IV (12) | ciphertext | tag (16)
//! ```
//! The header (everything before the ciphertext) and the canonical encoding of
//! the encryption context together are the GCM additional authenticated data.

use super::error::{KmsError, KmsResult};
use crate::hsm::{IV_LEN, TAG_LEN};
use std::collections::BTreeMap;

/// Format version written in the first byte.
pub const FORMAT_V1: u8 = 1;
/// Raw length of a material id (hex-encoded in metadata).
pub const MATERIAL_ID_LEN: usize = 32;

/// A parsed blob: which key and version made it, and the sealed payload.
pub struct Ciphertext<'a> {
    /// The serialized header, part of the AAD.
    pub header: &'a [u8],
    /// Key id named by the header.
    pub key_id: &'a str,
    /// Hex material id named by the header.
    pub material_id: String,
    /// GCM IV.
    pub iv: [u8; IV_LEN],
    /// Ciphertext followed by the tag.
    pub sealed: &'a [u8],
}

/// Builds the header for a new blob, with room after it for `sealed_len`
/// bytes of ciphertext and tag.
pub fn header(
    key_id: &str,
    material_id: &str,
    iv: &[u8; IV_LEN],
    sealed_len: usize,
) -> KmsResult<Vec<u8>> {
    let mut material = [0u8; MATERIAL_ID_LEN];
    hex::decode_to_slice(material_id, &mut material)
        .map_err(|_| KmsError::Internal("bad material id".into()))?;
    if key_id.len() > u8::MAX as usize {
        return Err(KmsError::Internal("key id too long".into()));
    }
    let mut out = Vec::with_capacity(2 + key_id.len() + MATERIAL_ID_LEN + IV_LEN + sealed_len);
    out.push(FORMAT_V1);
    out.push(key_id.len() as u8);
    out.extend_from_slice(key_id.as_bytes());
    out.extend_from_slice(&material);
    out.extend_from_slice(iv);
    Ok(out)
}

/// Parses a blob; any structural problem is an `InvalidCiphertextException`.
pub fn parse(blob: &[u8]) -> KmsResult<Ciphertext<'_>> {
    let invalid = || KmsError::InvalidCiphertext("The ciphertext is not valid.");
    let (&version, rest) = blob.split_first().ok_or_else(invalid)?;
    if version != FORMAT_V1 {
        return Err(invalid());
    }
    let (&id_len, rest) = rest.split_first().ok_or_else(invalid)?;
    let id_len = id_len as usize;
    if rest.len() < id_len + MATERIAL_ID_LEN + IV_LEN + TAG_LEN {
        return Err(invalid());
    }
    let (key_id, rest) = rest.split_at(id_len);
    // Trent's key ids are UUIDs and `mrk-` ids: a blob whose length byte
    // was altered names something else (even a NUL, which PostgreSQL
    // refuses in a query), and is refused here.
    if !key_id
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
    {
        return Err(invalid());
    }
    let key_id = std::str::from_utf8(key_id).map_err(|_| invalid())?;
    let (material, rest) = rest.split_at(MATERIAL_ID_LEN);
    let (iv, sealed) = rest.split_at(IV_LEN);
    let header_len = 2 + id_len + MATERIAL_ID_LEN + IV_LEN;
    Ok(Ciphertext {
        header: &blob[..header_len],
        key_id,
        material_id: hex::encode(material),
        iv: iv.try_into().map_err(|_| invalid())?,
        sealed,
    })
}

/// AAD: the header followed by the length-prefixed, key-sorted encryption context.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let material = "ab".repeat(32);
        let iv = [7u8; IV_LEN];
        let mut blob = header("1234abcd-12ab-34cd-56ef-1234567890ab", &material, &iv, 0).unwrap();
        let header_len = blob.len();
        blob.extend_from_slice(&[9u8; 20]);
        let parsed = parse(&blob).unwrap();
        assert_eq!(parsed.key_id, "1234abcd-12ab-34cd-56ef-1234567890ab");
        assert_eq!(parsed.material_id, material);
        assert_eq!(parsed.iv, iv);
        assert_eq!(parsed.header.len(), header_len);
        assert_eq!(parsed.sealed, &[9u8; 20]);
    }

    #[test]
    fn a_malformed_material_id_or_long_key_id_is_an_internal_error() {
        let iv = [7u8; IV_LEN];
        let key = "1234abcd-12ab-34cd-56ef-1234567890ab";
        for material in ["ab".repeat(31), "ab".repeat(33), "zz".repeat(32)] {
            assert!(matches!(
                header(key, &material, &iv, 0),
                Err(KmsError::Internal(_))
            ));
        }
        assert!(matches!(
            header(&"k".repeat(256), &"ab".repeat(32), &iv, 0),
            Err(KmsError::Internal(_))
        ));
    }

    #[test]
    fn truncated_or_foreign_blobs_are_invalid_ciphertext() {
        for blob in [&b""[..], &[2u8, 0][..], &[1u8, 200, 1, 2, 3][..]] {
            assert!(matches!(parse(blob), Err(KmsError::InvalidCiphertext(_))));
        }
    }

    #[test]
    fn a_key_id_grown_over_a_nul_byte_is_invalid_ciphertext() {
        let key_id = "1234abcd-12ab-34cd-56ef-1234567890ab";
        let mut material = "00".repeat(MATERIAL_ID_LEN);
        material.replace_range(2.., &"ab".repeat(MATERIAL_ID_LEN - 1));
        let mut blob = header(key_id, &material, &[7; IV_LEN], 0).unwrap();
        blob.extend_from_slice(&[0; 32 + TAG_LEN]);
        assert!(parse(&blob).is_ok());
        // The length byte one more: the key id takes the material id's
        // first byte, a NUL.
        blob[1] += 1;
        assert!(matches!(parse(&blob), Err(KmsError::InvalidCiphertext(_))));
    }

    #[test]
    fn context_encoding_is_unambiguous() {
        let a = BTreeMap::from([("ab".to_string(), "c".to_string())]);
        let b = BTreeMap::from([("a".to_string(), "bc".to_string())]);
        assert_ne!(aad(b"h", &a), aad(b"h", &b));
    }
}
