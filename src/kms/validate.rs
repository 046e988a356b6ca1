//! Field checks shared by several operations; failures carry the facts.

use super::invalid::{self, Field, Invalid, Rule, TagProblem};
use super::{KmsError, KmsResult};
use crate::model::Tag;
use std::collections::HashMap;
use std::ops::RangeInclusive;

/// Most tags a key may carry.
pub(super) const MAX_TAGS: usize = 50;
/// Longest description AWS accepts.
const MAX_DESCRIPTION: usize = 8192;

/// A required field must be present.
pub(super) fn required<T>(value: Option<T>, field: Field) -> KmsResult<T> {
    value.ok_or(KmsError::MissingParameter(field))
}

/// A length must lie in `min..=max`; the value itself is not shown.
pub(super) fn length(len: usize, min: usize, max: usize, field: Field) -> KmsResult<()> {
    if len < min || len > max {
        let rule = Rule::Length { min, max, got: len };
        return Err(KmsError::Validation(invalid::field_hidden(field, rule)));
    }
    Ok(())
}

/// A Region's name: 1–32 characters, two or three lower-case words and a
/// number, joined by hyphens (`^([a-z]+-){2,3}\d+$`).
pub(super) fn region(text: &str, field: Field) -> KmsResult<()> {
    text_length(text, 1, 32, field)?;
    let parts: Vec<&str> = text.split('-').collect();
    let (number, words) = parts.split_last().unwrap_or((&"", &[]));
    let fits = (2..=3).contains(&words.len())
        && words
            .iter()
            .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase()))
        && !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit());
    if !fits {
        let rule = Rule::Pattern("^([a-z]+-){2,3}\\d+$");
        return Err(KmsError::Validation(invalid::field(field, text, rule)));
    }
    Ok(())
}

/// A required `KeyId` member, checked against the model (1–2048
/// characters) before anything looks it up.
pub(super) fn key_id(key_id: Option<&str>) -> KmsResult<&str> {
    let key_id = required(key_id, Field::KeyId)?;
    key_reference(key_id, Field::KeyId)?;
    Ok(key_id)
}

/// A key named by id, ARN, alias name or alias ARN: 1–2048 characters.
pub(super) fn key_reference(text: &str, field: Field) -> KmsResult<()> {
    text_length(text, 1, 2048, field)
}

/// A string's length in characters must lie in `min..=max`.
pub(super) fn text_length(text: &str, min: usize, max: usize, field: Field) -> KmsResult<()> {
    let len = text.chars().count();
    if len < min || len > max {
        let rule = Rule::Length { min, max, got: len };
        return Err(KmsError::Validation(invalid::field(field, text, rule)));
    }
    Ok(())
}

/// A text of `min..=max` characters, each one `allowed` lets through: the
/// model's pattern, which a refusal names.
fn patterned(
    text: &str,
    (min, max): (usize, usize),
    field: Field,
    allowed: impl Fn(char) -> bool,
    pattern: &'static str,
) -> KmsResult<()> {
    text_length(text, min, max, field)?;
    if !text.chars().all(allowed) {
        let rule = Rule::Pattern(pattern);
        return Err(KmsError::Validation(invalid::field(field, text, rule)));
    }
    Ok(())
}

/// An alias or grant name: 1–256 characters of `[a-zA-Z0-9:/_-]`.
pub(super) fn name(text: &str, field: Field) -> KmsResult<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '_' | '-');
    patterned(text, (1, 256), field, allowed, "^[a-zA-Z0-9:/_-]+$")
}

/// A grant's principal (grantee or retiring, or a filter by one): 1–256
/// characters of `[\w+=,.@:/-]`, as AWS's model states them.
pub(super) fn principal(text: &str, field: Field) -> KmsResult<()> {
    let allowed = |c: char| {
        c.is_ascii_alphanumeric()
            || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | ':' | '/' | '-')
    };
    patterned(text, (1, 256), field, allowed, "^[\\w+=,.@:/-]+$")
}

/// A listing's marker: 1–1024 characters of U+0020 to U+00FF.
pub(super) fn marker(text: &str) -> KmsResult<()> {
    let allowed = |c: char| matches!(c, '\u{20}'..='\u{ff}');
    patterned(
        text,
        (1, 1024),
        Field::Marker,
        allowed,
        "[\\u0020-\\u00FF]*",
    )
}

