//! The operation table of the AWS dialect: each operation's name, whether it
//! is cryptographic, and the handler that decodes its request, calls `kms`
//! and encodes its response. The handlers live by family in `ops/`, next to
//! their request and response shapes.

mod aliases;
mod asymmetric;
mod crypto;
mod grants;
mod key_import;
mod keys;
mod mac;
mod multi_region;
mod policy;
mod random;
mod rotation;
mod tags;

use super::error::AwsError;
use super::shapes::Blob;
use crate::kms::{self, Caller, Kms, KmsError};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// What an operation's handler returns: its response, encoded as JSON.
type OpResult = Result<Vec<u8>, AwsError>;

/// An operation's handler: decodes the request body, runs the operation for
/// the caller and encodes the response.
type Handler = fn(&Kms, &Caller, &[u8]) -> OpResult;

/// One row of the operation table.
struct Operation {
    /// Name as in `X-Amz-Target`.
    name: &'static str,
    /// Whether its work is cryptography on cached keys, with no database
    /// write: such operations may run on the async workers when
    /// `inline_crypto` is set.
    crypto: bool,
    /// Its handler.
    run: Handler,
}

/// A row for an operation that manages keys or their metadata.
const fn admin(name: &'static str, run: Handler) -> Operation {
    Operation {
        name,
        crypto: false,
        run,
    }
}

/// A row for a cryptographic operation.
const fn cryptographic(name: &'static str, run: Handler) -> Operation {
    Operation {
        name,
        crypto: true,
        run,
    }
}

/// Every operation this dialect serves, in name order.
const TABLE: &[Operation] = &[
    admin("CancelKeyDeletion", keys::cancel_key_deletion),
    admin("CreateAlias", aliases::create_alias),
    admin("CreateGrant", grants::create_grant),
    admin("CreateKey", keys::create_key),
    cryptographic("Decrypt", crypto::decrypt),
    admin("DeleteAlias", aliases::delete_alias),
    admin(
        "DeleteImportedKeyMaterial",
        key_import::delete_imported_key_material,
    ),
    cryptographic("DeriveSharedSecret", asymmetric::derive_shared_secret),
    admin("DescribeKey", keys::describe_key),
    admin("DisableKey", keys::disable_key),
    admin("DisableKeyRotation", rotation::disable_key_rotation),
    admin("EnableKey", keys::enable_key),
    admin("EnableKeyRotation", rotation::enable_key_rotation),
    cryptographic("Encrypt", crypto::encrypt),
    cryptographic("GenerateDataKey", crypto::generate_data_key),
    admin("GenerateDataKeyPair", asymmetric::generate_data_key_pair),
    admin(
        "GenerateDataKeyPairWithoutPlaintext",
        asymmetric::generate_data_key_pair_without_plaintext,
    ),
    cryptographic(
        "GenerateDataKeyWithoutPlaintext",
        crypto::generate_data_key_without_plaintext,
    ),
    cryptographic("GenerateMac", mac::generate_mac),
    cryptographic("GenerateRandom", random::generate_random),
    admin("GetKeyPolicy", policy::get_key_policy),
    admin("GetKeyRotationStatus", rotation::get_key_rotation_status),
    admin(
        "GetParametersForImport",
        key_import::get_parameters_for_import,
    ),
    admin("GetPublicKey", asymmetric::get_public_key),
    admin("ImportKeyMaterial", key_import::import_key_material),
    admin("ListAliases", aliases::list_aliases),
    admin("ListGrants", grants::list_grants),
    admin("ListKeyPolicies", policy::list_key_policies),
    admin("ListKeyRotations", rotation::list_key_rotations),
    admin("ListKeys", keys::list_keys),
    admin("ListResourceTags", tags::list_resource_tags),
    admin("ListRetirableGrants", grants::list_retirable_grants),
    admin("PutKeyPolicy", policy::put_key_policy),
    cryptographic("ReEncrypt", crypto::re_encrypt),
    admin("ReplicateKey", multi_region::replicate_key),
    admin("RetireGrant", grants::retire_grant),
    admin("RevokeGrant", grants::revoke_grant),
    admin("RotateKeyOnDemand", rotation::rotate_key_on_demand),
    admin("ScheduleKeyDeletion", keys::schedule_key_deletion),
    cryptographic("Sign", asymmetric::sign),
    admin("TagResource", tags::tag_resource),
    admin("UntagResource", tags::untag_resource),
    admin("UpdateAlias", aliases::update_alias),
    admin("UpdateKeyDescription", keys::update_key_description),
    admin("UpdatePrimaryRegion", multi_region::update_primary_region),
    cryptographic("Verify", asymmetric::verify),
    cryptographic("VerifyMac", mac::verify_mac),
];

/// AWS KMS operations this dialect does not serve, and why: each is
/// answered with `UnsupportedOperationException` once the request is
/// authenticated, where a name AWS lacks is `UnknownOperationException`.
const UNSERVED: &[(&str, &str)] = &[
    ("ConnectCustomKeyStore", CUSTOM_KEY_STORES),
    ("CreateCustomKeyStore", CUSTOM_KEY_STORES),
    ("DeleteCustomKeyStore", CUSTOM_KEY_STORES),
    ("DescribeCustomKeyStores", CUSTOM_KEY_STORES),
    ("DisconnectCustomKeyStore", CUSTOM_KEY_STORES),
    (
        "GetKeyLastUsage",
        "Trent does not record when each key was last used; its audit trail has every use",
    ),
    ("UpdateCustomKeyStore", CUSTOM_KEY_STORES),
];

