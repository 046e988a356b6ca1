//! Where the metadata lives: `store_url` (`trent.toml`) or
//! `TRENT_STORE_URL`, else a SQLite file in the data directory.

use super::{StoreError, StoreResult, postgres};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::path::{Path, PathBuf};

/// The database the store opens.
pub enum StoreLocation {
    /// A SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL database, by its URL (which may carry a password, so it
    /// is kept secret and shown without one), with the roots its server's
    /// TLS certificate is verified against (the system's when `None`).
    Postgres(SecretString, Option<PathBuf>),
}

impl StoreLocation {
    /// The database `store_url` names: a `postgres://` (or `postgresql://`)
    /// URL, or `sqlite://` and a file's path (`sqlite:///var/lib/trent.db`:
    /// several nodes on one machine may share one SQLite file, which WAL
    /// mode serves to several processes); without one, `trent.db` in
    /// `data_dir`. `ca_file` (`store_ca_file`) holds the roots that verify
    /// a PostgreSQL server's TLS certificate.
    pub fn from_url(
        url: Option<&SecretString>,
        ca_file: Option<&Path>,
        data_dir: &Path,
    ) -> StoreResult<Self> {
        let Some(url) = url else {
            return Ok(Self::Sqlite(data_dir.join("trent.db")));
        };
        let text = url.expose_secret();
        if let Some(path) = text.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(StoreError::Location(
                    "sqlite:// names no file (sqlite:///path/to/trent.db)".into(),
                ));
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if !(text.starts_with("postgres://") || text.starts_with("postgresql://")) {
            return Err(StoreError::Location(
                "expected a postgres://, postgresql:// or sqlite:// URL".into(),
            ));
        }
        postgres::check_url(url)?;
        Ok(Self::Postgres(url.clone(), ca_file.map(Path::to_path_buf)))
    }
}

/// The location for logs: the file, or the PostgreSQL server and database
/// without the password.
impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "SQLite {}", path.display()),
            Self::Postgres(url, _) => write!(f, "PostgreSQL {}", postgres::redacted(url)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_is_sqlite_in_the_data_dir() {
        let location = StoreLocation::from_url(None, None, Path::new("/var/lib/trent")).unwrap();
        assert_eq!(location.to_string(), "SQLite /var/lib/trent/trent.db");
    }

    #[test]
    fn a_sqlite_url_names_a_file() {
        let url = SecretString::from("sqlite:///srv/cluster/trent.db");
        let location = StoreLocation::from_url(Some(&url), None, Path::new("d")).unwrap();
        assert_eq!(location.to_string(), "SQLite /srv/cluster/trent.db");
        let empty = SecretString::from("sqlite://");
        assert!(StoreLocation::from_url(Some(&empty), None, Path::new("d")).is_err());
    }

    #[test]
    fn a_postgres_url_is_shown_without_its_password() {
        for url in [
            "postgres://trent:s3cret@db.example:5433/kms",
            "postgresql://trent:s3cret@db.example:5433/kms?password=s3cret",
        ] {
            let url = SecretString::from(url);
            let location = StoreLocation::from_url(Some(&url), None, Path::new("d")).unwrap();
            let shown = location.to_string();
            assert_eq!(shown, "PostgreSQL postgres://trent@db.example:5433/kms");
            assert!(!shown.contains("s3cret"));
        }
    }

    #[test]
    fn other_urls_are_refused_without_being_echoed() {
        for url in ["mysql://u:s3cret@h/db", "postgres://u:s3cret@h:notaport/db"] {
            let url = SecretString::from(url);
            let e = StoreLocation::from_url(Some(&url), None, Path::new("d"))
                .err()
                .expect("refused");
            assert!(!e.to_string().contains("s3cret"), "{e}");
        }
    }
}
