//! The SQLite store: one file holds diagrams and instances.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::StoreError;
use crate::bpmn::{self, Diagram, Library};
use crate::engine::{Event, InstanceRecord, ScopeRecord, Snapshot, Status, TaskRecord, Workflow};

/// How long a write waits for another process's transaction before giving up.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The schema this build creates and reads (`PRAGMA user_version`).
const SCHEMA_VERSION: i32 = 2;

/// What version 2 adds to version 1: the data each task was reached with
/// (completed tasks keep none in their record; `restart` needs it).
const SCHEMA_2: &str = "
CREATE TABLE IF NOT EXISTS task_inputs (
    instance TEXT NOT NULL,
    id       INTEGER NOT NULL,
    data     TEXT NOT NULL,  -- JSON object: the task's data when it was reached
    PRIMARY KEY (instance, id)
) WITHOUT ROWID;
";

const SCHEMA: &str = "
CREATE TABLE diagrams (
    hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    xml  TEXT NOT NULL
);
CREATE TABLE instances (
    id       TEXT PRIMARY KEY,
    process  TEXT NOT NULL,
    diagrams TEXT NOT NULL,  -- JSON array of diagram hashes, in the order given
    status   TEXT NOT NULL,
    state    TEXT NOT NULL,  -- JSON InstanceRecord
    created  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    updated  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE INDEX instances_status ON instances (status);
CREATE TABLE tasks (
    instance TEXT NOT NULL,
    id       INTEGER NOT NULL,
    record   TEXT NOT NULL,  -- JSON TaskRecord
    PRIMARY KEY (instance, id)
) WITHOUT ROWID;
CREATE TABLE events (
    seq      INTEGER PRIMARY KEY,
    instance TEXT NOT NULL,
    event    TEXT NOT NULL   -- JSON Event
);
CREATE INDEX events_instance ON events (instance, seq);
CREATE TABLE batch_items (
    batch    TEXT NOT NULL,  -- hash of the objects file, the diagrams and the process
    line     INTEGER NOT NULL,
    instance TEXT NOT NULL,
    PRIMARY KEY (batch, line)
) WITHOUT ROWID;
CREATE TABLE scopes (
    instance TEXT NOT NULL,
    id       INTEGER NOT NULL,
    record   TEXT NOT NULL,  -- JSON ScopeRecord
    PRIMARY KEY (instance, id)
) WITHOUT ROWID;
";

/// One line of `wasmflow list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceSummary {
    /// The instance id.
    pub id: String,
    /// Its root process.
    pub process: String,
    /// Where it stands.
    pub status: Status,
    /// When it was started (UTC, RFC 3339).
    pub created: String,
    /// When it was last saved (UTC, RFC 3339).
    pub updated: String,
}

/// Instances and their diagrams in one SQLite file.
///
/// ```no_run
/// use wasmflow::store::SqliteStore;
///
/// let store = SqliteStore::open("wasmflow.db".as_ref())?;
/// for instance in store.list(None)? {
///     println!("{} {:?}", instance.id, instance.status);
/// }
/// # Ok::<(), wasmflow::store::StoreError>(())
/// ```
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    /// Diagrams already parsed, by hash: loading many instances of the same
    /// diagrams (a batch, a server) parses each once.
    parsed: RefCell<HashMap<String, Diagram>>,
}

