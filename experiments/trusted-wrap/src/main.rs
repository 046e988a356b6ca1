//! Experiment: CKA_WRAP_WITH_TRUSTED / CKA_TRUSTED enrolment on SoftHSM 2.6.1.
//!
//! Run `./run.sh` (re-creates tokens A and B, builds, runs `trusted-exp main`).
//! `main` is the member process P1 (user logged in on A, and on B as the joining
//! node). It spawns itself as `so-create` / `so-ecdh` to act as the SO of token A in
//! a SECOND process while P1 stays logged in as user on A.

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use std::process::Command;

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const P256: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

// ---------------------------------------------------------------- helpers

fn ckr(rv: &RvError) -> String {
    let name = format!("{rv:?}");
    let mut out = String::from("CKR");
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

fn code(e: &Error) -> String {
    match e {
        Error::Pkcs11(rv, f) => format!("{} (in {:?})", ckr(rv), f),
        other => format!("{other}"),
    }
}

/// Print one observation line and pass the value on.
fn obs<T>(tag: &str, what: &str, res: Result<T, Error>) -> Option<T> {
    match res {
        Ok(v) => {
            println!("[{tag}] {what}: OK");
            Some(v)
        }
        Err(e) => {
            println!("[{tag}] {what}: FAIL {}", code(&e));
            None
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn pin(s: &str) -> AuthPin {
    AuthPin::from(s.to_string())
}

fn init() -> Pkcs11 {
    let p = Pkcs11::new(std::env::var("PKCS11_MODULE").unwrap_or(MODULE.into())).unwrap();
    p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)).unwrap();
    p
}

fn slot(p: &Pkcs11, label: &str) -> Slot {
    for s in p.get_slots_with_token().unwrap() {
        if let Ok(ti) = p.get_token_info(s) {
            if ti.label().trim() == label {
                return s;
            }
        }
    }
    panic!("no token {label}");
}

fn find(s: &Session, label: &str) -> Vec<ObjectHandle> {
    s.find_objects(&[Attribute::Label(label.as_bytes().to_vec())]).unwrap()
}

fn dump(tag: &str, s: &Session, o: ObjectHandle) {
    use AttributeType as T;
    let want = [
        T::Token, T::Private, T::Sensitive, T::AlwaysSensitive, T::Extractable,
        T::NeverExtractable, T::WrapWithTrusted, T::Trusted, T::Modifiable, T::Local,
        T::Wrap, T::Unwrap, T::Encrypt, T::Decrypt,
    ];
    match s.get_attributes(o, &want) {
        Ok(attrs) => {
            let v: Vec<String> = attrs.iter().map(|a| format!("{a:?}")).collect();
            println!("[{tag}]   attrs: {}", v.join(" "));
        }
        Err(e) => println!("[{tag}]   attrs: FAIL {}", code(&e)),
    }
}

/// cryptoki 0.12 has no array-attribute variant: build CKA_UNWRAP_TEMPLATE as a
/// raw CK_ATTRIBUTE array (same approach as trent's open.rs::with_unwrap_template).
fn with_unwrap_template<T>(attributes: &[Attribute], call: impl FnOnce(Attribute) -> T) -> T {
    use cryptoki_sys::{CK_ATTRIBUTE, CKA_UNWRAP_TEMPLATE};
    use std::mem::{offset_of, size_of};
    let stride = size_of::<CK_ATTRIBUTE>();
    let mut bytes = vec![0u8; stride * attributes.len()];
    for (entry, attribute) in bytes.chunks_exact_mut(stride).zip(attributes) {
        let raw = CK_ATTRIBUTE::from(attribute);
        let mut put = |offset: usize, field: &[u8]| {
            entry[offset..offset + field.len()].copy_from_slice(field);
        };
        put(offset_of!(CK_ATTRIBUTE, type_), &raw.type_.to_ne_bytes());
        put(offset_of!(CK_ATTRIBUTE, pValue), &(raw.pValue as usize).to_ne_bytes());
        put(offset_of!(CK_ATTRIBUTE, ulValueLen), &raw.ulValueLen.to_ne_bytes());
    }
    call(Attribute::VendorDefined((
        cryptoki::object::AttributeType::VendorDefined(CKA_UNWRAP_TEMPLATE),
        bytes,
    )))
}

fn oaep() -> Mechanism<'static> {
    Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
        MechanismType::SHA1,
        PkcsMgfType::MGF1_SHA1,
        PkcsOaepSource::empty(),
    ))
}

/// The domain key attribute set asked about in Q1, plus `extra`, with
/// CKA_MODIFIABLE LAST: SoftHSM 2.6.1 applies a C_UnwrapKey / C_CopyObject template
/// in order and refuses (CKR_ATTRIBUTE_READ_ONLY) every attribute after
/// CKA_MODIFIABLE=false (see Q4-bisect).
fn dk_attrs_with(token: bool, modifiable: bool, extra: Vec<Attribute>) -> Vec<Attribute> {
    let mut v = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(token),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(true),
        Attribute::WrapWithTrusted(true),
        Attribute::Wrap(true),
        Attribute::Unwrap(true),
        Attribute::Encrypt(false),
        Attribute::Decrypt(false),
        Attribute::Sign(false),
        Attribute::Verify(false),
        Attribute::Derive(false),
    ];
    v.extend(extra);
    v.push(Attribute::Modifiable(modifiable));
    v
}

