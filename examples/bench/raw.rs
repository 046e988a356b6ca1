//! The "raw" baseline: the same cryptographic work done directly through
//! PKCS#11 on the server's token, with no HTTP, SigV4, JSON or store.

use crate::load::{Op, quantile};
use crate::zipf::{Rng, Zipf};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::{Duration, Instant};

/// SoftHSM's module on Debian.
pub const SOFTHSM_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// AAD length standing in for the service's ciphertext header.
const AAD_LEN: usize = 64;
/// CKA_EC_PARAMS of P-256: the DER-encoded OID prime256v1.
const P256: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// The server's token opened in this process, with session keys to work with.
pub struct RawToken {
    shared: Shared,
    /// Owns the session keys (they die with it).
    _owner: Session,
}

/// What every worker thread uses.
struct Shared {
    ctx: Pkcs11,
    slot: Slot,
    key: ObjectHandle,
    wrapping_key: ObjectHandle,
    /// For Decrypt: IV and ciphertext || tag of 32 bytes under `key`.
    sealed: ([u8; 12], Vec<u8>),
    /// For Sign, Verify and GenerateMac.
    signing: SigningKeys,
}

/// Session keys that sign, verify and compute MACs, with the attributes the
/// service's cached backing keys have: sensitive, not extractable and not
/// private (docs/adr/0007-session-objects.md).
struct SigningKeys {
    /// RSA-2048 private key.
    rsa: ObjectHandle,
    /// P-256 private and public key.
    ec: (ObjectHandle, ObjectHandle),
    /// 32-byte generic secret for HMAC-SHA-256.
    hmac: ObjectHandle,
    /// For Verify: the ECDSA signature (r || s) of the SHA-256 digest of the
    /// message the workers use.
    ec_signature: Vec<u8>,
}

/// The outcome of one raw point.
pub struct RawResult {
    /// Operations per second in the window.
    pub rate: f64,
    /// Median latency, µs.
    pub p50: u32,
    /// 99th percentile latency, µs.
    pub p99: u32,
    /// This process's CPU time per operation.
    pub cpu_per_op: Option<Duration>,
    /// Failed operations.
    pub errors: u64,
    /// CPUs' worth of time used by other processes in the window.
    pub other_cores: Option<f64>,
}

impl RawToken {
    /// Opens `trent-<region>` through `module` with the dev-mode PIN of
    /// `data_dir`. `SOFTHSM2_CONF` must already name `<data_dir>/softhsm2.conf`
    /// (it is set at start-up, before any thread exists).
    pub fn open(data_dir: &Path, region: &str, module: &Path) -> Result<Self, String> {
        let pin_file = data_dir.join("secrets").join(format!("{region}.pin"));
        let pin = std::fs::read_to_string(&pin_file)
            .map_err(|e| format!("cannot read {}: {e}", pin_file.display()))?;
        let ctx = Pkcs11::new(module).map_err(err("load module"))?;
        ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .map_err(err("C_Initialize"))?;
        let label = format!("trent-{region}");
        let mut slot = None;
        for s in ctx
            .get_slots_with_initialized_token()
            .map_err(err("slots"))?
        {
            if ctx
                .get_token_info(s)
                .map_err(err("token info"))?
                .label()
                .trim_end()
                == label
            {
                slot = Some(s);
            }
        }
        let slot = slot.ok_or_else(|| format!("raw: no token labelled {label}"))?;
        let owner = ctx.open_rw_session(slot).map_err(err("open session"))?;
        owner
            .login(UserType::User, Some(&AuthPin::from(pin.trim().to_string())))
            .map_err(err("login"))?;
        let key = owner
            .generate_key(&Mechanism::AesKeyGen, &aes_template(false))
            .map_err(err("generate key"))?;
        let wrapping_key = owner
            .generate_key(&Mechanism::AesKeyGen, &aes_template(true))
            .map_err(err("generate wrapping key"))?;
        let mut iv = [0u8; 12];
        owner
            .generate_random_slice(&mut iv)
            .map_err(err("random"))?;
        let sealed = gcm_encrypt(&owner, key, &iv, &[0u8; 32]).map_err(err("encrypt"))?;
        let signing = SigningKeys::generate(&owner).map_err(err("generate signing keys"))?;
        Ok(RawToken {
            shared: Shared {
                ctx,
                slot,
                key,
                wrapping_key,
                sealed: (iv, sealed),
                signing,
            },
            _owner: owner,
        })
    }

