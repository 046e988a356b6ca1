//! Moving key material between tokens, only ever wrapped.
//!
//! The exchange is a pair of messages so the two tokens may one day sit in
//! different deployments (see docs/adr/0003-material-transport.md):
//!
//! 1. The destination token makes an ephemeral P-384 key pair and offers its
//!    public point and the key wrappings it can unwrap ([`Hsm::begin_import`]).
//! 2. The source token makes its own ephemeral pair, derives a transport key
//!    by ECDH with the offered point, unwraps each material under its domain
//!    key as a transit copy and wraps it under the transport key with an AES
//!    key wrapping both tokens have, which the blob records
//!    ([`Hsm::export_materials`]).
//! 3. The destination derives the same transport key from the sender's point,
//!    unwraps each material inside the token as a transit copy, re-wraps it
//!    under its own domain key and caches a use copy of the new blob
//!    ([`Hsm::complete_import`]).
//!
//! The transport key is bound to the exchange: ECDH (CKD_NULL) gives an
//! intermediate AES key, and AES-CBC-ENCRYPT-DATA over SHA-256(sender point ||
//! receiver point) derives the wrapping key from it. Plaintext material never
//! leaves a token. Every key of the exchange has exactly the capability it
//! needs (the ephemeral private keys and the intermediate key derive, the
//! transport key wraps and unwraps), none is extractable, and all are session
//! objects destroyed after use, as is each transit copy right after its wrap
//! (docs/adr/0008-custody-attributes.md).

use super::template::{Purpose, backing_key_template};
use super::{Hsm, HsmError, MaterialRef, WrappedMaterial, Wrapping};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::ekdf::AesCbcDeriveParams;
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;

/// DER encoding of the P-384 curve OID (1.3.132.0.34).
const P384_PARAMS: [u8; 7] = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];

/// A destination's offer: the public point of its ephemeral key pair, and
/// the key wrappings the destination token can unwrap.
pub struct ImportOffer {
    /// Names the pending import on the destination.
    pub id: u64,
    /// DER-encoded EC point to wrap material for.
    pub public_point: Vec<u8>,
    /// Wrappings the destination accepts, in its preference order.
    pub wrappings: Vec<Wrapping>,
}

/// Materials wrapped by a source token for one offer.
pub struct TransportPackage {
    /// DER-encoded EC point of the sender's ephemeral key.
    pub sender_point: Vec<u8>,
    /// One wrapped blob per material, in request order.
    pub blobs: Vec<Vec<u8>>,
}

/// An ephemeral key pair waiting for its package.
pub(super) struct PendingImport {
    private: ObjectHandle,
    public: ObjectHandle,
    point: Vec<u8>,
}

impl Hsm {
    /// Step 1, on the destination: makes an ephemeral key pair and offers it.
    pub fn begin_import(&self) -> Result<ImportOffer, HsmError> {
        let token = self.token()?;
        let owner = token.lock_owner();
        let (public, private) = ephemeral_pair(&owner)?;
        let point = ec_point(&owner, public)?;
        let mut pending = token.imports();
        let id = self
            .next_import
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        pending.insert(
            id,
            PendingImport {
                private,
                public,
                point: point.clone(),
            },
        );
        Ok(ImportOffer {
            id,
            public_point: point,
            wrappings: token.mechanisms().wrappings.clone(),
        })
    }

