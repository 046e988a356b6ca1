//! The audit trail: every request, allowed or refused, leaves one chained
//! line without plaintext, ciphertext or key material.

mod common;

use aws_sdk_kms::primitives::Blob;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{Server, error_code};
use serde_json::Value;
use std::process::Command;

fn lines(server: &Server) -> Vec<Value> {
    std::fs::read_to_string(server.data_dir().join("audit.log"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn verify(path: &std::path::Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_trent"))
        .args(["audit", "verify"])
        .arg(path)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn every_call_is_recorded_without_secrets_and_the_chain_verifies() {
    let server = Server::start();
    let kms = server.client("us-east-1");
    let plaintext = b"SECRET-PLAINTEXT-4711".to_vec();

    let key = kms
        .create_key()
        .description("audited")
        .send()
        .await
        .unwrap();
    let arn = key.key_metadata.unwrap().arn.unwrap();
    let encrypted = kms
        .encrypt()
        .key_id(&arn)
        .plaintext(Blob::new(plaintext.clone()))
        .encryption_context("purpose", "audit")
        .send()
        .await
        .unwrap();
    let blob = encrypted.ciphertext_blob.unwrap().into_inner();
    let decrypted = kms
        .decrypt()
        .ciphertext_blob(Blob::new(blob.clone()))
        .encryption_context("purpose", "audit")
        .send()
        .await
        .unwrap();
    let data_key = kms
        .generate_data_key()
        .key_id(&arn)
        .number_of_bytes(32)
        .send()
        .await
        .unwrap();
    // Refused calls: a wrong context, an unknown key, a wrong secret, no signature.
    let wrong = kms
        .decrypt()
        .ciphertext_blob(Blob::new(blob.clone()))
        .send()
        .await;
    assert_eq!(error_code(wrong), "InvalidCiphertextException");
    let (access_key, _) = server.credentials();
    let forged = server.client_as("us-east-1", &access_key, "wrong");
    assert_eq!(
        error_code(forged.list_keys().send().await),
        "InvalidSignatureException"
    );
    let (status, _) = server.raw("/", &[("X-Amz-Target", "TrentService.ListKeys")], b"{}");
    assert_eq!(status, 403);

    let records = lines(&server);
    let ops: Vec<&str> = records
        .iter()
        .map(|r| r["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        ops,
        vec![
            "CreateKey",
            "Encrypt",
            "Decrypt",
            "GenerateDataKey",
            "Decrypt",
            "ListKeys",
            "ListKeys"
        ]
    );
    let errors: Vec<Option<&str>> = records.iter().map(|r| r["error_code"].as_str()).collect();
    assert_eq!(
        errors,
        vec![
            None,
            None,
            None,
            None,
            Some("InvalidCiphertextException"),
            Some("InvalidSignatureException"),
            Some("MissingAuthenticationTokenException")
        ]
    );
    let root = "arn:aws:iam::111122223333:root";
    for r in &records[..5] {
        assert_eq!(r["principal"], root, "{r}");
        assert_eq!(r["access_key_id"], access_key.as_str(), "{r}");
        assert_eq!(r["region"], "us-east-1", "{r}");
        assert!(
            r["source_address"]
                .as_str()
                .unwrap()
                .starts_with("127.0.0.1:")
        );
        assert_eq!(r["dialect"], "aws");
        assert!(r["request_id"].as_str().unwrap().len() >= 32);
    }
    for r in &records[..4] {
        assert_eq!(r["key_arns"], serde_json::json!([arn]), "{r}");
    }
    assert_eq!(
        records[1]["parameters"]["EncryptionContext"]["purpose"],
        "audit"
    );
    assert_eq!(records[1]["parameters"]["Plaintext"], "<redacted>");
    assert_eq!(records[2]["parameters"]["CiphertextBlob"], "<redacted>");
    assert_eq!(records[5]["access_key_id"], access_key.as_str());
    assert!(records[5]["principal"].is_null());

    // Nothing secret is in the file, in any encoding.
    let text = std::fs::read_to_string(server.data_dir().join("audit.log")).unwrap();
    let secrets = [
        STANDARD.encode(&plaintext),
        STANDARD.encode(&blob),
        STANDARD.encode(decrypted.plaintext.unwrap().as_ref()),
        STANDARD.encode(data_key.plaintext.unwrap().as_ref()),
        STANDARD.encode(data_key.ciphertext_blob.unwrap().as_ref()),
        "SECRET-PLAINTEXT".to_string(),
    ];
    for secret in secrets {
        assert!(!text.contains(&secret), "the audit log contains {secret}");
    }

    // The chain verifies, and an edited line is found.
    let path = server.data_dir().join("audit.log");
    let (ok, out) = verify(&path);
    assert!(ok, "{out}");
    assert!(out.contains("OK: 7 lines"), "{out}");
    let copy = server.data_dir().join("audit-edited.log");
    std::fs::write(&copy, text.replacen("\"audited\"", "\"innocent\"", 1)).unwrap();
    let (ok, out) = verify(&copy);
    assert!(!ok);
    assert!(out.contains("BROKEN at line 2"), "{out}");
}

/// What is signed or MACed, the signature or MAC over it and imported
/// material never reach the log; the algorithms and message types do.
#[tokio::test(flavor = "multi_thread")]
async fn messages_signatures_macs_and_imported_material_are_redacted() {
    use aws_sdk_kms::types::{
        AlgorithmSpec, ExpirationModelType, KeySpec, KeyUsageType, MacAlgorithmSpec, MessageType,
        SigningAlgorithmSpec,
    };
    use common::import::{create_external, parameters, try_import, wrap_for};

    let server = Server::start();
    let kms = server.client("us-east-1");
    let create = |spec: KeySpec, usage: KeyUsageType| {
        let kms = kms.clone();
        async move {
            let key = kms.create_key().key_spec(spec).key_usage(usage).send();
            key.await.unwrap().key_metadata.unwrap().key_id
        }
    };
    let signing = create(KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let hmac = create(KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac).await;
    let message = b"PASSWORD-TO-PEPPER-0815".to_vec();
    let signature = kms
        .sign()
        .key_id(&signing)
        .message(Blob::new(message.clone()))
        .message_type(MessageType::Raw)
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .unwrap()
        .signature
        .unwrap()
        .into_inner();
    let verified = kms
        .verify()
        .key_id(&signing)
        .message(Blob::new(message.clone()))
        .message_type(MessageType::Raw)
        .signature(Blob::new(signature.clone()))
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .unwrap();
    assert!(verified.signature_valid);
    let mac = kms
        .generate_mac()
        .key_id(&hmac)
        .message(Blob::new(message.clone()))
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .unwrap()
        .mac
        .unwrap()
        .into_inner();
    let checked = kms
        .verify_mac()
        .key_id(&hmac)
        .message(Blob::new(message.clone()))
        .mac(Blob::new(mac.clone()))
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .unwrap();
    assert!(checked.mac_valid);
    let external = create_external(&kms, KeySpec::SymmetricDefault).await;
    let granted = parameters(&kms, &external, AlgorithmSpec::RsaesOaepSha256).await;
    let material = [0x5a; 32];
    let wrapped = wrap_for(&granted, &material);
    let model = Some(ExpirationModelType::KeyMaterialDoesNotExpire);
    try_import(&kms, &external, &granted.token, &wrapped, model, None)
        .await
        .unwrap();

    // An operation Trent does not serve is recorded too, without its secrets.
    let (status, _) = server.call_raw(
        "CreateCustomKeyStore",
        r#"{"CustomKeyStoreName":"hsm","KeyStorePassword":"KMSUSER-PASSWORD-7",
            "XksProxyAuthenticationCredential":{"AccessKeyId":"AKIAXKS","RawSecretAccessKey":"RAW-XKS-SECRET-9"}}"#,
    );
    assert_eq!(status, 400);

    let records = lines(&server);
    let record = |operation: &str| {
        records
            .iter()
            .find(|r| r["operation"] == operation)
            .unwrap_or_else(|| panic!("a {operation} record"))["parameters"]
            .clone()
    };
    let sign = record("Sign");
    assert_eq!(sign["Message"], "<redacted>", "{sign}");
    assert_eq!(sign["MessageType"], "RAW", "{sign}");
    assert_eq!(sign["SigningAlgorithm"], "ECDSA_SHA_256", "{sign}");
    let verify = record("Verify");
    assert_eq!(verify["Message"], "<redacted>", "{verify}");
    assert_eq!(verify["Signature"], "<redacted>", "{verify}");
    let generate = record("GenerateMac");
    assert_eq!(generate["Message"], "<redacted>", "{generate}");
    assert_eq!(generate["MacAlgorithm"], "HMAC_SHA_256", "{generate}");
    let check = record("VerifyMac");
    assert_eq!(check["Message"], "<redacted>", "{check}");
    assert_eq!(check["Mac"], "<redacted>", "{check}");
    let imported = record("ImportKeyMaterial");
    assert_eq!(imported["EncryptedKeyMaterial"], "<redacted>", "{imported}");
    assert_eq!(imported["ImportToken"], "<redacted>", "{imported}");
    let unserved = records
        .iter()
        .find(|r| r["parameters"]["KeyStorePassword"].is_string())
        .expect("the CreateCustomKeyStore call is recorded");
    assert_eq!(unserved["parameters"]["KeyStorePassword"], "<redacted>");
    assert_eq!(imported["ExpirationModel"], "KEY_MATERIAL_DOES_NOT_EXPIRE");

    let text = std::fs::read_to_string(server.data_dir().join("audit.log")).unwrap();
    for secret in [
        STANDARD.encode(&message),
        STANDARD.encode(&signature),
        STANDARD.encode(&mac),
        STANDARD.encode(&wrapped),
        STANDARD.encode(&granted.token),
        "PASSWORD-TO-PEPPER".to_string(),
        "KMSUSER-PASSWORD".to_string(),
        "RAW-XKS-SECRET".to_string(),
    ] {
        assert!(!text.contains(&secret), "the audit log contains {secret}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_chain_continues_across_restarts() {
    let server = Server::start();
    server.client("us-east-1").list_keys().send().await.unwrap();
    let server = Server::restart(server.stop());
    server.client("us-west-2").list_keys().send().await.unwrap();
    let records = lines(&server);
    assert_eq!(records.len(), 2);
    assert_eq!(records[1]["region"], "us-west-2");
    let (ok, out) = verify(&server.data_dir().join("audit.log"));
    assert!(ok, "{out}");
}

/// A crash in the middle of a group's `write` leaves an incomplete last
/// line that no response waited on: the next start moves it beside the log
/// (and says so), keeps every complete line, and continues the chain.
#[tokio::test(flavor = "multi_thread")]
async fn a_torn_last_line_is_set_aside_at_start_and_the_chain_continues() {
    let server = Server::start();
    let kms = server.client("us-east-1");
    for _ in 0..3 {
        kms.list_keys().send().await.unwrap();
    }
    let data = server.kill9();
    let log = data.path.join("audit.log");
    let complete = std::fs::read(&log).unwrap();
    let fragment = b"{\"prev_hash\":\"5d1c0e";
    std::fs::write(&log, [complete.as_slice(), fragment].concat()).unwrap();
    assert!(!verify(&log).0, "the torn line should break the chain");

    let server = Server::restart_logged(data, &[]);
    server.client("us-west-2").list_keys().send().await.unwrap();
    let records = lines(&server);
    assert_eq!(records.len(), 4);
    assert_eq!(records[3]["region"], "us-west-2");
    let text = std::fs::read(&log).unwrap();
    assert_eq!(text[..complete.len()], complete[..]);
    let (ok, out) = verify(&log);
    assert!(ok, "{out}");

    let kept: Vec<_> = std::fs::read_dir(server.data_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("audit.log.torn-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(std::fs::read(&kept[0]).unwrap(), fragment);
    let said = server.log();
    assert!(said.contains("incomplete line"), "{said}");
    assert!(said.contains(&*kept[0].to_string_lossy()), "{said}");
}

/// The keys a line names come from the KMS core, the same for every
/// operation: an alias and the key it found, the key a ciphertext names,
/// a new key; nothing for a key that does not exist or for a listing.
#[tokio::test(flavor = "multi_thread")]
async fn lines_name_the_keys_the_core_found() {
    let server = Server::start();
    let kms = server.client("us-east-1");
    let arn = kms
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap();
    kms.create_alias()
        .alias_name("alias/audited")
        .target_key_id(&arn)
        .send()
        .await
        .unwrap();
    let blob = kms
        .encrypt()
        .key_id("alias/audited")
        .plaintext(Blob::new(b"x".to_vec()))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    kms.decrypt().ciphertext_blob(blob).send().await.unwrap();
    let missing = "134f2428-cec1-4b25-a1ae-9048164dba47";
    assert_eq!(
        error_code(kms.describe_key().key_id(missing).send().await),
        "NotFoundException"
    );
    kms.list_keys().send().await.unwrap();

    let alias_arn = "arn:aws:kms:us-east-1:111122223333:alias/audited";
    let named: Vec<(String, Value)> = lines(&server)
        .into_iter()
        .map(|r| {
            (
                r["operation"].as_str().unwrap().to_string(),
                r["key_arns"].clone(),
            )
        })
        .collect();
    assert_eq!(
        named,
        vec![
            ("CreateKey".to_string(), serde_json::json!([arn])),
            ("CreateAlias".to_string(), serde_json::json!([arn])),
            ("Encrypt".to_string(), serde_json::json!([alias_arn, arn])),
            ("Decrypt".to_string(), serde_json::json!([arn])),
            ("DescribeKey".to_string(), serde_json::json!([])),
            ("ListKeys".to_string(), serde_json::json!([])),
        ]
    );
}

/// Every line names the node that wrote it: the configured `node_id`
/// (`TRENT_NODE_ID`), else an id made on first start, kept in
/// `<data_dir>/node-id` and the same after a restart.
#[tokio::test(flavor = "multi_thread")]
async fn lines_name_their_node() {
    let named = Server::start_with_env(&[("TRENT_NODE_ID", "kms-eu-1")]);
    named.client("us-east-1").list_keys().send().await.unwrap();
    let lines_named = lines(&named);
    assert!(!lines_named.is_empty());
    assert!(
        lines_named.iter().all(|l| l["node"] == "kms-eu-1"),
        "{lines_named:?}"
    );

    let server = Server::start();
    server.client("us-east-1").list_keys().send().await.unwrap();
    let id = std::fs::read_to_string(server.data_dir().join("node-id"))
        .unwrap()
        .trim()
        .to_string();
    assert!(id.starts_with("node-") && id.len() == 13, "{id}");
    assert!(lines(&server).iter().all(|l| l["node"] == id.as_str()));
    let server = Server::restart(server.stop());
    server.client("us-east-1").list_keys().send().await.unwrap();
    assert!(lines(&server).iter().all(|l| l["node"] == id.as_str()));
    let (intact, out) = verify(&server.data_dir().join("audit.log"));
    assert!(intact, "{out}");
    assert!(out.contains(&format!("written by node {id}")), "{out}");
}

/// A configured node id outside 1–64 letters, digits, `.`, `_`, `-` keeps
/// the server from starting, with a message naming the rule.
#[test]
fn a_malformed_node_id_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_trent"))
        .arg("serve")
        .env("TRENT_DATA_DIR", dir.path().join("data"))
        .env("TRENT_LISTEN", "127.0.0.1:0")
        .env("TRENT_NODE_ID", "node one")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("node id \"node one\" must be 1-64"),
        "{stderr}"
    );
}

/// A request that fails authentication is recorded, but an unauthenticated
/// client cannot write long lines: its body is not kept, and what it names
/// (operation, path, access key id) is clipped to 128 characters.
#[tokio::test(flavor = "multi_thread")]
async fn unauthenticated_requests_leave_short_lines() {
    let server = Server::start();
    let target = format!("TrentService.{}", "\"".repeat(20_000));
    let access_key = "A".repeat(5_000);
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={access_key}/20261203/us-east-1/kms/aws4_request, \
         SignedHeaders=host, Signature=00"
    );
    let body = format!("[{}]", vec!["1e15"; 40_000].join(","));
    let (status, _) = server.raw(
        "/",
        &[
            ("X-Amz-Target", &target),
            ("Authorization", &authorization),
            ("X-Amz-Date", "20261203T000000Z"),
        ],
        body.as_bytes(),
    );
    assert_eq!(status, 400);
    let huawei = format!("/v1.0/{}/kms/create-key", "p".repeat(20_000));
    let (status, _) = server.raw(&huawei, &[], b"{\"key_alias\":\"x\"}");
    assert!(status >= 400, "{status}");
    let text = std::fs::read_to_string(server.data_dir().join("audit.log")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    for line in lines {
        assert!(line.len() < 2_000, "{} bytes: {line:.300}", line.len());
        let record: Value = serde_json::from_str(line).unwrap();
        assert!(record["parameters"].is_null(), "{record}");
        assert!(record["principal"].is_null(), "{record}");
    }
}
