//! The audit file: one JSON line per capability check (`--audit FILE`).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::{Capability, Check};
use crate::call::TaskInfo;

/// Appends checks to a file, shared by every call of a run. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Audit {
    path: Arc<PathBuf>,
    file: Arc<Mutex<File>>,
}

/// One line of the audit file.
#[derive(Serialize)]
struct Line<'a> {
    /// Milliseconds since the Unix epoch.
    time_ms: u128,
    instance: &'a str,
    process: &'a str,
    task: &'a str,
    spec: &'a str,
    plugin: &'a str,
    capability: Capability,
    target: &'a str,
    allowed: bool,
    detail: &'a str,
    /// For file operations other than opens: which (`mkdir`, `unlink`, `rename`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    operation: Option<&'a str>,
}

impl Audit {
    /// Opens (creating if needed) `path` for appending.
    pub fn open(path: &Path) -> std::io::Result<Audit> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Audit {
            path: Arc::new(path.to_path_buf()),
            file: Arc::new(Mutex::new(file)),
        })
    }

    /// The file written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the checks made during one call for `task`. Each line is written
    /// whole with one `write`, so concurrent runs appending to one file do not
    /// interleave within a line.
    pub fn record(&self, task: &TaskInfo, checks: &[Check]) -> std::io::Result<()> {
        if checks.is_empty() {
            return Ok(());
        }
        let time_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        for check in checks {
            let line = Line {
                time_ms,
                instance: &task.instance,
                process: &task.process,
                task: &task.id,
                spec: &task.spec,
                plugin: &check.plugin,
                capability: check.capability,
                target: &check.target,
                allowed: check.allowed,
                detail: &check.detail,
                operation: check.operation.as_deref(),
            };
            let mut bytes = serde_json::to_vec(&line).expect("an audit line serializes");
            bytes.push(b'\n');
            file.write_all(&bytes)?;
        }
        Ok(())
    }
}
