//! AWS's key-state table ("Key states of AWS KMS keys", AWS KMS developer
//! guide, with its table details) applied to every operation Trent serves
//! that uses an existing key (symmetric, and ECC for the asymmetric
//! operations), through `aws-sdk-kms`: one row per operation,
//! one expected answer per key state.
//!
//! The table read is the guide's page as its public source
//! (awsdocs/aws-kms-developer-guide, doc_source/key-state.md, last stored
//! version, commit 38281913): columns Enabled, Disabled, "Pending deletion /
//! Pending replica deletion" (one column, split here in two), Pending
//! import, Unavailable, Creating and Updating.
//!
//! Footnotes cited: [1] `DisabledException: <key ARN> is disabled.`;
//! [3] `KMSInvalidStateException: <key ARN> is pending deletion.`;
//! [4] `KMSInvalidStateException: <key ARN> is not pending deletion.`;
//! [5] `KMSInvalidStateException: <key ARN> is pending import.`;
//! [6] `UnsupportedOperationException: <key ARN> origin is EXTERNAL which is
//! not valid for this operation.`; [7] rotation operations succeed on
//! symmetric keys with AWS_KMS material; [8] GetParametersForImport and
//! ImportKeyMaterial of a key with imported material pending deletion:
//! `KMSInvalidStateException` (no message); [9] the import operations
//! succeed on keys that take imported material (every subject of their rows
//! is EXTERNAL); [10] UpdateAlias succeeds from a key pending deletion, not
//! to one; [15] `KMSInvalidStateException: <key ARN> is updating.`
//!
//! The PendingImport column: the key of a row is then an EXTERNAL
//! multi-Region primary (its replica, where the row has one, created in
//! PendingImport and left so). Where the row needs a ciphertext, grants or a
//! replica made while the key was enabled (the shared key, UpdatePrimaryRegion),
//! material was imported, used and deleted (DeleteImportedKeyMaterial); the
//! UpdatePrimaryRegionTo row's key in the state is such a replica, and the
//! other rows' keys were created and never given material. Asymmetric keys
//! cannot be in PendingImport here (Trent imports symmetric and HMAC
//! material only; the table gives N/A for Sign, Verify and GetPublicKey).
//! The table has no row for RotateKeyOnDemand, ListKeyRotations and
//! DeriveSharedSecret (added to AWS KMS later): the first two's PendingImport
//! cells follow the API reference as aws-sdk-kms 1.77 carries it (on-demand
//! rotation of multi-Region keys with imported material is refused,
//! UnsupportedOperationException; ListKeyRotations lists the materials of
//! EXTERNAL keys, ImportState PENDING_IMPORT included).
//!
//! The rows of GetParametersForImport, ImportKeyMaterial and
//! DeleteImportedKeyMaterial take EXTERNAL multi-Region primaries with
//! material imported before they are put in the state (for Updating their
//! replica has the same material, as UpdatePrimaryRegion needs both
//! enabled), created in PendingImport for that column. The first two rows
//! share a key per state, whose import parameters were fetched before the
//! state change: ImportKeyMaterial imports the same material again with them
//! (the first material, in PendingImport). Every cell on a shared key first
//! checks that the key is still in its state.
//!
//! The Updating column of the rows before the import rows follows "Change
//! the primary key in a set of multi-Region keys": cryptography goes on,
//! enabling, disabling, replicating and other management changes wait; those
//! rows check the code only. No footnote gives a message for
//! PendingReplicaDeletion, so that column checks the code only.

mod common;

use aws_sdk_kms::Client;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    AlgorithmSpec, DataKeyPairSpec, DataKeySpec, ExpirationModelType, GrantOperation,
    KeyAgreementAlgorithmSpec, KeySpec, KeyState, KeyUsageType, SigningAlgorithmSpec, Tag,
    WrappingKeySpec,
};
use common::import::{
    Parameters, create_external_metadata, describe, import_material, parameters, random_bytes,
    wrap_for,
};
use common::{Server, new_key};

const EAST: &str = "us-east-1";
const WEST: &str = "us-west-2";
const ACCOUNT: &str = "111122223333";
const GRANTEE: &str = "arn:aws:iam::111122223333:user/alice";

/// The key states Trent's keys can be in, in the table's column order.
#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
    Enabled,
    Disabled,
    PendingDeletion,
    PendingReplicaDeletion,
    PendingImport,
    Updating,
}

const STATES: [State; 6] = [
    State::Enabled,
    State::Disabled,
    State::PendingDeletion,
    State::PendingReplicaDeletion,
    State::PendingImport,
    State::Updating,
];

