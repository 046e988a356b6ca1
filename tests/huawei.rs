//! The Huawei Cloud KMS dialect, driven by Huawei's official Python SDK
//! (`tests/huawei/sdk_checks.py`, `huaweicloudsdkkms` 3.1.219): key
//! lifecycle, data encryption, data keys, random, rotation, tags, HMAC and
//! asymmetric keys (sign, verify, get-publickey, RSA encrypt-data and
//! decrypt-data, RSA and EC data key pairs), imported key material
//! (get-parameters-for-import, import-key-material with material wrapped
//! offline, of AES and HMAC keys and of RSA and EC private keys with
//! `encrypted_privatekey`, delete-imported-key-material, re-import),
//! replicate and
//! update-primary-region (there and straight back, each complete within a
//! second) between the projects of two regions, and refusals (bad
//! signature, unknown AK, bad token) with Huawei's error body. Around it,
//! the AWS SDK makes a key the Huawei side uses, and uses the keys,
//! ciphertexts and a signature the Huawei side made. Then the audit trail.

mod common;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    ExpirationModelType, KeyState, MessageType, MultiRegionKeyType, OriginType,
    SigningAlgorithmSpec,
};
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
const TOKEN: &str = "hw-test-token-7d1c2f0e9a-5b3e8c41d60f27a9";
const EAST: &str = "us-east-1";
const WEST: &str = "us-west-2";
/// The dev-mode projects, written to `huawei-projects.json` before the
/// first start so that the token can be scoped to the us-east-1 one.
const EAST_PROJECT: &str = "0e5a1c3b7d9f42e6a8b0c2d4e6f81357";
const WEST_PROJECT: &str = "7b2d4f6a8c0e41359d7f1b3c5e7a9024";

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

