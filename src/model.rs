//! The domain model: keys, their materials, aliases, tags and grants, as
//! plain records. `kms` decides with them and shows them to the dialects
//! (re-exported as `kms::KeyRecord`, ...); `store` maps them to and from
//! rows. It depends on nothing else in the crate.

use std::sync::{Arc, OnceLock};

/// Lifecycle state of a KMS key, spelled as AWS spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyState {
    /// Usable for cryptographic operations.
    Enabled,
    /// Exists but refuses cryptographic operations.
    Disabled,
    /// Scheduled for deletion; refuses cryptographic operations.
    PendingDeletion,
    /// A multi-Region primary scheduled for deletion, waiting for its
    /// replicas to be deleted first.
    PendingReplicaDeletion,
    /// A key of origin `EXTERNAL` without key material: created and not
    /// imported yet, or whose imported material was deleted or expired.
    PendingImport,
}

impl KeyState {
    /// The AWS name of the state.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDeletion => "PendingDeletion",
            KeyState::PendingReplicaDeletion => "PendingReplicaDeletion",
            KeyState::PendingImport => "PendingImport",
        }
    }

    /// Parses an AWS state name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Enabled" => Some(KeyState::Enabled),
            "Disabled" => Some(KeyState::Disabled),
            "PendingDeletion" => Some(KeyState::PendingDeletion),
            "PendingReplicaDeletion" => Some(KeyState::PendingReplicaDeletion),
            "PendingImport" => Some(KeyState::PendingImport),
            _ => None,
        }
    }
}

/// Declares a closed set of AWS names as an enum with `as_str`, `parse` and
/// `ALL` (in declaration order).
macro_rules! aws_names {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &[$name] = &[$($name::$variant,)+];

            /// The AWS name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// Parses an AWS name.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

aws_names! {
    /// The key spec of a key this deployment holds.
    KeySpec {
        /// AES-256-GCM.
        SymmetricDefault = "SYMMETRIC_DEFAULT",
        /// RSA, 2048-bit modulus.
        Rsa2048 = "RSA_2048",
        /// RSA, 3072-bit modulus.
        Rsa3072 = "RSA_3072",
        /// RSA, 4096-bit modulus.
        Rsa4096 = "RSA_4096",
        /// ECC on NIST P-256.
        EccNistP256 = "ECC_NIST_P256",
        /// ECC on NIST P-384.
        EccNistP384 = "ECC_NIST_P384",
        /// ECC on NIST P-521.
        EccNistP521 = "ECC_NIST_P521",
        /// ECC on secp256k1.
        EccSecgP256k1 = "ECC_SECG_P256K1",
        /// HMAC with a 224-bit key.
        Hmac224 = "HMAC_224",
        /// HMAC with a 256-bit key.
        Hmac256 = "HMAC_256",
        /// HMAC with a 384-bit key.
        Hmac384 = "HMAC_384",
        /// HMAC with a 512-bit key.
        Hmac512 = "HMAC_512",
    }
}

aws_names! {
    /// What a key is for.
    KeyUsage {
        /// Encrypt and decrypt.
        EncryptDecrypt = "ENCRYPT_DECRYPT",
        /// Sign and verify.
        SignVerify = "SIGN_VERIFY",
        /// Generate and verify MACs.
        GenerateVerifyMac = "GENERATE_VERIFY_MAC",
        /// Derive shared secrets (ECDH).
        KeyAgreement = "KEY_AGREEMENT",
    }
}

/// Metadata of one KMS key in one region. Times are Unix milliseconds.
#[derive(Clone, Debug)]
pub struct KeyRecord {
    /// Region the key lives in.
    pub region: String,
    /// Key id (a UUID).
    pub key_id: String,
    /// Owning account.
    pub account_id: String,
    /// Free-text description.
    pub description: String,
    /// Lifecycle state.
    pub state: KeyState,
    /// Key spec.
    pub key_spec: KeySpec,
    /// Key usage.
    pub key_usage: KeyUsage,
    /// Origin of the material, e.g. `AWS_KMS`.
    pub origin: String,
    /// When the key was created.
    pub creation_date: i64,
    /// When a scheduled deletion takes effect.
    pub deletion_date: Option<i64>,
    /// Waiting period of a scheduled deletion.
    pub pending_window_days: Option<i64>,
    /// Material id that Encrypt uses. For a key of origin `EXTERNAL` it is
    /// empty until the first import, and stays when the material is
    /// deleted: a re-import must bring the same material.
    pub current_material_id: String,
    /// When imported key material expires (`KEY_MATERIAL_EXPIRES`); `None`
    /// for material that does not expire.
    pub valid_to: Option<i64>,
    /// Key policy document.
    pub policy: Arc<str>,
    /// Automatic rotation period; `None` when automatic rotation is off.
    pub rotation_period_days: Option<i64>,
    /// When the next automatic rotation is due.
    pub next_rotation_date: Option<i64>,
    /// Whether this is a copy of a multi-Region key.
    pub multi_region: bool,
    /// Whether an UpdatePrimaryRegion involving this copy is in progress.
    pub updating: bool,
    /// The key's ARN, once asked for: see [`KeyRecord::arn`].
    pub arn: ArnOnce,
}

impl KeyRecord {
    /// The key's ARN, made the first time it is asked for and kept with
    /// the record, which the metadata cache shares between requests (an
    /// Encrypt names its key's ARN three times: audit line, policy
    /// evaluation, answer).
    pub fn arn(&self) -> &str {
        self.arn
            .0
            .get_or_init(|| key_arn_in(&self.region, &self.account_id, &self.key_id))
    }
}

/// Where a [`KeyRecord`] keeps its ARN once made. A copy of the record
/// starts without it, so a copy given another region or id never carries
/// the original's ARN.
#[derive(Debug, Default)]
pub struct ArnOnce(OnceLock<String>);

impl Clone for ArnOnce {
    fn clone(&self) -> Self {
        Self::default()
    }
}

/// The ARN of a key in a given region and account (concatenated without
/// the formatting machinery).
pub fn key_arn_in(region: &str, account_id: &str, key_id: &str) -> String {
    ["arn:aws:kms:", region, ":", account_id, ":key/", key_id].concat()
}

/// Where the copies of a multi-Region key live.
#[derive(Clone, Debug)]
pub struct MultiRegionRecord {
    /// Region of the primary copy.
    pub primary_region: String,
    /// Region becoming primary while UpdatePrimaryRegion is in progress.
    pub pending_primary: Option<String>,
    /// Every region holding a copy, primary included, sorted.
    pub regions: Vec<String>,
}

/// One backing-key version, wrapped under its region's domain key.
#[derive(Clone, Debug)]
pub struct MaterialRecord {
    /// Material id.
    pub material_id: String,
    /// Wrapped key blob.
    pub wrapped: Vec<u8>,
    /// The public key of an asymmetric key (DER SubjectPublicKeyInfo), in
    /// the clear; `None` for symmetric and HMAC keys.
    pub public_key: Option<Vec<u8>>,
    /// When the material was made (the rotation date for later versions).
    pub creation_date: i64,
    /// `AUTOMATIC` or `ON_DEMAND` for material made by a rotation; `None`
    /// for the key's first material.
    pub rotation_type: Option<RotationType>,
    /// The row's tag, made in the region's token (`hsm::RowBinding`);
    /// `None` until it is tagged.
    pub tag: Option<Vec<u8>>,
}

/// One material of a key of origin `EXTERNAL`, with what its import says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaterialImport {
    /// Material id.
    pub material_id: String,
    /// When it was imported, or (once a rotation made it current) rotated to.
    pub creation_date: i64,
    /// `OnDemand` once a rotation made it current; `None` for the first
    /// material and for material waiting for a rotation.
    pub rotation_type: Option<RotationType>,
    /// Whether the material is in the store now (false once deleted or
    /// expired, until the same material is imported again).
    pub imported: bool,
    /// Whether it waits for RotateKeyOnDemand to become current.
    pub pending_rotation: bool,
    /// When it expires (Unix ms); `None`: it does not.
    pub valid_to: Option<i64>,
    /// The description given at import.
    pub description: Option<String>,
}

