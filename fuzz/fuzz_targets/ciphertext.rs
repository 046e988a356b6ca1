//! The ciphertext blob parser (`src/kms/ciphertext.rs`), through
//! `trent::fuzzing::ciphertext_blob`: arbitrary bytes as a blob. It must
//! refuse or parse without panicking, and what it parses must be consistent
//! with the blob.

#![no_main]

use libfuzzer_sys::fuzz_target;
use trent::kms::EncryptionContext;

fuzz_target!(|blob: &[u8]| {
    let context = EncryptionContext::from([("purpose".to_string(), "fuzz".to_string())]);
    trent::fuzzing::ciphertext_blob(blob, &context);
});