/// Same as the first version of this program used: CKA_MODIFIABLE in the middle.
fn dk_attrs_mid(token: bool, modifiable: bool) -> Vec<Attribute> {
    let mut v = dk_attrs_with(token, modifiable, vec![]);
    let m = v.pop().unwrap();
    v.insert(7, m);
    v
}

fn dk_attrs(token: bool, modifiable: bool) -> Vec<Attribute> {
    dk_attrs_with(token, modifiable, vec![])
}

/// Trent's domain-key unwrap template: what is unwrapped under the domain key.
fn trent_unwrap_tmpl() -> Vec<Attribute> {
    vec![Attribute::Token(false), Attribute::Sensitive(true), Attribute::Unwrap(false)]
}

fn gen_dk(s: &Session, label: &str, modifiable: bool, tmpl: bool) -> Result<ObjectHandle, Error> {
    let extra = vec![Attribute::ValueLen(32.into()), Attribute::Label(label.as_bytes().to_vec())];
    if tmpl {
        let inner = trent_unwrap_tmpl();
        with_unwrap_template(&inner, |t| {
            let mut e = extra.clone();
            e.push(t);
            s.generate_key(&Mechanism::AesKeyGen, &dk_attrs_with(true, modifiable, e))
        })
    } else {
        s.generate_key(&Mechanism::AesKeyGen, &dk_attrs_with(true, modifiable, extra))
    }
}

/// Known-value AES-256 test key (session object, extractable, not sensitive, encrypt).
fn test_key(s: &Session) -> ObjectHandle {
    s.create_object(&[
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(false),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
        Attribute::Encrypt(true),
        Attribute::Value((1u8..=32).collect()),
    ])
    .unwrap()
}

fn rsa_pub_template(modulus: &[u8], exp: &[u8], label: &str) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Modulus(modulus.to_vec()),
        Attribute::PublicExponent(exp.to_vec()),
        Attribute::Wrap(true),
        Attribute::Encrypt(false),
        Attribute::Verify(false),
        Attribute::Label(label.as_bytes().to_vec()),
    ]
}

fn rsa_parts(s: &Session, pubk: ObjectHandle) -> (Vec<u8>, Vec<u8>) {
    let a = s.get_attributes(pubk, &[AttributeType::Modulus, AttributeType::PublicExponent]).unwrap();
    let (mut m, mut e) = (vec![], vec![]);
    for x in a {
        match x {
            Attribute::Modulus(v) => m = v,
            Attribute::PublicExponent(v) => e = v,
            _ => {}
        }
    }
    (m, e)
}

fn ec_point(s: &Session, pubk: ObjectHandle) -> Vec<u8> {
    match s.get_attributes(pubk, &[AttributeType::EcPoint]).unwrap().pop() {
        Some(Attribute::EcPoint(p)) => p,
        _ => panic!("no EC point"),
    }
}

fn ec_pair(s: &Session, private_objects: bool) -> Result<(ObjectHandle, ObjectHandle), Error> {
    s.generate_key_pair(
        &Mechanism::EccKeyPairGen,
        &[Attribute::Token(false), Attribute::Private(false), Attribute::EcParams(P256.to_vec())],
        &[
            Attribute::Token(false),
            Attribute::Private(private_objects),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Derive(true),
        ],
    )
}

fn ecdh_template(trusted: bool, token: bool, private: bool, label: &str) -> Vec<Attribute> {
    let mut t = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::ValueLen(32.into()),
        Attribute::Token(token),
        Attribute::Private(private),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Wrap(true),
        Attribute::Unwrap(true),
        Attribute::Label(label.as_bytes().to_vec()),
    ];
    if trusted {
        t.push(Attribute::Trusted(true));
    }
    t
}

// ---------------------------------------------------------------- SO child (process 2)

/// args: <token> <so-pin> then triples <label> <modulus-hex> <exp-hex> <variant>
/// variant: plain | oaep-only | modifiable | private
fn so_create(args: &[String]) {
    let p = init();
    let sl = slot(&p, &args[0]);
    let s = p.open_rw_session(sl).unwrap();
    let tag = "Q3-child";
    println!("[{tag}] pid {}", std::process::id());
    obs(tag, "SO C_Login in second process while P1 is logged in as user", s.login(UserType::So, Some(&pin(&args[1]))));
    for t in args[2..].chunks(4) {
        let (label, m, e, variant) = (&t[0], unhex(&t[1]), unhex(&t[2]), t[3].as_str());
        let mut a = rsa_pub_template(&m, &e, label);
        a.push(Attribute::Token(true));
        a.push(Attribute::Trusted(true));
        a.push(Attribute::Private(variant == "private"));
        a.push(Attribute::Modifiable(variant == "modifiable"));
        if variant == "oaep-only" {
            a.push(Attribute::AllowedMechanisms(vec![MechanismType::RSA_PKCS_OAEP]));
        }
        let what = format!("SO C_CreateObject trusted RSA public key '{label}' (variant {variant})");
        if let Some(h) = obs(tag, &what, s.create_object(&a)) {
            dump(tag, &s, h);
        }
    }
    let _ = s.logout();
}

