//! What is wrong with a request, as facts: the field, the rule it breaks,
//! the value given. Each dialect renders these in its own words.

use crate::model::{KeySpec, KeyUsage};

/// A request field, by the domain model's name for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// The key a request addresses.
    KeyId,
    /// An alias name.
    AliasName,
    /// The key an alias points to.
    TargetKeyId,
    /// A grant's grantee.
    GranteePrincipal,
    /// A grant's retiring principal.
    RetiringPrincipal,
    /// A grant's operations.
    Operations,
    /// A grant id.
    GrantId,
    /// A grant token.
    GrantToken,
    /// Where a listing continues.
    Marker,
    /// A grant's name.
    Name,
    /// A grant's constraints.
    Constraints,
    /// A key spec.
    KeySpec,
    /// The deprecated spelling of a key spec.
    CustomerMasterKeySpec,
    /// A key usage.
    KeyUsage,
    /// A key's origin.
    Origin,
    /// A key's description.
    Description,
    /// Days before a scheduled deletion.
    PendingWindowInDays,
    /// A list of tags.
    Tags,
    /// A list of tag keys.
    TagKeys,
    /// One tag's key.
    TagKey,
    /// One tag's value.
    TagValue,
    /// A page size.
    Limit,
    /// An encryption algorithm.
    EncryptionAlgorithm,
    /// A number of bytes to make.
    NumberOfBytes,
    /// Plaintext to encrypt.
    Plaintext,
    /// A ciphertext.
    CiphertextBlob,
    /// The key a ciphertext is re-encrypted under.
    DestinationKeyId,
    /// The Region a key is replicated to.
    ReplicaRegion,
    /// The Region a multi-Region key's primary moves to.
    PrimaryRegion,
    /// Days between automatic rotations.
    RotationPeriodInDays,
    /// A key policy document.
    Policy,
    /// A key policy's name.
    PolicyName,
    /// Which key materials a listing includes.
    IncludeKeyMaterial,
    /// A message to MAC.
    Message,
    /// A MAC algorithm.
    MacAlgorithm,
    /// A MAC to verify.
    Mac,
    /// A signature to verify.
    Signature,
    /// A signing algorithm.
    SigningAlgorithm,
    /// Whether a message is raw or a digest.
    MessageType,
    /// A peer's public key.
    PublicKey,
    /// A key agreement algorithm.
    KeyAgreementAlgorithm,
    /// The spec of a data key pair.
    KeyPairSpec,
    /// How imported material is wrapped.
    WrappingAlgorithm,
    /// The spec of the import wrapping key.
    WrappingKeySpec,
    /// An import token.
    ImportToken,
    /// Wrapped key material to import.
    EncryptedKeyMaterial,
    /// Whether imported material expires.
    ExpirationModel,
    /// Whether imported material is new or the key's already.
    ImportType,
    /// A description of imported material.
    KeyMaterialDescription,
    /// A key material id.
    KeyMaterialId,
    /// The key a ciphertext was encrypted under, in ReEncrypt.
    SourceKeyId,
    /// The algorithm a ciphertext was encrypted with, in ReEncrypt.
    SourceEncryptionAlgorithm,
    /// The algorithm ReEncrypt encrypts with.
    DestinationEncryptionAlgorithm,
    /// Grant tokens that make fresh grants effective at once.
    GrantTokens,
    /// An AWS service principal a grant is for.
    GranteeServicePrincipal,
    /// An AWS service principal that may retire a grant.
    RetiringServicePrincipal,
    /// The AWS resource a grant is for.
    SourceArn,
    /// A custom key store.
    CustomKeyStoreId,
    /// A key in an external key manager.
    XksKeyId,
    /// Whose keys a listing includes.
    ResourceOwners,
    /// How a dry run is modified.
    DryRunModifiers,
    /// How a Nitro Enclaves answer would be encrypted.
    RecipientKeyEncryptionAlgorithm,
    /// A Nitro Enclaves attestation document.
    AttestationDocument,
}

