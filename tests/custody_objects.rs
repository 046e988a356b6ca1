//! Custody seen from inside the process that holds the objects: Trent's HSM
//! layer runs in this test process, and a second PKCS#11 session of the same
//! process reads the attributes of the session objects it made (session
//! objects are visible only to the process that made them).

mod common;

use aws_sdk_kms::types::AlgorithmSpec;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use secrecy::SecretString;
use std::path::Path;
use std::sync::Arc;
use trent::hsm::{
    CacheBudget, DOMAIN_KEY_LABEL, DomainKeySharing, Hsm, MaterialRef, Module, Modules, RowBinding,
    SecretKind, TAG_KEY_LABEL, TokenSpec, WrappedMaterial,
};

const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// A material as a store row holds it, with the tag its region's token
/// made for it.
struct Row {
    reference: MaterialRef,
    wrapped: Vec<u8>,
    public_key: Option<Vec<u8>>,
    tag: Option<Vec<u8>>,
}

impl Row {
    /// The row of `wrapped`, tagged by `hsm` as the service tags a row it
    /// writes.
    fn tagged(
        hsm: &Hsm,
        reference: &MaterialRef,
        wrapped: &[u8],
        public_key: Option<&[u8]>,
    ) -> Self {
        let mut row = Row {
            reference: reference.clone(),
            wrapped: wrapped.to_vec(),
            public_key: public_key.map(<[u8]>::to_vec),
            tag: None,
        };
        row.tag = Some(hsm.tag_material(&row.material()).unwrap());
        row
    }

    /// The material as the token takes it.
    fn material(&self) -> WrappedMaterial<'_> {
        WrappedMaterial {
            reference: self.reference.clone(),
            wrapped: &self.wrapped,
            row: RowBinding {
                region: "test",
                key_spec: "SPEC",
                key_usage: "USAGE",
                public_key: self.public_key.as_deref(),
                tag: self.tag.as_deref(),
            },
        }
    }
}

/// Provisions the token labelled `label`, gives it a never-extractable
/// domain key and opens it.
fn open_region(
    module: &Arc<Module>,
    label: &str,
    pin: &SecretString,
    so_pin: &SecretString,
) -> Hsm {
    let spec = || TokenSpec {
        module: SOFTHSM.into(),
        label,
        pin,
        provision_so_pin: Some(so_pin),
        sessions: 2,
        cache_budget: CacheBudget::new(16),
    };
    let mut setup = module.domain_key_setup(&spec()).unwrap();
    if !setup.holds_domain_key() {
        setup
            .create_domain_key(DomainKeySharing::SingleNode)
            .unwrap();
    }
    drop(setup);
    let hsm = Hsm::open(module.clone(), spec()).unwrap();
    hsm.use_row_tag_key(&hsm.new_row_tag_key().unwrap())
        .unwrap();
    hsm
}

/// A session of this process on the token labelled `label`. The process is
/// already logged in to it (through Trent's sessions).
fn inspector(ctx: &Pkcs11, label: &str) -> Session {
    let slot = ctx
        .get_slots_with_initialized_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label().trim_end() == label)
        .expect("token present");
    ctx.open_rw_session(slot).unwrap()
}

/// Session objects of one class on the inspected token, but for the
/// region's row-tag key (which only wraps tags, ADR 0025).
fn session_objects(session: &Session, class: ObjectClass) -> Vec<ObjectHandle> {
    let tag_key = Attribute::Label(TAG_KEY_LABEL.as_bytes().to_vec());
    session
        .find_objects(&[Attribute::Class(class), Attribute::Token(false)])
        .unwrap()
        .into_iter()
        .filter(|object| {
            !session
                .get_attributes(*object, &[AttributeType::Label])
                .unwrap()
                .contains(&tag_key)
        })
        .collect()
}

