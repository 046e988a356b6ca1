//! Custody proven through PKCS#11 itself, against the real server binary:
//!
//! - the domain key of each dev-mode token, read from this test's own
//!   PKCS#11 session, is sensitive and shareable: no key of the user's
//!   choosing can wrap it, only one the token's SO marked trusted (ADR 0016);
//! - a wrapped blob from `trent.db`, unwrapped by this test under that domain
//!   key, decrypts a ciphertext the server made: the stored blob is the key,
//!   wrapped, and nothing else is needed;
//! - every PKCS#11 call the server makes during CreateKey, RotateKeyOnDemand
//!   and ReplicateKey, recorded by OpenSC's `pkcs11-spy` module standing in
//!   for SoftHSM, never reads the value of a key (`CKA_VALUE` or an RSA
//!   private component) and never creates a secret or private key from
//!   clear bytes (`C_CreateObject`); a material row's tag (ADR 0025) is made
//!   from AES-ECB blocks of the row-tag key, with no object.
//!
//! Only one test here loads SoftHSM into this process: a module is
//! initialised once per process, with the `SOFTHSM2_CONF` of that moment.

mod common;
mod custody_proof;

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use common::Server;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::object::ObjectHandle;
use cryptoki::session::Session;
use custody_proof as proof;
use std::collections::BTreeMap;
use std::path::PathBuf;

const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";
const EAST: &str = "us-east-1";
const WEST: &str = "us-west-2";

/// A ciphertext the server made, with what it was made from.
struct Made {
    /// Region whose server made it (and whose stored blob is used).
    region: &'static str,
    plaintext: Vec<u8>,
    context: BTreeMap<String, String>,
    blob: Vec<u8>,
}

async fn encrypt(
    kms: &Client,
    region: &'static str,
    key: &str,
    text: &str,
    context: &[(&str, &str)],
) -> Made {
    let mut req = kms
        .encrypt()
        .key_id(key)
        .plaintext(Blob::new(text.as_bytes().to_vec()));
    for (k, v) in context {
        req = req.encryption_context(*k, *v);
    }
    let blob = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("Encrypt: {e:?}"))
        .ciphertext_blob
        .unwrap()
        .into_inner();
    Made {
        region,
        plaintext: text.as_bytes().to_vec(),
        context: context
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        blob,
    }
}

/// The stored blob of every material is the material wrapped under its
/// region's domain key and nothing else: this test's own PKCS#11 session
/// unwraps it (with CKM_AES_KEY_WRAP_PAD, under the domain key, whose
/// attributes it checks first) and decrypts with it what the server
/// encrypted, including the material of a multi-Region key that was rotated
/// and then replicated, which the destination stored under its own domain
/// key.
#[tokio::test(flavor = "multi_thread")]
async fn stored_blobs_are_keys_wrapped_under_a_domain_key_only_trusted_keys_can_wrap() {
    let server = Server::start();
    let east = server.client(EAST);
    let west = server.client(WEST);
    let single = common::new_key(&east).await;
    let multi = east
        .create_key()
        .multi_region(true)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let mut made = vec![
        encrypt(&east, EAST, &single, "single-Region", &[]).await,
        encrypt(
            &east,
            EAST,
            &multi,
            "first material",
            &[("tenant", "a"), ("purpose", "custody")],
        )
        .await,
    ];
    east.rotate_key_on_demand()
        .key_id(&multi)
        .send()
        .await
        .unwrap_or_else(|e| panic!("RotateKeyOnDemand: {e:?}"));
    made.push(encrypt(&east, EAST, &multi, "second material", &[("n", "2")]).await);
    replicate(&east, &multi).await;
    made.push(
        encrypt(
            &west,
            WEST,
            &multi,
            "made by the replica",
            &[("at", "west")],
        )
        .await,
    );
    let data = server.stop();

    // SoftHSM reads its configuration at C_Initialize; no other test of
    // this binary loads a PKCS#11 module or sets this variable.
    unsafe { std::env::set_var("SOFTHSM2_CONF", data.path.join("softhsm2.conf")) };
    let ctx = Pkcs11::new(SOFTHSM).unwrap();
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    let db = rusqlite::Connection::open(data.path.join("trent.db")).unwrap();
    let sessions: BTreeMap<&str, (Session, ObjectHandle)> = [EAST, WEST]
        .into_iter()
        .map(|region| {
            let pin = std::fs::read_to_string(data.path.join(format!("secrets/{region}.pin")))
                .expect("dev-mode PIN file");
            let session = proof::logged_in(&ctx, &format!("trent-{region}"), pin.trim());
            let key = proof::checked_domain_key(
                &session,
                region,
                proof::DomainKeyOrigin::SharedGenerated,
            );
            (region, (session, key))
        })
        .collect();

    for m in &made {
        let (session, domain_key) = &sessions[m.region];
        let plain =
            proof::decrypt_from_store(session, *domain_key, &db, m.region, &m.blob, &m.context);
        assert_eq!(plain, m.plaintext);
    }

    // Each region's blob of the replicated material is its own: the other
    // region's domain key cannot unwrap it, and the two blobs differ.
    let first = proof::parse(&made[1].blob);
    let east_blob = proof::stored_blob(&db, EAST, first.key_id, &first.material_id);
    let west_blob = proof::stored_blob(&db, WEST, first.key_id, &first.material_id);
    assert_ne!(east_blob, west_blob);
    let (west_session, west_domain_key) = &sessions[WEST];
    assert!(proof::unwrap_for_test(west_session, *west_domain_key, &east_blob).is_err());
    assert_eq!(
        proof::decrypt_from_store(
            west_session,
            *west_domain_key,
            &db,
            WEST,
            &made[1].blob,
            &made[1].context
        ),
        made[1].plaintext
    );
}

