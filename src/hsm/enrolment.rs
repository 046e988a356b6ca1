//! Enrolling a token into a cluster: carrying a shareable domain key from a
//! member's token to a joining node's, never in the clear (ADR 0016).
//!
//! 1. The joining node makes an *offer* ([`DomainKeySetup::offer`]): an
//!    RSA-3072 key pair whose private half is a session object that can
//!    unwrap nothing but a shareable domain key (its `CKA_UNWRAP_TEMPLATE`).
//! 2. The SO of a member's token *trusts* the offer
//!    ([`Module::trust_offer`]), in a process where no user is logged in:
//!    a trusted RSA public-key token object made from the offer's public key.
//! 3. The member *packages* its domain key ([`Hsm::package_domain_key`]):
//!    RSA-OAEP under that trusted key, the only kind of key the token lets
//!    wrap a `CKA_WRAP_WITH_TRUSTED` key.
//! 4. The joining node *accepts* the package ([`DomainKeySetup::accept_package`]):
//!    unwraps it into its domain key token object and checks it against the
//!    store's check blob.
//!
//! RSA-OAEP is used with SHA-1 and MGF1-SHA-1, the only hash SoftHSM 2.6
//! accepts for it; it protects a 32-byte key, not a signature.

use super::asymmetric::Oaep;
use super::open::{self, DomainKeySharing};
use super::public_key::{self, PublicParts};
use super::setup::{self, DomainKeySetup};
use super::{Hsm, HsmError, Module};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use secrecy::SecretString;
use sha2::{Digest, Sha256};

/// Modulus length of an offer's key pair.
const OFFER_BITS: u64 = 3072;

/// A joining node's enrolment offer, as it is posted to the store.
pub struct Offer {
    /// The offer's RSA public key, DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
    /// Its fingerprint, the SHA-256 of the public key in lowercase hex,
    /// which an operator compares before approving.
    pub fingerprint: String,
}

/// The fingerprint of an offer's public key: the SHA-256 of its DER
/// SubjectPublicKeyInfo, in lowercase hex.
pub fn fingerprint(public_key: &[u8]) -> String {
    hex::encode(Sha256::digest(public_key))
}

/// What the private key of an offer may unwrap: a domain key token object
/// with a shareable domain key's attributes, `CKA_MODIFIABLE` false last.
/// SoftHSM 2.6.1 refuses a nested `CKA_UNWRAP_TEMPLATE` in it
/// (`CKR_ATTRIBUTE_VALUE_INVALID`), so the copy's own unwrap template is
/// not pinned here; the offer key is a session object of the joining Trent
/// process, whose unwrap always states it.
fn offer_unwrap_template() -> Vec<Attribute> {
    let mut template = vec![Attribute::Token(true)];
    template.extend(open::domain_key_flags(DomainKeySharing::Shareable));
    template.push(Attribute::Modifiable(false));
    template
}

