//! AWS's key-state table ("Key states of AWS KMS keys", AWS KMS developer
//! guide, with its table details) applied to every operation Trent serves
//! that uses an existing key (symmetric, and ECC for the asymmetric
//! operations), through `aws-sdk-kms`: one row per operation,
//! one expected answer per key state.
//!
//! Footnotes cited: [1] `DisabledException: <key ARN> is disabled.`;
//! [3] `KMSInvalidStateException: <key ARN> is pending deletion.`;
//! [4] `KMSInvalidStateException: <key ARN> is not pending deletion.`;
//! [7] rotation operations succeed on symmetric keys with AWS_KMS material;
//! [10] UpdateAlias succeeds from a key pending deletion, not to one. The
//! Updating column follows "Change the primary key in a set of multi-Region
//! keys": cryptography goes on, enabling, disabling, replicating and other
//! management changes wait. No footnote gives a message for
//! PendingReplicaDeletion or Updating, so those rows check the code only.

mod common;

use aws_sdk_kms::Client;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    DataKeyPairSpec, DataKeySpec, GrantOperation, KeyAgreementAlgorithmSpec, KeySpec, KeyState,
    KeyUsageType, SigningAlgorithmSpec, Tag,
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
    Updating,
}

const STATES: [State; 5] = [
    State::Enabled,
    State::Disabled,
    State::PendingDeletion,
    State::PendingReplicaDeletion,
    State::Updating,
];

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
/// KMSInvalidStateException, message unspecified.
const INVALID: Expect = Expect::FailsCode("KMSInvalidStateException");

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
}

use Setup::{Agreement, Fresh, FreshReplicated, ReplicaInState, Shared, Signing};