impl State {
    /// DescribeKey's KeyState for this state.
    fn shown(self) -> KeyState {
        match self {
            State::Enabled => KeyState::Enabled,
            State::Disabled => KeyState::Disabled,
            State::PendingDeletion => KeyState::PendingDeletion,
            State::PendingReplicaDeletion => KeyState::PendingReplicaDeletion,
            State::PendingImport => KeyState::PendingImport,
            State::Updating => KeyState::Updating,
        }
    }
}

/// What an operation answers for a key in one state.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// It succeeds.
    Pass,
    /// It fails with this code and the message `<key ARN>` + this suffix.
    Fails(&'static str, &'static str),
    /// It fails with this code (no footnote gives the message).
    FailsCode(&'static str),
    /// The key this operation names cannot be in this state.
    NotApplicable,
}

use Expect::{NotApplicable as NA, Pass as OK};

/// Footnote [1].
const DISABLED: Expect = Expect::Fails("DisabledException", " is disabled.");
/// Footnote [3].
const PENDING: Expect = Expect::Fails("KMSInvalidStateException", " is pending deletion.");
/// Footnote [4].
const NOT_PENDING: Expect = Expect::Fails("KMSInvalidStateException", " is not pending deletion.");
/// Footnote [5].
const PENDING_IMPORT: Expect = Expect::Fails("KMSInvalidStateException", " is pending import.");
/// Footnote [6].
const EXTERNAL: Expect = Expect::Fails(
    "UnsupportedOperationException",
    " origin is EXTERNAL which is not valid for this operation.",
);
/// Footnote [15].
const UPDATING: Expect = Expect::Fails("KMSInvalidStateException", " is updating.");
/// KMSInvalidStateException, message unspecified (footnote [8], or a cell
/// without a footnote message).
const INVALID: Expect = Expect::FailsCode("KMSInvalidStateException");
/// UnsupportedOperationException, message unspecified.
const UNSUPPORTED: Expect = Expect::FailsCode("UnsupportedOperationException");

/// The operations that take a key (Trent's README operations table).
/// `...From` / `...To` name the key in the state as source / destination.
#[derive(Clone, Copy, Debug)]
enum Op {
    Encrypt,
    Decrypt,
    ReEncryptFrom,
    ReEncryptTo,
    GenerateDataKey,
    GenerateDataKeyWithoutPlaintext,
    DescribeKey,
    EnableKey,
    DisableKey,
    ScheduleKeyDeletion,
    CancelKeyDeletion,
    EnableKeyRotation,
    DisableKeyRotation,
    GetKeyRotationStatus,
    RotateKeyOnDemand,
    ListKeyRotations,
    GetKeyPolicy,
    PutKeyPolicy,
    ListKeyPolicies,
    UpdateKeyDescription,
    TagResource,
    UntagResource,
    ListResourceTags,
    CreateAlias,
    UpdateAliasFrom,
    UpdateAliasTo,
    DeleteAlias,
    CreateGrant,
    ListGrants,
    RetireGrant,
    RevokeGrant,
    ReplicateKey,
    UpdatePrimaryRegion,
    UpdatePrimaryRegionTo,
    GenerateDataKeyPair,
    GenerateDataKeyPairWithoutPlaintext,
    Sign,
    Verify,
    GetPublicKey,
    DeriveSharedSecret,
    GetParametersForImport,
    ImportKeyMaterial,
    DeleteImportedKeyMaterial,
}

/// Which key a row's calls use.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Setup {
    /// The state's shared key (the row does not change key state).
    Shared,
    /// A new multi-Region primary per state, without a replica unless the
    /// state needs one.
    Fresh,
    /// A new multi-Region primary per state with a replica in us-west-2
    /// (except when pending deletion, which a primary with replicas is not).
    FreshReplicated,
    /// A new multi-Region primary, enabled, whose us-west-2 replica is put
    /// in the state.
    ReplicaInState,
    /// The state's shared ECC_NIST_P256 signing key, with a signature it
    /// made while enabled.
    Signing,
    /// The state's shared ECC_NIST_P256 key agreement key, with its public
    /// key (the peer key of the row's call).
    Agreement,
    /// The state's shared EXTERNAL multi-Region primary (with a replica as
    /// [`Setup::Fresh`]), its material imported (for Updating into the
    /// replica too) and import parameters fetched before it was put in the
    /// state; for PendingImport, created so. GetParametersForImport leaves
    /// the state as it is; ImportKeyMaterial, the last row to use it, takes
    /// it out of PendingImport.
    Imported,
    /// As [`Setup::Imported`], new per state and without import parameters.
    ImportedFresh,
}

