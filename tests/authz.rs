//! Who may do what: two principals in one account and one in another, key
//! policies that allow and deny by action and by encryption context, and
//! identity policies; grants that open access and revocations that close it.

mod common;

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{GrantConstraints, GrantOperation, KeyState};
use common::{Server, error_code};

const A: &str = "111122223333";
const B: &str = "444455556666";

fn config() -> String {
    format!(
        r#"
[[credentials]]
access_key_id = "AKIAALICE0000000000A"
secret_access_key = "alice-secret"
principal = "arn:aws:iam::{A}:user/alice"

[[credentials]]
access_key_id = "AKIABOB00000000000AB"
secret_access_key = "bob-secret"
principal = "arn:aws:iam::{A}:user/bob"
policy = '''{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey","kms:ListKeys"],"Resource":"*"}}]}}'''

[[credentials]]
access_key_id = "AKIADAVE0000000000AD"
secret_access_key = "dave-secret"
principal = "arn:aws:iam::{A}:user/dave"
policy = '''{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"kms:ListKeys","Resource":"*"}}]}}'''

[[credentials]]
access_key_id = "AKIACAROL000000000BC"
secret_access_key = "carol-secret"
principal = "arn:aws:iam::{B}:user/carol"
"#
    )
}

struct People {
    alice: Client,
    bob: Client,
    dave: Client,
    carol: Client,
}

fn people(server: &Server) -> People {
    People {
        alice: server.client_as("us-east-1", "AKIAALICE0000000000A", "alice-secret"),
        bob: server.client_as("us-east-1", "AKIABOB00000000000AB", "bob-secret"),
        dave: server.client_as("us-east-1", "AKIADAVE0000000000AD", "dave-secret"),
        carol: server.client_as("us-east-1", "AKIACAROL000000000BC", "carol-secret"),
    }
}

/// Root of A may do everything (delegating to identity policies); carol of
/// B may encrypt and decrypt only with dept=finance; bob may never decrypt.
fn key_policy() -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[
  {{"Sid":"Root","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{A}:root"}},"Action":"kms:*","Resource":"*"}},
  {{"Sid":"Carol","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{B}:user/carol"}},
    "Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*",
    "Condition":{{"StringEquals":{{"kms:EncryptionContext:dept":"finance"}}}}}},
  {{"Sid":"NoBobDecrypt","Effect":"Deny","Principal":{{"AWS":"arn:aws:iam::{A}:user/bob"}},"Action":"kms:Decrypt","Resource":"*"}}
]}}"#
    )
}

async fn encrypt(client: &Client, key: &str, ctx: &[(&str, &str)]) -> Result<Vec<u8>, String> {
    let mut req = client
        .encrypt()
        .key_id(key)
        .plaintext(Blob::new(b"payroll".to_vec()));
    for (k, v) in ctx {
        req = req.encryption_context(*k, *v);
    }
    req.send()
        .await
        .map(|o| o.ciphertext_blob.unwrap().into_inner())
        .map_err(|e| error_code(Err::<(), _>(e)))
}

async fn decrypt(
    client: &Client,
    key: &str,
    blob: &[u8],
    ctx: &[(&str, &str)],
) -> Result<(), String> {
    let mut req = client
        .decrypt()
        .key_id(key)
        .ciphertext_blob(Blob::new(blob.to_vec()));
    for (k, v) in ctx {
        req = req.encryption_context(*k, *v);
    }
    req.send()
        .await
        .map(|o| assert_eq!(o.plaintext.unwrap().as_ref(), b"payroll"))
        .map_err(|e| error_code(Err::<(), _>(e)))
}

