//! An audit record as JSON text, written field by field: the bytes
//! `serde_json` writes for the record (its derived `Serialize`, which the
//! tests compare against), without scanning every string byte by byte for
//! characters to escape. Most of a record's text (ids, ARNs, times,
//! addresses) has none, which eight bytes at a time tell at once.

use super::AuditRecord;

/// Bytes reserved for a record's JSON (an Encrypt's is about 500).
const RECORD_CAPACITY: usize = 1024;

/// The record as compact JSON, fields in declaration order.
pub(super) fn encode(record: &AuditRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(RECORD_CAPACITY);
    out.extend_from_slice(b"{\"time\":");
    string(&mut out, &record.time);
    out.extend_from_slice(b",\"request_id\":");
    string(&mut out, &record.request_id);
    out.extend_from_slice(b",\"dialect\":");
    string(&mut out, &record.dialect);
    out.extend_from_slice(b",\"operation\":");
    string(&mut out, &record.operation);
    out.extend_from_slice(b",\"region\":");
    optional(&mut out, record.region.as_deref());
    out.extend_from_slice(b",\"principal\":");
    optional(&mut out, record.principal.as_deref());
    out.extend_from_slice(b",\"access_key_id\":");
    optional(&mut out, record.access_key_id.as_deref());
    out.extend_from_slice(b",\"source_address\":");
    optional(&mut out, record.source_address.as_deref());
    out.extend_from_slice(b",\"key_arns\":[");
    for (i, arn) in record.key_arns.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(&mut out, arn);
    }
    out.extend_from_slice(b"],\"parameters\":");
    out.extend_from_slice(record.parameters.get().as_bytes());
    out.extend_from_slice(b",\"error_code\":");
    optional(&mut out, record.error_code.as_deref());
    out.push(b'}');
    out
}

/// `text` as a JSON string, or `null`.
fn optional(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => string(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

/// `text` as a JSON string: quoted as it is when nothing in it needs an
/// escape, else as `serde_json` escapes it.
fn string(out: &mut Vec<u8>, text: &str) {
    if needs_no_escape(text.as_bytes()) {
        quoted(out, text);
    } else {
        serde_json::to_writer(&mut *out, text).expect("writing to a Vec cannot fail");
    }
}

/// `text`, which has nothing to escape, between quotes.
pub(super) fn quoted(out: &mut Vec<u8>, text: &str) {
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
}

/// Whether no byte of `bytes` is one a JSON string must escape: a control
/// character (below 0x20), `"` or `\`.
fn needs_no_escape(bytes: &[u8]) -> bool {
    let mut words = bytes.chunks_exact(8);
    let clean = words
        .all(|word| !word_needs_escape(u64::from_le_bytes(word.try_into().expect("eight bytes"))));
    clean
        && words
            .remainder()
            .iter()
            .all(|&b| b >= 0x20 && b != b'"' && b != b'\\')
}

/// Whether any of the eight bytes of `word` needs an escape: the bit-trick
/// tests "has a byte less than n" and "has a zero byte" (after XOR with the
/// byte looked for), each exact for whether any byte matches.
fn word_needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGHS;
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    (below(word, 0x20) | below(quote, 1) | below(backslash, 1)) != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::redact;

    fn record(text: &str, optional: Option<&str>, arns: usize) -> AuditRecord {
        AuditRecord {
            time: "2026-12-04T10:00:00.123Z".into(),
            request_id: format!("id-{text}"),
            dialect: "aws".into(),
            operation: text.into(),
            region: optional.map(str::to_string),
            principal: optional.map(|p| format!("arn:aws:iam::111122223333:user/{p}")),
            access_key_id: Some(text.into()),
            source_address: optional.map(|_| "[::1]:443".into()),
            key_arns: (0..arns).map(|n| format!("arn:{n}:{text}")).collect(),
            parameters: redact(serde_json::json!({"KeyId": text, "Plaintext": "x"})),
            error_code: optional.map(|_| text.to_string()),
        }
    }

    #[test]
    fn records_are_what_serde_json_writes() {
        let texts = [
            "",
            "Encrypt",
            "exactly8",
            "a \"quoted\" \\ path\u{7f}",
            "tab\tnew\nline\r\u{1}\u{1f}",
            "é ü 漢字 🙂 and more than eight bytes",
            "eight\u{0}by",
        ];
        for text in texts {
            for optional in [None, Some(text)] {
                for arns in [0, 1, 3] {
                    let record = record(text, optional, arns);
                    let expected = serde_json::to_vec(&record).unwrap();
                    assert_eq!(
                        String::from_utf8(encode(&record)).unwrap(),
                        String::from_utf8(expected).unwrap()
                    );
                }
            }
        }
    }

    #[test]
    fn every_byte_that_needs_an_escape_is_found_at_every_place() {
        for byte in 0..=255u8 {
            let needs = byte < 0x20 || byte == b'"' || byte == b'\\';
            for len in 1..=17 {
                for at in 0..len {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = byte;
                    assert_eq!(
                        needs_no_escape(&bytes),
                        !needs,
                        "{byte:#x} at {at} of {len}"
                    );
                }
            }
        }
        assert!(needs_no_escape(b""));
        assert!(needs_no_escape("\u{80}\u{7ff}\u{ffff}é".as_bytes()));
    }
}
