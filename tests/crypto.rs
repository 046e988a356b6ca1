//! Encrypt, Decrypt, ReEncrypt, GenerateDataKey(WithoutPlaintext) and
//! GenerateRandom through the official SDK against a real server.

mod common;

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, EncryptionAlgorithmSpec};
use common::{Server, error_code, new_key};

async fn encrypt(client: &Client, key: &str, plaintext: &[u8], ctx: &[(&str, &str)]) -> Vec<u8> {
    let mut req = client.encrypt().key_id(key).plaintext(Blob::new(plaintext));
    for (k, v) in ctx {
        req = req.encryption_context(*k, *v);
    }
    req.send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap()
        .into_inner()
}

#[tokio::test(flavor = "multi_thread")]
async fn encrypt_decrypt_round_trip_with_context() {
    let server = Server::start();
    let kms = server.client("us-east-1");
    let key = new_key(&kms).await;
    let blob = encrypt(
        &kms,
        &key,
        b"attack at dawn",
        &[("purpose", "test"), ("a", "b")],
    )
    .await;
    assert!(!blob.windows(14).any(|w| w == b"attack at dawn"));

    let out = kms
        .decrypt()
        .ciphertext_blob(Blob::new(blob.clone()))
        .encryption_context("a", "b")
        .encryption_context("purpose", "test")
        .send()
        .await
        .unwrap();
    assert_eq!(out.plaintext.unwrap().as_ref(), b"attack at dawn");
    assert!(out.key_id.unwrap().ends_with(&format!(":key/{key}")));
    assert_eq!(
        out.encryption_algorithm,
        Some(EncryptionAlgorithmSpec::SymmetricDefault)
    );

    // Two encryptions of the same plaintext differ (fresh IV).
    let again = encrypt(
        &kms,
        &key,
        b"attack at dawn",
        &[("purpose", "test"), ("a", "b")],
    )
    .await;
    assert_ne!(blob, again);

    // Missing, extra or altered context all fail.
    for ctx in [
        vec![],
        vec![("purpose", "test")],
        vec![("purpose", "test"), ("a", "c")],
        vec![("purpose", "test"), ("a", "b"), ("x", "y")],
    ] {
        let mut req = kms.decrypt().ciphertext_blob(Blob::new(blob.clone()));
        for (k, v) in ctx {
            req = req.encryption_context(k, v);
        }
        assert_eq!(error_code(req.send().await), "InvalidCiphertextException");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tampered_ciphertext_is_rejected_everywhere() {
    let server = Server::start();
    let kms = server.client("us-east-1");
    let key = new_key(&kms).await;
    let blob = encrypt(&kms, &key, b"0123456789", &[]).await;
    // Flip one bit in every byte position: header, IV, body and tag.
    for i in 0..blob.len() {
        let mut bad = blob.clone();
        bad[i] ^= 0x01;
        let code = error_code(kms.decrypt().ciphertext_blob(Blob::new(bad)).send().await);
        assert!(
            code == "InvalidCiphertextException" || code == "NotFoundException",
            "byte {i}: {code}"
        );
    }
    let truncated = blob[..blob.len() - 1].to_vec();
    assert_eq!(
        error_code(
            kms.decrypt()
                .ciphertext_blob(Blob::new(truncated))
                .send()
                .await
        ),
        "InvalidCiphertextException"
    );
    assert_eq!(
        error_code(
            kms.decrypt()
                .ciphertext_blob(Blob::new(b"garbage".to_vec()))
                .send()
                .await
        ),
        "InvalidCiphertextException"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn decrypt_checks_the_given_key_id() {
    let server = Server::start();
    let kms = server.client("us-east-1");
    let key = new_key(&kms).await;
    let other = new_key(&kms).await;
    let blob = encrypt(&kms, &key, b"data", &[]).await;
    let ok = kms
        .decrypt()
        .key_id(&key)
        .ciphertext_blob(Blob::new(blob.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.plaintext.unwrap().as_ref(), b"data");
    assert_eq!(
        error_code(
            kms.decrypt()
                .key_id(&other)
                .ciphertext_blob(Blob::new(blob))
                .send()
                .await
        ),
        "IncorrectKeyException"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn plaintext_and_algorithm_limits() {
    let server = Server::start();
    let kms = server.client("us-east-1");
    let key = new_key(&kms).await;
    let max = vec![7u8; 4096];
    let blob = encrypt(&kms, &key, &max, &[]).await;
    let back = kms
        .decrypt()
        .ciphertext_blob(Blob::new(blob))
        .send()
        .await
        .unwrap();
    assert_eq!(back.plaintext.unwrap().as_ref(), max.as_slice());
    let too_big = kms
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(vec![0u8; 4097]))
        .send()
        .await;
    assert_eq!(error_code(too_big), "ValidationException");
    let rsa = kms
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(b"x".to_vec()))
        .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
        .send()
        .await;
    assert_eq!(error_code(rsa), "InvalidKeyUsageException");
    let unknown_key = kms
        .encrypt()
        .key_id("11111111-2222-3333-4444-555555555555")
        .plaintext(Blob::new(b"x".to_vec()))
        .send()
        .await;
    assert_eq!(error_code(unknown_key), "NotFoundException");
    let dry = kms
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(b"x".to_vec()))
        .dry_run(true)
        .send()
        .await;
    assert_eq!(error_code(dry), "DryRunOperationException");
}

#[tokio::test(flavor = "multi_thread")]
async fn disabled_and_pending_deletion_keys_refuse_crypto() {
    let server = Server::start();
    let kms = server.client("us-east-1");
    let key = new_key(&kms).await;
    let blob = encrypt(&kms, &key, b"data", &[]).await;

    kms.disable_key().key_id(&key).send().await.unwrap();
    let enc = kms
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(b"x".to_vec()))
        .send()
        .await;
    assert_eq!(error_code(enc), "DisabledException");
    let dec = kms
        .decrypt()
        .ciphertext_blob(Blob::new(blob.clone()))
        .send()
        .await;
    assert_eq!(error_code(dec), "DisabledException");
    let gdk = kms
        .generate_data_key()
        .key_id(&key)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await;
    assert_eq!(error_code(gdk), "DisabledException");

    kms.enable_key().key_id(&key).send().await.unwrap();
    kms.schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    let dec = kms
        .decrypt()
        .ciphertext_blob(Blob::new(blob.clone()))
        .send()
        .await;
    assert_eq!(error_code(dec), "KMSInvalidStateException");

    kms.cancel_key_deletion().key_id(&key).send().await.unwrap();
    kms.enable_key().key_id(&key).send().await.unwrap();
    let dec = kms
        .decrypt()
        .ciphertext_blob(Blob::new(blob))
        .send()
        .await
        .unwrap();
    assert_eq!(dec.plaintext.unwrap().as_ref(), b"data");
}

#[tokio::test(flavor = "multi_thread")]
async fn re_encrypt_moves_ciphertext_between_keys_and_contexts() {
    let server = Server::start();
    let kms = server.client("us-east-1");
    let source = new_key(&kms).await;
    let destination = new_key(&kms).await;
    let blob = encrypt(&kms, &source, b"moving data", &[("stage", "one")]).await;

    let out = kms
        .re_encrypt()
        .ciphertext_blob(Blob::new(blob.clone()))
        .source_encryption_context("stage", "one")
        .destination_key_id(&destination)
        .destination_encryption_context("stage", "two")
        .send()
        .await
        .unwrap();
    assert!(out.source_key_id.unwrap().ends_with(&source));
    assert!(out.key_id.unwrap().ends_with(&destination));
    let moved = out.ciphertext_blob.unwrap().into_inner();

    let plain = kms
        .decrypt()
        .ciphertext_blob(Blob::new(moved.clone()))
        .encryption_context("stage", "two")
        .send()
        .await
        .unwrap();
    assert!(plain.key_id.unwrap().ends_with(&destination));
    assert_eq!(plain.plaintext.unwrap().as_ref(), b"moving data");

    let wrong_source_ctx = kms
        .re_encrypt()
        .ciphertext_blob(Blob::new(blob.clone()))
        .destination_key_id(&destination)
        .send()
        .await;
    assert_eq!(error_code(wrong_source_ctx), "InvalidCiphertextException");
    let wrong_source_key = kms
        .re_encrypt()
        .ciphertext_blob(Blob::new(blob))
        .source_key_id(&destination)
        .source_encryption_context("stage", "one")
        .destination_key_id(&destination)
        .send()
        .await;
    assert_eq!(error_code(wrong_source_key), "IncorrectKeyException");
    let no_destination = kms
        .re_encrypt()
        .ciphertext_blob(Blob::new(moved))
        .send()
        .await;
    assert_eq!(error_code(no_destination), "ValidationException");
}

#[tokio::test(flavor = "multi_thread")]
async fn generate_data_key_variants() {
    let server = Server::start();
    let kms = server.client("us-east-1");
    let key = new_key(&kms).await;

    for (spec, len) in [(DataKeySpec::Aes256, 32), (DataKeySpec::Aes128, 16)] {
        let out = kms
            .generate_data_key()
            .key_id(&key)
            .key_spec(spec)
            .encryption_context("k", "v")
            .send()
            .await
            .unwrap();
        let plaintext = out.plaintext.unwrap().into_inner();
        assert_eq!(plaintext.len(), len);
        let back = kms
            .decrypt()
            .ciphertext_blob(out.ciphertext_blob.unwrap())
            .encryption_context("k", "v")
            .send()
            .await
            .unwrap();
        assert_eq!(back.plaintext.unwrap().into_inner(), plaintext);
    }

    let out = kms
        .generate_data_key()
        .key_id(&key)
        .number_of_bytes(64)
        .send()
        .await
        .unwrap();
    assert_eq!(out.plaintext.unwrap().into_inner().len(), 64);

    let without = kms
        .generate_data_key_without_plaintext()
        .key_id(&key)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await
        .unwrap();
    let back = kms
        .decrypt()
        .ciphertext_blob(without.ciphertext_blob.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(back.plaintext.unwrap().into_inner().len(), 32);

    let both = kms
        .generate_data_key()
        .key_id(&key)
        .key_spec(DataKeySpec::Aes256)
        .number_of_bytes(32)
        .send()
        .await;
    assert_eq!(error_code(both), "ValidationException");
    let neither = kms.generate_data_key().key_id(&key).send().await;
    assert_eq!(error_code(neither), "ValidationException");
    for n in [0, 1025] {
        let out = kms
            .generate_data_key()
            .key_id(&key)
            .number_of_bytes(n)
            .send()
            .await;
        assert_eq!(error_code(out), "ValidationException", "NumberOfBytes {n}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn generate_random_returns_fresh_bytes() {
    let server = Server::start();
    let kms = server.client("us-west-2");
    let a = kms
        .generate_random()
        .number_of_bytes(32)
        .send()
        .await
        .unwrap();
    let b = kms
        .generate_random()
        .number_of_bytes(32)
        .send()
        .await
        .unwrap();
    let (a, b) = (
        a.plaintext.unwrap().into_inner(),
        b.plaintext.unwrap().into_inner(),
    );
    assert_eq!(a.len(), 32);
    assert_ne!(a, b);
    let big = kms.generate_random().number_of_bytes(1025).send().await;
    assert_eq!(error_code(big), "ValidationException");
}

#[tokio::test(flavor = "multi_thread")]
async fn regions_are_separate() {
    let server = Server::start();
    let east = server.client("us-east-1");
    let west = server.client("us-west-2");
    let east_key = new_key(&east).await;
    let west_key = new_key(&west).await;

    let west_meta = west.describe_key().key_id(&west_key).send().await.unwrap();
    assert!(
        west_meta
            .key_metadata
            .unwrap()
            .arn
            .unwrap()
            .contains(":us-west-2:")
    );
    let missing = west.describe_key().key_id(&east_key).send().await;
    assert_eq!(error_code(missing), "NotFoundException");

    let east_blob = encrypt(&east, &east_key, b"east", &[]).await;
    let west_blob = encrypt(&west, &west_key, b"west", &[]).await;
    let back = west
        .decrypt()
        .ciphertext_blob(Blob::new(west_blob.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(back.plaintext.unwrap().as_ref(), b"west");
    // A ciphertext is only usable in the region that holds its key.
    let cross = west
        .decrypt()
        .ciphertext_blob(Blob::new(east_blob))
        .send()
        .await;
    assert_eq!(error_code(cross), "InvalidCiphertextException");
    let cross = east
        .decrypt()
        .ciphertext_blob(Blob::new(west_blob))
        .send()
        .await;
    assert_eq!(error_code(cross), "InvalidCiphertextException");

    let east_ids: Vec<String> = east
        .list_keys()
        .send()
        .await
        .unwrap()
        .keys
        .unwrap()
        .into_iter()
        .filter_map(|k| k.key_id)
        .collect();
    assert_eq!(east_ids, vec![east_key]);
}
