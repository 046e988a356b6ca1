//! Keeping secrets out of the log.

use super::record_json::quoted;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// What a secret value is replaced with.
pub const REDACTED: &str = "<redacted>";

/// What a value nested deeper than [`MAX_DEPTH`] is replaced with.
pub const TOO_DEEP: &str = "<too deep>";

/// Deepest nesting of arrays and objects kept in an audit line's
/// parameters. AWS's shapes nest a few levels; a body nested near
/// `serde_json`'s own limit (128) would make the line, one level deeper
/// still, unreadable to `trent audit verify`.
const MAX_DEPTH: usize = 32;

/// Field-name fragments (lowercase) that mark a value as secret: the
/// data and keys of cryptographic operations, private keys however wrapped
/// (the Huawei dialect's `encrypted_privatekey`), and the passwords and
/// secret keys of operations Trent does not serve (`CreateCustomKeyStore`'s
/// `KeyStorePassword`, `RawSecretAccessKey`), whose bodies are recorded too.
const SECRET_FRAGMENTS: [&str; 10] = [
    "plaintext",
    "ciphertext",
    "cipher_text",
    "plain_text",
    "datakey",
    "data_key",
    "privatekey",
    "private_key",
    "password",
    "secret",
];

/// Field names (lowercase, without underscores) whose values are redacted
/// wherever they appear: what is signed or MACed and the signature or MAC
/// over it (AWS CloudTrail records neither; a MAC's message may be a
/// password or an identifier kept only as its HMAC), imported key
/// material, which is encrypted but still key material, and the import
/// token that lets it in (CloudTrail records neither).
const SECRET_NAMES: [&str; 5] = [
    "message",
    "mac",
    "signature",
    "encryptedkeymaterial",
    "importtoken",
];

/// Removes secrets from request parameters: at any depth, the value of every
/// field whose name contains `plaintext`, `ciphertext`, `cipher_text`,
/// `plain_text`, `datakey`, `data_key`, `privatekey`, `private_key`,
/// `password` or `secret`, or is `Message`, `Mac`, `Signature`,
/// `EncryptedKeyMaterial` or `ImportToken` (ignoring case and underscores,
/// so Huawei's `message` and `encrypted_key_material` too) becomes
/// [`REDACTED`]. Everything else (`KeyId`, `EncryptionContext`,
/// `Description`, `Tags`, `Policy`, `MessageType`, `MacAlgorithm`, …) is
/// kept. Returns the parameters as the audit record's JSON.
pub fn redact(parameters: Value) -> Parameters {
    redacted(parameters, 0, false).unwrap_or_else(|_| null())
}

/// [`redact`] for a request body that is JSON text, re-encoded as it is
/// read (no tree is built): `null` when the body is not one JSON value.
pub fn redact_json(body: &[u8]) -> Parameters {
    let mut reader = serde_json::Deserializer::from_slice(body);
    redacted(&mut reader, body.len(), true)
        .and_then(|json| reader.end().map(|()| json))
        .unwrap_or_else(|_| null())
}

/// The one value `parameters` yields, redacted, as compact JSON (`null`
/// should the copy not be JSON); `from_text` when `parameters` is
/// `serde_json`'s deserializer over JSON text.
fn redacted<'de, D: de::Deserializer<'de>>(
    parameters: D,
    capacity: usize,
    from_text: bool,
) -> Result<Parameters, D::Error> {
    let mut out = Vec::with_capacity(capacity);
    Redacting {
        out: &mut out,
        depth: 0,
        from_text,
    }
    .deserialize(parameters)?;
    let json = String::from_utf8(out).map_or_else(|_| null(), Parameters);
    debug_assert!(
        serde_json::from_str::<IgnoredAny>(json.get()).is_ok() && !json.get().contains('\n'),
        "the redaction wrote no JSON line: {}",
        json.get()
    );
    Ok(json)
}

fn null() -> Parameters {
    Parameters("null".into())
}

/// A request's parameters as its audit line records them: one JSON value,
/// compact, on one line. Only the redaction here makes them, from pieces
/// `serde_json` parsed or wrote, so they are written into the line as they
/// are, without another parse (debug builds, and so the tests, check each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameters(String);

impl Parameters {
    /// The JSON text.
    pub fn get(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for Parameters {
    /// As the JSON value it is (not as a string of it).
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let json: &RawValue = serde_json::from_str(&self.0).map_err(serde::ser::Error::custom)?;
        json.serialize(serializer)
    }
}

impl<'de> de::Deserialize<'de> for Parameters {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = Box::<RawValue>::deserialize(deserializer)?;
        Ok(Self(json.get().to_owned()))
    }
}