    /// Step 2, on the source: wraps `materials` for the destination's offer,
    /// with a wrapping both tokens have.
    pub fn export_materials(
        &self,
        materials: &[WrappedMaterial<'_>],
        offer: &ImportOffer,
    ) -> Result<TransportPackage, HsmError> {
        let token = self.token()?;
        let wrapping = token.mechanisms().wrapping_for(&offer.wrappings)?;
        let offer_point = offer.public_point.as_slice();
        let owner = token.lock_owner();
        let (public, private) = ephemeral_pair(&owner)?;
        let result = (|| {
            let sender_point = ec_point(&owner, public)?;
            let transport =
                transport_key(&owner, private, offer_point, &sender_point, offer_point)?;
            let blobs = materials
                .iter()
                .map(|m| {
                    let kind = m.reference.kind;
                    if !wrapping.wraps(kind.wrapped_len()) {
                        return Err(HsmError::NoCommonWrapping);
                    }
                    token.check_row(&owner, m)?;
                    let key = token.unwrap(
                        &owner,
                        token.domain_key(),
                        m.wrapped,
                        &backing_key_template(Purpose::Transit, kind),
                    )?;
                    let blob = token.wrap(&owner, wrapping, transport, key);
                    token.destroy(&owner, key);
                    blob
                })
                .collect::<Result<Vec<_>, HsmError>>();
            token.destroy(&owner, transport);
            Ok(TransportPackage {
                sender_point,
                blobs: blobs?,
            })
        })();
        token.destroy(&owner, private);
        token.destroy(&owner, public);
        result
    }

    /// Step 3, on the destination: unwraps the package inside the token and
    /// returns each material wrapped under this token's domain key.
    pub fn complete_import(
        &self,
        offer_id: u64,
        package: &TransportPackage,
        references: &[MaterialRef],
    ) -> Result<Vec<Vec<u8>>, HsmError> {
        let token = self.token()?;
        let pending = token
            .imports()
            .remove(&offer_id)
            .ok_or(HsmError::UnknownImport(offer_id))?;
        let owner = token.lock_owner();
        let result = (|| {
            let transport = transport_key(
                &owner,
                pending.private,
                &package.sender_point,
                &package.sender_point,
                &pending.point,
            )?;
            let mut rewrapped = Vec::with_capacity(package.blobs.len());
            let mut outcome = Ok(());
            for (blob, reference) in package.blobs.iter().zip(references) {
                let step = token
                    .unwrap(
                        &owner,
                        transport,
                        blob,
                        &backing_key_template(Purpose::Transit, reference.kind),
                    )
                    .map_err(|_| HsmError::UnwrapFailed)
                    .and_then(|key| {
                        let len = reference.kind.wrapped_len();
                        let wrapping = token.mechanisms().wrapping_of(len, token.label());
                        let wrapped =
                            wrapping.and_then(|w| token.wrap(&owner, w, token.domain_key(), key));
                        token.destroy(&owner, key);
                        let wrapped = wrapped?;
                        let handle = token.unwrap_for_use(&owner, &wrapped, reference.kind)?;
                        token.cache_handle(&owner, reference.clone(), handle);
                        Ok(wrapped)
                    });
                match step {
                    Ok(w) => rewrapped.push(w),
                    Err(e) => {
                        outcome = Err(e);
                        break;
                    }
                }
            }
            token.destroy(&owner, transport);
            outcome.map(|()| rewrapped)
        })();
        token.destroy(&owner, pending.private);
        token.destroy(&owner, pending.public);
        result
    }

    /// Drops a pending import whose package will never come.
    pub fn cancel_import(&self, offer_id: u64) {
        let Ok(token) = self.token() else {
            return;
        };
        let pending = token.imports().remove(&offer_id);
        if let Some(p) = pending {
            let owner = token.lock_owner();
            token.destroy(&owner, p.private);
            token.destroy(&owner, p.public);
        }
    }
}

/// An ephemeral P-384 key pair as session objects: (public, private). The
/// private key can only derive; the public key exists to be read.
fn ephemeral_pair(session: &Session) -> Result<(ObjectHandle, ObjectHandle), HsmError> {
    Ok(session.generate_key_pair(
        &Mechanism::EccKeyPairGen,
        &[
            Attribute::Token(false),
            Attribute::Private(false),
            Attribute::EcParams(P384_PARAMS.to_vec()),
            Attribute::Verify(false),
            Attribute::Encrypt(false),
            Attribute::Wrap(false),
            Attribute::Derive(false),
            Attribute::Modifiable(false),
        ],
        &[
            Attribute::Token(false),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Derive(true),
            Attribute::Sign(false),
            Attribute::Decrypt(false),
            Attribute::Unwrap(false),
            Attribute::Modifiable(false),
        ],
    )?)
}

fn ec_point(session: &Session, public: ObjectHandle) -> Result<Vec<u8>, HsmError> {
    match session
        .get_attributes(public, &[AttributeType::EcPoint])?
        .into_iter()
        .next()
    {
        Some(Attribute::EcPoint(point)) => Ok(point),
        _ => Err(HsmError::UnwrapFailed),
    }
}

/// ECDH with the peer, then AES-CBC-ENCRYPT-DATA over the transcript hash:
/// an AES-256 wrapping key both sides derive and nobody can extract. The
/// intermediate key is destroyed at once.
fn transport_key(
    session: &Session,
    private: ObjectHandle,
    peer_point: &[u8],
    sender_point: &[u8],
    receiver_point: &[u8],
) -> Result<ObjectHandle, HsmError> {
    let shared = shared_key(session, private, peer_point)?;
    let result = bind_to_exchange(session, shared, sender_point, receiver_point);
    let _ = session.destroy_object(shared);
    result
}

/// The intermediate AES-256 key from ECDH (CKD_NULL: the trailing 32 bytes
/// of the shared secret). It can only derive.
fn shared_key(
    session: &Session,
    private: ObjectHandle,
    peer_point: &[u8],
) -> Result<ObjectHandle, HsmError> {
    Ok(session.derive_key(
        &Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), peer_point)),
        private,
        &derived_key_template(Capability::Derive),
    )?)
}