fn flags(session: &Session, object: ObjectHandle, types: &[AttributeType]) -> Vec<bool> {
    session
        .get_attributes(object, types)
        .unwrap()
        .into_iter()
        .map(|a| match a {
            Attribute::Extractable(b)
            | Attribute::Sensitive(b)
            | Attribute::Token(b)
            | Attribute::Modifiable(b)
            | Attribute::Encrypt(b)
            | Attribute::Decrypt(b)
            | Attribute::Wrap(b)
            | Attribute::Unwrap(b)
            | Attribute::Sign(b)
            | Attribute::Verify(b)
            | Attribute::Derive(b) => b,
            other => panic!("unexpected attribute {other:?}"),
        })
        .collect()
}

fn refused<T: std::fmt::Debug>(result: Result<T, Error>) -> RvError {
    match result {
        Err(Error::Pkcs11(rv, _)) => rv,
        other => panic!("expected a PKCS#11 refusal, got {other:?}"),
    }
}

/// The attributes a cached backing key must have: it encrypts and decrypts,
/// is sensitive, cannot be extracted, wraps nothing, and cannot be changed.
const USE_FLAGS: [AttributeType; 11] = [
    AttributeType::Extractable,
    AttributeType::Sensitive,
    AttributeType::Token,
    AttributeType::Modifiable,
    AttributeType::Encrypt,
    AttributeType::Decrypt,
    AttributeType::Wrap,
    AttributeType::Unwrap,
    AttributeType::Sign,
    AttributeType::Verify,
    AttributeType::Derive,
];
const USE_VALUES: [bool; 11] = [
    false, true, false, false, true, true, false, false, false, false, false,
];

/// The same for a cached HMAC key: it signs and verifies (HMAC) and does
/// nothing else.
const HMAC_USE_VALUES: [bool; 11] = [
    false, true, false, false, false, false, false, false, true, true, false,
];

fn assert_cannot_leave(session: &Session, key: ObjectHandle) {
    assert_confined(session, key, USE_VALUES);
}

/// `key` has the use attributes `values` and no C_WrapKey takes it out.
fn assert_confined(session: &Session, key: ObjectHandle, values: [bool; 11]) {
    assert_eq!(flags(session, key, &USE_FLAGS), values);
    assert_not_wrappable(session, key);
}

/// No C_WrapKey takes `key` out, under a key of the caller's choosing.
fn assert_not_wrappable(session: &Session, key: ObjectHandle) {
    let mine = session
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(false),
                Attribute::ValueLen(32.into()),
                Attribute::Wrap(true),
            ],
        )
        .unwrap();
    assert_eq!(
        refused(session.wrap_key(&Mechanism::AesKeyWrapPad, mine, key)),
        RvError::KeyUnextractable,
        "C_WrapKey of a cached key under a key of the caller's choosing"
    );
    session.destroy_object(mine).unwrap();
}

