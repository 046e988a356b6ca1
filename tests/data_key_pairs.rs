//! GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext through
//! `aws-sdk-kms`: for every KeyPairSpec the private key is PKCS#8 DER whose
//! public key is the SPKI returned beside it (checked with the RustCrypto
//! crates), its encrypted copy decrypts to the same PKCS#8 under the same
//! encryption context only, and only symmetric encryption keys protect
//! data key pairs.
//!
//! AWS answers a wrong encryption context with InvalidCiphertextException
//! (LocalStack's recording of AWS KMS, test_kms.snapshot.json,
//! test_encryption_context_generate_data_key_pair).

mod common;

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeyPairSpec, KeySpec, KeyUsageType};
use common::asymmetric::{arn, create, spec_of_spki};
use common::{EAST, Server, error_code, new_key};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey};

/// Every KeyPairSpec AWS offers outside China's regions.
const SPECS: [DataKeyPairSpec; 7] = [
    DataKeyPairSpec::Rsa2048,
    DataKeyPairSpec::Rsa3072,
    DataKeyPairSpec::Rsa4096,
    DataKeyPairSpec::EccNistP256,
    DataKeyPairSpec::EccNistP384,
    DataKeyPairSpec::EccNistP521,
    DataKeyPairSpec::EccSecgP256K1,
];

/// Asserts that the PKCS#8 DER private key `pkcs8` is of `spec` and that
/// its public key is the DER SPKI `spki`.
fn assert_pair(spec: &DataKeyPairSpec, pkcs8: &[u8], spki: &[u8]) {
    assert_eq!(spec_of_spki(spki), spec.as_str(), "the public key's spec");
    macro_rules! ecc {
        ($curve:ident) => {{
            let private = $curve::SecretKey::from_pkcs8_der(pkcs8)
                .unwrap_or_else(|e| panic!("{spec:?}: PKCS#8: {e}"));
            let public = $curve::PublicKey::from_public_key_der(spki).unwrap();
            assert_eq!(private.public_key(), public, "{spec:?}: the pair matches");
        }};
    }
    match spec {
        DataKeyPairSpec::Rsa2048 | DataKeyPairSpec::Rsa3072 | DataKeyPairSpec::Rsa4096 => {
            let private = rsa::RsaPrivateKey::from_pkcs8_der(pkcs8)
                .unwrap_or_else(|e| panic!("{spec:?}: PKCS#8: {e}"));
            private
                .validate()
                .unwrap_or_else(|e| panic!("{spec:?}: {e}"));
            let public = rsa::RsaPublicKey::from_public_key_der(spki).unwrap();
            assert_eq!(
                private.to_public_key(),
                public,
                "{spec:?}: the pair matches"
            );
        }
        DataKeyPairSpec::EccNistP256 => ecc!(p256),
        DataKeyPairSpec::EccNistP384 => ecc!(p384),
        DataKeyPairSpec::EccNistP521 => ecc!(p521),
        DataKeyPairSpec::EccSecgP256K1 => ecc!(k256),
        other => panic!("{other:?}"),
    }
}

/// Decrypts `blob` with `context`: the plaintext and the KeyId Decrypt
/// names, or the error code.
async fn decrypt(
    kms: &Client,
    blob: &[u8],
    context: (&str, &str),
) -> Result<(Vec<u8>, String), String> {
    kms.decrypt()
        .ciphertext_blob(Blob::new(blob.to_vec()))
        .encryption_context(context.0, context.1)
        .send()
        .await
        .map(|out| (out.plaintext.unwrap().into_inner(), out.key_id.unwrap()))
        .map_err(|e| error_code::<_, ()>(Err(e)))
}

/// For every KeyPairSpec, GenerateDataKeyPair under a symmetric key with an
/// encryption context returns a PKCS#8 private key matching its SPKI
/// public key, whose ciphertext decrypts to the same PKCS#8 with that
/// context and is InvalidCiphertextException with another.
#[tokio::test(flavor = "multi_thread")]
async fn every_key_pair_spec_makes_a_matching_pair_and_an_encrypted_copy() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = new_key(&kms).await;
    for spec in SPECS {
        let out = kms
            .generate_data_key_pair()
            .key_id(&key)
            .key_pair_spec(spec.clone())
            .encryption_context("purpose", "pairs")
            .send()
            .await
            .unwrap_or_else(|e| panic!("GenerateDataKeyPair {spec:?}: {e:?}"));
        assert_eq!(out.key_id(), Some(arn(EAST, &key).as_str()), "{spec:?}");
        assert_eq!(out.key_pair_spec(), Some(&spec));
        let pkcs8 = out.private_key_plaintext.unwrap().into_inner();
        let spki = out.public_key.unwrap().into_inner();
        assert_pair(&spec, &pkcs8, &spki);
        let blob = out.private_key_ciphertext_blob.unwrap().into_inner();
        assert_eq!(
            decrypt(&kms, &blob, ("purpose", "pairs")).await,
            Ok((pkcs8, arn(EAST, &key))),
            "{spec:?}: the encrypted copy"
        );
        assert_eq!(
            decrypt(&kms, &blob, ("purpose", "other")).await,
            Err("InvalidCiphertextException".to_string()),
            "{spec:?}: another context"
        );
    }
}

