//! Entry points for the fuzz targets in `fuzz/` (see `fuzz/README.md`) into
//! parsers that are private to their modules. Not an API: hidden from the
//! documentation, and changed with the targets. Everything the targets reach
//! through public modules (the dialects' handlers, SigV4, Huawei signing,
//! policies) they call directly.

use crate::hsm::TAG_LEN;
use crate::kms::EncryptionContext;
use crate::kms::ciphertext;

/// Parses `blob` as a ciphertext blob, as `Decrypt` and `ReEncrypt` do.
/// Returns whether it parsed; when it did, checks that the header and sealed
/// payload tile the blob, that the sealed payload holds at least a GCM tag,
/// that the header rebuilds from the parsed key id, material id and IV, and
/// that the AAD over `context` begins with the header, panicking otherwise.
pub fn ciphertext_blob(blob: &[u8], context: &EncryptionContext) -> bool {
    let Ok(parsed) = ciphertext::parse(blob) else {
        return false;
    };
    assert_eq!(parsed.header.len() + parsed.sealed.len(), blob.len());
    assert!(parsed.sealed.len() >= TAG_LEN);
    let rebuilt = ciphertext::header(parsed.key_id, &parsed.material_id, &parsed.iv, 0)
        .expect("a parsed header rebuilds");
    assert_eq!(rebuilt, parsed.header);
    assert!(ciphertext::aad(parsed.header, context).starts_with(parsed.header));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_well_formed_blob_passes_the_checks_and_a_short_one_is_refused() {
        let mut blob = ciphertext::header("k", &"00".repeat(32), &[1; 12], 0).unwrap();
        blob.extend_from_slice(&[0; TAG_LEN]);
        let context = EncryptionContext::from([("a".into(), "b".into())]);
        assert!(ciphertext_blob(&blob, &context));
        assert!(!ciphertext_blob(&blob[..blob.len() - 1], &context));
    }
}