/// One scenario in one process (a PKCS#11 module is initialised once per
/// process): generation, use, the domain key's unwrap template, and
/// replication between two tokens.
#[test]
fn keys_in_use_never_leave_the_token_and_only_transit_copies_are_wrappable() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!("directories.tokendir = {}\n", tokens.display()),
    )
    .unwrap();
    let pin = SecretString::from("user-pin-1234");
    let so_pin = SecretString::from("so-pin-5678");
    let module = Modules::new(0)
        .load(Path::new(SOFTHSM), Some(&conf))
        .unwrap();
    let east = open_region(&module, "custody-east", &pin, &so_pin);
    let west = open_region(&module, "custody-west", &pin, &so_pin);

    // The same library in the same process: already initialised by Trent.
    let ctx = Pkcs11::new(SOFTHSM).unwrap();
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => panic!("{e}"),
    }
    let east_view = inspector(&ctx, "custody-east");
    let west_view = inspector(&ctx, "custody-west");

    // Generation: the extractable generated object is gone; what stays
    // cached is a use copy that cannot leave the token.
    let reference = MaterialRef {
        key_id: "key-1".into(),
        material_id: "material-1".into(),
        kind: SecretKind::Aes256,
    };
    let wrapped = east.generate_material(&reference).unwrap().wrapped;
    let cached = session_objects(&east_view, ObjectClass::SECRET_KEY);
    assert_eq!(
        cached.len(),
        1,
        "one cached use copy, no generated copy left"
    );
    assert_cannot_leave(&east_view, cached[0]);
    let row = Row::tagged(&east, &reference, &wrapped, None);
    let material = row.material();
    let iv = east.iv().unwrap();
    let mut ciphertext = Vec::new();
    east.encrypt(&material, &iv, b"aad", b"secret", &mut ciphertext)
        .unwrap();
    assert_eq!(session_objects(&east_view, ObjectClass::SECRET_KEY), cached);

    // A use copy unwrapped after a cache loss is just as confined.
    east.forget_key("key-1");
    assert!(session_objects(&east_view, ObjectClass::SECRET_KEY).is_empty());
    assert_eq!(
        *east.decrypt(&material, &iv, b"aad", &ciphertext).unwrap(),
        b"secret"
    );
    let cached = session_objects(&east_view, ObjectClass::SECRET_KEY);
    assert_eq!(cached.len(), 1);
    assert_cannot_leave(&east_view, cached[0]);

    // The domain key's CKA_UNWRAP_TEMPLATE: SoftHSM refuses an unwrap into
    // a token object, a non-sensitive object or an unwrapping key, and one
    // that leaves CKA_SENSITIVE unstated. It does not fix CKA_EXTRACTABLE
    // (replication needs a wrappable copy): see SECURITY.md.
    let domain_key = east_view
        .find_objects(&[
            Attribute::Token(true),
            Attribute::Label(DOMAIN_KEY_LABEL.as_bytes().to_vec()),
        ])
        .unwrap()[0];
    let template = |token: bool, sensitive: Option<bool>, unwrap: bool, extractable: bool| {
        let mut t = vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(token),
            Attribute::Private(false),
            Attribute::Extractable(extractable),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            Attribute::Unwrap(unwrap),
        ];
        t.extend(sensitive.map(Attribute::Sensitive));
        t
    };
    let unwrap = |t: Vec<Attribute>| {
        // The blob's first 4 bytes are its header (src/hsm/mechanisms.rs).
        east_view.unwrap_key(&Mechanism::AesKeyWrapPad, domain_key, &wrapped[4..], &t)
    };
    for (what, t) in [
        ("a token object", template(true, Some(true), false, false)),
        (
            "a readable value",
            template(false, Some(false), false, true),
        ),
        (
            "an unwrapping key",
            template(false, Some(true), true, false),
        ),
        ("unstated sensitivity", template(false, None, false, false)),
    ] {
        assert_eq!(
            refused(unwrap(t)),
            RvError::TemplateInconsistent,
            "unwrap under the domain key into {what}"
        );
    }
    let extractable = unwrap(template(false, Some(true), false, true)).unwrap();
    east_view.destroy_object(extractable).unwrap();

    // Replication: the destination's ephemeral private key can only
    // derive; after the exchange no transit copy, transport or ephemeral key
    // is left on either token, and the destination caches a use copy.
    let offer = west.begin_import().unwrap();
    let ephemeral = session_objects(&west_view, ObjectClass::PRIVATE_KEY);
    assert_eq!(ephemeral.len(), 1);
    assert_eq!(
        flags(
            &west_view,
            ephemeral[0],
            &[
                AttributeType::Derive,
                AttributeType::Sign,
                AttributeType::Decrypt,
                AttributeType::Unwrap,
                AttributeType::Extractable,
                AttributeType::Sensitive,
            ]
        ),
        [true, false, false, false, false, true]
    );
    let package = east
        .export_materials(std::slice::from_ref(&material), &offer)
        .unwrap();
    assert_eq!(session_objects(&east_view, ObjectClass::SECRET_KEY), cached);
    assert!(session_objects(&east_view, ObjectClass::PRIVATE_KEY).is_empty());
    assert!(session_objects(&east_view, ObjectClass::PUBLIC_KEY).is_empty());
    let rewrapped = west
        .complete_import(offer.id, &package, std::slice::from_ref(&reference))
        .unwrap();
    assert!(session_objects(&west_view, ObjectClass::PRIVATE_KEY).is_empty());
    assert!(session_objects(&west_view, ObjectClass::PUBLIC_KEY).is_empty());
    let imported = session_objects(&west_view, ObjectClass::SECRET_KEY);
    assert_eq!(
        imported.len(),
        1,
        "one cached use copy, no transit copy left"
    );
    assert_cannot_leave(&west_view, imported[0]);
    let replica_row = Row::tagged(&west, &reference, &rewrapped[0], None);
    let replica = replica_row.material();
    assert_eq!(
        *west.decrypt(&replica, &iv, b"aad", &ciphertext).unwrap(),
        b"secret"
    );

    // An HMAC key: generated, cached and carried the same way, its use
    // copies confined to signing and verifying.
    let hmac = MaterialRef {
        key_id: "hmac-1".into(),
        material_id: "material-1".into(),
        kind: SecretKind::Hmac(32),
    };
    let before = session_objects(&east_view, ObjectClass::SECRET_KEY);
    let hmac_wrapped = east.generate_material(&hmac).unwrap().wrapped;
    let added: Vec<ObjectHandle> = session_objects(&east_view, ObjectClass::SECRET_KEY)
        .into_iter()
        .filter(|h| !before.contains(h))
        .collect();
    assert_eq!(
        added.len(),
        1,
        "one cached HMAC use copy, no generated copy left"
    );
    assert_confined(&east_view, added[0], HMAC_USE_VALUES);
    let hmac_row = Row::tagged(&east, &hmac, &hmac_wrapped, None);
    let hmac_material = hmac_row.material();
    let mac = east.generate_mac(&hmac_material, b"message").unwrap();
    assert_eq!(mac.len(), 32);
    let west_before = session_objects(&west_view, ObjectClass::SECRET_KEY);
    let offer = west.begin_import().unwrap();
    let package = east
        .export_materials(std::slice::from_ref(&hmac_material), &offer)
        .unwrap();
    let hmac_rewrapped = west
        .complete_import(offer.id, &package, std::slice::from_ref(&hmac))
        .unwrap();
    let imported: Vec<ObjectHandle> = session_objects(&west_view, ObjectClass::SECRET_KEY)
        .into_iter()
        .filter(|h| !west_before.contains(h))
        .collect();
    assert_eq!(
        imported.len(),
        1,
        "one cached HMAC use copy, no transit copy left"
    );
    assert_confined(&west_view, imported[0], HMAC_USE_VALUES);
    let hmac_replica_row = Row::tagged(&west, &hmac, &hmac_rewrapped[0], None);
    let hmac_replica = hmac_replica_row.material();
    assert!(west.verify_mac(&hmac_replica, b"message", &mac).unwrap());
    assert!(!west.verify_mac(&hmac_replica, b"other", &mac).unwrap());

    key_pairs_stay_confined(&east, &west, &east_view, &west_view);
    imports_stay_confined(&east, &east_view);
}

