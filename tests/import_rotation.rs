//! On-demand rotation of symmetric keys with imported material (issue #14),
//! as AWS documents it: ImportKeyMaterial with ImportType NEW_KEY_MATERIAL
//! adds material that waits in PENDING_ROTATION; RotateKeyOnDemand makes it
//! CURRENT and the old material NON_CURRENT (still decrypting); every
//! material has its own ImportState, expiry and description in
//! ListKeyRotations; DeleteImportedKeyMaterial takes a KeyMaterialId, and
//! deleting material the key uses (current or not) puts the key in
//! PendingImport, while material waiting for a rotation goes alone.
//!
//! AWS: ImportKeyMaterial's ImportType "defaults to NEW_KEY_MATERIAL" before
//! the first import and "to EXISTING_KEY_MATERIAL" after; "You cannot specify
//! a key material ID with ImportType set to NEW_KEY_MATERIAL"; "deletion or
//! expiration of any key material in a state other than PENDING_ROTATION
//! changes the key state to Pending import" (developer guide, "Delete
//! imported key material"); RotateKeyOnDemand needs imported material "in
//! PENDING_ROTATION" (API reference as aws-sdk-kms 1.77 carries it).

mod common;

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::DateTime;
use aws_sdk_kms::types::{
    ExpirationModelType, ImportState, ImportType, IncludeKeyMaterial, KeyMaterialState, KeySpec,
    KeyState, RotationType, RotationsListEntry,
};
use common::import::{
    ImportOptions as Options, code, create_external, describe, import_material, import_with,
    now_secs, random_bytes, try_decrypt, try_encrypt,
};
use common::{EAST, Server, error_code};

/// Imports new material for a rotation; its KeyMaterialId.
async fn import_new(kms: &Client, key: &str, material: &[u8], description: &'static str) -> String {
    let options = Options {
        import_type: Some(ImportType::NewKeyMaterial),
        description: Some(description),
        ..Options::default()
    };
    import_with(kms, key, material, options)
        .await
        .expect("new key material")
        .key_material_id
        .expect("KeyMaterialId")
}

/// Every entry of ListKeyRotations with `include`.
async fn rotations(
    kms: &Client,
    key: &str,
    include: IncludeKeyMaterial,
) -> Vec<RotationsListEntry> {
    kms.list_key_rotations()
        .key_id(key)
        .include_key_material(include)
        .send()
        .await
        .expect("ListKeyRotations")
        .rotations
        .unwrap_or_default()
}

/// (material id, import state, material state) of every material.
async fn materials(kms: &Client, key: &str) -> Vec<(String, ImportState, KeyMaterialState)> {
    rotations(kms, key, IncludeKeyMaterial::AllKeyMaterial)
        .await
        .into_iter()
        .map(|e| {
            (
                e.key_material_id.expect("KeyMaterialId"),
                e.import_state.expect("ImportState"),
                e.key_material_state.expect("KeyMaterialState"),
            )
        })
        .collect()
}

/// The error code of an import that must be refused.
async fn refused(kms: &Client, key: &str, material: &[u8], options: Options) -> String {
    code(import_with(kms, key, material, options).await)
}

async fn current_material(kms: &Client, key: &str) -> String {
    describe(kms, key)
        .await
        .current_key_material_id
        .expect("CurrentKeyMaterialId")
}