/// Replicates `key` from us-east-1 to us-west-2.
async fn replicate(primary: &Client, key: &str) {
    primary
        .replicate_key()
        .key_id(key)
        .replica_region(WEST)
        .send()
        .await
        .unwrap_or_else(|e| panic!("ReplicateKey: {e:?}"));
}

/// OpenSC's PKCS#11 spy (Debian package `opensc-pkcs11`).
fn spy_module() -> PathBuf {
    std::fs::read_dir("/usr/lib")
        .unwrap()
        .map(|e| e.unwrap().path().join("pkcs11-spy.so"))
        .find(|p| p.exists())
        .expect("pkcs11-spy.so not found under /usr/lib/*/: apt-get install opensc-pkcs11")
}

/// One PKCS#11 call as the spy logged it: its name and every line of it.
#[derive(Debug)]
struct Call {
    name: String,
    lines: Vec<String>,
}

impl Call {
    fn mentions(&self, word: &str) -> bool {
        self.lines
            .iter()
            .any(|l| l.split_whitespace().any(|w| w == word))
    }

    /// Attribute types the call names, in a template or attribute list.
    fn attribute_types(&self) -> impl Iterator<Item = &str> {
        self.lines
            .iter()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|w| w.starts_with("CKA_"))
    }
}

/// Splits spy output into calls; a call starts with a line `N: C_Name`.
fn calls(log: &str) -> Vec<Call> {
    let mut out: Vec<Call> = Vec::new();
    for line in log.lines() {
        let header = line
            .split_once(": ")
            .filter(|(n, name)| {
                n.bytes().all(|b| b.is_ascii_digit()) && !n.is_empty() && name.starts_with("C_")
            })
            .map(|(_, name)| name.trim().to_string());
        match (header, out.last_mut()) {
            (Some(name), _) => out.push(Call {
                name,
                lines: Vec::new(),
            }),
            (None, Some(call)) => call.lines.push(line.to_string()),
            (None, None) => {}
        }
    }
    out
}

/// Attributes that hold key values: a secret key's or EC private key's
/// CKA_VALUE (0x11), and an RSA private key's private components.
const VALUE_ATTRIBUTES: [&str; 7] = [
    "CKA_VALUE",
    "CKA_PRIVATE_EXPONENT",
    "CKA_PRIME_1",
    "CKA_PRIME_2",
    "CKA_EXPONENT_1",
    "CKA_EXPONENT_2",
    "CKA_COEFFICIENT",
];

/// Asserts that no call reads a key value or creates a key from clear
/// bytes. Every call of the log is checked, so the spy's interleaving of
/// concurrent calls cannot hide one.
fn assert_no_clear_key_material(phase: &str, calls: &[Call]) {
    for call in calls {
        if let Some(attribute) = call
            .attribute_types()
            .find(|a| VALUE_ATTRIBUTES.contains(a))
        {
            panic!("{phase}: {} names {attribute}:\n{call:#?}", call.name);
        }
        if call.name == "C_CreateObject" {
            assert!(
                !call.mentions("CKO_SECRET_KEY") && !call.mentions("CKO_PRIVATE_KEY"),
                "{phase}: a key created from clear bytes:\n{call:#?}"
            );
        }
    }
}

