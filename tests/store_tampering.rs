//! What someone who can write `trent.db`, but holds no PIN, can make Trent
//! do with key material (ADR 0025): each material row carries a tag that
//! only the region's token can make, so a blob moved from another key, a
//! public key swapped in, or a tag deleted is refused, never used.
//!
//! Each test alters the stopped server's store with SQL, as such a writer
//! would, and starts the server again (so nothing is served from a cache).

mod common;
mod custody_proof;

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};
use common::asymmetric::{code, create, public_key, sign, try_sign, verify};
use common::import::{create_external, import_material, random_bytes};
use common::{EAST, SOFTHSM_MODULE, Server, decrypt_text, encrypt_text, error_code, new_key};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::object::{Attribute, ObjectClass};
use rusqlite::{Connection, params};
use std::path::Path;

const INTERNAL: &str = "KMSInternalException";
const ECDSA: SigningAlgorithmSpec = SigningAlgorithmSpec::EcdsaSha256;

/// The store of a stopped server.
fn store(data: &Path) -> Connection {
    Connection::open(data.join("trent.db")).unwrap()
}

/// Copies column `column` of `from`'s material rows onto `to`'s (each key
/// has one material here).
fn copy_column(db: &Connection, column: &str, from: &str, to: &str) {
    let changed = db
        .execute(
            &format!(
                "UPDATE key_materials SET {column} = \
                 (SELECT {column} FROM key_materials WHERE key_id = ?1) WHERE key_id = ?2"
            ),
            params![from, to],
        )
        .unwrap();
    assert_eq!(changed, 1, "{to} has one material row");
}

/// Encrypt under `key`, or the refusal's code.
async fn try_encrypt(kms: &Client, key: &str) -> Result<Vec<u8>, String> {
    kms.encrypt()
        .key_id(key)
        .plaintext(Blob::new(b"secret".to_vec()))
        .send()
        .await
        .map(|out| out.ciphertext_blob.unwrap().into_inner())
        .map_err(|e| error_code::<_, ()>(Err(e)))
}

/// Decrypt of `blob`, or the refusal's code.
async fn try_decrypt(kms: &Client, blob: &[u8]) -> Result<Vec<u8>, String> {
    kms.decrypt()
        .ciphertext_blob(Blob::new(blob.to_vec()))
        .send()
        .await
        .map(|out| out.plaintext.unwrap().into_inner())
        .map_err(|e| error_code::<_, ()>(Err(e)))
}

/// GetPublicKey's public key, or the refusal's code.
async fn try_public_key(kms: &Client, key: &str) -> Result<Vec<u8>, String> {
    kms.get_public_key()
        .key_id(key)
        .send()
        .await
        .map(|out| out.public_key.unwrap().into_inner())
        .map_err(|e| error_code::<_, ()>(Err(e)))
}

