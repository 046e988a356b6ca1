//! Which regions a server hosts. In dev mode (no `[[regions]]`), a region
//! of AWS's name form is provisioned the first time a client addresses it —
//! once, however many first requests race — and hosted again after a
//! restart, with a Huawei project of its own. With `[[regions]]`, exactly
//! those are hosted, and any other region is refused with a message naming
//! them and the setting that adds one.

mod common;

use aws_sdk_kms::error::ProvideErrorMetadata;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{Server, decrypt_text, encrypt_text, error_code, new_key, new_mrk};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

/// What the server logs when it provisions a region on first use.
const PROVISIONED: &str = "region provisioned on first use";

/// The token directories SoftHSM made under the data directory, one per
/// token.
fn token_count(data: &Path) -> usize {
    std::fs::read_dir(data.join("tokens"))
        .expect("dev-mode token directory")
        .filter(|e| e.as_ref().unwrap().path().is_dir())
        .count()
}

/// The dev-mode Huawei projects (`huawei-projects.json`): id → region.
fn projects(data: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read(data.join("huawei-projects.json")).expect("huawei-projects.json");
    serde_json::from_slice(&text).expect("projects as JSON")
}

/// The ids of the projects of `region`.
fn projects_of(data: &Path, region: &str) -> Vec<String> {
    projects(data)
        .into_iter()
        .filter(|(_, r)| r == region)
        .map(|(id, _)| id)
        .collect()
}

/// The milliseconds of each provisioning of `region` the server logged.
fn provisionings(server: &Server, region: &str) -> Vec<u64> {
    server
        .log()
        .lines()
        .filter(|l| l.contains(PROVISIONED) && l.contains(&format!("region=\"{region}\"")))
        .map(|l| {
            let millis = l.split("millis=").nth(1).expect("millis field");
            let digits: String = millis.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().expect("millis")
        })
        .collect()
}