/// args: <token> <so-pin> <peer-point-hex>. SO makes an EC pair (public objects) and
/// derives a trusted AES token key from the peer's point. Prints "POINT <hex>".
fn so_ecdh(args: &[String]) {
    let p = init();
    let s = p.open_rw_session(slot(&p, &args[0])).unwrap();
    let tag = "Q7-child";
    obs(tag, "SO C_Login", s.login(UserType::So, Some(&pin(&args[1]))));
    let Some((pubk, privk)) = obs(tag, "SO C_GenerateKeyPair EC P-256 (CKA_PRIVATE=false objects)", ec_pair(&s, false)) else {
        return;
    };
    println!("POINT {}", hex(&ec_point(&s, pubk)));
    let peer = unhex(&args[2]);
    let mech = Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), &peer));
    if let Some(h) = obs(tag, "SO C_DeriveKey ECDH1 -> AES token key CKA_TRUSTED=true CKA_PRIVATE=false",
        s.derive_key(&mech, privk, &ecdh_template(true, true, false, "trusted-ecdh"))) {
        dump(tag, &s, h);
    }
    // locked variant: wrap only, MODIFIABLE=false last
    let locked = [
        Attribute::Class(ObjectClass::SECRET_KEY), Attribute::KeyType(KeyType::AES), Attribute::ValueLen(32.into()),
        Attribute::Token(true), Attribute::Private(false), Attribute::Sensitive(true), Attribute::Extractable(false),
        Attribute::Trusted(true), Attribute::Wrap(true), Attribute::Unwrap(false), Attribute::Encrypt(false),
        Attribute::Decrypt(false), Attribute::Sign(false), Attribute::Verify(false), Attribute::Derive(false),
        Attribute::Label(b"trusted-ecdh-locked".to_vec()), Attribute::Modifiable(false),
    ];
    if let Some(h) = obs(tag, "SO C_DeriveKey ECDH1 -> 'trusted-ecdh-locked' (wrap only, MODIFIABLE=false)", s.derive_key(&mech, privk, &locked)) {
        dump(tag, &s, h);
    }
    let _ = s.logout();
}

