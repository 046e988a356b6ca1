//! Each node's one listening connection: `LISTEN trent_store`, on which
//! every commit that bumped the data version is announced with the new
//! version, so that the metadata cache drops its copies at once rather than
//! at its next check. The check under `metadata_max_staleness_ms` stays, for
//! what a lost connection missed; a lost connection is made again.

use std::task::Poll;
use std::time::Duration;
use tokio_postgres::{AsyncMessage, Config};
use tokio_postgres_rustls::MakeRustlsConnect;

/// The channel commits are announced on.
pub(super) const CHANNEL: &str = "trent_store";
/// The wait before connecting again after the connection failed or ended.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// Listens for as long as the backend's runtime runs: `on_change` gets each
/// announced version, and `None` after every (re)connection (what came
/// while there was none is unknown).
pub(super) async fn listen(
    config: Config,
    tls: MakeRustlsConnect,
    on_change: impl Fn(Option<i64>) + Sync,
) {
    loop {
        if let Err(e) = listen_once(&config, tls.clone(), &on_change).await {
            tracing::warn!(error = %e, "PostgreSQL LISTEN connection lost; connecting again");
        }
        tokio::time::sleep(RECONNECT_AFTER).await;
    }
}

/// One connection's life: LISTEN, then the notifications until it ends.
async fn listen_once(
    config: &Config,
    tls: MakeRustlsConnect,
    on_change: &(impl Fn(Option<i64>) + Sync),
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(tls).await?;
    let statement = format!("LISTEN {CHANNEL}");
    let subscribe = client.batch_execute(&statement);
    let mut subscribe = std::pin::pin!(subscribe);
    let mut subscribed = false;
    loop {
        // Drives the connection (which runs LISTEN) and reads what it
        // delivers, until it ends.
        let message = std::future::poll_fn(|cx| {
            if !subscribed {
                if let Poll::Ready(done) = subscribe.as_mut().poll(cx) {
                    subscribed = true;
                    return Poll::Ready(Some(done.map(|()| None)));
                }
            }
            connection.poll_message(cx).map(|m| m.map(|m| m.map(Some)))
        })
        .await;
        match message {
            None => return Ok(()),
            Some(Err(e)) => return Err(e),
            Some(Ok(None)) => on_change(None),
            Some(Ok(Some(AsyncMessage::Notification(n)))) => on_change(n.payload().parse().ok()),
            Some(Ok(Some(_))) => {}
        }
    }
}