    /// Closes the sessions and finalizes the module, which frees every
    /// session object the token still holds, and all its own state.
    pub fn close(self) -> Result<(), String> {
        drop(self._owner);
        self.shared.ctx.finalize().map_err(err("C_Finalize"))
    }

    /// Runs `op` on `threads` threads (one session each) for `warmup` then
    /// `duration`, measuring the window between them.
    pub fn run(&self, op: Op, threads: usize, warmup: Duration, duration: Duration) -> RawResult {
        self.shared.run(op, threads, warmup, duration)
    }

    /// Generates `n` session AES-256 keys.
    pub fn keyring(&self, n: usize) -> Result<Keyring, String> {
        let session = self
            .shared
            .ctx
            .open_rw_session(self.shared.slot)
            .map_err(err("open session"))?;
        let template = aes_template(false);
        let keys = (0..n)
            .map(|_| session.generate_key(&Mechanism::AesKeyGen, &template))
            .collect::<Result<_, _>>()
            .map_err(err("generate key"))?;
        Ok(Keyring {
            keys,
            _session: session,
        })
    }

    /// Encrypt 32 B as [`RawToken::run`] does, each with a key of `keyring`
    /// chosen by `zipf` (over as many items as the keyring has keys).
    pub fn run_zipf(
        &self,
        keyring: &Keyring,
        zipf: &Zipf,
        threads: usize,
        (warmup, duration): (Duration, Duration),
    ) -> RawResult {
        let plaintext = message(Op::Encrypt32);
        let keys = &keyring.keys;
        self.shared
            .measure(threads, warmup, duration, |session, rng| {
                encrypt(session, keys[zipf.sample(rng)], &plaintext)
            })
    }
}

/// Session AES-256 keys for the token-alone key-count comparison, with the
/// attributes of the service's cached backing keys; closing their session
/// (when this is dropped) destroys them.
pub struct Keyring {
    keys: Vec<ObjectHandle>,
    _session: Session,
}

impl Keyring {
    /// How many keys it holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }
}

fn err(what: &'static str) -> impl Fn(cryptoki::error::Error) -> String {
    move |e| format!("raw PKCS#11 {what}: {e}")
}

impl Shared {
    /// One operation equivalent to what the service does with the token for `op`.
    fn perform(&self, session: &Session, op: Op, plaintext: &[u8]) -> cryptoki::error::Result<()> {
        match op {
            Op::Encrypt32 | Op::Encrypt4k => encrypt(session, self.key, plaintext),
            Op::Decrypt => {
                let (iv, sealed) = &self.sealed;
                let mut iv = *iv;
                let aad = [0u8; AAD_LEN];
                let params = GcmParams::new(&mut iv, &aad, 128.into())?;
                session
                    .decrypt(&Mechanism::AesGcm(params), self.key, sealed)
                    .map(drop)
            }
            Op::Gdk => {
                let mut data_key = [0u8; 32];
                session.generate_random_slice(&mut data_key)?;
                let mut iv = [0u8; 12];
                session.generate_random_slice(&mut iv)?;
                gcm_encrypt(session, self.key, &iv, &data_key).map(drop)
            }
            Op::CreateKey => {
                let key = session.generate_key(&Mechanism::AesKeyGen, &aes_template(false))?;
                let wrapped = session.wrap_key(&Mechanism::AesKeyWrapPad, self.wrapping_key, key);
                session.destroy_object(key)?;
                wrapped.map(drop)
            }
            Op::SignRsa => {
                let digest = Sha256::digest(plaintext);
                session.sign(&pss(), self.signing.rsa, &digest).map(drop)
            }
            Op::SignEcdsa => {
                let digest = Sha256::digest(plaintext);
                session
                    .sign(&Mechanism::Ecdsa, self.signing.ec.0, &digest)
                    .map(drop)
            }
            Op::VerifyEcdsa => {
                let digest = Sha256::digest(plaintext);
                let signature = &self.signing.ec_signature;
                session.verify(&Mechanism::Ecdsa, self.signing.ec.1, &digest, signature)
            }
            Op::Mac => session
                .sign(&Mechanism::Sha256Hmac, self.signing.hmac, plaintext)
                .map(drop),
        }
    }

