//! Step logs: what each step of a running instance changed, appended to a file.
//!
//! Saving a step as SQLite rows costs a transaction: about eight b-tree pages
//! written to the WAL and a dozen `pwrite` and `fcntl` calls, over a hundred
//! microseconds on a loaded machine. While an instance runs, each step is
//! instead appended to its step log as one record (one `write`, a few
//! microseconds), and the records are folded into the tables, in one
//! transaction, by the save that brings the instance to rest (waiting,
//! completed, failed or halted), by a save that changes its status, and every
//! [`FOLD_EVERY`] steps of a long run. Readers (`show`, `resume`, history)
//! replay the records not yet folded, so they always see the last step saved.
//!
//! # Durability
//! A record is in the kernel's page cache when `save` returns: killing the
//! process at any moment (SIGKILL included) loses no saved step, as with the
//! database's `synchronous = NORMAL`. A power loss may lose the last records;
//! a record is framed with its length and a CRC-32, so a torn tail is seen and
//! dropped (the writer truncates it before appending). A record carries whole
//! task and scope records, not differences: replaying is overwriting. The
//! database remembers the last record folded (`step_logs.folded`), so records
//! a crash left behind after their fold are skipped, never applied twice.
//!
//! # Files
//! The logs of `DIR/NAME.db` are in `DIR/NAME.db-steps/`, one file per running
//! instance, named by a digest of its id (ids come from the database, which may
//! come from anywhere: never a path); the directory goes with its last log.
//! Only regular files are opened, without
//! following links, and a file is read only up to [`MAX_LOG`] bytes.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::engine::{Event, InstanceRecord, ScopeRecord, Status, TaskId, TaskRecord};

/// How many records one instance's log holds before they are folded even while
/// the instance runs on: bounds what a reader (or a resume after a crash) replays.
pub(super) const FOLD_EVERY: usize = 1024;

/// The most a log is read: past this it is damaged or crafted.
pub(super) const MAX_LOG: u64 = 1 << 30;

/// The first bytes of every log: the format, checked before anything is parsed.
const MAGIC: &[u8; 8] = b"wfsteps1";

/// Length (u32), CRC-32 of the rest (u32), step number (u64).
const FRAME: usize = 16;

/// What one step changed, as written.
#[derive(Serialize)]
pub(super) struct StepOut<'a> {
    pub instance: &'a InstanceRecord,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub tasks: &'a [TaskRecord],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub scopes: &'a [(usize, ScopeRecord)],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub events: &'a [Event],
}

/// What one step changed, as read back.
#[derive(Deserialize)]
pub(super) struct Step {
    pub instance: InstanceRecord,
    #[serde(default)]
    pub tasks: Vec<TaskRecord>,
    #[serde(default)]
    pub scopes: Vec<(usize, ScopeRecord)>,
    #[serde(default)]
    pub events: Vec<Event>,
}

/// Steps replayed in order: the latest record of everything they changed.
#[derive(Debug, Default)]
pub(super) struct Pending {
    /// The instance record of the last step.
    pub instance: Option<InstanceRecord>,
    /// The latest record of every task a step changed.
    pub tasks: BTreeMap<TaskId, TaskRecord>,
    /// The first data each task was saved with: what it was reached with.
    pub inputs: BTreeMap<TaskId, Map<String, Value>>,
    /// The latest record of every scope a step changed.
    pub scopes: BTreeMap<usize, ScopeRecord>,
    /// Every step's events, oldest first.
    pub events: Vec<Event>,
}

impl Pending {
    /// Adds a step after those already replayed.
    pub fn apply(&mut self, step: Step) {
        for task in step.tasks {
            if let Some(data) = &task.data {
                self.inputs.entry(task.id).or_insert_with(|| data.clone());
            }
            self.tasks.insert(task.id, task);
        }
        self.scopes.extend(step.scopes);
        self.events.extend(step.events);
        self.instance = Some(step.instance);
    }
}

/// Why a log cannot be used.
#[derive(Debug, thiserror::Error)]
pub(super) enum LogError {
    #[error(
        "cannot use the step log {path}: {error}; wasmflow keeps it beside the database, so that \
         directory must be writable by you (or point --db at a database in one that is)"
    )]
    Io { path: PathBuf, error: std::io::Error },
    #[error("the step log {path} is {detail}; move it away to load the instance as of its last folded step")]
    Damaged { path: PathBuf, detail: String },
}