/// How a rotation was started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RotationType {
    /// By the rotation schedule.
    Automatic,
    /// By RotateKeyOnDemand.
    OnDemand,
}

impl RotationType {
    /// The AWS name.
    pub fn as_str(self) -> &'static str {
        match self {
            RotationType::Automatic => "AUTOMATIC",
            RotationType::OnDemand => "ON_DEMAND",
        }
    }

    /// Parses an AWS name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "AUTOMATIC" => Some(RotationType::Automatic),
            "ON_DEMAND" => Some(RotationType::OnDemand),
            _ => None,
        }
    }
}

/// An alias and the key it names.
#[derive(Clone, Debug)]
pub struct AliasRecord {
    /// Full alias name, `alias/...`.
    pub alias_name: String,
    /// Target key id.
    pub key_id: String,
    /// When the alias was created.
    pub creation_date: i64,
    /// When the alias was last pointed at a key.
    pub last_updated: i64,
}

/// One tag of a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    /// Tag key.
    pub key: String,
    /// Tag value.
    pub value: String,
}

/// One grant on a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantRecord {
    /// Grant id (64 hex digits).
    pub grant_id: String,
    /// Region of the key.
    pub region: String,
    /// Key id.
    pub key_id: String,
    /// Optional name (idempotency of CreateGrant).
    pub name: Option<String>,
    /// Principal the grant lets in.
    pub grantee: String,
    /// Principal that may retire the grant.
    pub retiring: Option<String>,
    /// Operation names, e.g. `Encrypt`.
    pub operations: Vec<String>,
    /// Constraints as JSON (`{"EncryptionContextSubset": {...}}` or
    /// `{"EncryptionContextEquals": {...}}`).
    pub constraints: Option<String>,
    /// Account that created the grant.
    pub issuing_account: String,
    /// Creation time, Unix ms.
    pub creation_date: i64,
    /// The grant token handed to the creator.
    pub token: String,
}

/// The domain key a region's tokens share, as the store names it (ADR
/// 0016): claimed by the first node whose token held one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainKeyRecord {
    /// Region.
    pub region: String,
    /// A random key wrapped under the domain key: a token holds the
    /// region's domain key iff it unwraps this blob.
    pub check_blob: Vec<u8>,
    /// Node that claimed the region.
    pub created_by: String,
    /// When, Unix ms.
    pub created_at: i64,
}

/// A joining node's enrolment offer for one region (ADR 0016), and what
/// became of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnrolmentRecord {
    /// The joining node.
    pub node_id: String,
    /// The region whose domain key it asks for.
    pub region: String,
    /// The offer's RSA public key, DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
    /// SHA-256 of the public key, hex: what an operator approves.
    pub fingerprint: String,
    /// When it was posted, Unix ms.
    pub offered_at: i64,
    /// The member node whose token's SO trusted the offer, once approved.
    pub approved_by: Option<String>,
    /// The domain key wrapped for the offer, once answered.
    pub package: Option<Vec<u8>>,
    /// The member node that answered.
    pub answered_by: Option<String>,
}
