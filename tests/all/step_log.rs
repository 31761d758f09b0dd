//! The store's step log: steps of a running instance are appended to a file
//! and folded into the tables when it comes to rest. Whatever the moment a run
//! stops, what a reader loads is the last step saved, folded or not, and a
//! log a crash left behind is never applied twice or read past a torn record.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::json;
use wasmflow::bpmn::{self, Library};
use wasmflow::engine::{Status, Workflow};
use wasmflow::store::SqliteStore;
use wasmflow_tests::*;

/// Past the store's fold interval (1,024 steps), so runs see folds mid-run too.
const TASKS: usize = 2_500;

struct Setup {
    _dir: tempfile::TempDir,
    db: PathBuf,
    library: Arc<Library>,
    hash: String,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("steps.db");
    let xml = task_chain(TASKS);
    let library = Arc::new(Library::new(vec![
        bpmn::parse_str(Path::new("chain.bpmn"), &xml).unwrap(),
    ]));
    let hash = SqliteStore::open(&db).unwrap().add_diagram("chain.bpmn", &xml).unwrap();
    Setup {
        _dir: dir,
        db,
        library,
        hash,
    }
}

/// Starts an instance and runs it, saving every step, until `stop_after`
/// steps have been saved (the run then stops as if the process died: the
/// store is dropped with whatever it has not folded). Answers the instance id
/// and, per saved step, how many tasks were completed.
fn run_until(setup: &Setup, stop_after: Option<usize>) -> (String, Vec<usize>) {
    let mut store = SqliteStore::open(&setup.db).unwrap();
    let mut workflow = Workflow::start(setup.library.clone(), None, object(json!({"x": 0}))).unwrap();
    store
        .create(&mut workflow, std::slice::from_ref(&setup.hash), None)
        .unwrap();
    let mut completed = Vec::new();
    let result = workflow.run_observed(&scripts(), |workflow| {
        store.save(workflow).map_err(|e| e.to_string())?;
        completed.push(completed_count(workflow));
        if Some(completed.len()) == stop_after {
            return Err("stopped".to_string());
        }
        Ok(())
    });
    match stop_after {
        Some(_) => assert_eq!(result, Err("stopped".into())),
        None => assert_eq!(result, Ok(Status::Completed)),
    }
    (workflow.id().to_string(), completed)
}

fn completed_count(workflow: &Workflow) -> usize {
    workflow
        .tasks()
        .filter(|t| t.state == wasmflow::engine::TaskState::Completed)
        .count()
}

fn load_error(db: &Path, id: &str) -> String {
    match SqliteStore::open_existing(db).unwrap().load(id) {
        Ok(_) => panic!("the instance loaded"),
        Err(e) => e.to_string(),
    }
}

fn log_file(db: &Path) -> PathBuf {
    let dir = db.with_file_name("steps.db-steps");
    let mut logs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(logs.len(), 1, "one running instance, one log: {logs:?}");
    logs.pop().unwrap()
}

#[test]
fn a_reader_sees_every_saved_step_whether_folded_or_not() {
    let setup = setup();
    // Stopped before the first fold, right after one, and well past it.
    for stop in [10, 1_024, 1_025, 2_000] {
        let (id, completed) = run_until(&setup, Some(stop));
        let loaded = SqliteStore::open_existing(&setup.db).unwrap().load(&id).unwrap();
        assert_eq!(loaded.status(), Status::Running, "stopped mid-run at step {stop}");
        assert_eq!(completed_count(&loaded), completed[stop - 1], "at step {stop}");
        let history = SqliteStore::open_existing(&setup.db).unwrap().history(&id).unwrap();
        // The instance's start event and one completion per completed task.
        assert_eq!(history.len(), 1 + completed[stop - 1], "at step {stop}");
    }
}

