//! Sign and Verify with RSA and ECC keys through `aws-sdk-kms`: every
//! signing algorithm of every SIGN_VERIFY spec, on messages and on digests,
//! checked offline with the RustCrypto crates; AWS's validation, its
//! KMSInvalidSignatureException, key usage refusals, and a grant for Sign
//! alone.
//!
//! AWS's answers asserted here were recorded against AWS KMS by
//! LocalStack (`tests/aws/services/kms/test_kms.snapshot.json`:
//! test_sign_verify's `bad-digest` and `bad-signature`,
//! test_error_messaging_for_invalid_keys).

mod common;

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    EncryptionAlgorithmSpec, GrantOperation, KeySpec, KeyUsageType, MessageType,
    SigningAlgorithmSpec,
};
use common::asymmetric::{
    arn, code, create, digest, public_key, sign, signing_algorithms, try_sign, verify,
    verify_offline,
};
use common::{ALICE_AND_BOB, EAST, Server, error_code, new_key, refusal};

/// The message most tests sign.
const MESSAGE: &[u8] = b"a message to sign";

/// Signs `MESSAGE` with every algorithm of `spec`, as a message and as its
/// digest; each signature verifies offline and through Verify, with the
/// message type it was made for.
async fn every_algorithm_verifies(kms: &Client, spec: KeySpec) {
    let key = create(kms, spec.clone(), KeyUsageType::SignVerify).await;
    let spki = public_key(kms, &key).await;
    for algorithm in signing_algorithms(&spec) {
        let hashed = digest(&algorithm, MESSAGE);
        for (message_type, message) in [
            (MessageType::Raw, MESSAGE.to_vec()),
            (MessageType::Digest, hashed),
        ] {
            let context = format!("{spec:?} {algorithm:?} {message_type:?}");
            let signature = sign(kms, &key, &algorithm, message_type.clone(), &message).await;
            if spec.as_str().starts_with("RSA_") {
                let bytes = spec.as_str()[4..].parse::<usize>().unwrap() / 8;
                assert_eq!(signature.len(), bytes, "{context}: modulus length");
            }
            verify_offline(&spki, &algorithm, &message_type, &message, &signature)
                .unwrap_or_else(|e| panic!("{context}: offline verification: {e}"));
            assert_eq!(
                verify(kms, &key, &algorithm, message_type, &message, &signature).await,
                Ok(true),
                "{context}: Verify"
            );
        }
    }
}

/// RSA_2048, RSA_3072 and RSA_4096 sign with PKCS#1 v1.5 and PSS (salt as
/// long as the digest) over SHA-256, -384 and -512, messages and digests,
/// and the signatures verify offline.
#[tokio::test(flavor = "multi_thread")]
async fn rsa_signatures_verify_offline_for_every_algorithm() {
    let server = Server::start();
    let kms = server.client(EAST);
    for spec in [KeySpec::Rsa2048, KeySpec::Rsa3072, KeySpec::Rsa4096] {
        every_algorithm_verifies(&kms, spec).await;
    }
}

/// P-256, P-384, P-521 and secp256k1 keys sign with their ECDSA algorithm,
/// messages and digests, and the DER signatures verify offline.
#[tokio::test(flavor = "multi_thread")]
async fn ecdsa_signatures_verify_offline_for_every_curve() {
    let server = Server::start();
    let kms = server.client(EAST);
    for spec in [
        KeySpec::EccNistP256,
        KeySpec::EccNistP384,
        KeySpec::EccNistP521,
        KeySpec::EccSecgP256K1,
    ] {
        every_algorithm_verifies(&kms, spec).await;
    }
}