use Setup::{
    Agreement, Fresh, FreshReplicated, Imported, ImportedFresh, ReplicaInState, Shared, Signing,
};

/// The table: operation, key, and the answer for Enabled, Disabled,
/// PendingDeletion, PendingReplicaDeletion, PendingImport and Updating.
#[rustfmt::skip]
const TABLE: &[(Op, Setup, [Expect; 6])] = &[
    //                                               Enabled  Disabled  PendingDel. PendingReplicaDel. PendingImport Updating
    (Op::Encrypt,                         Shared,          [OK,          DISABLED,    PENDING,     INVALID, PENDING_IMPORT, OK]),
    (Op::Decrypt,                         Shared,          [OK,          DISABLED,    PENDING,     INVALID, PENDING_IMPORT, OK]),
    (Op::ReEncryptFrom,                   Shared,          [OK,          DISABLED,    PENDING,     INVALID, PENDING_IMPORT, OK]),
    (Op::ReEncryptTo,                     Shared,          [OK,          DISABLED,    PENDING,     INVALID, PENDING_IMPORT, OK]),
    (Op::GenerateDataKey,                 Shared,          [OK,          DISABLED,    PENDING,     INVALID, PENDING_IMPORT, OK]),
    (Op::GenerateDataKeyWithoutPlaintext, Shared,          [OK,          DISABLED,    PENDING,     INVALID, PENDING_IMPORT, OK]),
    (Op::DescribeKey,                     Shared,          [OK,          OK,          OK,          OK,      OK,             OK]),
    (Op::EnableKey,                       Fresh,           [OK,          OK,          PENDING,     INVALID, PENDING_IMPORT, INVALID]),
    (Op::DisableKey,                      Fresh,           [OK,          OK,          PENDING,     INVALID, PENDING_IMPORT, INVALID]),
    (Op::ScheduleKeyDeletion,             Fresh,           [OK,          OK,          PENDING,     INVALID, OK,             INVALID]),
    (Op::CancelKeyDeletion,               Fresh,           [NOT_PENDING, NOT_PENDING, OK,          OK,      NOT_PENDING,    NOT_PENDING]),
    (Op::EnableKeyRotation,               Shared,          [OK,          DISABLED,    PENDING,     INVALID, EXTERNAL,       INVALID]),
    (Op::DisableKeyRotation,              Shared,          [OK,          DISABLED,    PENDING,     INVALID, EXTERNAL,       INVALID]),
    (Op::GetKeyRotationStatus,            Shared,          [OK,          OK,          OK,          OK,      EXTERNAL,       OK]),
    (Op::RotateKeyOnDemand,               Shared,          [OK,          DISABLED,    PENDING,     INVALID, UNSUPPORTED,    INVALID]),
    (Op::ListKeyRotations,                Shared,          [OK,          OK,          OK,          OK,      OK,             OK]),
    (Op::GetKeyPolicy,                    Shared,          [OK,          OK,          OK,          OK,      OK,             OK]),
    (Op::PutKeyPolicy,                    Shared,          [OK,          OK,          OK,          OK,      OK,             OK]),
    (Op::ListKeyPolicies,                 Shared,          [OK,          OK,          OK,          OK,      OK,             OK]),
    (Op::UpdateKeyDescription,            Shared,          [OK,          OK,          PENDING,     INVALID, OK,             OK]),
    (Op::TagResource,                     Shared,          [OK,          OK,          PENDING,     INVALID, OK,             OK]),
    (Op::UntagResource,                   Shared,          [OK,          OK,          PENDING,     INVALID, OK,             OK]),
    (Op::ListResourceTags,                Shared,          [OK,          OK,          OK,          OK,      OK,             OK]),
    (Op::CreateAlias,                     Shared,          [OK,          OK,          PENDING,     INVALID, OK,             OK]),
    (Op::UpdateAliasFrom,                 Shared,          [OK,          OK,          OK,          OK,      OK,             OK]),
    (Op::UpdateAliasTo,                   Shared,          [OK,          OK,          PENDING,     INVALID, OK,             OK]),
    (Op::DeleteAlias,                     Shared,          [OK,          OK,          OK,          OK,      OK,             OK]),
    (Op::CreateGrant,                     Shared,          [OK,          DISABLED,    PENDING,     INVALID, PENDING_IMPORT, OK]),
    (Op::ListGrants,                      Shared,          [OK,          OK,          OK,          OK,      OK,             OK]),
    (Op::RetireGrant,                     Shared,          [OK,          OK,          OK,          OK,      OK,             OK]),
    (Op::RevokeGrant,                     Shared,          [OK,          OK,          OK,          OK,      OK,             OK]),
    (Op::ReplicateKey,                    Fresh,           [OK,          DISABLED,    PENDING,     INVALID, PENDING_IMPORT, INVALID]),
    (Op::UpdatePrimaryRegion,             FreshReplicated, [OK,          DISABLED,    PENDING,     INVALID, PENDING_IMPORT, INVALID]),
    (Op::UpdatePrimaryRegionTo,           ReplicaInState,  [OK,          DISABLED,    PENDING,     NA,      PENDING_IMPORT, INVALID]),
    (Op::GenerateDataKeyPair,             Shared,          [OK,          DISABLED,    PENDING,     INVALID, PENDING_IMPORT, OK]),
    (Op::GenerateDataKeyPairWithoutPlaintext, Shared,      [OK,          DISABLED,    PENDING,     INVALID, PENDING_IMPORT, OK]),
    (Op::Sign,                            Signing,         [OK,          DISABLED,    PENDING,     INVALID, NA,             OK]),
    (Op::Verify,                          Signing,         [OK,          DISABLED,    PENDING,     INVALID, NA,             OK]),
    (Op::GetPublicKey,                    Signing,         [OK,          DISABLED,    PENDING,     INVALID, NA,             OK]),
    (Op::DeriveSharedSecret,              Agreement,       [OK,          DISABLED,    PENDING,     INVALID, NA,             OK]),
    (Op::GetParametersForImport,          Imported,        [OK,          OK,          INVALID,     INVALID, OK,             UPDATING]),
    (Op::ImportKeyMaterial,               Imported,        [OK,          OK,          INVALID,     INVALID, OK,             OK]),
    (Op::DeleteImportedKeyMaterial,       ImportedFresh,   [OK,          OK,          OK,          OK,      OK,             UPDATING]),
];

