//! What the audit trail records of a Huawei-dialect request: the same
//! record as for the AWS dialect, with dialect `huawei`, the Huawei
//! operation name and the Huawei error code.

use crate::audit::{AuditRecord, redact, source_address, timestamp};
use crate::kms::KeysNamed;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::SystemTime;

/// Facts about one request, gathered as it is served.
#[derive(Default)]
pub struct Trail {
    /// Huawei operation name, e.g. `CreateKey` (the method and path when
    /// the path names no operation).
    pub operation: String,
    /// The Huawei API name, when the path names one (a metrics label).
    pub api: Option<&'static str>,
    /// Region of the project.
    pub region: Option<String>,
    /// Authenticated principal.
    pub principal: Option<String>,
    /// AK the request was signed with (none for X-Auth-Token requests).
    pub access_key_id: Option<String>,
    /// The request's parameters: the body's fields and the path's.
    pub parameters: Value,
    /// The keys the request named and found, as the KMS core notes them.
    pub keys: KeysNamed,
}

impl Trail {
    /// Adds a parameter taken from the path.
    pub fn add_parameter(&mut self, name: &str, value: &str) {
        if !self.parameters.is_object() {
            self.parameters = Value::Object(Default::default());
        }
        if let Some(fields) = self.parameters.as_object_mut() {
            fields
                .entry(name.to_string())
                .or_insert_with(|| Value::String(value.to_string()));
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
            dialect: "huawei".into(),
            operation: self.operation,
            region: self.region,
            principal: self.principal,
            access_key_id: self.access_key_id,
            source_address: Some(source_address(peer)),
            key_arns: self.keys.take(),
            parameters: redact(self.parameters),
            error_code,
        }
    }
}