/// An AWS service principal (a grant's, or a filter by one): 1–128
/// characters, three or more dot-separated labels of `[A-Za-z0-9-]`.
pub(super) fn service_principal(text: &str, field: Field) -> KmsResult<()> {
    text_length(text, 1, 128, field)?;
    let labels: Vec<&str> = text.split('.').collect();
    let label =
        |l: &&str| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if labels.len() < 3 || !labels.iter().all(label) {
        let rule = Rule::Pattern("^([A-Za-z0-9\\-]+)\\.([A-Za-z0-9\\-]+)(\\.[A-Za-z0-9\\-]+)+$");
        return Err(KmsError::Validation(invalid::field(field, text, rule)));
    }
    Ok(())
}

/// A grant's `SourceArn` constraint: 20–512 characters, an ARN with a
/// 12-digit account.
pub(super) fn source_arn(text: &str) -> KmsResult<()> {
    text_length(text, 20, 512, Field::SourceArn)?;
    let lower = |p: &str| p.chars().all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-'));
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    let fits = match parts[..] {
        ["arn", partition, service, region, account, resource] => {
            partition.strip_prefix("aws").is_some_and(lower)
                && !service.is_empty()
                && lower(service)
                && lower(region)
                && account.len() == 12
                && account.chars().all(|c| c.is_ascii_digit())
                && !resource.is_empty()
                && !resource.contains('\n')
        }
        _ => false,
    };
    if !fits {
        let rule = Rule::Pattern("^arn:aws[a-z0-9-]*:[a-z0-9-]+:[a-z0-9-]*:[0-9]{12}:.+$");
        return Err(KmsError::Validation(invalid::field(
            Field::SourceArn,
            text,
            rule,
        )));
    }
    Ok(())
}

/// An external key store's key id: 1–128 characters of `[a-zA-Z0-9-_.]`.
pub(super) fn xks_key_id(text: &str) -> KmsResult<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    patterned(
        text,
        (1, 128),
        Field::XksKeyId,
        allowed,
        "^[a-zA-Z0-9-_.]+$",
    )
}

/// A custom key store's id: 1–64 characters.
pub(super) fn custom_key_store_id(text: &str) -> KmsResult<()> {
    text_length(text, 1, 64, Field::CustomKeyStoreId)
}

/// A list of `min..=max` members, shown as AWS shows a list.
fn list_length<T: AsRef<str>>(
    list: &[T],
    (min, max): (usize, usize),
    field: Field,
) -> KmsResult<()> {
    if (min..=max).contains(&list.len()) {
        return Ok(());
    }
    let shown: Vec<&str> = list.iter().map(AsRef::as_ref).collect();
    let rule = Rule::Length {
        min,
        max,
        got: list.len(),
    };
    Err(KmsError::Validation(invalid::field(
        field,
        format!("[{}]", shown.join(", ")),
        rule,
    )))
}

/// Each member of `list` is one of `allowed`.
fn members_one_of<T: AsRef<str>>(
    list: &[T],
    allowed: &'static [&'static str],
    field: Field,
) -> KmsResult<()> {
    match list.iter().position(|m| !allowed.contains(&m.as_ref())) {
        None => Ok(()),
        Some(i) => Err(KmsError::Validation(Invalid::ListMember {
            field,
            index: i + 1,
            value: list[i].as_ref().to_string(),
            rule: Rule::OneOf(allowed),
        })),
    }
}

/// Grant tokens: at most 10, each of 1–8192 characters.
pub fn grant_tokens(tokens: &[String]) -> KmsResult<()> {
    list_length(tokens, (0, 10), Field::GrantTokens)?;
    for (i, token) in tokens.iter().enumerate() {
        let got = token.chars().count();
        if !(1..=8192).contains(&got) {
            return Err(KmsError::Validation(Invalid::ListMember {
                field: Field::GrantTokens,
                index: i + 1,
                value: token.clone(),
                rule: Rule::Length {
                    min: 1,
                    max: 8192,
                    got,
                },
            }));
        }
    }
    Ok(())
}

/// Whose keys ListKeys lists: one or two of `SELF` and
/// `OTHER_ACCOUNTS_VIA_RAM`.
pub(super) fn resource_owners(owners: &[String]) -> KmsResult<()> {
    list_length(owners, (1, 2), Field::ResourceOwners)?;
    members_one_of(
        owners,
        &["SELF", "OTHER_ACCOUNTS_VIA_RAM"],
        Field::ResourceOwners,
    )
}

/// Dry-run modifiers: each `IGNORE_CIPHERTEXT`.
pub(super) fn dry_run_modifiers(modifiers: &[String]) -> KmsResult<()> {
    members_one_of(modifiers, &["IGNORE_CIPHERTEXT"], Field::DryRunModifiers)
}