    fn run(&self, op: Op, threads: usize, warmup: Duration, duration: Duration) -> RawResult {
        let plaintext = message(op);
        self.measure(threads, warmup, duration, |session, _| {
            self.perform(session, op, &plaintext)
        })
    }

    /// Runs `work` in a loop on `threads` threads (one session and one
    /// random generator each) for `warmup` then `duration`, measuring the
    /// window between them.
    fn measure<F>(&self, threads: usize, warmup: Duration, duration: Duration, work: F) -> RawResult
    where
        F: Fn(&Session, &mut Rng) -> cryptoki::error::Result<()> + Sync,
    {
        let start = Instant::now();
        let stop = start + warmup + duration;
        let work = &work;
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|thread| {
                    scope.spawn(move || {
                        let mut samples: Vec<(u64, u32)> = Vec::new();
                        let mut errors: Vec<u64> = Vec::new();
                        let Ok(session) = self.ctx.open_rw_session(self.slot) else {
                            errors.push(0);
                            return (samples, errors);
                        };
                        let mut rng = Rng::new(thread as u64);
                        while Instant::now() < stop {
                            let t0 = Instant::now();
                            let ok = work(&session, &mut rng).is_ok();
                            let done_at = start.elapsed().as_micros() as u64;
                            if ok {
                                samples.push((done_at, t0.elapsed().as_micros() as u32));
                            } else {
                                errors.push(done_at);
                            }
                        }
                        (samples, errors)
                    })
                })
                .collect();
            std::thread::sleep((start + warmup).saturating_duration_since(Instant::now()));
            let cpu0 = crate::load::self_cpu();
            let machine0 = crate::server::machine_busy();
            let lo = start.elapsed().as_micros() as u64;
            std::thread::sleep(stop.saturating_duration_since(Instant::now()));
            let cpu1 = crate::load::self_cpu();
            let machine1 = crate::server::machine_busy();
            let hi = start.elapsed().as_micros() as u64;
            let mut latencies = Vec::new();
            let mut errors = 0;
            for worker in workers {
                let (samples, errs) = worker.join().unwrap_or_default();
                latencies.extend(
                    samples
                        .iter()
                        .filter(|(t, _)| (lo..hi).contains(t))
                        .map(|&(_, l)| l),
                );
                errors += errs.iter().filter(|t| (lo..hi).contains(t)).count() as u64;
            }
            latencies.sort_unstable();
            let window = Duration::from_micros(hi - lo).as_secs_f64();
            let n = latencies.len() as u32;
            let other_cores = match (cpu0, cpu1, machine0, machine1) {
                (Some(c0), Some(c1), Some(m0), Some(m1)) => {
                    let others = (m1.saturating_sub(m0)).as_secs_f64()
                        - (c1.saturating_sub(c0)).as_secs_f64();
                    Some(others.max(0.0) / window)
                }
                _ => None,
            };
            RawResult {
                other_cores,
                rate: latencies.len() as f64 / window,
                p50: quantile(&latencies, 0.5),
                p99: quantile(&latencies, 0.99),
                cpu_per_op: cpu0
                    .zip(cpu1)
                    .filter(|_| n > 0)
                    .map(|(a, b)| b.saturating_sub(a) / n),
                errors,
            }
        })
    }
}

