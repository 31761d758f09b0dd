//! The SQLite store: one file holds diagrams and instances.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

mod deployments;
mod start_timers;
mod waits;

pub use deployments::{Deployed, Deployment};
pub use waits::Waiter;

use super::StoreError;
use super::bound::{Budget, STATEMENT_BUDGET};
use super::steplog::{self, LogError, Pending, Step, StepOut, Tail};
use crate::bpmn::{self, Diagram, Library};
use crate::engine::{Event, InstanceRecord, ScopeRecord, Snapshot, Status, TaskRecord, Workflow};

/// How long a write waits for another process's transaction before giving up.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The schema this build creates and reads (`PRAGMA user_version`).
pub(super) const SCHEMA_VERSION: i32 = 6;

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

/// What version 3 adds: how far each instance's step log is folded into the
/// tables (see [`super::steplog`]).
const SCHEMA_3: &str = "
CREATE TABLE IF NOT EXISTS step_logs (
    instance TEXT PRIMARY KEY,
    folded   INTEGER NOT NULL  -- the last step of the instance's log written into the tables
) WITHOUT ROWID;
";

/// What version 4 adds: every armed timer, by due time, so that `tick`
/// finds the instances with a timer due without loading any other; and the
/// instances a scheduler is running, so that the next one runs on those a
/// killed one left half-way.
const SCHEMA_4: &str = "
CREATE TABLE IF NOT EXISTS claims (
    instance TEXT PRIMARY KEY  -- run by the scheduler holding the scheduler lock
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS timers (
    instance TEXT NOT NULL,
    task     INTEGER NOT NULL,
    due      INTEGER NOT NULL,  -- Unix time in milliseconds
    PRIMARY KEY (instance, task)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS timers_due ON timers (due);
";

/// What version 5 adds: what every waiting message and signal catch waits
/// for, by name and correlation value, so that `message` and `signal` find
/// the catches concerned without loading any other instance. A message catch
/// has a row per correlation value it waits for, or one with an empty
/// property when it waits for none (as a signal catch has).
const SCHEMA_5: &str = "
CREATE TABLE IF NOT EXISTS subscriptions (
    kind     TEXT NOT NULL,  -- message or signal
    name     TEXT NOT NULL,
    property TEXT NOT NULL,
    value    TEXT NOT NULL,
    instance TEXT NOT NULL,
    task     INTEGER NOT NULL,
    PRIMARY KEY (kind, name, property, value, instance, task)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS subscriptions_instance ON subscriptions (instance);
CREATE TABLE IF NOT EXISTS outboxes (
    instance TEXT PRIMARY KEY  -- threw messages or signals not yet delivered to other instances
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deployments (
    process  TEXT NOT NULL,
    version  INTEGER NOT NULL,
    diagrams TEXT NOT NULL,  -- JSON array of diagram hashes, in the order given
    deployed TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    PRIMARY KEY (process, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deployed_starts (
    kind    TEXT NOT NULL,  -- message or signal
    name    TEXT NOT NULL,
    process TEXT NOT NULL,  -- of its newest deployment
    node    TEXT NOT NULL,  -- the start event's element id
    PRIMARY KEY (kind, name, process, node)
) WITHOUT ROWID;
";

/// What version 6 adds: when each timer start event of a deployed process
/// next starts an instance, by due time, so that `tick` and `serve` find
/// those due without reading any deployment.
const SCHEMA_6: &str = "
CREATE TABLE IF NOT EXISTS start_timers (
    process TEXT NOT NULL,
    node    TEXT NOT NULL,     -- the timer start event's element id, in the newest deployment
    due     INTEGER NOT NULL,  -- Unix time in milliseconds
    cycle   TEXT,              -- a cycle's value, for the occurrence after `due`
    fired   INTEGER NOT NULL,  -- how many instances it has started
    PRIMARY KEY (process, node)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS start_timers_due ON start_timers (due);
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

/// One instance's save, gathered: its records and its log.
struct Gathered {
    id: String,
    instance: InstanceRecord,
    tasks: Vec<TaskRecord>,
    scopes: Vec<(usize, ScopeRecord)>,
    events: Vec<Event>,
    tail: Tail,
}

/// The scheduler lock of a database, held (see [`SqliteStore::scheduler_lock`]).
pub struct SchedulerLock {
    _file: File,
}

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
/// let store = SqliteStore::open_existing("wasmflow.db".as_ref())?;
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
    /// What the running statement may still spend: only SQLite's callbacks
    /// read it, through the pointer registered with `conn`.
    #[cfg_attr(not(test), allow(dead_code))]
    budget: Box<Budget>,
    /// The step logs of the instances this store saves that are not at rest.
    tails: HashMap<String, Tail>,
    /// Where the step logs are.
    logs: PathBuf,
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // SQLite's callbacks point into `budget`: unregister them before it goes.
        Budget::release(&self.conn);
    }
}

impl SqliteStore {
    /// Opens a database for a command that starts instances. A missing or empty
    /// file (zero length, or an SQLite database with nothing in it) gets
    /// wasmflow's schema; any other file that is not a wasmflow database is
    /// refused without being written to.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_as(path, true)
    }

    /// Opens a wasmflow database that exists, creating nothing: a missing or
    /// empty file is [`StoreError::Empty`] and stays as it was. For commands on
    /// kept instances, which have nothing to read in a new file.
    pub fn open_existing(path: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_as(path, false)
    }

    fn open_as(path: &Path, create: bool) -> Result<SqliteStore, StoreError> {
        let empty = || StoreError::Empty {
            path: path.to_path_buf(),
        };
        match on_disk(path)? {
            OnDisk::Missing | OnDisk::Empty if !create => return Err(empty()),
            OnDisk::Missing => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| StoreError::Unreadable {
                        path: path.to_path_buf(),
                        error: e,
                    })?;
                }
            }
            OnDisk::Empty | OnDisk::Sqlite => {}
        }
        let flags = if create {
            OpenFlags::default()
        } else {
            // Should the file go between the look and the open, do not make a new one.
            OpenFlags::default() - OpenFlags::SQLITE_OPEN_CREATE
        };
        let conn = Connection::open_with_flags(path, flags).map_err(|e| error(path, e))?;
        // Several wasmflow processes may share a database (a batch, and an
        // operator completing tasks): a writer waits for another's step to commit.
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| error(path, e))?;
        let budget = Budget::install(&conn, STATEMENT_BUDGET);
        let mut store = SqliteStore {
            conn,
            path: path.to_path_buf(),
            parsed: RefCell::default(),
            budget,
            tails: HashMap::new(),
            logs: steplog::dir_for(path),
        };
        // Read before anything writes: a file that is not ours fails here and
        // stays as it was.
        match inspect(&store.conn, path)? {
            Found::Ours(SCHEMA_VERSION) => {}
            Found::Blank if !create => return Err(empty()),
            Found::Blank | Found::Ours(_) => store.create_schema(create)?,
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

    /// Creates the schema in a blank database (if `create`), or upgrades an
    /// older one in place.
    fn create_schema(&mut self, create: bool) -> Result<(), StoreError> {
        // Take the write lock first and look again: another process opening the
        // same new file may have created the schema since we read its version.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| error(&self.path, e))?;
        match inspect(&tx, &self.path)? {
            Found::Blank if create => tx.execute_batch(SCHEMA).map_err(|e| error(&self.path, e))?,
            Found::Blank => {
                return Err(StoreError::Empty {
                    path: self.path.clone(),
                });
            }
            Found::Ours(SCHEMA_VERSION) => return Ok(()),
            // Upgraded in place: older databases gain the tables added since.
            Found::Ours(_) => {}
        }
        // Both are `IF NOT EXISTS`: each version gains what it lacks.
        tx.execute_batch(SCHEMA_2).map_err(|e| error(&self.path, e))?;
        tx.execute_batch(SCHEMA_3).map_err(|e| error(&self.path, e))?;
        tx.execute_batch(SCHEMA_4).map_err(|e| error(&self.path, e))?;
        tx.execute_batch(SCHEMA_5).map_err(|e| error(&self.path, e))?;
        tx.execute_batch(SCHEMA_6).map_err(|e| error(&self.path, e))?;
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
        let path = self.path.clone();
        let fail = |e| error(&path, e);
        let tx = self.conn.transaction().map_err(fail)?;
        if let Some((batch, line)) = batch {
            tx.execute(
                "INSERT INTO batch_items (batch, line, instance) VALUES (?1, ?2, ?3)",
                params![batch, line as i64, workflow.id()],
            )
            .map_err(fail)?;
        }
        let events = insert_instance(&tx, workflow, diagrams).map_err(fail)?;
        tx.commit().map_err(fail)?;
        Ok(events)
    }

    /// Saves what changed in an instance since its last save, and its new
    /// events. A step of a running instance is appended to its step log; the
    /// step that brings it to rest or changes its status, and every
    /// [`steplog::FOLD_EVERY`]th, writes the log and itself into the tables
    /// in one transaction (see [`super::steplog`]). Returns the events saved.
    pub fn save(&mut self, workflow: &mut Workflow) -> Result<Vec<Event>, StoreError> {
        let mut step = self.gather(workflow)?;
        let at_rest = step.instance.status != Status::Running;
        if !at_rest && step.instance.status == step.tail.row_status && step.tail.rows + 1 < steplog::FOLD_EVERY {
            let out = StepOut {
                instance: &step.instance,
                tasks: &step.tasks,
                scopes: &step.scopes,
                events: &step.events,
            };
            let seq = step.tail.next_seq;
            step.tail
                .writer
                .append(seq, &out)
                .map_err(|e| self.log_error(&step.id, e))?;
            step.tail.next_seq += 1;
            step.tail.rows += 1;
            let events = step.events.clone();
            self.tails.insert(step.id, step.tail);
            return Ok(events);
        }
        self.fold(vec![step])
    }

    /// Saves two instances in one transaction, both folded into the tables:
    /// what moves a message or signal from one instance to another is saved
    /// for both at once, or for neither.
    pub fn save_together(&mut self, first: &mut Workflow, second: &mut Workflow) -> Result<Vec<Event>, StoreError> {
        let first = self.gather(first)?;
        let second = match self.gather(second) {
            Ok(second) => second,
            Err(error) => {
                self.tails.insert(first.id.clone(), first.tail);
                return Err(error);
            }
        };
        self.fold(vec![first, second])
    }

    /// What a save of `workflow` writes, with its instance's log.
    fn gather(&mut self, workflow: &mut Workflow) -> Result<Gathered, StoreError> {
        let mut changes = workflow.take_changes();
        if changes.all {
            changes.tasks = (0..workflow.task_count()).collect();
            changes.scopes = (0..workflow.scope_count()).collect();
        }
        let events = workflow.take_events();
        let instance = workflow.instance_record();
        let tasks: Vec<TaskRecord> = changes.tasks.iter().map(|&id| workflow.task_record(id)).collect();
        let scopes: Vec<(usize, ScopeRecord)> = changes
            .scopes
            .iter()
            .map(|&index| (index, workflow.scope_record(index)))
            .collect();
        let id = instance.id.clone();
        let tail = match self.tails.remove(&id) {
            Some(tail) => tail,
            None => self.tail_of(&id)?,
        };
        Ok(Gathered {
            id,
            instance,
            tasks,
            scopes,
            events,
            tail,
        })
    }

    /// Folds each instance's log, then its step, into the tables, all in
    /// one transaction.
    fn fold(&mut self, steps: Vec<Gathered>) -> Result<Vec<Event>, StoreError> {
        let mut folds = Vec::with_capacity(steps.len());
        let mut saved = Vec::new();
        for step in steps {
            let Gathered {
                id,
                instance,
                tasks,
                scopes,
                events,
                tail,
            } = step;
            let mut pending = match tail.rows {
                0 => Pending::default(),
                _ => self.pending(&id)?,
            };
            let status = instance.status;
            saved.extend(events.iter().cloned());
            pending.apply(Step {
                instance,
                tasks,
                scopes,
                events,
            });
            folds.push((id, pending, status, tail));
        }
        let path = self.path.clone();
        let fail = |e| error(&path, e);
        let tx = self.conn.transaction().map_err(fail)?;
        for (id, pending, _, tail) in &folds {
            write_pending(&tx, id, pending).map_err(fail)?;
            tx.prepare_cached("INSERT OR REPLACE INTO step_logs (instance, folded) VALUES (?1, ?2)")
                .and_then(|mut folded| folded.execute(params![id, tail.next_seq as i64]))
                .map_err(fail)?;
        }
        tx.commit().map_err(fail)?;
        // Committed: the records are in the tables, and skipped if a log
        // outlives this (a crash right here).
        for (id, _, status, mut tail) in folds {
            let at_rest = status != Status::Running;
            tail.writer.clear(at_rest).map_err(|e| self.log_error(&id, e))?;
            if !at_rest {
                tail.next_seq += 1;
                tail.rows = 0;
                tail.row_status = status;
                self.tails.insert(id, tail);
            }
        }
        Ok(saved)
    }

    /// Where an instance's log stands: its folded step from the database, the
    /// records after it from the file (whose torn tail, if any, is cut off).
    fn tail_of(&self, id: &str) -> Result<Tail, StoreError> {
        let row: Option<(String, Option<i64>)> = self
            .conn
            .query_row(
                "SELECT i.status, s.folded FROM instances i LEFT JOIN step_logs s ON s.instance = i.id WHERE i.id = ?1",
                [id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(|e| self.error(e))?;
        let (status, folded) = row.ok_or_else(|| StoreError::UnknownInstance(id.to_string()))?;
        let folded = folded.unwrap_or(0).max(0) as u64;
        let path = steplog::file_for(&self.logs, id);
        let log = |e| self.log_error(id, e);
        let (rows, last, valid_len) = match steplog::read_bytes(&path).map_err(log)? {
            Some(bytes) => {
                let replay = steplog::replay(&path, &bytes, folded).map_err(log)?;
                (replay.rows, replay.last_seq, Some(replay.valid_len))
            }
            None => (0, 0, None),
        };
        Ok(Tail {
            writer: steplog::Writer::new(path, valid_len).map_err(|e| self.log_error(id, e))?,
            next_seq: folded.max(last) + 1,
            rows,
            row_status: saved_status(id, &status)?,
        })
    }

    fn log_error(&self, id: &str, error: LogError) -> StoreError {
        StoreError::Unloadable {
            id: id.to_string(),
            detail: error.to_string(),
        }
    }

    /// The bytes of an instance's step log, read before the tables (see
    /// [`steplog::read_bytes`]).
    fn log_bytes(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        steplog::read_bytes(&steplog::file_for(&self.logs, id)).map_err(|e| self.log_error(id, e))
    }

    /// The steps in a log's bytes not yet folded into the tables, read inside
    /// the transaction that reads the tables.
    fn pending_in(&self, id: &str, bytes: Option<Vec<u8>>) -> Result<Pending, StoreError> {
        let Some(bytes) = bytes else {
            return Ok(Pending::default());
        };
        let folded: Option<i64> = self
            .conn
            .query_row("SELECT folded FROM step_logs WHERE instance = ?1", [id], |row| {
                row.get(0)
            })
            .optional()
            .map_err(|e| self.error(e))?;
        let path = steplog::file_for(&self.logs, id);
        let replay =
            steplog::replay(&path, &bytes, folded.unwrap_or(0).max(0) as u64).map_err(|e| self.log_error(id, e))?;
        Ok(replay.pending)
    }

    /// The steps of an instance saved to its log and not yet folded (for the
    /// writer, which no other process folds behind).
    fn pending(&self, id: &str) -> Result<Pending, StoreError> {
        let bytes = self.log_bytes(id)?;
        self.pending_in(id, bytes)
    }

    /// The data task `task` of instance `id` was reached with, if it was recorded.
    pub fn task_input(
        &self,
        id: &str,
        task: usize,
    ) -> Result<Option<serde_json::Map<String, serde_json::Value>>, StoreError> {
        let log = self.log_bytes(id)?;
        let read = self.conn.unchecked_transaction().map_err(|e| self.error(e))?;
        // The first data ever saved wins: a folded input is older than any pending one.
        let input = match self.folded_task_input(id, task)? {
            Some(data) => Some(data),
            None => self.pending_in(id, log)?.inputs.remove(&task),
        };
        read.finish().map_err(|e| self.error(e))?;
        Ok(input)
    }

    fn folded_task_input(
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
        let log = self.log_bytes(id)?;
        let read = self.conn.unchecked_transaction().map_err(|e| self.error(e))?;
        let mut events: Vec<Event> =
            self.json_rows("SELECT event FROM events WHERE instance = ?1 ORDER BY seq", id, "event")?;
        events.extend(self.pending_in(id, log)?.events);
        read.finish().map_err(|e| self.error(e))?;
        Ok(events)
    }

    /// The stored diagrams with these hashes, parsed (each once per store);
    /// `unusable` says why one cannot be used.
    pub(super) fn diagrams(
        &self,
        hashes: &[String],
        unusable: &dyn Fn(String) -> StoreError,
    ) -> Result<Vec<Diagram>, StoreError> {
        let mut parsed = Vec::with_capacity(hashes.len());
        for hash in hashes {
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
                .ok_or_else(|| unusable(format!("its diagram {hash} is missing")))?;
            let diagram = bpmn::parse_str(Path::new(&name), &xml)
                .map_err(|e| unusable(format!("its diagram no longer parses: {e}")))?;
            self.parsed.borrow_mut().insert(hash.clone(), diagram.clone());
            parsed.push(diagram);
        }
        Ok(parsed)
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
            let status = saved_status(&id, &status)?;
            Ok((id, status))
        })
        .transpose()
    }
}

/// Inserts a new instance started from the diagrams `diagrams`, whole, with
/// its events, inside a transaction.
fn insert_instance(
    tx: &rusqlite::Transaction<'_>,
    workflow: &mut Workflow,
    diagrams: &[String],
) -> Result<Vec<Event>, rusqlite::Error> {
    let record = workflow.instance_record();
    let diagrams = serde_json::to_string(diagrams).expect("hashes serialize");
    tx.execute(
        "INSERT INTO instances (id, process, diagrams, status, state) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            record.id,
            record.process,
            diagrams,
            record.status.as_str(),
            to_json(&record)
        ],
    )?;
    write_whole(tx, workflow)
}

/// Writes a whole instance new to this database, and its events, into the
/// tables inside a transaction.
fn write_whole(tx: &rusqlite::Transaction<'_>, workflow: &mut Workflow) -> Result<Vec<Event>, rusqlite::Error> {
    workflow.take_changes();
    let events = workflow.take_events();
    let mut whole = Pending::default();
    whole.apply(Step {
        instance: workflow.instance_record(),
        tasks: (0..workflow.task_count()).map(|id| workflow.task_record(id)).collect(),
        scopes: (0..workflow.scope_count())
            .map(|index| (index, workflow.scope_record(index)))
            .collect(),
        events: events.clone(),
    });
    write_pending(tx, workflow.id(), &whole)?;
    Ok(events)
}

/// Writes the latest records of steps into the tables, inside a transaction.
fn write_pending(tx: &rusqlite::Transaction<'_>, id: &str, pending: &Pending) -> Result<(), rusqlite::Error> {
    if let Some(instance) = &pending.instance {
        tx.prepare_cached(
            "UPDATE instances SET status = ?2, state = ?3, updated = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?1",
        )?
        .execute(params![id, instance.status.as_str(), to_json(instance)])?;
        // The instance's timers as of this record: few, and usually none.
        tx.prepare_cached("DELETE FROM timers WHERE instance = ?1")?
            .execute([id])?;
        let mut timer = tx.prepare_cached("INSERT INTO timers (instance, task, due) VALUES (?1, ?2, ?3)")?;
        for armed in &instance.timers {
            timer.execute(params![id, armed.task as i64, armed.due.as_millisecond()])?;
        }
        waits::write_subscriptions(tx, id, &instance.subscriptions, &instance.watches)?;
        waits::write_outbox(tx, id, !instance.outbox.is_empty())?;
    }
    let mut task = tx.prepare_cached("INSERT OR REPLACE INTO tasks (instance, id, record) VALUES (?1, ?2, ?3)")?;
    for (&task_id, record) in &pending.tasks {
        task.execute(params![id, task_id as i64, to_json(record)])?;
    }
    // The first data a task is saved with is what it was reached with.
    let mut input = tx.prepare_cached("INSERT OR IGNORE INTO task_inputs (instance, id, data) VALUES (?1, ?2, ?3)")?;
    for (&task_id, data) in &pending.inputs {
        input.execute(params![id, task_id as i64, to_json(data)])?;
    }
    let mut scope = tx.prepare_cached("INSERT OR REPLACE INTO scopes (instance, id, record) VALUES (?1, ?2, ?3)")?;
    for (&index, record) in &pending.scopes {
        scope.execute(params![id, index as i64, to_json(record)])?;
    }
    let mut event = tx.prepare_cached("INSERT INTO events (instance, event) VALUES (?1, ?2)")?;
    for e in &pending.events {
        event.execute(params![id, to_json(e)])?;
    }
    Ok(())
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("records serialize")
}

impl SqliteStore {
    /// Loads an instance with the diagrams it was started from.
    pub fn load(&self, id: &str) -> Result<Workflow, StoreError> {
        // One read transaction: the instance, its tasks and its scopes come from
        // the same commit even while another process is saving steps.
        let log = self.log_bytes(id)?;
        let read = self.conn.unchecked_transaction().map_err(|e| self.error(e))?;
        let workflow = self.load_in(id, log);
        read.finish().map_err(|e| self.error(e))?;
        workflow
    }

    fn load_in(&self, id: &str, log: Option<Vec<u8>>) -> Result<Workflow, StoreError> {
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

        let parsed = self.diagrams(&hashes, &unloadable)?;
        let mut tasks: Vec<TaskRecord> = self.records("tasks", id)?;
        let mut scopes: Vec<ScopeRecord> = self.records("scopes", id)?;
        // Steps saved since the last fold overwrite what the tables hold.
        let pending = self.pending_in(id, log)?;
        let overlay = |what: &str, at: usize, len: usize| {
            unloadable(format!(
                "its saved steps skip from {what} {len} to {at}: the database was damaged or edited"
            ))
        };
        for (at, task) in pending.tasks {
            match at.cmp(&tasks.len()) {
                std::cmp::Ordering::Less => tasks[at] = task,
                std::cmp::Ordering::Equal => tasks.push(task),
                std::cmp::Ordering::Greater => return Err(overlay("task", at, tasks.len())),
            }
        }
        for (at, scope) in pending.scopes {
            match at.cmp(&scopes.len()) {
                std::cmp::Ordering::Less => scopes[at] = scope,
                std::cmp::Ordering::Equal => scopes.push(scope),
                std::cmp::Ordering::Greater => return Err(overlay("scope", at, scopes.len())),
            }
        }
        let snapshot = Snapshot {
            instance: pending.instance.unwrap_or(instance),
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
            .query_map([status.map(Status::as_str)], |row| {
                let status: String = row.get(2)?;
                Ok((row.get(0)?, row.get(1)?, status, row.get(3)?, row.get(4)?))
            })
            .map_err(|e| self.error(e))?;
        rows.map(|row| {
            let (id, process, status, created, updated): (String, String, String, String, String) =
                row.map_err(|e| self.error(e))?;
            let status = saved_status(&id, &status)?;
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

/// What is at a database path before SQLite opens it.
enum OnDisk {
    /// Nothing.
    Missing,
    /// A zero-length file.
    Empty,
    /// A file with an SQLite header.
    Sqlite,
}

/// Looks at `path` opening nothing but a regular file, and reads only its header.
fn on_disk(path: &Path) -> Result<OnDisk, StoreError> {
    let unreadable = |error| StoreError::Unreadable {
        path: path.to_path_buf(),
        error,
    };
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(OnDisk::Missing),
        Err(e) => return Err(unreadable(e)),
    };
    // Opening a FIFO blocks and a device reads for ever: look, never open.
    if !metadata.is_file() {
        return Err(StoreError::Foreign {
            path: path.to_path_buf(),
            detail: format!("it is {}, not a regular file", file_kind(&metadata.file_type())),
        });
    }
    if metadata.len() == 0 {
        return Ok(OnDisk::Empty);
    }
    let mut header = Vec::with_capacity(16);
    File::open(path)
        .and_then(|file| file.take(16).read_to_end(&mut header))
        .map_err(unreadable)?;
    // Check the header ourselves: SQLite would otherwise try to use it.
    if header != b"SQLite format 3\0" {
        return Err(StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: "not an SQLite file".into(),
        });
    }
    Ok(OnDisk::Sqlite)
}

/// What a file that is not a regular file is, for an error message.
fn file_kind(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if kind.is_dir() { "a directory" } else { "not a file" }
}

/// A row of `sqlite_master`: a table, index, view or trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Object {
    kind: String,
    name: String,
    table: String,
    /// The statement that created it (none for the indexes of primary keys).
    sql: Option<String>,
}

impl Object {
    fn same(&self, other: &Object) -> bool {
        self.kind == other.kind && self.name == other.name
    }
}

impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} `{}`", self.kind, self.name)?;
        if self.table != self.name {
            write!(f, " on `{}`", self.table)?;
        }
        Ok(())
    }
}

