//! The attacks of issue 11, performed with real principals through
//! `aws-sdk-kms`: each must now fail. Two users of account A who do not
//! trust each other (alice and mallory), a third (bob) who receives grants,
//! and carol of account B.

mod common;

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{GrantConstraints, GrantOperation, KeyState};
use common::{Server, error_code};

const A: &str = "111122223333";
const B: &str = "444455556666";

fn config(extra: &str) -> String {
    format!(
        r#"{extra}
[[credentials]]
access_key_id = "AKIAALICE0000000000A"
secret_access_key = "alice-secret"
principal = "arn:aws:iam::{A}:user/alice"

[[credentials]]
access_key_id = "AKIAMALLORY00000000A"
secret_access_key = "mallory-secret"
principal = "arn:aws:iam::{A}:user/mallory"

[[credentials]]
access_key_id = "AKIABOB00000000000AB"
secret_access_key = "bob-secret"
principal = "arn:aws:iam::{A}:user/bob"

[[credentials]]
access_key_id = "AKIACAROL000000000BC"
secret_access_key = "carol-secret"
principal = "arn:aws:iam::{B}:user/carol"
"#
    )
}

struct People {
    alice: Client,
    mallory: Client,
    bob: Client,
    carol: Client,
}

fn people(server: &Server) -> People {
    People {
        alice: server.client_as("us-east-1", "AKIAALICE0000000000A", "alice-secret"),
        mallory: server.client_as("us-east-1", "AKIAMALLORY00000000A", "mallory-secret"),
        bob: server.client_as("us-east-1", "AKIABOB00000000000AB", "bob-secret"),
        carol: server.client_as("us-east-1", "AKIACAROL000000000BC", "carol-secret"),
    }
}

/// A key policy that lets only `principals` in, each with every action.
fn only(principals: &[&str]) -> String {
    let list: Vec<String> = principals.iter().map(|p| format!("\"{p}\"")).collect();
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Only","Effect":"Allow",
  "Principal":{{"AWS":[{}]}},"Action":"kms:*","Resource":"*"}}]}}"#,
        list.join(",")
    )
}

fn alice() -> String {
    format!("arn:aws:iam::{A}:user/alice")
}

fn bob() -> String {
    format!("arn:aws:iam::{A}:user/bob")
}

async fn key_with_policy(client: &Client, policy: &str) -> (String, String) {
    let meta = client
        .create_key()
        .policy(policy)
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .expect("metadata");
    (meta.key_id, meta.arn.expect("arn"))
}

async fn encrypt(client: &Client, key: &str, ctx: &[(&str, &str)]) -> Vec<u8> {
    let mut req = client
        .encrypt()
        .key_id(key)
        .plaintext(Blob::new(b"secret".to_vec()));
    for (k, v) in ctx {
        req = req.encryption_context(*k, *v);
    }
    req.send()
        .await
        .expect("Encrypt")
        .ciphertext_blob
        .expect("blob")
        .into_inner()
}

async fn decrypt(client: &Client, blob: &[u8], ctx: &[(&str, &str)]) -> Result<(), String> {
    let mut req = client.decrypt().ciphertext_blob(Blob::new(blob.to_vec()));
    for (k, v) in ctx {
        req = req.encryption_context(*k, *v);
    }
    req.send()
        .await
        .map(|o| assert_eq!(o.plaintext.expect("plaintext").as_ref(), b"secret"))
        .map_err(|e| error_code(Err::<(), _>(e)))
}

