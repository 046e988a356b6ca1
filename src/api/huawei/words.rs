//! This dialect's words for the KMS core's refusals: Huawei's parameter
//! names (`key_id`, `pending_days`) and plain sentences.

use super::key_specs;
use crate::kms::{Field, Invalid, MaterialProblem, Rule, TagProblem, TokenProblem, UsageProblem};

/// Huawei's name for a request field.
pub(super) fn field(field: Field) -> &'static str {
    use Field::*;
    match field {
        KeyId | TargetKeyId => "key_id",
        AliasName => "key_alias",
        GranteePrincipal => "grantee_principal",
        RetiringPrincipal => "retiring_principal",
        Operations => "operations",
        GrantId => "grant_id",
        GrantToken => "grant_token",
        Marker => "marker",
        Name => "name",
        Constraints => "constraints",
        KeySpec | CustomerMasterKeySpec => "key_spec",
        KeyUsage => "key_usage",
        Origin => "origin",
        Description => "key_description",
        PendingWindowInDays => "pending_days",
        Tags | TagKeys => "tags",
        TagKey => "key",
        TagValue => "value",
        Limit => "limit",
        EncryptionAlgorithm => "encryption_algorithm",
        NumberOfBytes => "datakey_length",
        Plaintext => "plain_text",
        CiphertextBlob => "cipher_text",
        DestinationKeyId => "destination_key_id",
        ReplicaRegion => "replica_region",
        PrimaryRegion => "primary_region",
        RotationPeriodInDays => "rotation_interval",
        Policy => "policy",
        PolicyName => "policy_name",
        IncludeKeyMaterial => "include_key_material",
        Message => "message",
        MacAlgorithm => "mac_algorithm",
        Mac => "mac",
        Signature => "signature",
        SigningAlgorithm => "signing_algorithm",
        MessageType => "message_type",
        PublicKey => "public_key",
        KeyAgreementAlgorithm => "key_agreement_algorithm",
        KeyPairSpec => "key_spec",
        WrappingAlgorithm => "wrapping_algorithm",
        WrappingKeySpec => "wrapping_key_spec",
        ImportToken => "import_token",
        EncryptedKeyMaterial => "encrypted_key_material",
        ExpirationModel => "expiration_time",
        ImportType => "import_type",
        KeyMaterialDescription => "key_material_description",
        KeyMaterialId => "key_material_id",
        SourceKeyId => "source_key_id",
        SourceEncryptionAlgorithm => "source_encryption_algorithm",
        DestinationEncryptionAlgorithm => "destination_encryption_algorithm",
        GrantTokens => "grant_tokens",
        GranteeServicePrincipal => "grantee_service_principal",
        RetiringServicePrincipal => "retiring_service_principal",
        SourceArn => "source_arn",
        CustomKeyStoreId => "custom_key_store_id",
        XksKeyId => "xks_key_id",
        ResourceOwners => "resource_owners",
        DryRunModifiers => "dry_run_modifiers",
        RecipientKeyEncryptionAlgorithm => "key_encryption_algorithm",
        AttestationDocument => "attestation_document",
    }
}

/// What a value must be, for the rule it breaks.
fn must(rule: &Rule) -> String {
    match rule {
        Rule::Length { min, max, got } => {
            format!("the length must be between {min} and {max}; got {got}")
        }
        Rule::Range { min, max, got } => format!("must be between {min} and {max}; got {got}"),
        Rule::OneOf(allowed) => format!("must be one of {}", allowed.join(", ")),
        Rule::Pattern(pattern) => format!("must match {pattern}"),
    }
}