/// Every object in a database's schema.
fn objects(conn: &Connection) -> rusqlite::Result<Vec<Object>> {
    let mut statement = conn.prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid")?;
    let rows = statement.query_map([], |row| {
        Ok(Object {
            kind: row.get(0)?,
            name: row.get(1)?,
            table: row.get(2)?,
            sql: row.get(3)?,
        })
    })?;
    rows.collect()
}

/// The objects of wasmflow's schema at `version` (1 to this build's), as
/// SQLite records them: made once in memory, so they never drift from the schema.
fn schema_objects(version: i32) -> &'static [Object] {
    static SCHEMAS: OnceLock<[Vec<Object>; 6]> = OnceLock::new();
    let schemas = SCHEMAS.get_or_init(|| {
        let conn = Connection::open_in_memory().expect("SQLite opens an in-memory database");
        // Each version is the one before it plus its additions.
        [SCHEMA, SCHEMA_2, SCHEMA_3, SCHEMA_4, SCHEMA_5, SCHEMA_6].map(|sql| {
            conn.execute_batch(sql).expect("the schema is valid");
            objects(&conn).expect("an in-memory schema reads")
        })
    });
    &schemas[(version.clamp(1, SCHEMA_VERSION) - 1) as usize]
}

/// What a database's schema makes it.
enum Found {
    /// Nothing at all, user_version 0: a new database.
    Blank,
    /// wasmflow's schema at this version (1 to this build's), and nothing else.
    Ours(i32),
}

