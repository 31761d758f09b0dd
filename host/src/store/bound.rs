//! A budget of SQLite instructions per statement, so that no query runs forever.
//!
//! The schema check in [`super::SqliteStore::open`] refuses the views and
//! triggers a crafted database could use to hang wasmflow; this is the second
//! line: whatever a statement does, SQLite's progress handler stops it once it
//! has run [`STATEMENT_BUDGET`] virtual-machine instructions.
//!
//! The budget counts instructions rather than time: waiting for another
//! process's lock (the busy timeout) spends none of it, and a statement is
//! stopped at the same point on an idle machine and a loaded one. rusqlite
//! wraps the progress handler only behind its `hooks` feature, so this talks to
//! SQLite directly.

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_uint, c_void};

use rusqlite::{Connection, ffi};

/// The most SQLite instructions one statement may run, from its first step to
/// its last. wasmflow's own statements read or write one instance's rows, or
/// list them: `list` spends some 17 instructions per instance and `show` 5 per
/// event (measured), so only a database of over fifty million instances could
/// reach it. An endless recursive query reaches it in about 15 s.
pub const STATEMENT_BUDGET: u64 = 1_000_000_000;

/// Instructions between two calls of the progress handler: a call costs a few
/// nanoseconds, and a statement overruns its budget by at most this much.
const PERIOD: c_int = 100_000;

/// What the statement running now has spent. SQLite's callbacks reach it
/// through a raw pointer: it is boxed so it never moves, and
/// [`Budget::release`] unregisters them before it is freed.
pub(super) struct Budget {
    /// Progress-handler calls since the running statement started.
    spent: Cell<u64>,
    /// Calls allowed per statement.
    limit: Cell<u64>,
}

impl Budget {
    /// Registers a budget of `instructions` per statement with `conn`.
    pub(super) fn install(conn: &Connection, instructions: u64) -> Box<Budget> {
        let budget = Box::new(Budget {
            spent: Cell::new(0),
            limit: Cell::new(instructions / PERIOD as u64),
        });
        let arg = &*budget as *const Budget as *mut c_void;
        // SAFETY: the callbacks only read and set the budget's cells, on the
        // thread using the connection; the box outlives the registration.
        unsafe {
            let db = conn.handle();
            ffi::sqlite3_progress_handler(db, PERIOD, Some(on_progress), arg);
            ffi::sqlite3_trace_v2(db, ffi::SQLITE_TRACE_STMT, Some(on_statement), arg);
        }
        budget
    }

    /// Unregisters the callbacks: call before the budget or the connection goes.
    pub(super) fn release(conn: &Connection) {
        // SAFETY: clearing the callbacks is always allowed.
        unsafe {
            let db = conn.handle();
            ffi::sqlite3_progress_handler(db, 0, None, std::ptr::null_mut());
            ffi::sqlite3_trace_v2(db, 0, None, std::ptr::null_mut());
        }
    }

    /// Sets the budget of the statements that start from now on.
    #[cfg(test)]
    pub(super) fn set(&self, instructions: u64) {
        self.limit.set(instructions / PERIOD as u64);
    }
}

/// SQLite's progress handler: a nonzero answer interrupts the statement.
unsafe extern "C" fn on_progress(budget: *mut c_void) -> c_int {
    // SAFETY: registered by `Budget::install` with a live budget.
    let budget = unsafe { &*(budget as *const Budget) };
    let spent = budget.spent.get() + 1;
    budget.spent.set(spent);
    c_int::from(spent > budget.limit.get())
}

/// SQLite's statement trace: a statement starts its first step.
unsafe extern "C" fn on_statement(
    _event: c_uint,
    budget: *mut c_void,
    statement: *mut c_void,
    sql: *mut c_void,
) -> c_int {
    // SAFETY: registered by `Budget::install` with a live budget; `statement`
    // is the statement starting.
    let (budget, own_text) = unsafe {
        (
            &*(budget as *const Budget),
            ffi::sqlite3_sql(statement as *mut ffi::sqlite3_stmt),
        )
    };
    // A statement wasmflow runs is traced with its own text; a trigger's body
    // or a statement nested in another is traced with a comment instead, and
    // shares the budget of the statement it runs in (or it could start afresh
    // for ever).
    if std::ptr::eq(sql as *const c_char, own_text) {
        budget.spent.set(0);
    }
    0
}

#[cfg(test)]
mod tests {
    use rusqlite::ErrorCode;

    use super::*;

    const ENDLESS: &str = "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT count(*) FROM r";

    #[test]
    fn an_endless_query_is_interrupted_and_the_connection_stays_usable() {
        let conn = Connection::open_in_memory().unwrap();
        let _budget = Budget::install(&conn, 1_000_000);
        let error = conn.query_row(ENDLESS, [], |r| r.get::<_, i64>(0)).unwrap_err();
        assert_eq!(
            error.sqlite_error_code(),
            Some(ErrorCode::OperationInterrupted),
            "{error}"
        );
        assert_eq!(conn.query_row("SELECT 42", [], |r| r.get::<_, i64>(0)).unwrap(), 42);
        Budget::release(&conn);
    }

    #[test]
    fn the_budget_is_per_statement() {
        let conn = Connection::open_in_memory().unwrap();
        let _budget = Budget::install(&conn, 1_000_000);
        // Each runs a small part of the budget; together, many times the budget.
        let counted =
            "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r LIMIT 10000) SELECT count(*) FROM r";
        let mut statement = conn.prepare(counted).unwrap();
        for _ in 0..100 {
            assert_eq!(statement.query_row([], |r| r.get::<_, i64>(0)).unwrap(), 10_000);
        }
        drop(statement);
        Budget::release(&conn);
    }

    #[test]
    fn a_trigger_shares_the_budget_of_the_statement_that_fires_it() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE a (x); CREATE TABLE b (x);
             CREATE TRIGGER fan AFTER INSERT ON a BEGIN
                 INSERT INTO b WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r LIMIT 1000) SELECT x FROM r;
             END;",
        )
        .unwrap();
        let _budget = Budget::install(&conn, 1_000_000);
        // One insert into `a` fires the trigger once: within the budget.
        conn.execute("INSERT INTO a VALUES (1)", []).unwrap();
        // A thousand fire it a thousand times, in one statement: over it.
        let many =
            "INSERT INTO a WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r LIMIT 1000) SELECT x FROM r";
        let error = conn.execute(many, []).unwrap_err();
        assert_eq!(
            error.sqlite_error_code(),
            Some(ErrorCode::OperationInterrupted),
            "{error}"
        );
        Budget::release(&conn);
    }
}