async fn alias_target(client: &Client, alias: &str) -> String {
    client
        .describe_key()
        .key_id(alias)
        .send()
        .await
        .expect("DescribeKey by alias")
        .key_metadata
        .expect("metadata")
        .key_id
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_cannot_move_or_delete_another_teams_alias() {
    let server = Server::start_with_config(&config(""));
    let p = people(&server);
    let (victim, _) = key_with_policy(&p.alice, &only(&[&alice()])).await;
    p.alice
        .create_alias()
        .alias_name("alias/payroll")
        .target_key_id(&victim)
        .send()
        .await
        .unwrap();
    // Mallory owns a key of her own (the default policy lets her account in).
    let mine = common::new_key(&p.mallory).await;

    let moved = p
        .mallory
        .update_alias()
        .alias_name("alias/payroll")
        .target_key_id(&mine)
        .send()
        .await;
    assert_eq!(error_code(moved), "AccessDeniedException");
    assert_eq!(alias_target(&p.alice, "alias/payroll").await, victim);

    let deleted = p
        .mallory
        .delete_alias()
        .alias_name("alias/payroll")
        .send()
        .await;
    assert_eq!(error_code(deleted), "AccessDeniedException");
    let created = p
        .mallory
        .create_alias()
        .alias_name("alias/payroll-2")
        .target_key_id(&victim)
        .send()
        .await;
    assert_eq!(error_code(created), "AccessDeniedException");

    // Alice, who may use both keys' UpdateAlias, still can.
    let shared = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":["{}","arn:aws:iam::{A}:user/mallory"]}},"Action":"kms:*","Resource":"*"}}]}}"#,
        alice()
    );
    let (other, _) = key_with_policy(&p.alice, &shared).await;
    p.alice
        .update_alias()
        .alias_name("alias/payroll")
        .target_key_id(&other)
        .send()
        .await
        .expect("alice moves her own alias");
    assert_eq!(alias_target(&p.alice, "alias/payroll").await, other);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_identity_policy_on_the_alias_arn_governs_alias_changes() {
    let guard = format!(
        r#"
[[credentials]]
access_key_id = "AKIAERIN0000000000AE"
secret_access_key = "erin-secret"
principal = "arn:aws:iam::{A}:user/erin"
policy = '''{{"Version":"2012-10-17","Statement":[
  {{"Effect":"Allow","Action":"kms:*","Resource":"*"}},
  {{"Effect":"Deny","Action":["kms:DeleteAlias","kms:UpdateAlias"],"Resource":"arn:aws:kms:*:{A}:alias/protected"}}]}}'''
"#
    );
    let server = Server::start_with_config(&config(&guard));
    let p = people(&server);
    let erin = server.client_as("us-east-1", "AKIAERIN0000000000AE", "erin-secret");
    let key = common::new_key(&p.alice).await;
    let second = common::new_key(&p.alice).await;
    for name in ["alias/protected", "alias/open"] {
        p.alice
            .create_alias()
            .alias_name(name)
            .target_key_id(&key)
            .send()
            .await
            .unwrap();
    }
    let denied = erin
        .delete_alias()
        .alias_name("alias/protected")
        .send()
        .await;
    assert_eq!(error_code(denied), "AccessDeniedException");
    let denied = erin
        .update_alias()
        .alias_name("alias/protected")
        .target_key_id(&second)
        .send()
        .await;
    assert_eq!(error_code(denied), "AccessDeniedException");
    erin.update_alias()
        .alias_name("alias/open")
        .target_key_id(&second)
        .send()
        .await
        .expect("erin may move other aliases");
    erin.delete_alias()
        .alias_name("alias/open")
        .send()
        .await
        .expect("and delete them");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_grantee_cannot_shed_its_grants_constraints() {
    let server = Server::start_with_config(&config(""));
    let p = people(&server);
    let (key, arn) = key_with_policy(&p.alice, &only(&[&alice()])).await;
    let tenant_a = encrypt(&p.alice, &key, &[("tenant", "A")]).await;
    let tenant_b = encrypt(&p.alice, &key, &[("tenant", "B")]).await;
    p.alice
        .create_grant()
        .key_id(&key)
        .grantee_principal(bob())
        .operations(GrantOperation::Decrypt)
        .operations(GrantOperation::CreateGrant)
        .constraints(
            GrantConstraints::builder()
                .encryption_context_equals("tenant", "A")
                .build(),
        )
        .send()
        .await
        .unwrap();
    decrypt(&p.bob, &tenant_a, &[("tenant", "A")])
        .await
        .expect("bob decrypts tenant A");
    assert_eq!(
        decrypt(&p.bob, &tenant_b, &[("tenant", "B")]).await,
        Err("AccessDeniedException".into())
    );

    // An unconstrained Decrypt grant for himself: refused.
    let shed = p
        .bob
        .create_grant()
        .key_id(&arn)
        .grantee_principal(bob())
        .operations(GrantOperation::Decrypt)
        .send()
        .await;
    assert_eq!(error_code(shed), "AccessDeniedException");
    // Another tenant's constraint, or a looser subset: refused.
    for constraints in [
        GrantConstraints::builder()
            .encryption_context_equals("tenant", "B")
            .build(),
        GrantConstraints::builder()
            .encryption_context_subset("tenant", "A")
            .build(),
    ] {
        let looser = p
            .bob
            .create_grant()
            .key_id(&arn)
            .grantee_principal(bob())
            .operations(GrantOperation::Decrypt)
            .constraints(constraints)
            .send()
            .await;
        assert_eq!(error_code(looser), "AccessDeniedException");
    }
    // An operation the enabling grant lacks: refused.
    let wider = p
        .bob
        .create_grant()
        .key_id(&arn)
        .grantee_principal(bob())
        .operations(GrantOperation::Encrypt)
        .constraints(
            GrantConstraints::builder()
                .encryption_context_equals("tenant", "A")
                .build(),
        )
        .send()
        .await;
    assert_eq!(error_code(wider), "AccessDeniedException");
    // The same constraint (keys compare ignoring case): allowed.
    p.bob
        .create_grant()
        .key_id(&arn)
        .grantee_principal(format!("arn:aws:iam::{A}:user/mallory"))
        .operations(GrantOperation::Decrypt)
        .constraints(
            GrantConstraints::builder()
                .encryption_context_equals("Tenant", "A")
                .build(),
        )
        .send()
        .await
        .expect("a grant as strict as bob's");
    assert_eq!(
        decrypt(&p.bob, &tenant_b, &[("tenant", "B")]).await,
        Err("AccessDeniedException".into())
    );
    assert_eq!(
        decrypt(&p.mallory, &tenant_b, &[("tenant", "B")]).await,
        Err("AccessDeniedException".into())
    );
    decrypt(&p.mallory, &tenant_a, &[("tenant", "A")])
        .await
        .expect("mallory decrypts tenant A through bob's grant");
}

#[tokio::test(flavor = "multi_thread")]
async fn another_account_may_use_but_not_administer_a_key() {
    let server = Server::start_with_config(&config(""));
    let p = people(&server);
    let carol = format!("arn:aws:iam::{B}:user/carol");
    let (key, arn) = key_with_policy(&p.alice, &only(&[&alice(), &carol])).await;
    let blob = encrypt(&p.carol, &arn, &[]).await;
    decrypt(&p.carol, &blob, &[]).await.expect("carol decrypts");
    p.carol
        .describe_key()
        .key_id(&arn)
        .send()
        .await
        .expect("carol describes");

    let policy = p
        .carol
        .put_key_policy()
        .key_id(&arn)
        .policy(only(&[&carol]))
        .bypass_policy_lockout_safety_check(true)
        .send()
        .await;
    assert_eq!(error_code(policy), "AccessDeniedException");
    let disable = p.carol.disable_key().key_id(&arn).send().await;
    assert_eq!(error_code(disable), "AccessDeniedException");
    let delete = p
        .carol
        .schedule_key_deletion()
        .key_id(&arn)
        .pending_window_in_days(7)
        .send()
        .await;
    assert_eq!(error_code(delete), "AccessDeniedException");
    let describe = p
        .carol
        .update_key_description()
        .key_id(&arn)
        .description("mine now")
        .send()
        .await;
    assert_eq!(error_code(describe), "AccessDeniedException");
    let tag = p
        .carol
        .tag_resource()
        .key_id(&arn)
        .tags(
            aws_sdk_kms::types::Tag::builder()
                .tag_key("owner")
                .tag_value("carol")
                .build()
                .unwrap(),
        )
        .send()
        .await;
    assert_eq!(error_code(tag), "AccessDeniedException");
    let meta = p
        .alice
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.key_state, Some(KeyState::Enabled));
    assert_eq!(meta.description.as_deref(), Some(""));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_takes_at_most_the_configured_number_of_grants() {
    let server = Server::start_with_config(&config("grants_per_key_limit = 3\n"));
    let p = people(&server);
    let key = common::new_key(&p.alice).await;
    let grant = || {
        p.alice
            .create_grant()
            .key_id(&key)
            .grantee_principal(bob())
            .operations(GrantOperation::Encrypt)
            .send()
    };
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(grant().await.expect("within the limit").grant_id.unwrap());
    }
    assert_eq!(error_code(grant().await), "LimitExceededException");
    p.alice
        .revoke_grant()
        .key_id(&key)
        .grant_id(&ids[0])
        .send()
        .await
        .unwrap();
    grant().await.expect("room again after a revocation");
}

/// A key policy: alice administers; bob gets `bob_statement`'s actions under
/// its condition.
fn policy_with_bob(bob_statement: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[
  {{"Sid":"Admin","Effect":"Allow","Principal":{{"AWS":"{}"}},"Action":"kms:*","Resource":"*"}},
  {bob_statement}
]}}"#,
        alice()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn grant_condition_keys_are_supplied() {
    let server = Server::start_with_config(&config(""));
    let p = people(&server);
    let statement = format!(
        r#"{{"Sid":"BobGrantsEncryptOnly","Effect":"Allow","Principal":{{"AWS":"{}"}},
    "Action":"kms:CreateGrant","Resource":"*","Condition":{{
      "ForAllValues:StringEquals":{{"kms:GrantOperations":["Encrypt"]}},
      "StringEquals":{{"kms:GranteePrincipal":"arn:aws:iam::{A}:user/mallory"}}}}}}"#,
        bob()
    );
    let (key, _) = key_with_policy(&p.alice, &policy_with_bob(&statement)).await;
    let grant = |op: GrantOperation, grantee: String| {
        p.bob
            .create_grant()
            .key_id(&key)
            .grantee_principal(grantee)
            .operations(op)
            .send()
    };
    let mallory = format!("arn:aws:iam::{A}:user/mallory");
    assert_eq!(
        error_code(grant(GrantOperation::Decrypt, mallory.clone()).await),
        "AccessDeniedException"
    );
    assert_eq!(
        error_code(grant(GrantOperation::Encrypt, bob()).await),
        "AccessDeniedException"
    );
    grant(GrantOperation::Encrypt, mallory)
        .await
        .expect("an Encrypt grant for mallory is what the policy allows");
}