/// Imports: the wrapping private key is made in the token, can only unwrap
/// and decrypt, and cannot leave it; an import leaves no object behind (the
/// wrapping key, the ephemeral AES key and the transit copy are gone), and
/// the same material imported twice, by different wrappings, has the same
/// fingerprint.
fn imports_stay_confined(east: &Hsm, east_view: &Session) {
    use trent::hsm::{ImportWrapping, Oaep};
    let counts = |view: &Session| {
        [
            ObjectClass::PRIVATE_KEY,
            ObjectClass::PUBLIC_KEY,
            ObjectClass::SECRET_KEY,
        ]
        .map(|class| session_objects(view, class).len())
    };
    let material = common::import::random_bytes(32);
    let mut fingerprints = Vec::new();
    for (algorithm, wrapping) in [
        (
            AlgorithmSpec::RsaesOaepSha1,
            ImportWrapping::RsaesOaep(Oaep::Sha1),
        ),
        (
            AlgorithmSpec::RsaesOaepSha256,
            ImportWrapping::RsaesOaep(Oaep::Sha256),
        ),
        (
            AlgorithmSpec::RsaAesKeyWrapSha1,
            ImportWrapping::RsaAesKeyWrap(Oaep::Sha1),
        ),
        (
            AlgorithmSpec::RsaAesKeyWrapSha256,
            ImportWrapping::RsaAesKeyWrap(Oaep::Sha256),
        ),
    ] {
        let before = counts(east_view);
        let private_before = session_objects(east_view, ObjectClass::PRIVATE_KEY);
        let pair = east.begin_key_import(2048, "111122223333").unwrap();
        let wrapping_key = new_objects(east_view, ObjectClass::PRIVATE_KEY, &private_before);
        assert_eq!(
            wrapping_key.len(),
            1,
            "one wrapping private key, no public object"
        );
        assert_eq!(
            session_objects(east_view, ObjectClass::PUBLIC_KEY).len(),
            before[1],
            "the wrapping key's public object is destroyed once read"
        );
        assert_private_confined(
            east_view,
            wrapping_key[0],
            [false, true, false, false, false, true, true, false],
        );
        let encrypted = common::import::wrap(&pair.public_key, &algorithm, &material);
        let imported = east
            .import_material(
                pair.id,
                wrapping,
                &encrypted,
                SecretKind::Aes256,
                32..=32,
                b"key-9",
            )
            .unwrap();
        assert_eq!(counts(east_view), before, "{algorithm:?} leaves no object");
        fingerprints.push(imported.fingerprint);
    }
    assert!(fingerprints.windows(2).all(|w| w[0] == w[1]));
    private_key_imports_leave_nothing(east, east_view);
}