impl Field {
    /// The model's name for the field: AWS's member name, e.g. `KeyId`.
    pub fn name(self) -> &'static str {
        use Field::*;
        match self {
            KeyId => "KeyId",
            AliasName => "AliasName",
            TargetKeyId => "TargetKeyId",
            GranteePrincipal => "GranteePrincipal",
            RetiringPrincipal => "RetiringPrincipal",
            Operations => "Operations",
            GrantId => "GrantId",
            GrantToken => "GrantToken",
            Marker => "Marker",
            Name => "Name",
            Constraints => "Constraints",
            KeySpec => "KeySpec",
            CustomerMasterKeySpec => "CustomerMasterKeySpec",
            KeyUsage => "KeyUsage",
            Origin => "Origin",
            Description => "Description",
            PendingWindowInDays => "PendingWindowInDays",
            Tags => "Tags",
            TagKeys => "TagKeys",
            TagKey => "TagKey",
            TagValue => "TagValue",
            Limit => "Limit",
            EncryptionAlgorithm => "EncryptionAlgorithm",
            NumberOfBytes => "NumberOfBytes",
            Plaintext => "Plaintext",
            CiphertextBlob => "CiphertextBlob",
            DestinationKeyId => "DestinationKeyId",
            ReplicaRegion => "ReplicaRegion",
            PrimaryRegion => "PrimaryRegion",
            RotationPeriodInDays => "RotationPeriodInDays",
            Policy => "Policy",
            PolicyName => "PolicyName",
            IncludeKeyMaterial => "IncludeKeyMaterial",
            Message => "Message",
            MacAlgorithm => "MacAlgorithm",
            Mac => "Mac",
            Signature => "Signature",
            SigningAlgorithm => "SigningAlgorithm",
            MessageType => "MessageType",
            PublicKey => "PublicKey",
            KeyAgreementAlgorithm => "KeyAgreementAlgorithm",
            KeyPairSpec => "KeyPairSpec",
            WrappingAlgorithm => "WrappingAlgorithm",
            WrappingKeySpec => "WrappingKeySpec",
            ImportToken => "ImportToken",
            EncryptedKeyMaterial => "EncryptedKeyMaterial",
            ExpirationModel => "ExpirationModel",
            ImportType => "ImportType",
            KeyMaterialDescription => "KeyMaterialDescription",
            KeyMaterialId => "KeyMaterialId",
            SourceKeyId => "SourceKeyId",
            SourceEncryptionAlgorithm => "SourceEncryptionAlgorithm",
            DestinationEncryptionAlgorithm => "DestinationEncryptionAlgorithm",
            GrantTokens => "GrantTokens",
            GranteeServicePrincipal => "GranteeServicePrincipal",
            RetiringServicePrincipal => "RetiringServicePrincipal",
            SourceArn => "Constraints.SourceArn",
            CustomKeyStoreId => "CustomKeyStoreId",
            XksKeyId => "XksKeyId",
            ResourceOwners => "ResourceOwners",
            DryRunModifiers => "DryRunModifiers",
            RecipientKeyEncryptionAlgorithm => "Recipient.KeyEncryptionAlgorithm",
            AttestationDocument => "Recipient.AttestationDocument",
        }
    }
}

/// The constraint a field's value breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Its length (characters, bytes or members) must lie in `min..=max`;
    /// it is `got`.
    Length {
        /// Shortest allowed.
        min: usize,
        /// Longest allowed.
        max: usize,
        /// The length given.
        got: usize,
    },
    /// The number must lie in `min..=max`; it is `got`.
    Range {
        /// Least allowed.
        min: i64,
        /// Greatest allowed.
        max: i64,
        /// The number given.
        got: i64,
    },
    /// The value must be one of these.
    OneOf(&'static [&'static str]),
    /// The value must match this regular expression.
    Pattern(&'static str),
}

impl Rule {
    /// Whether a length or number lies below the allowed range (else above).
    pub fn below(&self) -> bool {
        match self {
            Rule::Length { min, got, .. } => got < min,
            Rule::Range { min, got, .. } => got < min,
            Rule::OneOf(_) | Rule::Pattern(_) => false,
        }
    }
}