/// A PKCS#11 mechanism: its name and its number (the spy prints the
/// number, as `0x0000210A`, for mechanisms it has no name for).
type Mech = (&'static str, u64);
const AES_KEY_GEN: Mech = ("CKM_AES_KEY_GEN", 0x1080);
const AES_ECB: Mech = ("CKM_AES_ECB", 0x1081);
const AES_KEY_WRAP_PAD: Mech = ("CKM_AES_KEY_WRAP_PAD", 0x210a);
const EC_KEY_PAIR_GEN: Mech = ("CKM_EC_KEY_PAIR_GEN", 0x1040);
const ECDH1_DERIVE: Mech = ("CKM_ECDH1_DERIVE", 0x1050);

/// Calls named `name` that use `mechanism`.
fn count(calls: &[Call], name: &str, (mechanism, number): Mech) -> usize {
    let number = format!("0x{number:08X}");
    calls
        .iter()
        .filter(|c| {
            c.name == name
                && c.lines.iter().any(|l| {
                    l.strip_prefix("[in] pMechanism->type = ")
                        .is_some_and(|m| m.trim() == mechanism || m.trim() == number)
                })
        })
        .count()
}

/// The spy's output, read phase by phase.
struct Spy {
    log: PathBuf,
    read: usize,
}

impl Spy {
    /// The calls logged since the last call of this method. The spy
    /// flushes after every call, so a finished request's calls are there.
    fn since_last(&mut self) -> Vec<Call> {
        let text = std::fs::read(&self.log)
            .unwrap_or_else(|e| panic!("the spy wrote no log at {}: {e}", self.log.display()));
        let new = String::from_utf8_lossy(&text[self.read..]).into_owned();
        self.read = text.len();
        calls(&new)
    }
}

/// Through CreateKey, RotateKeyOnDemand and ReplicateKey (and the rotation
/// of a replicated key), no PKCS#11 call the server makes reads the value of
/// a key or creates one from clear bytes. The server's module is OpenSC's
/// pkcs11-spy in front of SoftHSM, which logs every call with its
/// templates; each phase must show the calls it is known to make (key
/// generation, wrapping, unwrapping, the ECDH exchange), so a spy that
/// recorded nothing fails the test too.
#[tokio::test(flavor = "multi_thread")]
async fn no_pkcs11_call_reads_or_imports_a_key_value() {
    let dir = tempfile::TempDir::new().unwrap();
    let log = dir.path().join("pkcs11-spy.log");
    let spy = spy_module();
    let server = Server::start_with_env(&[
        ("TRENT_SOFTHSM_MODULE", spy.to_str().unwrap()),
        ("PKCS11SPY", SOFTHSM),
        ("PKCS11SPY_OUTPUT", log.to_str().unwrap()),
    ]);
    let mut spy = Spy { log, read: 0 };
    let start_up = spy.since_last();
    assert!(
        count(&start_up, "C_GenerateKey", AES_KEY_GEN) >= 2,
        "the spy saw no domain key being made: {:?}",
        start_up.iter().map(|c| &c.name).collect::<Vec<_>>()
    );
    assert_no_clear_key_material("start-up", &start_up);
    let east = server.client(EAST);

    let names = |calls: &[Call]| calls.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    // Generation: a session key made in the token, wrapped under the
    // domain key, a use copy unwrapped from the blob, and the row's tag
    // made from AES-ECB blocks of the row-tag key.
    let assert_generated = |phase: &str, calls: &[Call]| {
        assert_no_clear_key_material(phase, calls);
        for (name, mechanism) in [
            ("C_GenerateKey", AES_KEY_GEN),
            ("C_WrapKey", AES_KEY_WRAP_PAD),
            ("C_UnwrapKey", AES_KEY_WRAP_PAD),
            ("C_EncryptInit", AES_ECB),
        ] {
            assert!(
                count(calls, name, mechanism) >= 1,
                "{phase}: no {name} with {} in {:?}",
                mechanism.0,
                names(calls)
            );
        }
    };

    let key = east
        .create_key()
        .multi_region(true)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    assert_generated("CreateKey", &spy.since_last());
    let first = encrypt(&east, EAST, &key, "before rotation", &[]).await;
    spy.since_last();

    east.rotate_key_on_demand()
        .key_id(&key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("RotateKeyOnDemand: {e:?}"));
    assert_generated("RotateKeyOnDemand", &spy.since_last());

    // Replication of both materials: an ECDH exchange between the tokens,
    // each material unwrapped as a transit copy and wrapped under the
    // transport key, unwrapped on the other side and re-wrapped under that
    // token's domain key.
    replicate(&east, &key).await;
    let replication = spy.since_last();
    assert_no_clear_key_material("ReplicateKey", &replication);
    for (name, mechanism, at_least) in [
        ("C_GenerateKeyPair", EC_KEY_PAIR_GEN, 2),
        ("C_DeriveKey", ECDH1_DERIVE, 2),
        ("C_WrapKey", AES_KEY_WRAP_PAD, 4),
        ("C_UnwrapKey", AES_KEY_WRAP_PAD, 4),
    ] {
        assert!(
            count(&replication, name, mechanism) >= at_least,
            "ReplicateKey: fewer than {at_least} {name} with {} in {:?}",
            mechanism.0,
            names(&replication)
        );
    }

    // Rotating a replicated key carries the new material to the replica.
    east.rotate_key_on_demand()
        .key_id(&key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("RotateKeyOnDemand of a replicated key: {e:?}"));
    let rotation = spy.since_last();
    assert_no_clear_key_material("RotateKeyOnDemand with a replica", &rotation);
    assert!(count(&rotation, "C_GenerateKey", AES_KEY_GEN) >= 1);
    assert!(count(&rotation, "C_DeriveKey", ECDH1_DERIVE) >= 2);

    // The keys still work through the spy, in both regions.
    let west = server.client(WEST);
    for kms in [&east, &west] {
        let out = kms
            .decrypt()
            .ciphertext_blob(Blob::new(first.blob.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(out.plaintext.unwrap().as_ref(), first.plaintext);
    }
    server.stop();
    // The whole log at once, so that no call straddling two phases' reads
    // escapes the check.
    let whole = std::fs::read_to_string(&spy.log).unwrap();
    assert_no_clear_key_material("the whole run", &calls(&whole));
}