/// Reads a database's schema (and writes nothing) to tell whether it is ours.
///
/// Objects wasmflow did not create are refused: a view or trigger can run a
/// query that never ends, and a table wasmflow expects may be something else.
fn inspect(conn: &Connection, path: &Path) -> Result<Found, StoreError> {
    if !conn.is_autocommit() {
        return inspect_snapshot(conn, path);
    }
    // Both reads from one snapshot: another process creating the schema of
    // the same new file may commit between them, and a version read before
    // its commit beside tables read after it looks like a stranger's file.
    conn.execute_batch("BEGIN DEFERRED").map_err(|e| error(path, e))?;
    let found = inspect_snapshot(conn, path);
    conn.execute_batch("ROLLBACK").map_err(|e| error(path, e))?;
    found
}

/// [`inspect`], inside a transaction.
fn inspect_snapshot(conn: &Connection, path: &Path) -> Result<Found, StoreError> {
    let version: i32 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|e| error(path, e))?;
    let found = objects(conn).map_err(|e| error(path, e))?;
    if version == 0 && found.is_empty() {
        return Ok(Found::Blank);
    }
    let foreign = |detail: String| StoreError::Foreign {
        path: path.to_path_buf(),
        detail,
    };
    let current = schema_objects(SCHEMA_VERSION);
    let stranger = found.iter().find(|o| !current.iter().any(|e| e.same(o)));
    match version {
        1..=SCHEMA_VERSION => {
            if let Some(stranger) = stranger {
                return Err(foreign(format!("it has {stranger}, which wasmflow does not create")));
            }
            let expected = schema_objects(version);
            if let Some(changed) = found.iter().find(|o| !expected.contains(o)) {
                return Err(foreign(format!(
                    "its {changed} is not as wasmflow's schema version {version} has it"
                )));
            }
            if let Some(missing) = expected.iter().find(|e| !found.iter().any(|o| o.same(e))) {
                return Err(StoreError::Corrupt {
                    path: path.to_path_buf(),
                    detail: format!("schema version {version} without its {missing}"),
                });
            }
            Ok(Found::Ours(version))
        }
        // Only a database with wasmflow's tables was written by a wasmflow.
        newer
            if newer > SCHEMA_VERSION
                && ["diagrams", "instances"]
                    .iter()
                    .all(|table| found.iter().any(|o| o.kind == "table" && o.name == *table)) =>
        {
            Err(StoreError::Newer {
                path: path.to_path_buf(),
                version: newer,
            })
        }
        _ => Err(foreign(match stranger {
            Some(stranger) => format!("it has {stranger}, which wasmflow does not create"),
            None => format!("schema version {version}, which wasmflow does not write"),
        })),
    }
}

