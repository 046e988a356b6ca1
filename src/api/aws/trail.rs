//! What the audit trail records of an AWS request: built up while the
//! request is served, then turned into one audit record.

use crate::audit::{AuditRecord, redact_json, source_address, timestamp};
use crate::kms::KeysNamed;
use axum::body::Bytes;
use std::net::SocketAddr;
use std::time::SystemTime;

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
    /// The keys the request named and found, as the KMS core notes them.
    pub keys: KeysNamed,
}

impl Trail {
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
            source_address: Some(source_address(peer)),
            key_arns: self.keys.take(),
            parameters: redact_json(&self.body),
            error_code,
        }
    }
}
