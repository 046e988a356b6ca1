//! Keeping secrets out of the log.

use serde_json::Value;

/// What a secret value is replaced with.
pub const REDACTED: &str = "<redacted>";

/// Field-name fragments (lowercase) that mark a value as secret.
const SECRET_FRAGMENTS: [&str; 6] = [
    "plaintext",
    "ciphertext",
    "cipher_text",
    "plain_text",
    "datakey",
    "data_key",
];

/// Removes secrets from request parameters: at any depth, the value of every
/// field whose name contains `plaintext`, `ciphertext`, `cipher_text`,
/// `plain_text`, `datakey` or `data_key` (ignoring case) — `Plaintext` and
/// `CiphertextBlob` among them — becomes [`REDACTED`]. Everything else
/// (`KeyId`, `EncryptionContext`, `Description`, `Tags`, `Policy`, …) is kept.
pub fn redact(parameters: Value) -> Value {
    match parameters {
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(name, value)| {
                    let value = if is_secret(&name) {
                        Value::String(REDACTED.into())
                    } else {
                        redact(value)
                    };
                    (name, value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        other => other,
    }
}

fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_FRAGMENTS.iter().any(|f| name.contains(f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redacts_secrets_at_any_depth() {
        let parameters = json!({
            "KeyId": "alias/app",
            "Plaintext": "c2VjcmV0",
            "CiphertextBlob": "AQID",
            "EncryptionContext": {"tenant": "a", "PlainTextHint": "x"},
            "Description": "ciphertext store",
            "Tags": [{"TagKey": "k", "TagValue": "v"}],
            "Policy": "{\"Version\":\"2012-10-17\"}",
            "GrantTokens": ["t1"],
            "batch": [
                {"cipher_text_blob": "Zm9v", "key_id": "k1"},
                {"nested": {"datakey_plain": {"deep": 1}, "data_key": [1, 2]}}
            ],
            "NumberOfBytes": 32,
            "Recipient": null,
        });
        let expected = json!({
            "KeyId": "alias/app",
            "Plaintext": REDACTED,
            "CiphertextBlob": REDACTED,
            "EncryptionContext": {"tenant": "a", "PlainTextHint": REDACTED},
            "Description": "ciphertext store",
            "Tags": [{"TagKey": "k", "TagValue": "v"}],
            "Policy": "{\"Version\":\"2012-10-17\"}",
            "GrantTokens": ["t1"],
            "batch": [
                {"cipher_text_blob": REDACTED, "key_id": "k1"},
                {"nested": {"datakey_plain": REDACTED, "data_key": REDACTED}}
            ],
            "NumberOfBytes": 32,
            "Recipient": null,
        });
        assert_eq!(redact(parameters), expected);
    }

    #[test]
    fn leaves_non_objects_alone() {
        assert_eq!(redact(json!("Plaintext")), json!("Plaintext"));
        assert_eq!(redact(json!([1, "x"])), json!([1, "x"]));
        assert_eq!(redact(Value::Null), Value::Null);
    }
}