/// Private-key imports (PKCS#8 in RSA_AES_KEY_WRAP_*, and an EC key's in
/// RSAES_OAEP_* too): an RSA key, and EC keys whose public point the token
/// finds with a probe copy of the key (ECDH with the generator, a signature
/// checked against both candidate points): no object is left (wrapping key,
/// ephemeral AES key, the generic secret RSA-OAEP unwraps the PKCS#8 into,
/// transit copy, probe, derived x-coordinate, candidate public keys), and
/// the public key found is the offline key's.
fn private_key_imports_leave_nothing(east: &Hsm, east_view: &Session) {
    use p256::pkcs8::{EncodePrivateKey, EncodePublicKey};
    use trent::hsm::{Curve, ImportWrapping, Oaep, PairRole};
    let mut rng = rsa::rand_core::OsRng;
    let rsa = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
    let p256 = p256::SecretKey::random(&mut rng);
    let p384 = p384::SecretKey::random(&mut rng);
    let keys = [
        (
            SecretKind::Rsa(2048, PairRole::Sign),
            rsa.to_pkcs8_der().unwrap().as_bytes().to_vec(),
            rsa.to_public_key().to_public_key_der().unwrap().to_vec(),
        ),
        (
            SecretKind::Ec(Curve::P256, PairRole::Sign),
            p256.to_pkcs8_der().unwrap().as_bytes().to_vec(),
            p256.public_key().to_public_key_der().unwrap().to_vec(),
        ),
        (
            SecretKind::Ec(Curve::P384, PairRole::Agree),
            p384.to_pkcs8_der().unwrap().as_bytes().to_vec(),
            p384.public_key().to_public_key_der().unwrap().to_vec(),
        ),
    ];
    let counts = |view: &Session| {
        [
            ObjectClass::PRIVATE_KEY,
            ObjectClass::PUBLIC_KEY,
            ObjectClass::SECRET_KEY,
        ]
        .map(|class| session_objects(view, class).len())
    };
    for (kind, pkcs8, spki) in keys {
        let mut wrappings = vec![
            (
                AlgorithmSpec::RsaAesKeyWrapSha1,
                ImportWrapping::RsaAesKeyWrap(Oaep::Sha1),
            ),
            (
                AlgorithmSpec::RsaAesKeyWrapSha256,
                ImportWrapping::RsaAesKeyWrap(Oaep::Sha256),
            ),
        ];
        if matches!(kind, SecretKind::Ec(..)) {
            wrappings.extend([
                (
                    AlgorithmSpec::RsaesOaepSha1,
                    ImportWrapping::RsaesOaep(Oaep::Sha1),
                ),
                (
                    AlgorithmSpec::RsaesOaepSha256,
                    ImportWrapping::RsaesOaep(Oaep::Sha256),
                ),
            ]);
        }
        for (algorithm, wrapping) in wrappings {
            let before = counts(east_view);
            let pair = east.begin_key_import(2048, "111122223333").unwrap();
            let encrypted = common::import::wrap(&pair.public_key, &algorithm, &pkcs8);
            let imported = east
                .import_material(pair.id, wrapping, &encrypted, kind, 0..=0, b"key-10")
                .unwrap_or_else(|e| panic!("{kind:?} {algorithm:?}: {e}"));
            assert_eq!(
                counts(east_view),
                before,
                "{kind:?} {algorithm:?} leaves no object"
            );
            assert_eq!(imported.public_key.as_ref(), Some(&spki), "{kind:?}");
            assert_eq!(imported.fingerprint, [&b"key-10"[..], &spki].concat());
        }
    }
}