#[tokio::test(flavor = "multi_thread")]
async fn policies_allow_and_deny_by_principal_action_and_context() {
    let server = Server::start_with_config(&config());
    let p = people(&server);
    let key = p
        .alice
        .create_key()
        .policy(key_policy())
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(key.aws_account_id.as_deref(), Some(A));
    let arn = key.arn.unwrap();
    let finance = [("dept", "finance")];

    // alice: account root delegation, no identity policy: everything.
    let blob = encrypt(&p.alice, &key.key_id, &finance).await.unwrap();
    decrypt(&p.alice, &key.key_id, &blob, &finance)
        .await
        .unwrap();

    // bob: identity policy allows Encrypt and Decrypt, the key policy denies Decrypt.
    let bob_blob = encrypt(&p.bob, &key.key_id, &[]).await.unwrap();
    assert_eq!(
        decrypt(&p.bob, &key.key_id, &bob_blob, &[]).await,
        Err("AccessDeniedException".into())
    );
    // bob may not create keys or schedule deletion (identity policy), and nothing changes.
    assert_eq!(
        error_code(p.bob.create_key().send().await),
        "AccessDeniedException"
    );
    let refused = p
        .bob
        .schedule_key_deletion()
        .key_id(&key.key_id)
        .send()
        .await;
    let message = match refused {
        Err(e) => {
            use aws_sdk_kms::error::ProvideErrorMetadata;
            let service = e.into_service_error();
            assert_eq!(service.code(), Some("AccessDeniedException"));
            service.message().unwrap_or_default().to_string()
        }
        Ok(_) => panic!("bob scheduled a deletion"),
    };
    assert!(
        message.contains("arn:aws:iam::111122223333:user/bob"),
        "{message}"
    );
    assert!(message.contains("kms:ScheduleKeyDeletion"), "{message}");
    let state = p
        .alice
        .describe_key()
        .key_id(&key.key_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        state.key_metadata.unwrap().key_state,
        Some(KeyState::Enabled)
    );
    assert_eq!(
        p.alice
            .list_keys()
            .send()
            .await
            .unwrap()
            .keys
            .unwrap()
            .len(),
        1
    );

    // carol (another account): only by ARN, only with dept=finance.
    assert_eq!(
        encrypt(&p.carol, &key.key_id, &finance).await,
        Err("NotFoundException".into())
    );
    let carol_blob = encrypt(&p.carol, &arn, &finance).await.unwrap();
    decrypt(&p.carol, &arn, &carol_blob, &finance)
        .await
        .unwrap();
    decrypt(&p.carol, &arn, &blob, &finance).await.unwrap();
    assert_eq!(
        encrypt(&p.carol, &arn, &[("dept", "hr")]).await,
        Err("AccessDeniedException".into())
    );
    assert_eq!(
        encrypt(&p.carol, &arn, &[]).await,
        Err("AccessDeniedException".into())
    );
    // carol cannot describe or manage it, and it is not among her keys.
    assert_eq!(
        error_code(p.carol.describe_key().key_id(&arn).send().await),
        "AccessDeniedException"
    );
    assert_eq!(
        error_code(p.carol.disable_key().key_id(&arn).send().await),
        "AccessDeniedException"
    );
    assert!(
        p.carol
            .list_keys()
            .send()
            .await
            .unwrap()
            .keys
            .unwrap()
            .is_empty()
    );

    // carol's own key is invisible to alice.
    let carols = p
        .carol
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(carols.aws_account_id.as_deref(), Some(B));
    assert_eq!(
        error_code(p.alice.describe_key().key_id(&carols.key_id).send().await),
        "NotFoundException"
    );
    assert_eq!(
        error_code(
            p.alice
                .describe_key()
                .key_id(carols.arn.unwrap())
                .send()
                .await
        ),
        "AccessDeniedException"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_grant_opens_access_and_revocation_closes_it() {
    let server = Server::start_with_config(&config());
    let p = people(&server);
    let key = common::new_key(&p.alice).await;
    let app = [("app", "ledger")];

    // dave's identity policy allows only ListKeys.
    assert_eq!(
        encrypt(&p.dave, &key, &app).await,
        Err("AccessDeniedException".into())
    );

    let grant = p
        .alice
        .create_grant()
        .key_id(&key)
        .grantee_principal(format!("arn:aws:iam::{A}:user/dave"))
        .retiring_principal(format!("arn:aws:iam::{A}:user/alice"))
        .operations(GrantOperation::Encrypt)
        .operations(GrantOperation::Decrypt)
        .constraints(
            GrantConstraints::builder()
                .encryption_context_subset("app", "ledger")
                .build(),
        )
        .name("ledger-writer")
        .send()
        .await
        .unwrap();
    let (grant_id, token) = (grant.grant_id.unwrap(), grant.grant_token.unwrap());
    assert_eq!(grant_id.len(), 64);

    // The very next call works, with the grant token or without it.
    let blob = p
        .dave
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(b"payroll".to_vec()))
        .encryption_context("app", "ledger")
        .grant_tokens(&token)
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap()
        .into_inner();
    decrypt(&p.dave, &key, &blob, &app).await.unwrap();
    // Outside the constraint, or another operation: refused.
    assert_eq!(
        encrypt(&p.dave, &key, &[("app", "other")]).await,
        Err("AccessDeniedException".into())
    );
    assert_eq!(
        error_code(p.dave.describe_key().key_id(&key).send().await),
        "AccessDeniedException"
    );

    // The same named request returns the same grant.
    let again = p
        .alice
        .create_grant()
        .key_id(&key)
        .grantee_principal(format!("arn:aws:iam::{A}:user/dave"))
        .retiring_principal(format!("arn:aws:iam::{A}:user/alice"))
        .operations(GrantOperation::Decrypt)
        .operations(GrantOperation::Encrypt)
        .constraints(
            GrantConstraints::builder()
                .encryption_context_subset("app", "ledger")
                .build(),
        )
        .name("ledger-writer")
        .send()
        .await
        .unwrap();
    assert_eq!(again.grant_id.as_deref(), Some(grant_id.as_str()));

    let listed = p.alice.list_grants().key_id(&key).send().await.unwrap();
    let grants = listed.grants.unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(
        grants[0].grantee_principal.as_deref(),
        Some(format!("arn:aws:iam::{A}:user/dave").as_str())
    );
    assert_eq!(grants[0].name.as_deref(), Some("ledger-writer"));
    assert_eq!(
        grants[0]
            .constraints
            .as_ref()
            .and_then(|c| c.encryption_context_subset.as_ref())
            .and_then(|s| s.get("app"))
            .map(String::as_str),
        Some("ledger")
    );
    let retirable = p
        .alice
        .list_retirable_grants()
        .retiring_principal(format!("arn:aws:iam::{A}:user/alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(retirable.grants.unwrap().len(), 1);

    // A dry run of the revocation changes nothing; the grant still works.
    // The model's limits are checked before the key is looked up.
    assert_eq!(
        error_code(
            p.alice
                .revoke_grant()
                .key_id(&key)
                .grant_id(&grant_id)
                .dry_run(true)
                .send()
                .await
        ),
        "DryRunOperationException"
    );
    assert!(encrypt(&p.dave, &key, &app).await.is_ok());
    let (code, message) = common::refusal(
        p.alice
            .revoke_grant()
            .key_id("no-such-key")
            .grant_id("g".repeat(129))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert!(
        message.unwrap_or_default().contains("'grantId'"),
        "names the member"
    );

    // Revocation closes it at once.
    p.alice
        .revoke_grant()
        .key_id(&key)
        .grant_id(&grant_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        encrypt(&p.dave, &key, &app).await,
        Err("AccessDeniedException".into())
    );
    assert_eq!(
        decrypt(&p.dave, &key, &blob, &app).await,
        Err("AccessDeniedException".into())
    );
    assert_eq!(
        error_code(
            p.alice
                .revoke_grant()
                .key_id(&key)
                .grant_id(&grant_id)
                .send()
                .await
        ),
        "NotFoundException"
    );
    assert_eq!(
        error_code(
            p.alice
                .revoke_grant()
                .key_id(&key)
                .grant_id("nope")
                .send()
                .await
        ),
        "InvalidGrantIdException"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn grants_are_retired_by_their_retiring_principal_only() {
    let server = Server::start_with_config(&config());
    let p = people(&server);
    let key = common::new_key(&p.alice).await;
    let grant = p
        .alice
        .create_grant()
        .key_id(&key)
        .grantee_principal(format!("arn:aws:iam::{A}:user/dave"))
        .retiring_principal(format!("arn:aws:iam::{B}:user/carol"))
        .operations(GrantOperation::Encrypt)
        .send()
        .await
        .unwrap();
    let token = grant.grant_token.unwrap();
    assert!(encrypt(&p.dave, &key, &[]).await.is_ok());
    // dave (grantee without RetireGrant) may not retire it, not even in a
    // dry run; carol's dry run, and a request breaking the model's limits on
    // a member beside the token, leave it in force.
    assert_eq!(
        error_code(p.dave.retire_grant().grant_token(&token).send().await),
        "AccessDeniedException"
    );
    assert_eq!(
        error_code(
            p.dave
                .retire_grant()
                .grant_token(&token)
                .dry_run(true)
                .send()
                .await
        ),
        "AccessDeniedException"
    );
    assert_eq!(
        error_code(
            p.carol
                .retire_grant()
                .grant_token(&token)
                .dry_run(true)
                .send()
                .await
        ),
        "DryRunOperationException"
    );
    for broken in [
        p.carol
            .retire_grant()
            .grant_token(&token)
            .grant_id("g".repeat(129)),
        p.carol
            .retire_grant()
            .grant_token(&token)
            .key_id("k".repeat(2049)),
    ] {
        assert_eq!(error_code(broken.send().await), "ValidationException");
    }
    // Grants are regional: in another region the token names no grant.
    let carol_west = server.client_as("us-west-2", "AKIACAROL000000000BC", "carol-secret");
    assert_eq!(
        error_code(carol_west.retire_grant().grant_token(&token).send().await),
        "InvalidGrantTokenException"
    );
    assert!(encrypt(&p.dave, &key, &[]).await.is_ok());
    p.carol
        .retire_grant()
        .grant_token(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        encrypt(&p.dave, &key, &[]).await,
        Err("AccessDeniedException".into())
    );
    assert_eq!(
        error_code(p.carol.retire_grant().grant_token(&token).send().await),
        "InvalidGrantTokenException"
    );

    // Invalid grant requests.
    let no_ops = p
        .alice
        .create_grant()
        .key_id(&key)
        .grantee_principal(format!("arn:aws:iam::{A}:user/dave"))
        .send()
        .await;
    assert_eq!(error_code(no_ops), "ValidationException");
    let bad_grantee = p
        .alice
        .create_grant()
        .key_id(&key)
        .grantee_principal("dave")
        .operations(GrantOperation::Encrypt)
        .send()
        .await;
    assert_eq!(error_code(bad_grantee), "InvalidArnException");
    // AWS's model: a principal has 1-256 characters of [\w+=,.@:/-].
    let user = |name: &str| format!("arn:aws:iam::{A}:user/{name}");
    let long = user(&"d".repeat(257 - user("").len()));
    for (grantee, retiring, broken) in [
        (user("has space"), None, "regular expression pattern"),
        (long.clone(), None, "less than or equal to 256"),
        (
            user("dave"),
            Some(user("ca rol")),
            "regular expression pattern",
        ),
    ] {
        let refused = p
            .alice
            .create_grant()
            .key_id(&key)
            .grantee_principal(&grantee)
            .set_retiring_principal(retiring)
            .operations(GrantOperation::Encrypt)
            .send()
            .await;
        let (code, message) = common::refusal(refused);
        assert_eq!(code, "ValidationException", "{grantee}");
        assert!(message.unwrap_or_default().contains(broken), "{grantee}");
    }
    let (code, _) = common::refusal(
        p.alice
            .list_retirable_grants()
            .retiring_principal(user("ca rol"))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    let (code, _) = common::refusal(
        p.alice
            .list_grants()
            .key_id(&key)
            .grantee_principal(long)
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    // Constraints bind only operations that take an encryption context:
    // a constrained grant still lets its grantee describe the key.
    p.alice
        .create_grant()
        .key_id(&key)
        .grantee_principal(format!("arn:aws:iam::{A}:user/dave"))
        .operations(GrantOperation::DescribeKey)
        .operations(GrantOperation::Encrypt)
        .constraints(
            GrantConstraints::builder()
                .encryption_context_equals("a", "b")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(p.dave.describe_key().key_id(&key).send().await.is_ok());
    assert_eq!(
        encrypt(&p.dave, &key, &[]).await,
        Err("AccessDeniedException".into())
    );
    assert!(encrypt(&p.dave, &key, &[("a", "b")]).await.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn put_key_policy_validates_and_keeps_the_owner_in() {
    let server = Server::start_with_config(&config());
    let p = people(&server);
    let key = common::new_key(&p.alice).await;
    for bad in [
        "not json",
        r#"{"Version":"2012-10-17"}"#,
        r#"{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"kms:*","Resource":"*"}]}"#,
        r#"{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#,
    ] {
        let out = p
            .alice
            .put_key_policy()
            .key_id(&key)
            .policy(bad)
            .send()
            .await;
        assert_eq!(error_code(out), "MalformedPolicyDocumentException", "{bad}");
    }
    // A policy that would lock alice's account out is refused...
    let lockout = format!(
        r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{A}:user/bob"}},"Action":"kms:*","Resource":"*"}}]}}"#
    );
    let out = p
        .alice
        .put_key_policy()
        .key_id(&key)
        .policy(&lockout)
        .send()
        .await;
    assert_eq!(error_code(out), "MalformedPolicyDocumentException");
    let policy = p
        .alice
        .get_key_policy()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    assert!(policy.contains(":root"), "the policy changed: {policy}");
    // ...unless the caller bypasses the check; then alice is locked out for real.
    p.alice
        .put_key_policy()
        .key_id(&key)
        .policy(&lockout)
        .bypass_policy_lockout_safety_check(true)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(p.alice.get_key_policy().key_id(&key).send().await),
        "AccessDeniedException"
    );
    // bob (named in the policy) still describes it.
    assert!(p.bob.describe_key().key_id(&key).send().await.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_grantee_passes_on_no_more_than_it_holds() {
    let server = Server::start_with_config(&config());
    let p = people(&server);
    let key = common::new_key(&p.alice).await;
    p.alice
        .create_grant()
        .key_id(&key)
        .grantee_principal(format!("arn:aws:iam::{A}:user/dave"))
        .operations(GrantOperation::CreateGrant)
        .operations(GrantOperation::Encrypt)
        .send()
        .await
        .unwrap();
    let to_bob = |op: GrantOperation| {
        p.dave
            .create_grant()
            .key_id(&key)
            .grantee_principal(format!("arn:aws:iam::{A}:user/bob"))
            .operations(op)
            .send()
    };
    assert!(to_bob(GrantOperation::Encrypt).await.is_ok());
    assert_eq!(
        error_code(to_bob(GrantOperation::Decrypt).await),
        "AccessDeniedException"
    );
    assert_eq!(
        error_code(to_bob(GrantOperation::RetireGrant).await),
        "AccessDeniedException"
    );
    let grants = p.alice.list_grants().key_id(&key).send().await.unwrap();
    assert_eq!(grants.grants.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_policy_deny_beats_a_grant() {
    let server = Server::start_with_config(&config());
    let p = people(&server);
    let key = p
        .alice
        .create_key()
        .policy(key_policy())
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    p.alice
        .create_grant()
        .key_id(&key)
        .grantee_principal(format!("arn:aws:iam::{A}:user/bob"))
        .operations(GrantOperation::Decrypt)
        .send()
        .await
        .unwrap();
    let blob = encrypt(&p.alice, &key, &[]).await.unwrap();
    assert_eq!(
        decrypt(&p.bob, &key, &blob, &[]).await,
        Err("AccessDeniedException".into())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn grant_constraints_subset_takes_extra_pairs_equals_does_not() {
    let server = Server::start_with_config(&config());
    let p = people(&server);
    let dave = format!("arn:aws:iam::{A}:user/dave");
    let grant = |key: String, constraints: GrantConstraints| {
        p.alice
            .create_grant()
            .key_id(key)
            .grantee_principal(&dave)
            .operations(GrantOperation::Encrypt)
            .operations(GrantOperation::Decrypt)
            .constraints(constraints)
            .send()
    };
    let subset_key = common::new_key(&p.alice).await;
    let equals_key = common::new_key(&p.alice).await;
    grant(
        subset_key.clone(),
        GrantConstraints::builder()
            .encryption_context_subset("dept", "finance")
            .build(),
    )
    .await
    .unwrap();
    grant(
        equals_key.clone(),
        GrantConstraints::builder()
            .encryption_context_equals("dept", "finance")
            .build(),
    )
    .await
    .unwrap();
    let extra = [("dept", "finance"), ("year", "2026")];
    let exact = [("dept", "finance")];
    let blob = encrypt(&p.dave, &subset_key, &extra)
        .await
        .expect("subset: extra pairs allowed");
    decrypt(&p.dave, &subset_key, &blob, &extra).await.unwrap();
    assert_eq!(
        encrypt(&p.dave, &subset_key, &[("year", "2026")]).await,
        Err("AccessDeniedException".into())
    );
    assert_eq!(
        encrypt(&p.dave, &equals_key, &extra).await,
        Err("AccessDeniedException".into())
    );
    let blob = encrypt(&p.dave, &equals_key, &exact)
        .await
        .expect("equals: exactly the pairs");
    decrypt(&p.dave, &equals_key, &blob, &exact).await.unwrap();
}

/// Another account's key is named by its ARN, except that a symmetric
/// ciphertext's own short key id serves Decrypt and ReEncrypt's source, as
/// AWS allows ("Cross-account use" in the Decrypt reference).
#[tokio::test(flavor = "multi_thread")]
async fn a_grantee_in_another_account_uses_the_key_by_its_arn() {
    let server = Server::start_with_config(&config());
    let p = people(&server);
    let meta = p
        .alice
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let (key, arn) = (meta.key_id, meta.arn.unwrap());
    // Without a grant: the default policy names only account A.
    assert_eq!(
        encrypt(&p.carol, &arn, &[]).await,
        Err("AccessDeniedException".into())
    );
    p.alice
        .create_grant()
        .key_id(&key)
        .grantee_principal(format!("arn:aws:iam::{B}:user/carol"))
        .operations(GrantOperation::Encrypt)
        .operations(GrantOperation::Decrypt)
        .send()
        .await
        .unwrap();
    let blob = encrypt(&p.carol, &arn, &[]).await.expect("carol by ARN");
    decrypt(&p.carol, &arn, &blob, &[]).await.unwrap();
    assert_eq!(
        encrypt(&p.carol, &key, &[]).await,
        Err("NotFoundException".into())
    );
    decrypt(&p.carol, &key, &blob, &[])
        .await
        .expect("carol decrypts with the ciphertext's short key id");
    p.alice
        .create_grant()
        .key_id(&key)
        .grantee_principal(format!("arn:aws:iam::{B}:user/carol"))
        .operations(GrantOperation::ReEncryptFrom)
        .operations(GrantOperation::ReEncryptTo)
        .send()
        .await
        .unwrap();
    let moved = p
        .carol
        .re_encrypt()
        .ciphertext_blob(Blob::new(blob.clone()))
        .source_key_id(&key)
        .destination_key_id(&arn)
        .send()
        .await
        .expect("ReEncrypt from the ciphertext's short key id");
    assert_eq!(moved.source_key_id.as_deref(), Some(arn.as_str()));
    let other = common::new_key(&p.alice).await;
    assert_eq!(
        decrypt(&p.carol, &other, &blob, &[]).await,
        Err("NotFoundException".into()),
        "a short id not the ciphertext's is looked up in carol's account"
    );
    assert_eq!(
        error_code(p.carol.disable_key().key_id(&arn).send().await),
        "AccessDeniedException"
    );
    // Listed to carol, a grant on A's key names A's key ARN.
    p.alice
        .create_grant()
        .key_id(&key)
        .grantee_principal(format!("arn:aws:iam::{A}:user/dave"))
        .retiring_principal(format!("arn:aws:iam::{B}:user/carol"))
        .operations(GrantOperation::Encrypt)
        .send()
        .await
        .unwrap();
    let listed = p
        .carol
        .list_retirable_grants()
        .retiring_principal(format!("arn:aws:iam::{B}:user/carol"))
        .send()
        .await
        .unwrap();
    let grants = listed.grants.unwrap_or_default();
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert_eq!(grants[0].key_id.as_deref(), Some(arn.as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_operation_family_is_refused_without_a_right() {
    let server = Server::start_with_config(&config());
    let p = people(&server);
    // The default policy delegates to identity policies; dave's allows only ListKeys.
    let key = common::new_key(&p.alice).await;
    let other = common::new_key(&p.alice).await;
    p.alice
        .create_alias()
        .alias_name("alias/team")
        .target_key_id(&key)
        .send()
        .await
        .unwrap();
    let blob = encrypt(&p.alice, &key, &[]).await.unwrap();
    let d = &p.dave;
    let denied = "AccessDeniedException";
    assert_eq!(
        error_code(
            d.re_encrypt()
                .ciphertext_blob(Blob::new(blob.clone()))
                .destination_key_id(&other)
                .send()
                .await
        ),
        denied
    );
    assert_eq!(
        error_code(
            d.generate_data_key()
                .key_id(&key)
                .number_of_bytes(32)
                .send()
                .await
        ),
        denied
    );
    assert_eq!(
        error_code(
            d.generate_data_key_without_plaintext()
                .key_id(&key)
                .number_of_bytes(32)
                .send()
                .await
        ),
        denied
    );
    assert_eq!(
        error_code(
            d.create_alias()
                .alias_name("alias/dave")
                .target_key_id(&key)
                .send()
                .await
        ),
        denied
    );
    assert_eq!(
        error_code(
            d.update_alias()
                .alias_name("alias/team")
                .target_key_id(&other)
                .send()
                .await
        ),
        denied
    );
    assert_eq!(
        error_code(d.delete_alias().alias_name("alias/team").send().await),
        denied
    );
    assert_eq!(
        error_code(d.list_grants().key_id(&key).send().await),
        denied
    );
    assert_eq!(
        error_code(d.list_aliases().key_id(&key).send().await),
        denied
    );
    // ReEncryptTo alone: bob may decrypt the source (identity policy) but not
    // ReEncryptTo; his ReEncryptFrom is also refused by his identity policy.
    assert_eq!(
        error_code(
            p.bob
                .re_encrypt()
                .ciphertext_blob(Blob::new(blob))
                .destination_key_id(&other)
                .send()
                .await
        ),
        denied
    );
}

/// Actions that name no key are decided on the resource `*`, as in AWS: a
/// statement on the account's key ARNs ("use our keys") allows using keys,
/// not creating or listing them or GenerateRandom. Tags on CreateKey and
/// ReplicateKey also need `kms:TagResource`. ListAliases is an identity-policy
/// action even with `KeyId`: a key policy cannot grant it.
#[tokio::test(flavor = "multi_thread")]
async fn account_actions_are_on_star_and_tags_need_tag_resource() {
    let identity = |statements: &str| {
        format!(r#"'''{{"Version":"2012-10-17","Statement":[{statements}]}}'''"#)
    };
    let config = format!(
        r#"
[[credentials]]
access_key_id = "AKIAALICE0000000000A"
secret_access_key = "alice-secret"
principal = "arn:aws:iam::{A}:user/alice"

[[credentials]]
access_key_id = "AKIAUSER00000000000U"
secret_access_key = "user-secret"
principal = "arn:aws:iam::{A}:user/user"
policy = {}

[[credentials]]
access_key_id = "AKIAMAKER0000000000M"
secret_access_key = "maker-secret"
principal = "arn:aws:iam::{A}:user/maker"
policy = {}
"#,
        identity(&format!(
            r#"{{"Effect":"Allow","Action":"kms:*","Resource":"arn:aws:kms:*:{A}:key/*"}}"#
        )),
        identity(&format!(
            r#"{{"Effect":"Allow","Action":["kms:CreateKey","kms:ReplicateKey","kms:DescribeKey"],"Resource":"*"}},
               {{"Effect":"Allow","Action":"kms:ListAliases","Resource":"arn:aws:kms:*:{A}:key/*"}}"#
        )),
    );
    let server = Server::start_with_config(&config);
    let alice = server.client_as("us-east-1", "AKIAALICE0000000000A", "alice-secret");
    let user = server.client_as("us-east-1", "AKIAUSER00000000000U", "user-secret");
    let maker = server.client_as("us-east-1", "AKIAMAKER0000000000M", "maker-secret");
    let key = alice
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let key_id = key.key_id;

    // "Use our keys" uses keys...
    assert!(encrypt(&user, &key_id, &[]).await.is_ok());
    // ...and creates, lists and draws nothing.
    let denied = "AccessDeniedException";
    assert_eq!(error_code(user.create_key().send().await), denied);
    assert_eq!(error_code(user.list_keys().send().await), denied);
    assert_eq!(error_code(user.list_aliases().send().await), denied);
    let random = user.generate_random().number_of_bytes(16).send().await;
    assert_eq!(error_code(random), denied);
    let retirable = user
        .list_retirable_grants()
        .retiring_principal(format!("arn:aws:iam::{A}:user/user"));
    assert_eq!(error_code(retirable.send().await), denied);
    let message = user.create_key().send().await.unwrap_err();
    assert!(
        format!("{message:?}").contains("kms:CreateKey on resource: *"),
        "{message:?}"
    );

    // A key policy that names user cannot grant ListAliases with KeyId.
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
  {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{A}:root"}},"Action":"kms:*","Resource":"*"}},
  {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{A}:user/user"}},"Action":"kms:ListAliases","Resource":"*"}}]}}"#
    );
    alice
        .put_key_policy()
        .key_id(&key_id)
        .policy(policy)
        .send()
        .await
        .unwrap();
    let listed = user.list_aliases().key_id(&key_id).send().await;
    assert_eq!(error_code(listed), denied);
    // maker's ListAliases statement is on key ARNs, not `*`: refused too.
    let listed = maker.list_aliases().key_id(&key_id).send().await;
    assert_eq!(error_code(listed), denied);
    // alice (no identity policy) lists; a key of another account is refused
    // before any lookup, whether or not it exists.
    let aliases = alice.list_aliases().key_id(&key_id).send().await.unwrap();
    assert!(aliases.aliases.unwrap_or_default().is_empty());
    let foreign = format!("arn:aws:kms:us-east-1:{B}:key/00000000-0000-0000-0000-000000000000");
    let listed = alice.list_aliases().key_id(&foreign).send().await;
    assert_eq!(error_code(listed), denied);

    // CreateKey with Tags needs kms:TagResource; without tags it does not.
    let tag = aws_sdk_kms::types::Tag::builder()
        .tag_key("team")
        .tag_value("a")
        .build()
        .unwrap();
    let tagged = maker.create_key().tags(tag.clone()).send().await;
    let refusal = tagged.unwrap_err();
    assert!(
        format!("{refusal:?}").contains("kms:TagResource"),
        "{refusal:?}"
    );
    let primary = maker
        .create_key()
        .multi_region(true)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    // ReplicateKey with Tags needs kms:TagResource in the replica region.
    let replicated = maker
        .replicate_key()
        .key_id(&primary)
        .replica_region("us-west-2")
        .tags(tag.clone())
        .send()
        .await;
    assert_eq!(error_code(replicated), denied);
    maker
        .replicate_key()
        .key_id(&primary)
        .replica_region("us-west-2")
        .send()
        .await
        .unwrap();
    // alice, without an identity policy, tags at creation.
    alice.create_key().tags(tag).send().await.unwrap();
}

/// RetireGrant: an explicit deny of `kms:RetireGrant` stops even the
/// grant's retiring principal; a policy that allows `kms:RetireGrant` on the
/// key lets a principal that the grant does not name retire it.
#[tokio::test(flavor = "multi_thread")]
async fn retire_grant_obeys_explicit_denies_and_delegation() {
    let config = format!(
        r#"
[[credentials]]
access_key_id = "AKIAALICE0000000000A"
secret_access_key = "alice-secret"
principal = "arn:aws:iam::{A}:user/alice"

[[credentials]]
access_key_id = "AKIAERIN00000000000E"
secret_access_key = "erin-secret"
principal = "arn:aws:iam::{A}:user/erin"
policy = '''{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"kms:RetireGrant","Resource":"arn:aws:kms:*:{A}:key/*"}}]}}'''

[[credentials]]
access_key_id = "AKIAFRANK0000000000F"
secret_access_key = "frank-secret"
principal = "arn:aws:iam::{A}:user/frank"
policy = '''{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"kms:*","Resource":"*"}},{{"Effect":"Deny","Action":"kms:RetireGrant","Resource":"*"}}]}}'''

[[credentials]]
access_key_id = "AKIACAROL000000000BC"
secret_access_key = "carol-secret"
principal = "arn:aws:iam::{B}:user/carol"

[[credentials]]
access_key_id = "AKIAGINA00000000000G"
secret_access_key = "gina-secret"
principal = "arn:aws:iam::{A}:user/gina"
policy = '''{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}}]}}'''
"#
    );
    let server = Server::start_with_config(&config);
    let alice = server.client_as("us-east-1", "AKIAALICE0000000000A", "alice-secret");
    let erin = server.client_as("us-east-1", "AKIAERIN00000000000E", "erin-secret");
    let frank = server.client_as("us-east-1", "AKIAFRANK0000000000F", "frank-secret");
    let gina = server.client_as("us-east-1", "AKIAGINA00000000000G", "gina-secret");
    let key = common::new_key(&alice).await;
    let grant = |retiring: &str| {
        let sent = alice
            .create_grant()
            .key_id(&key)
            .grantee_principal(format!("arn:aws:iam::{A}:user/gina"))
            .retiring_principal(format!("arn:aws:iam::{A}:user/{retiring}"))
            .operations(GrantOperation::Decrypt)
            .send();
        async move { sent.await.unwrap() }
    };
    let grants_left = || async {
        let listed = alice.list_grants().key_id(&key).send().await.unwrap();
        listed.grants.unwrap_or_default().len()
    };

    // frank is the retiring principal, but his identity policy denies it.
    let denied = grant("frank").await;
    let by_token = frank
        .retire_grant()
        .grant_token(denied.grant_token.clone().unwrap())
        .send()
        .await;
    assert_eq!(error_code(by_token), "AccessDeniedException");
    let by_id = frank
        .retire_grant()
        .key_id(&key)
        .grant_id(denied.grant_id.clone().unwrap())
        .send()
        .await;
    assert_eq!(error_code(by_id), "AccessDeniedException");
    assert_eq!(grants_left().await, 1);

    // gina is only the grantee (no RetireGrant in the grant) and her
    // identity policy does not allow kms:RetireGrant; a key policy that
    // does counts for nothing (AWS: "not effective in a key policy").
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
  {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{A}:root"}},"Action":"kms:*","Resource":"*"}},
  {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{A}:user/gina"}},"Action":"kms:RetireGrant","Resource":"*"}}]}}"#
    );
    let put = alice.put_key_policy().key_id(&key).policy(policy).send();
    put.await.unwrap();
    let refused = gina
        .retire_grant()
        .key_id(&key)
        .grant_id(denied.grant_id.clone().unwrap())
        .send()
        .await;
    assert_eq!(error_code(refused), "AccessDeniedException");

    // erin is not named by the grant; her identity policy and the key
    // policy (the account root delegating to IAM) allow kms:RetireGrant.
    erin.retire_grant()
        .key_id(&key)
        .grant_id(denied.grant_id.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(grants_left().await, 0);

    // A grant whose retiring principal is account B: B's principals that
    // B lets retire grants (carol has no identity policy) may retire it.
    let for_b = alice
        .create_grant()
        .key_id(&key)
        .grantee_principal(format!("arn:aws:iam::{A}:user/gina"))
        .retiring_principal(format!("arn:aws:iam::{B}:root"))
        .operations(GrantOperation::Decrypt)
        .send()
        .await
        .unwrap();
    let carol = server.client_as("us-east-1", "AKIACAROL000000000BC", "carol-secret");
    carol
        .retire_grant()
        .grant_token(for_b.grant_token.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(grants_left().await, 0);
}

/// An assumed-role session acts as its role, as in IAM: key policies and
/// grants that name the role reach the session (an Allow and a Deny alike),
/// and `aws:PrincipalArn` is the role's ARN.
#[tokio::test(flavor = "multi_thread")]
async fn an_assumed_role_session_acts_as_its_role() {
    let config = format!(
        r#"
[[credentials]]
access_key_id = "AKIAALICE0000000000A"
secret_access_key = "alice-secret"
principal = "arn:aws:iam::{A}:user/alice"

[[credentials]]
access_key_id = "AKIASESSION00000000S"
secret_access_key = "session-secret"
principal = "arn:aws:iam::{B}:assumed-role/Deploy/ci-run"
"#
    );
    let server = Server::start_with_config(&config);
    let alice = server.client_as("us-east-1", "AKIAALICE0000000000A", "alice-secret");
    let session = server.client_as("us-east-1", "AKIASESSION00000000S", "session-secret");
    let role = format!("arn:aws:iam::{B}:role/Deploy");
    let key_with = |extra: String| {
        let policy = format!(
            r#"{{"Version":"2012-10-17","Statement":[
  {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{A}:root"}},"Action":"kms:*","Resource":"*"}},
  {extra}]}}"#
        );
        let alice = alice.clone();
        async move {
            let created = alice.create_key().policy(policy).send().await.unwrap();
            created.key_metadata.unwrap().arn.unwrap()
        }
    };

    // A key policy that allows the role lets its session in.
    let allowed = key_with(format!(
        r#"{{"Effect":"Allow","Principal":{{"AWS":"{role}"}},"Action":"kms:Encrypt","Resource":"*"}}"#
    ))
    .await;
    assert!(encrypt(&session, &allowed, &[]).await.is_ok());

    // A Deny naming the role binds the session, though B's account is allowed.
    let denied = key_with(format!(
        r#"{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{B}:root"}},"Action":"kms:Encrypt","Resource":"*"}},
  {{"Effect":"Deny","Principal":{{"AWS":"{role}"}},"Action":"kms:Encrypt","Resource":"*"}}"#
    ))
    .await;
    assert_eq!(
        encrypt(&session, &denied, &[]).await,
        Err("AccessDeniedException".into())
    );

    // aws:PrincipalArn is the role's ARN.
    let by_arn = key_with(format!(
        r#"{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{B}:root"}},"Action":"kms:Encrypt","Resource":"*",
    "Condition":{{"ArnEquals":{{"aws:PrincipalArn":"{role}"}}}}}}"#
    ))
    .await;
    assert!(encrypt(&session, &by_arn, &[]).await.is_ok());

    // A grant to the role is the session's.
    let granted = key_with(String::from(
        r#"{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::444455556666:user/nobody"},"Action":"kms:Decrypt","Resource":"*"}"#,
    ))
    .await;
    assert_eq!(
        encrypt(&session, &granted, &[]).await,
        Err("AccessDeniedException".into())
    );
    alice
        .create_grant()
        .key_id(&granted)
        .grantee_principal(&role)
        .operations(GrantOperation::Encrypt)
        .send()
        .await
        .unwrap();
    assert!(encrypt(&session, &granted, &[]).await.is_ok());
}