fn is_secret(name: &str) -> bool {
    let name = name.as_bytes();
    let contains = |fragment: &[u8]| {
        name.windows(fragment.len())
            .any(|w| w.eq_ignore_ascii_case(fragment))
    };
    let is = |secret: &[u8]| {
        let mut letters = name.iter().filter(|&&b| b != b'_');
        secret
            .iter()
            .all(|s| letters.next().is_some_and(|b| b.eq_ignore_ascii_case(s)))
            && letters.next().is_none()
    };
    SECRET_FRAGMENTS.iter().any(|f| contains(f.as_bytes()))
        || SECRET_NAMES.iter().any(|n| is(n.as_bytes()))
}

/// Copies one JSON value from a deserializer to `out` as compact JSON,
/// writing [`REDACTED`] for the value of every secret field and
/// [`TOO_DEEP`] for an array or object nested deeper than [`MAX_DEPTH`].
struct Redacting<'o> {
    out: &'o mut Vec<u8>,
    /// Arrays and objects around the value.
    depth: usize,
    /// Whether the deserializer is `serde_json`'s over JSON text, which
    /// lends a string only when the text had it without escapes (and it
    /// refuses control characters), so a lent string is quoted as it is,
    /// without another scan for characters to escape; another deserializer
    /// may lend text that needs them.
    from_text: bool,
}

impl Redacting<'_> {
    fn json<T: serde::Serialize + ?Sized>(&mut self, value: &T) {
        serde_json::to_writer(&mut *self.out, value).expect("writing to a Vec cannot fail");
    }
}

impl<'de> DeserializeSeed<'de> for Redacting<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Redacting<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    fn visit_i64<E>(mut self, v: i64) -> Result<(), E> {
        self.json(&v);
        Ok(())
    }

    fn visit_u64<E>(mut self, v: u64) -> Result<(), E> {
        self.json(&v);
        Ok(())
    }

    fn visit_f64<E>(mut self, v: f64) -> Result<(), E> {
        self.json(&v);
        Ok(())
    }

    fn visit_str<E>(mut self, v: &str) -> Result<(), E> {
        self.json(v);
        Ok(())
    }

    fn visit_borrowed_str<E>(mut self, v: &'de str) -> Result<(), E> {
        match self.from_text {
            true => quoted(self.out, v),
            false => self.json(v),
        }
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut items: A) -> Result<(), A::Error> {
        if self.depth >= MAX_DEPTH {
            while items.next_element::<IgnoredAny>()?.is_some() {}
            self.json(TOO_DEEP);
            return Ok(());
        }
        self.out.push(b'[');
        let open = self.out.len();
        let depth = self.depth + 1;
        while items
            .next_element_seed(Redacting {
                out: self.out,
                depth,
                from_text: self.from_text,
            })?
            .is_some()
        {
            self.out.push(b',');
        }
        if self.out.len() > open {
            // The comma after the last item.
            self.out.pop();
        }
        self.out.push(b']');
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut fields: A) -> Result<(), A::Error> {
        if self.depth >= MAX_DEPTH {
            while fields.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            self.json(TOO_DEEP);
            return Ok(());
        }
        let depth = self.depth + 1;
        self.out.push(b'{');
        let mut first = true;
        while let Some(FieldName(name)) = fields.next_key()? {
            if !first {
                self.out.push(b',');
            }
            first = false;
            match &name {
                Cow::Borrowed(name) if self.from_text => quoted(self.out, name),
                name => self.json(&**name),
            }
            self.out.push(b':');
            if is_secret(&name) {
                fields.next_value::<IgnoredAny>()?;
                self.json(REDACTED);
            } else {
                fields.next_value_seed(Redacting {
                    out: self.out,
                    depth,
                    from_text: self.from_text,
                })?;
            }
        }
        self.out.push(b'}');
        Ok(())
    }
}