/// What a log holds after the last folded step.
pub(super) struct Replay {
    pub pending: Pending,
    /// Records replayed.
    pub rows: usize,
    /// The last step number in the log (0 for none).
    pub last_seq: u64,
    /// Bytes up to the end of the last whole record.
    pub valid_len: u64,
}

/// The directory holding the step logs of the database at `db`.
pub(super) fn dir_for(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push("-steps");
    db.with_file_name(name)
}

/// The log of instance `id` in `dir`.
pub(super) fn file_for(dir: &Path, id: &str) -> PathBuf {
    let digest = Sha256::digest(id.as_bytes());
    let name: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    dir.join(format!("{name}.log"))
}

/// The bytes of a log, if it exists.
///
/// A reader takes them *before* it reads the tables: a fold another process
/// commits after that leaves both the log read and the tables read from
/// before it; a fold committed before that leaves the tables with it and the
/// log without (or with skipped) records. Either way the two agree.
pub(super) fn read_bytes(path: &Path) -> Result<Option<Vec<u8>>, LogError> {
    let io = |error| LogError::Io {
        path: path.to_path_buf(),
        error,
    };
    let mut file = match open_regular(path, OpenOptions::new().read(true)) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let len = file.metadata().map_err(io)?.len();
    if len > MAX_LOG {
        return Err(LogError::Damaged {
            path: path.to_path_buf(),
            detail: format!("{len} bytes long, over the {MAX_LOG} a log can be"),
        });
    }
    let mut bytes = Vec::with_capacity(len as usize);
    Read::take(&mut file, MAX_LOG).read_to_end(&mut bytes).map_err(io)?;
    Ok(Some(bytes))
}

/// Replays the records of a log (its bytes, from [`read_bytes`]) after step `folded`.
pub(super) fn replay(path: &Path, bytes: &[u8], folded: u64) -> Result<Replay, LogError> {
    let damaged = |detail: String| LogError::Damaged {
        path: path.to_path_buf(),
        detail,
    };
    let mut read = Replay {
        pending: Pending::default(),
        rows: 0,
        last_seq: 0,
        valid_len: 0,
    };
    if bytes.len() < MAGIC.len() {
        // Created, and cut off before its header was whole: empty.
        return Ok(read);
    }
    if &bytes[..MAGIC.len()] != MAGIC {
        return Err(damaged("not a wasmflow step log".into()));
    }
    let mut at = MAGIC.len();
    read.valid_len = at as u64;
    while let Some(frame) = bytes.get(at..at + FRAME) {
        let body_len = u32::from_le_bytes(frame[0..4].try_into().unwrap()) as usize;
        let crc = u32::from_le_bytes(frame[4..8].try_into().unwrap());
        let Some(rest) = bytes.get(at + 8..at + FRAME + body_len) else {
            break; // A torn tail: the record was being written.
        };
        if crc32fast::hash(rest) != crc {
            break; // Torn by a power loss: what follows was never acknowledged after it.
        }
        let seq = u64::from_le_bytes(rest[0..8].try_into().unwrap());
        if seq <= read.last_seq {
            return Err(damaged(format!(
                "out of order: step {seq} after step {}",
                read.last_seq
            )));
        }
        if seq > folded {
            let step: Step =
                serde_json::from_slice(&rest[8..]).map_err(|e| damaged(format!("unreadable at step {seq}: {e}")))?;
            read.pending.apply(step);
            read.rows += 1;
        }
        read.last_seq = seq;
        at += FRAME + body_len;
        read.valid_len = at as u64;
    }
    Ok(read)
}

/// An instance's log, open for appending.
pub(super) struct Writer {
    path: PathBuf,
    file: Option<File>,
}

