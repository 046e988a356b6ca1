//! Importing an RSA private key (PKCS#8, wrapped with RSA_AES_KEY_WRAP_*):
//! the key made offline signs in Trent, GetPublicKey gives its public key,
//! and only the same key comes back after a deletion.

mod common;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{AlgorithmSpec, ExpirationModelType, KeySpec, SigningAlgorithmSpec};
use common::import::{code, create_external, parameters, try_import_with};
use common::{EAST, Server};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
use rsa::{Pss, RsaPrivateKey};

/// A private key made offline, imported with RSA_AES_KEY_WRAP_SHA_256 and
/// RSA_AES_KEY_WRAP_SHA_1: its signatures verify with the offline public
/// key, which GetPublicKey returns; RSA-OAEP alone cannot carry it; after a
/// deletion another private key, one of another size, or an EC private key
/// is IncorrectKeyMaterialException and the same one is taken back.
#[tokio::test(flavor = "multi_thread")]
async fn an_imported_rsa_key_signs_as_the_offline_key() {
    let server = Server::start();
    let kms = server.client(EAST);
    let mut rng = rsa::rand_core::OsRng;
    let private = RsaPrivateKey::new(&mut rng, 2048).expect("RSA key");
    let pkcs8 = private.to_pkcs8_der().unwrap().as_bytes().to_vec();
    let spki = private
        .to_public_key()
        .to_public_key_der()
        .unwrap()
        .to_vec();
    let key = create_external(&kms, KeySpec::Rsa2048).await;
    let dnx = || Some(ExpirationModelType::KeyMaterialDoesNotExpire);

    let oaep = parameters(&kms, &key, AlgorithmSpec::RsaesOaepSha256).await;
    let refused = try_import_with(&kms, &key, &oaep, &pkcs8[..150], dnx(), None).await;
    assert_eq!(code(refused), "UnsupportedOperationException");

    let wrap = parameters(&kms, &key, AlgorithmSpec::RsaAesKeyWrapSha256).await;
    try_import_with(&kms, &key, &wrap, &pkcs8, dnx(), None)
        .await
        .expect("import");
    let public = kms.get_public_key().key_id(&key).send().await.unwrap();
    assert_eq!(public.public_key.unwrap().into_inner(), spki);
    let signature = kms
        .sign()
        .key_id(&key)
        .message(Blob::new(b"imported".to_vec()))
        .signing_algorithm(SigningAlgorithmSpec::RsassaPssSha256)
        .send()
        .await
        .unwrap()
        .signature
        .unwrap()
        .into_inner();
    let digest = <sha2::Sha256 as sha2::Digest>::digest(b"imported");
    private
        .to_public_key()
        .verify(Pss::new::<sha2::Sha256>(), &digest, &signature)
        .expect("the signature verifies with the offline public key");

    kms.delete_imported_key_material()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    let other = RsaPrivateKey::new(&mut rng, 2048).unwrap();
    let larger = RsaPrivateKey::new(&mut rng, 3072).unwrap();
    for wrong in [other, larger] {
        let p = parameters(&kms, &key, AlgorithmSpec::RsaAesKeyWrapSha1).await;
        let der = wrong.to_pkcs8_der().unwrap().as_bytes().to_vec();
        let refused = try_import_with(&kms, &key, &p, &der, dnx(), None).await;
        assert_eq!(code(refused), "IncorrectKeyMaterialException");
    }
    let p = parameters(&kms, &key, AlgorithmSpec::RsaAesKeyWrapSha256).await;
    let ec = p256::SecretKey::random(&mut rng).to_pkcs8_der().unwrap();
    let refused = try_import_with(&kms, &key, &p, ec.as_bytes(), dnx(), None).await;
    assert_eq!(code(refused), "IncorrectKeyMaterialException", "an EC key");
    let again = parameters(&kms, &key, AlgorithmSpec::RsaAesKeyWrapSha1).await;
    try_import_with(&kms, &key, &again, &pkcs8, dnx(), None)
        .await
        .expect("the same key again");
    let public = kms.get_public_key().key_id(&key).send().await.unwrap();
    assert_eq!(public.public_key.unwrap().into_inner(), spki);
}
