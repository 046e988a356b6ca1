//! The condition keys this service supplies. A policy that names any other
//! key is refused when it is set: such a key would never be present, and a
//! condition on it would silently evaluate as if the request lacked it.

/// Keys supplied with AWS's value wherever AWS supplies them (compared
/// ignoring case, as AWS compares condition key names).
const KEYS: &[&str] = &[
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "aws:RequestedRegion",
    "aws:SecureTransport",
    "aws:SourceIp",
    "aws:TagKeys",
    "aws:ViaAWSService",
    "kms:BypassPolicyLockoutSafetyCheck",
    "kms:CallerAccount",
    "kms:CustomerMasterKeySpec",
    "kms:CustomerMasterKeyUsage",
    "kms:DataKeyPairSpec",
    "kms:EncryptionAlgorithm",
    "kms:EncryptionContextKeys",
    "kms:GrantConstraintType",
    "kms:GranteePrincipal",
    "kms:GrantIsForAWSResource",
    "kms:GrantOperations",
    "kms:KeyAgreementAlgorithm",
    "kms:KeyOrigin",
    "kms:KeySpec",
    "kms:KeyUsage",
    "kms:MacAlgorithm",
    "kms:MessageType",
    "kms:MultiRegion",
    "kms:MultiRegionKeyType",
    "kms:PrimaryRegion",
    "kms:ReEncryptOnSameKey",
    "kms:ReplicaRegion",
    "kms:RequestAlias",
    "kms:ResourceAliases",
    "kms:RetiringPrincipal",
    "kms:RotationPeriodInDays",
    "kms:ScheduleKeyDeletionPendingWindowInDays",
    "kms:SigningAlgorithm",
    // Never present, faithfully: no AWS service calls this one on a
    // principal's behalf.
    "kms:ViaService",
];

/// Key families whose last part is chosen by the policy author.
const PREFIXES: &[&str] = &[
    "kms:EncryptionContext:",
    "aws:RequestTag/",
    "aws:ResourceTag/",
];

/// Checks that the service supplies condition key `key`.
pub(super) fn check(key: &str) -> Result<(), String> {
    let known = KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
        || PREFIXES.iter().any(|p| {
            key.len() > p.len()
                && key
                    .get(..p.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(p))
        });
    if known {
        Ok(())
    } else {
        Err(format!(
            "condition key {key} is not supported by this service, which cannot evaluate it \
             faithfully"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn known_keys_and_families_pass_whatever_their_case() {
        for key in [
            "kms:GrantOperations",
            "kms:KeyAgreementAlgorithm",
            "KMS:grantoperations",
            "kms:EncryptionContext:tenant",
            "aws:ResourceTag/team",
            "aws:SourceIp",
        ] {
            assert!(check(key).is_ok(), "{key}");
        }
    }

    #[test]
    fn unknown_keys_and_empty_family_members_are_refused() {
        for key in [
            "kms:Frobnicate",
            "aws:PrincipalOrgID",
            "kms:EncryptionContext:",
            "aws:ResourceTag/",
            "kms:ExpirationModel",
        ] {
            let error = check(key).unwrap_err();
            assert!(error.contains(key), "{error}");
        }
    }
}
