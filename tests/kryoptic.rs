//! Trent on a second kind of PKCS#11 token: Kryoptic 1.5.4, built from
//! crates.io by `scripts/kryoptic.sh`, through explicit `[[regions]]` whose
//! tokens the harness makes with OpenSC's `pkcs11-tool` (see
//! `tests/common`). A representative subset of the suite runs here, through
//! `aws-sdk-kms`: cryptography (Encrypt, Decrypt, GenerateDataKey,
//! ReEncrypt, GenerateRandom), rotation on demand, durability across a
//! restart, and multi-Region keys (symmetric and HMAC) moving between a
//! SoftHSM region and a Kryoptic region in one server.
//!
//! The tests skip, saying so, only when `TRENT_TEST_KRYOPTIC_MODULE` is
//! unset; `.ci/run` always sets it.

mod common;

use aws_sdk_kms::Client;
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, KeyState, MultiRegionKeyType};
use common::{
    Decrypted, EAST, Server, WEST, current_material, decrypt_text, encrypt_text, error_code,
    new_key, new_mrk, until_job_ticks,
};
use std::path::PathBuf;

/// The Kryoptic module, or `None` (with a notice) when the tests skip.
fn kryoptic() -> Option<PathBuf> {
    let module = common::kryoptic_module();
    if module.is_none() {
        eprintln!(
            "skipped: TRENT_TEST_KRYOPTIC_MODULE is not set (scripts/kryoptic.sh builds the \
             module and prints its path; .ci/run sets it)"
        );
    }
    module
}

/// Asserts that `blob` decrypts in `kms` to `text` under `key` (a key id)
/// with `material`.
async fn assert_decrypts(kms: &Client, blob: &[u8], key: &str, text: &str, material: &str) {
    let Decrypted {
        plaintext,
        key_id,
        material: used,
    } = decrypt_text(kms, blob).await;
    assert_eq!(plaintext, text);
    assert!(
        key_id.ends_with(&format!("key/{key}")),
        "{key_id} is not {key}"
    );
    assert_eq!(used, material, "material used for {text:?}");
}