/// A key put in one state, with what the rows need of it: a ciphertext made
/// while it was enabled (for a signing key its signature, for a key
/// agreement key its public key), two aliases and two grants.
struct Subject {
    id: String,
    /// ARN of the copy in the state (the one the footnotes' messages name).
    arn: String,
    blob: Vec<u8>,
    alias_from: String,
    alias_to_delete: String,
    grants: [String; 2],
    /// The imported material (empty for an AWS_KMS key).
    material: Vec<u8>,
    /// Import parameters fetched before the key was put in its state.
    parameters: Option<Parameters>,
}

/// The server's clients and an enabled single-Region helper key.
struct Env {
    east: Client,
    west: Client,
    helper: String,
    helper_blob: Vec<u8>,
    policy: String,
}

/// A failed call's code and message.
type Refusal = (String, Option<String>);

fn arn(region: &str, key_id: &str) -> String {
    format!("arn:aws:kms:{region}:{ACCOUNT}:key/{key_id}")
}

/// Success, or the code and message of the refusal.
fn outcome<E, R>(result: Result<R, SdkError<E>>) -> Result<(), Refusal>
where
    E: ProvideErrorMetadata + std::fmt::Debug,
{
    result.map(drop).map_err(|e| {
        let service = e
            .as_service_error()
            .unwrap_or_else(|| panic!("not a service error: {e:?}"));
        (
            service.code().expect("an error code").to_string(),
            service.message().map(str::to_string),
        )
    })
}

async fn encrypt(kms: &Client, key: &str) -> Vec<u8> {
    kms.encrypt()
        .key_id(key)
        .plaintext(Blob::new("state table"))
        .send()
        .await
        .expect("Encrypt")
        .ciphertext_blob
        .expect("ciphertext")
        .into_inner()
}

async fn grant(kms: &Client, key: &str) -> String {
    kms.create_grant()
        .key_id(key)
        .grantee_principal(GRANTEE)
        .operations(GrantOperation::Decrypt)
        .send()
        .await
        .expect("CreateGrant")
        .grant_id
        .expect("grant id")
}

