//! Wire helpers: base64 blobs, timestamps, tags and key metadata as the AWS
//! JSON 1.1 protocol spells them.

use crate::kms::{KeyView, key_arn_in};
use crate::store::{KeyState, Tag};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

/// A base64-encoded blob field.
pub struct Blob(pub Vec<u8>);

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD
            .decode(text.as_bytes())
            .map(Blob)
            .map_err(|_| serde::de::Error::custom("blob field is not valid base64"))
    }
}

/// Encodes bytes as a base64 blob field.
pub fn blob(bytes: &[u8]) -> Value {
    Value::String(STANDARD.encode(bytes))
}

/// Encodes Unix milliseconds as AWS JSON epoch seconds.
pub fn timestamp(ms: i64) -> Value {
    json!(ms as f64 / 1000.0)
}

/// A tag as AWS sends it.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireTag {
    tag_key: Option<String>,
    tag_value: Option<String>,
}

/// Converts wire tags; a tag lacking its key or value is a validation error.
pub fn tags_from_wire(tags: Vec<WireTag>) -> Result<Vec<Tag>, crate::kms::KmsError> {
    tags.into_iter()
        .map(|t| match (t.tag_key, t.tag_value) {
            (Some(key), Some(value)) => Ok(Tag { key, value }),
            _ => Err(crate::kms::KmsError::Validation(
                "1 validation error detected: each tag must have TagKey and TagValue".into(),
            )),
        })
        .collect()
}

/// Encodes tags as AWS sends them.
pub fn tags_to_wire(tags: &[Tag]) -> Value {
    tags.iter()
        .map(|t| json!({ "TagKey": t.key, "TagValue": t.value }))
        .collect()
}

/// The complete KeyMetadata structure of a key.
pub fn key_metadata(view: &KeyView) -> Value {
    let key = &view.key;
    let arn = |region: &str| key_arn_in(region, &key.account_id, &key.key_id);
    let state = if key.updating {
        "Updating"
    } else {
        key.state.as_str()
    };
    let mut m = json!({
        "AWSAccountId": key.account_id,
        "KeyId": key.key_id,
        "Arn": arn(&key.region),
        "CreationDate": timestamp(key.creation_date),
        "Enabled": key.state == KeyState::Enabled,
        "Description": key.description,
        "KeyUsage": key.key_usage,
        "KeyState": state,
        "Origin": key.origin,
        "KeyManager": "CUSTOMER",
        "CustomerMasterKeySpec": key.key_spec,
        "KeySpec": key.key_spec,
        "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        "MultiRegion": key.multi_region,
        "CurrentKeyMaterialId": key.current_material_id,
    });
    if let Some(date) = key.deletion_date {
        m["DeletionDate"] = timestamp(date);
    }
    if let Some(days) = key.pending_window_days {
        m["PendingDeletionWindowInDays"] = json!(days);
    }
    if let Some(copies) = &view.multi_region {
        let entry = |region: &String| json!({ "Arn": arn(region), "Region": region });
        let kind = if copies.primary_region == key.region {
            "PRIMARY"
        } else {
            "REPLICA"
        };
        let replicas: Vec<Value> = copies
            .regions
            .iter()
            .filter(|r| **r != copies.primary_region)
            .map(entry)
            .collect();
        m["MultiRegionConfiguration"] = json!({
            "MultiRegionKeyType": kind,
            "PrimaryKey": entry(&copies.primary_region),
            "ReplicaKeys": replicas,
        });
    }
    m
}