fn spawn(args: &[String]) -> String {
    let out = Command::new(std::env::current_exe().unwrap()).args(args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    for l in text.lines() {
        if !l.starts_with("POINT ") {
            println!("    {l}");
        }
    }
    if !out.status.success() {
        println!("    child failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    text
}

// ---------------------------------------------------------------- main flow (process 1)

fn main_flow() {
    let p = init();
    let (sla, slb) = (slot(&p, "A"), slot(&p, "B"));
    println!("P1 pid {}", std::process::id());
    let a = p.open_rw_session(sla).unwrap();
    a.login(UserType::User, Some(&pin("user-pin-A"))).unwrap();
    let b = p.open_rw_session(slb).unwrap();
    b.login(UserType::User, Some(&pin("user-pin-B"))).unwrap();
    let kwp = Mechanism::AesKeyWrapPad;

    // ---- Q1 / Q6
    let dk = obs("Q1", "user C_GenerateKey domain key 'dk-plain' (token, EXTRACTABLE, WRAP_WITH_TRUSTED, SENSITIVE, MODIFIABLE=false)", gen_dk(&a, "dk-plain", false, false)).unwrap();
    dump("Q1", &a, dk);
    let dkt = obs("Q6", "same + CKA_UNWRAP_TEMPLATE {TOKEN=false,SENSITIVE=true,UNWRAP=false} 'dk-tmpl'", gen_dk(&a, "dk-tmpl", false, true)).unwrap();
    dump("Q6", &a, dkt);
    let dkm = obs("Q1", "same but MODIFIABLE=true 'dk-mod' (for Q5 stickiness)", gen_dk(&a, "dk-mod", true, false)).unwrap();

    // ---- joining node B: RSA pairs. join-B: no unwrap template; join-B-t: private key
    //      carries an unwrap template pinning the domain key attributes.
    let rsa_pub = |label: &str| {
        vec![
            Attribute::Token(true), Attribute::Private(false), Attribute::ModulusBits(2048.into()),
            Attribute::PublicExponent(vec![1, 0, 1]), Attribute::Wrap(true), Attribute::Encrypt(false),
            Attribute::Verify(false), Attribute::Label(label.as_bytes().to_vec()),
        ]
    };
    let rsa_priv = |label: &str| {
        vec![
            Attribute::Token(true), Attribute::Private(true), Attribute::Sensitive(true),
            Attribute::Extractable(false), Attribute::Unwrap(true), Attribute::Decrypt(false),
            Attribute::Sign(false), Attribute::Label(label.as_bytes().to_vec()),
        ]
    };
    let (jpub, jpriv) = b.generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &rsa_pub("join-B"), &rsa_priv("join-B")).unwrap();
    let pin_tmpl = {
        let mut v = dk_attrs(true, false);
        v.retain(|x| !matches!(x, Attribute::Class(_) | Attribute::KeyType(_)));
        v
    };
    let (jtpub, jtpriv) = {
        let mut pr = rsa_priv("join-B-t");
        obs("Q4", "B user C_GenerateKeyPair RSA-2048 whose private key has CKA_UNWRAP_TEMPLATE = domain-key attrs",
            with_unwrap_template(&pin_tmpl, |t| {
                pr.push(t);
                b.generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &rsa_pub("join-B-t"), &pr)
            }))
        .unwrap()
    };
    let (m, e) = rsa_parts(&b, jpub);
    let (mt, et) = rsa_parts(&b, jtpub);

    // ---- Q2: enforcement against untrusted wrapping keys
    let kek = a.generate_key(&Mechanism::AesKeyGen, &[
        Attribute::Token(false), Attribute::ValueLen(32.into()), Attribute::Wrap(true), Attribute::Unwrap(true),
    ]).unwrap();
    let tk = test_key(&a);
    obs("Q2a", "control: C_WrapKey test key (no WRAP_WITH_TRUSTED) under user AES KEK, KWP", a.wrap_key(&kwp, kek, tk));
    obs("Q2a", "C_WrapKey dk-plain under user AES KEK, CKM_AES_KEY_WRAP_PAD", a.wrap_key(&kwp, kek, dk));
    obs("Q2a", "C_WrapKey dk-tmpl under user AES KEK, CKM_AES_KEY_WRAP_PAD", a.wrap_key(&kwp, kek, dkt));
    obs("Q2a", "C_WrapKey dk-plain under user AES KEK, CKM_AES_KEY_WRAP", a.wrap_key(&Mechanism::AesKeyWrap, kek, dk));
    let (upub, _upriv) = a.generate_key_pair(&Mechanism::RsaPkcsKeyPairGen,
        &[Attribute::Token(false), Attribute::ModulusBits(2048.into()), Attribute::PublicExponent(vec![1, 0, 1]), Attribute::Wrap(true)],
        &[Attribute::Token(false), Attribute::Unwrap(true)]).unwrap();
    obs("Q2b", "control: C_WrapKey test key under user-generated RSA pub, OAEP SHA-1", a.wrap_key(&oaep(), upub, tk));
    obs("Q2b", "C_WrapKey dk-plain under user-generated RSA pub, OAEP SHA-1", a.wrap_key(&oaep(), upub, dk));
    obs("Q2b", "C_WrapKey dk-plain under user-generated RSA pub, CKM_RSA_PKCS", a.wrap_key(&Mechanism::RsaPkcs, upub, dk));
    let mut ut = rsa_pub_template(&m, &e, "user-created-B-pub");
    ut.push(Attribute::Token(false));
    let ucreated = a.create_object(&ut).unwrap();
    obs("Q2b", "C_WrapKey dk-plain under user C_CreateObject'd RSA pub (B's modulus), OAEP SHA-1", a.wrap_key(&oaep(), ucreated, dk));

    // ---- Q5: can the user undo or forge trust?
    obs("Q5", "user C_SetAttributeValue dk-plain WRAP_WITH_TRUSTED=false (MODIFIABLE=false)", a.update_attributes(dk, &[Attribute::WrapWithTrusted(false)]));
    obs("Q5", "user C_SetAttributeValue dk-mod WRAP_WITH_TRUSTED=false (MODIFIABLE=true)", a.update_attributes(dkm, &[Attribute::WrapWithTrusted(false)]));
    dump("Q5", &a, dkm);
    obs("Q5", "user C_SetAttributeValue dk-mod SENSITIVE=false", a.update_attributes(dkm, &[Attribute::Sensitive(false)]));
    obs("Q5", "user C_SetAttributeValue dk-mod EXTRACTABLE=false (allowed direction)", a.update_attributes(dkm, &[Attribute::Extractable(false)]));
    obs("Q5", "user C_CopyObject dk-plain with WRAP_WITH_TRUSTED=false", a.copy_object(dk, &[Attribute::WrapWithTrusted(false)]));
    obs("Q5", "user C_CopyObject dk-plain with TOKEN=false", a.copy_object(dk, &[Attribute::Token(false)]))
        .map(|c| { dump("Q5", &a, c); obs("Q5", "C_WrapKey that copy under user AES KEK", a.wrap_key(&kwp, kek, c)); });
    let mut tt = rsa_pub_template(&m, &e, "user-trusted");
    tt.push(Attribute::Token(false));
    tt.push(Attribute::Trusted(true));
    obs("Q5", "user C_CreateObject RSA pub with CKA_TRUSTED=true (session obj)", a.create_object(&tt));
    tt.retain(|x| !matches!(x, Attribute::Token(_)));
    tt.push(Attribute::Token(true));
    obs("Q5", "user C_CreateObject RSA pub with CKA_TRUSTED=true (token obj)", a.create_object(&tt));
    obs("Q5", "user C_SetAttributeValue CKA_TRUSTED=true on its own RSA pub", a.update_attributes(ucreated, &[Attribute::Trusted(true)]));
    obs("Q5", "user C_GenerateKey AES with CKA_TRUSTED=true", a.generate_key(&Mechanism::AesKeyGen,
        &[Attribute::Token(false), Attribute::ValueLen(32.into()), Attribute::Wrap(true), Attribute::Trusted(true)]));
    obs("Q5", "user C_GenerateKeyPair RSA with public CKA_TRUSTED=true", a.generate_key_pair(&Mechanism::RsaPkcsKeyPairGen,
        &[Attribute::Token(false), Attribute::ModulusBits(2048.into()), Attribute::PublicExponent(vec![1, 0, 1]), Attribute::Wrap(true), Attribute::Trusted(true)],
        &[Attribute::Token(false), Attribute::Unwrap(true)]));

    // ---- Q3: SO in the same process, then in a second process
    let a2 = p.open_rw_session(sla).unwrap();
    obs("Q3", "same process, user logged in: C_Login SO on a 2nd session of A", a2.login(UserType::So, Some(&pin("so-pin-A"))));
    drop(a2);
    println!("[Q3] spawning second process to log in as SO on A and create trusted objects...");
    let child: Vec<String> = [
        "so-create", "A", "so-pin-A",
        "trusted-B-pub", &hex(&m), &hex(&e), "plain",
        "trusted-B-pub-oaep", &hex(&m), &hex(&e), "oaep-only",
        "trusted-B-pub-mod", &hex(&m), &hex(&e), "modifiable",
        "trusted-B-pub-priv", &hex(&m), &hex(&e), "private",
        "trusted-B-t-pub", &hex(&mt), &hex(&et), "plain",
    ].iter().map(|s| s.to_string()).collect();
    spawn(&child);
    println!("[Q3] P1 session state on A after child exit: {:?}", a.get_session_info().map(|i| i.session_state()));
    for l in ["trusted-B-pub", "trusted-B-pub-oaep", "trusted-B-pub-mod", "trusted-B-pub-priv", "trusted-B-t-pub"] {
        let h = find(&a, l);
        println!("[Q3] P1 (no re-login) C_FindObjects label={l}: {} object(s)", h.len());
        if let Some(&h) = h.first() {
            dump("Q3", &a, h);
        }
    }
    let tr = find(&a, "trusted-B-pub")[0];
    let tro = find(&a, "trusted-B-pub-oaep")[0];
    let trm = find(&a, "trusted-B-pub-mod")[0];
    let trt = find(&a, "trusted-B-t-pub")[0];

    // user tampering with the SO's trusted object
    let evil = vec![0xffu8; 256];
    obs("Q5", "user C_SetAttributeValue CKA_MODULUS on trusted-B-pub (MODIFIABLE=false)", a.update_attributes(tr, &[Attribute::Modulus(evil.clone())]));
    obs("Q5", "user C_SetAttributeValue CKA_MODULUS on trusted-B-pub-mod (MODIFIABLE=true)", a.update_attributes(trm, &[Attribute::Modulus(evil.clone())]));
    obs("Q5", "user C_SetAttributeValue CKA_TRUSTED=false on trusted-B-pub-mod", a.update_attributes(trm, &[Attribute::Trusted(false)]));
    obs("Q5", "user C_CopyObject trusted-B-pub with new CKA_MODULUS", a.copy_object(tr, &[Attribute::Modulus(evil.clone())]));
    obs("Q5", "user C_CopyObject trusted-B-pub unchanged (token=false)", a.copy_object(tr, &[Attribute::Token(false)]))
        .map(|c| dump("Q5", &a, c));

    // ---- Q4: wrap under trusted key, unwrap in B
    let blob = obs("Q4", "user C_WrapKey dk-plain under trusted-B-pub, OAEP SHA-1/MGF1-SHA1", a.wrap_key(&oaep(), tr, dk));
    let blobt = obs("Q4", "user C_WrapKey dk-tmpl under trusted-B-pub, OAEP SHA-1/MGF1-SHA1", a.wrap_key(&oaep(), tr, dkt));
    obs("Q4", "user C_WrapKey dk-plain under trusted-B-pub, CKM_RSA_PKCS (v1.5)", a.wrap_key(&Mechanism::RsaPkcs, tr, dk));
    obs("Q4", "user C_WrapKey dk-plain under trusted-B-pub-oaep (ALLOWED_MECHANISMS=OAEP), OAEP", a.wrap_key(&oaep(), tro, dk));
    obs("Q4", "user C_WrapKey dk-plain under trusted-B-pub-oaep (ALLOWED_MECHANISMS=OAEP), CKM_RSA_PKCS", a.wrap_key(&Mechanism::RsaPkcs, tro, dk));
    obs("Q2", "after trust exists: C_WrapKey dk-plain under user AES KEK still", a.wrap_key(&kwp, kek, dk));
    let blobt2 = obs("Q4", "user C_WrapKey dk-plain under trusted-B-t-pub, OAEP", a.wrap_key(&oaep(), trt, dk));

    let ut = dk_attrs_with(true, false, vec![Attribute::Label(b"dk-B-plain".to_vec())]);
    let dkb = blob.as_ref().and_then(|bl| {
        obs("Q4", "B user C_UnwrapKey (OAEP, join-B priv) -> token AES, EXTRACTABLE+WRAP_WITH_TRUSTED+SENSITIVE, wrap/unwrap only",
            b.unwrap_key(&oaep(), jpriv, bl, &ut))
    });
    if let Some(h) = dkb { dump("Q4", &b, h); }
    let dkbt = blobt.as_ref().and_then(|bl| {
        let inner = trent_unwrap_tmpl();
        with_unwrap_template(&inner, |t| {
            let ut = dk_attrs_with(true, false, vec![Attribute::Label(b"dk-B-tmpl".to_vec()), t]);
            obs("Q6", "B user C_UnwrapKey of dk-tmpl with the same attrs + CKA_UNWRAP_TEMPLATE in the unwrap template",
                b.unwrap_key(&oaep(), jpriv, bl, &ut))
        })
    });
    if let Some(h) = dkbt { dump("Q6", &b, h); }

    // bisect the CKR_ATTRIBUTE_READ_ONLY of the unwrap above
    if let Some(bl) = &blob {
        let full = dk_attrs_mid(true, false);
        let variants: Vec<(&str, Vec<Attribute>)> = vec![
            ("full dk attrs (MODIFIABLE=false in the middle)", full.clone()),
            ("without CKA_MODIFIABLE", full.iter().filter(|x| !matches!(x, Attribute::Modifiable(_))).cloned().collect()),
            ("MODIFIABLE=false moved to the END of the template", {
                let mut v: Vec<Attribute> = full.iter().filter(|x| !matches!(x, Attribute::Modifiable(_))).cloned().collect();
                v.push(Attribute::Modifiable(false)); v }),
            ("MODIFIABLE=true", dk_attrs(true, true)),
            ("without CKA_WRAP_WITH_TRUSTED (MODIFIABLE=false last)", {
                let mut v: Vec<Attribute> = full.iter().filter(|x| !matches!(x, Attribute::Modifiable(_) | Attribute::WrapWithTrusted(_))).cloned().collect();
                v.push(Attribute::Modifiable(false)); v }),
        ];
        for (name, mut v) in variants {
            v.insert(2, Attribute::Label(b"dk-B-bisect".to_vec()));
            if let Some(h) = obs("Q4-bisect", &format!("B C_UnwrapKey dk blob, template: {name}"), b.unwrap_key(&oaep(), jpriv, bl, &v)) {
                dump("Q4-bisect", &b, h);
                let _ = b.destroy_object(h);
            }
        }
        // the same ordering effect on C_GenerateKey / C_CreateObject, for reference
        let mut g = vec![Attribute::Modifiable(false)];
        g.extend(dk_attrs(false, false).into_iter().filter(|x| !matches!(x, Attribute::Modifiable(_))));
        g.push(Attribute::ValueLen(32.into()));
        obs("Q4-bisect", "A C_GenerateKey with MODIFIABLE=false FIRST in template", a.generate_key(&Mechanism::AesKeyGen, &g));
    }

    // proof of identity: KWP of a known test key under both domain keys
    let tkb = test_key(&b);
    if let Some(dkb) = dkb {
        let wa = a.wrap_key(&kwp, dk, tk).unwrap();
        let wb = b.wrap_key(&kwp, dkb, tkb).unwrap();
        println!("[Q4] KWP(test key) under dk-plain in A: {}", hex(&wa));
        println!("[Q4] KWP(test key) under dk-B-plain in B: {}", hex(&wb));
        println!("[Q4] identical: {}", wa == wb);
        let back = obs("Q4", "B C_UnwrapKey A's KWP blob under dk-B-plain", b.unwrap_key(&kwp, dkb, &wa, &[
            Attribute::Class(ObjectClass::SECRET_KEY), Attribute::KeyType(KeyType::AES), Attribute::Token(false),
            Attribute::Sensitive(false), Attribute::Extractable(true)]));
        if let Some(h) = back {
            if let Ok(v) = b.get_attributes(h, &[AttributeType::Value]) {
                println!("[Q4]   unwrapped value == 01..20: {}", matches!(&v[0], Attribute::Value(x) if *x == (1u8..=32).collect::<Vec<_>>()));
            }
        }
        obs("Q4", "B: C_WrapKey dk-B-plain under B's own (untrusted) join-B pub, OAEP (still sticky in B?)", b.wrap_key(&oaep(), jpub, dkb));
    }
    if let Some(dkbt) = dkbt {
        let wa = a.wrap_key(&kwp, dkt, tk).unwrap();
        let wb = b.wrap_key(&kwp, dkbt, tkb).unwrap();
        println!("[Q6] KWP(test key) under dk-tmpl (A) == under dk-B-tmpl (B): {}", wa == wb);
        obs("Q6", "B C_UnwrapKey A's blob under dk-B-tmpl with {TOKEN=false,SENSITIVE=true,UNWRAP=false}", b.unwrap_key(&kwp, dkbt, &wa, &[
            Attribute::Class(ObjectClass::SECRET_KEY), Attribute::KeyType(KeyType::AES), Attribute::Token(false),
            Attribute::Sensitive(true), Attribute::Unwrap(false)]));
        obs("Q6", "B C_UnwrapKey under dk-B-tmpl with SENSITIVE=false (must be refused by template)", b.unwrap_key(&kwp, dkbt, &wa, &[
            Attribute::Class(ObjectClass::SECRET_KEY), Attribute::KeyType(KeyType::AES), Attribute::Token(false),
            Attribute::Sensitive(false), Attribute::Unwrap(false)]));
    }

    // receiver-side template control: B's user picks the template for the domain key
    if let Some(bl) = &blob {
        let loose = [Attribute::Class(ObjectClass::SECRET_KEY), Attribute::KeyType(KeyType::AES), Attribute::Token(false),
            Attribute::Sensitive(false), Attribute::Extractable(true), Attribute::WrapWithTrusted(false)];
        if let Some(h) = obs("Q4-risk", "B user C_UnwrapKey dk blob under join-B (no unwrap template) with SENSITIVE=false, WRAP_WITH_TRUSTED=false", b.unwrap_key(&oaep(), jpriv, bl, &loose)) {
            match b.get_attributes(h, &[AttributeType::Value]) {
                Ok(v) => println!("[Q4-risk]   C_GetAttributeValue CKA_VALUE: {} bytes readable in clear", match &v[0] { Attribute::Value(x) => x.len(), _ => 0 }),
                Err(e) => println!("[Q4-risk]   CKA_VALUE: {}", code(&e)),
            }
        }
    }
    if let Some(bl) = &blobt2 {
        let loose = [Attribute::Class(ObjectClass::SECRET_KEY), Attribute::KeyType(KeyType::AES), Attribute::Token(false),
            Attribute::Sensitive(false), Attribute::Extractable(true), Attribute::WrapWithTrusted(false)];
        obs("Q4-risk", "B user C_UnwrapKey under join-B-t (priv has unwrap template) with SENSITIVE=false, WRAP_WITH_TRUSTED=false", b.unwrap_key(&oaep(), jtpriv, bl, &loose));
        let ok = dk_attrs_with(true, false, vec![Attribute::Label(b"dk-B-via-t".to_vec())]);
        if let Some(h) = obs("Q4", "B user C_UnwrapKey under join-B-t with exactly the domain-key attrs", b.unwrap_key(&oaep(), jtpriv, bl, &ok)) {
            dump("Q4", &b, h);
        }
        let mut partial = dk_attrs_with(true, false, vec![Attribute::Label(b"dk-B-partial".to_vec())]);
        partial.retain(|x| !matches!(x, Attribute::WrapWithTrusted(_)));
        obs("Q4", "B user C_UnwrapKey under join-B-t omitting WRAP_WITH_TRUSTED from the template", b.unwrap_key(&oaep(), jtpriv, bl, &partial));
        if let Some(c) = obs("Q4-risk", "B user C_CopyObject join-B-t private key (TOKEN=false)", b.copy_object(jtpriv, &[Attribute::Token(false)])) {
            obs("Q4-risk", "B user C_UnwrapKey under the COPY with SENSITIVE=false, WRAP_WITH_TRUSTED=false (template kept by copy?)", b.unwrap_key(&oaep(), c, bl, &loose));
        }
        let t_loose = [Attribute::Class(ObjectClass::SECRET_KEY), Attribute::KeyType(KeyType::AES), Attribute::Token(false),
            Attribute::Sensitive(false), Attribute::Extractable(true)];
        obs("Q4-risk", "B user C_SetAttributeValue CKA_UNWRAP_TEMPLATE (looser) on join-B-t private key",
            with_unwrap_template(&t_loose, |t| b.update_attributes(jtpriv, &[t])));
    }

    // a joining node can present a public key whose private half is exportable
    if let Some((_p, k)) = obs("Q4-risk", "B user C_GenerateKeyPair RSA with private SENSITIVE=false, EXTRACTABLE=true", b.generate_key_pair(&Mechanism::RsaPkcsKeyPairGen,
        &[Attribute::Token(false), Attribute::ModulusBits(2048.into()), Attribute::PublicExponent(vec![1, 0, 1]), Attribute::Wrap(true)],
        &[Attribute::Token(false), Attribute::Sensitive(false), Attribute::Extractable(true), Attribute::Unwrap(true)])) {
        println!("[Q4-risk]   CKA_PRIVATE_EXPONENT readable: {}", b.get_attributes(k, &[AttributeType::PrivateExponent]).is_ok());
    }

    // ---- Q7: ECDH-derived trusted keys
    {
        // CKA_DERIVE_TEMPLATE (PKCS#11 3.0, 0x40000213) on an EC private key: supported by SoftHSM 2.6.1?
        let dt = [Attribute::Sensitive(true)];
        let r = with_unwrap_template(&dt, |t| {
            let Attribute::VendorDefined((_, bytes)) = t else { unreachable!() };
            let t = Attribute::VendorDefined((AttributeType::VendorDefined(0x4000_0213), bytes));
            b.generate_key_pair(&Mechanism::EccKeyPairGen,
                &[Attribute::Token(false), Attribute::EcParams(P256.to_vec())],
                &[Attribute::Token(false), Attribute::Sensitive(true), Attribute::Derive(true), t])
        });
        obs("Q7", "B C_GenerateKeyPair EC with CKA_DERIVE_TEMPLATE on the private key", r);
    }
    let (bpub, bpriv) = ec_pair(&b, true).unwrap();
    let bpoint = ec_point(&b, bpub);
    let (apub, apriv) = ec_pair(&a, true).unwrap();
    let _ = apub;
    let mech = Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), &bpoint));
    obs("Q7", "user C_DeriveKey ECDH1 (CKD_NULL) with CKA_TRUSTED=true", a.derive_key(&mech, apriv, &ecdh_template(true, false, true, "x")));
    obs("Q7", "user C_DeriveKey ECDH1 (CKD_NULL) without CKA_TRUSTED (control)", a.derive_key(&mech, apriv, &ecdh_template(false, false, true, "x")));
    println!("[Q7] spawning SO process for ECDH-derived trusted key...");
    let out = spawn(&["so-ecdh".into(), "A".into(), "so-pin-A".into(), hex(&bpoint)]);
    if let Some(pt) = out.lines().find_map(|l| l.strip_prefix("POINT ")) {
        if let Some(&tk_ecdh) = find(&a, "trusted-ecdh").first() {
            dump("Q7", &a, tk_ecdh);
            let w = obs("Q7", "user C_WrapKey dk-plain under SO-derived trusted ECDH AES key, KWP", a.wrap_key(&kwp, tk_ecdh, dk));
            let peer = unhex(pt);
            let mech = Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), &peer));
            if let (Some(w), Some(kb)) = (w, obs("Q7", "B user C_DeriveKey ECDH1 from SO's point", b.derive_key(&mech, bpriv, &ecdh_template(false, false, true, "b-ecdh")))) {
                let ut = dk_attrs_with(true, false, vec![Attribute::Label(b"dk-B-ecdh".to_vec())]);
                if let Some(h) = obs("Q7", "B C_UnwrapKey dk under derived key (KWP) into domain-key attrs", b.unwrap_key(&kwp, kb, &w, &ut)) {
                    let wa = a.wrap_key(&kwp, dk, tk).unwrap();
                    let wb = b.wrap_key(&kwp, h, tkb).unwrap();
                    println!("[Q7]   same key (KWP of test key equal): {}", wa == wb);
                }
                // member-side hole: the trusted AES key is also an UNWRAP key in A
                let loose = [Attribute::Class(ObjectClass::SECRET_KEY), Attribute::KeyType(KeyType::AES), Attribute::Token(false),
                    Attribute::Sensitive(false), Attribute::Extractable(true)];
                if let Some(h) = obs("Q7-risk", "A user C_UnwrapKey the KWP blob under trusted-ecdh (default UNWRAP=true) with SENSITIVE=false", a.unwrap_key(&kwp, tk_ecdh, &w, &loose)) {
                    println!("[Q7-risk]   CKA_VALUE readable: {}", a.get_attributes(h, &[AttributeType::Value]).is_ok());
                }
                obs("Q7-risk", "A user C_SetAttributeValue CKA_UNWRAP=true on trusted-ecdh (MODIFIABLE=true default)", a.update_attributes(tk_ecdh, &[Attribute::Unwrap(true)]));
                if let Some(&lk) = find(&a, "trusted-ecdh-locked").first() {
                    dump("Q7", &a, lk);
                    if let Some(w2) = obs("Q7", "user C_WrapKey dk-plain under trusted-ecdh-locked, KWP", a.wrap_key(&kwp, lk, dk)) {
                        obs("Q7-risk", "A user C_UnwrapKey under trusted-ecdh-locked", a.unwrap_key(&kwp, lk, &w2, &loose));
                        obs("Q7-risk", "A user C_SetAttributeValue CKA_UNWRAP=true on trusted-ecdh-locked", a.update_attributes(lk, &[Attribute::Unwrap(true)]));
                        obs("Q7-risk", "A user C_CopyObject trusted-ecdh-locked with UNWRAP=true", a.copy_object(lk, &[Attribute::Unwrap(true)]));
                    }
                }
                // receiver-side hole: B derives the same secret with any template it likes
                let open_t = [Attribute::Class(ObjectClass::SECRET_KEY), Attribute::KeyType(KeyType::AES), Attribute::ValueLen(32.into()),
                    Attribute::Token(false), Attribute::Sensitive(false), Attribute::Extractable(true)];
                if let Some(h) = obs("Q7-risk", "B user C_DeriveKey same ECDH with SENSITIVE=false, EXTRACTABLE=true", b.derive_key(&mech, bpriv, &open_t)) {
                    println!("[Q7-risk]   derived CKA_VALUE readable (=> KWP blob decryptable offline): {}", b.get_attributes(h, &[AttributeType::Value]).is_ok());
                }
            }
        } else {
            println!("[Q7] no trusted-ecdh object visible to P1");
        }
    }

    // ---- Q3 (in-process variant): user logout, SO login on the same token, create, back to user
    println!("[Q3] in-process variant:");
    obs("Q3", "P1 C_Logout user on A", a.logout());
    obs("Q3", "P1 C_Login SO on A (same session)", a.login(UserType::So, Some(&pin("so-pin-A"))));
    let mut t = rsa_pub_template(&m, &e, "trusted-inproc");
    t.extend([Attribute::Token(true), Attribute::Private(false), Attribute::Trusted(true), Attribute::Modifiable(false)]);
    obs("Q3", "P1 SO C_CreateObject trusted RSA pub (token, private=false)", a.create_object(&t));
    let mut t2 = rsa_pub_template(&m, &e, "trusted-inproc-sess");
    t2.extend([Attribute::Token(false), Attribute::Private(false), Attribute::Trusted(true)]);
    obs("Q3", "P1 SO C_CreateObject trusted RSA pub as SESSION object", a.create_object(&t2));
    println!("[Q3] SO sees dk-plain (private object)? {} object(s)", find(&a, "dk-plain").len());
    obs("Q3", "SO C_InitPIN (reset user PIN; same value here)", a.init_pin(&pin("user-pin-A")));
    obs("Q3", "P1 C_Logout SO", a.logout());
    obs("Q3", "P1 C_Login user again", a.login(UserType::User, Some(&pin("user-pin-A"))));
    println!("[Q3] old dk-plain handle after logout/login: {:?}", a.get_attributes(dk, &[AttributeType::Label]).map(|_| "valid").map_err(|e| code(&e)));
    let dk = find(&a, "dk-plain")[0];
    if let Some(&h) = find(&a, "trusted-inproc").first() {
        dump("Q3", &a, h);
        obs("Q3", "user C_WrapKey dk-plain under in-process SO-created trusted key, OAEP", a.wrap_key(&oaep(), h, dk));
    }
    println!("[Q3] trusted-inproc-sess visible to user after SO logout: {} object(s)", find(&a, "trusted-inproc-sess").len());
    obs("cleanup", "user C_DestroyObject SO-created trusted-B-pub-mod (public token object)", a.destroy_object(trm));
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("so-create") => so_create(&args[1..]),
        Some("so-ecdh") => so_ecdh(&args[1..]),
        _ => main_flow(),
    }
}