[[auth_tokens]]
token = "{TOKEN}"
principal = "arn:aws:iam::{ACCOUNT}:root"
project_id = "{EAST_PROJECT}"
expires_at = "2099-01-01T00:00:00Z"
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
    let server = Server::start_with_config_seeded(&config(), |data| {
        let projects = json!({ EAST_PROJECT: EAST, WEST_PROJECT: WEST });
        std::fs::write(data.join("huawei-projects.json"), projects.to_string()).unwrap();
    });
    let projects: BTreeMap<String, String> = serde_json::from_slice(
        &std::fs::read(server.data_dir().join("huawei-projects.json"))
            .expect("dev mode writes huawei-projects.json"),
    )
    .unwrap();
    let mut regions: Vec<&String> = projects.values().collect();
    regions.sort();
    assert_eq!(regions, [EAST, WEST], "one project per hosted region");
    assert_eq!(
        projects[EAST_PROJECT], EAST,
        "dev mode keeps the projects file"
    );

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

    let signing_key = format!("mrk-{}", text("huawei_signing_key_id").replace('-', ""));
    let verified = aws
        .verify()
        .key_id(&signing_key)
        .message(Blob::new(b64(&text("huawei_signed_digest"))))
        .message_type(MessageType::Digest)
        .signing_algorithm(SigningAlgorithmSpec::RsassaPssSha256)
        .signature(Blob::new(b64(&text("huawei_signature"))))
        .send()
        .await
        .unwrap();
    assert!(
        verified.signature_valid,
        "a signature made through Huawei's sign verifies through AWS Verify"
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
        Some(MultiRegionKeyType::Replica),
        "update-primary-region moved the primary to us-west-2 and back"
    );
    let primary = configuration.primary_key.unwrap();
    assert_eq!(primary.region.as_deref(), Some(EAST));
    assert_eq!(configuration.replica_keys.unwrap().len(), 1);

    let imported = format!("mrk-{}", text("imported_key_id").replace('-', ""));
    let metadata = aws
        .describe_key()
        .key_id(&imported)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(metadata.origin, Some(OriginType::External));
    assert_eq!(metadata.key_state, Some(KeyState::Enabled));
    assert_eq!(
        metadata.expiration_model,
        Some(ExpirationModelType::KeyMaterialExpires),
        "an expiration_time is AWS's KEY_MATERIAL_EXPIRES"
    );
    assert_eq!(
        metadata.valid_to.unwrap().secs(),
        results["imported_expiration_time"].as_i64().unwrap(),
        "expiration_time is Unix seconds"
    );
    let plain = decrypt(b64(&text("imported_ciphertext")), None)
        .await
        .unwrap();
    assert_eq!(
        plain.plaintext.unwrap().as_ref(),
        b"under imported material",
        "a ciphertext under imported material decrypts through the AWS dialect"
    );

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
    for operation in [
        "Sign",
        "ValidateSignature",
        "ShowPublicKey",
        "CreateRsaDatakeyPair",
        "CreateEcDatakeyPair",
    ] {
        let record = find(&|r| r["operation"] == operation && r["error_code"].is_null())
            .unwrap_or_else(|| panic!("a {operation} record"));
        assert!(
            record["key_arns"][0]
                .as_str()
                .is_some_and(|arn| arn.starts_with(&format!("arn:aws:kms:{EAST}:{ACCOUNT}:key/"))),
            "{operation} names its key: {record}"
        );
    }
    for operation in [
        "CreateParametersForImport",
        "ImportKeyMaterial",
        "DeleteImportedKeyMaterial",
    ] {
        let record = find(&|r| r["operation"] == operation && r["error_code"].is_null())
            .unwrap_or_else(|| panic!("a {operation} record"));
        assert_eq!(
            record["key_arns"][0],
            format!("arn:aws:kms:{EAST}:{ACCOUNT}:key/{imported}"),
            "{operation} names its key: {record}"
        );
    }
    for code in ["KMS.2603", "KMS.2605", "KMS.2606", "KMS.2701", "KMS.0309"] {
        assert!(
            find(&|r| r["error_code"] == code).is_some(),
            "a refusal with {code} is audited"
        );
    }
    let sealed = find(&|r| r["operation"] == "EncryptData").expect("an EncryptData record");
    assert_eq!(sealed["parameters"]["plain_text"], "<redacted>");
    for (operation, fields) in [
        ("Sign", &["message"][..]),
        ("ValidateSignature", &["message", "signature"][..]),
        ("GenerateMac", &["message"][..]),
        ("VerifyMac", &["message", "mac"][..]),
        (
            "ImportKeyMaterial",
            &["encrypted_key_material", "import_token"][..],
        ),
    ] {
        let record = find(&|r| r["operation"] == operation && r["error_code"].is_null())
            .unwrap_or_else(|| panic!("a {operation} record"));
        for field in fields {
            assert_eq!(
                record["parameters"][field], "<redacted>",
                "{operation} keeps {field} out of the log: {record}"
            );
        }
    }
    let private_keys: Vec<&Value> = records
        .iter()
        .filter_map(|r| r["parameters"].get("encrypted_privatekey"))
        .collect();
    assert!(!private_keys.is_empty(), "an asymmetric import is audited");
    assert!(
        private_keys.iter().all(|v| *v == "<redacted>"),
        "wrapped private keys stay out of the log: {private_keys:?}"
    );
    assert!(find(&|r| r["error_code"] == "KMS.0301").is_some());
    assert!(find(&|r| r["error_code"] == "KMS.0302").is_some());
    assert!(find(&|r| r["error_code"] == "KMS.0306").is_some());
    for (operation, code) in [("DisableKey", "KMS.1301"), ("EnableKey", "KMS.1201")] {
        assert!(
            find(&|r| r["operation"] == operation && r["error_code"] == code).is_some(),
            "{operation} refused with {code} is audited"
        );
    }
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

const OTHER_ACCOUNT: &str = "444455556666";
const OTHER_AK: &str = "HWTESTOTHERAK0000001";
const OTHER_SK: &str = "hw-test-other-secret-key";
/// Configured projects: two of [`ACCOUNT`], one of [`OTHER_ACCOUNT`].
const A_EAST: &str = "a0000000000000000000000000000e57";
const A_WEST: &str = "a00000000000000000000000000000e5";
const B_EAST: &str = "b0000000000000000000000000000e57";
/// A token of a principal without an identity policy, scoped to `A_EAST`.
const TOKEN_OK: &str = "tok-ok-3f9a7c1e5b2d4f6a8c0e1357924680ab";
const TOKEN_EXPIRED: &str = "tok-expired-9c1e5b2d4f6a8c0e135792468";
const TOKEN_SOON: &str = "tok-soon-5b2d4f6a8c0e1357924680ab3f9a7c";
/// Configured by its SHA-256 only.
const TOKEN_HASHED: &str = "tok-hashed-2d4f6a8c0e1357924680ab3f9a7c1e";