/// The whole cycle: first material, new material waiting, the rotation,
/// both ciphertexts decrypting, the listing at each step, and a second
/// rotation refused until more new material comes.
#[tokio::test(flavor = "multi_thread")]
async fn new_material_waits_and_the_rotation_makes_it_current() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = create_external(&kms, KeySpec::SymmetricDefault).await;
    let (first, second) = (random_bytes(32), random_bytes(32));
    let options = Options {
        description: Some("first material"),
        ..Options::default()
    };
    let id1 = import_with(&kms, &key, &first, options)
        .await
        .expect("first import, NEW by default")
        .key_material_id
        .unwrap();
    let sealed1 = try_encrypt(&kms, &key, b"under the first").await.unwrap();

    let id2 = import_new(&kms, &key, &second, "second material").await;
    assert_ne!(id1, id2);
    assert_eq!(current_material(&kms, &key).await, id1);
    assert_eq!(
        materials(&kms, &key).await,
        vec![
            (
                id1.clone(),
                ImportState::Imported,
                KeyMaterialState::Current
            ),
            (
                id2.clone(),
                ImportState::Imported,
                KeyMaterialState::PendingRotation
            ),
        ]
    );
    let all = rotations(&kms, &key, IncludeKeyMaterial::AllKeyMaterial).await;
    assert_eq!(
        all[0].key_material_description.as_deref(),
        Some("first material")
    );
    assert_eq!(
        all[1].key_material_description.as_deref(),
        Some("second material")
    );
    assert_eq!(
        all[1].expiration_model,
        Some(ExpirationModelType::KeyMaterialDoesNotExpire)
    );
    assert!(
        all.iter()
            .all(|e| e.rotation_date.is_none() && e.rotation_type.is_none())
    );
    assert!(
        rotations(&kms, &key, IncludeKeyMaterial::RotationsOnly)
            .await
            .is_empty()
    );
    // Encrypt keeps using the current material until the rotation.
    let still1 = try_encrypt(&kms, &key, b"still the first").await.unwrap();
    assert_eq!(
        try_decrypt(&kms, &still1).await.unwrap().0,
        b"still the first"
    );

    // Only one material waits at a time.
    let waiting = import_with(
        &kms,
        &key,
        &random_bytes(32),
        Options {
            import_type: Some(ImportType::NewKeyMaterial),
            ..Options::default()
        },
    )
    .await;
    assert_eq!(code(waiting), "KMSInvalidStateException");

    kms.rotate_key_on_demand()
        .key_id(&key)
        .send()
        .await
        .expect("rotation to the imported material");
    assert_eq!(current_material(&kms, &key).await, id2);
    let sealed2 = try_encrypt(&kms, &key, b"under the second").await.unwrap();
    assert_eq!(
        try_decrypt(&kms, &sealed1).await.unwrap().0,
        b"under the first"
    );
    assert_eq!(
        try_decrypt(&kms, &sealed2).await.unwrap().0,
        b"under the second"
    );
    assert_eq!(
        materials(&kms, &key).await,
        vec![
            (
                id1.clone(),
                ImportState::Imported,
                KeyMaterialState::NonCurrent
            ),
            (
                id2.clone(),
                ImportState::Imported,
                KeyMaterialState::Current
            ),
        ]
    );
    let rotated = rotations(&kms, &key, IncludeKeyMaterial::RotationsOnly).await;
    assert_eq!(rotated.len(), 1);
    assert_eq!(rotated[0].key_material_id.as_deref(), Some(id2.as_str()));
    assert_eq!(rotated[0].rotation_type, Some(RotationType::OnDemand));
    let at = rotated[0].rotation_date.expect("RotationDate").secs();
    assert!((at - now_secs()).abs() < 120, "rotation date {at}");

    assert_eq!(
        error_code(kms.rotate_key_on_demand().key_id(&key).send().await),
        "KMSInvalidStateException"
    );

    // The state survives a restart.
    let server = Server::restart(server.stop());
    let kms = server.client(EAST);
    assert_eq!(current_material(&kms, &key).await, id2);
    assert_eq!(
        try_decrypt(&kms, &sealed1).await.unwrap().0,
        b"under the first"
    );
}

