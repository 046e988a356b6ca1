//! Field checks shared by several operations; failures carry the facts.

use super::invalid::{self, Field, Invalid, Rule, TagProblem};
use super::{KmsError, KmsResult};
use crate::model::Tag;
use std::collections::HashSet;
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
/// prefix, no key twice and at most 50 in all (else `TagException`).
pub(super) fn tags(tags: &[Tag]) -> KmsResult<()> {
    let mut seen = HashSet::new();
    for (index, tag) in tags.iter().enumerate() {
        tag_part(index, Field::TagKey, &tag.key, 1..=128)?;
        tag_part(index, Field::TagValue, &tag.value, 0..=256)?;
        if tag.key.to_ascii_lowercase().starts_with("aws:") {
            return Err(KmsError::Tag(TagProblem::ReservedPrefix(tag.key.clone())));
        }
        if !seen.insert(tag.key.as_str()) {
            return Err(KmsError::Tag(TagProblem::Duplicate(tag.key.clone())));
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