#[tokio::test(flavor = "multi_thread")]
async fn request_and_resource_condition_keys_are_supplied() {
    let server = Server::start_with_config(&config(""));
    let p = people(&server);
    let statement = format!(
        r#"{{"Sid":"BobByTagFromLoopback","Effect":"Allow","Principal":{{"AWS":"{}"}},
    "Action":["kms:Encrypt","kms:Decrypt","kms:ScheduleKeyDeletion"],"Resource":"*","Condition":{{
      "StringEquals":{{"aws:ResourceTag/team":"blue"}},
      "IpAddress":{{"aws:SourceIp":"127.0.0.0/8"}},
      "NumericGreaterThanEqualsIfExists":{{"kms:ScheduleKeyDeletionPendingWindowInDays":"20"}},
      "Bool":{{"aws:SecureTransport":"false"}}}}}},
  {{"Sid":"NoBlockedAlias","Effect":"Deny","Principal":{{"AWS":"{}"}},
    "Action":"kms:Encrypt","Resource":"*",
    "Condition":{{"StringEquals":{{"kms:RequestAlias":"alias/blocked"}}}}}}"#,
        bob(),
        bob()
    );
    let (key, _) = key_with_policy(&p.alice, &policy_with_bob(&statement)).await;
    for alias in ["alias/blocked", "alias/fine"] {
        p.alice
            .create_alias()
            .alias_name(alias)
            .target_key_id(&key)
            .send()
            .await
            .unwrap();
    }
    let try_encrypt = |id: &'static str| {
        p.bob
            .encrypt()
            .key_id(id)
            .plaintext(Blob::new(b"x".to_vec()))
            .send()
    };
    // No tag yet: aws:ResourceTag/team is absent.
    assert_eq!(
        error_code(try_encrypt("alias/fine").await),
        "AccessDeniedException"
    );
    p.alice
        .tag_resource()
        .key_id(&key)
        .tags(
            aws_sdk_kms::types::Tag::builder()
                .tag_key("team")
                .tag_value("blue")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    try_encrypt("alias/fine")
        .await
        .expect("tagged blue, from loopback, over plain HTTP");
    assert_eq!(
        error_code(try_encrypt("alias/blocked").await),
        "AccessDeniedException"
    );
    let short = p
        .bob
        .schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(7)
        .send()
        .await;
    assert_eq!(error_code(short), "AccessDeniedException");
    p.bob
        .schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(25)
        .send()
        .await
        .expect("a window the policy allows");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_naming_an_unsupported_condition_key_is_refused() {
    let server = Server::start_with_config(&config(""));
    let p = people(&server);
    let statement = format!(
        r#"{{"Sid":"Org","Effect":"Allow","Principal":{{"AWS":"{}"}},"Action":"kms:Decrypt",
    "Resource":"*","Condition":{{"StringEquals":{{"aws:PrincipalOrgID":"o-abc"}}}}}}"#,
        bob()
    );
    let policy = policy_with_bob(&statement);
    let created = p.alice.create_key().policy(&policy).send().await;
    let error = created.expect_err("CreateKey with an unsupported condition key");
    let service = error.as_service_error().expect("service error");
    assert_eq!(
        service.meta().code(),
        Some("MalformedPolicyDocumentException")
    );
    assert!(
        service
            .meta()
            .message()
            .unwrap_or_default()
            .contains("aws:PrincipalOrgID"),
        "{service:?}"
    );
    let key = common::new_key(&p.alice).await;
    let put = p
        .alice
        .put_key_policy()
        .key_id(&key)
        .policy(&policy)
        .send()
        .await;
    assert_eq!(error_code(put), "MalformedPolicyDocumentException");
    // Values the Date and IpAddress operators can never match are refused too.
    for condition in [
        r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}"#,
        r#"{"NotIpAddress":{"aws:SourceIp":"not-an-address"}}"#,
        r#"{"DateLessThan":{"aws:CurrentTime":"yesterday"}}"#,
    ] {
        let statement = format!(
            r#"{{"Sid":"Bad","Effect":"Allow","Principal":{{"AWS":"{}"}},"Action":"kms:Decrypt",
    "Resource":"*","Condition":{condition}}}"#,
            bob()
        );
        let put = p
            .alice
            .put_key_policy()
            .key_id(&key)
            .policy(policy_with_bob(&statement))
            .send()
            .await;
        assert_eq!(
            error_code(put),
            "MalformedPolicyDocumentException",
            "{condition}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn context_keys_that_differ_only_in_case_cannot_hide_a_value() {
    let server = Server::start_with_config(&config(""));
    let p = people(&server);
    let statement = format!(
        r#"{{"Sid":"Bob","Effect":"Allow","Principal":{{"AWS":"{}"}},"Action":"kms:Encrypt","Resource":"*"}},
  {{"Sid":"NotTenantB","Effect":"Deny","Principal":{{"AWS":"{}"}},"Action":"kms:Encrypt","Resource":"*",
    "Condition":{{"StringEquals":{{"kms:EncryptionContext:tenant":"B"}}}}}}"#,
        bob(),
        bob()
    );
    let (key, _) = key_with_policy(&p.alice, &policy_with_bob(&statement)).await;
    let attempt = |pairs: &'static [(&'static str, &'static str)]| {
        let mut req = p
            .bob
            .encrypt()
            .key_id(&key)
            .plaintext(Blob::new(b"x".to_vec()));
        for (k, v) in pairs {
            req = req.encryption_context(*k, *v);
        }
        req.send()
    };
    attempt(&[("tenant", "A")]).await.expect("tenant A");
    assert_eq!(
        error_code(attempt(&[("Tenant", "B")]).await),
        "AccessDeniedException"
    );
    assert_eq!(
        error_code(attempt(&[("Tenant", "B"), ("tenant", "A")]).await),
        "AccessDeniedException"
    );
}

