//! What schedulers and deliverers ask the store: the instances with a timer
//! due, the catches a message correlates with, the instances a scheduler is
//! running, and the scheduler lock. Each question is answered through an
//! index, never by loading instances that are not concerned.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rusqlite::{OptionalExtension, params};

use super::{SchedulerLock, SqliteStore, error};
use crate::engine::{Listen, Message, Subscription, TaskId, WatchRecord};
use crate::store::StoreError;

/// A message catch waiting in a kept instance, as the index holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiter {
    /// The instance.
    pub instance: String,
    /// The catch's waiting task.
    pub task: TaskId,
    /// The correlation values it waits for.
    pub correlation: BTreeMap<String, String>,
}

/// Writes an instance's subscriptions as of its latest record, and a row
/// of kind `condition` for each of its waiting conditional events (so that
/// `tick` finds the instances whose conditions it evaluates again).
pub(super) fn write_subscriptions(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    subscriptions: &[Subscription],
    watches: &[WatchRecord],
) -> Result<(), rusqlite::Error> {
    tx.prepare_cached("DELETE FROM subscriptions WHERE instance = ?1")?
        .execute([id])?;
    let mut row = tx.prepare_cached(
        "INSERT OR IGNORE INTO subscriptions (kind, name, property, value, instance, task) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for subscription in subscriptions {
        let task = subscription.task as i64;
        let kind = subscription.kind.as_str();
        if subscription.correlation.is_empty() {
            row.execute(params![kind, subscription.name, "", "", id, task])?;
        }
        for (property, value) in &subscription.correlation {
            row.execute(params![kind, subscription.name, property, value, id, task])?;
        }
    }
    for watch in watches {
        row.execute(params![CONDITION, "", "", "", id, watch.task as i64])?;
    }
    Ok(())
}

/// The subscription kind of a waiting conditional event.
const CONDITION: &str = "condition";

/// Notes whether an instance's outbox holds anything, as of its latest record.
pub(super) fn write_outbox(tx: &rusqlite::Transaction<'_>, id: &str, full: bool) -> Result<(), rusqlite::Error> {
    let sql = if full {
        "INSERT OR IGNORE INTO outboxes (instance) VALUES (?1)"
    } else {
        "DELETE FROM outboxes WHERE instance = ?1"
    };
    tx.prepare_cached(sql)?.execute([id]).map(drop)
}