/// Deleting a material the key uses that is not current (by its id) puts
/// the key in PendingImport: nothing decrypts, not even under the current
/// material. Only that material brings the key back (by id, or by default
/// as existing material); other material, or the right material under
/// another KeyMaterialId, is IncorrectKeyMaterialException; material the
/// key has already is refused as new material.
#[tokio::test(flavor = "multi_thread")]
async fn deleting_older_material_waits_for_that_material() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = create_external(&kms, KeySpec::SymmetricDefault).await;
    let (first, second) = (random_bytes(32), random_bytes(32));
    let id1 = import_material(&kms, &key, &first).await;
    let sealed1 = try_encrypt(&kms, &key, b"one").await.unwrap();
    let id2 = import_new(&kms, &key, &second, "second").await;
    kms.rotate_key_on_demand()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    let sealed2 = try_encrypt(&kms, &key, b"two").await.unwrap();

    let deleted = kms
        .delete_imported_key_material()
        .key_id(&key)
        .key_material_id(&id1)
        .send()
        .await
        .expect("deleting the older material");
    assert_eq!(deleted.key_material_id.as_deref(), Some(id1.as_str()));
    assert_eq!(
        describe(&kms, &key).await.key_state,
        Some(KeyState::PendingImport)
    );
    assert_eq!(
        code(try_decrypt(&kms, &sealed2).await),
        "KMSInvalidStateException"
    );
    assert_eq!(
        materials(&kms, &key).await,
        vec![
            (
                id1.clone(),
                ImportState::PendingImport,
                KeyMaterialState::NonCurrent
            ),
            (
                id2.clone(),
                ImportState::Imported,
                KeyMaterialState::Current
            ),
        ]
    );

    let other = import_with(&kms, &key, &random_bytes(32), Options::default()).await;
    assert_eq!(code(other), "IncorrectKeyMaterialException");
    let misnamed = Options {
        material_id: Some(id2.clone()),
        ..Options::default()
    };
    assert_eq!(
        refused(&kms, &key, &first, misnamed).await,
        "IncorrectKeyMaterialException"
    );
    let already = Options {
        import_type: Some(ImportType::NewKeyMaterial),
        ..Options::default()
    };
    assert_eq!(
        refused(&kms, &key, &second, already).await,
        "IncorrectKeyMaterialException"
    );

    let named = Options {
        import_type: Some(ImportType::ExistingKeyMaterial),
        material_id: Some(id1.clone()),
        ..Options::default()
    };
    let back = import_with(&kms, &key, &first, named)
        .await
        .expect("the first again");
    assert_eq!(back.key_material_id.as_deref(), Some(id1.as_str()));
    assert_eq!(
        describe(&kms, &key).await.key_state,
        Some(KeyState::Enabled)
    );
    assert_eq!(try_decrypt(&kms, &sealed1).await.unwrap().0, b"one");
    assert_eq!(try_decrypt(&kms, &sealed2).await.unwrap().0, b"two");

    // A material id the key never had is NotFoundException.
    let unknown = kms
        .delete_imported_key_material()
        .key_id(&key)
        .key_material_id("ab".repeat(32))
        .send()
        .await;
    assert_eq!(error_code(unknown), "NotFoundException");
}

/// Material waiting for a rotation can be deleted without touching the key,
/// and new material takes its place; expiring waiting material only drops
/// that material.
#[tokio::test(flavor = "multi_thread")]
async fn waiting_material_is_deleted_or_expires_alone() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = create_external(&kms, KeySpec::SymmetricDefault).await;
    let id1 = import_material(&kms, &key, &random_bytes(32)).await;
    let id3 = import_new(&kms, &key, &random_bytes(32), "to be deleted").await;
    kms.delete_imported_key_material()
        .key_id(&key)
        .key_material_id(&id3)
        .send()
        .await
        .expect("deleting waiting material");
    assert_eq!(
        describe(&kms, &key).await.key_state,
        Some(KeyState::Enabled)
    );
    assert_eq!(
        materials(&kms, &key).await,
        vec![
            (
                id1.clone(),
                ImportState::Imported,
                KeyMaterialState::Current
            ),
            (
                id3.clone(),
                ImportState::PendingImport,
                KeyMaterialState::PendingRotation
            ),
        ]
    );
    assert_eq!(
        error_code(kms.rotate_key_on_demand().key_id(&key).send().await),
        "KMSInvalidStateException"
    );

    // New material replaces the deleted waiting material.
    let expiring = Options {
        import_type: Some(ImportType::NewKeyMaterial),
        valid_to: Some(DateTime::from_secs(now_secs() + 3_600)),
        ..Options::default()
    };
    let id4 = import_with(&kms, &key, &random_bytes(32), expiring)
        .await
        .expect("new material in place of the deleted")
        .key_material_id
        .unwrap();
    let listed = materials(&kms, &key).await;
    assert_eq!(
        listed,
        vec![
            (
                id1.clone(),
                ImportState::Imported,
                KeyMaterialState::Current
            ),
            (
                id4.clone(),
                ImportState::Imported,
                KeyMaterialState::PendingRotation
            ),
        ]
    );

    server.advance_clock(2 * 3_600);
    server.run_jobs();
    assert_eq!(
        describe(&kms, &key).await.key_state,
        Some(KeyState::Enabled)
    );
    assert_eq!(
        materials(&kms, &key).await,
        vec![
            (id1, ImportState::Imported, KeyMaterialState::Current),
            (
                id4,
                ImportState::PendingImport,
                KeyMaterialState::PendingRotation
            ),
        ]
    );
    assert!(
        try_encrypt(&kms, &key, b"current still works")
            .await
            .is_ok()
    );
}