fn scoped_config(soon: &str) -> String {
    let hashed = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(TOKEN_HASHED));
    format!(
        r#"
[huawei_projects.{A_EAST}]
region = "{EAST}"
account = "{ACCOUNT}"

[huawei_projects.{A_WEST}]
region = "{WEST}"
account = "{ACCOUNT}"

[huawei_projects.{B_EAST}]
region = "{EAST}"
account = "{OTHER_ACCOUNT}"

[[credentials]]
access_key_id = "{ROOT_AK}"
secret_access_key = "{ROOT_SK}"
principal = "arn:aws:iam::{ACCOUNT}:root"

[[credentials]]
access_key_id = "{OTHER_AK}"
secret_access_key = "{OTHER_SK}"
principal = "arn:aws:iam::{OTHER_ACCOUNT}:root"

[[credentials]]
access_key_id = "{MAKER_AK}"
secret_access_key = "{MAKER_SK}"
principal = "arn:aws:iam::{ACCOUNT}:user/maker"
policy = '''{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"kms:CreateKey","Resource":"*"}}]}}'''

[[auth_tokens]]
token = "{TOKEN_OK}"
principal = "arn:aws:iam::{ACCOUNT}:user/app"
project_id = "{A_EAST}"
expires_at = "2099-01-01T00:00:00Z"

[[auth_tokens]]
token = "{TOKEN_EXPIRED}"
principal = "arn:aws:iam::{ACCOUNT}:user/app"
project_id = "{A_EAST}"
expires_at = "2020-01-01T00:00:00Z"

[[auth_tokens]]
token = "{TOKEN_SOON}"
principal = "arn:aws:iam::{ACCOUNT}:user/app"
project_id = "{A_EAST}"
expires_at = "{soon}"

[[auth_tokens]]
token_sha256 = "{hashed}"
principal = "arn:aws:iam::{ACCOUNT}:user/hashed"
project_id = "{A_EAST}"
expires_at = "2099-01-01T00:00:00+08:00"
"#
    )
}

const MAKER_AK: &str = "HWTESTMAKER000000001";
const MAKER_SK: &str = "hw-test-maker-secret-key";

/// create-key makes a key and then its alias. A caller who may create keys
/// but not aliases is refused, and the key made for it is taken out of use
/// although that caller may neither disable nor delete keys.
#[tokio::test(flavor = "multi_thread")]
async fn huawei_a_key_whose_alias_is_refused_is_withdrawn() {
    let server = signing_server();
    let host = server.addr.to_string();
    let path = create_key_path(A_EAST);
    let body = create_key_body("maker-key");
    let date = sdk_date(0);
    let auth = huawei_sign(MAKER_AK, MAKER_SK, &host, &path, &date, body.as_bytes());
    let headers = [("Authorization", auth.as_str()), ("X-Sdk-Date", &date)];
    let (status, code, refused) = answer(&server, &path, &headers, &body);
    assert_eq!((status, code.as_str()), (403, "KMS.0306"), "{refused}");
    let aws = server.client_as(EAST, ROOT_AK, ROOT_SK);
    let keys = aws
        .list_keys()
        .send()
        .await
        .unwrap()
        .keys
        .unwrap_or_default();
    assert_eq!(keys.len(), 1, "the key was made before its alias: {keys:?}");
    let id = keys[0].key_id.clone().unwrap();
    let described = aws.describe_key().key_id(&id).send().await.unwrap();
    let state = described.key_metadata.unwrap().key_state;
    assert_eq!(state, Some(aws_sdk_kms::types::KeyState::PendingDeletion));
}

/// `X-Sdk-Date` for `offset` seconds from now.
fn sdk_date(offset: i64) -> String {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    (time::OffsetDateTime::now_utc() + time::Duration::seconds(offset))
        .format(&format)
        .unwrap()
}

/// Huawei's SDK-HMAC-SHA256 over `POST path` with `host` and `x-sdk-date`
/// signed (written from Huawei's signing guide, independently of Trent's
/// verifier): returns the Authorization header.
fn huawei_sign(ak: &str, sk: &str, host: &str, path: &str, date: &str, body: &[u8]) -> String {
    huawei_sign_request(
        ak,
        sk,
        "POST",
        path,
        "",
        &[("Host", host), ("X-Sdk-Date", date)],
        body,
    )
}

