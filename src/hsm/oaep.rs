//! RSAES-OAEP with SHA-256 and MGF1-SHA-256 (RFC 8017 §7.1) done around a
//! raw RSA operation, for tokens whose CKM_RSA_PKCS_OAEP takes only SHA-1
//! (SoftHSM before 2.7.0). The private key stays in the token, which does
//! the raw RSA decryption; this process sees the encoded message, that is
//! the plaintext it returns anyway plus the random seed (SECURITY.md).

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Length of a SHA-256 digest.
const H_LEN: usize = 32;

/// The OAEP encoding (empty label) of `message` for a `k`-byte modulus,
/// with `seed` (32 random bytes); `None` when the message is too long.
pub(super) fn encode(message: &[u8], k: usize, seed: &[u8]) -> Option<Vec<u8>> {
    if seed.len() != H_LEN || k < 2 * H_LEN + 2 || message.len() > k - 2 * H_LEN - 2 {
        return None;
    }
    let mut db = Vec::with_capacity(k - H_LEN - 1);
    db.extend_from_slice(&Sha256::digest(b""));
    db.resize(k - message.len() - H_LEN - 2, 0);
    db.push(1);
    db.extend_from_slice(message);
    xor_mask(&mut db, seed);
    let mut masked_seed = seed.to_vec();
    xor_mask(&mut masked_seed, &db);
    let mut encoded = Vec::with_capacity(k);
    encoded.push(0);
    encoded.extend_from_slice(&masked_seed);
    encoded.extend_from_slice(&db);
    Some(encoded)
}

/// The message inside an OAEP encoding (empty label) for a `k`-byte
/// modulus; `None` when it is not a valid encoding. Every check runs and
/// is folded into one answer, so that a failure says nothing about which.
/// The unmasked encoding, which holds the message, is wiped before its
/// memory is freed.
pub(super) fn decode(encoded: &[u8], k: usize) -> Option<Zeroizing<Vec<u8>>> {
    if encoded.len() > k || k < 2 * H_LEN + 2 {
        return None;
    }
    let mut em = Zeroizing::new(vec![0u8; k]);
    em.truncate(k - encoded.len());
    em.extend_from_slice(encoded);
    let (y, rest) = em.split_at_mut(1);
    let (masked_seed, masked_db) = rest.split_at_mut(H_LEN);
    xor_mask(masked_seed, masked_db);
    xor_mask(masked_db, masked_seed);
    let db = masked_db;
    let label_hash = Sha256::digest(b"");
    let mut bad = y[0];
    for (a, b) in db[..H_LEN].iter().zip(label_hash.iter()) {
        bad |= a ^ b;
    }
    let mut found = 0u8;
    let mut start = 0usize;
    for (i, &byte) in db[H_LEN..].iter().enumerate() {
        let is_one = u8::from(byte == 1);
        let first_one = is_one & (found ^ 1);
        start |= (i + H_LEN + 1) * usize::from(first_one);
        bad |= (found ^ 1) & u8::from(byte != 0 && byte != 1);
        found |= is_one;
    }
    bad |= found ^ 1;
    (bad == 0).then(|| Zeroizing::new(db[start..].to_vec()))
}

/// XORs `target` with MGF1-SHA-256 of `seed`.
fn xor_mask(target: &mut [u8], seed: &[u8]) {
    for (counter, chunk) in target.chunks_mut(H_LEN).enumerate() {
        let mask = Sha256::new()
            .chain_update(seed)
            .chain_update((counter as u32).to_be_bytes())
            .finalize();
        for (t, m) in chunk.iter_mut().zip(mask.iter()) {
            *t ^= m;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_decode_to_their_message_and_altered_ones_do_not() {
        let seed = [7u8; H_LEN];
        for len in [0, 1, 100, 190] {
            let message = vec![0xA5; len];
            let encoded = encode(&message, 256, &seed).unwrap();
            assert_eq!(encoded.len(), 256);
            assert_eq!(*decode(&encoded, 256).unwrap(), message);
            let mut altered = encoded.clone();
            altered[100] ^= 1;
            assert!(decode(&altered, 256).is_none());
        }
        assert!(encode(&[0; 191], 256, &seed).is_none());
    }
}
