//! The Huawei Cloud KMS dialect, driven by Huawei's official Python SDK
//! (`tests/huawei/sdk_checks.py`, `huaweicloudsdkkms` 3.1.219): key
//! lifecycle, data encryption, data keys, random, rotation, tags,
//! replicate and update-primary-region between the projects of two regions,
//! and refusals (bad signature, unknown AK, bad token) with Huawei's error
//! body. Around it, the AWS SDK makes a key the Huawei side uses, and uses
//! the keys and ciphertexts the Huawei side made. Then the audit trail.

mod common;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::MultiRegionKeyType;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::Server;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

const ACCOUNT: &str = "111122223333";
const ROOT_AK: &str = "HWTESTROOTAK00000001";
const ROOT_SK: &str = "hw-test-root-secret-key";
const READER_AK: &str = "HWTESTREADER00000001";
const READER_SK: &str = "hw-test-reader-secret-key";
const TOKEN: &str = "hw-test-token-7d1c2f0e9a";
const EAST: &str = "us-east-1";
const WEST: &str = "us-west-2";

fn config() -> String {
    format!(
        r#"
[[credentials]]
access_key_id = "{ROOT_AK}"
secret_access_key = "{ROOT_SK}"
principal = "arn:aws:iam::{ACCOUNT}:root"

[[credentials]]
access_key_id = "{READER_AK}"
secret_access_key = "{READER_SK}"
principal = "arn:aws:iam::{ACCOUNT}:user/reader"
policy = '''{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["kms:DescribeKey","kms:ListKeys","kms:ListAliases"],"Resource":"*"}}]}}'''

[auth_tokens]
"{TOKEN}" = "arn:aws:iam::{ACCOUNT}:root"
"#
    )
}