#[test]
fn an_instance_stopped_mid_log_resumes_to_the_uninterrupted_result() {
    let setup = setup();
    let (whole, _) = run_until(&setup, None);
    let uninterrupted = SqliteStore::open_existing(&setup.db).unwrap().history(&whole).unwrap();
    let (id, _) = run_until(&setup, Some(1_500));
    let mut store = SqliteStore::open(&setup.db).unwrap();
    let mut workflow = store.load(&id).unwrap();
    let status = workflow.run_observed(&scripts(), |w| store.save(w).map(drop)).unwrap();
    assert_eq!(status, Status::Completed);
    // At rest: folded, the log and its directory are gone, and a reader needs no log.
    assert!(!setup.db.with_file_name("steps.db-steps").exists());
    let loaded = SqliteStore::open_existing(&setup.db).unwrap().load(&id).unwrap();
    assert_eq!(loaded.status(), Status::Completed);
    assert_eq!(completed_count(&loaded), TASKS + 2);
    let history = SqliteStore::open_existing(&setup.db).unwrap().history(&id).unwrap();
    assert_eq!(
        history.len(),
        uninterrupted.len(),
        "every event once, as in an uninterrupted run"
    );
    let kinds = |events: &[wasmflow::engine::Event]| {
        events
            .iter()
            .map(|e| serde_json::to_value(e).unwrap()["event"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(kinds(&history), kinds(&uninterrupted));
}

#[test]
fn a_log_a_crash_left_behind_after_its_fold_is_not_applied_twice() {
    let setup = setup();
    let (id, _) = run_until(&setup, Some(700));
    let log = log_file(&setup.db);
    let stale = std::fs::read(&log).unwrap();
    // Run on: the next folds write those 700 steps into the tables and empty the log.
    let mut store = SqliteStore::open(&setup.db).unwrap();
    let mut workflow = store.load(&id).unwrap();
    workflow.run_observed(&scripts(), |w| store.save(w).map(drop)).unwrap();
    drop(store);
    let before = SqliteStore::open_existing(&setup.db).unwrap().history(&id).unwrap();
    // As if the process died between a fold's commit and emptying the log.
    assert!(!log.exists(), "at rest, the log is gone");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    std::fs::write(&log, &stale).unwrap();
    let store = SqliteStore::open_existing(&setup.db).unwrap();
    assert_eq!(store.history(&id).unwrap(), before, "no event is replayed twice");
    let loaded = store.load(&id).unwrap();
    assert_eq!(
        loaded.status(),
        Status::Completed,
        "old steps do not wind the instance back"
    );
    assert_eq!(completed_count(&loaded), TASKS + 2);
}

#[test]
fn a_torn_record_at_the_end_of_a_log_is_dropped_and_cut_off_before_the_next_step() {
    let setup = setup();
    let (id, completed) = run_until(&setup, Some(300));
    let log = log_file(&setup.db);
    let whole = std::fs::read(&log).unwrap();
    // Half of a record: a length that promises more than is there.
    let mut torn = whole.clone();
    torn.extend_from_slice(&[200, 0, 0, 0, 1, 2, 3, 4, 9, 9]);
    std::fs::write(&log, &torn).unwrap();
    let mut store = SqliteStore::open(&setup.db).unwrap();
    let mut workflow = store.load(&id).unwrap();
    assert_eq!(completed_count(&workflow), completed[299]);
    // The next save cuts the torn bytes off before appending.
    let status = workflow.run_observed(&scripts(), |w| store.save(w).map(drop)).unwrap();
    assert_eq!(status, Status::Completed);
    let loaded = SqliteStore::open_existing(&setup.db).unwrap().load(&id).unwrap();
    assert_eq!(completed_count(&loaded), TASKS + 2);
}

#[test]
fn a_log_cut_off_before_its_header_was_whole_is_empty_and_written_whole_again() {
    let setup = setup();
    let (id, _) = run_until(&setup, Some(5));
    let log = log_file(&setup.db);
    // As if the process died between creating the file and writing its header.
    let bytes = std::fs::read(&log).unwrap();
    std::fs::write(&log, &bytes[..3]).unwrap();
    let mut store = SqliteStore::open(&setup.db).unwrap();
    let mut workflow = store.load(&id).unwrap();
    let mut saves = 0;
    let stopped = workflow.run_observed(&scripts(), |w| {
        store.save(w).map_err(|e| e.to_string())?;
        saves += 1;
        if saves == 20 {
            Err("stopped".to_string())
        } else {
            Ok(())
        }
    });
    assert_eq!(stopped, Err("stopped".into()));
    let done = completed_count(&workflow);
    drop(store);
    // The steps appended after the cut are read back: the header was rewritten.
    let loaded = SqliteStore::open_existing(&setup.db).unwrap().load(&id).unwrap();
    assert_eq!(completed_count(&loaded), done);
    let mut store = SqliteStore::open(&setup.db).unwrap();
    let mut workflow = store.load(&id).unwrap();
    let status = workflow.run_observed(&scripts(), |w| store.save(w).map(drop)).unwrap();
    assert_eq!(status, Status::Completed);
}

#[test]
fn a_log_that_is_not_a_step_log_is_named_and_left_as_it_is() {
    let setup = setup();
    let (id, _) = run_until(&setup, Some(5));
    let log = log_file(&setup.db);
    std::fs::write(&log, b"#!/bin/sh\necho not a log\n").unwrap();
    let error = load_error(&setup.db, &id);
    assert!(
        error.contains(&log.display().to_string()) && error.contains("not a wasmflow step log"),
        "{error}"
    );
    assert!(error.contains("move it away"), "says what to do: {error}");
    assert_eq!(std::fs::read(&log).unwrap(), b"#!/bin/sh\necho not a log\n");
}

#[cfg(unix)]
#[test]
fn a_fifo_in_place_of_a_log_is_refused_without_blocking() {
    let setup = setup();
    let (id, _) = run_until(&setup, Some(5));
    let log = log_file(&setup.db);
    std::fs::remove_file(&log).unwrap();
    let path = std::ffi::CString::new(log.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    let error = load_error(&setup.db, &id);
    assert!(error.contains("not a regular file"), "{error}");
}