impl SqliteStore {
    /// Opens (or creates) a database. A file that is not a wasmflow database is
    /// refused without being written to.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let corrupt = |detail: String| StoreError::Corrupt {
            path: path.to_path_buf(),
            detail,
        };
        if let Ok(bytes) = std::fs::read(path).map(|b| b.into_iter().take(16).collect::<Vec<u8>>()) {
            // Check the header ourselves: SQLite would otherwise try to use it.
            if !bytes.is_empty() && bytes != b"SQLite format 3\0" {
                return Err(corrupt("not an SQLite file".into()));
            }
        } else if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| corrupt(format!("cannot create {}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path).map_err(|source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        })?;
        // Several wasmflow processes may share a database (a batch, and an
        // operator completing tasks): a writer waits for another's step to commit.
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        })?;
        let mut store = SqliteStore {
            conn,
            path: path.to_path_buf(),
            parsed: RefCell::default(),
        };
        // Read before anything writes: a damaged file fails here and stays as it was.
        let version: i32 = store
            .conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(|e| store.error(e))?;
        store
            .conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get::<_, i64>(0))
            .map_err(|e| store.error(e))?;
        match version {
            0 | 1 => store.create_schema()?,
            SCHEMA_VERSION => {}
            newer => {
                return Err(corrupt(format!(
                    "schema version {newer} was written by a newer wasmflow (this one reads {SCHEMA_VERSION})"
                )));
            }
        }
        store
            .conn
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| store.error(e))?;
        store
            .conn
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| store.error(e))?;
        Ok(store)
    }

    fn create_schema(&mut self) -> Result<(), StoreError> {
        // Take the write lock first and look again: another process opening the
        // same new file may have created the schema since we read its version.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| error(&self.path, e))?;
        let version: i32 = tx
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(|e| error(&self.path, e))?;
        match version {
            0 => tx.execute_batch(SCHEMA).map_err(|e| error(&self.path, e))?,
            // Upgraded in place: version 1 databases gain the new table.
            1 => {}
            _ => return Ok(()),
        }
        tx.execute_batch(SCHEMA_2).map_err(|e| error(&self.path, e))?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(|e| error(&self.path, e))?;
        tx.commit().map_err(|e| error(&self.path, e))
    }

    fn error(&self, source: rusqlite::Error) -> StoreError {
        error(&self.path, source)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stores a diagram's text once; returns its hash.
    pub fn add_diagram(&mut self, name: &str, xml: &str) -> Result<String, StoreError> {
        let hash: String = Sha256::digest(xml.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.conn
            .execute(
                "INSERT OR IGNORE INTO diagrams (hash, name, xml) VALUES (?1, ?2, ?3)",
                params![hash, name, xml],
            )
            .map_err(|e| self.error(e))?;
        Ok(hash)
    }

    /// Saves a new instance started from the diagrams with these hashes (in
    /// the order given); `batch` records it as line `line` of a batch, in the
    /// same transaction. Returns the events saved with it.
    pub fn create(
        &mut self,
        workflow: &mut Workflow,
        diagrams: &[String],
        batch: Option<(&str, usize)>,
    ) -> Result<Vec<Event>, StoreError> {
        let record = workflow.instance_record();
        let diagrams = serde_json::to_string(diagrams).expect("hashes serialize");
        let path = self.path.clone();
        let fail = |e| error(&path, e);
        let tx = self.conn.transaction().map_err(fail)?;
        tx.execute(
            "INSERT INTO instances (id, process, diagrams, status, state) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                record.id,
                record.process,
                diagrams,
                status_name(record.status),
                to_json(&record)
            ],
        )
        .map_err(fail)?;
        if let Some((batch, line)) = batch {
            tx.execute(
                "INSERT INTO batch_items (batch, line, instance) VALUES (?1, ?2, ?3)",
                params![batch, line as i64, record.id],
            )
            .map_err(fail)?;
        }
        let events = write_changes(&tx, workflow, Written::All).map_err(fail)?;
        tx.commit().map_err(fail)?;
        Ok(events)
    }

    /// Saves what changed in an instance since its last save, and its new
    /// events, in one transaction. Returns the events saved.
    pub fn save(&mut self, workflow: &mut Workflow) -> Result<Vec<Event>, StoreError> {
        let path = self.path.clone();
        let fail = |e| error(&path, e);
        let tx = self.conn.transaction().map_err(fail)?;
        let events = write_changes(&tx, workflow, Written::Changes).map_err(fail)?;
        tx.commit().map_err(fail)?;
        Ok(events)
    }

    /// The data task `task` of instance `id` was reached with, if it was recorded.
    pub fn task_input(
        &self,
        id: &str,
        task: usize,
    ) -> Result<Option<serde_json::Map<String, serde_json::Value>>, StoreError> {
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT data FROM task_inputs WHERE instance = ?1 AND id = ?2",
                params![id, task as i64],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.error(e))?;
        text.map(|text| {
            serde_json::from_str(&text).map_err(|e| StoreError::Unloadable {
                id: id.to_string(),
                detail: format!("the recorded input of task {task} is not a JSON object: {e}"),
            })
        })
        .transpose()
    }

    /// An instance's events, oldest first.
    pub fn history(&self, id: &str) -> Result<Vec<Event>, StoreError> {
        self.json_rows("SELECT event FROM events WHERE instance = ?1 ORDER BY seq", id, "event")
    }

    /// The instance started for line `line` of a batch, and its status, if any.
    pub fn batch_item(&self, batch: &str, line: usize) -> Result<Option<(String, Status)>, StoreError> {
        let row: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT i.id, i.status FROM batch_items b JOIN instances i ON i.id = b.instance WHERE b.batch = ?1 AND b.line = ?2",
                params![batch, line as i64],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(|e| self.error(e))?;
        row.map(|(id, status)| {
            let status = parse_status(&status).ok_or_else(|| StoreError::Unloadable {
                id: id.clone(),
                detail: format!("unknown status `{status}`"),
            })?;
            Ok((id, status))
        })
        .transpose()
    }
}

