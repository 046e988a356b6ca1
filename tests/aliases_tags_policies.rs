//! Aliases, tags and key policies, driven through the official AWS SDK.

mod common;

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use common::*;

const ACCOUNT: &str = "111122223333";

/// Creates a key and schedules it for deletion; returns its id.
async fn pending_deletion_key(client: &Client) -> String {
    let key = new_key(client).await;
    client
        .schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(7)
        .send()
        .await
        .expect("ScheduleKeyDeletion");
    key
}

fn alias_arn(region: &str, name: &str) -> String {
    format!("arn:aws:kms:{region}:{ACCOUNT}:{name}")
}

fn key_arn(region: &str, key_id: &str) -> String {
    format!("arn:aws:kms:{region}:{ACCOUNT}:key/{key_id}")
}

/// The key id DescribeKey resolves `reference` to.
async fn described_key_id(client: &Client, reference: &str) -> String {
    client
        .describe_key()
        .key_id(reference)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DescribeKey {reference}: {e:?}"))
        .key_metadata()
        .unwrap()
        .key_id()
        .to_string()
}

/// Every alias name of the caller, following markers to the end.
async fn all_alias_names(client: &Client) -> Vec<String> {
    let mut names = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = client
            .list_aliases()
            .set_marker(marker.clone())
            .send()
            .await
            .expect("ListAliases");
        names.extend(
            page.aliases()
                .iter()
                .map(|a| a.alias_name().unwrap().to_string()),
        );
        match page.next_marker() {
            Some(m) if page.truncated() => marker = Some(m.to_string()),
            _ => return names,
        }
    }
}