/// A signature of a message verifies as the signature of its digest, and
/// the other way round.
#[tokio::test(flavor = "multi_thread")]
async fn raw_and_digest_signatures_are_interchangeable() {
    let server = Server::start();
    let kms = server.client(EAST);
    for (spec, algorithm) in [
        (KeySpec::EccNistP384, SigningAlgorithmSpec::EcdsaSha384),
        (KeySpec::Rsa2048, SigningAlgorithmSpec::RsassaPssSha512),
        (KeySpec::Rsa2048, SigningAlgorithmSpec::RsassaPkcs1V15Sha256),
    ] {
        let key = create(&kms, spec.clone(), KeyUsageType::SignVerify).await;
        let hashed = digest(&algorithm, MESSAGE);
        let of_raw = sign(&kms, &key, &algorithm, MessageType::Raw, MESSAGE).await;
        let of_digest = sign(&kms, &key, &algorithm, MessageType::Digest, &hashed).await;
        assert_eq!(
            verify(
                &kms,
                &key,
                &algorithm,
                MessageType::Digest,
                &hashed,
                &of_raw
            )
            .await,
            Ok(true),
            "{spec:?} {algorithm:?}: signed RAW, verified as DIGEST"
        );
        assert_eq!(
            verify(
                &kms,
                &key,
                &algorithm,
                MessageType::Raw,
                MESSAGE,
                &of_digest
            )
            .await,
            Ok(true),
            "{spec:?} {algorithm:?}: signed DIGEST, verified as RAW"
        );
    }
}