/// A SignedHeaders list that names one large header many times would make
/// the canonical request that many copies of it: refused before any of it
/// is built, in both dialects (and so is an unsorted list, which no SDK
/// writes).
#[test]
fn a_signed_headers_list_cannot_multiply_a_header() {
    let server = Server::start();
    let (access_key, _) = server.credentials();
    let big = "x".repeat(32 * 1024);
    let repeated = vec!["a"; 1000].join(";");
    let now = time::OffsetDateTime::now_utc();
    let amz_date = now
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap();
    let day = &amz_date[..8];
    for signed in [
        format!("a;{repeated};host;x-amz-date"),
        "x-amz-date;host".to_string(),
    ] {
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={access_key}/{day}/us-east-1/kms/aws4_request, \
             SignedHeaders={signed}, Signature={}",
            "0".repeat(64)
        );
        let (status, body) = server.raw(
            "/",
            &[
                ("Authorization", &authorization),
                ("X-Amz-Date", &amz_date),
                ("X-Amz-Target", "TrentService.ListKeys"),
                ("Content-Type", "application/x-amz-json-1.1"),
                ("a", &big),
            ],
            b"{}",
        );
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("IncompleteSignature"), "{body}");
        assert!(body.contains("each header once, in sorted order"), "{body}");
    }
    let huawei = format!(
        "SDK-HMAC-SHA256 Access={access_key}, SignedHeaders={repeated};host;x-sdk-date, \
         Signature={}",
        "0".repeat(64)
    );
    let (status, body) = server.raw(
        "/v1.0/00000000000000000000000000000000/kms/list-keys",
        &[
            ("Authorization", &huawei),
            ("X-Sdk-Date", &amz_date),
            ("Content-Type", "application/json"),
            ("a", &big),
        ],
        b"{}",
    );
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("each header once, in sorted order"), "{body}");
}