/// Requests the import options do not fit: a KeyMaterialId with new
/// material, existing material for a key that never had any, a description
/// outside AWS's pattern or longer than 256, a KeyMaterialId that is not 64
/// lower-case hex digits, an unknown ImportType (ValidationException); new material for an HMAC
/// key (ValidationException) and for a multi-Region key
/// (UnsupportedOperationException, not served yet).
#[tokio::test(flavor = "multi_thread")]
async fn import_options_that_do_not_fit_are_refused() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = create_external(&kms, KeySpec::SymmetricDefault).await;
    let material = random_bytes(32);
    let with_id = Options {
        import_type: Some(ImportType::NewKeyMaterial),
        material_id: Some("ab".repeat(32)),
        ..Options::default()
    };
    assert_eq!(
        refused(&kms, &key, &material, with_id).await,
        "ValidationException"
    );
    let existing = Options {
        import_type: Some(ImportType::ExistingKeyMaterial),
        ..Options::default()
    };
    assert_eq!(
        refused(&kms, &key, &material, existing).await,
        "ValidationException"
    );
    let badly_described = Options {
        description: Some("semi;colon"),
        ..Options::default()
    };
    assert_eq!(
        refused(&kms, &key, &material, badly_described).await,
        "ValidationException"
    );
    let long_description = Options {
        description: Some(Box::leak("a".repeat(257).into_boxed_str())),
        ..Options::default()
    };
    let upper_case_id = Options {
        material_id: Some("AB".repeat(32)),
        ..Options::default()
    };
    let unknown_type = Options {
        import_type: Some(ImportType::from("SOME_KEY_MATERIAL")),
        ..Options::default()
    };
    for options in [long_description, upper_case_id, unknown_type] {
        assert_eq!(
            refused(&kms, &key, &material, options).await,
            "ValidationException"
        );
    }
    // Nothing above used up the key: the first import works.
    import_material(&kms, &key, &material).await;
    let malformed_id = kms
        .delete_imported_key_material()
        .key_id(&key)
        .key_material_id("not-a-material-id")
        .send()
        .await;
    assert_eq!(error_code(malformed_id), "ValidationException");

    let hmac = create_external(&kms, KeySpec::Hmac256).await;
    import_material(&kms, &hmac, &random_bytes(32)).await;
    let new = || Options {
        import_type: Some(ImportType::NewKeyMaterial),
        ..Options::default()
    };
    assert_eq!(
        code(import_with(&kms, &hmac, &random_bytes(32), new()).await),
        "ValidationException"
    );

    let multi = kms
        .create_key()
        .origin(aws_sdk_kms::types::OriginType::External)
        .multi_region(true)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    import_material(&kms, &multi, &random_bytes(32)).await;
    assert_eq!(
        code(import_with(&kms, &multi, &random_bytes(32), new()).await),
        "UnsupportedOperationException"
    );
}