#[tokio::test(flavor = "multi_thread")]
async fn material_moved_from_another_key_is_refused() {
    let server = Server::start();
    let kms = server.client(EAST);
    let victim = new_key(&kms).await;
    // Material the attacker chose (and so knows), imported into a key of
    // their own in the same region.
    let own = create_external(&kms, KeySpec::SymmetricDefault).await;
    import_material(&kms, &own, &random_bytes(32)).await;
    let data = server.stop();

    let db = store(&data.path);
    copy_column(&db, "wrapped", &own, &victim);
    copy_column(&db, "tag", &own, &victim);
    drop(db);

    let server = Server::restart(data);
    let kms = server.client(EAST);
    assert_eq!(
        try_encrypt(&kms, &victim).await.map(drop),
        Err(INTERNAL.to_string()),
        "Encrypt under the victim's key used the planted material"
    );
    assert!(
        try_encrypt(&kms, &own).await.is_ok(),
        "the attacker's own key still works where its row is its own"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_public_key_swapped_in_is_refused() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = create(&kms, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let theirs = create(&kms, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let message = b"pay the attacker";
    let forged = sign(&kms, &theirs, &ECDSA, MessageType::Raw, message).await;
    let data = server.stop();

    let db = store(&data.path);
    copy_column(&db, "public_key", &theirs, &key);
    drop(db);

    let server = Server::restart(data);
    let kms = server.client(EAST);
    assert_eq!(
        try_public_key(&kms, &key).await.map(drop),
        Err(INTERNAL.to_string()),
        "GetPublicKey handed out the swapped-in public key"
    );
    assert_eq!(
        code(verify(&kms, &key, &ECDSA, MessageType::Raw, message, &forged).await),
        INTERNAL,
        "Verify judged a signature by the swapped-in public key"
    );
    assert_eq!(
        code(try_sign(&kms, &key, &ECDSA, MessageType::Raw, message).await),
        INTERNAL
    );
    assert_eq!(
        try_public_key(&kms, &theirs).await.unwrap(),
        public_key(&kms, &theirs).await,
        "an untouched key pair still serves its public key"
    );
}

/// A row checked once is not checked in the token again while it stays
/// the same; changed while the server runs (and read again: a metadata
/// cache of one entry forgets it), it is checked, and refused.
#[tokio::test(flavor = "multi_thread")]
async fn a_row_changed_after_its_check_is_checked_again() {
    let server = Server::start_with_env(&[
        ("TRENT_METADATA_MAX_STALENESS_MS", "0"),
        ("TRENT_METADATA_CACHE_CAPACITY", "1"),
    ]);
    let kms = server.client(EAST);
    let key = create(&kms, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let theirs = create(&kms, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let genuine = public_key(&kms, &key).await;
    assert_eq!(try_public_key(&kms, &key).await, Ok(genuine));

    copy_column(&store(server.data_dir()), "public_key", &theirs, &key);
    try_public_key(&kms, &theirs).await.unwrap();
    assert_eq!(
        try_public_key(&kms, &key).await.map(drop),
        Err(INTERNAL.to_string()),
        "the swapped row passed as the row checked before"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_tag_is_refused_and_not_made_again() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = new_key(&kms).await;
    let blob = encrypt_text(&kms, &key, "kept").await;
    let data = server.stop();

    store(&data.path)
        .execute(
            "UPDATE key_materials SET tag = NULL WHERE key_id = ?1",
            params![key],
        )
        .unwrap();

    let server = Server::restart(data);
    assert_eq!(
        try_decrypt(&server.client(EAST), &blob).await,
        Err(INTERNAL.to_string())
    );
    // A later start does not tag the row afresh: the token is marked.
    let server = Server::restart(server.stop());
    assert_eq!(
        try_decrypt(&server.client(EAST), &blob).await,
        Err(INTERNAL.to_string())
    );
}

/// Rows written before tags existed (no tag, and a token without the
/// marker) are tagged at the first start, and serve as before, blobs from
/// before the wrapping header included.
#[tokio::test(flavor = "multi_thread")]
async fn rows_written_before_tags_are_tagged_at_start() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = new_key(&kms).await;
    let blob = encrypt_text(&kms, &key, "from before").await;
    let signer = create(&kms, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let data = server.stop();

    // An older Trent's rows: no tags, and (older still) a symmetric key's
    // blob without the 4-byte header that names its wrapping.
    let db = store(&data.path);
    db.execute("UPDATE key_materials SET tag = NULL", [])
        .unwrap();
    let stripped = db
        .execute(
            "UPDATE key_materials SET wrapped = substr(wrapped, 5) \
             WHERE key_id = ?1 AND substr(wrapped, 1, 4) = X'54570101'",
            params![key],
        )
        .unwrap();
    assert_eq!(stripped, 1, "the blob had the RFC 5649 header");
    drop(db);
    remove_row_tags_marker(&data.path);

    let server = Server::restart(data);
    let kms = server.client(EAST);
    assert_eq!(decrypt_text(&kms, &blob).await.plaintext, "from before");
    assert!(try_public_key(&kms, &signer).await.is_ok());
    let data = server.stop();
    let untagged: i64 = store(&data.path)
        .query_row(
            "SELECT COUNT(*) FROM key_materials WHERE tag IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(untagged, 0, "every row was tagged");
}

/// Destroys the dev-mode token's row-tags marker through this process's own
/// PKCS#11 session, as a token that an older Trent served would lack it.
/// The only test of this binary that loads SoftHSM.
fn remove_row_tags_marker(data: &Path) {
    // SoftHSM reads its configuration at C_Initialize.
    unsafe { std::env::set_var("SOFTHSM2_CONF", data.join("softhsm2.conf")) };
    let ctx = Pkcs11::new(SOFTHSM_MODULE).unwrap();
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    let pin = std::fs::read_to_string(data.join(format!("secrets/{EAST}.pin"))).unwrap();
    let session = custody_proof::logged_in(&ctx, &format!("trent-{EAST}"), pin.trim());
    let markers = session
        .find_objects(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Label(trent::hsm::ROW_TAGS_MARKER_LABEL.as_bytes().to_vec()),
        ])
        .unwrap();
    assert_eq!(markers.len(), 1, "the token holds one marker");
    session.destroy_object(markers[0]).unwrap();
    drop(session);
    ctx.finalize().unwrap();
}