/// Which tasks and scopes [`write_changes`] writes.
enum Written {
    /// Those changed since the last save.
    Changes,
    /// All of them (an instance new to this database).
    All,
}

/// Writes an instance's changes and new events inside a transaction.
fn write_changes(
    tx: &rusqlite::Transaction<'_>,
    workflow: &mut Workflow,
    written: Written,
) -> Result<Vec<Event>, rusqlite::Error> {
    let mut changes = workflow.take_changes();
    if matches!(written, Written::All) || changes.all {
        changes.tasks = (0..workflow.task_count()).collect();
        changes.scopes = (0..workflow.scope_count()).collect();
    }
    let events = workflow.take_events();
    let record = workflow.instance_record();
    {
        tx.execute(
            "UPDATE instances SET status = ?2, state = ?3, updated = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?1",
            params![record.id, status_name(record.status), to_json(&record)],
        )?;
        let mut task = tx.prepare_cached("INSERT OR REPLACE INTO tasks (instance, id, record) VALUES (?1, ?2, ?3)")?;
        // The first data a task is saved with is what it was reached with.
        let mut input =
            tx.prepare_cached("INSERT OR IGNORE INTO task_inputs (instance, id, data) VALUES (?1, ?2, ?3)")?;
        for id in changes.tasks {
            let task_record = workflow.task_record(id);
            task.execute(params![record.id, id as i64, to_json(&task_record)])?;
            if let Some(data) = &task_record.data {
                input.execute(params![record.id, id as i64, to_json(data)])?;
            }
        }
        let mut scope =
            tx.prepare_cached("INSERT OR REPLACE INTO scopes (instance, id, record) VALUES (?1, ?2, ?3)")?;
        for index in changes.scopes {
            scope.execute(params![record.id, index as i64, to_json(&workflow.scope_record(index))])?;
        }
        let mut event = tx.prepare_cached("INSERT INTO events (instance, event) VALUES (?1, ?2)")?;
        for e in &events {
            event.execute(params![record.id, to_json(e)])?;
        }
    }
    Ok(events)
}

impl SqliteStore {
    /// Loads an instance with the diagrams it was started from.
    pub fn load(&self, id: &str) -> Result<Workflow, StoreError> {
        // One read transaction: the instance, its tasks and its scopes come from
        // the same commit even while another process is saving steps.
        let read = self.conn.unchecked_transaction().map_err(|e| self.error(e))?;
        let workflow = self.load_in(id);
        read.finish().map_err(|e| self.error(e))?;
        workflow
    }