/// The transport key: AES-CBC-ENCRYPT-DATA of SHA-256(sender point ||
/// receiver point) under the intermediate key. It can only wrap and unwrap.
fn bind_to_exchange(
    session: &Session,
    shared: ObjectHandle,
    sender_point: &[u8],
    receiver_point: &[u8],
) -> Result<ObjectHandle, HsmError> {
    let mut transcript = sender_point.to_vec();
    transcript.extend_from_slice(receiver_point);
    let hash = session.digest(&Mechanism::Sha256, &transcript)?;
    Ok(session.derive_key(
        &Mechanism::AesCbcEncryptData(AesCbcDeriveParams::new([0u8; 16], &hash)),
        shared,
        &derived_key_template(Capability::WrapUnwrap),
    )?)
}

/// The one thing a key derived during the exchange may do.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Capability {
    /// Derive further keys (the ECDH intermediate).
    Derive,
    /// Wrap and unwrap keys (the transport key).
    WrapUnwrap,
}

/// An AES-256 session key that is sensitive, never extractable, unchangeable,
/// and has exactly `capability`.
fn derived_key_template(capability: Capability) -> Vec<Attribute> {
    let wraps = capability == Capability::WrapUnwrap;
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::ValueLen(32.into()),
        Attribute::Token(false),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Derive(!wraps),
        Attribute::Wrap(wraps),
        Attribute::Unwrap(wraps),
        Attribute::Encrypt(false),
        Attribute::Decrypt(false),
        Attribute::Sign(false),
        Attribute::Verify(false),
        // Last, as in every template (see `template::backing_key_template`).
        Attribute::Modifiable(false),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hsm::{SecretKind, open};
    use cryptoki::error::{Error, RvError};
    use cryptoki::session::UserType;
    use cryptoki::types::AuthPin;
    use secrecy::SecretString;

    const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

    /// The values of boolean attributes of `object`, in the order asked.
    fn flags(session: &Session, object: ObjectHandle, types: &[AttributeType]) -> Vec<bool> {
        session
            .get_attributes(object, types)
            .unwrap()
            .into_iter()
            .map(|a| match a {
                Attribute::Derive(b)
                | Attribute::Wrap(b)
                | Attribute::Unwrap(b)
                | Attribute::Encrypt(b)
                | Attribute::Decrypt(b)
                | Attribute::Sign(b)
                | Attribute::Verify(b)
                | Attribute::Extractable(b)
                | Attribute::Sensitive(b)
                | Attribute::Token(b)
                | Attribute::Modifiable(b)
                | Attribute::Trusted(b) => b,
                other => panic!("unexpected attribute {other:?}"),
            })
            .collect()
    }

    fn refused(result: Result<impl std::fmt::Debug, Error>) -> RvError {
        match result {
            Err(Error::Pkcs11(rv, _)) => rv,
            other => panic!("expected a PKCS#11 refusal, got {other:?}"),
        }
    }

    /// On a real SoftHSM token, initialised as Trent initialises it (with
    /// Trent's mutexes, which SoftHSM then uses): the ephemeral private key
    /// and the keys derived from it can do exactly one thing each, both
    /// sides derive the same transport key, and SoftHSM gives the user no
    /// way to make a transport key trusted.
    #[test]
    fn keys_of_the_exchange_have_only_the_capabilities_they_need() {
        use AttributeType as A;
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!("directories.tokendir = {}\n", tokens.display()),
        )
        .unwrap();
        // SAFETY: this is the only test of the library that uses PKCS#11,
        // and none reads the environment.
        unsafe { std::env::set_var("SOFTHSM2_CONF", &conf) };
        let library = crate::hsm::library::Library::load(std::path::Path::new(SOFTHSM)).unwrap();
        let before = crate::hsm::locking::CREATED.get();
        library.initialize().unwrap();
        let ctx = library.ctx();
        let pin = SecretString::from("user-pin-1234");
        let so_pin = SecretString::from("so-pin-5678");
        let slot = open::provision_token(ctx, SOFTHSM, "exchange", &so_pin, &pin).unwrap();
        let session = ctx.open_rw_session(slot).unwrap();
        open::login(&session, &pin).unwrap();
        let created = crate::hsm::locking::CREATED.get();
        assert!(created > before, "SoftHSM made no mutex of Trent's");

        let (public_a, private_a) = ephemeral_pair(&session).unwrap();
        let (public_b, private_b) = ephemeral_pair(&session).unwrap();
        assert_eq!(
            flags(
                &session,
                private_a,
                &[
                    A::Derive,
                    A::Sign,
                    A::Decrypt,
                    A::Unwrap,
                    A::Extractable,
                    A::Sensitive,
                    A::Token
                ]
            ),
            [true, false, false, false, false, true, false],
            "ephemeral private key: derive only, sensitive, non-extractable session object"
        );
        assert_eq!(
            flags(
                &session,
                public_a,
                &[A::Verify, A::Encrypt, A::Wrap, A::Derive, A::Token]
            ),
            [false, false, false, false, false],
            "ephemeral public key: nothing but its point"
        );
        let point_a = ec_point(&session, public_a).unwrap();
        let point_b = ec_point(&session, public_b).unwrap();

        let capabilities = [
            A::Derive,
            A::Wrap,
            A::Unwrap,
            A::Encrypt,
            A::Decrypt,
            A::Sign,
            A::Verify,
            A::Extractable,
            A::Sensitive,
            A::Token,
            A::Modifiable,
        ];
        let shared = shared_key(&session, private_a, &point_b).unwrap();
        assert_eq!(
            flags(&session, shared, &capabilities),
            [
                true, false, false, false, false, false, false, false, true, false, false
            ],
            "intermediate key: derive only"
        );
        assert_eq!(
            refused(session.encrypt(&Mechanism::AesEcb, shared, &[0; 16])),
            RvError::KeyFunctionNotPermitted
        );
        let transport = bind_to_exchange(&session, shared, &point_a, &point_b).unwrap();
        assert_eq!(
            flags(&session, transport, &capabilities),
            [
                false, true, true, false, false, false, false, false, true, false, false
            ],
            "transport key: wrap and unwrap only"
        );
        assert_eq!(
            refused(session.encrypt(&Mechanism::AesEcb, transport, &[0; 16])),
            RvError::KeyFunctionNotPermitted
        );
        assert_eq!(
            refused(session.derive_key(
                &Mechanism::AesCbcEncryptData(AesCbcDeriveParams::new([0; 16], &[0; 16])),
                transport,
                &derived_key_template(Capability::WrapUnwrap),
            )),
            RvError::KeyFunctionNotPermitted
        );

        // Both sides derive the same key: what one wraps, the other unwraps.
        let sender = transport_key(&session, private_a, &point_b, &point_a, &point_b).unwrap();
        let receiver = transport_key(&session, private_b, &point_a, &point_a, &point_b).unwrap();
        let mut generation = backing_key_template(Purpose::Transit, SecretKind::Aes256);
        generation.insert(0, Attribute::ValueLen(32.into()));
        let material = session
            .generate_key(&Mechanism::AesKeyGen, &generation)
            .unwrap();
        let blob = session
            .wrap_key(&Mechanism::AesKeyWrapPad, sender, material)
            .unwrap();
        session
            .unwrap_key(
                &Mechanism::AesKeyWrapPad,
                receiver,
                &blob,
                &backing_key_template(Purpose::Transit, SecretKind::Aes256),
            )
            .unwrap();

        // No trusted transport key on SoftHSM: the user cannot derive one as
        // trusted (CKA_TRUSTED is stated first, so the refusal is not the one
        // for attributes after CKA_MODIFIABLE = false), the transport key
        // cannot be changed at all, the SO cannot log in while the user is,
        // and a copy that may be wrapped only under a trusted key cannot be
        // wrapped under the transport key.
        assert_eq!(flags(&session, transport, &[A::Trusted]), [false]);
        let mut trusted = derived_key_template(Capability::WrapUnwrap);
        trusted.insert(0, Attribute::Trusted(true));
        assert_eq!(
            refused(session.derive_key(
                &Mechanism::AesCbcEncryptData(AesCbcDeriveParams::new([0; 16], &[0; 16])),
                shared_key(&session, private_a, &point_b).unwrap(),
                &trusted,
            )),
            RvError::AttributeReadOnly
        );
        assert_eq!(
            refused(session.update_attributes(transport, &[Attribute::Trusted(true)])),
            RvError::ActionProhibited
        );
        let so = ctx.open_rw_session(slot).unwrap();
        assert_eq!(
            refused(so.login(UserType::So, Some(&AuthPin::from(so_pin.clone())))),
            RvError::UserAnotherAlreadyLoggedIn
        );
        let mut wrap_with_trusted = generation.clone();
        wrap_with_trusted.retain(|a| a.attribute_type() != A::WrapWithTrusted);
        wrap_with_trusted.insert(0, Attribute::WrapWithTrusted(true));
        let confined = session
            .generate_key(&Mechanism::AesKeyGen, &wrap_with_trusted)
            .unwrap();
        assert_eq!(
            refused(session.wrap_key(&Mechanism::AesKeyWrapPad, transport, confined)),
            RvError::KeyNotWrappable
        );

        // The one initialised library of the unit tests serves these too.
        crate::hsm::single_part::tests::check(&library, &session);
    }
}