/// A Nitro Enclaves `Recipient`: its algorithm `RSAES_OAEP_SHA_256`, its
/// attestation document 1–262144 bytes.
pub fn recipient(algorithm: Option<&str>, document_len: Option<usize>) -> KmsResult<()> {
    if let Some(algorithm) = algorithm {
        one_of(
            algorithm,
            &["RSAES_OAEP_SHA_256"],
            Field::RecipientKeyEncryptionAlgorithm,
        )?;
    }
    if let Some(len) = document_len {
        length(len, 1, 262_144, Field::AttestationDocument)?;
    }
    Ok(())
}

/// A key policy's name: 1–128 characters of `[\w]`.
pub(super) fn policy_name(text: &str) -> KmsResult<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_';
    patterned(text, (1, 128), Field::PolicyName, allowed, "[\\w]+")
}

/// The characters a key policy may have (AWS's model: tab, line feed,
/// carriage return, and U+0020 to U+00FF).
const POLICY_PATTERN: &str = "[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+";

/// A key policy has only the characters [`POLICY_PATTERN`] allows (the
/// document itself is not repeated in the message).
pub(super) fn policy_characters(policy: &str) -> KmsResult<()> {
    let allowed = |c: char| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}');
    if !policy.chars().all(allowed) {
        let rule = Rule::Pattern(POLICY_PATTERN);
        return Err(KmsError::Validation(invalid::field_hidden(
            Field::Policy,
            rule,
        )));
    }
    Ok(())
}

/// A number must lie in `allowed`.
pub(super) fn value_in(value: i64, allowed: RangeInclusive<i64>, field: Field) -> KmsResult<()> {
    if allowed.contains(&value) {
        return Ok(());
    }
    let rule = Rule::Range {
        min: *allowed.start(),
        max: *allowed.end(),
        got: value,
    };
    Err(KmsError::Validation(invalid::field(
        field,
        value.to_string(),
        rule,
    )))
}

/// A value must be one of an enumeration.
pub(super) fn one_of(value: &str, allowed: &'static [&'static str], field: Field) -> KmsResult<()> {
    if allowed.contains(&value) {
        return Ok(());
    }
    Err(KmsError::Validation(invalid::field(
        field,
        value,
        Rule::OneOf(allowed),
    )))
}

/// A key description must be at most 8192 characters.
pub(super) fn description(text: &str) -> KmsResult<()> {
    text_length(text, 0, MAX_DESCRIPTION, Field::Description)
}

/// A tag's key or value (the `index`th tag, from 0) must have a length in
/// `allowed` characters.
fn tag_part(
    index: usize,
    field: Field,
    text: &str,
    allowed: RangeInclusive<usize>,
) -> KmsResult<()> {
    let got = text.chars().count();
    if allowed.contains(&got) {
        return Ok(());
    }
    Err(KmsError::Validation(Invalid::TagField {
        index: index + 1,
        field,
        value: text.to_string(),
        rule: Rule::Length {
            min: *allowed.start(),
            max: *allowed.end(),
            got,
        },
    }))
}

/// Tags must have 1–128 character keys and 0–256 character values (else
/// `ValidationException`, as for any length constraint), no reserved `aws:`
/// prefix, no key twice, no two keys that differ only in case and at most
/// 50 in all (else `TagException`).
pub(super) fn tags(tags: &[Tag]) -> KmsResult<()> {
    let mut seen: HashMap<String, &str> = HashMap::new();
    for (index, tag) in tags.iter().enumerate() {
        tag_part(index, Field::TagKey, &tag.key, 1..=128)?;
        tag_part(index, Field::TagValue, &tag.value, 0..=256)?;
        if tag.key.to_ascii_lowercase().starts_with("aws:") {
            return Err(KmsError::Tag(TagProblem::ReservedPrefix(tag.key.clone())));
        }
        match seen.insert(tag.key.to_lowercase(), &tag.key) {
            Some(same) if same == tag.key => {
                return Err(KmsError::Tag(TagProblem::Duplicate(tag.key.clone())));
            }
            Some(other) => {
                return Err(KmsError::Tag(TagProblem::CaseVariant(
                    other.to_string(),
                    tag.key.clone(),
                )));
            }
            None => {}
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(KmsError::Tag(TagProblem::TooMany {
            limit: MAX_TAGS,
            count: tags.len(),
        }));
    }
    Ok(())
}