/// Huawei's SDK-HMAC-SHA256 over `method path?query` signing every header
/// of `headers` (which must hold `X-Sdk-Date`), from Huawei's signing
/// guide: the canonical URI is the path ending in `/`, the canonical query
/// the `key=value` pairs sorted, the canonical headers the lowercase names
/// sorted with their trimmed values. Returns the Authorization header.
fn huawei_sign_request(
    ak: &str,
    sk: &str,
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> String {
    use hmac::Mac;
    use sha2::Digest;
    let date = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("x-sdk-date"))
        .map(|(_, v)| *v)
        .expect("X-Sdk-Date is signed");
    let mut pairs: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    pairs.sort();
    let mut canonical_headers: Vec<(String, &str)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim()))
        .collect();
    canonical_headers.sort();
    let names: Vec<&str> = canonical_headers.iter().map(|(k, _)| k.as_str()).collect();
    let names = names.join(";");
    let mut canonical = format!("{method}\n{path}/\n{}\n", pairs.join("&"));
    for (k, v) in &canonical_headers {
        canonical.push_str(&format!("{k}:{v}\n"));
    }
    canonical.push_str(&format!(
        "\n{names}\n{}",
        hex::encode(sha2::Sha256::digest(body))
    ));
    let to_sign = format!(
        "SDK-HMAC-SHA256\n{date}\n{}",
        hex::encode(sha2::Sha256::digest(canonical.as_bytes()))
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(sk.as_bytes()).unwrap();
    mac.update(to_sign.as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    format!("SDK-HMAC-SHA256 Access={ak}, SignedHeaders={names}, Signature={signature}")
}

/// Status, Huawei error code ("" on success) and body of a raw request.
fn answer(
    server: &Server,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, Value) {
    let (status, text) = server.raw(path, headers, body.as_bytes());
    let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let code = json["error"]["error_code"]
        .as_str()
        .unwrap_or("")
        .to_string();
    (status, code, json)
}

fn by_token(
    server: &Server,
    token: &str,
    project: &str,
    op: &str,
    body: &str,
) -> (u16, String, Value) {
    let path = format!("/v1.0/{project}/kms/{op}");
    answer(server, &path, &[("X-Auth-Token", token)], body)
}

#[tokio::test(flavor = "multi_thread")]
async fn huawei_tokens_and_signatures_are_bound_to_scope_time_and_content() {
    let expiry = time::OffsetDateTime::now_utc() + time::Duration::seconds(30);
    let soon = expiry
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let server = Server::start_with_config(&scoped_config(&soon));
    let host = server.addr.to_string();

    // A token without an identity policy does what its account's key
    // policies allow, in its own project.
    let (status, code, created) = by_token(
        &server,
        TOKEN_OK,
        A_EAST,
        "create-key",
        r#"{"key_alias":"by-token"}"#,
    );
    assert_eq!((status, code.as_str()), (200, ""), "{created}");
    let key_id = created["key_info"]["key_id"].as_str().unwrap().to_string();
    let body = json!({ "key_id": key_id, "plain_text": "hello" }).to_string();
    let (status, code, sealed) = by_token(&server, TOKEN_OK, A_EAST, "encrypt-data", &body);
    assert_eq!((status, code.as_str()), (200, ""), "{sealed}");
    let describe = json!({ "key_id": key_id }).to_string();
    let (status, ..) = by_token(&server, TOKEN_HASHED, A_EAST, "describe-key", &describe);
    assert_eq!(status, 200, "a token configured by its SHA-256 is accepted");

    // ... but not in another project of its account, nor in another account's.
    for project in [A_WEST, B_EAST] {
        let (status, code, refused) =
            by_token(&server, TOKEN_OK, project, "describe-key", &describe);
        assert_eq!(
            (status, code.as_str()),
            (401, "KMS.0302"),
            "{project}: {refused}"
        );
        assert!(
            refused["error"]["error_msg"]
                .as_str()
                .unwrap()
                .contains("project")
        );
    }
    // ... nor through a multi-Region key of its project in another region:
    // no replica made there, no primary moved there.
    let aws = server.client_as(EAST, ROOT_AK, ROOT_SK);
    let mrk = aws.create_key().multi_region(true).send().await.unwrap();
    let mrk = mrk.key_metadata.unwrap().key_id;
    let hw_mrk = mrk.trim_start_matches("mrk-").to_string();
    let hw_mrk = format!(
        "{}-{}-{}-{}-{}",
        &hw_mrk[0..8],
        &hw_mrk[8..12],
        &hw_mrk[12..16],
        &hw_mrk[16..20],
        &hw_mrk[20..]
    );
    let body = json!({ "key_id": hw_mrk, "replica_region": WEST }).to_string();
    let path = format!("/v2/{A_EAST}/kms/keys/{hw_mrk}/replicate");
    let (status, code, refused) = answer(&server, &path, &[("X-Auth-Token", TOKEN_OK)], &body);
    assert_eq!((status, code.as_str()), (401, "KMS.0302"), "{refused}");
    let west = server.client_as(WEST, ROOT_AK, ROOT_SK);
    let replica = west.describe_key().key_id(&mrk).send().await;
    assert!(replica.is_err(), "a replica was made in {WEST}");

    // An expired token, whatever the project.
    let (status, code, refused) =
        by_token(&server, TOKEN_EXPIRED, A_EAST, "describe-key", &describe);
    assert_eq!((status, code.as_str()), (401, "KMS.0302"), "{refused}");
    assert!(
        refused["error"]["error_msg"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    // A token works until its expires_at (then not: at the end).
    let (status, ..) = by_token(&server, TOKEN_SOON, A_EAST, "describe-key", &describe);
    assert_eq!(status, 200, "before expires_at");

    // A key of its account whose key policy does not let the account's
    // principals in (only the root, and only for PutKeyPolicy): refused.
    let aws = server.client_as(EAST, ROOT_AK, ROOT_SK);
    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")},
        "Action": "kms:PutKeyPolicy", "Resource": "*"}]});
    let narrow = aws
        .create_key()
        .policy(policy.to_string())
        .send()
        .await
        .unwrap();
    let narrow = narrow.key_metadata.unwrap().key_id;
    let body = json!({ "key_id": narrow }).to_string();
    let (status, code, refused) = by_token(&server, TOKEN_OK, A_EAST, "describe-key", &body);
    assert_eq!((status, code.as_str()), (403, "KMS.0306"), "{refused}");
    let body = json!({ "key_id": narrow, "plain_text": "x" }).to_string();
    let (status, code, _) = by_token(&server, TOKEN_OK, A_EAST, "encrypt-data", &body);
    assert_eq!((status, code.as_str()), (403, "KMS.0306"));

    // A key of the other account, whose key policy lets this account in:
    // the token still cannot reach it (ids resolve in the caller's account).
    let other = server.client_as(EAST, OTHER_AK, OTHER_SK);
    let open = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": [
            format!("arn:aws:iam::{OTHER_ACCOUNT}:root"), format!("arn:aws:iam::{ACCOUNT}:root")]},
        "Action": "kms:*", "Resource": "*"}]});
    let foreign = other
        .create_key()
        .policy(open.to_string())
        .send()
        .await
        .unwrap();
    let foreign = foreign.key_metadata.unwrap();
    for id in [foreign.key_id.clone(), foreign.arn.clone().unwrap()] {
        let body = json!({ "key_id": id }).to_string();
        let (status, code, refused) = by_token(&server, TOKEN_OK, A_EAST, "describe-key", &body);
        assert!(
            matches!(
                (status, code.as_str()),
                (404, "KMS.0207") | (400, "KMS.0205")
            ),
            "{id}: {status} {refused}"
        );
    }
    let (status, _, listed) = by_token(&server, TOKEN_OK, A_EAST, "list-keys", "{}");
    assert_eq!(status, 200);
    assert!(!listed.to_string().contains(&foreign.key_id), "{listed}");

    // SDK-HMAC-SHA256: a correct signature is accepted ...
    let path = format!("/v1.0/{A_EAST}/kms/describe-key");
    let date = sdk_date(0);
    let auth = huawei_sign(ROOT_AK, ROOT_SK, &host, &path, &date, describe.as_bytes());
    let signed = |auth: &str, date: &str, body: &str| {
        answer(
            &server,
            &path,
            &[("Authorization", auth), ("X-Sdk-Date", date)],
            body,
        )
    };
    let (status, code, ok) = signed(&auth, &date, &describe);
    assert_eq!((status, code.as_str()), (200, ""), "{ok}");
    // ... a changed signature, body or signed host is not ...
    let mut tampered = auth.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == '0' { '1' } else { '0' });
    assert_eq!(
        signed(&tampered, &date, &describe).1,
        "KMS.0301",
        "changed signature"
    );
    let other_body = json!({ "key_id": narrow }).to_string();
    assert_eq!(
        signed(&auth, &date, &other_body).1,
        "KMS.0301",
        "changed body"
    );
    let elsewhere = huawei_sign(
        ROOT_AK,
        ROOT_SK,
        "kms.example:443",
        &path,
        &date,
        describe.as_bytes(),
    );
    assert_eq!(
        signed(&elsewhere, &date, &describe).1,
        "KMS.0301",
        "signed for another host"
    );
    let unsigned_host = auth.replace("SignedHeaders=host;x-sdk-date", "SignedHeaders=x-sdk-date");
    assert_eq!(
        signed(&unsigned_host, &date, &describe).1,
        "KMS.0301",
        "host not signed"
    );
    let (status, code, _) = answer(
        &server,
        &path,
        &[
            ("Authorization", &auth),
            ("X-Sdk-Date", &date),
            ("X-Sdk-Content-Sha256", "UNSIGNED-PAYLOAD"),
        ],
        &describe,
    );
    assert_eq!(
        (status, code.as_str()),
        (401, "KMS.0301"),
        "unsigned payload"
    );
    // ... and X-Sdk-Date must be within 5 minutes of the server's clock.
    for (offset, expected) in [(-360, "KMS.0303"), (360, "KMS.0303"), (-240, ""), (240, "")] {
        let date = sdk_date(offset);
        let auth = huawei_sign(ROOT_AK, ROOT_SK, &host, &path, &date, describe.as_bytes());
        let (status, code, body) = signed(&auth, &date, &describe);
        assert_eq!(
            code, expected,
            "X-Sdk-Date {offset}s from now: {status} {body}"
        );
    }

    let left = expiry - time::OffsetDateTime::now_utc() + time::Duration::seconds(1);
    if left.is_positive() {
        tokio::time::sleep(left.unsigned_abs()).await;
    }
    let (status, code, _) = by_token(&server, TOKEN_SOON, A_EAST, "describe-key", &describe);
    assert_eq!(
        (status, code.as_str()),
        (401, "KMS.0302"),
        "after expires_at"
    );

    // Every refusal above is in the audit trail, without the tokens.
    let log = std::fs::read_to_string(server.data_dir().join("audit.log")).unwrap();
    for token in [TOKEN_OK, TOKEN_EXPIRED, TOKEN_SOON, TOKEN_HASHED] {
        assert!(!log.contains(token), "the audit trail never holds a token");
    }
    let refused_tokens = log.lines().filter(|l| l.contains("\"KMS.0302\"")).count();
    assert_eq!(refused_tokens, 5);
}

