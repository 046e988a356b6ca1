//! RSA ENCRYPT_DECRYPT keys through `aws-sdk-kms`: Encrypt and Decrypt
//! with RSAES_OAEP_SHA_1 and RSAES_OAEP_SHA_256 up to AWS's plaintext
//! limits, ciphertexts made offline with the public key (the `rsa` crate)
//! that Trent decrypts, the algorithm an RSA key needs, and ReEncrypt
//! between symmetric and RSA keys.
//!
//! AWS's limits and their message were recorded against AWS KMS by
//! LocalStack (`tests/aws/services/kms/test_kms.snapshot.json`,
//! test_encrypt_validate_plaintext_size_per_key_type): "Algorithm
//! RSAES_OAEP_SHA_1 and key spec RSA_2048 cannot encrypt data larger than
//! 214 bytes.", a ValidationException.

mod common;

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{EncryptionAlgorithmSpec, KeySpec, KeyUsageType};
use common::asymmetric::{arn, code, create, public_key, rsa_encryption_algorithms, spec_of_spki};
use common::{EAST, Server, new_key, refusal};
use rsa::pkcs8::DecodePublicKey;
use rsa::rand_core::OsRng;
use rsa::{Oaep, RsaPublicKey};

/// AWS's largest plaintext for an RSA key spec and OAEP algorithm: the
/// modulus length less twice the hash length less 2 (RFC 8017, 7.1.1).
fn limit(spec: &KeySpec, algorithm: &EncryptionAlgorithmSpec) -> usize {
    let modulus = match spec {
        KeySpec::Rsa2048 => 256,
        KeySpec::Rsa3072 => 384,
        KeySpec::Rsa4096 => 512,
        other => panic!("{other:?}"),
    };
    let hash = match algorithm {
        EncryptionAlgorithmSpec::RsaesOaepSha1 => 20,
        EncryptionAlgorithmSpec::RsaesOaepSha256 => 32,
        other => panic!("{other:?}"),
    };
    modulus - 2 * hash - 2
}

/// Encrypt under `key`, with `algorithm` if given: the ciphertext (after
/// checking what Encrypt names), or the refusal's code and message.
async fn try_encrypt(
    kms: &Client,
    key: &str,
    algorithm: Option<EncryptionAlgorithmSpec>,
    plaintext: &[u8],
) -> Result<Vec<u8>, (String, Option<String>)> {
    let result = kms
        .encrypt()
        .key_id(key)
        .set_encryption_algorithm(algorithm.clone())
        .plaintext(Blob::new(plaintext.to_vec()))
        .send()
        .await;
    let out = result.map_err(|e| refusal::<_, ()>(Err(e)))?;
    assert_eq!(out.key_id(), Some(arn(EAST, key).as_str()));
    assert_eq!(out.encryption_algorithm(), algorithm.as_ref());
    Ok(out.ciphertext_blob.unwrap().into_inner())
}

/// Encrypt with an RSA key and algorithm; the ciphertext.
async fn encrypt(
    kms: &Client,
    key: &str,
    algorithm: &EncryptionAlgorithmSpec,
    plaintext: &[u8],
) -> Vec<u8> {
    try_encrypt(kms, key, Some(algorithm.clone()), plaintext)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "Encrypt {key} {algorithm:?} {} bytes: {e:?}",
                plaintext.len()
            )
        })
}

/// Decrypt of an RSA ciphertext, naming the key (as AWS requires) and the
/// algorithm if given: the plaintext (after checking what Decrypt names),
/// or the refusal's code and message.
async fn try_decrypt(
    kms: &Client,
    key: &str,
    algorithm: Option<EncryptionAlgorithmSpec>,
    ciphertext: &[u8],
) -> Result<Vec<u8>, (String, Option<String>)> {
    let result = kms
        .decrypt()
        .key_id(key)
        .set_encryption_algorithm(algorithm.clone())
        .ciphertext_blob(Blob::new(ciphertext.to_vec()))
        .send()
        .await;
    let out = result.map_err(|e| refusal::<_, ()>(Err(e)))?;
    assert_eq!(out.key_id(), Some(arn(EAST, key).as_str()));
    assert_eq!(out.encryption_algorithm(), algorithm.as_ref());
    // AWS names key material only for symmetric encryption keys.
    assert_eq!(out.key_material_id(), None);
    Ok(out.plaintext.unwrap().into_inner())
}

/// Decrypt of an RSA ciphertext with `algorithm`; the plaintext.
async fn decrypt(
    kms: &Client,
    key: &str,
    algorithm: &EncryptionAlgorithmSpec,
    ciphertext: &[u8],
) -> Vec<u8> {
    try_decrypt(kms, key, Some(algorithm.clone()), ciphertext)
        .await
        .unwrap_or_else(|e| panic!("Decrypt {key} {algorithm:?}: {e:?}"))
}

/// The `rsa` crate's OAEP padding for a KMS algorithm: MGF1 with the same
/// hash, empty label.
fn oaep(algorithm: &EncryptionAlgorithmSpec) -> Oaep {
    match algorithm {
        EncryptionAlgorithmSpec::RsaesOaepSha1 => Oaep::new::<sha1::Sha1>(),
        EncryptionAlgorithmSpec::RsaesOaepSha256 => Oaep::new::<sha2::Sha256>(),
        other => panic!("{other:?}"),
    }
}