/// Encrypt/Decrypt with an encryption context, GenerateDataKey (its
/// ciphertext decrypts to its plaintext), ReEncrypt between two keys and
/// GenerateRandom, on both Kryoptic regions; the two tokens keep separate
/// keys.
#[tokio::test(flavor = "multi_thread")]
async fn cryptography_on_kryoptic() {
    let Some(module) = kryoptic() else { return };
    let server = Server::start_on_kryoptic(&module);
    for region in [EAST, WEST] {
        let kms = server.client(region);
        let key = new_key(&kms).await;
        let blob = kms
            .encrypt()
            .key_id(&key)
            .plaintext(Blob::new(b"kryoptic data".to_vec()))
            .encryption_context("purpose", "test")
            .send()
            .await
            .unwrap_or_else(|e| panic!("Encrypt in {region}: {e:?}"))
            .ciphertext_blob
            .unwrap()
            .into_inner();
        let plain = kms
            .decrypt()
            .ciphertext_blob(Blob::new(blob.clone()))
            .encryption_context("purpose", "test")
            .send()
            .await
            .unwrap();
        assert_eq!(plain.plaintext.unwrap().as_ref(), b"kryoptic data");
        let wrong_context = kms
            .decrypt()
            .ciphertext_blob(Blob::new(blob.clone()))
            .encryption_context("purpose", "other")
            .send()
            .await;
        assert_eq!(error_code(wrong_context), "InvalidCiphertextException");

        let data_key = kms
            .generate_data_key()
            .key_id(&key)
            .key_spec(DataKeySpec::Aes256)
            .send()
            .await
            .unwrap();
        let plaintext = data_key.plaintext.unwrap().into_inner();
        assert_eq!(plaintext.len(), 32);
        let again = kms
            .decrypt()
            .ciphertext_blob(data_key.ciphertext_blob.unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(again.plaintext.unwrap().into_inner(), plaintext);

        let other = new_key(&kms).await;
        let moved = kms
            .re_encrypt()
            .ciphertext_blob(Blob::new(blob))
            .source_encryption_context("purpose", "test")
            .destination_key_id(&other)
            .send()
            .await
            .unwrap();
        let moved = moved.ciphertext_blob.unwrap().into_inner();
        let material = current_material(&kms, &other).await;
        assert_decrypts(&kms, &moved, &other, "kryoptic data", &material).await;

        let random = kms.generate_random().number_of_bytes(64).send().await;
        assert_eq!(random.unwrap().plaintext.unwrap().as_ref().len(), 64);
    }
    // Each region is its own token: a us-east-1 ciphertext means nothing in us-west-2.
    let east = server.client(EAST);
    let key = new_key(&east).await;
    let blob = encrypt_text(&east, &key, "east only").await;
    let elsewhere = server
        .client(WEST)
        .decrypt()
        .ciphertext_blob(Blob::new(blob))
        .send()
        .await;
    assert_eq!(error_code(elsewhere), "InvalidCiphertextException");
}

/// RotateKeyOnDemand on a Kryoptic token: new material for new
/// ciphertexts, and every older ciphertext still decrypts with its own.
#[tokio::test(flavor = "multi_thread")]
async fn rotation_on_kryoptic() {
    let Some(module) = kryoptic() else { return };
    let server = Server::start_on_kryoptic(&module);
    let kms = server.client(EAST);
    let key = new_key(&kms).await;
    let mut made = Vec::new();
    for round in 0..3 {
        if round > 0 {
            kms.rotate_key_on_demand()
                .key_id(&key)
                .send()
                .await
                .unwrap_or_else(|e| panic!("RotateKeyOnDemand: {e:?}"));
        }
        let material = current_material(&kms, &key).await;
        let text = format!("round {round}");
        made.push((encrypt_text(&kms, &key, &text).await, text, material));
    }
    assert_ne!(made[0].2, made[1].2);
    assert_ne!(made[1].2, made[2].2);
    for (blob, text, material) in &made {
        assert_decrypts(&kms, blob, &key, text, material).await;
    }
}

/// Keys and ciphertexts outlive the server: after a clean stop and after a
/// SIGKILL, a restart on the same Kryoptic tokens decrypts every earlier
/// ciphertext, including those of rotated material, and makes new keys.
#[tokio::test(flavor = "multi_thread")]
async fn durability_on_kryoptic() {
    let Some(module) = kryoptic() else { return };
    let server = Server::start_on_kryoptic(&module);
    // (region, key, ciphertext, plaintext, material)
    let mut made = Vec::new();
    for region in [EAST, WEST] {
        let kms = server.client(region);
        let key = new_key(&kms).await;
        for text in ["before rotation", "after rotation"] {
            if text == "after rotation" {
                kms.rotate_key_on_demand()
                    .key_id(&key)
                    .send()
                    .await
                    .unwrap();
            }
            let material = current_material(&kms, &key).await;
            let blob = encrypt_text(&kms, &key, text).await;
            made.push((region, key.clone(), blob, text, material));
        }
    }
    let server = Server::restart(server.stop());
    for (region, key, blob, text, material) in &made {
        assert_decrypts(&server.client(region), blob, key, text, material).await;
    }
    let server = Server::restart(server.kill9());
    for (region, key, blob, text, material) in &made {
        assert_decrypts(&server.client(region), blob, key, text, material).await;
    }
    let kms = server.client(WEST);
    let key = new_key(&kms).await;
    let blob = encrypt_text(&kms, &key, "after restarts").await;
    assert_eq!(decrypt_text(&kms, &blob).await.plaintext, "after restarts");
}

/// Polls until the copy of `key` in `region` names `primary` as its
/// primary and is no longer Updating; false if not so once the job loop
/// has run twice more.
async fn wait_for_primary(server: &Server, region: &str, key: &str, primary: &str) -> bool {
    let kms = server.client(region);
    until_job_ticks(server, server.job_ticks() + 2, || async {
        let meta = kms
            .describe_key()
            .key_id(key)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        let config = meta.multi_region_configuration.unwrap();
        let now = config.primary_key.unwrap().region.unwrap();
        let kind = if region == primary {
            MultiRegionKeyType::Primary
        } else {
            MultiRegionKeyType::Replica
        };
        now == primary
            && config.multi_region_key_type == Some(kind)
            && meta.key_state != Some(KeyState::Updating)
    })
    .await
}

/// A multi-Region key across two kinds of token in one server: created in
/// us-east-1 (SoftHSM), replicated to us-west-2 (Kryoptic) through the
/// wrapped-key exchange, ciphertexts of each region decrypt in the other,
/// rotation on demand at the primary reaches the replica, and the primary
/// moves to the Kryoptic region and back; every ciphertext made on the way
/// decrypts in both regions with the material it was made with, also after
/// a restart.
#[tokio::test(flavor = "multi_thread")]
async fn multi_region_key_between_softhsm_and_kryoptic() {
    let Some(module) = kryoptic() else { return };
    let server = Server::start_mixed(&module);
    let east = server.client(EAST);
    let west = server.client(WEST);
    let id = new_mrk(&east).await;
    west.describe_key()
        .key_id(&id)
        .send()
        .await
        .expect_err("no replica yet");
    east.replicate_key()
        .key_id(&id)
        .replica_region(WEST)
        .send()
        .await
        .unwrap_or_else(|e| panic!("ReplicateKey to the Kryoptic region: {e:?}"));
    // (plaintext, ciphertext, material it was made with)
    let mut made: Vec<(String, Vec<u8>, String)> = Vec::new();

    async fn encrypt_both(
        east: &Client,
        west: &Client,
        id: &str,
        label: &str,
        made: &mut Vec<(String, Vec<u8>, String)>,
    ) {
        let material = current_material(east, id).await;
        assert_eq!(current_material(west, id).await, material, "{label}");
        for (region, kms) in [(EAST, east), (WEST, west)] {
            let text = format!("{label} in {region}");
            let blob = encrypt_text(kms, id, &text).await;
            made.push((text, blob, material.clone()));
        }
    }

    async fn all_decrypt_everywhere(
        east: &Client,
        west: &Client,
        id: &str,
        made: &[(String, Vec<u8>, String)],
    ) {
        for (text, blob, material) in made {
            for kms in [east, west] {
                assert_decrypts(kms, blob, id, text, material).await;
            }
        }
    }

    encrypt_both(&east, &west, &id, "replicated", &mut made).await;
    all_decrypt_everywhere(&east, &west, &id, &made).await;

    // Rotation at the SoftHSM primary reaches the Kryoptic replica.
    let before = current_material(&east, &id).await;
    east.rotate_key_on_demand()
        .key_id(&id)
        .send()
        .await
        .unwrap_or_else(|e| panic!("RotateKeyOnDemand: {e:?}"));
    let after = current_material(&east, &id).await;
    assert_ne!(after, before);
    assert_eq!(current_material(&west, &id).await, after);
    encrypt_both(&east, &west, &id, "rotated", &mut made).await;
    all_decrypt_everywhere(&east, &west, &id, &made).await;

    // The Kryoptic region becomes the primary, and rotates.
    east.update_primary_region()
        .key_id(&id)
        .primary_region(WEST)
        .send()
        .await
        .unwrap();
    assert!(wait_for_primary(&server, EAST, &id, WEST).await);
    assert!(wait_for_primary(&server, WEST, &id, WEST).await);
    assert_eq!(
        error_code(east.rotate_key_on_demand().key_id(&id).send().await),
        "UnsupportedOperationException",
        "the SoftHSM copy is now a replica"
    );
    west.rotate_key_on_demand()
        .key_id(&id)
        .send()
        .await
        .unwrap_or_else(|e| panic!("RotateKeyOnDemand at the Kryoptic primary: {e:?}"));
    assert_ne!(current_material(&west, &id).await, after);
    encrypt_both(&east, &west, &id, "rotated in west", &mut made).await;
    all_decrypt_everywhere(&east, &west, &id, &made).await;

    // And back to SoftHSM.
    west.update_primary_region()
        .key_id(&id)
        .primary_region(EAST)
        .send()
        .await
        .unwrap();
    assert!(wait_for_primary(&server, WEST, &id, EAST).await);
    assert!(wait_for_primary(&server, EAST, &id, EAST).await);
    encrypt_both(&east, &west, &id, "back in east", &mut made).await;
    all_decrypt_everywhere(&east, &west, &id, &made).await;
    let materials: std::collections::BTreeSet<&String> = made.iter().map(|m| &m.2).collect();
    assert_eq!(materials.len(), 3, "three material versions used");

    // Both tokens keep it all across a restart.
    let server = Server::restart(server.stop());
    let (east, west) = (server.client(EAST), server.client(WEST));
    all_decrypt_everywhere(&east, &west, &id, &made).await;
}

/// HMAC keys whose length is a multiple of 8 bytes (HMAC_256, HMAC_384,
/// HMAC_512) replicate from the SoftHSM region to the Kryoptic region: both
/// copies compute the same MAC, and each verifies the other's. (HMAC_224's
/// 28-byte key needs RFC 5649 wrapping, which Trent cannot yet name on
/// Kryoptic: see hsm/README.md.)
#[tokio::test(flavor = "multi_thread")]
async fn hmac_key_between_softhsm_and_kryoptic() {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType, MacAlgorithmSpec};
    let Some(module) = kryoptic() else { return };
    let server = Server::start_mixed(&module);
    let east = server.client(EAST);
    let west = server.client(WEST);
    let mac = |kms: &Client, key: &str, algorithm: &MacAlgorithmSpec| {
        kms.generate_mac()
            .key_id(key)
            .mac_algorithm(algorithm.clone())
            .message(Blob::new(b"message".to_vec()))
            .send()
    };
    let verify = |kms: &Client, key: &str, algorithm: &MacAlgorithmSpec, mac: Vec<u8>| {
        kms.verify_mac()
            .key_id(key)
            .mac_algorithm(algorithm.clone())
            .message(Blob::new(b"message".to_vec()))
            .mac(Blob::new(mac))
            .send()
    };
    for (spec, algorithm) in [
        (KeySpec::Hmac256, MacAlgorithmSpec::HmacSha256),
        (KeySpec::Hmac384, MacAlgorithmSpec::HmacSha384),
        (KeySpec::Hmac512, MacAlgorithmSpec::HmacSha512),
    ] {
        let id = east
            .create_key()
            .key_spec(spec.clone())
            .key_usage(KeyUsageType::GenerateVerifyMac)
            .multi_region(true)
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateKey {spec:?}: {e:?}"))
            .key_metadata
            .unwrap()
            .key_id;
        east.replicate_key()
            .key_id(&id)
            .replica_region(WEST)
            .send()
            .await
            .unwrap_or_else(|e| panic!("ReplicateKey {spec:?} to the Kryoptic region: {e:?}"));
        let in_east = mac(&east, &id, &algorithm).await.unwrap().mac.unwrap();
        let in_west = mac(&west, &id, &algorithm)
            .await
            .unwrap_or_else(|e| panic!("GenerateMac {spec:?} on Kryoptic: {e:?}"))
            .mac
            .unwrap();
        assert_eq!(in_east, in_west, "{spec:?}: both copies compute one MAC");
        let checked = verify(&west, &id, &algorithm, in_east.into_inner()).await;
        assert!(checked.unwrap().mac_valid, "{spec:?} verified on Kryoptic");
        let checked = verify(&east, &id, &algorithm, in_west.into_inner()).await;
        assert!(checked.unwrap().mac_valid, "{spec:?} verified on SoftHSM");
    }

    // HMAC_224's 28-byte key needs RFC 5649 (CKM_AES_KEY_WRAP_PAD or _KWP),
    // which Trent cannot call on Kryoptic: refused as unsupported, by name,
    // both as a new key there and as a replica carried there.
    let hmac_224 = |kms: &Client, multi_region: bool| {
        kms.create_key()
            .key_spec(KeySpec::Hmac224)
            .key_usage(KeyUsageType::GenerateVerifyMac)
            .multi_region(multi_region)
            .send()
    };
    let refused = hmac_224(&west, false).await.unwrap_err();
    let service = refused.as_service_error().expect("a service error");
    assert_eq!(service.code(), Some("UnsupportedOperationException"));
    let message = service.message().unwrap_or_default();
    assert!(
        message.starts_with("This region's token lacks the PKCS#11 mechanism")
            && message.contains("CKM_AES_KEY_WRAP_KWP"),
        "{service:?}"
    );
    // The token's label is the operator's: named in the log, not to clients.
    assert!(!message.contains("trent-"), "{message}");
    let on_softhsm = hmac_224(&east, true)
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let carried = east
        .replicate_key()
        .key_id(&on_softhsm)
        .replica_region(WEST)
        .send()
        .await;
    assert_eq!(
        carried
            .unwrap_err()
            .as_service_error()
            .and_then(|e| e.code()),
        Some("UnsupportedOperationException")
    );
    assert!(
        mac(&east, &on_softhsm, &MacAlgorithmSpec::HmacSha224)
            .await
            .is_ok()
    );
}