// ---------------------------------------------------------------------------
// Issue 18, "Authentication negative tests", for SDK-HMAC-SHA256: each part
// of a signed create-key changed after signing is refused, and it made
// nothing. Two items of the AWS list have no Huawei equivalent: there is
// no X-Amz-Target (the operation is in the signed path, see
// `huawei_a_changed_path_or_query_is_invalid`), and no presigned form (a
// signature is only accepted in the Authorization header).
// ---------------------------------------------------------------------------

/// A server with [`scoped_config`] (no token expiring during the test).
fn signing_server() -> Server {
    Server::start_with_config(&scoped_config("2099-01-01T00:00:00Z"))
}

/// Keys of [`ACCOUNT`] in both its projects (through signed list-keys).
fn hw_key_count(server: &Server) -> u64 {
    let host = server.addr.to_string();
    [A_EAST, A_WEST]
        .iter()
        .map(|project| {
            let path = format!("/v1.0/{project}/kms/list-keys");
            let date = sdk_date(0);
            let auth = huawei_sign(ROOT_AK, ROOT_SK, &host, &path, &date, b"{}");
            let headers = [("Authorization", auth.as_str()), ("X-Sdk-Date", &date)];
            let (status, _, listed) = answer(server, &path, &headers, "{}");
            assert_eq!(status, 200, "{listed}");
            listed["total"].as_u64().expect("total")
        })
        .sum()
}

