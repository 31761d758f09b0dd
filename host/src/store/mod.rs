//! Durable instances: an embedded SQLite store.
//!
//! Diagrams are stored once, by the SHA-256 of their text; instances refer to
//! them. While an instance runs, each step is appended to its step log (one
//! record, one `write`: see [`steplog`]); the step that brings it to rest, or
//! changes its status, and every 1,024th step write what the log holds into
//! the tables in one transaction, so a step costs the same in a 100,000-task
//! run as in a short one, and readers of instances at rest read tables only.
//!
//! # Crash safety
//! The database runs in WAL mode with `synchronous = NORMAL`, and a step's
//! record is in the kernel's page cache when `save` returns: a saved step
//! survives the process being killed at any moment (SIGKILL included); only a
//! power loss can lose the last steps. On resume, the task that was running
//! when the process died runs again: steps are *at least once*, so a plugin
//! with outside effects should tolerate a repeat.
//!
//! # Crafted files
//! A `--db` file may come from anywhere. Only a regular file is opened, and
//! only its header is read before SQLite takes it; a database is used only if
//! its schema is exactly wasmflow's (no view or trigger that could run a query
//! for ever), and every statement runs within a budget of SQLite instructions
//! ([`STATEMENT_BUDGET`]). Anything else is refused before anything is written.
//! Step logs are opened only as regular files, never through a link, named by a
//! digest of the instance id, and read only up to a bound.

mod bound;
mod sqlite;
mod steplog;

pub use bound::STATEMENT_BUDGET;

pub use sqlite::{Deployed, Deployment, InstanceSummary, SchedulerLock, SqliteStore, Waiter};

use std::path::PathBuf;

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file is not a wasmflow database: not a regular file, or an SQLite
    /// database with objects wasmflow did not create.
    #[error("{path} is not a wasmflow database ({detail}); it was left untouched: use another --db file")]
    Foreign {
        /// The database file.
        path: PathBuf,
        /// What it is, or what it has that wasmflow's schema does not.
        detail: String,
    },
    /// The file has wasmflow's tables and a schema version this build does not know.
    #[error(
        "{path} was written by a newer wasmflow (schema version {version}; this one reads {reads}); it was left untouched: use that wasmflow, or another --db file",
        reads = sqlite::SCHEMA_VERSION
    )]
    Newer {
        /// The database file.
        path: PathBuf,
        /// Its schema version.
        version: i32,
    },
    /// There is no database to read: the file is missing or empty. Nothing was
    /// created ([`SqliteStore::open_existing`] creates nothing).
    #[error("{path} has no instances: it is missing or empty (`wasmflow run --db` starts a database)")]
    Empty {
        /// The database file.
        path: PathBuf,
    },
    /// The file exists but is not an SQLite file, or is damaged.
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
    /// A deployment cannot be used.
    #[error("deployed process `{process}`: {detail}")]
    Undeployable {
        /// The process id.
        process: String,
        /// Why.
        detail: String,
    },
    /// The saved instance cannot be loaded.
    #[error("instance `{id}`: {detail}")]
    Unloadable {
        /// The instance id.
        id: String,
        /// Why.
        detail: String,
    },
    /// A statement ran over [`STATEMENT_BUDGET`] and was stopped.
    #[error(
        "{path}: a query ran over {budget} SQLite instructions and was stopped; the database may be crafted to make wasmflow hang: use another --db file",
        budget = STATEMENT_BUDGET
    )]
    Interrupted {
        /// The database file.
        path: PathBuf,
    },
    /// The file cannot be read, or its directory created.
    #[error("cannot open {path}: {error}")]
    Unreadable {
        /// The database file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// Any other database failure.
    // Not a `source`: SQLite's message is the whole story, and a chain would repeat it.
    #[error("database {path}: {error}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The SQLite error.
        error: rusqlite::Error,
    },
}

/// The default database: `wasmflow.db` in the user's data directory (e.g.
/// `~/.local/share/wasmflow/wasmflow.db`). The command line reads `$WASMFLOW_DB`
/// before falling back to it.
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "wasmflow").map(|dirs| dirs.data_dir().join("wasmflow.db"))
}
