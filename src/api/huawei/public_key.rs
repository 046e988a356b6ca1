//! get-publickey: the public key of an asymmetric key as PEM text, as
//! Huawei's API reference shows it (`-----BEGIN PUBLIC KEY-----`, lines of
//! 64 base64 characters, CRLF line ends), holding the DER
//! SubjectPublicKeyInfo.

use super::context::{Ctx, OpResult, Reply};
use super::ids;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

/// Base64 characters on one PEM line.
const PEM_LINE: usize = 64;

/// get-publickey: `{"key_id", "public_key"}`.
pub fn get_public_key(cx: &mut Ctx<'_>) -> OpResult {
    let id = cx.key_id_field()?;
    let (key_id, view) = cx.with_key(&id, |kms, caller, key| {
        kms.get_public_key(caller, Some(key))
    })?;
    Ok(Reply::json(json!({
        "key_id": ids::to_huawei(&key_id),
        "public_key": pem(&view.public_key),
    })))
}

/// The PEM text of a DER SubjectPublicKeyInfo, with CRLF line ends.
fn pem(spki: &[u8]) -> String {
    let encoded = STANDARD.encode(spki);
    let mut text = String::from("-----BEGIN PUBLIC KEY-----\r\n");
    for line in encoded.as_bytes().chunks(PEM_LINE) {
        text.push_str(&String::from_utf8_lossy(line));
        text.push_str("\r\n");
    }
    text.push_str("-----END PUBLIC KEY-----\r\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_has_crlf_lines_of_64() {
        let text = pem(&[0x30; 90]);
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(lines[0], "-----BEGIN PUBLIC KEY-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines[3], "-----END PUBLIC KEY-----");
        assert_eq!(lines[4], "", "ends in CRLF");
        assert_eq!(STANDARD.decode(lines[1..3].concat()).unwrap(), [0x30; 90]);
    }
}
