//! Field checks shared by several operations, with AWS's error types.

use super::{KmsError, KmsResult};
use crate::model::Tag;
use std::collections::HashSet;
use std::ops::RangeInclusive;

/// Most tags a key may carry.
pub(super) const MAX_TAGS: usize = 50;
/// Longest description AWS accepts.
const MAX_DESCRIPTION: usize = 8192;

/// A required field must be present.
pub(super) fn required<T>(value: Option<T>, field: &str) -> KmsResult<T> {
    value.ok_or_else(|| KmsError::MissingParameter(field.to_string()))
}

/// A byte length must lie in `min..=max`.
pub(super) fn byte_length(len: usize, min: usize, max: usize, field: &str) -> KmsResult<()> {
    if len < min || len > max {
        return Err(KmsError::Validation(format!(
            "1 validation error detected: Value at '{field}' failed to satisfy constraint: \
             Member must have length between {min} and {max} (got {len})"
        )));
    }
    Ok(())
}

/// A number must lie in `allowed`.
pub(super) fn value_in(value: i64, allowed: RangeInclusive<i64>, field: &str) -> KmsResult<()> {
    if allowed.contains(&value) {
        return Ok(());
    }
    Err(KmsError::Validation(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: \
         Member must have value between {} and {}",
        allowed.start(),
        allowed.end()
    )))
}

/// A value must be one of an enumeration.
pub(super) fn one_of(value: &str, allowed: &[&str], field: &str) -> KmsResult<()> {
    if allowed.contains(&value) {
        return Ok(());
    }
    Err(KmsError::Validation(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: \
         Member must satisfy enum value set: [{}]",
        allowed.join(", ")
    )))
}

/// A key description must be at most 8192 characters.
pub(super) fn description(text: &str) -> KmsResult<()> {
    if text.chars().count() > MAX_DESCRIPTION {
        return Err(KmsError::Validation(format!(
            "1 validation error detected: Value at 'description' failed to satisfy constraint: \
             Member must have length less than or equal to {MAX_DESCRIPTION}"
        )));
    }
    Ok(())
}

/// Tags must have 1–128 character keys and 0–256 character values (else
/// `ValidationException`, as for any length constraint), no reserved `aws:`
/// prefix, no key twice and at most 50 in all (else `TagException`).
pub(super) fn tags(tags: &[Tag]) -> KmsResult<()> {
    let mut seen = HashSet::new();
    for tag in tags {
        let key_len = tag.key.chars().count();
        if !(1..=128).contains(&key_len) {
            return Err(KmsError::Validation(format!(
                "1 validation error detected: Value '{}' at 'tagKey' failed to satisfy \
                 constraint: Member must have length between 1 and 128",
                tag.key
            )));
        }
        if tag.value.chars().count() > 256 {
            return Err(KmsError::Validation(format!(
                "1 validation error detected: Value at 'tagValue' of tag '{}' failed to satisfy \
                 constraint: Member must have length less than or equal to 256",
                tag.key
            )));
        }
        if tag.key.to_ascii_lowercase().starts_with("aws:") {
            return Err(KmsError::Tag(format!(
                "Tag key '{}' uses the reserved prefix aws:",
                tag.key
            )));
        }
        if !seen.insert(tag.key.as_str()) {
            return Err(KmsError::Tag(format!("Duplicate tag key '{}'", tag.key)));
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(KmsError::Tag(format!(
            "A key can have at most {MAX_TAGS} tags; {} given",
            tags.len()
        )));
    }
    Ok(())
}
