use thiserror::Error;
use wangge_domain::DomainError;
use wangge_domain::import::RowError;

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Error)]
pub enum StoreError {
    /// No such record, or not inside the caller's scope (the two look the same on purpose).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A rule refused the change; `code` is the stable error code (e.g. `duplicate_code`).
    #[error("{message}")]
    Rejected { code: &'static str, message: String },
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("import rejected: {} rows with errors", .0.len())]
    ImportRejected(Vec<RowError>),
    #[error("configuration: {0}")]
    Config(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(String),
}

impl StoreError {
    /// The same error for another waiter (a failed group commit fails every creation in it).
    pub(crate) fn copy(&self) -> StoreError {
        match self {
            StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
            other => StoreError::Database(other.to_string()),
        }
    }

    pub fn rejected(code: &'static str, message: impl Into<String>) -> Self {
        StoreError::Rejected {
            code,
            message: message.into(),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
            // PostgreSQL shutting down or restarting (57P01–57P03) and lost connections (08…)
            sqlx::Error::Database(d)
                if d.code()
                    .is_some_and(|c| c.starts_with("57P") || c.starts_with("08")) =>
            {
                StoreError::Unavailable(e.to_string())
            }
            _ => StoreError::Database(e.to_string()),
        }
    }
}

/// Whether an error is a unique-constraint violation (both backends).
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}
