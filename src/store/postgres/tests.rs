//! The PostgreSQL backend's own guarantees, on a real server: the one named
//! by `TRENT_TEST_STORE_URL` (each test makes a fresh database there); the
//! tests say so and pass when it is unset.

use super::Postgres;
use crate::model::{GrantRecord, KeyRecord, KeySpec, KeyState, KeyUsage, Tag};
use crate::store::backend::{
    Backend, GrantInsert, Grants, KeyChange, KeyWrites, Keys, Tags, TagsPut,
};
use secrecy::SecretString;

/// A fresh database on the test server, as a URL; `None` without one.
fn fresh_database() -> Option<SecretString> {
    let Ok(server) = std::env::var("TRENT_TEST_STORE_URL") else {
        eprintln!("skipped: TRENT_TEST_STORE_URL is not set");
        return None;
    };
    let name = format!("trent_unit_{}", uuid::Uuid::new_v4().simple());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(&server, tokio_postgres::NoTls)
            .await
            .expect("connect to TRENT_TEST_STORE_URL");
        tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
    });
    let (base, query) = server.split_once('?').unwrap_or((&server, ""));
    let authority = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority..].find('/') {
        Some(slash) => &base[..authority + slash],
        None => base,
    };
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    Some(SecretString::from(format!("{base}/{name}{query}")))
}

fn key(key_id: &str) -> KeyRecord {
    KeyRecord {
        region: "us-east-1".into(),
        key_id: key_id.into(),
        account_id: "111122223333".into(),
        description: String::new(),
        state: KeyState::Enabled,
        key_spec: KeySpec::SymmetricDefault,
        key_usage: KeyUsage::EncryptDecrypt,
        origin: "AWS_KMS".into(),
        creation_date: 1,
        deletion_date: None,
        pending_window_days: None,
        current_material_id: "m".into(),
        valid_to: None,
        policy: "{}".into(),
        rotation_period_days: None,
        next_rotation_date: None,
        multi_region: false,
        updating: false,
        arn: Default::default(),
    }
}

#[test]
fn nodes_starting_together_migrate_once() {
    let Some(url) = fresh_database() else { return };
    let nodes: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || Postgres::open(&url, None, |_| ()).map(|_| ()))
        })
        .collect();
    for node in nodes {
        node.join().unwrap().expect("a node starts");
    }
    let node = Postgres::open(&url, None, |_| ()).unwrap();
    let version: i64 = node
        .run(async |client| {
            let row = super::query_one(&*client, "SELECT version FROM schema_version", &[]).await?;
            Ok(row.try_get(0)?)
        })
        .unwrap();
    assert_eq!(version as usize, super::migrate::MIGRATIONS.len());
}

/// Another node sees the version move after each committed write of what
/// the cache copies, and only then.
#[test]
fn writes_to_cached_records_move_the_version_other_nodes_poll() {
    let Some(url) = fresh_database() else { return };
    let (writer, reader) = (
        Postgres::open(&url, None, |_| ()).unwrap(),
        Postgres::open(&url, None, |_| ()).unwrap(),
    );
    let version = || reader.data_version().unwrap();
    let start = version();
    writer.insert_key(&key("k"), None, &[]).unwrap();
    let created = version();
    assert!(created > start, "a new key moves the version");
    writer
        .put_tags(
            "us-east-1",
            "k",
            &[Tag {
                key: "t".into(),
                value: "v".into(),
            }],
            50,
        )
        .unwrap();
    assert_eq!(version(), created, "tags are not cached");
    assert!(
        !writer
            .change_key("us-east-1", "k", KeyChange::Enabled(true))
            .unwrap()
    );
    assert_eq!(version(), created, "a refused change writes nothing");
    assert!(
        writer
            .change_key("us-east-1", "k", KeyChange::Enabled(false))
            .unwrap()
    );
    assert!(version() > created, "a key change moves the version");
}