/// A DIGEST of the wrong length and a message over 4096 bytes are
/// ValidationException for Sign and Verify; 4096 bytes are fine.
#[tokio::test(flavor = "multi_thread")]
async fn sign_and_verify_validate_messages_as_aws_does() {
    let server = Server::start();
    let kms = server.client(EAST);
    let ecc = create(&kms, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let rsa = create(&kms, KeySpec::Rsa2048, KeyUsageType::SignVerify).await;
    for (key, algorithm) in [
        (&ecc, SigningAlgorithmSpec::EcdsaSha256),
        (&rsa, SigningAlgorithmSpec::RsassaPssSha256),
        (&rsa, SigningAlgorithmSpec::RsassaPkcs1V15Sha512),
    ] {
        let good = sign(&kms, key, &algorithm, MessageType::Raw, MESSAGE).await;
        let right = digest(&algorithm, MESSAGE).len();
        for wrong in [right - 1, right + 1, 20] {
            let expected = (
                "ValidationException".to_string(),
                Some(format!(
                    "Digest is invalid length for algorithm {}.",
                    algorithm.as_str()
                )),
            );
            let signed =
                try_sign(&kms, key, &algorithm, MessageType::Digest, &vec![7; wrong]).await;
            assert_eq!(
                signed,
                Err(expected.clone()),
                "Sign, {algorithm:?}, {wrong} bytes"
            );
            assert_eq!(
                verify(
                    &kms,
                    key,
                    &algorithm,
                    MessageType::Digest,
                    &vec![7; wrong],
                    &good
                )
                .await,
                Err(expected),
                "Verify, {algorithm:?}, {wrong} bytes"
            );
        }
        let longest = vec![b'm'; 4096];
        let signature = sign(&kms, key, &algorithm, MessageType::Raw, &longest).await;
        assert_eq!(
            verify(
                &kms,
                key,
                &algorithm,
                MessageType::Raw,
                &longest,
                &signature
            )
            .await,
            Ok(true)
        );
        let too_long = vec![b'm'; 4097];
        let signed = try_sign(&kms, key, &algorithm, MessageType::Raw, &too_long).await;
        assert_eq!(code(signed), "ValidationException", "Sign, 4097 bytes");
        let verified = verify(&kms, key, &algorithm, MessageType::Raw, &too_long, &good).await;
        assert_eq!(code(verified), "ValidationException", "Verify, 4097 bytes");
    }
}

/// A signing algorithm the key's spec does not offer is
/// InvalidKeyUsageException, for Sign and for Verify.
#[tokio::test(flavor = "multi_thread")]
async fn an_algorithm_the_key_does_not_offer_is_invalid_key_usage() {
    let server = Server::start();
    let kms = server.client(EAST);
    let p256 = create(&kms, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let secp256k1 = create(&kms, KeySpec::EccSecgP256K1, KeyUsageType::SignVerify).await;
    let rsa = create(&kms, KeySpec::Rsa2048, KeyUsageType::SignVerify).await;
    for (key, algorithm) in [
        (&p256, SigningAlgorithmSpec::EcdsaSha384),
        (&p256, SigningAlgorithmSpec::EcdsaSha512),
        (&p256, SigningAlgorithmSpec::RsassaPssSha256),
        (&secp256k1, SigningAlgorithmSpec::EcdsaSha512),
        (&rsa, SigningAlgorithmSpec::EcdsaSha256),
    ] {
        let message = digest(&algorithm, MESSAGE);
        let signed = try_sign(&kms, key, &algorithm, MessageType::Digest, &message).await;
        assert_eq!(
            code(signed),
            "InvalidKeyUsageException",
            "Sign {key} {algorithm:?}"
        );
        let verified = verify(
            &kms,
            key,
            &algorithm,
            MessageType::Digest,
            &message,
            &[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01],
        )
        .await;
        assert_eq!(
            code(verified),
            "InvalidKeyUsageException",
            "Verify {key} {algorithm:?}"
        );
    }
}

/// Keys of other usages neither sign nor verify, and SIGN_VERIFY keys
/// neither encrypt nor make data keys: InvalidKeyUsageException naming the
/// key, its usage and the operation.
#[tokio::test(flavor = "multi_thread")]
async fn keys_sign_and_encrypt_only_as_their_usage_allows() {
    let server = Server::start();
    let kms = server.client(EAST);
    let symmetric = new_key(&kms).await;
    let decrypter = create(&kms, KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt).await;
    let agreement = create(&kms, KeySpec::EccNistP256, KeyUsageType::KeyAgreement).await;
    let signer = create(&kms, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let rsa_signer = create(&kms, KeySpec::Rsa2048, KeyUsageType::SignVerify).await;
    let refused = |key: &str, usage: &str, operation: &str| {
        (
            "InvalidKeyUsageException".to_string(),
            Some(format!(
                "{} key usage is {usage} which is not valid for {operation}.",
                arn(EAST, key)
            )),
        )
    };
    let algorithm = SigningAlgorithmSpec::EcdsaSha256;
    let any_signature = sign(&kms, &signer, &algorithm, MessageType::Raw, MESSAGE).await;
    for (key, usage) in [
        (&symmetric, "ENCRYPT_DECRYPT"),
        (&decrypter, "ENCRYPT_DECRYPT"),
        (&agreement, "KEY_AGREEMENT"),
    ] {
        let signed = try_sign(&kms, key, &algorithm, MessageType::Raw, MESSAGE).await;
        assert_eq!(signed, Err(refused(key, usage, "Sign")));
        assert_eq!(
            verify(
                &kms,
                key,
                &algorithm,
                MessageType::Raw,
                MESSAGE,
                &any_signature
            )
            .await,
            Err(refused(key, usage, "Verify"))
        );
    }
    for key in [&signer, &rsa_signer] {
        let encrypted = kms
            .encrypt()
            .key_id(key)
            .plaintext(Blob::new(b"secret".to_vec()))
            .send()
            .await;
        assert_eq!(refusal(encrypted), refused(key, "SIGN_VERIFY", "Encrypt"));
        let data_key = kms
            .generate_data_key()
            .key_id(key)
            .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
            .send()
            .await;
        assert_eq!(
            refusal(data_key),
            refused(key, "SIGN_VERIFY", "GenerateDataKey")
        );
    }
    // An RSA signing key refuses Encrypt even with an RSA algorithm.
    let encrypted = kms
        .encrypt()
        .key_id(&rsa_signer)
        .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
        .plaintext(Blob::new(b"secret".to_vec()))
        .send()
        .await;
    assert_eq!(error_code(encrypted), "InvalidKeyUsageException");
}

/// Verify answers true for a good signature and KMSInvalidSignatureException
/// (without a message, as AWS) for a signature of another message, one
/// with a bit flipped, and another key's: never SignatureValid false.
#[tokio::test(flavor = "multi_thread")]
async fn verify_refuses_a_bad_signature_with_kms_invalid_signature() {
    let server = Server::start();
    let kms = server.client(EAST);
    for (spec, algorithm) in [
        (KeySpec::EccNistP256, SigningAlgorithmSpec::EcdsaSha256),
        (KeySpec::Rsa2048, SigningAlgorithmSpec::RsassaPssSha256),
        (KeySpec::Rsa2048, SigningAlgorithmSpec::RsassaPkcs1V15Sha384),
    ] {
        let key = create(&kms, spec.clone(), KeyUsageType::SignVerify).await;
        let other_key = create(&kms, spec.clone(), KeyUsageType::SignVerify).await;
        let good = sign(&kms, &key, &algorithm, MessageType::Raw, MESSAGE).await;
        let of_other_message = sign(&kms, &key, &algorithm, MessageType::Raw, b"other").await;
        let of_other_key = sign(&kms, &other_key, &algorithm, MessageType::Raw, MESSAGE).await;
        let mut flipped = good.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(
            verify(&kms, &key, &algorithm, MessageType::Raw, MESSAGE, &good).await,
            Ok(true),
            "{spec:?} {algorithm:?}"
        );
        for (what, signature) in [
            ("another message's signature", &of_other_message),
            ("a flipped bit", &flipped),
            ("another key's signature", &of_other_key),
        ] {
            assert_eq!(
                verify(&kms, &key, &algorithm, MessageType::Raw, MESSAGE, signature).await,
                Err(("KMSInvalidSignatureException".to_string(), None)),
                "{spec:?} {algorithm:?}: {what}"
            );
        }
        // The signature of the other message is good for that message.
        assert_eq!(
            verify(
                &kms,
                &key,
                &algorithm,
                MessageType::Raw,
                b"other",
                &of_other_message
            )
            .await,
            Ok(true)
        );
    }
}

/// A disabled key neither signs nor verifies: DisabledException.
#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_key_neither_signs_nor_verifies() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = create(&kms, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let algorithm = SigningAlgorithmSpec::EcdsaSha256;
    let signature = sign(&kms, &key, &algorithm, MessageType::Raw, MESSAGE).await;
    kms.disable_key().key_id(&key).send().await.unwrap();
    let disabled = (
        "DisabledException".to_string(),
        Some(format!("{} is disabled.", arn(EAST, &key))),
    );
    let signed = try_sign(&kms, &key, &algorithm, MessageType::Raw, MESSAGE).await;
    assert_eq!(signed, Err(disabled.clone()));
    assert_eq!(
        verify(
            &kms,
            &key,
            &algorithm,
            MessageType::Raw,
            MESSAGE,
            &signature
        )
        .await,
        Err(disabled)
    );
}

/// A grant for Sign alone lets its grantee sign (the signature verifies)
/// but neither verify nor fetch the public key: AccessDeniedException.
#[tokio::test(flavor = "multi_thread")]
async fn a_grant_for_sign_lets_its_grantee_sign_and_not_verify() {
    let server = Server::start_with_config(ALICE_AND_BOB);
    let alice = server.client_as(EAST, "AKIAALICE0000000000A", "alice-secret");
    let bob = server.client_as(EAST, "AKIABOB00000000000BB", "bob-secret");
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:*","Resource":"*"}]}"#;
    let key = alice
        .create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .policy(policy)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let algorithm = SigningAlgorithmSpec::EcdsaSha256;
    assert_eq!(
        code(try_sign(&bob, &key, &algorithm, MessageType::Raw, b"granted").await),
        "AccessDeniedException"
    );
    alice
        .create_grant()
        .key_id(&key)
        .grantee_principal("arn:aws:iam::111122223333:user/bob")
        .operations(GrantOperation::Sign)
        .send()
        .await
        .unwrap();
    let made = sign(&bob, &key, &algorithm, MessageType::Raw, b"granted").await;
    let spki = public_key(&alice, &key).await;
    verify_offline(&spki, &algorithm, &MessageType::Raw, b"granted", &made)
        .expect("the grantee's signature verifies offline");
    assert_eq!(
        verify(
            &alice,
            &key,
            &algorithm,
            MessageType::Raw,
            b"granted",
            &made
        )
        .await,
        Ok(true)
    );
    assert_eq!(
        code(verify(&bob, &key, &algorithm, MessageType::Raw, b"granted", &made).await),
        "AccessDeniedException"
    );
    assert_eq!(
        error_code(bob.get_public_key().key_id(&key).send().await),
        "AccessDeniedException"
    );
}