/// Clients that send too much before their headers end, trickle a body or
/// never finish their headers are cut off: 431 for headers over 64 KiB, 408
/// (RequestTimeoutException) for a body not all there within 30 s, and a
/// closed connection for headers not all there within 60 s (an idle
/// keep-alive connection too).
#[test]
fn slow_and_oversized_clients_are_cut_off() {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};
    let server = Server::start();
    let (status, _) = server.raw("/", &[("a", &"x".repeat(80 * 1024))], b"{}");
    assert_eq!(status, 431);

    let addr = server.addr;
    let slow_body = std::thread::spawn(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(50)))
            .unwrap();
        let head = format!(
            "POST / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Target: TrentService.ListKeys\r\n\
             Content-Type: application/x-amz-json-1.1\r\nContent-Length: 100\r\n\r\n{{}}"
        );
        stream.write_all(head.as_bytes()).unwrap();
        let mut answer = vec![0u8; 4096];
        let n = stream.read(&mut answer).unwrap_or(0);
        String::from_utf8_lossy(&answer[..n]).to_string()
    });
    let slow_head = std::thread::spawn(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(80)))
            .unwrap();
        stream.write_all(b"POST / HTTP/1.1\r\n").unwrap();
        let started = Instant::now();
        let mut answer = [0u8; 64];
        let read = stream.read(&mut answer);
        (started.elapsed(), read.map_err(|e| e.kind()))
    });
    let answer = slow_body.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("RequestTimeoutException"), "{answer}");
    let (waited, read) = slow_head.join().unwrap();
    // Closed (EOF or reset), not left open until the client's own timeout.
    assert!(waited < Duration::from_secs(75), "{waited:?} {read:?}");
    assert!(
        !matches!(read, Err(std::io::ErrorKind::WouldBlock)),
        "{read:?}"
    );
}

