//! Durable instances: an embedded SQLite store.
//!
//! Diagrams are stored once, by the SHA-256 of their text; instances refer to
//! them. An instance is saved in one transaction after every step, and only
//! what the step changed is written (the instance row, the tasks and scopes
//! it touched), so a step costs the same in a 100,000-task run as in a short
//! one.
//!
//! # Crash safety
//! The database runs in WAL mode with `synchronous = NORMAL`: a committed step
//! survives the process being killed at any moment (SIGKILL included); only a
//! power loss can lose the last steps. On resume, the task that was running
//! when the process died runs again: steps are *at least once*, so a plugin
//! with outside effects should tolerate a repeat.

mod sqlite;

pub use sqlite::{InstanceSummary, SqliteStore};

use std::path::PathBuf;

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file exists but is not a wasmflow database, or is damaged.
    #[error(
        "{path} is not a usable wasmflow database ({detail}); it was left untouched: restore it from a backup or point --db at another file"
    )]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        detail: String,
    },
    /// Another process held the database longer than the busy timeout.
    #[error(
        "{path} is in use by another wasmflow process that held it for over 10 s; try again when it has finished, or use another --db"
    )]
    Busy {
        /// The database file.
        path: PathBuf,
    },
    /// No instance with that id.
    #[error("no instance `{0}` in this database (see `wasmflow list`)")]
    UnknownInstance(String),
    /// The saved instance cannot be loaded.
    #[error("instance `{id}`: {detail}")]
    Unloadable {
        /// The instance id.
        id: String,
        /// Why.
        detail: String,
    },
    /// Any other database failure.
    #[error("database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
}

/// The default database: `$WASMFLOW_DB`, else `wasmflow.db` in the user's data
/// directory (e.g. `~/.local/share/wasmflow/wasmflow.db`).
pub fn default_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("WASMFLOW_DB") {
        return Some(PathBuf::from(path));
    }
    directories::ProjectDirs::from("", "", "wasmflow").map(|dirs| dirs.data_dir().join("wasmflow.db"))
}