/// RSA_2048, RSA_3072 and RSA_4096 keys encrypt with both OAEP algorithms
/// up to AWS's limit (214/190, 342/318, 470/446 bytes) into ciphertexts of
/// the modulus' length that Decrypt opens; one byte more is
/// ValidationException with AWS's message.
#[tokio::test(flavor = "multi_thread")]
async fn rsa_keys_encrypt_up_to_awss_plaintext_limit() {
    let server = Server::start();
    let kms = server.client(EAST);
    for spec in [KeySpec::Rsa2048, KeySpec::Rsa3072, KeySpec::Rsa4096] {
        let key = create(&kms, spec.clone(), KeyUsageType::EncryptDecrypt).await;
        let out = kms.get_public_key().key_id(&key).send().await.unwrap();
        assert_eq!(out.encryption_algorithms(), rsa_encryption_algorithms());
        assert!(out.signing_algorithms().is_empty());
        let spki = out.public_key.unwrap().into_inner();
        assert_eq!(spec_of_spki(&spki), spec.as_str());
        let modulus = RsaPublicKey::from_public_key_der(&spki)
            .map(|k| rsa::traits::PublicKeyParts::size(&k))
            .unwrap();
        for algorithm in rsa_encryption_algorithms() {
            let most = limit(&spec, &algorithm);
            let plaintext: Vec<u8> = (0..most).map(|i| i as u8).collect();
            let sealed = encrypt(&kms, &key, &algorithm, &plaintext).await;
            assert_eq!(sealed.len(), modulus, "{spec:?} {algorithm:?}");
            assert_ne!(
                encrypt(&kms, &key, &algorithm, &plaintext).await,
                sealed,
                "OAEP is randomized"
            );
            assert_eq!(decrypt(&kms, &key, &algorithm, &sealed).await, plaintext);
            let one_more =
                try_encrypt(&kms, &key, Some(algorithm.clone()), &vec![1; most + 1]).await;
            assert_eq!(
                one_more,
                Err((
                    "ValidationException".to_string(),
                    Some(format!(
                        "Algorithm {} and key spec {} cannot encrypt data larger than {most} bytes.",
                        algorithm.as_str(),
                        spec.as_str()
                    ))
                )),
                "{spec:?} {algorithm:?}, {} bytes",
                most + 1
            );
        }
    }
}

/// Ciphertexts made offline with GetPublicKey's key (the `rsa` crate's
/// OAEP with SHA-1 and SHA-256) decrypt in Trent with the same algorithm,
/// and not with the other one.
#[tokio::test(flavor = "multi_thread")]
async fn ciphertexts_made_offline_with_the_public_key_decrypt() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = create(&kms, KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt).await;
    let public = RsaPublicKey::from_public_key_der(&public_key(&kms, &key).await).unwrap();
    for (algorithm, other) in [
        (
            EncryptionAlgorithmSpec::RsaesOaepSha1,
            EncryptionAlgorithmSpec::RsaesOaepSha256,
        ),
        (
            EncryptionAlgorithmSpec::RsaesOaepSha256,
            EncryptionAlgorithmSpec::RsaesOaepSha1,
        ),
    ] {
        let plaintext = format!("sealed offline with {}", algorithm.as_str());
        let sealed = public
            .encrypt(&mut OsRng, oaep(&algorithm), plaintext.as_bytes())
            .unwrap();
        assert_eq!(
            decrypt(&kms, &key, &algorithm, &sealed).await,
            plaintext.as_bytes()
        );
        assert_eq!(
            code(try_decrypt(&kms, &key, Some(other), &sealed).await),
            "InvalidCiphertextException",
            "decrypted with the other algorithm"
        );
        let mut damaged = sealed;
        damaged[100] ^= 0x40;
        assert_eq!(
            code(try_decrypt(&kms, &key, Some(algorithm.clone()), &damaged).await),
            "InvalidCiphertextException",
            "a damaged ciphertext"
        );
    }
}

/// Encrypt and Decrypt with an RSA key need an RSA algorithm: without one
/// (SYMMETRIC_DEFAULT) they are InvalidKeyUsageException, as is an RSA
/// algorithm with a symmetric key.
#[tokio::test(flavor = "multi_thread")]
async fn rsa_keys_need_an_rsa_algorithm() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = create(&kms, KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt).await;
    let symmetric = new_key(&kms).await;
    assert_eq!(
        code(try_encrypt(&kms, &key, None, b"secret").await),
        "InvalidKeyUsageException"
    );
    assert_eq!(
        code(
            try_encrypt(
                &kms,
                &key,
                Some(EncryptionAlgorithmSpec::SymmetricDefault),
                b"secret"
            )
            .await
        ),
        "InvalidKeyUsageException"
    );
    let sealed = encrypt(
        &kms,
        &key,
        &EncryptionAlgorithmSpec::RsaesOaepSha256,
        b"secret",
    )
    .await;
    assert_eq!(
        code(try_decrypt(&kms, &key, None, &sealed).await),
        "InvalidKeyUsageException"
    );
    assert_eq!(
        code(
            try_encrypt(
                &kms,
                &symmetric,
                Some(EncryptionAlgorithmSpec::RsaesOaepSha256),
                b"secret"
            )
            .await
        ),
        "InvalidKeyUsageException"
    );
}

