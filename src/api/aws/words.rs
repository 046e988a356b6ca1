//! AWS's words for the KMS core's errors: the messages AWS KMS sends, as
//! recorded against the real service where known.

use crate::kms::{Field, Invalid, KmsError, Missing, Rule, TagProblem, UsageProblem};

/// The message AWS sends with `e`, or `None` where AWS sends none.
pub(super) fn kms_message(e: &KmsError) -> Option<String> {
    Some(match e {
        KmsError::Internal(detail) => {
            tracing::error!(%detail, "internal error");
            "An internal error occurred; see the server log.".to_string()
        }
        KmsError::StoreUnreachable(detail) => {
            tracing::error!(%detail, "store unreachable");
            "The service's database did not answer; retry the request.".to_string()
        }
        KmsError::InvalidCiphertext(reason) => {
            tracing::debug!(reason, "invalid ciphertext");
            return None;
        }
        KmsError::InvalidMac | KmsError::InvalidSignature => return None,
        KmsError::MissingParameter(Field::NumberOfBytes) => "NumberOfBytes is required.".into(),
        KmsError::MissingParameter(field) => one_violation(&format!(
            "Value null at '{}' failed to satisfy constraint: Member must not be null",
            member(*field)
        )),
        KmsError::Validation(invalid) => validation(invalid),
        KmsError::Tag(problem) => tag(problem),
        KmsError::NotFound(missing) => not_found(missing),
        KmsError::InvalidKeyUsage(problem) => usage(problem),
        KmsError::IncorrectKey(_) => "The key ID in the request does not identify a CMK that \
                                      can perform this operation."
            .into(),
        KmsError::PendingDeletion { arn, state } => match *state {
            "PendingDeletion" => format!("{arn} is pending deletion."),
            "PendingImport" => format!("{arn} is pending import."),
            other => format!("{arn} is in state {other}."),
        },
        other => other.to_string(),
    })
}

/// AWS's name for a field in validation messages: the member's path with
/// a lower-case first letter in each step, e.g. `keyId` or
/// `recipient.attestationDocument`.
fn member(field: Field) -> String {
    let steps = field.name().split('.').map(|step| {
        let mut chars = step.chars();
        match chars.next() {
            Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
            None => String::new(),
        }
    });
    steps.collect::<Vec<_>>().join(".")
}

/// AWS's envelope for a single constraint violation.
fn one_violation(detail: &str) -> String {
    format!("1 validation error detected: {detail}")
}

/// What a member must do, in AWS's words, for the bound `rule` breaks.
fn must(rule: &Rule) -> String {
    match rule {
        Rule::Length { min, .. } if rule.below() => {
            format!("have length greater than or equal to {min}")
        }
        Rule::Length { max, .. } => format!("have length less than or equal to {max}"),
        Rule::Range { min, .. } if rule.below() => {
            format!("have value greater than or equal to {min}")
        }
        Rule::Range { max, .. } => format!("have value less than or equal to {max}"),
        Rule::OneOf(allowed) => format!("satisfy enum value set: [{}]", allowed.join(", ")),
        Rule::Pattern(pattern) => format!("satisfy regular expression pattern: {pattern}"),
    }
}