impl DomainKeySetup<'_> {
    /// Makes an enrolment offer (replacing an earlier one of this set-up):
    /// an RSA-3072 key pair whose private key is a session object,
    /// sensitive, not extractable, able only to unwrap a shareable domain
    /// key. The token must hold no domain key.
    pub fn offer(&mut self) -> Result<Offer, HsmError> {
        if self.domain_key.is_some() {
            return Err(HsmError::AmbiguousDomainKey(self.label.clone(), 2));
        }
        if let Some(old) = self.offer.take() {
            let _ = self.session.destroy_object(old);
        }
        let public_template = [
            Attribute::Token(false),
            Attribute::Private(false),
            Attribute::ModulusBits(OFFER_BITS.into()),
            Attribute::PublicExponent(vec![1, 0, 1]),
            Attribute::Wrap(true),
            Attribute::Encrypt(false),
            Attribute::Verify(false),
        ];
        let pinned = offer_unwrap_template();
        let (public, private) = open::with_unwrap_template(&pinned, |unwrap_template| {
            self.session.generate_key_pair(
                &Mechanism::RsaPkcsKeyPairGen,
                &public_template,
                &[
                    Attribute::Token(false),
                    Attribute::Private(true),
                    Attribute::Sensitive(true),
                    Attribute::Extractable(false),
                    Attribute::Unwrap(true),
                    Attribute::Decrypt(false),
                    Attribute::Sign(false),
                    Attribute::Derive(false),
                    unwrap_template,
                    Attribute::Modifiable(false),
                ],
            )
        })?;
        let public_key = rsa_public_key(&self.session, public);
        let _ = self.session.destroy_object(public);
        let public_key = match public_key {
            Ok(spki) => spki,
            Err(e) => {
                let _ = self.session.destroy_object(private);
                return Err(e);
            }
        };
        self.offer = Some(private);
        Ok(Offer {
            fingerprint: fingerprint(&public_key),
            public_key,
        })
    }

    /// Unwraps a member's package with this set-up's offer into the
    /// token's domain key (a token object with the shareable domain key's
    /// attributes and unwrap template) and keeps it only if it unwraps the
    /// store's `check_blob`; otherwise destroys it and fails with
    /// [`HsmError::NotTheDomainKey`]. The offer's private key is gone after.
    pub fn accept_package(&mut self, package: &[u8], check_blob: &[u8]) -> Result<(), HsmError> {
        let private = self.offer.take().ok_or(HsmError::NoOffer)?;
        let unwrapped =
            open::with_domain_key_template(DomainKeySharing::Shareable, &[], |template| {
                self.session
                    .unwrap_key(&Oaep::Sha1.mechanism(), private, package, template)
            });
        let _ = self.session.destroy_object(private);
        let key = unwrapped.map_err(|e| HsmError::BadPackage(e.to_string()))?;
        let same = setup::verify_check_blob(
            &self.session,
            &self.mechanisms,
            &self.label,
            key,
            check_blob,
        );
        if !matches!(same, Ok(true)) {
            let _ = self.session.destroy_object(key);
            return Err(same.err().unwrap_or(HsmError::NotTheDomainKey));
        }
        self.domain_key = Some(key);
        Ok(())
    }
}

/// The DER SubjectPublicKeyInfo of the RSA public key object `public`.
fn rsa_public_key(session: &Session, public: ObjectHandle) -> Result<Vec<u8>, HsmError> {
    let values = session.get_attributes(
        public,
        &[AttributeType::Modulus, AttributeType::PublicExponent],
    )?;
    match values.as_slice() {
        [
            Attribute::Modulus(modulus),
            Attribute::PublicExponent(exponent),
        ] => public_key::encode(&PublicParts::Rsa { modulus, exponent }),
        _ => Err(HsmError::BadPublicKey(
            "the token did not give the offer's RSA modulus and exponent".into(),
        )),
    }
}

/// What a trusted offer object is found by: a public token object the SO
/// marked trusted, labelled with the joining node's id, whose `CKA_ID` is
/// the SHA-256 of the offer's public key.
fn trusted_offer_filter(node_id: &str, public_key: &[u8]) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::Token(true),
        Attribute::Trusted(true),
        Attribute::Label(node_id.as_bytes().to_vec()),
        Attribute::Id(Sha256::digest(public_key).to_vec()),
    ]
}

impl Module {
    /// The SO's step of an enrolment: logs in to the token labelled
    /// `token_label` as its Security Officer and creates, from an offer's
    /// public key, a trusted RSA public-key token object that can wrap with
    /// RSA-OAEP only, labelled with the joining node's id. Does nothing if
    /// one exists already.
    ///
    /// The token refuses the SO login while a user is logged in to it in
    /// the same process (`CKR_USER_ANOTHER_ALREADY_LOGGED_IN`), so this
    /// runs in a process of its own (`trent cluster approve`), never in a
    /// serving one.
    pub fn trust_offer(
        &self,
        token_label: &str,
        so_pin: &SecretString,
        node_id: &str,
        public_key: &[u8],
    ) -> Result<(), HsmError> {
        let PublicParts::Rsa { modulus, exponent } = public_key::parse(public_key)? else {
            return Err(HsmError::BadPublicKey("an offer's key is RSA".into()));
        };
        self.as_so(token_label, so_pin, |session| {
            let filter = trusted_offer_filter(node_id, public_key);
            if !session.find_objects(&filter)?.is_empty() {
                return Ok(());
            }
            let mut template = filter;
            template.extend([
                Attribute::KeyType(KeyType::RSA),
                Attribute::Modulus(modulus.to_vec()),
                Attribute::PublicExponent(exponent.to_vec()),
                Attribute::Private(false),
                Attribute::Wrap(true),
                Attribute::Encrypt(false),
                Attribute::Verify(false),
                Attribute::AllowedMechanisms(vec![MechanismType::RSA_PKCS_OAEP]),
                Attribute::Modifiable(false),
            ]);
            session.create_object(&template)?;
            Ok(())
        })
    }

