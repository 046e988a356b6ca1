//! Wire helpers: base64 blobs, timestamps, tags, paging and key metadata as
//! the AWS JSON 1.1 protocol spells them.

use crate::kms::{
    Field, Invalid, KeySpec, KeyState, KeyView, KmsError, Tag, encryption_algorithms,
    key_agreement_algorithms, key_arn_in, key_import::expiration_model, mac_algorithms,
    signing_algorithms,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A base64-encoded blob field of a request.
pub struct Blob(pub Vec<u8>);

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(Base64Text)
    }
}

/// Decodes a blob from the text as the parser has it (lent from the body,
/// or unescaped), without a copy of it first.
struct Base64Text;

impl serde::de::Visitor<'_> for Base64Text {
    type Value = Blob;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        // As a `String` field says it.
        f.write_str("a string")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Blob, E> {
        STANDARD
            .decode(text.as_bytes())
            .map(Blob)
            .map_err(|_| E::custom("blob field is not valid base64"))
    }
}

/// A blob field of a response: bytes sent as base64 text.
pub struct Base64<'a>(pub &'a [u8]);

impl Serialize for Base64<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(self.0))
    }
}

/// A timestamp field of a response: Unix milliseconds sent as AWS JSON
/// epoch seconds (a number with a fraction).
#[derive(Clone, Copy)]
pub struct Epoch(pub i64);

impl Serialize for Epoch {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0 as f64 / 1000.0)
    }
}

/// A timestamp field of a request: AWS JSON epoch seconds (a number, maybe
/// with a fraction), kept as Unix milliseconds.
impl<'de> Deserialize<'de> for Epoch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let seconds = f64::deserialize(d)?;
        if !seconds.is_finite() || seconds.abs() > 1e12 {
            return Err(serde::de::Error::custom("timestamp out of range"));
        }
        Ok(Epoch((seconds * 1000.0).round() as i64))
    }
}

/// A tag as AWS sends it.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireTag {
    tag_key: Option<String>,
    tag_value: Option<String>,
}

/// Converts wire tags; a tag lacking its key or value is refused naming
/// its place in the list, as AWS does (`tags.2.member.tagKey`).
pub fn tags_from_wire(tags: Vec<WireTag>) -> Result<Vec<Tag>, KmsError> {
    tags.into_iter()
        .zip(1..)
        .map(|(t, index)| match (t.tag_key, t.tag_value) {
            (Some(key), Some(value)) => Ok(Tag { key, value }),
            (key, _) => Err(KmsError::Validation(Invalid::TagMissing {
                index,
                field: match key {
                    None => Field::TagKey,
                    Some(_) => Field::TagValue,
                },
            })),
        })
        .collect()
}

/// A tag as AWS returns it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagEntry<'a> {
    tag_key: &'a str,
    tag_value: &'a str,
}

/// Encodes tags as AWS returns them.
pub fn tags_to_wire(tags: &[Tag]) -> Vec<TagEntry<'_>> {
    tags.iter()
        .map(|t| TagEntry {
            tag_key: &t.key,
            tag_value: &t.value,
        })
        .collect()
}

/// A request naming only a key.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyOnly {
    /// The key, by id, ARN or alias.
    pub key_id: Option<String>,
}

/// A listing request on one key.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyPaging {
    /// The key, by id, ARN or alias.
    pub key_id: Option<String>,
    /// Page size.
    pub limit: Option<i64>,
    /// Marker returned by the previous page.
    pub marker: Option<String>,
}

/// The end of a listing response: whether more follows, and from where.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PageEnd {
    truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
}

impl PageEnd {
    /// The end of a page that `next_marker` continues, if any.
    pub fn new(next_marker: Option<String>) -> Self {
        PageEnd {
            truncated: next_marker.is_some(),
            next_marker,
        }
    }
}