fn validation(invalid: &Invalid) -> String {
    match invalid {
        Invalid::Field {
            field: Field::PendingWindowInDays,
            rule: Rule::Range { min, max, .. },
            ..
        } if *min > 1 => format!("PendingWindowInDays must be between {min} and {max}"),
        Invalid::Field { field, value, rule } => {
            let at = match value {
                Some(value) => format!("Value '{value}' at '{}'", member(*field)),
                None => format!("Value at '{}'", member(*field)),
            };
            one_violation(&format!(
                "{at} failed to satisfy constraint: Member must {}",
                must(rule)
            ))
        }
        Invalid::Exclusive(Field::KeySpec, Field::CustomerMasterKeySpec) => {
            "You cannot specify KeySpec and CustomerMasterKeySpec in the same request.".into()
        }
        Invalid::Exclusive(a, b) => format!(
            "Please specify either {} or {}, not both.",
            a.name(),
            b.name()
        ),
        Invalid::EitherRequired(a, b) => {
            format!("Please specify either {} or {}.", a.name(), b.name())
        }
        Invalid::GrantUnnamed => "Specify GrantToken, or KeyId and GrantId.".into(),
        Invalid::ConstraintsBoth => "Constraints may have EncryptionContextSubset or \
                                     EncryptionContextEquals, not both."
            .into(),
        Invalid::UsageRequired => "You must specify a KeyUsage value for all KMS keys except \
                                   for symmetric encryption keys."
            .into(),
        Invalid::UsageForSpec { usage, spec } => {
            format!("KeyUsage {usage} is not compatible with KeySpec {spec}")
        }
        Invalid::DigestLength { algorithm, .. } => {
            format!("Digest is invalid length for algorithm {algorithm}.")
        }
        Invalid::MessageTypeForAlgorithm {
            message_type,
            algorithm,
        } => format!("MessageType {message_type} is not supported for algorithm {algorithm}."),
        Invalid::RsaPlaintextLength {
            algorithm,
            spec,
            max,
            ..
        } => format!(
            "Algorithm {algorithm} and key spec {spec} cannot encrypt data larger than {max} \
             bytes."
        ),
        Invalid::ContextForAsymmetric => {
            "EncryptionContext is not supported with asymmetric keys.".into()
        }
        Invalid::AsymmetricKeyIdRequired => {
            "KeyId is required when decrypting with an asymmetric key.".into()
        }
        Invalid::PeerKey(why) => format!("PublicKey is invalid: {why}"),
        Invalid::ValidToRequired => {
            "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES".into()
        }
        Invalid::ValidToRange => "ValidTo must be in the future and no more than 365 days \
                                  from now."
            .into(),
        Invalid::ValidToWithoutExpiry => {
            "A validTo date must not be set if the ExpirationModel is \
             KEY_MATERIAL_DOES_NOT_EXPIRE"
                .into()
        }
        Invalid::MaterialIdWithNewMaterial => {
            "KeyMaterialId cannot be specified when ImportType is NEW_KEY_MATERIAL.".into()
        }
        Invalid::NoMaterialYet(arn) => format!(
            "No key material has been imported into {arn} yet: its first import is \
             NEW_KEY_MATERIAL."
        ),
        Invalid::ImportOptionsForKey(spec) => format!(
            "ImportType NEW_KEY_MATERIAL after the first import, KeyMaterialDescription and \
             KeyMaterialId are only valid for SYMMETRIC_DEFAULT keys, not {spec} keys."
        ),
        Invalid::GrantOperationsForKey {
            operations,
            spec,
            usage,
        } => format!(
            "Grant operations {} are not supported for a {spec} key with key usage {usage}.",
            operations.join(", ")
        ),
        Invalid::GrantConstraintsForKey(spec) => format!(
            "Grant constraints are supported only for symmetric encryption keys, not for a \
             {spec} key."
        ),
        Invalid::AliasTargetType { alias, from, to } => format!(
            "Alias {alias} points to a {} {} key; the new target is a {} {} key.",
            from.0, from.1, to.0, to.1
        ),
        Invalid::TagField {
            index,
            field,
            value,
            rule,
        } => one_violation(&format!(
            "Value '{value}' at 'tags.{index}.member.{}' failed to satisfy constraint: Member \
             must {}",
            member(*field),
            must(rule)
        )),
        Invalid::TagMissing { index, field } => one_violation(&format!(
            "Value null at 'tags.{index}.member.{}' failed to satisfy constraint: Member must \
             not be null",
            member(*field)
        )),
        Invalid::ListMember {
            field,
            index,
            value,
            rule,
        } => one_violation(&format!(
            "Value '{value}' at '{}.{index}.member' failed to satisfy constraint: Member must {}",
            member(*field),
            must(rule)
        )),
        Invalid::AliasCharacters(name) => {
            format!("{name} contains invalid characters for an alias")
        }
        Invalid::GrantOnlyCreateGrant => {
            "Grants must not contain only the CreateGrant operation.".into()
        }
        Invalid::AliasPrefix(_) => "Alias must start with the prefix \"alias/\". Please see \
                                    https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
            .into(),
        Invalid::RegionNotHosted(why) => why.clone(),
    }
}

fn tag(problem: &TagProblem) -> String {
    match problem {
        TagProblem::ReservedPrefix(_) => "Tags beginning with aws: are reserved".into(),
        TagProblem::Duplicate(_) => "Duplicate tag keys".into(),
        TagProblem::CaseVariant(had, given) => crate::kms::invalid::case_variant(had, given),
        TagProblem::TooMany { .. } => "Too many tags".into(),
    }
}

fn not_found(missing: &Missing) -> String {
    match missing {
        Missing::Alias(arn) => format!("Alias {arn} is not found."),
        Missing::OtherRegion { region, .. } => format!("Invalid arn {region}"),
        other => other.to_string(),
    }
}

fn usage(problem: &UsageProblem) -> String {
    match problem {
        UsageProblem::Usage {
            arn,
            usage,
            operation,
        } => format!("{arn} key usage is {usage} which is not valid for {operation}."),
        UsageProblem::Algorithm { algorithm, spec } => {
            format!("Algorithm {algorithm} is incompatible with key spec {spec}.")
        }
    }
}