/// The limits that a locked key row guards hold under concurrent writers
/// on two nodes: no more grants or tags than allowed get in.
#[test]
fn concurrent_writers_on_two_nodes_keep_the_grant_and_tag_limits() {
    let Some(url) = fresh_database() else { return };
    let nodes = [
        Postgres::open(&url, None, |_| ()).unwrap(),
        Postgres::open(&url, None, |_| ()).unwrap(),
    ];
    nodes[0].insert_key(&key("k"), None, &[]).unwrap();
    let (grants, tags) = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..12)
            .map(|i| {
                let node = &nodes[i % 2];
                scope.spawn(move || {
                    let grant = GrantRecord {
                        grant_id: format!("g{i}"),
                        region: "us-east-1".into(),
                        key_id: "k".into(),
                        name: None,
                        grantee: "arn:aws:iam::111122223333:user/bob".into(),
                        retiring: None,
                        operations: vec!["Encrypt".into()],
                        constraints: None,
                        issuing_account: "111122223333".into(),
                        creation_date: i as i64,
                        token: format!("token-{i}"),
                    };
                    let tag = Tag {
                        key: format!("t{i}"),
                        value: "v".into(),
                    };
                    (
                        node.insert_grant(&grant, 5).unwrap(),
                        node.put_tags("us-east-1", "k", &[tag], 5).unwrap(),
                    )
                })
            })
            .collect();
        let results: Vec<_> = writers.into_iter().map(|w| w.join().unwrap()).collect();
        let grants = results
            .iter()
            .filter(|(g, _)| *g == GrantInsert::Inserted)
            .count();
        let tags = results.iter().filter(|(_, t)| *t == TagsPut::Done).count();
        (grants, tags)
    });
    assert_eq!(grants, 5);
    assert_eq!(tags, 5);
    assert_eq!(nodes[1].grants_of_key("us-east-1", "k").unwrap().len(), 5);
    assert_eq!(nodes[1].tags("us-east-1", "k").unwrap().len(), 5);
}

/// The conditional writes of domain keys and enrolment offers hold on
/// PostgreSQL as on SQLite.
#[test]
fn cluster_conditional_writes() {
    let Some(url) = fresh_database() else { return };
    let postgres = Postgres::open(&url, None, |_| ()).unwrap();
    crate::store::cluster::tests::conditional_writes(&postgres);
}

/// A node is told of another node's committed write of what the cache
/// copies, with the version after it, and not of a write that changed
/// nothing cached.
#[test]
fn other_nodes_are_notified_of_each_commit_with_its_version() {
    let Some(url) = fresh_database() else { return };
    let (sender, told) = std::sync::mpsc::channel();
    let sender = std::sync::Mutex::new(sender);
    let reader = Postgres::open(&url, None, move |version| {
        let _ = sender.lock().unwrap().send(version);
    })
    .unwrap();
    let wait = || {
        told.recv_timeout(std::time::Duration::from_secs(5))
            .unwrap()
    };
    assert_eq!(wait(), None, "listening, with nothing known yet");
    let writer = Postgres::open(&url, None, |_| ()).unwrap();
    writer.insert_key(&key("k"), None, &[]).unwrap();
    assert_eq!(wait(), Some(reader.data_version().unwrap()));
    writer.put_tags("us-east-1", "k", &[], 50).unwrap();
    writer
        .change_key("us-east-1", "k", KeyChange::Enabled(false))
        .unwrap();
    assert_eq!(
        wait(),
        Some(reader.data_version().unwrap()),
        "the tag write announced nothing; the key change did"
    );
}

/// A lost listening connection is made again, and the node is told that
/// it may have missed notifications (so the cache drops its records); the
/// notifications then come again.
#[test]
fn a_lost_listening_connection_is_made_again() {
    let Some(url) = fresh_database() else { return };
    let (sender, told) = std::sync::mpsc::channel();
    let sender = std::sync::Mutex::new(sender);
    let node = Postgres::open(&url, None, move |version| {
        let _ = sender.lock().unwrap().send(version);
    })
    .unwrap();
    let wait = || {
        told.recv_timeout(std::time::Duration::from_secs(5))
            .unwrap()
    };
    assert_eq!(wait(), None, "listening");
    let ended = node
        .run(async |client| {
            let sql = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                       WHERE datname = current_database() AND query = 'LISTEN trent_store'";
            Ok(super::query(&*client, sql, &[]).await?.len())
        })
        .unwrap();
    assert_eq!(ended, 1, "one listening connection");
    assert_eq!(wait(), None, "listening again, what came meanwhile unknown");
    node.insert_key(&key("k"), None, &[]).unwrap();
    assert_eq!(wait(), Some(node.data_version().unwrap()));
}

#[test]
fn rows_without_a_tag_are_listed_and_tagged_once() {
    let Some(url) = fresh_database() else { return };
    let backend = Postgres::open(&url, None, |_| ()).unwrap();
    crate::store::backend::check_row_tags(&backend);
}