/// The complete KeyMetadata structure of a key.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMetadata<'a> {
    #[serde(rename = "AWSAccountId")]
    aws_account_id: &'a str,
    key_id: &'a str,
    arn: String,
    creation_date: Epoch,
    enabled: bool,
    description: &'a str,
    key_usage: &'a str,
    key_state: &'a str,
    origin: &'a str,
    key_manager: &'static str,
    customer_master_key_spec: &'a str,
    key_spec: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    encryption_algorithms: &'static [&'static str],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    signing_algorithms: &'static [&'static str],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    mac_algorithms: &'static [&'static str],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    key_agreement_algorithms: &'static [&'static str],
    multi_region: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    current_key_material_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration_model: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    valid_to: Option<Epoch>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deletion_date: Option<Epoch>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_deletion_window_in_days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    multi_region_configuration: Option<MultiRegionConfiguration<'a>>,
}

/// Where the copies of a multi-Region key live, as KeyMetadata shows it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MultiRegionConfiguration<'a> {
    multi_region_key_type: &'static str,
    primary_key: RegionCopy<'a>,
    replica_keys: Vec<RegionCopy<'a>>,
}

/// One copy of a multi-Region key.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RegionCopy<'a> {
    arn: String,
    region: &'a str,
}

/// The KeyMetadata of a key.
pub fn key_metadata<'a>(view: &'a KeyView) -> KeyMetadata<'a> {
    let key = &view.key;
    let arn = |region: &str| key_arn_in(region, &key.account_id, &key.key_id);
    let state = if key.updating {
        "Updating"
    } else {
        key.state.as_str()
    };
    let multi_region_configuration = view.multi_region.as_ref().map(|copies| {
        let entry = |region: &'a str| RegionCopy {
            arn: arn(region),
            region,
        };
        let kind = if copies.primary_region == key.region {
            "PRIMARY"
        } else {
            "REPLICA"
        };
        MultiRegionConfiguration {
            multi_region_key_type: kind,
            primary_key: entry(&copies.primary_region),
            replica_keys: copies
                .regions
                .iter()
                .filter(|r| **r != copies.primary_region)
                .map(|r| entry(r))
                .collect(),
        }
    });
    KeyMetadata {
        aws_account_id: &key.account_id,
        key_id: &key.key_id,
        arn: arn(&key.region),
        creation_date: Epoch(key.creation_date),
        enabled: key.state == KeyState::Enabled,
        description: &key.description,
        key_usage: key.key_usage.as_str(),
        key_state: state,
        origin: &key.origin,
        key_manager: "CUSTOMER",
        customer_master_key_spec: key.key_spec.as_str(),
        key_spec: key.key_spec.as_str(),
        encryption_algorithms: encryption_algorithms(key.key_spec, key.key_usage),
        signing_algorithms: signing_algorithms(key.key_spec, key.key_usage),
        mac_algorithms: mac_algorithms(key.key_spec),
        key_agreement_algorithms: key_agreement_algorithms(key.key_usage),
        multi_region: key.multi_region,
        current_key_material_id: (key.key_spec == KeySpec::SymmetricDefault
            && !key.current_material_id.is_empty())
        .then_some(key.current_material_id.as_str()),
        expiration_model: expiration_model(key),
        valid_to: key.valid_to.map(Epoch),
        deletion_date: key.deletion_date.map(Epoch),
        pending_deletion_window_in_days: key.pending_window_days,
        multi_region_configuration,
    }
}

#[cfg(test)]
mod tests {
    use super::Blob;

    fn blob(json: &str) -> Result<Vec<u8>, String> {
        serde_json::from_str::<Blob>(json)
            .map(|b| b.0)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn blobs_decode_from_lent_and_unescaped_text_and_say_what_is_wrong() {
        assert_eq!(blob(r#""c2VjcmV0""#).unwrap(), b"secret");
        assert_eq!(blob(r#""c2Vj\u0063mV0""#).unwrap(), b"secret");
        assert_eq!(blob(r#""/w==""#).unwrap(), [0xff]);
        assert_eq!(blob(r#""\/w==""#).unwrap(), [0xff]);
        assert!(
            blob(r#""not base64!""#)
                .unwrap_err()
                .contains("not valid base64")
        );
        let wrong_type = blob("5").unwrap_err();
        assert!(wrong_type.contains("expected a string"), "{wrong_type}");
    }
}
