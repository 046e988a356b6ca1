//! Moving key material between tokens, only ever wrapped.
//!
//! The exchange is a pair of messages so the two tokens may one day sit in
//! different deployments (see docs/adr/0003-material-transport.md):
//!
//! 1. The destination token makes an ephemeral P-384 key pair and offers its
//!    public point ([`Hsm::begin_import`]).
//! 2. The source token makes its own ephemeral pair, derives a transport key
//!    by ECDH with the offered point, unwraps each material under its domain
//!    key and wraps it under the transport key with AES key wrap (padded)
//!    ([`Hsm::export_materials`]).
//! 3. The destination derives the same transport key from the sender's point,
//!    unwraps each material inside the token and re-wraps it under its own
//!    domain key ([`Hsm::complete_import`]).
//!
//! The transport key is bound to the exchange: ECDH (CKD_NULL) gives an
//! intermediate AES key, and AES-CBC-ENCRYPT-DATA over SHA-256(sender point ||
//! receiver point) derives the wrapping key from it. Plaintext material never
//! leaves a token; ephemeral keys are session objects destroyed after use.

use super::token::backing_key_template;
use super::{Hsm, HsmError, MaterialRef, WrappedMaterial};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::ekdf::AesCbcDeriveParams;
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;

/// DER encoding of the P-384 curve OID (1.3.132.0.34).
const P384_PARAMS: [u8; 7] = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];

/// A destination's offer: the public point of its ephemeral key pair.
pub struct ImportOffer {
    /// Names the pending import on the destination.
    pub id: u64,
    /// DER-encoded EC point to wrap material for.
    pub public_point: Vec<u8>,
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
        })
    }

    /// Step 2, on the source: wraps `materials` for the destination's offer.
    pub fn export_materials(
        &self,
        materials: &[WrappedMaterial<'_>],
        offer_point: &[u8],
    ) -> Result<TransportPackage, HsmError> {
        let token = self.token()?;
        let owner = token.lock_owner();
        let (public, private) = ephemeral_pair(&owner)?;
        let result = (|| {
            let sender_point = ec_point(&owner, public)?;
            let transport =
                transport_key(&owner, private, offer_point, &sender_point, offer_point)?;
            let blobs = materials
                .iter()
                .map(|m| {
                    let key = owner.unwrap_key(
                        &Mechanism::AesKeyWrapPad,
                        token.domain_key(),
                        m.wrapped,
                        &backing_key_template(false),
                    )?;
                    let blob = owner.wrap_key(&Mechanism::AesKeyWrapPad, transport, key);
                    token.destroy(&owner, key);
                    Ok(blob?)
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
                let step = owner
                    .unwrap_key(
                        &Mechanism::AesKeyWrapPad,
                        transport,
                        blob,
                        &backing_key_template(false),
                    )
                    .map_err(|_| HsmError::UnwrapFailed)
                    .and_then(|key| {
                        let wrapped =
                            owner.wrap_key(&Mechanism::AesKeyWrapPad, token.domain_key(), key);
                        match wrapped {
                            Ok(w) => {
                                token.cache_handle(&owner, reference.clone(), key);
                                Ok(w)
                            }
                            Err(e) => {
                                token.destroy(&owner, key);
                                Err(e.into())
                            }
                        }
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

/// An ephemeral P-384 key pair as session objects: (public, private).
fn ephemeral_pair(session: &Session) -> Result<(ObjectHandle, ObjectHandle), HsmError> {
    Ok(session.generate_key_pair(
        &Mechanism::EccKeyPairGen,
        &[
            Attribute::Token(false),
            Attribute::EcParams(P384_PARAMS.to_vec()),
        ],
        &[
            Attribute::Token(false),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Derive(true),
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
/// an AES-256 wrapping key both sides derive and nobody can extract.
fn transport_key(
    session: &Session,
    private: ObjectHandle,
    peer_point: &[u8],
    sender_point: &[u8],
    receiver_point: &[u8],
) -> Result<ObjectHandle, HsmError> {
    let shared = session.derive_key(
        &Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), peer_point)),
        private,
        &[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::ValueLen(32.into()),
            Attribute::Token(false),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Derive(true),
        ],
    )?;
    let mut transcript = sender_point.to_vec();
    transcript.extend_from_slice(receiver_point);
    let result = session
        .digest(&Mechanism::Sha256, &transcript)
        .and_then(|hash| {
            session.derive_key(
                &Mechanism::AesCbcEncryptData(AesCbcDeriveParams::new([0u8; 16], &hash)),
                shared,
                &[
                    Attribute::Class(ObjectClass::SECRET_KEY),
                    Attribute::KeyType(KeyType::AES),
                    Attribute::ValueLen(32.into()),
                    Attribute::Token(false),
                    Attribute::Sensitive(true),
                    Attribute::Extractable(false),
                    Attribute::Wrap(true),
                    Attribute::Unwrap(true),
                ],
            )
        });
    let _ = session.destroy_object(shared);
    Ok(result?)
}