/// Why the custom key store operations are not served.
const CUSTOM_KEY_STORES: &str =
    "Trent has no custom key stores: every key lives in the PKCS#11 token of its region";

/// Why Trent does not serve `op`, when it is an AWS KMS operation that
/// Trent lacks.
pub fn unserved(op: &str) -> Option<&'static str> {
    UNSERVED
        .iter()
        .find(|(name, _)| *name == op)
        .map(|(_, why)| *why)
}

/// The names of the table's operations, in its order.
const fn names<const N: usize>(table: &[Operation]) -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < N {
        out[i] = table[i].name;
        i += 1;
    }
    out
}

/// Every operation this dialect serves, as named in `X-Amz-Target`.
pub const OPERATIONS: &[&str] = &names::<{ TABLE.len() }>(TABLE);

/// The table's row for `op`.
fn find(op: &str) -> Option<&'static Operation> {
    TABLE.iter().find(|o| o.name == op)
}

/// Whether `op` is one of the cryptographic operations.
pub fn is_crypto(op: &str) -> bool {
    find(op).is_some_and(|o| o.crypto)
}

/// Runs one operation. `op` must be one of [`OPERATIONS`].
pub fn dispatch(kms: &Kms, caller: &Caller, op: &str, body: &[u8]) -> OpResult {
    match find(op) {
        Some(operation) => (operation.run)(kms, caller, body),
        None => Err(AwsError::UnknownOperation(format!(
            "Operation {op} is not supported."
        ))),
    }
}

/// AWS's `Recipient`: a Nitro Enclaves attestation document, to whose key
/// the answer's secret would be encrypted.
type Recipient = Option<RecipientInfo>;

/// The members of a `Recipient`, as far as the model constrains them.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RecipientInfo {
    key_encryption_algorithm: Option<String>,
    attestation_document: Option<Blob>,
}

/// Refuses a request with a `Recipient` (once its members pass the model's
/// checks): Trent cannot check an attestation, and answering in the clear
/// would hand the caller what the request meant for the enclave alone.
fn refuse_recipient(recipient: &Recipient) -> Result<(), AwsError> {
    match recipient {
        None => Ok(()),
        Some(info) => {
            kms::recipient(
                info.key_encryption_algorithm.as_deref(),
                info.attestation_document.as_ref().map(|d| d.0.len()),
            )?;
            Err(KmsError::UnsupportedOperation(
                "The Recipient parameter (an AWS Nitro Enclaves attestation document) is not \
             supported: the answer would be returned in the clear."
                    .into(),
            )
            .into())
        }
    }
}

/// AWS's `GrantTokens`: Trent's grants take effect at once, so the tokens
/// are only checked against the model.
type GrantTokens = Option<Vec<String>>;

/// Checks grant tokens against the model: at most 10, each 1–8192
/// characters.
fn check_grant_tokens(tokens: &GrantTokens) -> Result<(), AwsError> {
    Ok(kms::grant_tokens(tokens.as_deref().unwrap_or_default())?)
}

/// Decodes the body (empty means `{}`) into an operation's request shape.
/// The body must be a JSON object, as AWS JSON 1.1 requires.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, AwsError> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    let body = match start.map(|i| body[i]) {
        None => &b"{}"[..],
        Some(b'{') => body,
        Some(_) => {
            return Err(AwsError::Serialization(
                "The request body must be a JSON object.".into(),
            ));
        }
    };
    serde_json::from_slice(body).map_err(|e| {
        let detail = e.to_string();
        // Keep serde's description of the problem, not our type names.
        let detail = match detail.find(", expected struct") {
            Some(i) => format!(
                "{}{}",
                &detail[..i],
                &detail[detail.rfind(" at line").unwrap_or(detail.len())..]
            ),
            None => detail,
        };
        AwsError::Serialization(format!("Could not parse request body: {detail}"))
    })
}

/// Encodes a response shape.
fn reply<T: Serialize>(response: T) -> OpResult {
    // Room for a cryptographic operation's answer at once (`to_vec` starts
    // at 128 bytes and grows twice for an Encrypt's).
    let mut json = Vec::with_capacity(REPLY_CAPACITY);
    serde_json::to_writer(&mut json, &response)
        .map_err(|e| AwsError::Kms(KmsError::Internal(format!("encoding the response: {e}"))))?;
    Ok(json)
}

/// Bytes reserved for a response body: an Encrypt of 32 bytes answers about 330.
const REPLY_CAPACITY: usize = 512;

/// The empty response, `{}`, of operations that return nothing.
fn done() -> OpResult {
    Ok(b"{}".to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(OPERATIONS.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(OPERATIONS.len(), TABLE.len());
    }

    #[test]
    fn cryptographic_operations() {
        let crypto: Vec<&str> = OPERATIONS
            .iter()
            .copied()
            .filter(|op| is_crypto(op))
            .collect();
        assert_eq!(
            crypto,
            [
                "Decrypt",
                "DeriveSharedSecret",
                "Encrypt",
                "GenerateDataKey",
                "GenerateDataKeyWithoutPlaintext",
                "GenerateMac",
                "GenerateRandom",
                "ReEncrypt",
                "Sign",
                "Verify",
                "VerifyMac",
            ]
        );
        assert!(!is_crypto("CreateKey"));
        assert!(!is_crypto("NoSuchOperation"));
    }
}