/// Data keys are sealed only under symmetric keys: GenerateDataKey and
/// GenerateDataKeyWithoutPlaintext under an RSA ENCRYPT_DECRYPT key are
/// InvalidKeyUsageException (HTTP 400), a dry run too, as AWS answers.
#[tokio::test(flavor = "multi_thread")]
async fn rsa_keys_make_no_data_keys() {
    use aws_sdk_kms::types::DataKeySpec;
    let server = Server::start();
    let kms = server.client(EAST);
    let key = create(&kms, KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt).await;
    let by_spec = kms
        .generate_data_key()
        .key_id(&key)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await;
    let (code, message) = refusal(by_spec);
    assert_eq!(code, "InvalidKeyUsageException");
    assert!(
        message.as_deref().is_some_and(|m| m.contains("RSA_2048")),
        "{message:?}"
    );
    let by_length = kms
        .generate_data_key()
        .key_id(&key)
        .number_of_bytes(16)
        .send()
        .await;
    assert_eq!(refusal(by_length).0, "InvalidKeyUsageException");
    let without_plaintext = kms
        .generate_data_key_without_plaintext()
        .key_id(&key)
        .key_spec(DataKeySpec::Aes128)
        .send()
        .await;
    assert_eq!(refusal(without_plaintext).0, "InvalidKeyUsageException");
    let dry_run = kms
        .generate_data_key()
        .key_id(&key)
        .key_spec(DataKeySpec::Aes256)
        .dry_run(true)
        .send()
        .await;
    assert_eq!(refusal(dry_run).0, "InvalidKeyUsageException");
}

/// ReEncrypt moves data from a symmetric key to an RSA key
/// (DestinationEncryptionAlgorithm) and from an RSA key (SourceKeyId and
/// SourceEncryptionAlgorithm) to a symmetric key; both results decrypt.
#[tokio::test(flavor = "multi_thread")]
async fn re_encrypt_moves_data_between_symmetric_and_rsa_keys() {
    let server = Server::start();
    let kms = server.client(EAST);
    let rsa_key = create(&kms, KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt).await;
    let symmetric = new_key(&kms).await;

    let under_symmetric = common::encrypt_text(&kms, &symmetric, "to RSA").await;
    let out = kms
        .re_encrypt()
        .ciphertext_blob(Blob::new(under_symmetric))
        .destination_key_id(&rsa_key)
        .destination_encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
        .send()
        .await
        .expect("ReEncrypt to an RSA key");
    assert_eq!(out.source_key_id(), Some(arn(EAST, &symmetric).as_str()));
    assert_eq!(out.key_id(), Some(arn(EAST, &rsa_key).as_str()));
    assert_eq!(
        out.source_encryption_algorithm(),
        Some(&EncryptionAlgorithmSpec::SymmetricDefault)
    );
    assert_eq!(
        out.destination_encryption_algorithm(),
        Some(&EncryptionAlgorithmSpec::RsaesOaepSha256)
    );
    let under_rsa = out.ciphertext_blob.unwrap().into_inner();
    assert_eq!(under_rsa.len(), 256, "an RSA_2048 ciphertext");
    assert_eq!(
        decrypt(
            &kms,
            &rsa_key,
            &EncryptionAlgorithmSpec::RsaesOaepSha256,
            &under_rsa
        )
        .await,
        b"to RSA"
    );

    let public = RsaPublicKey::from_public_key_der(&public_key(&kms, &rsa_key).await).unwrap();
    let sealed = public
        .encrypt(
            &mut OsRng,
            oaep(&EncryptionAlgorithmSpec::RsaesOaepSha1),
            b"from RSA",
        )
        .unwrap();
    let out = kms
        .re_encrypt()
        .ciphertext_blob(Blob::new(sealed))
        .source_key_id(&rsa_key)
        .source_encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha1)
        .destination_key_id(&symmetric)
        .send()
        .await
        .expect("ReEncrypt from an RSA key");
    assert_eq!(out.source_key_id(), Some(arn(EAST, &rsa_key).as_str()));
    assert_eq!(out.key_id(), Some(arn(EAST, &symmetric).as_str()));
    assert_eq!(
        out.source_encryption_algorithm(),
        Some(&EncryptionAlgorithmSpec::RsaesOaepSha1)
    );
    assert_eq!(
        out.destination_encryption_algorithm(),
        Some(&EncryptionAlgorithmSpec::SymmetricDefault)
    );
    let opened = common::decrypt_text(&kms, &out.ciphertext_blob.unwrap().into_inner()).await;
    assert_eq!(opened.plaintext, "from RSA");
    assert_eq!(opened.key_id, arn(EAST, &symmetric));
}
