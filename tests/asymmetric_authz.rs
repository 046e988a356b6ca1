//! Who may use asymmetric keys (issue #13), tested as an attacker would:
//! alice of account 111122223333 owns the keys; mallory is a user of the
//! same account and carol one of account 444455556666. Sign, Verify,
//! GetPublicKey, DeriveSharedSecret, RSA Decrypt and GenerateDataKeyPair
//! are the actions `kms:Sign`, `kms:Verify`, ... on the key, decided by its
//! key policy and grants (the API reference's "Required permissions").
//! Another account names a key by its ARN; by its bare id it does not see
//! it (NotFoundException).

mod common;

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    DataKeyPairSpec, EncryptionAlgorithmSpec, GrantOperation, KeyAgreementAlgorithmSpec, KeySpec,
    KeyUsageType, MessageType, SigningAlgorithmSpec,
};
use common::asymmetric::{code, try_sign, verify};
use common::{Server, error_code};
use p256::pkcs8::EncodePublicKey;
use rsa::rand_core::OsRng;

const A: &str = "111122223333";
const B: &str = "444455556666";
const DENIED: &str = "AccessDeniedException";

const CONFIG: &str = r#"
[[credentials]]
access_key_id = "AKIAALICE0000000000A"
secret_access_key = "alice-secret"
principal = "arn:aws:iam::111122223333:user/alice"

[[credentials]]
access_key_id = "AKIAMALLORY00000000A"
secret_access_key = "mallory-secret"
principal = "arn:aws:iam::111122223333:user/mallory"

[[credentials]]
access_key_id = "AKIACAROL000000000BC"
secret_access_key = "carol-secret"
principal = "arn:aws:iam::444455556666:user/carol"
"#;

struct People {
    alice: Client,
    mallory: Client,
    carol: Client,
}

fn people(server: &Server) -> People {
    People {
        alice: server.client_as("us-east-1", "AKIAALICE0000000000A", "alice-secret"),
        mallory: server.client_as("us-east-1", "AKIAMALLORY00000000A", "mallory-secret"),
        carol: server.client_as("us-east-1", "AKIACAROL000000000BC", "carol-secret"),
    }
}

/// A key policy: alice may do everything; `carol_actions` (if any) are
/// allowed to carol of the other account.
fn policy(carol_actions: &[&str]) -> String {
    let mut statements = vec![format!(
        r#"{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{A}:user/alice"}},"Action":"kms:*","Resource":"*"}}"#
    )];
    if !carol_actions.is_empty() {
        let actions: Vec<String> = carol_actions.iter().map(|a| format!("\"{a}\"")).collect();
        statements.push(format!(
            r#"{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{B}:user/carol"}},"Action":[{}],"Resource":"*"}}"#,
            actions.join(",")
        ));
    }
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        statements.join(",")
    )
}

/// Creates a key of `spec` and `usage` with `policy`; its id and ARN.
async fn key(alice: &Client, spec: KeySpec, usage: KeyUsageType, policy: &str) -> (String, String) {
    let meta = alice
        .create_key()
        .key_spec(spec)
        .key_usage(usage)
        .policy(policy)
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .unwrap();
    (meta.key_id, meta.arn.unwrap())
}

const ECDSA: SigningAlgorithmSpec = SigningAlgorithmSpec::EcdsaSha256;