/// Why a request is refused as invalid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// A field breaks a constraint. `value` is the value given, when it may
    /// be shown (never for plaintext or ciphertext).
    Field {
        /// The field.
        field: Field,
        /// The value given, if showable.
        value: Option<String>,
        /// The constraint.
        rule: Rule,
    },
    /// Two fields that exclude each other were both given.
    Exclusive(Field, Field),
    /// Neither of two alternatives was given.
    EitherRequired(Field, Field),
    /// Neither a grant token nor a key id and grant id was given.
    GrantUnnamed,
    /// Grant constraints may be a subset or an exact match, not both.
    ConstraintsBoth,
    /// A key spec other than `SYMMETRIC_DEFAULT` was given without a key
    /// usage.
    UsageRequired,
    /// The key usage does not go with the key spec.
    UsageForSpec {
        /// The usage given.
        usage: String,
        /// The spec given.
        spec: String,
    },
    /// A digest's length is not its signing algorithm's.
    DigestLength {
        /// The signing algorithm.
        algorithm: &'static str,
        /// Its digest length.
        expected: usize,
        /// The message's length.
        got: usize,
    },
    /// A message type that the signing algorithm does not take.
    MessageTypeForAlgorithm {
        /// The message type given.
        message_type: String,
        /// The signing algorithm.
        algorithm: &'static str,
    },
    /// A plaintext longer than an RSA key encrypts with the algorithm.
    RsaPlaintextLength {
        /// The encryption algorithm.
        algorithm: &'static str,
        /// The key's spec.
        spec: KeySpec,
        /// The most it encrypts.
        max: usize,
        /// The plaintext's length.
        got: usize,
    },
    /// An encryption context given for an asymmetric key, which takes none.
    ContextForAsymmetric,
    /// Decrypting with an asymmetric key needs the key named.
    AsymmetricKeyIdRequired,
    /// A peer's public key that is not a DER SubjectPublicKeyInfo on the
    /// key's curve.
    PeerKey(String),
    /// `KEY_MATERIAL_EXPIRES` without a ValidTo.
    ValidToRequired,
    /// A ValidTo in the past or more than 365 days ahead.
    ValidToRange,
    /// A ValidTo with `KEY_MATERIAL_DOES_NOT_EXPIRE`.
    ValidToWithoutExpiry,
    /// A KeyMaterialId with `NEW_KEY_MATERIAL`.
    MaterialIdWithNewMaterial,
    /// `EXISTING_KEY_MATERIAL` for a key (its ARN) that never had material.
    NoMaterialYet(String),
    /// Import options only symmetric encryption keys take (new material
    /// after the first, a material description or id), for a key of this spec.
    ImportOptionsForKey(KeySpec),
    /// Grant operations that the key's type does not support.
    GrantOperationsForKey {
        /// The operations refused.
        operations: Vec<String>,
        /// The key's spec.
        spec: KeySpec,
        /// The key's usage.
        usage: KeyUsage,
    },
    /// Grant constraints on a key other than a symmetric encryption key.
    GrantConstraintsForKey(KeySpec),
    /// An alias may move only to a key of the same spec and usage.
    AliasTargetType {
        /// The alias's ARN.
        alias: String,
        /// Spec and usage of the key the alias points to now.
        from: (KeySpec, KeyUsage),
        /// Spec and usage of the new target.
        to: (KeySpec, KeyUsage),
    },
    /// An alias name lacks the `alias/` prefix.
    AliasPrefix(String),
    /// An alias name has characters after `alias/` that aliases may not
    /// have (such as `:`).
    AliasCharacters(String),
    /// A grant whose only operation is CreateGrant.
    GrantOnlyCreateGrant,
    /// A tag's key or value breaks a constraint; `index` counts from 1.
    TagField {
        /// Position of the tag in the request, from 1.
        index: usize,
        /// `TagKey` or `TagValue`.
        field: Field,
        /// The value given.
        value: String,
        /// The constraint.
        rule: Rule,
    },
    /// A tag lacks its key or value; `index` counts from 1.
    TagMissing {
        /// Position of the tag in the request, from 1.
        index: usize,
        /// `TagKey` or `TagValue`.
        field: Field,
    },
    /// A member of a list breaks a constraint; `index` counts from 1.
    ListMember {
        /// The list.
        field: Field,
        /// Position of the member in the list, from 1.
        index: usize,
        /// The value given.
        value: String,
        /// The constraint.
        rule: Rule,
    },
    /// A Region named in the request body that this deployment does not
    /// host: why, naming the hosted Regions and how to add one.
    RegionNotHosted(String),
}

/// Why a key cannot serve an operation or algorithm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UsageProblem {
    /// The key's usage is not the operation's.
    Usage {
        /// The key's ARN.
        arn: String,
        /// The key's usage.
        usage: KeyUsage,
        /// The operation's name, e.g. `Encrypt`.
        operation: &'static str,
    },
    /// The key's spec does not support the algorithm.
    Algorithm {
        /// The algorithm asked for.
        algorithm: String,
        /// The key's spec.
        spec: KeySpec,
    },
}

/// Why tags are refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TagProblem {
    /// A tag key starts with the reserved `aws:` prefix.
    ReservedPrefix(String),
    /// A tag key appears twice in one request.
    Duplicate(String),
    /// Two tag keys that differ only in case, on one key or in one
    /// request (the first, the second).
    CaseVariant(String, String),
    /// More tags than a key may have.
    TooMany {
        /// Most tags a key may have.
        limit: usize,
        /// Tags the key would have.
        count: usize,
    },
}

/// The sentence both dialects give for two tag keys that differ only in case.
pub fn case_variant(had: &str, given: &str) -> String {
    format!(
        "Tag keys '{had}' and '{given}' differ only in case; policy conditions \
         (aws:ResourceTag/...) name tags ignoring case, so a key may not have both."
    )
}

/// A field breaking a rule, with the value shown.
pub(super) fn field(field: Field, value: impl Into<String>, rule: Rule) -> Invalid {
    Invalid::Field {
        field,
        value: Some(value.into()),
        rule,
    }
}

/// A field breaking a rule, with the value withheld.
pub(super) fn field_hidden(field: Field, rule: Rule) -> Invalid {
    Invalid::Field {
        field,
        value: None,
        rule,
    }
}