/// The message of a failed SDK call, with its error code.
fn refusal<E: ProvideErrorMetadata, R: std::fmt::Debug>(
    result: Result<R, aws_sdk_kms::error::SdkError<E>>,
) -> (String, String) {
    match result {
        Ok(r) => panic!("expected a refusal, got {r:?}"),
        Err(e) => (
            e.code().unwrap_or("no code").to_string(),
            e.message().unwrap_or_default().to_string(),
        ),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dev_mode_provisions_a_new_region_on_first_use_and_keeps_it() {
    let server = Server::start_logged(&[]);
    let data = server.data_dir().to_path_buf();
    assert_eq!(token_count(&data), 2, "us-east-1 and us-west-2 at start");
    let central = server.client("eu-central-1");

    let started = Instant::now();
    let key = new_key(&central).await;
    let first_call = started.elapsed();
    let millis = provisionings(&server, "eu-central-1");
    assert_eq!(millis.len(), 1, "provisioned once: {}", server.log());
    // The figure for the record (`--nocapture`): 13–100 ms on an idle
    // machine. It is not asserted: under heavy disk load the token's fsyncs
    // alone have taken seconds.
    println!(
        "eu-central-1 provisioned in {} ms (first CreateKey answered in {} ms)",
        millis[0],
        first_call.as_millis()
    );
    let arn = central
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap();
    assert!(arn.starts_with("arn:aws:kms:eu-central-1:"), "{arn}");
    let blob = encrypt_text(&central, &key, "hosted on demand").await;
    assert_eq!(
        decrypt_text(&central, &blob).await.plaintext,
        "hosted on demand"
    );
    assert_eq!(token_count(&data), 3);
    // Regions keep their own keys.
    assert_eq!(
        error_code(
            server
                .client("us-east-1")
                .describe_key()
                .key_id(&key)
                .send()
                .await
        ),
        "NotFoundException"
    );

    // A restart hosts the region again from the start, on the same token.
    let server = Server::restart_logged(server.stop(), &[]);
    let central = server.client("eu-central-1");
    assert_eq!(
        decrypt_text(&central, &blob).await.plaintext,
        "hosted on demand",
        "the key made before the restart still decrypts"
    );
    let again = encrypt_text(&central, &key, "after the restart").await;
    assert_eq!(
        decrypt_text(&central, &again).await.plaintext,
        "after the restart"
    );
    assert!(
        provisionings(&server, "eu-central-1").is_empty(),
        "nothing provisioned again: {}",
        server.log()
    );
    assert_eq!(token_count(&data), 3, "no second token");
    assert_eq!(projects_of(&data, "eu-central-1").len(), 1);
}

/// Eight clients send their first request to a new region at once; a
/// ninth keeps encrypting in us-east-1 meanwhile, which provisioning must
/// not disturb.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_first_requests_provision_a_region_once() {
    const REGION: &str = "ap-southeast-2";
    const CLIENTS: usize = 8;
    let server = Server::start_logged(&[]);
    let east = server.client("us-east-1");
    let east_key = new_key(&east).await;
    let racing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let bystander = {
        let racing = racing.clone();
        tokio::spawn(async move {
            let mut rounds = 0;
            while racing.load(std::sync::atomic::Ordering::SeqCst) {
                let blob = encrypt_text(&east, &east_key, "bystander").await;
                assert_eq!(decrypt_text(&east, &blob).await.plaintext, "bystander");
                rounds += 1;
            }
            rounds
        })
    };
    let start = Arc::new(tokio::sync::Barrier::new(CLIENTS));
    let racers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (client, start) = (server.client(REGION), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                new_key(&client).await
            })
        })
        .collect();
    let mut keys = Vec::new();
    for racer in racers {
        keys.push(racer.await.expect("CreateKey in the new region"));
    }
    racing.store(false, std::sync::atomic::Ordering::SeqCst);
    let rounds = bystander.await.expect("us-east-1 kept working");
    assert!(rounds > 0);
    assert_eq!(
        provisionings(&server, REGION).len(),
        1,
        "provisioned exactly once: {}",
        server.log()
    );
    assert_eq!(token_count(server.data_dir()), 3, "one new token");
    assert_eq!(projects_of(server.data_dir(), REGION).len(), 1);
    let client = server.client(REGION);
    for key in &keys {
        let blob = encrypt_text(&client, key, "raced").await;
        assert_eq!(decrypt_text(&client, &blob).await.plaintext, "raced");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn replicate_key_to_a_new_region_provisions_it() {
    let server = Server::start();
    let east = server.client("us-east-1");
    let key = new_mrk(&east).await;
    let blob = encrypt_text(&east, &key, "carried").await;
    east.replicate_key()
        .key_id(&key)
        .replica_region("eu-west-3")
        .send()
        .await
        .expect("ReplicateKey to a region no client used yet");
    let paris = server.client("eu-west-3");
    assert_eq!(decrypt_text(&paris, &blob).await.plaintext, "carried");
    assert_eq!(projects_of(server.data_dir(), "eu-west-3").len(), 1);
    assert_eq!(token_count(server.data_dir()), 3);

    // UpdatePrimaryRegion to a region with no replica provisions nothing.
    assert_eq!(
        error_code(
            east.update_primary_region()
                .key_id(&key)
                .primary_region("eu-south-2")
                .send()
                .await
        ),
        "UnsupportedOperationException"
    );
    assert_eq!(token_count(server.data_dir()), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn dev_mode_refuses_a_region_name_not_of_aws_form() {
    let server = Server::start();
    let (code, message) = refusal(server.client("nowhere").list_keys().send().await);
    assert_eq!(code, "InvalidSignatureException");
    for expected in ["'nowhere'", "us-east-1, us-west-2", "eu-central-1"] {
        assert!(message.contains(expected), "{expected:?} in {message}");
    }
    assert!(!server.data_dir().join("secrets/nowhere.pin").exists());
    assert_eq!(token_count(server.data_dir()), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn explicit_regions_host_exactly_those() {
    // Dev mode makes the token; the configuration then names it.
    let data = Server::start().stop();
    let dir = data.path.clone();
    let regions = format!(
        "[{{name=\"us-east-1\",module=\"/usr/lib/softhsm/libsofthsm2.so\",\
         token_label=\"trent-us-east-1\",pin_file=\"{}\",softhsm_conf=\"{}\"}}]",
        dir.join("secrets/us-east-1.pin").display(),
        dir.join("softhsm2.conf").display()
    );
    let server = Server::restart_with_env(data, &[("TRENT_REGIONS", &regions)]);
    new_key(&server.client("us-east-1")).await;
    for region in ["eu-central-1", "us-west-2"] {
        let (code, message) = refusal(server.client(region).list_keys().send().await);
        assert_eq!(code, "InvalidSignatureException", "{region}");
        for expected in [
            format!("'{region}'"),
            "hosted regions: us-east-1)".to_string(),
            "[[regions]]".to_string(),
        ] {
            assert!(message.contains(&expected), "{expected:?} in {message}");
        }
    }
    assert!(!dir.join("secrets/eu-central-1.pin").exists());
    assert_eq!(token_count(&dir), 2, "no token provisioned");
}

/// Runs `tests/huawei/new_region.py` with `spec`; returns its JSON output.
fn huawei_client(spec: &Value) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/huawei/new_region.py");
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
    assert!(
        output.status.success(),
        "new_region.py: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("driver output as JSON")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_region_gets_a_huawei_project() {
    const REGION: &str = "sa-east-1";
    let server = Server::start();
    assert!(projects_of(server.data_dir(), REGION).is_empty());
    let aws = server.client(REGION);
    let key = new_key(&aws).await;
    let blob = encrypt_text(&aws, &key, "seen from huawei").await;
    let ids = projects_of(server.data_dir(), REGION);
    assert_eq!(
        ids.len(),
        1,
        "one project for {REGION}: {:?}",
        projects(server.data_dir())
    );
    let (ak, sk) = server.credentials();
    let spec = json!({
        "endpoint": server.url(),
        "ak": ak,
        "sk": sk,
        "project": ids[0],
        "key_id": key,
        "ciphertext": STANDARD.encode(&blob),
    });
    let seen = tokio::task::spawn_blocking(move || huawei_client(&spec))
        .await
        .unwrap();
    assert_eq!(seen["key_id"], key.as_str());
    assert_eq!(seen["key_state"], "2", "enabled");
    assert_eq!(seen["plaintext"], "seen from huawei");
    let regions: Vec<&str> = seen["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(regions.contains(&REGION), "{regions:?}");

    // The project survives a restart.
    let server = Server::restart(server.stop());
    assert_eq!(projects_of(server.data_dir(), REGION), ids);
    let spec = json!({
        "endpoint": server.url(),
        "ak": ak,
        "sk": sk,
        "project": ids[0],
        "key_id": key,
        "ciphertext": STANDARD.encode(&blob),
    });
    let seen = tokio::task::spawn_blocking(move || huawei_client(&spec))
        .await
        .unwrap();
    assert_eq!(seen["plaintext"], "seen from huawei");
}