    fn load_in(&self, id: &str) -> Result<Workflow, StoreError> {
        let unloadable = |detail: String| StoreError::Unloadable {
            id: id.to_string(),
            detail,
        };
        let row: Option<(String, String)> = self
            .conn
            .query_row("SELECT diagrams, state FROM instances WHERE id = ?1", [id], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()
            .map_err(|e| self.error(e))?;
        let (diagrams, state) = row.ok_or_else(|| StoreError::UnknownInstance(id.to_string()))?;
        let hashes: Vec<String> =
            serde_json::from_str(&diagrams).map_err(|e| unloadable(format!("its diagram list is damaged: {e}")))?;
        let instance: InstanceRecord =
            serde_json::from_str(&state).map_err(|e| unloadable(format!("its state is damaged: {e}")))?;

        let mut parsed = Vec::with_capacity(hashes.len());
        for hash in &hashes {
            if let Some(diagram) = self.parsed.borrow().get(hash) {
                parsed.push(diagram.clone());
                continue;
            }
            let (name, xml): (String, String) = self
                .conn
                .query_row("SELECT name, xml FROM diagrams WHERE hash = ?1", [hash], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()
                .map_err(|e| self.error(e))?
                .ok_or_else(|| unloadable(format!("its diagram {hash} is missing")))?;
            let diagram = bpmn::parse_str(Path::new(&name), &xml)
                .map_err(|e| unloadable(format!("its diagram no longer parses: {e}")))?;
            self.parsed.borrow_mut().insert(hash.clone(), diagram.clone());
            parsed.push(diagram);
        }
        let tasks: Vec<TaskRecord> = self.records("tasks", id)?;
        let scopes: Vec<ScopeRecord> = self.records("scopes", id)?;
        let snapshot = Snapshot {
            instance,
            tasks,
            scopes,
        };
        Workflow::restore(Arc::new(Library::new(parsed)), snapshot).map_err(|e| unloadable(e.to_string()))
    }

    fn records<T: serde::de::DeserializeOwned>(&self, table: &str, id: &str) -> Result<Vec<T>, StoreError> {
        self.json_rows(
            &format!("SELECT record FROM {table} WHERE instance = ?1 ORDER BY id"),
            id,
            table,
        )
    }

    /// The JSON values in the first column of a query about one instance.
    fn json_rows<T: serde::de::DeserializeOwned>(&self, sql: &str, id: &str, what: &str) -> Result<Vec<T>, StoreError> {
        let mut statement = self.conn.prepare(sql).map_err(|e| self.error(e))?;
        let rows = statement
            .query_map([id], |row| row.get::<_, String>(0))
            .map_err(|e| self.error(e))?;
        rows.map(|row| {
            let text = row.map_err(|e| self.error(e))?;
            serde_json::from_str(&text).map_err(|e| StoreError::Unloadable {
                id: id.to_string(),
                detail: format!("a saved {what} row is damaged: {e}"),
            })
        })
        .collect()
    }

    /// Instances, newest first, optionally only those with a status.
    pub fn list(&self, status: Option<Status>) -> Result<Vec<InstanceSummary>, StoreError> {
        let mut statement = self
            .conn
            .prepare("SELECT id, process, status, created, updated FROM instances WHERE ?1 IS NULL OR status = ?1 ORDER BY created DESC, id")
            .map_err(|e| self.error(e))?;
        let rows = statement
            .query_map([status.map(status_name)], |row| {
                let status: String = row.get(2)?;
                Ok((row.get(0)?, row.get(1)?, status, row.get(3)?, row.get(4)?))
            })
            .map_err(|e| self.error(e))?;
        rows.map(|row| {
            let (id, process, status, created, updated): (String, String, String, String, String) =
                row.map_err(|e| self.error(e))?;
            let status = parse_status(&status).ok_or_else(|| StoreError::Unloadable {
                id: id.clone(),
                detail: format!("unknown status `{status}`"),
            })?;
            Ok(InstanceSummary {
                id,
                process,
                status,
                created,
                updated,
            })
        })
        .collect()
    }
}

fn status_name(status: Status) -> &'static str {
    match status {
        Status::Running => "running",
        Status::Waiting => "waiting",
        Status::Completed => "completed",
        Status::Error => "error",
        Status::Halted => "halted",
    }
}

fn parse_status(name: &str) -> Option<Status> {
    serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("records serialize")
}

/// Tells a damaged file apart from other database failures.
fn error(path: &Path, source: rusqlite::Error) -> StoreError {
    match source.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy {
            path: path.to_path_buf(),
        },
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: source.to_string(),
        },
        _ => StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_database_gains_task_inputs_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        {
            // A database as version 1 wrote it: the schema without task_inputs, one diagram row.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(SCHEMA).unwrap();
            conn.execute(
                "INSERT INTO diagrams (hash, name, xml) VALUES ('h', 'd.bpmn', '<x/>')",
                [],
            )
            .unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let version: i32 = store.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let diagrams: i64 = store
            .conn
            .query_row("SELECT count(*) FROM diagrams", [], |r| r.get(0))
            .unwrap();
        assert_eq!(diagrams, 1, "the upgrade keeps what was there");
        assert_eq!(store.task_input("nobody", 0).unwrap(), None);
        drop(store);
        // Opening again is a no-op.
        assert!(SqliteStore::open(&path).is_ok());
    }
}
