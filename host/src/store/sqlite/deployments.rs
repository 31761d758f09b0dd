//! Deployed process definitions: `wasmflow deploy` registers each
//! executable process of the files given, by version (a process deployed
//! again with other diagrams gets the next version; new instances use the
//! newest, running ones keep the diagrams they started with). The message
//! and signal start events of each process's newest version are indexed, so
//! that `message` and `signal` find the processes they start; its timer
//! start events are scheduled (see `start_timers`).

use std::sync::Arc;

use rusqlite::{OptionalExtension, params};

use super::start_timers::write_start_timers;
use super::{SqliteStore, error};
use crate::bpmn::Library;
use crate::engine::{Listen, StartTimer};
use crate::store::StoreError;

/// One version of a deployed process.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Deployment {
    /// The process id.
    pub process: String,
    /// Its version, from 1.
    pub version: u32,
    /// The names of the diagram files it was deployed with, in the order given.
    pub files: Vec<String>,
    /// When (RFC 3339, UTC).
    pub deployed: String,
}

/// A deployed process to start: by a message, a signal or a timer.
#[derive(Debug, Clone)]
pub struct Deployed {
    /// The process id.
    pub process: String,
    /// Its start event's element id.
    pub start: String,
    /// The diagrams of its newest version, parsed.
    pub library: Arc<Library>,
    /// Their hashes, for the instance it starts.
    pub diagrams: Vec<String>,
}

impl SqliteStore {
    /// Deploys `process` with the diagrams `hashes` (added with
    /// [`SqliteStore::add_diagram`]) and its message and signal start events
    /// (`(kind, name, element id)`): its version, and whether it is new (the
    /// same diagrams deployed again make no new version).
    pub fn deploy(
        &mut self,
        process: &str,
        hashes: &[String],
        starts: &[(Listen, String, String)],
        timers: &[StartTimer],
    ) -> Result<(u32, bool), StoreError> {
        let path = self.path.clone();
        let fail = |e| error(&path, e);
        let diagrams = serde_json::to_string(hashes).expect("strings serialize");
        let tx = self.conn.transaction().map_err(fail)?;
        let newest: Option<(u32, String)> = tx
            .query_row(
                "SELECT version, diagrams FROM deployments WHERE process = ?1 ORDER BY version DESC LIMIT 1",
                [process],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(fail)?;
        if let Some((version, same)) = &newest
            && *same == diagrams
        {
            return Ok((*version, false));
        }
        let version = newest.map_or(1, |(version, _)| version + 1);
        tx.execute(
            "INSERT INTO deployments (process, version, diagrams) VALUES (?1, ?2, ?3)",
            params![process, version, diagrams],
        )
        .map_err(fail)?;
        tx.execute("DELETE FROM deployed_starts WHERE process = ?1", [process])
            .map_err(fail)?;
        {
            let mut start = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO deployed_starts (kind, name, process, node) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(fail)?;
            for (kind, name, node) in starts {
                start
                    .execute(params![kind.as_str(), name, process, node])
                    .map_err(fail)?;
            }
        }
        // The newest version's timers replace the schedule of the last.
        write_start_timers(&tx, process, timers).map_err(fail)?;
        tx.commit().map_err(fail)?;
        Ok((version, true))
    }

    /// Every deployed version, by process and version.
    pub fn deployments(&self) -> Result<Vec<Deployment>, StoreError> {
        let mut statement = self
            .conn
            .prepare("SELECT process, version, diagrams, deployed FROM deployments ORDER BY process, version")
            .map_err(|e| self.error(e))?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, u32>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                ))
            })
            .map_err(|e| self.error(e))?;
        let mut deployments = Vec::new();
        for row in rows {
            let (process, version, diagrams, deployed) = row.map_err(|e| self.error(e))?;
            let hashes: Vec<String> = serde_json::from_str(&diagrams).unwrap_or_default();
            let mut files = Vec::with_capacity(hashes.len());
            for hash in &hashes {
                let name: Option<String> = self
                    .conn
                    .query_row("SELECT name FROM diagrams WHERE hash = ?1", [hash], |row| row.get(0))
                    .optional()
                    .map_err(|e| self.error(e))?;
                files.push(name.unwrap_or_else(|| format!("(missing diagram {hash})")));
            }
            deployments.push(Deployment {
                process,
                version,
                files,
                deployed,
            });
        }
        Ok(deployments)
    }

    /// The newest version of deployed process `process`, to start at `start`.
    pub fn newest_deployment(&self, process: &str, start: &str) -> Result<Deployed, StoreError> {
        let diagrams: String = self
            .conn
            .query_row(
                "SELECT diagrams FROM deployments WHERE process = ?1 ORDER BY version DESC LIMIT 1",
                [process],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.error(e))?
            .ok_or_else(|| StoreError::Undeployable {
                process: process.to_string(),
                detail: "it is not deployed".to_string(),
            })?;
        self.deployed(process.to_string(), start.to_string(), &diagrams)
    }

    /// A deployment, its diagrams (`diagrams`, a JSON list of hashes) parsed.
    fn deployed(&self, process: String, start: String, diagrams: &str) -> Result<Deployed, StoreError> {
        let unusable = |detail: String| StoreError::Undeployable {
            process: process.clone(),
            detail,
        };
        let hashes: Vec<String> =
            serde_json::from_str(diagrams).map_err(|e| unusable(format!("its diagram list is damaged: {e}")))?;
        let library = Arc::new(Library::new(self.diagrams(&hashes, &unusable)?));
        Ok(Deployed {
            process,
            start,
            library,
            diagrams: hashes,
        })
    }

    /// The deployed processes (newest versions) that a message or signal
    /// named `name` starts, by process id.
    pub fn deployed_starts(&self, kind: Listen, name: &str) -> Result<Vec<Deployed>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT s.process, s.node, d.diagrams FROM deployed_starts s JOIN deployments d \
                 ON d.process = s.process AND d.version = \
                 (SELECT MAX(version) FROM deployments WHERE process = s.process) \
                 WHERE s.kind = ?1 AND s.name = ?2 ORDER BY s.process, s.node",
            )
            .map_err(|e| self.error(e))?;
        let rows = statement
            .query_map(params![kind.as_str(), name], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })
            .map_err(|e| self.error(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.error(e))?;
        let mut found = Vec::with_capacity(rows.len());
        for (process, start, diagrams) in rows {
            found.push(self.deployed(process, start, &diagrams)?);
        }
        Ok(found)
    }
}