/// Runs the Python driver with `spec` on stdin; returns its status and output.
fn run_driver(spec: &Value) -> (bool, String) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/huawei/sdk_checks.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (the SDK is installed by .ci/run)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(spec.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().expect("driver finishes");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn b64(text: &str) -> Vec<u8> {
    STANDARD.decode(text).expect("base64")
}

#[tokio::test(flavor = "multi_thread")]
async fn huawei_sdk_drives_the_same_keys_as_the_aws_dialect() {
    let server = Server::start_with_config(&config());
    let projects: BTreeMap<String, String> = serde_json::from_slice(
        &std::fs::read(server.data_dir().join("huawei-projects.json"))
            .expect("dev mode writes huawei-projects.json"),
    )
    .unwrap();
    let mut regions: Vec<&String> = projects.values().collect();
    regions.sort();
    assert_eq!(regions, [EAST, WEST], "one project per hosted region");

    // The AWS half: a single-Region key and a ciphertext under it.
    let aws = server.client_as(EAST, ROOT_AK, ROOT_SK);
    let aws_key = aws
        .create_key()
        .description("made through the AWS dialect")
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let aws_ciphertext = aws
        .encrypt()
        .key_id(&aws_key)
        .plaintext(Blob::new("made through aws"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();

    let out_dir = tempfile::TempDir::new().unwrap();
    let out = out_dir.path().join("huawei-out.json");
    let spec = json!({
        "endpoint": server.url(),
        "projects": projects,
        "root": [ROOT_AK, ROOT_SK],
        "reader": [READER_AK, READER_SK],
        "token": TOKEN,
        "aws_key_id": aws_key,
        "aws_ciphertext": STANDARD.encode(aws_ciphertext.as_ref()),
        "aws_plaintext": "made through aws",
        "out": out,
    });
    let driver = tokio::task::spawn_blocking(move || run_driver(&spec));
    let (passed, output) = driver.await.unwrap();
    println!("{output}");
    assert!(passed, "Huawei SDK checks failed:\n{output}");

    // Back through the AWS dialect.
    let results: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let text = |name: &str| results[name].as_str().unwrap().to_string();
    let decrypt = |blob: Vec<u8>, context: Option<(&str, &str)>| {
        let mut call = aws.decrypt().ciphertext_blob(Blob::new(blob));
        if let Some((k, v)) = context {
            call = call.encryption_context(k, v);
        }
        call.send()
    };
    let plain = decrypt(b64(&text("aws_key_sealed_here")), None)
        .await
        .unwrap();
    assert_eq!(plain.plaintext.unwrap().as_ref(), b"sealed by huawei");
    assert!(plain.key_id.unwrap().ends_with(&format!("key/{aws_key}")));

    let huawei_id = text("huawei_key_id");
    let mrk = format!("mrk-{}", huawei_id.replace('-', ""));
    let described = aws
        .describe_key()
        .key_id(&mrk)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(
        described.key_id, mrk,
        "a Huawei key is the mrk- key of its digits"
    );
    assert_eq!(described.multi_region, Some(true));
    let alias = aws
        .list_aliases()
        .key_id(&mrk)
        .send()
        .await
        .unwrap()
        .aliases
        .unwrap();
    assert!(
        alias[0]
            .alias_name()
            .unwrap()
            .starts_with("alias/hw-cross-"),
        "{alias:?}"
    );
    let plain = decrypt(b64(&text("huawei_ciphertext")), None)
        .await
        .unwrap();
    assert_eq!(plain.plaintext.unwrap().as_ref(), b"huawei to aws");
    let refused = decrypt(b64(&text("huawei_aad_ciphertext")), None).await;
    assert!(refused.is_err(), "the Huawei AAD is part of the context");
    let plain = decrypt(
        b64(&text("huawei_aad_ciphertext")),
        Some(("additional_authenticated_data", "tenant-a")),
    )
    .await
    .unwrap();
    assert_eq!(plain.plaintext.unwrap().as_ref(), b"with aad");
    let data_key = decrypt(hex::decode(text("huawei_datakey_cipher")).unwrap(), None)
        .await
        .unwrap();
    assert_eq!(
        hex::encode(data_key.plaintext.unwrap().as_ref()),
        text("huawei_datakey_plain")
    );

    let replicated = format!("mrk-{}", text("replicated_key_id").replace('-', ""));
    let west = server.client_as(WEST, ROOT_AK, ROOT_SK);
    let copy = west
        .describe_key()
        .key_id(&replicated)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let configuration = copy.multi_region_configuration.unwrap();
    assert_eq!(
        configuration.multi_region_key_type,
        Some(MultiRegionKeyType::Primary),
        "update-primary-region made the us-west-2 copy primary"
    );
    assert_eq!(configuration.replica_keys.unwrap().len(), 1);

    // The audit trail: the same records, with dialect "huawei".
    let log = std::fs::read_to_string(server.data_dir().join("audit.log")).unwrap();
    let records: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &Value| r["dialect"] == "huawei")
        .collect();
    assert!(records.len() > 50, "{} huawei records", records.len());
    let find = |pred: &dyn Fn(&Value) -> bool| records.iter().find(|r| pred(r)).cloned();
    let created = find(&|r| r["operation"] == "CreateKey" && r["error_code"].is_null())
        .expect("a CreateKey record");
    assert_eq!(created["principal"], format!("arn:aws:iam::{ACCOUNT}:root"));
    assert_eq!(created["access_key_id"], ROOT_AK);
    assert_eq!(created["region"], EAST);
    assert!(
        created["key_arns"][0]
            .as_str()
            .unwrap()
            .starts_with(&format!("arn:aws:kms:{EAST}:{ACCOUNT}:key/mrk-"))
    );
    let sealed = find(&|r| r["operation"] == "EncryptData").expect("an EncryptData record");
    assert_eq!(sealed["parameters"]["plain_text"], "<redacted>");
    assert!(find(&|r| r["error_code"] == "KMS.0301").is_some());
    assert!(find(&|r| r["error_code"] == "KMS.0302").is_some());
    assert!(find(&|r| r["error_code"] == "KMS.0306").is_some());
    let by_token = find(&|r| {
        r["operation"] == "ListKeyDetail"
            && r["access_key_id"].is_null()
            && r["error_code"].is_null()
    })
    .expect("a request authenticated by token");
    assert_eq!(
        by_token["principal"],
        format!("arn:aws:iam::{ACCOUNT}:root")
    );
    let verified = Command::new(env!("CARGO_BIN_EXE_trent"))
        .args(["audit", "verify"])
        .arg(server.data_dir().join("audit.log"))
        .output()
        .unwrap();
    assert!(verified.status.success(), "audit chain intact");
}
