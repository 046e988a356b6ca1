//! Key ids between the dialects.
//!
//! Huawei key ids are 36-character lowercase UUIDs. A single-Region key's
//! Trent id already is one, and is the same string in both dialects. A
//! multi-Region key's Trent id is `mrk-` and 32 hex digits; the Huawei
//! dialect shows it as those 32 digits in UUID form (8-4-4-4-12), and
//! accepts either form. Given a UUID, the dialect tries the multi-Region
//! key with those digits first, then the single-Region key (both ids are
//! random 122-bit UUIDs, so at most one of them exists).

/// The Huawei form of a Trent key id.
pub fn to_huawei(key_id: &str) -> String {
    match key_id.strip_prefix("mrk-") {
        Some(hex) if hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            let hex = hex.to_ascii_lowercase();
            format!(
                "{}-{}-{}-{}-{}",
                &hex[0..8],
                &hex[8..12],
                &hex[12..16],
                &hex[16..20],
                &hex[20..32]
            )
        }
        _ => key_id.to_string(),
    }
}

/// The Trent form of a multi-Region key id given in Huawei form.
pub fn to_mrk(huawei_id: &str) -> String {
    format!("mrk-{}", huawei_id.replace('-', ""))
}

/// True for `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in lowercase hex.
fn is_uuid(id: &str) -> bool {
    id.len() == 36
        && id.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

/// The Trent ids a Huawei key id may stand for, in the order to try them;
/// `None` when it is not a key id at all.
pub fn candidates(huawei_id: &str) -> Option<Vec<String>> {
    let id = huawei_id.trim();
    if let Some(hex) = id.strip_prefix("mrk-") {
        let valid = hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit());
        return valid.then(|| vec![format!("mrk-{}", hex.to_ascii_lowercase())]);
    }
    let id = id.to_ascii_lowercase();
    is_uuid(&id).then(|| vec![to_mrk(&id), id])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_region_ids_take_uuid_form_and_back() {
        let mrk = "mrk-0123456789abcdef0123456789abcdef";
        let huawei = to_huawei(mrk);
        assert_eq!(huawei, "01234567-89ab-cdef-0123-456789abcdef");
        assert_eq!(to_mrk(&huawei), mrk);
        assert_eq!(
            candidates(&huawei).unwrap(),
            vec![mrk.to_string(), huawei.clone()]
        );
        assert_eq!(candidates(mrk).unwrap(), vec![mrk.to_string()]);
    }

    #[test]
    fn single_region_ids_are_unchanged() {
        let id = "0d0466b0-e727-4d9c-b35d-f84bb474a37f";
        assert_eq!(to_huawei(id), id);
        assert_eq!(candidates(id).unwrap()[1], id);
        assert_eq!(
            candidates("0D0466B0-E727-4D9C-B35D-F84BB474A37F").unwrap()[1],
            id
        );
    }

    #[test]
    fn other_strings_are_not_key_ids() {
        for bad in [
            "",
            "alias/x",
            "0d0466b0e7274d9cb35df84bb474a37f",
            "mrk-12",
            "arn:aws:kms:x",
        ] {
            assert!(candidates(bad).is_none(), "{bad}");
        }
    }
}
