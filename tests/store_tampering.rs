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

/// Runs `trent serve` on `data` and returns its standard error once it
/// exits; panics if it is still running after a minute (it started).
fn refused_start(data: &Path) -> String {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let mut child = Command::new(env!("CARGO_BIN_EXE_trent"))
        .arg("serve")
        .env("TRENT_DATA_DIR", data)
        .env("TRENT_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("trent started on a store without its row-tag key");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The key tags are made with cannot be taken away or swapped: a store that
/// names none for a region this token served, or names a wrap that is not a
/// 16-byte key's (here a material's, whose value its importer may know), is
/// refused at start.
#[tokio::test(flavor = "multi_thread")]
async fn the_row_tag_key_cannot_be_removed_or_swapped() {
    let server = Server::start();
    let kms = server.client(EAST);
    let own = create_external(&kms, KeySpec::SymmetricDefault).await;
    import_material(&kms, &own, &random_bytes(32)).await;
    let data = server.stop();

    let db = store(&data.path);
    let genuine: Vec<u8> = db
        .query_row(
            "SELECT row_tag_key FROM domain_keys WHERE region = ?1",
            params![EAST],
            |r| r.get(0),
        )
        .unwrap();
    let set = |blob: Option<Vec<u8>>| {
        db.execute(
            "UPDATE domain_keys SET row_tag_key = ?2 WHERE region = ?1",
            params![EAST, blob],
        )
        .unwrap()
    };
    set(None);
    let stderr = refused_start(&data.path);
    assert!(stderr.contains("row-tag key"), "{stderr}");
    let material: Vec<u8> = db
        .query_row(
            "SELECT wrapped FROM key_materials WHERE key_id = ?1",
            params![own],
            |r| r.get(0),
        )
        .unwrap();
    set(Some(material));
    let stderr = refused_start(&data.path);
    assert!(stderr.contains("not the wrap of a 16-byte key"), "{stderr}");

    set(Some(genuine));
    drop(db);
    let server = Server::restart(data);
    assert!(try_encrypt(&server.client(EAST), &own).await.is_ok());
}

/// A token new to the region (an enrolled node's, one restored from before
/// the upgrade: here the marker removed) tags nothing when the store names
/// the region's row-tag key, so a row stripped of its tag stays refused.
/// Rows written before tags existed (no tags, no row-tag key, no marker)
/// are tagged at the first start, and serve as before, blobs from before
/// the wrapping header included. One test: only one loads SoftHSM here.
#[tokio::test(flavor = "multi_thread")]
async fn only_a_region_without_tags_gets_its_rows_tagged() {
    let server = Server::start();
    let kms = server.client(EAST);
    let key = new_key(&kms).await;
    let blob = encrypt_text(&kms, &key, "from before").await;
    let signer = create(&kms, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let data = server.stop();
    let token = Token::open(&data.path);

    store(&data.path)
        .execute(
            "UPDATE key_materials SET tag = NULL WHERE key_id = ?1",
            params![key],
        )
        .unwrap();
    token.remove_row_tags_marker();
    let server = Server::restart(data);
    assert_eq!(
        try_decrypt(&server.client(EAST), &blob).await,
        Err(INTERNAL.to_string()),
        "a token new to the region tagged a row the store stripped"
    );
    let data = server.stop();

    // An older Trent's rows: no tags, no row-tag key, and (older still) a
    // symmetric key's blob without the 4-byte header that names its
    // wrapping.
    let db = store(&data.path);
    db.execute("UPDATE key_materials SET tag = NULL", [])
        .unwrap();
    db.execute(
        "UPDATE domain_keys SET row_tag_key = NULL WHERE region = ?1",
        params![EAST],
    )
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
    token.remove_row_tags_marker();

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
    token.close();
}

/// The dev-mode token of us-east-1, opened in this process through its own
/// PKCS#11 session (SoftHSM reads its configuration once, at C_Initialize).
struct Token {
    ctx: Pkcs11,
    pin: String,
}

impl Token {
    fn open(data: &Path) -> Self {
        unsafe { std::env::set_var("SOFTHSM2_CONF", data.join("softhsm2.conf")) };
        let ctx = Pkcs11::new(SOFTHSM_MODULE).unwrap();
        ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .unwrap();
        let pin = std::fs::read_to_string(data.join(format!("secrets/{EAST}.pin"))).unwrap();
        Token { ctx, pin }
    }

    /// Destroys the token's row-tags marker, as a token an older Trent
    /// served, or new to the region, lacks it.
    fn remove_row_tags_marker(&self) {
        let session =
            custody_proof::logged_in(&self.ctx, &format!("trent-{EAST}"), self.pin.trim());
        let markers = session
            .find_objects(&[
                Attribute::Class(ObjectClass::DATA),
                Attribute::Label(trent::hsm::ROW_TAGS_MARKER_LABEL.as_bytes().to_vec()),
            ])
            .unwrap();
        assert_eq!(markers.len(), 1, "the token holds one marker");
        session.destroy_object(markers[0]).unwrap();
    }

    fn close(self) {
        self.ctx.finalize().unwrap();
    }
}