/// Past `max_connections` open connections, a new one is closed as soon as
/// it is accepted; once one closes, connections are admitted again.
#[test]
fn connections_past_the_bound_are_closed() {
    use std::io::Read;
    use std::time::{Duration, Instant};
    let server = Server::start_with_env(&[("TRENT_MAX_CONNECTIONS", "4")]);
    let addr = server.addr;
    // Five connections: the server admits four, in whatever order its
    // tasks take them, and closes the fifth unread.
    let streams: Vec<std::net::TcpStream> = (0..5)
        .map(|_| {
            let stream = std::net::TcpStream::connect(addr).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            stream
        })
        .collect();
    // Marks each stream the server has closed (a read ends or fails other
    // than by the read timeout).
    let note_closed = |closed: &mut Vec<bool>| {
        for (stream, closed) in streams.iter().zip(closed.iter_mut()) {
            let mut byte = [0u8; 1];
            match (&*stream).read(&mut byte) {
                Ok(0) => *closed = true,
                Err(e) if e.kind() != std::io::ErrorKind::WouldBlock => *closed = true,
                _ => {}
            }
        }
    };
    let mut closed = vec![false; streams.len()];
    let until = Instant::now() + Duration::from_secs(20);
    while closed.iter().filter(|c| **c).count() < 1 && Instant::now() < until {
        note_closed(&mut closed);
    }
    std::thread::sleep(Duration::from_millis(500));
    note_closed(&mut closed);
    assert_eq!(closed.iter().filter(|c| **c).count(), 1, "{closed:?}");
    drop(streams);
    // The four are closed on the server's side soon after; then it serves.
    let served = common::eventually(Duration::from_secs(10), || server.get("/healthz").0 == 200);
    assert!(served, "no connection admitted after the others closed");
}
