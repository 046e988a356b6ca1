//! What the audit trail records of an AWS request: built up while the
//! request is served, then turned into one audit record.

use crate::audit::{AuditRecord, redact, timestamp};
use crate::kms::{Caller, Kms, alias_arn, key_arn};
use axum::body::Bytes;
use base64::Engine;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::SystemTime;

/// Request fields that name keys.
const KEY_FIELDS: &[&str] = &["KeyId", "SourceKeyId", "DestinationKeyId", "TargetKeyId"];

/// Facts about one request, gathered as it is served.
#[derive(Default)]
pub struct Trail {
    /// Operation from X-Amz-Target (as sent, when unknown).
    pub operation: String,
    /// Region of the credential scope.
    pub region: Option<String>,
    /// Authenticated principal.
    pub principal: Option<String>,
    /// Access key id the request was signed with.
    pub access_key_id: Option<String>,
    /// The request body (recorded as redacted JSON).
    pub body: Bytes,
    /// Keys named by the response.
    key_arns: Vec<String>,
    /// The authenticated caller.
    caller: Option<Caller>,
}

impl Trail {
    /// Notes who called, so the keys the request names can be recorded as
    /// ARNs in the caller's region and account.
    pub fn note_request(&mut self, caller: &Caller) {
        self.caller = Some(caller.clone());
    }

    /// Notes the key ARNs a successful response names.
    pub fn note_response(&mut self, response: &Value) {
        for path in [
            &["KeyMetadata", "Arn"][..],
            &["ReplicaKeyMetadata", "Arn"],
            &["KeyId"],
            &["SourceKeyId"],
        ] {
            let found = path.iter().try_fold(response, |v, k| v.get(k));
            if let Some(arn) = found.and_then(Value::as_str) {
                if arn.starts_with("arn:") {
                    self.add(arn.to_string());
                }
            }
        }
    }

    /// Notes the key a failed Decrypt or ReEncrypt's ciphertext names, so a
    /// refused request still records the key it tried to use.
    pub fn note_ciphertext_key(&mut self, kms: &Kms, operation: &str, body: &[u8]) {
        if !matches!(operation, "Decrypt" | "ReEncrypt") {
            return;
        }
        let Some(caller) = &self.caller else {
            return;
        };
        let blob = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("CiphertextBlob")?.as_str().map(str::to_string))
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
        if let Some(arn) = blob.and_then(|blob| kms.ciphertext_key_arn(caller, &blob)) {
            self.add(arn);
        }
    }

    fn add(&mut self, arn: String) {
        if !self.key_arns.contains(&arn) {
            self.key_arns.push(arn);
        }
    }

    /// The audit record of the finished request.
    pub fn into_record(
        self,
        arrived: SystemTime,
        request_id: &str,
        peer: SocketAddr,
        error_code: Option<String>,
    ) -> AuditRecord {
        let parameters: Value = serde_json::from_slice(&self.body).unwrap_or(Value::Null);
        let mut key_arns: Vec<String> = Vec::new();
        if let Some(caller) = &self.caller {
            for field in KEY_FIELDS {
                if let Some(reference) = parameters.get(field).and_then(Value::as_str) {
                    let arn = if reference.starts_with("arn:") {
                        reference.to_string()
                    } else if reference.starts_with("alias/") {
                        alias_arn(caller, reference)
                    } else {
                        key_arn(caller, reference)
                    };
                    if !key_arns.contains(&arn) {
                        key_arns.push(arn);
                    }
                }
            }
        }
        for arn in self.key_arns {
            if !key_arns.contains(&arn) {
                key_arns.push(arn);
            }
        }
        AuditRecord {
            time: timestamp(arrived),
            request_id: request_id.to_string(),
            dialect: "aws".into(),
            operation: self.operation,
            region: self.region,
            principal: self.principal,
            access_key_id: self.access_key_id,
            source_address: Some(peer.to_string()),
            key_arns,
            parameters: redact(parameters),
            error_code,
        }
    }
}