/// A sentence saying why a request is invalid.
pub(super) fn invalid(invalid: &Invalid) -> String {
    match invalid {
        Invalid::Field { field: f, rule, .. } => format!("Invalid {}: {}.", field(*f), must(rule)),
        Invalid::Exclusive(a, b) => {
            format!("Give {} or {}, not both.", field(*a), field(*b))
        }
        Invalid::EitherRequired(a, b) => format!("Give {} or {}.", field(*a), field(*b)),
        Invalid::GrantUnnamed => "Give grant_id and key_id.".into(),
        Invalid::ConstraintsBoth => {
            "Constraints may have encryption_context_subset or encryption_context_equals, \
             not both."
                .into()
        }
        Invalid::UsageRequired => "key_usage is required for every key_spec but AES_256.".into(),
        Invalid::UsageForSpec { usage, spec } => format!(
            "key_usage {usage} does not go with key_spec {}.",
            key_specs::from_aws(spec)
        ),
        Invalid::DigestLength {
            algorithm,
            expected,
            got,
        } => format!(
            "message is a {got}-byte digest; {algorithm} signs {expected}-byte digests \
             (message_type is DIGEST unless RAW is given)."
        ),
        Invalid::MessageTypeForAlgorithm {
            message_type,
            algorithm,
        } => format!("message_type {message_type} does not go with {algorithm}."),
        Invalid::RsaPlaintextLength {
            algorithm,
            max,
            got,
            ..
        } => {
            format!("plain_text is {got} bytes; {algorithm} with this key encrypts at most {max}.")
        }
        Invalid::ContextForAsymmetric => {
            "additional_authenticated_data is not taken with asymmetric keys.".into()
        }
        Invalid::AsymmetricKeyIdRequired => {
            "key_id is required to decrypt with an asymmetric key.".into()
        }
        Invalid::PeerKey(why) => format!("public_key is invalid: {why}"),
        Invalid::ValidToRequired => "expiration_time is required.".into(),
        Invalid::ValidToRange => "Key expiration time must be later than the current time: \
                                  expiration_time (Unix seconds) must be in the future and at \
                                  most 365 days ahead."
            .into(),
        Invalid::ValidToWithoutExpiry => {
            "expiration_time is given for material that does not expire.".into()
        }
        Invalid::MaterialIdWithNewMaterial => {
            "key_material_id cannot be given for new key material.".into()
        }
        Invalid::NoMaterialYet(arn) => format!("No key material has been imported into {arn} yet."),
        Invalid::ImportOptionsForKey(spec) => format!(
            "Only AES_256 keys take new key material after the first import; this key is {}.",
            key_specs::name(*spec)
        ),
        Invalid::GrantOperationsForKey {
            operations,
            spec,
            usage,
        } => format!(
            "operations {} do not go with a {spec} key for {usage}.",
            operations.join(", ")
        ),
        Invalid::GrantConstraintsForKey(spec) => {
            format!("constraints apply only to symmetric encryption keys, not to a {spec} key.")
        }
        Invalid::AliasTargetType { alias, from, to } => format!(
            "Alias {alias} points to a {} {} key; the new target is a {} {} key.",
            from.0, from.1, to.0, to.1
        ),
        Invalid::AliasPrefix(name) | Invalid::AliasCharacters(name) => {
            format!("Invalid key_alias '{name}'.")
        }
        Invalid::GrantOnlyCreateGrant => {
            "A grant may not have create-grant as its only operation.".into()
        }
        Invalid::TagField {
            index,
            field: f,
            rule,
            ..
        } => format!("Invalid tag {index}: its {} {}.", field(*f), must(rule)),
        Invalid::TagMissing { index, field: f } => {
            format!("Invalid tag {index}: its {} is missing.", field(*f))
        }
        Invalid::ListMember {
            field: f,
            index,
            rule,
            ..
        } => format!("Invalid {} entry {index}: {}.", field(*f), must(rule)),
        Invalid::RegionNotHosted(why) => why.clone(),
    }
}

/// A sentence saying why a key cannot serve a request.
pub(super) fn usage(problem: &UsageProblem) -> String {
    match problem {
        UsageProblem::Usage {
            arn,
            usage,
            operation,
        } => format!("The key {arn} has usage {usage}, which does not allow {operation}."),
        UsageProblem::Algorithm { algorithm, spec } => {
            format!(
                "Algorithm {algorithm} does not go with key spec {}.",
                key_specs::name(*spec)
            )
        }
    }
}

/// A sentence saying why tags are refused.
pub(super) fn tag(problem: &TagProblem) -> String {
    match problem {
        TagProblem::ReservedPrefix(key) => {
            format!("Tag key '{key}' uses the reserved prefix _sys_ or aws:.")
        }
        TagProblem::Duplicate(key) => format!("Tag key '{key}' appears twice."),
        TagProblem::CaseVariant(had, given) => crate::kms::invalid::case_variant(had, given),
        TagProblem::TooMany { limit, count } => {
            format!("A key can have at most {limit} tags; this request would leave {count}.")
        }
    }
}

/// A sentence saying why an import token is refused.
pub(super) fn token(problem: &TokenProblem) -> String {
    match problem {
        TokenProblem::Unknown => "Token verification failed: the import_token was used already \
                                  or never issued; call get-parameters-for-import again."
            .into(),
        TokenProblem::Forgotten => "Token verification failed: the import_token is no longer \
                                    valid (the service restarted since it was issued, or newer \
                                    ones pushed it out); call get-parameters-for-import again."
            .into(),
        TokenProblem::OtherKey(arn) => {
            format!("The import_token was issued for another key, not {arn}.")
        }
    }
}

/// A sentence saying why imported key material is refused.
pub(super) fn material(problem: &MaterialProblem) -> String {
    match problem {
        MaterialProblem::Length { len, spec } => format!(
            "The key material is {len} bytes, which a {} key does not take.",
            key_specs::name(*spec)
        ),
        MaterialProblem::PrivateKey { spec, why } => format!(
            "The imported private key does not fit this key's spec, {}: {why}.",
            key_specs::name(*spec)
        ),
        MaterialProblem::NotTheKeys(arn) => format!(
            "The key material is not the material previously imported into {arn}: a key \
             takes only the same material again."
        ),
        other => other.to_string(),
    }
}