impl SqliteStore {
    /// The instances whose outbox holds messages or signals for other
    /// instances, oldest first.
    pub fn outboxes(&self) -> Result<Vec<String>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT o.instance FROM outboxes o CROSS JOIN instances i ON i.id = o.instance \
                 ORDER BY i.created, o.instance",
            )
            .map_err(|e| self.error(e))?;
        let rows = statement
            .query_map([], |row| row.get::<_, String>(0))
            .map_err(|e| self.error(e))?;
        rows.map(|row| row.map_err(|e| self.error(e))).collect()
    }

    /// The waiting instances with a timer due at or before `now`, earliest first.
    pub fn due_instances(&self, now: jiff::Timestamp) -> Result<Vec<String>, StoreError> {
        // CROSS JOIN keeps `timers` outside, read through its due index: the
        // cost follows the timers due, not the instances waiting (grouping in
        // SQL would walk every waiting instance instead).
        let mut statement = self
            .conn
            .prepare(
                "SELECT t.instance FROM timers t CROSS JOIN instances i ON i.id = t.instance \
                 WHERE t.due <= ?1 AND i.status = 'waiting' ORDER BY t.due",
            )
            .map_err(|e| self.error(e))?;
        let rows = statement
            .query_map([now.as_millisecond()], |row| row.get::<_, String>(0))
            .map_err(|e| self.error(e))?;
        let mut seen = std::collections::HashSet::new();
        let mut due = Vec::new();
        for row in rows {
            let id = row.map_err(|e| self.error(e))?;
            if seen.insert(id.clone()) {
                due.push(id);
            }
        }
        Ok(due)
    }

    /// When the earliest timer falls due, if any does: of a waiting
    /// instance, or a timer start event of a deployed process.
    pub fn next_due(&self) -> Result<Option<jiff::Timestamp>, StoreError> {
        let due: Option<i64> = self
            .conn
            .query_row(
                "SELECT t.due FROM timers t CROSS JOIN instances i ON i.id = t.instance \
                 WHERE i.status = 'waiting' ORDER BY t.due LIMIT 1",
                [],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.error(e))?;
        let due = match (due, self.next_start_due()?) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(due.and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok()))
    }

    /// Records that the scheduler holding the lock is about to run these
    /// instances (see [`SqliteStore::claimed`]), in one transaction.
    pub fn claim(&mut self, ids: &[String]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let fail = |e| error(&path, e);
        let tx = self.conn.transaction().map_err(fail)?;
        {
            let mut claim = tx
                .prepare_cached("INSERT OR IGNORE INTO claims (instance) VALUES (?1)")
                .map_err(fail)?;
            for id in ids {
                claim.execute([id]).map_err(fail)?;
            }
        }
        tx.commit().map_err(fail)
    }

    /// The instances a scheduler claimed and did not release: taken with the
    /// lock held, these are what a scheduler that died was running.
    pub fn claimed(&self) -> Result<Vec<String>, StoreError> {
        let mut statement = self
            .conn
            .prepare("SELECT instance FROM claims ORDER BY instance")
            .map_err(|e| self.error(e))?;
        let rows = statement
            .query_map([], |row| row.get::<_, String>(0))
            .map_err(|e| self.error(e))?;
        rows.map(|row| row.map_err(|e| self.error(e))).collect()
    }

    /// Releases the claim of one instance: its run is over.
    pub fn release_claim(&self, id: &str) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM claims WHERE instance = ?1", [id])
            .map(drop)
            .map_err(|e| self.error(e))
    }

    /// Releases every claim: the scheduler's pass is over.
    pub fn release_claims(&self) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM claims", [])
            .map(drop)
            .map_err(|e| self.error(e))
    }

    /// Takes the database's scheduler lock, waiting for another process to
    /// release it: `tick` and `serve` fire timers only while they hold it, so
    /// two of them never fire the same timer. The lock goes when the guard
    /// is dropped, or when the process dies.
    pub fn scheduler_lock(&self) -> Result<SchedulerLock, StoreError> {
        let mut name = self.path.as_os_str().to_owned();
        name.push("-scheduler.lock");
        let path = PathBuf::from(name);
        let unreadable = |error| StoreError::Unreadable {
            path: path.clone(),
            error,
        };
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // Never through a link a crafted directory may hold.
            options.custom_flags(libc::O_NOFOLLOW);
        }
        let file = options.open(&path).map_err(unreadable)?;
        file.lock().map_err(unreadable)?;
        Ok(SchedulerLock { _file: file })
    }

    /// The waiting instances with a catch that `message` may correlate with,
    /// oldest instance first: those waiting for one of its correlation
    /// values, and those waiting for none. (Each is only a candidate: a
    /// catch waiting for two values is found by either.)
    pub fn subscribers(&self, message: &Message) -> Result<Vec<String>, StoreError> {
        let mut keys: Vec<(&str, &str)> = vec![("", "")];
        keys.extend(message.correlation.iter().map(|(p, v)| (p.as_str(), v.as_str())));
        let mut found: Vec<(String, String)> = Vec::new();
        // CROSS JOIN: the subscription index first, one lookup per key.
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT s.instance, i.created FROM subscriptions s CROSS JOIN instances i ON i.id = s.instance \
                 WHERE s.kind = 'message' AND s.name = ?1 AND s.property = ?2 AND s.value = ?3 \
                 AND i.status = 'waiting'",
            )
            .map_err(|e| self.error(e))?;
        for (property, value) in keys {
            let rows = statement
                .query_map(params![message.name, property, value], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .map_err(|e| self.error(e))?;
            for row in rows {
                found.push(row.map_err(|e| self.error(e))?);
            }
        }
        found.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
        found.dedup_by(|a, b| a.0 == b.0);
        Ok(found.into_iter().map(|(instance, _)| instance).collect())
    }

    /// Up to `limit` catches waiting for messages named `name` in waiting
    /// instances, and how many there are in all: what a message that matched
    /// nothing is told.
    pub fn waiting_for(&self, name: &str, limit: usize) -> Result<(Vec<Waiter>, usize), StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT s.instance, s.task, s.property, s.value FROM subscriptions s CROSS JOIN instances i \
                 ON i.id = s.instance WHERE s.kind = 'message' AND s.name = ?1 AND i.status = 'waiting' \
                 ORDER BY s.instance, s.task",
            )
            .map_err(|e| self.error(e))?;
        let rows = statement
            .query_map([name], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                ))
            })
            .map_err(|e| self.error(e))?;
        let mut waiters: Vec<Waiter> = Vec::new();
        let mut count = 0;
        let mut last: Option<(String, TaskId)> = None;
        for row in rows {
            let (instance, task, property, value) = row.map_err(|e| self.error(e))?;
            let task = task as TaskId;
            if last.as_ref().is_none_or(|(i, t)| *i != instance || *t != task) {
                count += 1;
                last = Some((instance.clone(), task));
                if count <= limit {
                    waiters.push(Waiter {
                        instance,
                        task,
                        correlation: BTreeMap::new(),
                    });
                }
            }
            if count <= limit
                && !property.is_empty()
                && let Some(waiter) = waiters.last_mut()
            {
                waiter.correlation.insert(property, value);
            }
        }
        Ok((waiters, count))
    }

    /// Up to `limit` message (or signal) names that waiting instances wait for.
    pub fn waited_names(&self, kind: Listen, limit: usize) -> Result<Vec<String>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT s.name FROM subscriptions s CROSS JOIN instances i ON i.id = s.instance \
                 WHERE s.kind = ?1 AND i.status = 'waiting' ORDER BY s.name LIMIT ?2",
            )
            .map_err(|e| self.error(e))?;
        let rows = statement
            .query_map(params![kind.as_str(), limit as i64], |row| row.get::<_, String>(0))
            .map_err(|e| self.error(e))?;
        rows.map(|row| row.map_err(|e| self.error(e))).collect()
    }

    /// The waiting instances with a conditional event waiting, oldest first:
    /// those whose conditions `tick` evaluates again.
    pub fn watching_instances(&self) -> Result<Vec<String>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT s.instance, i.created FROM subscriptions s CROSS JOIN instances i \
                 ON i.id = s.instance WHERE s.kind = ?1 AND s.name = '' AND i.status = 'waiting' \
                 ORDER BY i.created, s.instance",
            )
            .map_err(|e| self.error(e))?;
        let rows = statement
            .query_map([CONDITION], |row| row.get::<_, String>(0))
            .map_err(|e| self.error(e))?;
        rows.map(|row| row.map_err(|e| self.error(e))).collect()
    }

    /// The waiting instances with a catch waiting for signal `name`, oldest first.
    pub fn signal_subscribers(&self, name: &str) -> Result<Vec<String>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT s.instance, i.created FROM subscriptions s CROSS JOIN instances i \
                 ON i.id = s.instance WHERE s.kind = 'signal' AND s.name = ?1 AND s.property = '' \
                 AND i.status = 'waiting' ORDER BY i.created, s.instance",
            )
            .map_err(|e| self.error(e))?;
        let rows = statement
            .query_map([name], |row| row.get::<_, String>(0))
            .map_err(|e| self.error(e))?;
        rows.map(|row| row.map_err(|e| self.error(e))).collect()
    }
}