    /// Undoes [`Module::trust_offer`]: the SO destroys the trusted objects
    /// made for the offer (an approval that could not be recorded).
    pub fn distrust_offer(
        &self,
        token_label: &str,
        so_pin: &SecretString,
        node_id: &str,
        public_key: &[u8],
    ) -> Result<(), HsmError> {
        self.as_so(token_label, so_pin, |session| {
            for object in session.find_objects(&trusted_offer_filter(node_id, public_key))? {
                session.destroy_object(object)?;
            }
            Ok(())
        })
    }

    /// Runs `work` on a session of the token labelled `token_label` with its
    /// Security Officer logged in, and logs out after.
    fn as_so(
        &self,
        token_label: &str,
        so_pin: &SecretString,
        work: impl FnOnce(&Session) -> Result<(), HsmError>,
    ) -> Result<(), HsmError> {
        let hold = self.hold();
        let module = hold.path.display().to_string();
        let slot = open::find_slot(hold.ctx(), token_label)?
            .ok_or_else(|| HsmError::TokenNotFound(token_label.into(), module))?;
        let session = hold.ctx().open_rw_session(slot)?;
        so_login(&session, token_label, so_pin)?;
        let done = work(&session);
        let _ = session.logout();
        done
    }
}

/// Logs the Security Officer in on `session`, with messages an operator
/// can act on for the refusals they can cause.
fn so_login(session: &Session, label: &str, so_pin: &SecretString) -> Result<(), HsmError> {
    use cryptoki::error::{Error, RvError};
    let refused = |why: &str| HsmError::SoLogin(label.to_string(), why.to_string());
    match session.login(UserType::So, Some(&AuthPin::from(so_pin.clone()))) {
        Ok(()) => Ok(()),
        Err(Error::Pkcs11(RvError::PinIncorrect | RvError::PinInvalid, _)) => {
            Err(refused("the SO PIN is wrong"))
        }
        Err(Error::Pkcs11(RvError::PinLocked, _)) => Err(refused("the SO PIN is locked")),
        Err(Error::Pkcs11(RvError::UserAnotherAlreadyLoggedIn, _)) => Err(refused(
            "a user is logged in to this token in this process; the SO step must run in a \
             process of its own",
        )),
        Err(e) => Err(e.into()),
    }
}

impl Hsm {
    /// How this token's domain key is shared.
    pub fn domain_key_sharing(&self) -> Result<DomainKeySharing, HsmError> {
        let token = self.token()?;
        let owner = token.lock_owner();
        open::domain_key_sharing(&owner, token.domain_key())
    }

    /// The domain key wrapped for the offer of `node_id` whose public key
    /// is `public_key` (RSA-OAEP under the trusted object the SO made from
    /// it); `None` when this token holds no such object (the offer was
    /// approved on another member, or not yet).
    pub fn package_domain_key(
        &self,
        node_id: &str,
        public_key: &[u8],
    ) -> Result<Option<Vec<u8>>, HsmError> {
        let token = self.token()?;
        let owner = token.lock_owner();
        let Some(trusted) = owner
            .find_objects(&trusted_offer_filter(node_id, public_key))?
            .first()
            .copied()
        else {
            return Ok(None);
        };
        if open::domain_key_sharing(&owner, token.domain_key())? != DomainKeySharing::Shareable {
            return Err(HsmError::NotShareable(token.label().to_string()));
        }
        let package = owner.wrap_key(&Oaep::Sha1.mechanism(), trusted, token.domain_key())?;
        Ok(Some(package))
    }

    /// Destroys the trusted objects made for the offer of `node_id` whose
    /// public key is `public_key`, once its package is delivered.
    pub fn forget_trusted_offer(&self, node_id: &str, public_key: &[u8]) -> Result<(), HsmError> {
        let token = self.token()?;
        let owner = token.lock_owner();
        for object in owner.find_objects(&trusted_offer_filter(node_id, public_key))? {
            owner.destroy_object(object)?;
        }
        Ok(())
    }
}