/// Every use of a key by someone the policy does not name: Sign, Verify and
/// GetPublicKey of a signing key, DeriveSharedSecret of a key-agreement
/// key, Decrypt of an RSA key, GenerateDataKeyPair(WithoutPlaintext) under
/// a symmetric key. Mallory (same account, by id) and carol (other account,
/// by ARN) are refused with AccessDeniedException; carol by bare id gets
/// NotFoundException; alice succeeds.
#[tokio::test(flavor = "multi_thread")]
async fn nobody_the_policy_does_not_name_uses_an_asymmetric_key() {
    let server = Server::start_with_config(CONFIG);
    let p = people(&server);
    let only_alice = policy(&[]);
    let (signing, signing_arn) = key(
        &p.alice,
        KeySpec::EccNistP256,
        KeyUsageType::SignVerify,
        &only_alice,
    )
    .await;
    let signature = try_sign(&p.alice, &signing, &ECDSA, MessageType::Raw, b"m")
        .await
        .expect("alice signs");

    for (who, reference) in [(&p.mallory, &signing), (&p.carol, &signing_arn)] {
        let signed = try_sign(who, reference, &ECDSA, MessageType::Raw, b"m").await;
        assert_eq!(code(signed), DENIED);
        let verified = verify(who, reference, &ECDSA, MessageType::Raw, b"m", &signature).await;
        assert_eq!(code(verified), DENIED);
        let public = who.get_public_key().key_id(reference).send().await;
        assert_eq!(error_code(public), DENIED);
    }
    let by_id = try_sign(&p.carol, &signing, &ECDSA, MessageType::Raw, b"m").await;
    assert_eq!(code(by_id), "NotFoundException");

    let (agreeing, agreeing_arn) = key(
        &p.alice,
        KeySpec::EccNistP256,
        KeyUsageType::KeyAgreement,
        &only_alice,
    )
    .await;
    let peer = p256::SecretKey::random(&mut OsRng)
        .public_key()
        .to_public_key_der()
        .unwrap()
        .as_bytes()
        .to_vec();
    let derive = |who: &Client, reference: &str| {
        who.derive_shared_secret()
            .key_id(reference)
            .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
            .public_key(Blob::new(peer.clone()))
            .send()
    };
    derive(&p.alice, &agreeing).await.expect("alice derives");
    assert_eq!(error_code(derive(&p.mallory, &agreeing).await), DENIED);
    assert_eq!(error_code(derive(&p.carol, &agreeing_arn).await), DENIED);

    let (decrypting, decrypting_arn) = key(
        &p.alice,
        KeySpec::Rsa2048,
        KeyUsageType::EncryptDecrypt,
        &only_alice,
    )
    .await;
    let sealed = p
        .alice
        .encrypt()
        .key_id(&decrypting)
        .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
        .plaintext(Blob::new(b"secret".to_vec()))
        .send()
        .await
        .expect("alice encrypts")
        .ciphertext_blob
        .unwrap();
    for (who, reference) in [(&p.mallory, &decrypting), (&p.carol, &decrypting_arn)] {
        let opened = who
            .decrypt()
            .key_id(reference)
            .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
            .ciphertext_blob(sealed.clone())
            .send()
            .await;
        assert_eq!(error_code(opened), DENIED);
    }

    let symmetric = p
        .alice
        .create_key()
        .policy(&only_alice)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let symmetric_arn = symmetric.arn.unwrap();
    for (who, reference) in [(&p.mallory, &symmetric.key_id), (&p.carol, &symmetric_arn)] {
        let pair = who
            .generate_data_key_pair()
            .key_id(reference)
            .key_pair_spec(DataKeyPairSpec::EccNistP256)
            .send()
            .await;
        assert_eq!(error_code(pair), DENIED);
        let pair = who
            .generate_data_key_pair_without_plaintext()
            .key_id(reference)
            .key_pair_spec(DataKeyPairSpec::EccNistP256)
            .send()
            .await;
        assert_eq!(error_code(pair), DENIED);
    }
}

/// Exactly what the policy or a grant gives: carol, allowed kms:Verify and
/// kms:GetPublicKey by the policy, verifies alice's signature and reads the
/// public key, but may not sign; a grant for Sign lets her sign, and still
/// nothing else; once the grant is revoked she may not sign again.
#[tokio::test(flavor = "multi_thread")]
async fn another_account_gets_exactly_what_the_policy_and_grants_give() {
    let server = Server::start_with_config(CONFIG);
    let p = people(&server);
    let (signing, arn) = key(
        &p.alice,
        KeySpec::EccNistP256,
        KeyUsageType::SignVerify,
        &policy(&["kms:Verify", "kms:GetPublicKey"]),
    )
    .await;
    let signature = try_sign(&p.alice, &signing, &ECDSA, MessageType::Raw, b"m")
        .await
        .unwrap();
    assert_eq!(
        verify(&p.carol, &arn, &ECDSA, MessageType::Raw, b"m", &signature).await,
        Ok(true)
    );
    p.carol
        .get_public_key()
        .key_id(&arn)
        .send()
        .await
        .expect("carol reads the public key");
    let signed = try_sign(&p.carol, &arn, &ECDSA, MessageType::Raw, b"m").await;
    assert_eq!(code(signed), DENIED);

    let grant = p
        .alice
        .create_grant()
        .key_id(&signing)
        .grantee_principal(format!("arn:aws:iam::{B}:user/carol"))
        .operations(GrantOperation::Sign)
        .send()
        .await
        .expect("a grant for Sign");
    try_sign(&p.carol, &arn, &ECDSA, MessageType::Raw, b"m")
        .await
        .expect("carol signs under the grant");
    let described = p.carol.describe_key().key_id(&arn).send().await;
    assert_eq!(error_code(described), DENIED);
    // Mallory is in alice's account, but neither the policy nor the grant
    // names her.
    let by_mallory = try_sign(&p.mallory, &signing, &ECDSA, MessageType::Raw, b"m").await;
    assert_eq!(code(by_mallory), DENIED);

    p.alice
        .revoke_grant()
        .key_id(&signing)
        .grant_id(grant.grant_id.unwrap())
        .send()
        .await
        .unwrap();
    let revoked = try_sign(&p.carol, &arn, &ECDSA, MessageType::Raw, b"m").await;
    assert_eq!(code(revoked), DENIED);
}