/// Runs `request` (a create-key) and checks it was refused with HTTP
/// `status` and Huawei error `code`, and that it created no key.
fn hw_assert_refused(
    server: &Server,
    (status, code): (u16, &str),
    what: &str,
    request: impl FnOnce() -> (u16, String, Value),
) {
    let before = hw_key_count(server);
    let (got_status, got_code, body) = request();
    assert_eq!(
        (got_status, got_code.as_str()),
        (status, code),
        "{what}: {body}"
    );
    assert!(
        !body["error"]["error_msg"].as_str().unwrap_or("").is_empty(),
        "{what}: {body}"
    );
    assert_eq!(hw_key_count(server), before, "{what}: nothing is created");
}

/// Runs `request` (a create-key) and checks it made a key.
fn hw_assert_created(server: &Server, what: &str, request: impl FnOnce() -> (u16, String, Value)) {
    let before = hw_key_count(server);
    let (status, code, body) = request();
    assert_eq!((status, code.as_str()), (200, ""), "{what}: {body}");
    assert!(body["key_info"]["key_id"].is_string(), "{what}: {body}");
    assert_eq!(hw_key_count(server), before + 1, "{what}");
}

/// Sends a raw HTTP/1.1 POST of `path` with the given `Host` header and
/// `headers`; returns status, Huawei error code ("" on success) and body.
fn post_as(
    server: &Server,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, Value) {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(server.addr).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let json: Value =
        serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap_or("")).unwrap_or(Value::Null);
    let code = json["error"]["error_code"]
        .as_str()
        .unwrap_or("")
        .to_string();
    (status, code, json)
}

const HW_JSON: &str = "application/json;charset=UTF-8";
const BAD_SIGNATURE: (u16, &str) = (401, "KMS.0301");

fn create_key_path(project: &str) -> String {
    format!("/v1.0/{project}/kms/create-key")
}

