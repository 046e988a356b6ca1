//! TLS to PostgreSQL, with rustls. The URL's `sslmode` says whether it is
//! used: `disable` never; `prefer` when the server offers it; `require`,
//! `verify-ca` and `verify-full` always. Without `sslmode`, a URL whose
//! hosts are all loopback addresses or Unix sockets is `prefer`, any other
//! `require`: a link that leaves the machine is never plain unless the URL
//! says so, so that no one on the network can answer "no TLS" and then
//! rewrite policies and grants on the way. Whenever TLS is
//! used, the server's certificate is verified against the roots of
//! `store_ca_file`, or the system's when none is given, and must name the
//! host the URL names: `require` and `verify-ca` are checked as
//! `verify-full` is, never less.

use super::super::{StoreError, StoreResult};
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::path::Path;
use std::sync::Arc;
use tokio_postgres_rustls::MakeRustlsConnect;

/// The connector for every connection to the database: verifying servers
/// against `ca_file`'s certificates (PEM), or the system's roots.
pub(super) fn connector(ca_file: Option<&Path>) -> StoreResult<MakeRustlsConnect> {
    let mut roots = RootCertStore::empty();
    let certificates = match ca_file {
        Some(file) => CertificateDer::pem_file_iter(file)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| location(format!("store_ca_file {}: {e}", file.display())))?,
        None => rustls_native_certs::load_native_certs().certs,
    };
    let (_, refused) = roots.add_parsable_certificates(certificates);
    if roots.is_empty() {
        return Err(location(match ca_file {
            Some(file) => format!(
                "store_ca_file {} holds no usable certificate ({refused} refused)",
                file.display()
            ),
            None => "the system has no root certificates; set store_ca_file".into(),
        }));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| location(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// `url` with libpq's `sslmode=verify-ca` or `verify-full`, which the
/// PostgreSQL client does not parse, as `require`: with TLS always
/// verified in full, the three mean the same here.
pub(super) fn as_client_parses(url: &str) -> String {
    url.replace("sslmode=verify-full", "sslmode=require")
        .replace("sslmode=verify-ca", "sslmode=require")
}

/// Whether any of the settings' hosts is reached over a network: a TCP
/// host that is not `localhost` or a loopback address.
pub(super) fn leaves_the_host(config: &tokio_postgres::Config) -> bool {
    config.get_hosts().iter().any(|host| match host {
        tokio_postgres::config::Host::Tcp(name) => {
            name != "localhost"
                && !name
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        tokio_postgres::config::Host::Unix(_) => false,
    })
}

fn location(why: String) -> StoreError {
    StoreError::Location(why)
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;
    use tokio_postgres::config::SslMode;

    fn mode(url: &str) -> SslMode {
        super::super::parse(&SecretString::from(url.to_string()))
            .unwrap()
            .get_ssl_mode()
    }

    #[test]
    fn a_url_without_sslmode_requires_tls_once_the_link_leaves_the_host() {
        assert_eq!(
            mode("postgres://trent@db.internal:5432/trent"),
            SslMode::Require
        );
        assert_eq!(mode("postgres://trent@10.0.0.5/trent"), SslMode::Require);
        for local in [
            "postgres://trent@127.0.0.1:5432/trent",
            "postgres://trent@localhost/trent",
            "postgres://trent@[::1]:5432/trent",
            "host=/var/run/postgresql user=trent dbname=trent",
        ] {
            assert_eq!(mode(local), SslMode::Prefer, "{local}");
        }
        let said = "postgres://trent@db.internal/trent?sslmode=disable";
        assert_eq!(mode(said), SslMode::Disable, "the URL's own choice stands");
    }
}