/// Two data key pairs of one spec are different pairs.
#[tokio::test(flavor = "multi_thread")]
async fn every_data_key_pair_is_new() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = new_key(&kms).await;
    let mut public_keys = Vec::new();
    for _ in 0..2 {
        let out = kms
            .generate_data_key_pair()
            .key_id(&key)
            .key_pair_spec(DataKeyPairSpec::EccNistP256)
            .send()
            .await
            .unwrap();
        public_keys.push(out.public_key.unwrap().into_inner());
    }
    assert_ne!(public_keys[0], public_keys[1]);
}

/// GenerateDataKeyPairWithoutPlaintext answers no private key in the
/// clear (its JSON has no PrivateKeyPlaintext), and its ciphertext
/// decrypts to a PKCS#8 key matching its public key.
#[tokio::test(flavor = "multi_thread")]
async fn without_plaintext_the_private_key_comes_only_encrypted() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = new_key(&kms).await;
    for spec in [
        DataKeyPairSpec::Rsa2048,
        DataKeyPairSpec::EccNistP384,
        DataKeyPairSpec::EccSecgP256K1,
    ] {
        let out = kms
            .generate_data_key_pair_without_plaintext()
            .key_id(&key)
            .key_pair_spec(spec.clone())
            .encryption_context("purpose", "pairs")
            .send()
            .await
            .unwrap_or_else(|e| panic!("GenerateDataKeyPairWithoutPlaintext {spec:?}: {e:?}"));
        assert_eq!(out.key_id(), Some(arn(EAST, &key).as_str()));
        assert_eq!(out.key_pair_spec(), Some(&spec));
        let spki = out.public_key.unwrap().into_inner();
        let blob = out.private_key_ciphertext_blob.unwrap().into_inner();
        let (pkcs8, _) = decrypt(&kms, &blob, ("purpose", "pairs"))
            .await
            .unwrap_or_else(|code| panic!("{spec:?}: Decrypt: {code}"));
        assert_pair(&spec, &pkcs8, &spki);
    }
    let (status, body) = server.call_raw(
        "GenerateDataKeyPairWithoutPlaintext",
        &serde_json::json!({"KeyId": key, "KeyPairSpec": "ECC_NIST_P256"}).to_string(),
    );
    assert_eq!(status, 200, "{body}");
    let fields = body.as_object().expect("a JSON object");
    assert!(fields.contains_key("PrivateKeyCiphertextBlob"), "{body}");
    assert!(fields.contains_key("PublicKey"), "{body}");
    assert!(!fields.contains_key("PrivateKeyPlaintext"), "{body}");
}

/// Only a symmetric encryption KMS key protects data key pairs: under an
/// asymmetric key (signing or RSA encryption) both operations are
/// InvalidKeyUsageException.
#[tokio::test(flavor = "multi_thread")]
async fn data_key_pairs_need_a_symmetric_encryption_key() {
    let server = Server::start();
    let kms = server.client(EAST);
    let signer = create(&kms, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let rsa = create(&kms, KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt).await;
    for key in [&signer, &rsa] {
        let with = kms
            .generate_data_key_pair()
            .key_id(key)
            .key_pair_spec(DataKeyPairSpec::EccNistP256)
            .send()
            .await;
        assert_eq!(error_code(with), "InvalidKeyUsageException", "{key}");
        let without = kms
            .generate_data_key_pair_without_plaintext()
            .key_id(key)
            .key_pair_spec(DataKeyPairSpec::EccNistP256)
            .send()
            .await;
        assert_eq!(error_code(without), "InvalidKeyUsageException", "{key}");
    }
}

/// RSA key-pair generations beyond 16 in flight on a node are refused at
/// once with ThrottlingException (the SDK would retry them), so a burst of
/// them cannot occupy every blocking thread: the others succeed, and the
/// service answers other requests meanwhile.
#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_rsa_pairs_is_throttled_past_sixteen_in_flight() {
    use aws_sdk_kms::config::retry::RetryConfig;
    let server = Server::start();
    let kms = server.client(EAST);
    let key = common::new_key(&kms).await;
    let once = aws_sdk_kms::Client::from_conf(
        kms.config()
            .to_builder()
            .retry_config(RetryConfig::disabled())
            .build(),
    );
    let calls: Vec<_> = (0..60)
        .map(|_| {
            let (once, key) = (once.clone(), key.clone());
            tokio::spawn(async move {
                once.generate_data_key_pair_without_plaintext()
                    .key_id(key)
                    .key_pair_spec(aws_sdk_kms::types::DataKeyPairSpec::Rsa2048)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        e.as_service_error()
                            .and_then(|s| s.meta().code())
                            .unwrap_or("no code")
                            .to_string()
                    })
            })
        })
        .collect();
    let listed = tokio::time::timeout(std::time::Duration::from_secs(10), kms.list_keys().send());
    assert!(
        listed
            .await
            .expect("ListKeys answered during the burst")
            .is_ok()
    );
    let mut throttled = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(()) => {}
            Err(code) if code == "ThrottlingException" => throttled += 1,
            Err(other) => panic!("{other}"),
        }
    }
    assert!(throttled > 0, "60 concurrent generations, none throttled");
    assert!(throttled < 60 - 16 + 1, "{throttled} throttled");
    // Once the burst is over, generations are admitted again.
    once.generate_data_key_pair_without_plaintext()
        .key_id(&key)
        .key_pair_spec(aws_sdk_kms::types::DataKeyPairSpec::Rsa2048)
        .send()
        .await
        .unwrap();
}