/// Tags of a key as (key, value) pairs, in the order returned (one page).
async fn tag_pairs(client: &Client, key: &str) -> Vec<(String, String)> {
    client
        .list_resource_tags()
        .key_id(key)
        .send()
        .await
        .expect("ListResourceTags")
        .tags()
        .iter()
        .map(|t| (t.tag_key().to_string(), t.tag_value().to_string()))
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn get_policy(client: &Client, key: &str) -> String {
    client
        .get_key_policy()
        .key_id(key)
        .policy_name("default")
        .send()
        .await
        .expect("GetKeyPolicy")
        .policy()
        .expect("Policy")
        .to_string()
}

// ---------------------------------------------------------------- aliases

#[tokio::test(flavor = "multi_thread")]
async fn alias_name_and_alias_arn_identify_the_key() {
    let server = Server::start();
    let client = server.client("us-east-1");
    let key = new_key(&client).await;
    client
        .create_alias()
        .alias_name("alias/app-key")
        .target_key_id(&key)
        .send()
        .await
        .expect("CreateAlias");

    let arn = alias_arn("us-east-1", "alias/app-key");
    assert_eq!(described_key_id(&client, "alias/app-key").await, key);
    assert_eq!(described_key_id(&client, &arn).await, key);

    for reference in ["alias/app-key", arn.as_str()] {
        let plaintext = format!("secret via {reference}");
        let enc = client
            .encrypt()
            .key_id(reference)
            .plaintext(Blob::new(plaintext.as_bytes()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("Encrypt via {reference}: {e:?}"));
        assert_eq!(
            enc.key_id(),
            Some(key_arn("us-east-1", &key).as_str()),
            "Encrypt reports the key ARN, not the alias"
        );
        let blob = enc.ciphertext_blob().unwrap().clone();

        // Without KeyId, and with the alias as KeyId.
        let dec = client
            .decrypt()
            .ciphertext_blob(blob.clone())
            .send()
            .await
            .expect("Decrypt");
        assert_eq!(dec.plaintext().unwrap().as_ref(), plaintext.as_bytes());
        assert_eq!(dec.key_id(), Some(key_arn("us-east-1", &key).as_str()));
        let dec = client
            .decrypt()
            .key_id(reference)
            .ciphertext_blob(blob)
            .send()
            .await
            .expect("Decrypt with alias KeyId");
        assert_eq!(dec.plaintext().unwrap().as_ref(), plaintext.as_bytes());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn create_alias_refuses_bad_names_and_duplicates() {
    let server = Server::start();
    let client = server.client("us-east-1");
    let key = new_key(&client).await;
    let other = new_key(&client).await;
    client
        .create_alias()
        .alias_name("alias/taken")
        .target_key_id(&key)
        .send()
        .await
        .expect("CreateAlias");

    let create = |name: &str, target: &str| {
        client
            .create_alias()
            .alias_name(name)
            .target_key_id(target)
            .send()
    };
    assert_eq!(
        error_code(create("alias/taken", &key).await),
        "AlreadyExistsException"
    );
    assert_eq!(
        error_code(create("alias/taken", &other).await),
        "AlreadyExistsException"
    );
    assert_eq!(
        error_code(create("no-prefix", &key).await),
        "ValidationException"
    );
    assert_eq!(
        error_code(create("alias/aws/x", &key).await),
        "InvalidAliasNameException"
    );
    assert_eq!(
        error_code(create("alias/has space", &key).await),
        "ValidationException"
    );

    // The duplicate still points at the first key; nothing else was created.
    assert_eq!(described_key_id(&client, "alias/taken").await, key);
    assert_eq!(all_alias_names(&client).await, vec!["alias/taken"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn create_alias_refuses_bad_targets() {
    let server = Server::start();
    let client = server.client("us-east-1");
    let key = new_key(&client).await;
    client
        .create_alias()
        .alias_name("alias/existing")
        .target_key_id(&key)
        .send()
        .await
        .expect("CreateAlias");
    let pending = pending_deletion_key(&client).await;

    let create = |name: &str, target: String| {
        client
            .create_alias()
            .alias_name(name)
            .target_key_id(target)
            .send()
    };
    let unknown = "0b7a3f52-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
    assert_eq!(
        error_code(create("alias/a1", unknown.to_string()).await),
        "NotFoundException"
    );
    assert_eq!(
        error_code(create("alias/a2", key_arn("us-east-1", unknown)).await),
        "NotFoundException"
    );
    assert_eq!(
        error_code(create("alias/a3", "alias/existing".to_string()).await),
        "NotFoundException",
        "an alias is not a valid alias target"
    );
    assert_eq!(
        error_code(create("alias/a4", alias_arn("us-east-1", "alias/existing")).await),
        "NotFoundException",
        "an alias ARN is not a valid alias target"
    );
    assert_eq!(
        error_code(create("alias/a5", pending.clone()).await),
        "KMSInvalidStateException"
    );

    // A key ARN is a valid target.
    create("alias/by-arn", key_arn("us-east-1", &key))
        .await
        .expect("CreateAlias by key ARN");
    assert_eq!(
        all_alias_names(&client).await,
        vec!["alias/by-arn", "alias/existing"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn update_alias_moves_it_to_another_key() {
    let server = Server::start();
    let client = server.client("us-east-1");
    let first = new_key(&client).await;
    let second = new_key(&client).await;
    client
        .create_alias()
        .alias_name("alias/moving")
        .target_key_id(&first)
        .send()
        .await
        .expect("CreateAlias");
    assert_eq!(described_key_id(&client, "alias/moving").await, first);

    // Move the service clock so the update is distinguishable in time.
    server.advance_clock(120);
    client
        .update_alias()
        .alias_name("alias/moving")
        .target_key_id(&second)
        .send()
        .await
        .expect("UpdateAlias");
    assert_eq!(described_key_id(&client, "alias/moving").await, second);

    let listed = client.list_aliases().send().await.expect("ListAliases");
    let entry = listed
        .aliases()
        .iter()
        .find(|a| a.alias_name() == Some("alias/moving"))
        .expect("alias listed");
    assert_eq!(entry.target_key_id(), Some(second.as_str()));
    let created = entry.creation_date().expect("CreationDate");
    let updated = entry.last_updated_date().expect("LastUpdatedDate");
    assert!(updated >= created, "{updated:?} < {created:?}");
    assert!(
        updated.secs() - created.secs() >= 119,
        "LastUpdatedDate {updated:?} should reflect the update, CreationDate {created:?}"
    );

    // Encrypt through the alias now uses the second key.
    let enc = client
        .encrypt()
        .key_id("alias/moving")
        .plaintext(Blob::new(&b"x"[..]))
        .send()
        .await
        .expect("Encrypt");
    assert_eq!(enc.key_id(), Some(key_arn("us-east-1", &second).as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn update_alias_errors() {
    let server = Server::start();
    let client = server.client("us-east-1");
    let key = new_key(&client).await;
    assert_eq!(
        error_code(
            client
                .update_alias()
                .alias_name("alias/missing")
                .target_key_id(&key)
                .send()
                .await
        ),
        "NotFoundException"
    );
    // The failed update created nothing.
    assert!(all_alias_names(&client).await.is_empty());

    client
        .create_alias()
        .alias_name("alias/present")
        .target_key_id(&key)
        .send()
        .await
        .expect("CreateAlias");
    let pending = pending_deletion_key(&client).await;
    assert_eq!(
        error_code(
            client
                .update_alias()
                .alias_name("alias/present")
                .target_key_id(&pending)
                .send()
                .await
        ),
        "KMSInvalidStateException"
    );
    assert_eq!(described_key_id(&client, "alias/present").await, key);
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_alias_removes_it() {
    let server = Server::start();
    let client = server.client("us-east-1");
    let key = new_key(&client).await;
    client
        .create_alias()
        .alias_name("alias/short-lived")
        .target_key_id(&key)
        .send()
        .await
        .expect("CreateAlias");
    client
        .delete_alias()
        .alias_name("alias/short-lived")
        .send()
        .await
        .expect("DeleteAlias");

    assert_eq!(
        error_code(
            client
                .describe_key()
                .key_id("alias/short-lived")
                .send()
                .await
        ),
        "NotFoundException"
    );
    assert_eq!(
        error_code(
            client
                .encrypt()
                .key_id(alias_arn("us-east-1", "alias/short-lived"))
                .plaintext(Blob::new(&b"x"[..]))
                .send()
                .await
        ),
        "NotFoundException"
    );
    assert_eq!(
        error_code(
            client
                .delete_alias()
                .alias_name("alias/short-lived")
                .send()
                .await
        ),
        "NotFoundException"
    );
    assert!(all_alias_names(&client).await.is_empty());
    // The key itself is untouched, and the name can be reused.
    assert_eq!(described_key_id(&client, &key).await, key);
    client
        .create_alias()
        .alias_name("alias/short-lived")
        .target_key_id(&key)
        .send()
        .await
        .expect("CreateAlias again after delete");
}

#[tokio::test(flavor = "multi_thread")]
async fn list_aliases_all_and_by_key() {
    let server = Server::start();
    let client = server.client("us-east-1");
    let k1 = new_key(&client).await;
    let k2 = new_key(&client).await;
    let k3 = new_key(&client).await;
    for (name, key) in [
        ("alias/one-b", &k1),
        ("alias/two", &k2),
        ("alias/one-a", &k1),
    ] {
        client
            .create_alias()
            .alias_name(name)
            .target_key_id(key)
            .send()
            .await
            .expect("CreateAlias");
    }

    let all = client.list_aliases().send().await.expect("ListAliases");
    assert!(!all.truncated());
    assert_eq!(all.next_marker(), None);
    let names: Vec<&str> = all
        .aliases()
        .iter()
        .filter_map(|a| a.alias_name())
        .collect();
    assert_eq!(names, vec!["alias/one-a", "alias/one-b", "alias/two"]);
    for a in all.aliases() {
        let name = a.alias_name().unwrap();
        assert_eq!(a.alias_arn(), Some(alias_arn("us-east-1", name).as_str()));
        let expected = if name == "alias/two" { &k2 } else { &k1 };
        assert_eq!(a.target_key_id(), Some(expected.as_str()), "{name}");
        assert!(a.creation_date().is_some(), "{name} lacks CreationDate");
    }

    let by_k1 = client
        .list_aliases()
        .key_id(&k1)
        .send()
        .await
        .expect("ListAliases k1");
    let names: Vec<&str> = by_k1
        .aliases()
        .iter()
        .filter_map(|a| a.alias_name())
        .collect();
    assert_eq!(names, vec!["alias/one-a", "alias/one-b"]);

    let by_k2_arn = client
        .list_aliases()
        .key_id(key_arn("us-east-1", &k2))
        .send()
        .await
        .expect("ListAliases k2 by ARN");
    let names: Vec<&str> = by_k2_arn
        .aliases()
        .iter()
        .filter_map(|a| a.alias_name())
        .collect();
    assert_eq!(names, vec!["alias/two"]);

    let by_k3 = client
        .list_aliases()
        .key_id(&k3)
        .send()
        .await
        .expect("ListAliases k3");
    assert!(by_k3.aliases().is_empty());

    assert_eq!(
        error_code(
            client
                .list_aliases()
                .key_id("0b7a3f52-1c2d-4e5f-8a9b-0c1d2e3f4a5b")
                .send()
                .await
        ),
        "NotFoundException"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn list_aliases_paginates() {
    let server = Server::start();
    let client = server.client("us-east-1");
    let key = new_key(&client).await;
    let created = ["alias/p3", "alias/p1", "alias/p5", "alias/p2", "alias/p4"];
    for name in created {
        client
            .create_alias()
            .alias_name(name)
            .target_key_id(&key)
            .send()
            .await
            .expect("CreateAlias");
    }

    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    let mut page_sizes = Vec::new();
    for _ in 0..10 {
        let page = client
            .list_aliases()
            .limit(2)
            .set_marker(marker.clone())
            .send()
            .await
            .expect("ListAliases page");
        page_sizes.push(page.aliases().len());
        seen.extend(
            page.aliases()
                .iter()
                .map(|a| a.alias_name().unwrap().to_string()),
        );
        if page.truncated() {
            marker = Some(
                page.next_marker()
                    .expect("a truncated page carries NextMarker")
                    .to_string(),
            );
        } else {
            assert_eq!(page.next_marker(), None, "last page has no NextMarker");
            marker = None;
            break;
        }
    }
    assert!(marker.is_none(), "pagination did not end");
    assert_eq!(page_sizes, vec![2, 2, 1]);
    assert_eq!(
        seen,
        vec!["alias/p1", "alias/p2", "alias/p3", "alias/p4", "alias/p5"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn list_aliases_refuses_bad_limit_and_marker() {
    let server = Server::start();
    let client = server.client("us-east-1");
    let key = new_key(&client).await;
    client
        .create_alias()
        .alias_name("alias/x")
        .target_key_id(&key)
        .send()
        .await
        .expect("CreateAlias");
    for limit in [0, 101, -1] {
        assert_eq!(
            error_code(client.list_aliases().limit(limit).send().await),
            "ValidationException",
            "Limit={limit}"
        );
    }
    let max = client
        .list_aliases()
        .limit(100)
        .send()
        .await
        .expect("Limit=100");
    assert_eq!(max.aliases().len(), 1);
    assert_eq!(
        error_code(client.list_aliases().marker("!!!").send().await),
        "InvalidMarkerException"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn aliases_are_per_region() {
    let server = Server::start();
    let east = server.client("us-east-1");
    let west = server.client("us-west-2");
    let key = new_key(&east).await;
    east.create_alias()
        .alias_name("alias/regional")
        .target_key_id(&key)
        .send()
        .await
        .expect("CreateAlias");

    assert!(
        all_alias_names(&east)
            .await
            .contains(&"alias/regional".to_string())
    );
    assert!(
        !all_alias_names(&west)
            .await
            .contains(&"alias/regional".to_string()),
        "us-east-1 alias visible in us-west-2"
    );
    assert_eq!(
        error_code(west.describe_key().key_id("alias/regional").send().await),
        "NotFoundException"
    );
    // The us-east-1 key itself is not reachable from us-west-2 either.
    assert_eq!(
        error_code(
            west.create_alias()
                .alias_name("alias/cross")
                .target_key_id(&key)
                .send()
                .await
        ),
        "NotFoundException"
    );

    // The same name is free in us-west-2 and resolves there to the local key.
    let west_key = new_key(&west).await;
    west.create_alias()
        .alias_name("alias/regional")
        .target_key_id(&west_key)
        .send()
        .await
        .expect("CreateAlias in us-west-2");
    assert_eq!(described_key_id(&west, "alias/regional").await, west_key);
    assert_eq!(described_key_id(&east, "alias/regional").await, key);
    let west_list = west.list_aliases().send().await.unwrap();
    let entry = west_list
        .aliases()
        .iter()
        .find(|a| a.alias_name() == Some("alias/regional"))
        .unwrap();
    assert_eq!(
        entry.alias_arn(),
        Some(alias_arn("us-west-2", "alias/regional").as_str())
    );
}

// ---------------------------------------------------------------- tags

#[tokio::test(flavor = "multi_thread")]
async fn create_key_tags_are_listed_sorted() {
    let server = Server::start();
    let client = server.client("us-east-1");
    let key = client
        .create_key()
        .tags(tag("zeta", "last"))
        .tags(tag("alpha", "first"))
        .tags(tag("mid", ""))
        .send()
        .await
        .expect("CreateKey with tags")
        .key_metadata()
        .unwrap()
        .key_id()
        .to_string();
    let listed = client
        .list_resource_tags()
        .key_id(&key)
        .send()
        .await
        .expect("ListResourceTags");
    assert!(!listed.truncated());
    let got: Vec<(String, String)> = listed
        .tags()
        .iter()
        .map(|t| (t.tag_key().to_string(), t.tag_value().to_string()))
        .collect();
    assert_eq!(
        got,
        pairs(&[("alpha", "first"), ("mid", ""), ("zeta", "last")])
    );
    // Also reachable by key ARN.
    let by_arn = client
        .list_resource_tags()
        .key_id(key_arn("us-east-1", &key))
        .send()
        .await
        .expect("ListResourceTags by ARN");
    assert_eq!(by_arn.tags().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn tag_and_untag_resource() {
    let server = Server::start();
    let client = server.client("us-east-1");
    let key = client
        .create_key()
        .tags(tag("owner", "alice"))
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_string();

    client
        .tag_resource()
        .key_id(&key)
        .tags(tag("env", "prod"))
        .tags(tag("owner", "bob"))
        .send()
        .await
        .expect("TagResource");
    assert_eq!(
        tag_pairs(&client, &key).await,
        pairs(&[("env", "prod"), ("owner", "bob")])
    );

    client
        .untag_resource()
        .key_id(&key)
        .tag_keys("owner")
        .tag_keys("not-there")
        .send()
        .await
        .expect("UntagResource");
    assert_eq!(tag_pairs(&client, &key).await, pairs(&[("env", "prod")]));

    // Tagging by key ARN works too.
    client
        .tag_resource()
        .key_id(key_arn("us-east-1", &key))
        .tags(tag("cost-center", "42"))
        .send()
        .await
        .expect("TagResource by ARN");
    assert_eq!(
        tag_pairs(&client, &key).await,
        pairs(&[("cost-center", "42"), ("env", "prod")])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn list_resource_tags_paginates() {
    let server = Server::start();
    let client = server.client("us-east-1");
    let key = new_key(&client).await;
    let mut req = client.tag_resource().key_id(&key);
    for k in ["t4", "t2", "t5", "t1", "t3"] {
        req = req.tags(tag(k, &format!("v-{k}")));
    }
    req.send().await.expect("TagResource");

    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut marker: Option<String> = None;
    for _ in 0..10 {
        let page = client
            .list_resource_tags()
            .key_id(&key)
            .limit(2)
            .set_marker(marker.clone())
            .send()
            .await
            .expect("ListResourceTags page");
        sizes.push(page.tags().len());
        seen.extend(
            page.tags()
                .iter()
                .map(|t| (t.tag_key().to_string(), t.tag_value().to_string())),
        );
        if page.truncated() {
            marker = Some(page.next_marker().expect("NextMarker").to_string());
        } else {
            assert_eq!(page.next_marker(), None);
            marker = None;
            break;
        }
    }
    assert!(marker.is_none(), "pagination did not end");
    assert_eq!(sizes, vec![2, 2, 1]);
    assert_eq!(
        seen,
        pairs(&[
            ("t1", "v-t1"),
            ("t2", "v-t2"),
            ("t3", "v-t3"),
            ("t4", "v-t4"),
            ("t5", "v-t5")
        ])
    );

    for limit in [0, 51] {
        assert_eq!(
            error_code(
                client
                    .list_resource_tags()
                    .key_id(&key)
                    .limit(limit)
                    .send()
                    .await
            ),
            "ValidationException",
            "Limit={limit}"
        );
    }
    assert_eq!(
        error_code(
            client
                .list_resource_tags()
                .key_id(&key)
                .marker("!!!")
                .send()
                .await
        ),
        "InvalidMarkerException"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_tags_are_refused() {
    let server = Server::start();
    let client = server.client("us-east-1");
    let key = client
        .create_key()
        .tags(tag("keep", "me"))
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_string();

    assert_eq!(
        error_code(
            client
                .tag_resource()
                .key_id(&key)
                .tags(tag("aws:x", "v"))
                .send()
                .await
        ),
        "TagException"
    );
    assert_eq!(
        error_code(
            client
                .tag_resource()
                .key_id(&key)
                .tags(tag("dup", "1"))
                .tags(tag("dup", "2"))
                .send()
                .await
        ),
        "TagException"
    );
    assert_eq!(
        error_code(
            client
                .tag_resource()
                .key_id(&key)
                .tags(tag("", "v"))
                .send()
                .await
        ),
        "ValidationException"
    );
    assert_eq!(
        error_code(client.create_key().tags(tag("aws:x", "v")).send().await),
        "TagException"
    );
    assert_eq!(
        error_code(
            client
                .create_key()
                .tags(tag("dup", "1"))
                .tags(tag("dup", "2"))
                .send()
                .await
        ),
        "TagException"
    );

    // None of the refused requests changed the key's tags.
    assert_eq!(tag_pairs(&client, &key).await, pairs(&[("keep", "me")]));
}

/// Tag keys that differ only in case would be one condition key
/// (`aws:ResourceTag/Classification` names either), so one could hide the
/// other from a policy: a key never has both, whether they come in one
/// request, at creation, or one after the other, and concurrent TagResource
/// calls with the two spellings leave exactly one of them.
#[tokio::test(flavor = "multi_thread")]
async fn tag_keys_differing_only_in_case_are_refused() {
    let server = Server::start();
    let client = server.client("us-east-1");
    let key = client
        .create_key()
        .tags(tag("Classification", "secret"))
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_string();
    let refused = client
        .tag_resource()
        .key_id(&key)
        .tags(tag("other", "x"))
        .tags(tag("classification", "public"))
        .send()
        .await;
    let message = format!("{:?}", refused.as_ref().unwrap_err());
    assert_eq!(error_code(refused), "TagException");
    assert!(
        message.contains("'Classification' and 'classification' differ only in case"),
        "{message}"
    );
    let both = client
        .create_key()
        .tags(tag("Env", "a"))
        .tags(tag("ENV", "b"))
        .send()
        .await;
    assert_eq!(error_code(both), "TagException");
    let both = client
        .tag_resource()
        .key_id(&key)
        .tags(tag("team", "a"))
        .tags(tag("Team", "b"))
        .send()
        .await;
    assert_eq!(error_code(both), "TagException");
    // Nothing of the refused requests was written; the same spelling
    // overwrites.
    assert_eq!(
        tag_pairs(&client, &key).await,
        pairs(&[("Classification", "secret")])
    );
    client
        .tag_resource()
        .key_id(&key)
        .tags(tag("Classification", "internal"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        tag_pairs(&client, &key).await,
        pairs(&[("Classification", "internal")])
    );

    // Races: each round, two writers tag a fresh key with the two spellings.
    for round in 0..20 {
        let key = client
            .create_key()
            .send()
            .await
            .unwrap()
            .key_metadata()
            .unwrap()
            .key_id()
            .to_string();
        let write = |name: &'static str| {
            let (client, key) = (client.clone(), key.clone());
            tokio::spawn(async move {
                let sent = client.tag_resource().key_id(&key).tags(tag(name, "v"));
                sent.send().await.is_ok()
            })
        };
        let (upper, lower) = (write("Owner"), write("owner"));
        let written = [upper.await.unwrap(), lower.await.unwrap()];
        let tags = tag_pairs(&client, &key).await;
        assert_eq!(tags.len(), 1, "round {round}: {tags:?}");
        assert_eq!(written.iter().filter(|w| **w).count(), 1, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn at_most_fifty_tags() {
    let server = Server::start();
    let client = server.client("us-east-1");

    let mut create = client.create_key();
    for i in 0..51 {
        create = create.tags(tag(&format!("k{i:02}"), "v"));
    }
    assert_eq!(error_code(create.send().await), "TagException");
    let keys = client.list_keys().send().await.unwrap();
    assert!(keys.keys().is_empty(), "a refused CreateKey created a key");

    let mut create = client.create_key();
    for i in 0..45 {
        create = create.tags(tag(&format!("k{i:02}"), "v"));
    }
    let key = create
        .send()
        .await
        .expect("CreateKey with 45 tags")
        .key_metadata()
        .unwrap()
        .key_id()
        .to_string();

    // 45 + 6 new = 51 → refused, and nothing is added.
    let mut more = client.tag_resource().key_id(&key);
    for i in 45..51 {
        more = more.tags(tag(&format!("k{i:02}"), "v"));
    }
    assert_eq!(error_code(more.send().await), "LimitExceededException");
    let listed = client
        .list_resource_tags()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.tags().len(), 45);

    // 45 + 5 new = 50 is fine; overwriting an existing tag at 50 is fine too.
    let mut fill = client.tag_resource().key_id(&key);
    for i in 45..50 {
        fill = fill.tags(tag(&format!("k{i:02}"), "v"));
    }
    fill.send().await.expect("TagResource up to 50");
    client
        .tag_resource()
        .key_id(&key)
        .tags(tag("k00", "changed"))
        .send()
        .await
        .expect("overwrite at 50 tags");
    assert_eq!(
        error_code(
            client
                .tag_resource()
                .key_id(&key)
                .tags(tag("one-too-many", "v"))
                .send()
                .await
        ),
        "LimitExceededException"
    );
    let listed = client
        .list_resource_tags()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.tags().len(), 50);
    assert!(!listed.truncated());
    assert_eq!(listed.tags()[0].tag_key(), "k00");
    assert_eq!(listed.tags()[0].tag_value(), "changed");
}

#[tokio::test(flavor = "multi_thread")]
async fn tagging_refuses_pending_deletion_and_unknown_keys() {
    let server = Server::start();
    let client = server.client("us-east-1");
    let pending = pending_deletion_key(&client).await;
    assert_eq!(
        error_code(
            client
                .tag_resource()
                .key_id(&pending)
                .tags(tag("a", "b"))
                .send()
                .await
        ),
        "KMSInvalidStateException"
    );
    assert_eq!(
        error_code(
            client
                .untag_resource()
                .key_id(&pending)
                .tag_keys("a")
                .send()
                .await
        ),
        "KMSInvalidStateException"
    );

    let unknown = "0b7a3f52-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
    assert_eq!(
        error_code(
            client
                .tag_resource()
                .key_id(unknown)
                .tags(tag("a", "b"))
                .send()
                .await
        ),
        "NotFoundException"
    );
    assert_eq!(
        error_code(
            client
                .untag_resource()
                .key_id(unknown)
                .tag_keys("a")
                .send()
                .await
        ),
        "NotFoundException"
    );
    assert_eq!(
        error_code(client.list_resource_tags().key_id(unknown).send().await),
        "NotFoundException"
    );
}

// ---------------------------------------------------------------- policies

#[tokio::test(flavor = "multi_thread")]
async fn new_key_has_the_default_policy() {
    let server = Server::start();
    let client = server.client("us-east-1");
    let key = new_key(&client).await;
    let out = client
        .get_key_policy()
        .key_id(&key)
        .policy_name("default")
        .send()
        .await
        .expect("GetKeyPolicy");
    let policy: serde_json::Value =
        serde_json::from_str(out.policy().expect("Policy")).expect("policy is JSON");
    let statement = &policy["Statement"][0];
    assert_eq!(
        statement["Principal"]["AWS"],
        format!("arn:aws:iam::{ACCOUNT}:root")
    );
    assert_eq!(statement["Action"], "kms:*");
    assert_eq!(statement["Effect"], "Allow");

    // PolicyName may be omitted; the result is the same document.
    let implicit = client
        .get_key_policy()
        .key_id(&key)
        .send()
        .await
        .expect("GetKeyPolicy without PolicyName");
    assert_eq!(implicit.policy(), out.policy());
}

#[tokio::test(flavor = "multi_thread")]
async fn put_key_policy_round_trips_exactly() {
    let server = Server::start();
    let client = server.client("us-east-1");
    let key = new_key(&client).await;
    // Odd spacing and key order: must come back byte for byte.
    let custom = "{ \"Version\":\"2012-10-17\",\n\t\"Statement\" : [ {\"Sid\":\"custom\",\
                  \"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::111122223333:root\"},\
                  \"Action\":[\"kms:*\"],\"Resource\":\"*\"} ] }\n";
    client
        .put_key_policy()
        .key_id(&key)
        .policy_name("default")
        .policy(custom)
        .send()
        .await
        .expect("PutKeyPolicy");
    assert_eq!(get_policy(&client, &key).await, custom);

    // Also by key ARN and without PolicyName.
    let second = custom.replace("custom", "second");
    client
        .put_key_policy()
        .key_id(key_arn("us-east-1", &key))
        .policy(&second)
        .send()
        .await
        .expect("PutKeyPolicy by ARN without PolicyName");
    assert_eq!(get_policy(&client, &key).await, second);
}

#[tokio::test(flavor = "multi_thread")]
async fn create_key_with_policy_stores_it() {
    let server = Server::start();
    let client = server.client("us-east-1");
    let policy = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\
                  \"Principal\":{\"AWS\":\"arn:aws:iam::111122223333:root\"},\
                  \"Action\":\"kms:*\",\"Resource\":\"*\"}}";
    // Without the bypass, a policy that locks the caller out is refused.
    let locks_out = policy.replace(":root", ":user/Ops");
    let locked_out = client.create_key().policy(&locks_out).send().await;
    assert_eq!(error_code(locked_out), "MalformedPolicyDocumentException");
    let key = client
        .create_key()
        .policy(policy)
        .send()
        .await
        .expect("CreateKey with Policy")
        .key_metadata()
        .unwrap()
        .key_id()
        .to_string();
    assert_eq!(get_policy(&client, &key).await, policy);

    assert_eq!(
        error_code(client.create_key().policy("not json").send().await),
        "MalformedPolicyDocumentException"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_policies_are_refused() {
    let server = Server::start();
    let client = server.client("us-east-1");
    let key = new_key(&client).await;
    let before = get_policy(&client, &key).await;

    let put = |policy: &str| {
        client
            .put_key_policy()
            .key_id(&key)
            .policy_name("default")
            .policy(policy)
            .send()
    };
    assert_eq!(
        error_code(put("this is not json").await),
        "MalformedPolicyDocumentException"
    );
    assert_eq!(
        error_code(put("{\"Version\":\"2012-10-17\"}").await),
        "MalformedPolicyDocumentException"
    );
    // AWS's model allows tab, line feed, carriage return and U+0020 to
    // U+00FF only: a character beyond Latin-1 is ValidationException, even
    // in an otherwise sound policy, while one within it is taken.
    for (sid, code) in [
        ("caf\u{e9}", None),
        ("snow\u{2603}", Some("ValidationException")),
    ] {
        let policy = before.replacen("IAM User Permissions", &format!("IAM {sid}"), 1);
        assert_ne!(policy, before, "the policy has a Statement");
        let result = put(&policy).await;
        match code {
            None => assert!(result.is_ok(), "{sid}: {result:?}"),
            Some(code) => assert_eq!(error_code(result), code, "{sid}"),
        }
    }
    let before = get_policy(&client, &key).await;
    assert!(before.contains("caf\u{e9}"), "{before}");
    assert_eq!(
        error_code(put("{\"Statement\": \"\u{1f511}\"}").await),
        "ValidationException"
    );
    assert_eq!(get_policy(&client, &key).await, before, "policy changed");
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_default_policy_name_exists() {
    let server = Server::start();
    let client = server.client("us-east-1");
    let key = new_key(&client).await;
    let before = get_policy(&client, &key).await;

    assert_eq!(
        error_code(
            client
                .get_key_policy()
                .key_id(&key)
                .policy_name("other")
                .send()
                .await
        ),
        "NotFoundException"
    );
    assert_eq!(
        error_code(
            client
                .put_key_policy()
                .key_id(&key)
                .policy_name("other")
                .policy(before.clone())
                .send()
                .await
        ),
        "NotFoundException"
    );

    let listed = client
        .list_key_policies()
        .key_id(&key)
        .send()
        .await
        .expect("ListKeyPolicies");
    assert_eq!(listed.policy_names(), ["default".to_string()]);
    assert!(!listed.truncated());
    assert_eq!(listed.next_marker(), None);
}