/// The status column of instance `id`, which a damaged or edited database may spell wrongly.
fn saved_status(id: &str, status: &str) -> Result<Status, StoreError> {
    status.parse::<Status>().map_err(|e| StoreError::Unloadable {
        id: id.to_string(),
        detail: e.to_string(),
    })
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
        // Only the statement budget interrupts a statement.
        Some(ErrorCode::OperationInterrupted) => StoreError::Interrupted {
            path: path.to_path_buf(),
        },
        _ => StoreError::Sqlite {
            path: path.to_path_buf(),
            error: source,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database as this build creates it, then changed by `sql` (run outside the store).
    fn tampered(dir: &Path, sql: &str) -> PathBuf {
        let path = dir.join("tampered.db");
        drop(SqliteStore::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(sql).unwrap();
        path
    }

    fn refusal(path: &Path) -> String {
        match SqliteStore::open_existing(path) {
            Ok(_) => panic!("{} was opened", path.display()),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn what_open_creates_passes_its_own_check() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        let store = SqliteStore::open(&path).unwrap();
        let found = objects(&store.conn).unwrap();
        assert_eq!(found, schema_objects(SCHEMA_VERSION));
        assert!(found.iter().any(|o| o.kind == "index" && o.sql.is_none()), "{found:?}");
        drop(store);
        assert!(SqliteStore::open_existing(&path).is_ok());
    }

    #[test]
    fn a_view_or_trigger_wasmflow_did_not_create_is_refused_and_never_run() {
        let dir = tempfile::tempdir().unwrap();
        for (sql, named) in [
            (
                "CREATE VIEW v AS WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT * FROM r;",
                "view `v`",
            ),
            (
                "CREATE TRIGGER t AFTER INSERT ON instances BEGIN SELECT count(*) FROM (WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT x FROM r); END;",
                "trigger `t` on `instances`",
            ),
            ("CREATE INDEX mine ON tasks (record);", "index `mine` on `tasks`"),
            ("CREATE TABLE notes (text TEXT);", "table `notes`"),
        ] {
            let path = tampered(dir.path(), sql);
            let before = std::fs::read(&path).unwrap();
            for open in [SqliteStore::open, SqliteStore::open_existing] {
                let error = open(&path).err().expect("refused");
                assert!(matches!(error, StoreError::Foreign { .. }), "{error:?}");
                let message = error.to_string();
                assert!(
                    message.contains(&format!("it has {named}, which wasmflow does not create"))
                        && message.contains("use another --db file"),
                    "{message}"
                );
            }
            assert_eq!(std::fs::read(&path).unwrap(), before);
            std::fs::remove_file(&path).unwrap();
        }
    }

    #[test]
    fn a_changed_definition_of_a_wasmflow_table_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = tampered(
            dir.path(),
            "DROP TABLE scopes; CREATE TABLE scopes (instance TEXT, id INTEGER, record TEXT, PRIMARY KEY (instance, id)) WITHOUT ROWID;",
        );
        assert!(
            refusal(&path).contains(&format!(
                "its table `scopes` is not as wasmflow's schema version {SCHEMA_VERSION} has it"
            )),
            "{}",
            refusal(&path)
        );
    }

    #[test]
    fn a_missing_wasmflow_table_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = tampered(dir.path(), "DROP TABLE events;");
        assert!(
            refusal(&path).contains(&format!(
                "is not a usable wasmflow database (schema version {SCHEMA_VERSION} without its table `events`)"
            )),
            "{}",
            refusal(&path)
        );
    }

    #[test]
    fn a_newer_version_is_named_only_with_wasmflows_tables() {
        let dir = tempfile::tempdir().unwrap();
        let newer = SCHEMA_VERSION + 1;
        let path = tampered(dir.path(), &format!("PRAGMA user_version = {newer};"));
        let error = SqliteStore::open(&path).err().expect("refused");
        assert!(
            matches!(error, StoreError::Newer { version, .. } if version == newer),
            "{error:?}"
        );

        let foreign = dir.path().join("foreign.db");
        let conn = Connection::open(&foreign).unwrap();
        conn.execute_batch(&format!(
            "CREATE TABLE notes (text TEXT); PRAGMA user_version = {newer};"
        ))
        .unwrap();
        drop(conn);
        let message = refusal(&foreign);
        assert!(
            message.contains("is not a wasmflow database (it has table `notes`") && !message.contains("newer"),
            "{message}"
        );
    }

    #[test]
    fn open_existing_creates_nothing_in_a_missing_or_blank_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("sub/missing.db");
        assert!(matches!(
            SqliteStore::open_existing(&missing),
            Err(StoreError::Empty { .. })
        ));
        assert!(!dir.path().join("sub").exists());

        let blank = dir.path().join("blank.db");
        Connection::open(&blank)
            .unwrap()
            .execute_batch("PRAGMA page_size = 1024; VACUUM;")
            .unwrap();
        let before = std::fs::read(&blank).unwrap();
        assert!(!before.is_empty());
        assert!(matches!(
            SqliteStore::open_existing(&blank),
            Err(StoreError::Empty { .. })
        ));
        assert_eq!(std::fs::read(&blank).unwrap(), before);
        // `open` makes it a wasmflow database.
        drop(SqliteStore::open(&blank).unwrap());
        assert!(
            SqliteStore::open_existing(&blank)
                .unwrap()
                .list(None)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn only_the_header_of_a_huge_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sparse.db");
        // Far more than this test could read into memory whole.
        std::fs::File::create(&path).unwrap().set_len(1 << 40).unwrap();
        let error = SqliteStore::open(&path).err().expect("refused");
        assert!(error.to_string().contains("not an SQLite file"), "{error}");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_being_opened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fifo.db");
        let name = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid C string.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        // Opening it for reading would block: no writer ever comes.
        for open in [SqliteStore::open, SqliteStore::open_existing] {
            let message = open(&path).err().expect("refused").to_string();
            assert!(
                message.contains("is not a wasmflow database (it is a FIFO, not a regular file)"),
                "{message}"
            );
        }
        let message = SqliteStore::open(dir.path()).err().expect("refused").to_string();
        assert!(message.contains("it is a directory"), "{message}");
    }

    #[test]
    fn a_statement_over_its_budget_is_stopped_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        store.budget.set(1_000_000);
        let endless = "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT count(*) FROM r";
        let error = store.conn.query_row(endless, [], |r| r.get::<_, i64>(0)).unwrap_err();
        let error = store.error(error);
        assert!(matches!(error, StoreError::Interrupted { .. }), "{error:?}");
        assert!(
            error.to_string().contains("ran over 1000000000 SQLite instructions"),
            "{error}"
        );
        // The store goes on working.
        assert!(store.list(None).unwrap().is_empty());
    }

    #[test]
    fn an_older_database_gains_the_new_tables_and_keeps_its_rows() {
        for (version, schema) in [(1, SCHEMA.to_string()), (2, format!("{SCHEMA}{SCHEMA_2}"))] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(format!("v{version}.db"));
            {
                // A database as that version wrote it, with one diagram row.
                let conn = Connection::open(&path).unwrap();
                conn.execute_batch(&schema).unwrap();
                conn.execute(
                    "INSERT INTO diagrams (hash, name, xml) VALUES ('h', 'd.bpmn', '<x/>')",
                    [],
                )
                .unwrap();
                conn.pragma_update(None, "user_version", version).unwrap();
            }
            let store = SqliteStore::open(&path).unwrap();
            let upgraded: i32 = store.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
            assert_eq!(upgraded, SCHEMA_VERSION);
            let diagrams: i64 = store
                .conn
                .query_row("SELECT count(*) FROM diagrams", [], |r| r.get(0))
                .unwrap();
            assert_eq!(diagrams, 1, "the upgrade from version {version} keeps what was there");
            assert_eq!(store.task_input("nobody", 0).unwrap(), None);
            let folded: i64 = store
                .conn
                .query_row("SELECT count(*) FROM step_logs", [], |r| r.get(0))
                .unwrap();
            assert_eq!(folded, 0);
            drop(store);
            // Opening again is a no-op.
            assert!(SqliteStore::open(&path).is_ok());
        }
    }
}