fn create_key_body(alias: &str) -> String {
    json!({ "key_alias": alias }).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn huawei_an_x_sdk_date_changed_after_signing_is_invalid() {
    let server = signing_server();
    let host = server.addr.to_string();
    let path = create_key_path(A_EAST);
    let body = create_key_body("date-changed");
    let date = sdk_date(-60);
    let auth = huawei_sign(ROOT_AK, ROOT_SK, &host, &path, &date, body.as_bytes());
    for other in [sdk_date(-30), sdk_date(-90), sdk_date(-59)] {
        assert_ne!(other, date);
        hw_assert_refused(
            &server,
            BAD_SIGNATURE,
            &format!("X-Sdk-Date {other}"),
            || {
                post_as(
                    &server,
                    &host,
                    &path,
                    &[("Authorization", &auth), ("X-Sdk-Date", &other)],
                    &body,
                )
            },
        );
    }
    // A second X-Sdk-Date added after the signed one.
    let later = sdk_date(0);
    hw_assert_refused(&server, BAD_SIGNATURE, "a second X-Sdk-Date", || {
        post_as(
            &server,
            &host,
            &path,
            &[
                ("Authorization", &auth),
                ("X-Sdk-Date", &date),
                ("X-Sdk-Date", &later),
            ],
            &body,
        )
    });
    hw_assert_created(&server, "as signed", || {
        post_as(
            &server,
            &host,
            &path,
            &[("Authorization", &auth), ("X-Sdk-Date", &date)],
            &body,
        )
    });
}

/// Huawei's scheme has no credential scope: the project in the signed path
/// plays the part of SigV4's region (and X-Sdk-Date that of its date, see
/// above). A request signed for one project of the account is refused in
/// another.
#[tokio::test(flavor = "multi_thread")]
async fn huawei_a_changed_project_is_invalid() {
    let server = signing_server();
    let host = server.addr.to_string();
    let body = create_key_body("project-changed");
    let date = sdk_date(0);
    let auth = huawei_sign(
        ROOT_AK,
        ROOT_SK,
        &host,
        &create_key_path(A_WEST),
        &date,
        body.as_bytes(),
    );
    let headers = [("Authorization", auth.as_str()), ("X-Sdk-Date", &date)];
    for project in [A_EAST, B_EAST] {
        hw_assert_refused(
            &server,
            BAD_SIGNATURE,
            &format!("signed for {A_WEST}, sent to {project}"),
            || post_as(&server, &host, &create_key_path(project), &headers, &body),
        );
    }
    // An unsigned X-Project-Id naming another project changes nothing.
    let mut renamed = headers.to_vec();
    renamed.push(("X-Project-Id", A_EAST));
    hw_assert_refused(
        &server,
        (400, "KMS.0308"),
        "X-Project-Id of another project",
        || post_as(&server, &host, &create_key_path(A_WEST), &renamed, &body),
    );
    hw_assert_created(&server, "as signed", || {
        post_as(&server, &host, &create_key_path(A_WEST), &headers, &body)
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn huawei_a_changed_host_is_invalid() {
    let server = signing_server();
    let host = server.addr.to_string();
    let port = server.addr.port();
    let path = create_key_path(A_EAST);
    let body = create_key_body("host-changed");
    let date = sdk_date(0);
    let auth = huawei_sign(ROOT_AK, ROOT_SK, &host, &path, &date, body.as_bytes());
    let headers = [("Authorization", auth.as_str()), ("X-Sdk-Date", &date)];
    for other in [
        format!("localhost:{port}"),
        "127.0.0.1".to_string(),
        format!("127.0.0.1:{}", port.wrapping_add(1)),
        format!("kms.example.com:{port}"),
    ] {
        hw_assert_refused(&server, BAD_SIGNATURE, &format!("Host {other}"), || {
            post_as(&server, &other, &path, &headers, &body)
        });
    }
    hw_assert_created(&server, "as signed", || {
        post_as(&server, &host, &path, &headers, &body)
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn huawei_a_changed_content_type_is_invalid() {
    let server = signing_server();
    let host = server.addr.to_string();
    let path = create_key_path(A_EAST);
    let body = create_key_body("content-type-changed");
    let date = sdk_date(0);
    let auth = huawei_sign_request(
        ROOT_AK,
        ROOT_SK,
        "POST",
        &path,
        "",
        &[
            ("Content-Type", HW_JSON),
            ("Host", &host),
            ("X-Sdk-Date", &date),
        ],
        body.as_bytes(),
    );
    assert!(auth.contains("SignedHeaders=content-type;host;x-sdk-date"));
    for other in [
        "application/json",
        "text/plain",
        "application/json;charset=GBK",
    ] {
        hw_assert_refused(
            &server,
            BAD_SIGNATURE,
            &format!("Content-Type {other}"),
            || {
                post_as(
                    &server,
                    &host,
                    &path,
                    &[
                        ("Authorization", &auth),
                        ("X-Sdk-Date", &date),
                        ("Content-Type", other),
                    ],
                    &body,
                )
            },
        );
    }
    hw_assert_created(&server, "as signed", || {
        post_as(
            &server,
            &host,
            &path,
            &[
                ("Authorization", &auth),
                ("X-Sdk-Date", &date),
                ("Content-Type", HW_JSON),
            ],
            &body,
        )
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn huawei_a_changed_path_or_query_is_invalid() {
    let server = signing_server();
    let host = server.addr.to_string();
    let body = create_key_body("path-changed");
    let date = sdk_date(0);
    let create = create_key_path(A_EAST);
    let sign = |path: &str, query: &str, body: &str| {
        huawei_sign_request(
            ROOT_AK,
            ROOT_SK,
            "POST",
            path,
            query,
            &[("Host", &host), ("X-Sdk-Date", &date)],
            body.as_bytes(),
        )
    };
    let with_query = |path: &str, query: &str| {
        if query.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{query}")
        }
    };
    // (signed path, signed query, sent path, sent query): another
    // operation's path (the operation is in the path, as X-Amz-Target is
    // in a header), then queries added, changed or dropped.
    let list = format!("/v1.0/{A_EAST}/kms/list-keys");
    let describe = format!("/v1.0/{A_EAST}/kms/describe-key");
    let cases = [
        (list.as_str(), "", create.as_str(), ""),
        (describe.as_str(), "", create.as_str(), ""),
        (create.as_str(), "", create.as_str(), "a=1"),
        (create.as_str(), "a=1", create.as_str(), ""),
        (create.as_str(), "a=1", create.as_str(), "a=2"),
        (create.as_str(), "a=1", create.as_str(), "b=1"),
        (create.as_str(), "a=1", create.as_str(), "a=1&a=2"),
    ];
    for (signed_path, signed_query, path, query) in cases {
        let auth = sign(signed_path, signed_query, &body);
        hw_assert_refused(
            &server,
            BAD_SIGNATURE,
            &format!("signed {signed_path}?{signed_query}, sent {path}?{query}"),
            || {
                post_as(
                    &server,
                    &host,
                    &with_query(path, query),
                    &[("Authorization", &auth), ("X-Sdk-Date", &date)],
                    &body,
                )
            },
        );
    }
    for (query, alias) in [("", "as-signed"), ("a=1", "as-signed-with-query")] {
        let body = create_key_body(alias);
        let auth = sign(&create, query, &body);
        hw_assert_created(&server, &format!("?{query} as signed"), || {
            post_as(
                &server,
                &host,
                &with_query(&create, query),
                &[("Authorization", &auth), ("X-Sdk-Date", &date)],
                &body,
            )
        });
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn huawei_the_clock_window_is_300_seconds_either_way() {
    let server = signing_server();
    let host = server.addr.to_string();
    let path = create_key_path(A_EAST);
    let send = |offset: i64| {
        let body = create_key_body(&format!("clock{offset}"));
        let date = sdk_date(offset);
        let auth = huawei_sign(ROOT_AK, ROOT_SK, &host, &path, &date, body.as_bytes());
        post_as(
            &server,
            &host,
            &path,
            &[("Authorization", &auth), ("X-Sdk-Date", &date)],
            &body,
        )
    };
    for offset in [-310i64, 310] {
        hw_assert_refused(
            &server,
            (401, "KMS.0303"),
            &format!("signed {offset}s from now"),
            || send(offset),
        );
    }
    for offset in [-290i64, 290] {
        hw_assert_created(&server, &format!("signed {offset}s from now"), || {
            send(offset)
        });
    }
}

/// The canonical query sorts its pairs, so the values of a repeated
/// parameter can be reordered without changing the signature, while the
/// dialect reads the first: a signed query may not repeat a parameter.
#[tokio::test(flavor = "multi_thread")]
async fn huawei_a_repeated_query_parameter_is_refused() {
    let server = signing_server();
    let host = server.addr.to_string();
    let path = create_key_path(A_EAST);
    let body = create_key_body("repeated-query");
    let date = sdk_date(0);
    let auth = huawei_sign_request(
        ROOT_AK,
        ROOT_SK,
        "POST",
        &path,
        "a=1&a=2",
        &[("Host", &host), ("X-Sdk-Date", &date)],
        body.as_bytes(),
    );
    for query in ["a=1&a=2", "a=2&a=1"] {
        hw_assert_refused(&server, BAD_SIGNATURE, &format!("?{query}"), || {
            post_as(
                &server,
                &host,
                &format!("{path}?{query}"),
                &[("Authorization", &auth), ("X-Sdk-Date", &date)],
                &body,
            )
        });
    }
}
