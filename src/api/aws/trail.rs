//! What the audit trail records of an AWS request: built up while the
//! request is served, then turned into one audit record.

use crate::audit::{AuditRecord, redact, timestamp};
use crate::kms::{Caller, alias_arn, key_arn};
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
    /// The request body as JSON (redacted when recorded).
    pub parameters: Value,
    /// Keys involved.
    key_arns: Vec<String>,
}

impl Trail {
    /// Notes the keys the request names, as ARNs in the caller's region.
    pub fn note_request(&mut self, caller: &Caller) {
        for field in KEY_FIELDS {
            if let Some(reference) = self.parameters.get(field).and_then(Value::as_str) {
                let arn = if reference.starts_with("arn:") {
                    reference.to_string()
                } else if reference.starts_with("alias/") {
                    alias_arn(caller, reference)
                } else {
                    key_arn(caller, reference)
                };
                self.add(arn);
            }
        }
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
        AuditRecord {
            time: timestamp(arrived),
            request_id: request_id.to_string(),
            dialect: "aws".into(),
            operation: self.operation,
            region: self.region,
            principal: self.principal,
            access_key_id: self.access_key_id,
            source_address: Some(peer.to_string()),
            key_arns: self.key_arns,
            parameters: redact(self.parameters),
            error_code,
        }
    }
}
