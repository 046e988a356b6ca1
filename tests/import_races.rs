//! Concurrent writers on one imported key (issue #14), round after round:
//! first imports of different material race and exactly one wins (its
//! ciphertexts decrypt, the losers are told); imports of new material for a
//! rotation race and exactly one waits; on-demand rotations race and the
//! key rotates once. Nothing acknowledged is lost.

mod common;

use aws_sdk_kms::Client;
use aws_sdk_kms::types::{ImportType, IncludeKeyMaterial, KeyMaterialState, KeySpec};
use common::import::{
    ImportOptions, create_external, describe, import_material, import_with, random_bytes,
    try_decrypt, try_encrypt,
};
use common::{EAST, Server};
use std::future::Future;

/// Runs the futures at once, each on its own task; their outputs in order.
async fn join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let tasks: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for task in tasks {
        outputs.push(task.await.expect("task"));
    }
    outputs
}

const WRITERS: usize = 6;
const ROUNDS: usize = 4;

/// Refusals a losing writer may get: the key changed under it (a conflict
/// to retry), or what the key says now.
const LOSING: &[&str] = &[
    "ConflictException",
    "KMSInvalidStateException",
    "IncorrectKeyMaterialException",
];

/// Material ids of the key's materials in `state`.
async fn in_state(kms: &Client, key: &str, state: KeyMaterialState) -> Vec<String> {
    kms.list_key_rotations()
        .key_id(key)
        .include_key_material(IncludeKeyMaterial::AllKeyMaterial)
        .send()
        .await
        .expect("ListKeyRotations")
        .rotations
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.key_material_state == Some(state.clone()))
        .filter_map(|e| e.key_material_id)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn racing_first_imports_leave_exactly_one_material() {
    let server = Server::start();
    let kms = server.client(EAST);
    for round in 0..ROUNDS {
        let key = create_external(&kms, KeySpec::SymmetricDefault).await;
        let materials: Vec<Vec<u8>> = (0..WRITERS).map(|_| random_bytes(32)).collect();
        let results = join_all(materials.iter().map(|m| {
            let (kms, key, m) = (kms.clone(), key.clone(), m.clone());
            async move { import_with(&kms, &key, &m, ImportOptions::default()).await }
        }))
        .await;
        let won: Vec<(usize, String)> = results
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                r.as_ref()
                    .ok()
                    .map(|o| (i, o.key_material_id.clone().unwrap()))
            })
            .collect();
        assert_eq!(won.len(), 1, "round {round}: {results:?}");
        for refused in results.iter().filter_map(|r| r.as_ref().err()) {
            assert!(
                LOSING.contains(&refused.0.as_str()),
                "round {round}: {refused:?}"
            );
        }
        let (winner, id) = &won[0];
        assert_eq!(
            describe(&kms, &key).await.current_key_material_id.as_ref(),
            Some(id)
        );
        let sealed = try_encrypt(&kms, &key, b"acknowledged").await.unwrap();
        assert_eq!(try_decrypt(&kms, &sealed).await.unwrap().0, b"acknowledged");
        // The winner's material is the key's: it comes back by default.
        assert_eq!(&import_material(&kms, &key, &materials[*winner]).await, id);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn racing_new_material_and_rotations_rotate_once_per_round() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = create_external(&kms, KeySpec::SymmetricDefault).await;
    import_material(&kms, &key, &random_bytes(32)).await;
    let mut sealed = Vec::new();
    for round in 0..ROUNDS {
        let new = || ImportOptions {
            import_type: Some(ImportType::NewKeyMaterial),
            ..ImportOptions::default()
        };
        let materials: Vec<Vec<u8>> = (0..WRITERS).map(|_| random_bytes(32)).collect();
        let results = join_all(materials.iter().map(|m| {
            let (kms, key, m, options) = (kms.clone(), key.clone(), m.clone(), new());
            async move { import_with(&kms, &key, &m, options).await }
        }))
        .await;
        let waiting: Vec<String> = results
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|o| o.key_material_id.clone().unwrap())
            .collect();
        assert_eq!(waiting.len(), 1, "round {round}: {results:?}");
        for refused in results.iter().filter_map(|r| r.as_ref().err()) {
            assert!(
                LOSING.contains(&refused.0.as_str()),
                "round {round}: {refused:?}"
            );
        }
        assert_eq!(
            in_state(&kms, &key, KeyMaterialState::PendingRotation).await,
            waiting
        );

        let rotations =
            join_all((0..WRITERS).map(|_| kms.rotate_key_on_demand().key_id(&key).send())).await;
        let rotated = rotations.iter().filter(|r| r.is_ok()).count();
        assert_eq!(rotated, 1, "round {round}: {rotations:?}");
        assert_eq!(
            in_state(&kms, &key, KeyMaterialState::Current).await,
            waiting
        );
        sealed.push(
            try_encrypt(&kms, &key, format!("round {round}").as_bytes())
                .await
                .unwrap(),
        );
    }
    // Every round's ciphertext still decrypts: no acknowledged material lost.
    for (round, blob) in sealed.iter().enumerate() {
        assert_eq!(
            try_decrypt(&kms, blob).await.unwrap().0,
            format!("round {round}").as_bytes()
        );
    }
    assert_eq!(
        in_state(&kms, &key, KeyMaterialState::NonCurrent)
            .await
            .len(),
        ROUNDS
    );
}
