//! The schedule of deployed processes' timer start events: `deploy` writes
//! each timer's first occurrence; the scheduler finds those due through the
//! due index, and starts an instance for one in the same transaction that
//! moves it to its next occurrence, so that each occurrence starts exactly
//! one instance however the scheduler is stopped.

use rusqlite::params;

use super::{SqliteStore, error, insert_instance};
use crate::engine::{Event, StartTimer, Workflow};
use crate::store::StoreError;

/// Replaces the schedule of `process` with `timers` (those of its newest
/// deployment), inside a transaction.
pub(super) fn write_start_timers(
    tx: &rusqlite::Transaction<'_>,
    process: &str,
    timers: &[StartTimer],
) -> Result<(), rusqlite::Error> {
    tx.prepare_cached("DELETE FROM start_timers WHERE process = ?1")?
        .execute([process])?;
    let mut row =
        tx.prepare_cached("INSERT INTO start_timers (process, node, due, cycle, fired) VALUES (?1, ?2, ?3, ?4, ?5)")?;
    for timer in timers {
        row.execute(params![
            timer.process,
            timer.start,
            timer.due.as_millisecond(),
            timer.cycle,
            timer.fired
        ])?;
    }
    Ok(())
}

impl SqliteStore {
    /// The timer start events due at or before `now`, earliest first.
    pub fn due_start_timers(&self, now: jiff::Timestamp) -> Result<Vec<StartTimer>, StoreError> {
        self.start_timers("WHERE due <= ?1 ORDER BY due, process, node", now.as_millisecond())
    }

    /// Every scheduled timer start event, by process.
    pub fn scheduled_start_timers(&self) -> Result<Vec<StartTimer>, StoreError> {
        self.start_timers("WHERE ?1 = ?1 ORDER BY process, node", 0)
    }

    fn start_timers(&self, filter: &str, bound: i64) -> Result<Vec<StartTimer>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(&format!(
                "SELECT process, node, due, cycle, fired FROM start_timers {filter}"
            ))
            .map_err(|e| self.error(e))?;
        let rows = statement
            .query_map([bound], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, Option<String>>(3)?,
                    row.get::<_, u32>(4)?,
                ))
            })
            .map_err(|e| self.error(e))?;
        let mut timers = Vec::new();
        for row in rows {
            let (process, start, due, cycle, fired) = row.map_err(|e| self.error(e))?;
            let due = jiff::Timestamp::from_millisecond(due).map_err(|e| StoreError::Undeployable {
                process: process.clone(),
                detail: format!("the due time of its timer start event `{start}` is damaged: {e}"),
            })?;
            timers.push(StartTimer {
                process,
                start,
                due,
                cycle,
                fired,
            });
        }
        Ok(timers)
    }

    /// When the earliest timer start event falls due, if any is scheduled.
    pub(super) fn next_start_due(&self) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row("SELECT MIN(due) FROM start_timers", [], |row| row.get(0))
            .map_err(|e| self.error(e))
    }

    /// Saves `workflow`, which timer start event `fired` has just started
    /// (see [`Workflow::start_by_timer`]), and moves that timer on to `next`
    /// (or retires it), in one transaction. `None`: the occurrence had already started
    /// an instance (the schedule no longer holds it), and nothing was saved.
    pub fn create_by_timer(
        &mut self,
        workflow: &mut Workflow,
        diagrams: &[String],
        fired: &StartTimer,
        next: Option<&StartTimer>,
    ) -> Result<Option<Vec<Event>>, StoreError> {
        let path = self.path.clone();
        let fail = |e| error(&path, e);
        let tx = self.conn.transaction().map_err(fail)?;
        let key = params![fired.process, fired.start, fired.due.as_millisecond(), fired.fired];
        let moved = match next {
            Some(next) => tx.execute(
                "UPDATE start_timers SET due = ?5, fired = ?6 \
                 WHERE process = ?1 AND node = ?2 AND due = ?3 AND fired = ?4",
                params![
                    fired.process,
                    fired.start,
                    fired.due.as_millisecond(),
                    fired.fired,
                    next.due.as_millisecond(),
                    next.fired
                ],
            ),
            None => tx.execute(
                "DELETE FROM start_timers WHERE process = ?1 AND node = ?2 AND due = ?3 AND fired = ?4",
                key,
            ),
        }
        .map_err(fail)?;
        if moved == 0 {
            return Ok(None);
        }
        let events = insert_instance(&tx, workflow, diagrams).map_err(fail)?;
        tx.commit().map_err(fail)?;
        Ok(Some(events))
    }
}