impl Writer {
    /// The log at `path`, cut back to its `valid_len` bytes (see [`Replay`]);
    /// nothing is created until the first [`Writer::append`].
    pub fn new(path: PathBuf, valid_len: Option<u64>) -> Result<Writer, LogError> {
        let mut writer = Writer { path, file: None };
        if let Some(len) = valid_len {
            // `open` writes the header of a log a crash cut off before it was
            // whole (`valid_len` 0): cutting back never removes the header, or
            // the next record would start the file and make it unreadable.
            let file = writer.open()?;
            file.set_len(len.max(MAGIC.len() as u64)).map_err(|e| writer.io(e))?;
        }
        Ok(writer)
    }

    fn io(&self, error: std::io::Error) -> LogError {
        LogError::Io {
            path: self.path.clone(),
            error,
        }
    }

    fn open(&mut self) -> Result<&mut File, LogError> {
        if self.file.is_none() {
            let mut options = OpenOptions::new();
            options.append(true).create(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut opened = Err(std::io::Error::from(ErrorKind::NotFound));
            // Another process removes the directory when its last log goes,
            // perhaps between our `mkdir` and our look at it (`AlreadyExists`
            // from a directory gone again) or our `open` (`NotFound`): try again.
            for _ in 0..10 {
                opened = self
                    .path
                    .parent()
                    .map_or(Ok(()), create_private_dir)
                    .and_then(|()| open_regular(&self.path, &options));
                if !matches!(&opened, Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::AlreadyExists)) {
                    break;
                }
            }
            let mut file = opened.map_err(|e| self.io(e))?;
            let len = file.metadata().map_err(|e| self.io(e))?.len();
            if len < MAGIC.len() as u64 {
                file.set_len(0).map_err(|e| self.io(e))?;
                file.write_all(MAGIC).map_err(|e| self.io(e))?;
            }
            self.file = Some(file);
        }
        Ok(self.file.as_mut().expect("opened above"))
    }

    /// Appends step `seq`, in one `write` (the whole record is framed first).
    pub fn append(&mut self, seq: u64, step: &StepOut<'_>) -> Result<(), LogError> {
        let mut record = vec![0; FRAME];
        record[8..16].copy_from_slice(&seq.to_le_bytes());
        serde_json::to_writer(&mut record, step).expect("records serialize");
        let body_len = u32::try_from(record.len() - FRAME)
            .map_err(|_| self.io(std::io::Error::other("a step over 4 GiB cannot be logged")))?;
        let crc = crc32fast::hash(&record[8..]);
        record[0..4].copy_from_slice(&body_len.to_le_bytes());
        record[4..8].copy_from_slice(&crc.to_le_bytes());
        let path = self.path.clone();
        self.open()?
            .write_all(&record)
            .map_err(|error| LogError::Io { path, error })
    }

    /// Empties the log once its records are folded: removes the file when the
    /// instance is at rest (`remove`), else cuts it back to its header.
    pub fn clear(&mut self, remove: bool) -> Result<(), LogError> {
        if remove {
            self.file = None;
            match std::fs::remove_file(&self.path) {
                Err(e) if e.kind() != ErrorKind::NotFound => return Err(self.io(e)),
                _ => {}
            }
            // The directory goes with its last log (it fails while others remain),
            // so a database at rest has no companion.
            if let Some(dir) = self.path.parent() {
                let _ = std::fs::remove_dir(dir);
            }
            return Ok(());
        }
        if self.file.is_some() || self.path.exists() {
            let file = self.open()?;
            file.set_len(MAGIC.len() as u64).map_err(|e| self.io(e))?;
        }
        Ok(())
    }
}

/// Where an instance's log stands, as this store last wrote or read it.
pub(super) struct Tail {
    pub writer: Writer,
    /// The number the next step gets.
    pub next_seq: u64,
    /// Records not yet folded.
    pub rows: usize,
    /// The status the instance's row in `instances` has.
    pub row_status: Status,
}

/// Opens `path` only if it is a regular file, without following a link and
/// without blocking on a FIFO.
fn open_regular(path: &Path, options: &OpenOptions) -> std::io::Result<File> {
    let mut options = options.clone();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW | libc::O_NONBLOCK);
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("it is not a regular file"));
    }
    Ok(file)
}

/// Creates the log directory, readable by its owner only (logs hold task data).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    if !std::fs::symlink_metadata(dir)?.is_dir() {
        return Err(std::io::Error::other(format!("{} is not a directory", dir.display())));
    }
    Ok(())
}
