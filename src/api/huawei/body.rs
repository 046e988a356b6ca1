//! Request bodies: a JSON object whose fields are read leniently. Huawei's
//! SDKs send some numbers as strings (`pending_days`, `datakey_length`) and
//! others as JSON numbers (`rotation_interval`); either is accepted
//! wherever a number is expected, and a number where a string is expected.

use super::HuaweiError;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

/// The fields of a request body.
#[derive(Default)]
pub struct Fields(Map<String, Value>);

/// Names the fields only: their values may be plaintexts or messages.
impl std::fmt::Debug for Fields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Fields")
            .field(&self.0.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Fields {
    /// Parses a body: empty means no fields; otherwise a JSON object.
    pub fn parse(body: &[u8]) -> Result<Self, HuaweiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(fields)) => Ok(Self(fields)),
            Ok(_) => Err(HuaweiError::bad_json("the body must be a JSON object")),
            Err(e) => Err(HuaweiError::bad_json(e)),
        }
    }

    /// The fields as a JSON object.
    pub fn to_value(&self) -> Value {
        Value::Object(self.0.clone())
    }

    /// A raw field (absent when missing or null).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    /// A string field; numbers and booleans are taken as their text.
    pub fn str(&self, name: &str) -> Result<Option<String>, HuaweiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(v.to_string())),
            Some(_) => Err(HuaweiError::invalid(name, "expected a string")),
        }
    }

    /// A string field that must be present and non-empty.
    pub fn required_str(&self, name: &str) -> Result<String, HuaweiError> {
        self.str(name)?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| HuaweiError::missing(name))
    }

    /// A string field that must be present and hold base64; decoded.
    pub fn required_base64(&self, name: &str) -> Result<Vec<u8>, HuaweiError> {
        STANDARD
            .decode(self.required_str(name)?.trim())
            .map_err(|_| HuaweiError::invalid(name, "not base64"))
    }

    /// A boolean field, given as a JSON boolean or as "true" or "false".
    pub fn bool(&self, name: &str) -> Result<Option<bool>, HuaweiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) => match s.as_str() {
                "" => Ok(None),
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                _ => Err(HuaweiError::invalid(
                    name,
                    format!("'{s}' is not true or false"),
                )),
            },
            Some(_) => Err(HuaweiError::invalid(name, "expected true or false")),
        }
    }

    /// An integer field, given as a JSON number or a decimal string.
    pub fn int(&self, name: &str) -> Result<Option<i64>, HuaweiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| HuaweiError::invalid(name, "expected an integer")),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => s
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| HuaweiError::invalid(name, format!("'{s}' is not an integer"))),
            Some(_) => Err(HuaweiError::invalid(name, "expected an integer")),
        }
    }

    /// An integer field that must be present.
    pub fn required_int(&self, name: &str) -> Result<i64, HuaweiError> {
        self.int(name)?.ok_or_else(|| HuaweiError::missing(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_names_fields_without_their_values() {
        let fields = Fields::parse(br#"{"key_id":"k","plain_text":"SECRET-9"}"#).unwrap();
        let shown = format!("{fields:?}");
        assert!(
            shown.contains("plain_text") && !shown.contains("SECRET-9"),
            "{shown}"
        );
    }

    #[test]
    fn numbers_and_strings_are_read_leniently() {
        let f = Fields::parse(br#"{"a": "7", "b": 7, "c": "x", "d": null, "e": true}"#).unwrap();
        assert_eq!(f.int("a").unwrap(), Some(7));
        assert_eq!(f.int("b").unwrap(), Some(7));
        assert!(f.int("c").is_err());
        assert_eq!(f.int("d").unwrap(), None);
        assert_eq!(f.str("b").unwrap(), Some("7".into()));
        assert_eq!(f.str("e").unwrap(), Some("true".into()));
        assert_eq!(f.required_str("d").unwrap_err().code, "KMS.0204");
        assert_eq!(f.bool("e").unwrap(), Some(true));
        assert_eq!(f.bool("d").unwrap(), None);
        assert!(f.bool("a").is_err());
        let g = Fields::parse(br#"{"m": " aGk= ", "n": "%%", "t": "false"}"#).unwrap();
        assert_eq!(g.required_base64("m").unwrap(), b"hi");
        assert_eq!(g.required_base64("n").unwrap_err().code, "KMS.0308");
        assert_eq!(g.bool("t").unwrap(), Some(false));
        assert!(Fields::parse(b"").unwrap().get("a").is_none());
        assert_eq!(Fields::parse(b"[1]").unwrap_err().code, "KMS.0202");
        assert_eq!(Fields::parse(b"{").unwrap_err().code, "KMS.0202");
    }
}