async fn alias(kms: &Client, name: &str, key: &str) {
    kms.create_alias()
        .alias_name(name)
        .target_key_id(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateAlias {name}: {e:?}"));
}

/// The key material of a new primary.
#[derive(Clone, Copy, PartialEq)]
enum Material {
    /// Origin AWS_KMS.
    AwsKms,
    /// Origin EXTERNAL, 32 random bytes imported.
    Imported,
    /// Origin EXTERNAL, nothing imported yet (PendingImport from creation):
    /// no ciphertext and no grants are made (CreateGrant would be refused).
    NotImported,
}

/// A new multi-Region primary in us-east-1 with its aliases and, when it
/// has material, its ciphertext and grants, replicated to us-west-2 when
/// `replicated` (the replica of an EXTERNAL primary is created in
/// PendingImport).
async fn primary(env: &Env, material: Material, replicated: bool) -> Subject {
    let id = match material {
        Material::AwsKms => {
            env.east
                .create_key()
                .multi_region(true)
                .send()
                .await
                .expect("CreateKey")
                .key_metadata
                .expect("metadata")
                .key_id
        }
        _ => {
            create_external_metadata(&env.east, KeySpec::SymmetricDefault, true)
                .await
                .key_id
        }
    };
    let bytes = match material {
        Material::AwsKms => Vec::new(),
        _ => random_bytes(32),
    };
    if material == Material::Imported {
        import_material(&env.east, &id, &bytes).await;
    }
    let alias_from = format!("alias/from-{id}");
    let alias_to_delete = format!("alias/delete-{id}");
    alias(&env.east, &alias_from, &id).await;
    alias(&env.east, &alias_to_delete, &id).await;
    if replicated {
        env.west_replica(&id).await;
    }
    let (blob, grants) = match material {
        Material::NotImported => (Vec::new(), [String::new(), String::new()]),
        _ => (
            encrypt(&env.east, &id).await,
            [grant(&env.east, &id).await, grant(&env.east, &id).await],
        ),
    };
    Subject {
        arn: arn(EAST, &id),
        blob,
        grants,
        alias_from,
        alias_to_delete,
        id,
        material: bytes,
        parameters: None,
    }
}

/// A new multi-Region ECC_NIST_P256 primary with `usage` in us-east-1 and
/// what its rows need, replicated to us-west-2 when `replicated`.
async fn asymmetric_primary(env: &Env, replicated: bool, usage: KeyUsageType) -> Subject {
    let id = env
        .east
        .create_key()
        .multi_region(true)
        .key_spec(KeySpec::EccNistP256)
        .key_usage(usage.clone())
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .expect("metadata")
        .key_id;
    if replicated {
        env.west_replica(&id).await;
    }
    let blob = match usage {
        KeyUsageType::SignVerify => env
            .east
            .sign()
            .key_id(&id)
            .message(Blob::new("state table"))
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .expect("Sign")
            .signature
            .expect("signature")
            .into_inner(),
        _ => env
            .east
            .get_public_key()
            .key_id(&id)
            .send()
            .await
            .expect("GetPublicKey")
            .public_key
            .expect("public key")
            .into_inner(),
    };
    Subject {
        arn: arn(EAST, &id),
        blob,
        grants: [String::new(), String::new()],
        alias_from: String::new(),
        alias_to_delete: String::new(),
        id,
        material: Vec::new(),
        parameters: None,
    }
}

impl Env {
    async fn west_replica(&self, id: &str) {
        self.east
            .replicate_key()
            .key_id(id)
            .replica_region(WEST)
            .send()
            .await
            .expect("ReplicateKey");
    }

    /// Puts the copy of `id` that `kms` serves in `state` (a multi-Region
    /// key with a replica for PendingReplicaDeletion and Updating, an
    /// EXTERNAL one for PendingImport), then checks DescribeKey reports it.
    async fn put_in(&self, kms: &Client, id: &str, state: State) {
        match state {
            State::Enabled => {}
            State::Disabled => drop(kms.disable_key().key_id(id).send().await.unwrap()),
            State::PendingDeletion | State::PendingReplicaDeletion => drop(
                kms.schedule_key_deletion()
                    .key_id(id)
                    .pending_window_in_days(7)
                    .send()
                    .await
                    .unwrap(),
            ),
            // An EXTERNAL key never given material (a replica of an
            // EXTERNAL primary too) is created so.
            State::PendingImport
                if describe(kms, id).await.key_state == Some(KeyState::PendingImport) => {}
            State::PendingImport => drop(
                kms.delete_imported_key_material()
                    .key_id(id)
                    .send()
                    .await
                    .unwrap(),
            ),
            State::Updating => drop(
                self.east
                    .update_primary_region()
                    .key_id(id)
                    .primary_region(WEST)
                    .send()
                    .await
                    .unwrap(),
            ),
        }
        let shown = describe(kms, id).await.key_state;
        assert_eq!(shown, Some(state.shown()), "setting up {id} as {state:?}");
    }

    /// A key in `state` for a row set up as `setup`; `None` when the row's
    /// key cannot be in that state. Keys for PendingImport and for the
    /// import rows are EXTERNAL: those of rows that need no ciphertext,
    /// grant or replica made while enabled are created in PendingImport,
    /// the others have their material deleted.
    async fn subject(&self, setup: Setup, state: State) -> Option<Subject> {
        let needs_replica = matches!(state, State::PendingReplicaDeletion | State::Updating);
        let pending_import = state == State::PendingImport;
        let imported = matches!(setup, Imported | ImportedFresh);
        let material = match setup {
            Fresh | Imported | ImportedFresh if pending_import => Material::NotImported,
            _ if pending_import || imported => Material::Imported,
            _ => Material::AwsKms,
        };
        match setup {
            Shared | Fresh | Imported | ImportedFresh => {
                let mut s = primary(self, material, needs_replica).await;
                if imported && state == State::Updating {
                    import_material(&self.west, &s.id, &s.material).await;
                }
                if setup == Imported {
                    s.parameters =
                        Some(parameters(&self.east, &s.id, AlgorithmSpec::RsaesOaepSha256).await);
                }
                self.put_in(&self.east, &s.id, state).await;
                Some(s)
            }
            FreshReplicated => {
                let s = primary(self, material, state != State::PendingDeletion).await;
                self.put_in(&self.east, &s.id, state).await;
                Some(s)
            }
            Signing | Agreement => {
                if pending_import {
                    return None;
                }
                let usage = match setup {
                    Signing => KeyUsageType::SignVerify,
                    _ => KeyUsageType::KeyAgreement,
                };
                let s = asymmetric_primary(self, needs_replica, usage).await;
                self.put_in(&self.east, &s.id, state).await;
                Some(s)
            }
            ReplicaInState => {
                if state == State::PendingReplicaDeletion {
                    return None;
                }
                let mut s = primary(self, material, true).await;
                self.put_in(&self.west, &s.id, state).await;
                s.arn = arn(WEST, &s.id);
                Some(s)
            }
        }
    }

    /// Calls `op` on the key of `s` (in us-east-1, where its primary is).
    async fn call(&self, op: Op, s: &Subject, state: State) -> Result<(), Refusal> {
        let (kms, id) = (&self.east, s.id.as_str());
        let new_alias = format!("alias/{op:?}-{state:?}");
        match op {
            Op::Encrypt => outcome(
                kms.encrypt()
                    .key_id(id)
                    .plaintext(Blob::new("x"))
                    .send()
                    .await,
            ),
            Op::Decrypt => outcome(
                kms.decrypt()
                    .key_id(id)
                    .ciphertext_blob(Blob::new(s.blob.clone()))
                    .send()
                    .await,
            ),
            Op::ReEncryptFrom => outcome(
                kms.re_encrypt()
                    .ciphertext_blob(Blob::new(s.blob.clone()))
                    .destination_key_id(&self.helper)
                    .send()
                    .await,
            ),
            Op::ReEncryptTo => outcome(
                kms.re_encrypt()
                    .ciphertext_blob(Blob::new(self.helper_blob.clone()))
                    .destination_key_id(id)
                    .send()
                    .await,
            ),
            Op::GenerateDataKey => outcome(
                kms.generate_data_key()
                    .key_id(id)
                    .key_spec(DataKeySpec::Aes256)
                    .send()
                    .await,
            ),
            Op::GenerateDataKeyWithoutPlaintext => outcome(
                kms.generate_data_key_without_plaintext()
                    .key_id(id)
                    .key_spec(DataKeySpec::Aes256)
                    .send()
                    .await,
            ),
            Op::DescribeKey => outcome(kms.describe_key().key_id(id).send().await),
            Op::EnableKey => outcome(kms.enable_key().key_id(id).send().await),
            Op::DisableKey => outcome(kms.disable_key().key_id(id).send().await),
            Op::ScheduleKeyDeletion => outcome(
                kms.schedule_key_deletion()
                    .key_id(id)
                    .pending_window_in_days(7)
                    .send()
                    .await,
            ),
            Op::CancelKeyDeletion => outcome(kms.cancel_key_deletion().key_id(id).send().await),
            Op::EnableKeyRotation => outcome(kms.enable_key_rotation().key_id(id).send().await),
            Op::DisableKeyRotation => outcome(kms.disable_key_rotation().key_id(id).send().await),
            Op::GetKeyRotationStatus => {
                outcome(kms.get_key_rotation_status().key_id(id).send().await)
            }
            Op::RotateKeyOnDemand => outcome(kms.rotate_key_on_demand().key_id(id).send().await),
            Op::ListKeyRotations => outcome(kms.list_key_rotations().key_id(id).send().await),
            Op::GetKeyPolicy => outcome(
                kms.get_key_policy()
                    .key_id(id)
                    .policy_name("default")
                    .send()
                    .await,
            ),
            Op::PutKeyPolicy => outcome(
                kms.put_key_policy()
                    .key_id(id)
                    .policy_name("default")
                    .policy(&self.policy)
                    .send()
                    .await,
            ),
            Op::ListKeyPolicies => outcome(kms.list_key_policies().key_id(id).send().await),
            Op::UpdateKeyDescription => outcome(
                kms.update_key_description()
                    .key_id(id)
                    .description("described")
                    .send()
                    .await,
            ),
            Op::TagResource => outcome(
                kms.tag_resource()
                    .key_id(id)
                    .tags(Tag::builder().tag_key("k").tag_value("v").build().unwrap())
                    .send()
                    .await,
            ),
            Op::UntagResource => {
                outcome(kms.untag_resource().key_id(id).tag_keys("k").send().await)
            }
            Op::ListResourceTags => outcome(kms.list_resource_tags().key_id(id).send().await),
            Op::CreateAlias => outcome(
                kms.create_alias()
                    .alias_name(&new_alias)
                    .target_key_id(id)
                    .send()
                    .await,
            ),
            Op::UpdateAliasFrom => outcome(
                kms.update_alias()
                    .alias_name(&s.alias_from)
                    .target_key_id(&self.helper)
                    .send()
                    .await,
            ),
            Op::UpdateAliasTo => {
                alias(kms, &new_alias, &self.helper).await;
                outcome(
                    kms.update_alias()
                        .alias_name(&new_alias)
                        .target_key_id(id)
                        .send()
                        .await,
                )
            }
            Op::DeleteAlias => outcome(
                kms.delete_alias()
                    .alias_name(&s.alias_to_delete)
                    .send()
                    .await,
            ),
            Op::CreateGrant => outcome(
                kms.create_grant()
                    .key_id(id)
                    .grantee_principal(GRANTEE)
                    .operations(GrantOperation::Decrypt)
                    .send()
                    .await,
            ),
            Op::ListGrants => outcome(kms.list_grants().key_id(id).send().await),
            Op::RetireGrant => outcome(
                kms.retire_grant()
                    .key_id(id)
                    .grant_id(&s.grants[0])
                    .send()
                    .await,
            ),
            Op::RevokeGrant => outcome(
                kms.revoke_grant()
                    .key_id(id)
                    .grant_id(&s.grants[1])
                    .send()
                    .await,
            ),
            Op::ReplicateKey => outcome(
                kms.replicate_key()
                    .key_id(id)
                    .replica_region(WEST)
                    .send()
                    .await,
            ),
            Op::GenerateDataKeyPair => outcome(
                kms.generate_data_key_pair()
                    .key_id(id)
                    .key_pair_spec(DataKeyPairSpec::EccNistP256)
                    .send()
                    .await,
            ),
            Op::GenerateDataKeyPairWithoutPlaintext => outcome(
                kms.generate_data_key_pair_without_plaintext()
                    .key_id(id)
                    .key_pair_spec(DataKeyPairSpec::EccNistP256)
                    .send()
                    .await,
            ),
            Op::Sign => outcome(
                kms.sign()
                    .key_id(id)
                    .message(Blob::new("x"))
                    .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
                    .send()
                    .await,
            ),
            Op::Verify => outcome(
                kms.verify()
                    .key_id(id)
                    .message(Blob::new("state table"))
                    .signature(Blob::new(s.blob.clone()))
                    .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
                    .send()
                    .await,
            ),
            Op::GetPublicKey => outcome(kms.get_public_key().key_id(id).send().await),
            Op::DeriveSharedSecret => outcome(
                kms.derive_shared_secret()
                    .key_id(id)
                    .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
                    .public_key(Blob::new(s.blob.clone()))
                    .send()
                    .await,
            ),
            Op::GetParametersForImport => outcome(
                kms.get_parameters_for_import()
                    .key_id(id)
                    .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256)
                    .wrapping_key_spec(WrappingKeySpec::Rsa2048)
                    .send()
                    .await,
            ),
            Op::ImportKeyMaterial => {
                let parameters = s.parameters.as_ref().expect("import parameters");
                outcome(
                    kms.import_key_material()
                        .key_id(id)
                        .import_token(Blob::new(parameters.token.clone()))
                        .encrypted_key_material(Blob::new(wrap_for(parameters, &s.material)))
                        .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
                        .send()
                        .await,
                )
            }
            Op::DeleteImportedKeyMaterial => {
                outcome(kms.delete_imported_key_material().key_id(id).send().await)
            }
            Op::UpdatePrimaryRegion | Op::UpdatePrimaryRegionTo => outcome(
                kms.update_primary_region()
                    .key_id(id)
                    .primary_region(WEST)
                    .send()
                    .await,
            ),
        }
    }
}