/// An object's field name, borrowed from the body where it has no escapes.
struct FieldName<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for FieldName<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Name;
        impl<'de> Visitor<'de> for Name {
            type Value = FieldName<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<FieldName<'de>, E> {
                Ok(FieldName(Cow::Borrowed(v)))
            }

            fn visit_str<E>(self, v: &str) -> Result<FieldName<'de>, E> {
                Ok(FieldName(Cow::Owned(v.to_string())))
            }
        }
        deserializer.deserialize_str(Name)
    }
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
        assert_eq!(parsed(&redact(parameters.clone())), expected);
        let body = serde_json::to_vec_pretty(&parameters).unwrap();
        assert_eq!(parsed(&redact_json(&body)), expected);
    }

    fn parsed(raw: &Parameters) -> Value {
        serde_json::from_str(raw.get()).unwrap()
    }

    #[test]
    fn redacts_what_is_signed_or_maced_imported_material_and_passwords() {
        let parameters = json!({
            "KeyId": "k",
            "Message": "bWVzc2FnZQ==",
            "MessageType": "RAW",
            "Signature": "c2ln",
            "SigningAlgorithm": "ECDSA_SHA_256",
            "Mac": "bWFj",
            "MacAlgorithm": "HMAC_SHA_256",
            "EncryptedKeyMaterial": "d3JhcHBlZA==",
            "ImportToken": "dG9rZW4=",
            "encrypted_privatekey": "cGs=",
            "KeyStorePassword": "kmsuser-pw",
            "XksProxyAuthenticationCredential": {"AccessKeyId": "AKIA", "RawSecretAccessKey": "s"},
            "message": "aHc=",
            "mac_algorithm": "HMAC_SHA_256",
            "encrypted_key_material": "aHc=",
            "MESSAGE": "x",
            "Messages": "kept: not the name",
            "_mac_": "x",
        });
        let expected = json!({
            "KeyId": "k",
            "Message": REDACTED,
            "MessageType": "RAW",
            "Signature": REDACTED,
            "SigningAlgorithm": "ECDSA_SHA_256",
            "Mac": REDACTED,
            "MacAlgorithm": "HMAC_SHA_256",
            "EncryptedKeyMaterial": REDACTED,
            "ImportToken": REDACTED,
            "encrypted_privatekey": REDACTED,
            "KeyStorePassword": REDACTED,
            "XksProxyAuthenticationCredential": {"AccessKeyId": "AKIA", "RawSecretAccessKey": REDACTED},
            "message": REDACTED,
            "mac_algorithm": "HMAC_SHA_256",
            "encrypted_key_material": REDACTED,
            "MESSAGE": REDACTED,
            "Messages": "kept: not the name",
            "_mac_": REDACTED,
        });
        assert_eq!(parsed(&redact(parameters)), expected);
    }

    #[test]
    fn names_shorter_than_a_fragment_and_non_ascii_names_are_kept() {
        for name in ["", "m", "ma", "Plain", "mäc", "dätakey"] {
            assert!(!is_secret(name), "{name}");
        }
        assert!(is_secret("xPLAINTEXTy"));
    }

    #[test]
    fn body_is_copied_compactly_in_its_own_order() {
        let body = br#"{ "KeyId" : "k\u00e9",
            "Plain\u0074ext": "c2VjcmV0", "N": [1, -2, 0.5, true, null, [], {}],
            "EncryptionContext": {"a\"b": "x\ny"} }"#;
        assert_eq!(
            redact_json(body).get(),
            r#"{"KeyId":"ké","Plaintext":"<redacted>","N":[1,-2,0.5,true,null,[],{}],"EncryptionContext":{"a\"b":"x\ny"}}"#
        );
    }

    #[test]
    fn lent_text_is_copied_as_it_is_only_from_json_text() {
        // From JSON text, a string lent without escapes is copied as is,
        // and one with escapes is written again.
        assert_eq!(
            redact_json(br#"{"K":"a b","E":"\u00e9\/"}"#).get(),
            r#"{"K":"a b","E":"é/"}"#
        );
        // Another deserializer may lend text that needs escapes: it gets them.
        let value = json!({"K\"": "x\"y\n", "n": ["\\"]});
        let copied = redacted(&value, 0, false).expect("a value copies");
        assert_eq!(parsed(&copied), value);
        assert!(!copied.get().contains('\n'), "{}", copied.get());
    }

    #[test]
    fn a_body_that_is_not_one_json_value_is_null() {
        for body in [&b""[..], b"{", b"{} {}", b"\xff", b"{\"a\":}", b"[1,]"] {
            assert_eq!(redact_json(body).get(), "null", "{body:?}");
        }
        assert_eq!(redact_json(b" 7 ").get(), "7");
    }

    #[test]
    fn leaves_non_objects_alone() {
        assert_eq!(parsed(&redact(json!("Plaintext"))), json!("Plaintext"));
        assert_eq!(parsed(&redact(json!([1, "x"]))), json!([1, "x"]));
        assert_eq!(parsed(&redact(Value::Null)), Value::Null);
    }

    #[test]
    fn values_nested_past_the_limit_are_cut_short() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(100), "]".repeat(100));
        let kept = redact_json(deep.as_bytes());
        let text = kept.get();
        assert!(text.contains(TOO_DEEP), "{text}");
        assert_eq!(text.matches('[').count(), MAX_DEPTH - 1, "{text}");
        let shallow = format!("{{\"a\":{}1{}}}", "[".repeat(5), "]".repeat(5));
        assert_eq!(redact_json(shallow.as_bytes()).get(), shallow);
    }
}