impl SigningKeys {
    /// Generates the keys in `session` and signs the Verify message.
    fn generate(session: &Session) -> cryptoki::error::Result<Self> {
        let rsa_public = [
            Attribute::ModulusBits(2048.into()),
            Attribute::PublicExponent(vec![1, 0, 1]),
        ];
        let (_, rsa) = session.generate_key_pair(
            &Mechanism::RsaPkcsKeyPairGen,
            &public_template(&rsa_public),
            &private_template(),
        )?;
        let (ec_public, ec_private) = session.generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &public_template(&[Attribute::EcParams(P256.to_vec())]),
            &private_template(),
        )?;
        let hmac = session.generate_key(&Mechanism::GenericSecretKeyGen, &hmac_template())?;
        let digest = Sha256::digest(message(Op::VerifyEcdsa));
        let ec_signature = session.sign(&Mechanism::Ecdsa, ec_private, &digest)?;
        Ok(SigningKeys {
            rsa,
            ec: (ec_private, ec_public),
            hmac,
            ec_signature,
        })
    }
}

/// The message (or plaintext) every worker of `op` uses.
fn message(op: Op) -> Vec<u8> {
    vec![0x5a; op.plaintext_len()]
}

/// RSASSA-PSS over a SHA-256 digest: MGF1 with SHA-256, 32 bytes of salt.
fn pss() -> Mechanism<'static> {
    Mechanism::RsaPkcsPss(PkcsPssParams {
        hash_alg: MechanismType::SHA256,
        mgf: PkcsMgfType::MGF1_SHA256,
        s_len: 32.into(),
    })
}

/// The service's Encrypt in the token: an IV from the token's generator,
/// then AES-GCM.
fn encrypt(session: &Session, key: ObjectHandle, plaintext: &[u8]) -> cryptoki::error::Result<()> {
    let mut iv = [0u8; 12];
    session.generate_random_slice(&mut iv)?;
    gcm_encrypt(session, key, &iv, plaintext).map(drop)
}

fn gcm_encrypt(
    session: &Session,
    key: ObjectHandle,
    iv: &[u8; 12],
    plaintext: &[u8],
) -> cryptoki::error::Result<Vec<u8>> {
    let mut iv = *iv;
    let aad = [0u8; AAD_LEN];
    let params = GcmParams::new(&mut iv, &aad, 128.into())?;
    session.encrypt(&Mechanism::AesGcm(params), key, plaintext)
}

/// A session AES-256 key: a data key, or (with `wrapping`) a key-wrapping key.
/// Data keys are public session objects, as the service's backing keys are;
/// the wrapping key is private, as the service's domain key is.
fn aes_template(wrapping: bool) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::ValueLen(32.into()),
        Attribute::Token(false),
        Attribute::Private(wrapping),
        Attribute::Sensitive(true),
        Attribute::Extractable(!wrapping),
        Attribute::Encrypt(!wrapping),
        Attribute::Decrypt(!wrapping),
        Attribute::Wrap(wrapping),
        Attribute::Unwrap(wrapping),
    ]
}

/// A session private key that only signs.
fn private_template() -> Vec<Attribute> {
    vec![
        Attribute::Token(false),
        Attribute::Private(false),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Decrypt(false),
        Attribute::Unwrap(false),
        Attribute::Derive(false),
    ]
}

/// A session public key that only verifies, with `params` (size or curve).
fn public_template(params: &[Attribute]) -> Vec<Attribute> {
    let mut template = vec![
        Attribute::Token(false),
        Attribute::Private(false),
        Attribute::Verify(true),
        Attribute::Encrypt(false),
        Attribute::Wrap(false),
    ];
    template.extend_from_slice(params);
    template
}

/// A session 32-byte generic secret that signs and verifies (HMAC), as the
/// service's HMAC_256 backing keys are.
fn hmac_template() -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::ValueLen(32.into()),
        Attribute::Token(false),
        Attribute::Private(false),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Verify(true),
    ]
}