/// Whether a row makes key pairs (which tokens without RFC 5649 refuse).
fn needs_key_pairs(op: Op, setup: Setup) -> bool {
    matches!(setup, Signing | Agreement)
        || matches!(
            op,
            Op::GenerateDataKeyPair | Op::GenerateDataKeyPairWithoutPlaintext
        )
}

/// Whether `got` is what `expect` says for a key whose ARN is `arn`.
fn meets(expect: Expect, got: &Result<(), Refusal>, arn: &str) -> bool {
    match (expect, got) {
        (Expect::Pass, Ok(())) => true,
        (Expect::Fails(code, suffix), Err((c, m))) => {
            c == code && m.as_deref() == Some(format!("{arn}{suffix}").as_str())
        }
        (Expect::FailsCode(code), Err((c, _))) => c == code,
        _ => false,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_operation_answers_as_the_aws_key_state_table_says() {
    // Hold every UpdatePrimaryRegion in Updating: no job runs after the
    // start-up one.
    let server = Server::start_with_env(&[
        ("TRENT_JOB_INTERVAL_SECS", "3600"),
        ("TRENT_TEST_NO_JOB_WAKE", "1"),
    ]);
    let east = server.client(EAST);
    let helper = new_key(&east).await;
    let policy = east
        .get_key_policy()
        .key_id(&helper)
        .policy_name("default")
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    let env = Env {
        helper_blob: encrypt(&east, &helper).await,
        west: server.client(WEST),
        east,
        helper,
        policy,
    };
    server.wait_for_job_ticks(1);

    let pairs = common::key_pairs_served();
    if !pairs {
        let refused = env
            .east
            .create_key()
            .key_spec(KeySpec::EccNistP256)
            .key_usage(KeyUsageType::SignVerify)
            .send()
            .await
            .map_err(|e| e.into_service_error());
        assert!(
            refused.is_err_and(|e| e.is_unsupported_operation_exception()),
            "a token without RFC 5649 refuses key pairs as unsupported"
        );
    }
    let (mut shared, mut signing, mut agreement) = (Vec::new(), Vec::new(), Vec::new());
    let mut imported = Vec::new();
    for state in STATES {
        shared.push(env.subject(Shared, state).await);
        imported.push(env.subject(Imported, state).await);
        if pairs {
            signing.push(env.subject(Signing, state).await);
            agreement.push(env.subject(Agreement, state).await);
        }
    }
    let mut wrong = Vec::new();
    for (op, setup, expected) in TABLE {
        if !pairs && needs_key_pairs(*op, *setup) {
            continue;
        }
        for (i, (state, expect)) in STATES.iter().zip(expected).enumerate() {
            let fresh;
            let (subject, shared_key) = match setup {
                Shared => (shared[i].as_ref(), true),
                Signing => (signing[i].as_ref(), true),
                Agreement => (agreement[i].as_ref(), true),
                Imported => (imported[i].as_ref(), true),
                _ => {
                    fresh = env.subject(*setup, *state).await;
                    (fresh.as_ref(), false)
                }
            };
            let Some(subject) = subject else {
                assert!(matches!(expect, Expect::NotApplicable), "{op:?} {state:?}");
                continue;
            };
            // A shared key that an earlier row took out of its state would
            // make this cell answer for another state.
            if shared_key {
                let now = describe(&env.east, &subject.id).await.key_state;
                if now != Some(state.shown()) {
                    wrong.push(format!("{op:?} on {state:?}: the shared key is {now:?}"));
                    continue;
                }
            }
            let got = env.call(*op, subject, *state).await;
            if !meets(*expect, &got, &subject.arn) {
                wrong.push(format!(
                    "{op:?} on {state:?}: expected {expect:?}, got {got:?}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