/// The attributes of a cached private key: sensitive, not extractable, not
/// changeable, able to do its one job.
const PRIVATE_FLAGS: [AttributeType; 8] = [
    AttributeType::Extractable,
    AttributeType::Sensitive,
    AttributeType::Token,
    AttributeType::Modifiable,
    AttributeType::Sign,
    AttributeType::Decrypt,
    AttributeType::Unwrap,
    AttributeType::Derive,
];

/// `key` has the private-key attributes `values` and no C_WrapKey takes it
/// out.
fn assert_private_confined(session: &Session, key: ObjectHandle, values: [bool; 8]) {
    assert_eq!(flags(session, key, &PRIVATE_FLAGS), values);
    assert_not_wrappable(session, key);
}

/// Objects of `class` on the token that are not in `before`.
fn new_objects(
    session: &Session,
    class: ObjectClass,
    before: &[ObjectHandle],
) -> Vec<ObjectHandle> {
    session_objects(session, class)
        .into_iter()
        .filter(|h| !before.contains(h))
        .collect()
}

/// Key pairs: the private key is generated in the token, kept only as a
/// confined use copy (the generated and public objects are destroyed), is
/// carried to another token only wrapped, and a data key pair leaves no
/// object behind.
fn key_pairs_stay_confined(east: &Hsm, west: &Hsm, east_view: &Session, west_view: &Session) {
    use trent::hsm::{Curve, Digest, Oaep, PairRole, Signing};
    let private_before = session_objects(east_view, ObjectClass::PRIVATE_KEY);
    let public_before = session_objects(east_view, ObjectClass::PUBLIC_KEY);
    let signer = MaterialRef {
        key_id: "ecc-1".into(),
        material_id: "material-1".into(),
        kind: SecretKind::Ec(Curve::P256, PairRole::Sign),
    };
    let generated = east.generate_material(&signer).unwrap();
    let spki = generated
        .public_key
        .clone()
        .expect("a key pair has a public key");
    let cached = new_objects(east_view, ObjectClass::PRIVATE_KEY, &private_before);
    assert_eq!(
        cached.len(),
        1,
        "one cached private key, no generated copy left"
    );
    assert!(new_objects(east_view, ObjectClass::PUBLIC_KEY, &public_before).is_empty());
    assert_private_confined(
        east_view,
        cached[0],
        [false, true, false, false, true, false, false, false],
    );
    let signer_row = Row::tagged(east, &signer, &generated.wrapped, Some(&spki));
    let material = signer_row.material();
    let digest = Digest::Sha256.of(b"message");
    let signature = east
        .sign(&material, Signing::Ecdsa(Digest::Sha256), &digest)
        .unwrap();

    let west_private = session_objects(west_view, ObjectClass::PRIVATE_KEY);
    let offer = west.begin_import().unwrap();
    let package = east
        .export_materials(std::slice::from_ref(&material), &offer)
        .unwrap();
    let rewrapped = west
        .complete_import(offer.id, &package, std::slice::from_ref(&signer))
        .unwrap();
    let imported = new_objects(west_view, ObjectClass::PRIVATE_KEY, &west_private);
    assert_eq!(
        imported.len(),
        1,
        "one cached private key, no transit copy left"
    );
    assert_private_confined(
        west_view,
        imported[0],
        [false, true, false, false, true, false, false, false],
    );
    let replica_row = Row::tagged(west, &signer, &rewrapped[0], Some(&spki));
    let replica = replica_row.material();
    let west_signature = west
        .sign(&replica, Signing::Ecdsa(Digest::Sha256), &digest)
        .unwrap();
    for sig in [&signature, &west_signature] {
        assert!(
            east.verify(&material, Signing::Ecdsa(Digest::Sha256), &digest, sig)
                .unwrap()
        );
    }
    let other = Digest::Sha256.of(b"other");
    assert!(
        !east
            .verify(
                &material,
                Signing::Ecdsa(Digest::Sha256),
                &other,
                &signature
            )
            .unwrap()
    );

    let decrypter = MaterialRef {
        key_id: "rsa-1".into(),
        material_id: "material-1".into(),
        kind: SecretKind::Rsa(2048, PairRole::Decrypt),
    };
    let private_before = session_objects(east_view, ObjectClass::PRIVATE_KEY);
    let generated = east.generate_material(&decrypter).unwrap();
    let cached = new_objects(east_view, ObjectClass::PRIVATE_KEY, &private_before);
    assert_eq!(cached.len(), 1);
    assert_private_confined(
        east_view,
        cached[0],
        [false, true, false, false, false, true, false, false],
    );
    let spki = generated.public_key.clone().unwrap();
    let decrypter_row = Row::tagged(east, &decrypter, &generated.wrapped, Some(&spki));
    let material = decrypter_row.material();
    for oaep in [Oaep::Sha1, Oaep::Sha256] {
        let ciphertext = east.rsa_encrypt(&material, oaep, b"secret").unwrap();
        assert_eq!(ciphertext.len(), 256);
        assert_eq!(
            east.rsa_decrypt(&material, oaep, &ciphertext)
                .unwrap()
                .as_slice(),
            b"secret"
        );
    }

    let counts = |view: &Session| {
        [
            ObjectClass::PRIVATE_KEY,
            ObjectClass::PUBLIC_KEY,
            ObjectClass::SECRET_KEY,
        ]
        .map(|class| session_objects(view, class).len())
    };
    let before = counts(east_view);
    let pair = east
        .generate_data_key_pair(SecretKind::Ec(Curve::P384, PairRole::Sign))
        .unwrap();
    assert!(!pair.private_key.is_empty() && !pair.public_key.is_empty());
    assert_eq!(
        counts(east_view),
        before,
        "a data key pair leaves no object"
    );
}
