//! Importing key material into HMAC keys (issue #14): the imported bytes are
//! the HMAC key, so GenerateMac equals the HMAC computed offline (the `hmac`
//! crate) with those bytes, for every spec, every wrapping algorithm, and
//! every length AWS accepts for the spec (from the digest length to the
//! hash's block size: HMAC_224 28-64 bytes, HMAC_256 32-64, HMAC_384
//! 48-128, HMAC_512 64-128).

mod common;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{ExpirationModelType, KeyState};
use common::import::{
    ALGORITHMS, HMAC_SPECS, create_external, describe, hmac_offline, parameters, random_bytes,
    try_generate_mac, try_import_with,
};
use common::{EAST, Server};

/// For each HMAC spec, material of the shortest, a middling and the longest
/// length AWS accepts, each wrapped with another of the four algorithms,
/// makes an Enabled key whose GenerateMac is the HMAC of the imported bytes,
/// and whose VerifyMac accepts the HMAC computed offline.
#[tokio::test(flavor = "multi_thread")]
async fn imported_hmac_keys_make_the_macs_of_their_bytes() {
    let server = Server::start();
    let kms = server.client(EAST);
    let mut algorithms = ALGORITHMS.iter().cycle();
    for (spec, mac_algorithm, least, most) in HMAC_SPECS {
        for length in [least, (least + most) / 2 + 1, most] {
            let algorithm = algorithms.next().unwrap();
            let key = create_external(&kms, spec.clone()).await;
            let material = random_bytes(length);
            let params = parameters(&kms, &key, algorithm.clone()).await;
            try_import_with(
                &kms,
                &key,
                &params,
                &material,
                Some(ExpirationModelType::KeyMaterialDoesNotExpire),
                None,
            )
            .await
            .unwrap_or_else(|e| panic!("{spec:?}, {length} bytes, {algorithm:?}: {e:?}"));
            let meta = describe(&kms, &key).await;
            assert_eq!(meta.key_state, Some(KeyState::Enabled), "{spec:?}");
            assert_eq!(meta.mac_algorithms(), std::slice::from_ref(&mac_algorithm));

            let message = format!("{} bytes of {}", length, spec.as_str());
            let expected = hmac_offline(&mac_algorithm, &material, message.as_bytes());
            assert_eq!(
                try_generate_mac(&kms, &key, &mac_algorithm, message.as_bytes()).await,
                Ok(expected.clone()),
                "{spec:?}, {length} bytes, {algorithm:?}"
            );
            let verified = kms
                .verify_mac()
                .key_id(&key)
                .mac_algorithm(mac_algorithm.clone())
                .message(Blob::new(message.into_bytes()))
                .mac(Blob::new(expected))
                .send()
                .await
                .unwrap_or_else(|e| panic!("VerifyMac {spec:?}, {length} bytes: {e:?}"));
            assert!(verified.mac_valid);
        }
    }
}

/// The test's own HMAC (tests/common/import.rs) gives RFC 4231's test case 2
/// for SHA-224, SHA-256, SHA-384 and SHA-512.
#[test]
fn the_offline_hmac_matches_rfc_4231() {
    let expected = [
        "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e\
         8e2240ca5e69e2c78b3239ecfab21649",
        "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
         9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
    ];
    for ((_, algorithm, _, _), expected) in HMAC_SPECS.into_iter().zip(expected) {
        assert_eq!(
            hex::encode(hmac_offline(
                &algorithm,
                b"Jefe",
                b"what do ya want for nothing?"
            )),
            expected,
            "{algorithm:?}"
        );
    }
}
