//! Limit and Marker handling shared by the List operations. A marker is the
//! base64url encoding of the last item's sort key.

use super::invalid::Field;
use super::{KmsError, KmsResult};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// One page of a listing.
pub struct Page<T> {
    /// Items on this page.
    pub items: Vec<T>,
    /// Marker for the next page, when truncated.
    pub next_marker: Option<String>,
}

impl<T> Page<T> {
    /// True when more items follow.
    pub fn truncated(&self) -> bool {
        self.next_marker.is_some()
    }
}

/// The model's bound on every `Limit` member.
const MODEL_MAX_LIMIT: i64 = 1000;

/// Checks `Limit` against the model's `1..=1000`, then against `1..=max`
/// (an operation's documented page size, where it is smaller), defaulting
/// to `default`.
pub(super) fn limit(limit: Option<i64>, default: usize, max: usize) -> KmsResult<usize> {
    match limit {
        None => Ok(default),
        Some(n) => {
            super::validate::value_in(n, 1..=MODEL_MAX_LIMIT, Field::Limit)?;
            super::validate::value_in(n, 1..=max as i64, Field::Limit)?;
            Ok(n as usize)
        }
    }
}

/// Decodes a marker into the sort key to continue after ("" for the start).
pub(super) fn after(marker: Option<&str>) -> KmsResult<String> {
    let Some(marker) = marker else {
        return Ok(String::new());
    };
    super::validate::marker(marker)?;
    URL_SAFE_NO_PAD
        .decode(marker)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| KmsError::InvalidMarker(format!("Invalid marker '{marker}'")))
}

/// Builds a page from up to `limit + 1` fetched items.
pub(super) fn page<T>(mut items: Vec<T>, limit: usize, sort_key: impl Fn(&T) -> &str) -> Page<T> {
    let next_marker = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|t| URL_SAFE_NO_PAD.encode(sort_key(t)))
    } else {
        None
    };
    Page { items, next_marker }
}

/// Pages an in-memory list in its own order: the marker names the last item
/// of the previous page by `id`.
pub(super) fn page_in_order<T>(
    items: Vec<T>,
    limit: usize,
    after: &str,
    id: impl Fn(&T) -> &str,
) -> KmsResult<Page<T>> {
    let start = if after.is_empty() {
        0
    } else {
        items
            .iter()
            .position(|item| id(item) == after)
            .map(|i| i + 1)
            .ok_or_else(|| KmsError::InvalidMarker(format!("Invalid marker '{after}'")))?
    };
    let rest: Vec<T> = items.into_iter().skip(start).take(limit + 1).collect();
    Ok(page(rest, limit, id))
}
