//! Imported material in a multi-Region key (issue #14): a replica of an
//! EXTERNAL primary is created without material (PendingImport) and must be
//! given the primary's material through its own GetParametersForImport in
//! its own region; other material is IncorrectKeyMaterialException. Once
//! both hold it, ciphertexts cross between the regions both ways; each
//! region's copy of the material is deleted on its own.
//!
//! AWS (API reference as aws-sdk-kms 1.77 carries it): ImportKeyMaterial
//! takes "a multi-Region key of any supported type"; "For asymmetric, HMAC
//! and multi-Region keys, you cannot change the key material after the
//! initial import"; KeyMaterialId is derived "based on the KMS key ID and
//! the imported key material", and a replica shares its primary's key ID,
//! so both report the same KeyMaterialId.

mod common;

use aws_sdk_kms::types::{KeySpec, KeyState, MultiRegionKeyType, OriginType};
use common::asymmetric::arn;
use common::import::{
    code, create_external_metadata, describe, import_material, pending_import, random_bytes,
    try_decrypt, try_encrypt, try_import_material,
};
use common::{EAST, Server, WEST};

/// An EXTERNAL multi-Region primary with material replicates to a replica in
/// PendingImport; other material is refused there, the primary's material
/// enables it with the same KeyMaterialId, ciphertexts made in either
/// region decrypt in the other, and deleting the replica's material leaves
/// the primary working.
#[tokio::test(flavor = "multi_thread")]
async fn a_replica_of_an_imported_key_needs_the_same_material() {
    let server = Server::start();
    let east = server.client(EAST);
    let west = server.client(WEST);
    let primary = create_external_metadata(&east, KeySpec::SymmetricDefault, true).await;
    let key = primary.key_id.clone();
    assert!(key.starts_with("mrk-"), "{key}");
    assert_eq!(primary.key_state, Some(KeyState::PendingImport));
    let material = random_bytes(32);
    let id = import_material(&east, &key, &material).await;

    let replicated = east
        .replicate_key()
        .key_id(&key)
        .replica_region(WEST)
        .send()
        .await
        .expect("ReplicateKey of an EXTERNAL primary");
    let replica = replicated.replica_key_metadata.expect("ReplicaKeyMetadata");
    assert_eq!(replica.arn.as_deref(), Some(arn(WEST, &key).as_str()));
    assert_eq!(replica.origin, Some(OriginType::External));
    let meta = describe(&west, &key).await;
    assert_eq!(meta.origin, Some(OriginType::External));
    assert_eq!(meta.key_state, Some(KeyState::PendingImport));
    assert!(!meta.enabled);
    assert_eq!(
        meta.multi_region_configuration
            .and_then(|c| c.multi_region_key_type),
        Some(MultiRegionKeyType::Replica)
    );
    assert_eq!(
        try_encrypt(&west, &key, b"too early").await,
        Err(pending_import(&arn(WEST, &key)))
    );
    let from_east = try_encrypt(&east, &key, b"made in us-east-1")
        .await
        .unwrap();
    assert_eq!(
        code(try_decrypt(&west, &from_east).await),
        "KMSInvalidStateException"
    );

    assert_eq!(
        code(try_import_material(&west, &key, &random_bytes(32)).await),
        "IncorrectKeyMaterialException"
    );
    assert_eq!(
        describe(&west, &key).await.key_state,
        Some(KeyState::PendingImport)
    );

    assert_eq!(import_material(&west, &key, &material).await, id);
    let meta = describe(&west, &key).await;
    assert_eq!(meta.key_state, Some(KeyState::Enabled));
    assert_eq!(meta.current_key_material_id.as_ref(), Some(&id));
    assert_eq!(
        try_decrypt(&west, &from_east).await,
        Ok((b"made in us-east-1".to_vec(), id.clone()))
    );
    let from_west = try_encrypt(&west, &key, b"made in us-west-2")
        .await
        .unwrap();
    assert_eq!(
        try_decrypt(&east, &from_west).await,
        Ok((b"made in us-west-2".to_vec(), id.clone()))
    );

    west.delete_imported_key_material()
        .key_id(&key)
        .send()
        .await
        .expect("DeleteImportedKeyMaterial in us-west-2");
    assert_eq!(
        describe(&west, &key).await.key_state,
        Some(KeyState::PendingImport)
    );
    assert_eq!(
        describe(&east, &key).await.key_state,
        Some(KeyState::Enabled)
    );
    assert_eq!(
        try_decrypt(&east, &from_west).await,
        Ok((b"made in us-west-2".to_vec(), id))
    );
}
