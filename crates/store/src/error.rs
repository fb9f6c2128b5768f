//! Errors of the store.

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed (disk full, I/O error, corruption).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored profile does not decode: the database holds something we did not write.
    #[error("stored profile is unreadable: {0}")]
    Corrupt(#[from] modelwatch_core::profile::DecodeError),
    /// The data directory cannot be used (not creatable, not a database, damaged).
    #[error("{0}")]
    Unusable(String),
    /// A write transaction failed and was rolled back (the cause was logged).
    #[error("write failed and was rolled back: {0}")]
    WriteFailed(String),
    /// The write queue is full; the caller should retry later.
    #[error("the write queue is full")]
    Overloaded,
    /// The writer thread has stopped (after a fatal error or at shutdown).
    #[error("the store is closed")]
    Closed,
    /// The model does not exist (it may have been deleted meanwhile).
    #[error("model not found")]
    ModelNotFound,
    /// A stored model definition does not parse.
    #[error("stored model `{name}` is invalid: {reason}")]
    InvalidStoredModel {
        /// The model.
        name: String,
        /// Why.
        reason: String,
    },
}
