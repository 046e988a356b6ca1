//! A token's domain key before Trent serves the token: whether it holds
//! one, making one, and the check blob that tells whether two tokens hold
//! the same one (ADR 0016). The joining side of an enrolment works on the
//! same set-up (`enrolment`). Runs at start-up, in `trent init-domain-key`
//! and when dev mode provisions a region on first use, never on the hot
//! path. The module is held (no token opened, no re-initialisation) until
//! the set-up is dropped, so drop it before opening the token with
//! [`super::Hsm::open`].

use super::mechanisms::{self, Mechanisms};
use super::module::ModuleHold;
use super::open::{self, DomainKeySharing};
use super::template::{Purpose, backing_key_template};
use super::{HsmError, Module, SecretKind, TokenSpec};
use cryptoki::object::{Attribute, ObjectHandle};
use cryptoki::session::Session;

/// A logged-in session on one token, for its domain key's set-up.
pub struct DomainKeySetup<'m> {
    pub(super) hold: ModuleHold<'m>,
    pub(super) session: Session,
    pub(super) label: String,
    pub(super) mechanisms: Mechanisms,
    /// The domain key, once found, made or enrolled.
    pub(super) domain_key: Option<ObjectHandle>,
    /// Whether this set-up made the domain key (and so may undo it).
    pub(super) created: bool,
    /// The private key (a session object) of this set-up's enrolment
    /// offer, if it made one.
    pub(super) offer: Option<ObjectHandle>,
}

impl Module {
    /// Opens the token of `spec` (provisioning it when the spec carries an
    /// SO PIN and it is missing), logs in and finds its domain key, if any.
    pub fn domain_key_setup(&self, spec: &TokenSpec<'_>) -> Result<DomainKeySetup<'_>, HsmError> {
        let hold = self.hold();
        let slot = open::token_slot(
            hold.ctx(),
            &spec.module,
            spec.label,
            spec.pin,
            spec.provision_so_pin,
        )?;
        let mechanisms = Mechanisms::detect(hold.ctx(), slot, spec.label)?;
        let session = hold.ctx().open_rw_session(slot)?;
        open::login(&session, spec.pin)?;
        let domain_key = open::find_domain_key(&session, spec.label)?;
        Ok(DomainKeySetup {
            hold,
            session,
            label: spec.label.to_string(),
            mechanisms,
            domain_key,
            created: false,
            offer: None,
        })
    }
}

impl DomainKeySetup<'_> {
    /// Whether the token holds a domain key.
    pub fn holds_domain_key(&self) -> bool {
        self.domain_key.is_some()
    }

    /// How the token's domain key is shared; `None` without one.
    pub fn sharing(&self) -> Result<Option<DomainKeySharing>, HsmError> {
        self.domain_key
            .map(|key| open::domain_key_sharing(&self.session, key))
            .transpose()
    }

    /// Generates the domain key (the token must hold none).
    pub fn create_domain_key(&mut self, sharing: DomainKeySharing) -> Result<(), HsmError> {
        if self.domain_key.is_some() {
            return Err(HsmError::AmbiguousDomainKey(self.label.clone(), 2));
        }
        self.domain_key = Some(open::create_domain_key(&self.session, sharing)?);
        self.created = true;
        Ok(())
    }

    /// Destroys the domain key this set-up made, before anything was
    /// wrapped under it: another node claimed the region first. A key this
    /// set-up found or enrolled is never destroyed.
    pub fn discard_created_domain_key(&mut self) -> Result<(), HsmError> {
        if let (true, Some(key)) = (self.created, self.domain_key) {
            self.session.destroy_object(key)?;
            self.domain_key = None;
            self.created = false;
        }
        Ok(())
    }

    /// A new check blob of the domain key: a random AES key generated in
    /// the token and wrapped under the domain key. Only a token holding
    /// that domain key unwraps it (key wrapping checks its integrity).
    pub fn check_blob(&self) -> Result<Vec<u8>, HsmError> {
        let domain_key = self.domain_key()?;
        let kind = SecretKind::Aes256;
        let wrapping = self
            .mechanisms
            .wrapping_of(kind.wrapped_len(), &self.label)?;
        let mut template = backing_key_template(Purpose::Transit, kind);
        template.insert(0, Attribute::ValueLen(32.into()));
        let (mechanism, _) = kind.secret_generation().expect("AES is a secret key");
        let key = self.session.generate_key(&mechanism, &template)?;
        let wrapped = self
            .session
            .wrap_key(&wrapping.mechanism(), domain_key, key);
        let _ = self.session.destroy_object(key);
        Ok(mechanisms::seal(wrapping, wrapped?))
    }

    /// Whether the token's domain key unwraps `check_blob`, that is, is the
    /// domain key the blob was made under.
    pub fn verify_check_blob(&self, check_blob: &[u8]) -> Result<bool, HsmError> {
        verify_check_blob(
            &self.session,
            &self.mechanisms,
            &self.label,
            self.domain_key()?,
            check_blob,
        )
    }

    /// Whether this set-up made the token's domain key (and so may still
    /// discard it).
    pub fn created_domain_key(&self) -> bool {
        self.created
    }

    /// The error saying that the token holds no domain key.
    pub fn missing_domain_key(&self) -> HsmError {
        HsmError::NoDomainKey(self.label.clone(), self.hold.path.display().to_string())
    }

    /// The domain key, which the token must hold by now.
    pub(super) fn domain_key(&self) -> Result<ObjectHandle, HsmError> {
        self.domain_key.ok_or_else(|| self.missing_domain_key())
    }
}

/// Whether `domain_key` unwraps `check_blob`: a failed unwrap (the key
/// wrap's integrity check) means another key made it.
pub(super) fn verify_check_blob(
    session: &Session,
    mechanisms: &Mechanisms,
    label: &str,
    domain_key: ObjectHandle,
    check_blob: &[u8],
) -> Result<bool, HsmError> {
    use cryptoki::error::Error;
    let (wrapping, raw) = mechanisms::open_blob(check_blob)?;
    mechanisms.require(wrapping, label)?;
    let template = backing_key_template(Purpose::Use, SecretKind::Aes256);
    match session.unwrap_key(&wrapping.mechanism(), domain_key, raw, &template) {
        Ok(key) => {
            let _ = session.destroy_object(key);
            Ok(true)
        }
        Err(Error::Pkcs11(rv, _)) => {
            tracing::debug!(token = label, error = %rv, "the check blob does not unwrap");
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

impl Drop for DomainKeySetup<'_> {
    /// Destroys the private key of an offer left unanswered (it would die
    /// with the session anyway).
    fn drop(&mut self) {
        if let Some(private) = self.offer.take() {
            let _ = self.session.destroy_object(private);
        }
    }
}
