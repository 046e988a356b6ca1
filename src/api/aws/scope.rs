//! Reads the region from a request's SigV4 credential scope.

use axum::http::HeaderMap;

/// The region of `Credential=<key>/<date>/<region>/<service>/aws4_request`
/// in the Authorization header, if there is one.
pub fn region(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let credential = auth
        .split([',', ' '])
        .find_map(|part| part.trim().strip_prefix("Credential="))?;
    let mut fields = credential.split('/');
    let region = fields.nth(2)?;
    (!region.is_empty()).then(|| region.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_region_from_credential_scope() {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/us-west-2/kms/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=abc"
                .parse()
                .unwrap(),
        );
        assert_eq!(region(&h).as_deref(), Some("us-west-2"));
        assert_eq!(region(&HeaderMap::new()), None);
    }
}