/// The table: operation, key, and the answer for Enabled, Disabled,
/// PendingDeletion, PendingReplicaDeletion and Updating.
#[rustfmt::skip]
const TABLE: &[(Op, Setup, [Expect; 5])] = &[
    //                                               Enabled  Disabled  PendingDel. PendingReplicaDel. Updating
    (Op::Encrypt,                         Shared,          [OK,          DISABLED,    PENDING,     INVALID, OK]),
    (Op::Decrypt,                         Shared,          [OK,          DISABLED,    PENDING,     INVALID, OK]),
    (Op::ReEncryptFrom,                   Shared,          [OK,          DISABLED,    PENDING,     INVALID, OK]),
    (Op::ReEncryptTo,                     Shared,          [OK,          DISABLED,    PENDING,     INVALID, OK]),
    (Op::GenerateDataKey,                 Shared,          [OK,          DISABLED,    PENDING,     INVALID, OK]),
    (Op::GenerateDataKeyWithoutPlaintext, Shared,          [OK,          DISABLED,    PENDING,     INVALID, OK]),
    (Op::DescribeKey,                     Shared,          [OK,          OK,          OK,          OK,      OK]),
    (Op::EnableKey,                       Fresh,           [OK,          OK,          PENDING,     INVALID, INVALID]),
    (Op::DisableKey,                      Fresh,           [OK,          OK,          PENDING,     INVALID, INVALID]),
    (Op::ScheduleKeyDeletion,             Fresh,           [OK,          OK,          PENDING,     INVALID, INVALID]),
    (Op::CancelKeyDeletion,               Fresh,           [NOT_PENDING, NOT_PENDING, OK,          OK,      NOT_PENDING]),
    (Op::EnableKeyRotation,               Shared,          [OK,          DISABLED,    PENDING,     INVALID, INVALID]),
    (Op::DisableKeyRotation,              Shared,          [OK,          DISABLED,    PENDING,     INVALID, INVALID]),
    (Op::GetKeyRotationStatus,            Shared,          [OK,          OK,          OK,          OK,      OK]),
    (Op::RotateKeyOnDemand,               Shared,          [OK,          DISABLED,    PENDING,     INVALID, INVALID]),
    (Op::ListKeyRotations,                Shared,          [OK,          OK,          OK,          OK,      OK]),
    (Op::GetKeyPolicy,                    Shared,          [OK,          OK,          OK,          OK,      OK]),
    (Op::PutKeyPolicy,                    Shared,          [OK,          OK,          OK,          OK,      OK]),
    (Op::ListKeyPolicies,                 Shared,          [OK,          OK,          OK,          OK,      OK]),
    (Op::UpdateKeyDescription,            Shared,          [OK,          OK,          PENDING,     INVALID, OK]),
    (Op::TagResource,                     Shared,          [OK,          OK,          PENDING,     INVALID, OK]),
    (Op::UntagResource,                   Shared,          [OK,          OK,          PENDING,     INVALID, OK]),
    (Op::ListResourceTags,                Shared,          [OK,          OK,          OK,          OK,      OK]),
    (Op::CreateAlias,                     Shared,          [OK,          OK,          PENDING,     INVALID, OK]),
    (Op::UpdateAliasFrom,                 Shared,          [OK,          OK,          OK,          OK,      OK]),
    (Op::UpdateAliasTo,                   Shared,          [OK,          OK,          PENDING,     INVALID, OK]),
    (Op::DeleteAlias,                     Shared,          [OK,          OK,          OK,          OK,      OK]),
    (Op::CreateGrant,                     Shared,          [OK,          DISABLED,    PENDING,     INVALID, OK]),
    (Op::ListGrants,                      Shared,          [OK,          OK,          OK,          OK,      OK]),
    (Op::RetireGrant,                     Shared,          [OK,          OK,          OK,          OK,      OK]),
    (Op::RevokeGrant,                     Shared,          [OK,          OK,          OK,          OK,      OK]),
    (Op::ReplicateKey,                    Fresh,           [OK,          DISABLED,    PENDING,     INVALID, INVALID]),
    (Op::UpdatePrimaryRegion,             FreshReplicated, [OK,          DISABLED,    PENDING,     INVALID, INVALID]),
    (Op::UpdatePrimaryRegionTo,           ReplicaInState,  [OK,          DISABLED,    PENDING,     NA,      INVALID]),
    (Op::GenerateDataKeyPair,             Shared,          [OK,          DISABLED,    PENDING,     INVALID, OK]),
    (Op::GenerateDataKeyPairWithoutPlaintext, Shared,      [OK,          DISABLED,    PENDING,     INVALID, OK]),
    (Op::Sign,                            Signing,         [OK,          DISABLED,    PENDING,     INVALID, OK]),
    (Op::Verify,                          Signing,         [OK,          DISABLED,    PENDING,     INVALID, OK]),
    (Op::GetPublicKey,                    Signing,         [OK,          DISABLED,    PENDING,     INVALID, OK]),
    (Op::DeriveSharedSecret,              Agreement,       [OK,          DISABLED,    PENDING,     INVALID, OK]),
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

/// A new multi-Region primary in us-east-1 with its ciphertext, aliases and
/// grants, replicated to us-west-2 when `replicated`.
async fn primary(env: &Env, replicated: bool) -> Subject {
    let id = env
        .east
        .create_key()
        .multi_region(true)
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .expect("metadata")
        .key_id;
    let alias_from = format!("alias/from-{id}");
    let alias_to_delete = format!("alias/delete-{id}");
    alias(&env.east, &alias_from, &id).await;
    alias(&env.east, &alias_to_delete, &id).await;
    if replicated {
        env.west_replica(&id).await;
    }
    Subject {
        arn: arn(EAST, &id),
        blob: encrypt(&env.east, &id).await,
        grants: [grant(&env.east, &id).await, grant(&env.east, &id).await],
        alias_from,
        alias_to_delete,
        id,
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
    /// key with a replica for PendingReplicaDeletion and Updating), then
    /// checks DescribeKey reports it.
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
        let shown = kms
            .describe_key()
            .key_id(id)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .key_state;
        let wanted = match state {
            State::Enabled => KeyState::Enabled,
            State::Disabled => KeyState::Disabled,
            State::PendingDeletion => KeyState::PendingDeletion,
            State::PendingReplicaDeletion => KeyState::PendingReplicaDeletion,
            State::Updating => KeyState::Updating,
        };
        assert_eq!(shown, Some(wanted), "setting up {id} as {state:?}");
    }

    /// A key in `state` for a row set up as `setup`; `None` when the row's
    /// key cannot be in that state.
    async fn subject(&self, setup: Setup, state: State) -> Option<Subject> {
        let needs_replica = matches!(state, State::PendingReplicaDeletion | State::Updating);
        match setup {
            Shared | Fresh => {
                let s = primary(self, needs_replica).await;
                self.put_in(&self.east, &s.id, state).await;
                Some(s)
            }
            FreshReplicated => {
                let s = primary(self, state != State::PendingDeletion).await;
                self.put_in(&self.east, &s.id, state).await;
                Some(s)
            }
            Signing | Agreement => {
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
                let mut s = primary(self, true).await;
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
    for state in STATES {
        shared.push(env.subject(Shared, state).await);
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
            let subject = match setup {
                Shared => shared[i].as_ref(),
                Signing => signing[i].as_ref(),
                Agreement => agreement[i].as_ref(),
                _ => {
                    fresh = env.subject(*setup, *state).await;
                    fresh.as_ref()
                }
            };
            let Some(subject) = subject else {
                assert!(matches!(expect, Expect::NotApplicable), "{op:?} {state:?}");
                continue;
            };
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
