//! Crafted `--db` files: what is not a wasmflow database is refused up front,
//! by every command, without blocking, bloating or being written to.
//!
//! The crafted SQLite files are written byte by byte ([`sqlite_file`]), so
//! these tests need no SQLite of their own.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::json;
use wasmflow_tests::*;

/// A query that never ends.
const ENDLESS: &str = "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r)";

/// An SQLite database file with these rows in its `sqlite_master` (type,
/// name, table, sql) and this `user_version`; each table gets an empty root page.
fn sqlite_file(user_version: u32, objects: &[(&str, &str, &str, &str)]) -> Vec<u8> {
    const PAGE: usize = 4096;
    let tables = objects.iter().filter(|o| o.0 == "table").count();
    let pages = 1 + tables;
    let mut file = vec![0u8; PAGE * pages];

    // The header: https://www.sqlite.org/fileformat.html#the_database_header
    file[..16].copy_from_slice(b"SQLite format 3\0");
    file[16..18].copy_from_slice(&(PAGE as u16).to_be_bytes());
    file[18..24].copy_from_slice(&[1, 1, 0, 64, 32, 32]);
    let be = |file: &mut Vec<u8>, at: usize, value: u32| file[at..at + 4].copy_from_slice(&value.to_be_bytes());
    be(&mut file, 24, 1); // change counter
    be(&mut file, 28, pages as u32);
    be(&mut file, 40, 1); // schema cookie
    be(&mut file, 44, 4); // schema format
    be(&mut file, 56, 1); // UTF-8
    be(&mut file, 60, user_version);
    be(&mut file, 92, 1); // the page count is valid for change 1
    be(&mut file, 96, 3_045_000);

    // Page 1: a table leaf holding one cell per object, packed at its end.
    let mut content = PAGE;
    let mut root = 1u8;
    for (i, (kind, name, table, sql)) in objects.iter().enumerate() {
        let rootpage = if *kind == "table" {
            root += 1;
            let page = (root as usize - 1) * PAGE;
            // An empty table leaf: no cells, content from the end of the page.
            file[page..page + 8].copy_from_slice(&[0x0D, 0, 0, 0, 0, 0x10, 0, 0]);
            root
        } else {
            0
        };
        let texts = [*kind, *name, *table];
        let mut types = Vec::new();
        let mut body = Vec::new();
        for text in texts {
            varint(2 * text.len() as u64 + 13, &mut types);
            body.extend_from_slice(text.as_bytes());
        }
        if rootpage == 0 {
            varint(8, &mut types); // the integer 0
        } else {
            varint(1, &mut types);
            body.push(rootpage);
        }
        varint(2 * sql.len() as u64 + 13, &mut types);
        body.extend_from_slice(sql.as_bytes());
        assert!(types.len() < 127, "a short record header");
        let mut cell = Vec::new();
        varint((1 + types.len() + body.len()) as u64, &mut cell);
        varint(i as u64 + 1, &mut cell); // rowid
        cell.push(1 + types.len() as u8);
        cell.extend(types);
        cell.extend(body);
        content -= cell.len();
        file[content..content + cell.len()].copy_from_slice(&cell);
        let pointer = 108 + 2 * i;
        file[pointer..pointer + 2].copy_from_slice(&(content as u16).to_be_bytes());
    }
    assert!(108 + 2 * objects.len() < content, "the objects fit in one page");
    file[100] = 0x0D;
    file[103..105].copy_from_slice(&(objects.len() as u16).to_be_bytes());
    file[105..107].copy_from_slice(&(content as u16).to_be_bytes());
    file
}

/// SQLite's variable-length integer (big-endian, 7 bits a byte; the values here are small).
fn varint(mut value: u64, out: &mut Vec<u8>) {
    let mut bytes = vec![(value & 0x7f) as u8];
    value >>= 7;
    while value > 0 {
        bytes.push((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    out.extend(bytes.iter().rev());
}

/// A foreign SQLite database: one table of someone else's.
fn foreign(user_version: u32) -> Vec<u8> {
    sqlite_file(
        user_version,
        &[("table", "notes", "notes", "CREATE TABLE notes (text TEXT)")],
    )
}

/// A process with nothing to run, in `dir`.
fn trivial_diagram(dir: &Path) -> String {
    let path = dir.join("trivial.bpmn");
    std::fs::write(
        &path,
        format!(
            r#"{HEADER}
  <bpmn:process id="trivial" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"#
        ),
    )
    .unwrap();
    path.display().to_string()
}

/// Runs `wasmflow` with at most `bytes` of address space: reading /dev/zero
/// whole fails at once instead of taking the machine's memory. (Only for
/// commands that start no WebAssembly engine: it reserves more than that.)
fn cli_within(bytes: u64, args: &[&str]) -> Output {
    let mut command = Command::new(wasmflow_bin());
    command.args(args).env("WASMFLOW_CACHE_DIR", cache_dir());
    // SAFETY: the closure only calls setrlimit, which is async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.output().expect("wasmflow runs")
}

/// The commands that open a database, on `db`.
fn every_command<'a>(db: &'a str, diagram: &'a str) -> Vec<Vec<&'a str>> {
    vec![
        vec!["list", "--db", db],
        vec!["list", "--db", db, "--json"],
        vec!["show", "some-id", "--db", db],
        vec!["resume", "some-id", "--db", db],
        vec!["complete", "some-id", "task", "--data", "{}", "--db", db],
        vec!["retry", "some-id", "task", "--db", db],
        vec!["restart", "some-id", "task", "--db", db],
        vec!["run", diagram, "--db", db],
        vec!["tick", "--db", db],
        vec!["tick", "some-id", "--db", db],
        vec!["message", "paid", "--correlate", "order=1", "--db", db],
        vec!["message", "paid", "--instance", "some-id", "--db", db],
        vec!["signal", "stop", "--db", db],
        vec!["deploy", diagram, "--db", db],
        vec!["list", "--deployments", "--db", db],
    ]
}

/// Asserts that `output` is a refusal (exit 2) naming `db` and saying `what`.
#[track_caller]
fn assert_refused(output: &Output, db: &str, what: &str) {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(db) && stderr.contains(what), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one sentence: {stderr}");
}

/// The files SQLite keeps next to a database.
fn companions(db: &Path) -> Vec<PathBuf> {
    ["-wal", "-shm", "-journal"]
        .iter()
        .map(|suffix| PathBuf::from(format!("{}{suffix}", db.display())))
        .filter(|p| p.exists())
        .collect()
}

#[test]
fn a_fifo_a_device_or_a_directory_is_refused_without_being_opened() {
    let dir = tempfile::tempdir().unwrap();
    let diagram = trivial_diagram(dir.path());
    let fifo = dir.path().join("fifo.db");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    let directory = dir.path().join("directory.db");
    std::fs::create_dir(&directory).unwrap();
    let link = dir.path().join("zero.db");
    std::os::unix::fs::symlink("/dev/zero", &link).unwrap();

    // Opening the FIFO would block for ever.
    for (db, kind) in [(&fifo, "a FIFO"), (&directory, "a directory")] {
        let path = db.display().to_string();
        for args in every_command(&path, &diagram) {
            assert_refused(&cli(&args), &path, &format!("is not a wasmflow database (it is {kind}"));
        }
    }
    // Reading a device whole would grow without end: within a limit, it fails at once.
    for db in [Path::new("/dev/zero"), &link] {
        let path = db.display().to_string();
        for args in [vec!["list", "--db", &path], vec!["show", "some-id", "--db", &path]] {
            let output = cli_within(1 << 30, &args);
            assert_refused(
                &output,
                &path,
                "is not a wasmflow database (it is a device, not a regular file)",
            );
        }
    }
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    assert!(
        std::fs::read_dir(&directory).unwrap().next().is_none(),
        "nothing in the directory"
    );
}

#[test]
fn a_huge_sparse_file_is_refused_after_reading_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sparse.db");
    let file = std::fs::File::create(&db).unwrap();
    file.set_len(1 << 30).unwrap();
    let path = db.display().to_string();
    let (output, peak) = cli_peak(&["list", "--db", &path]);
    assert_refused(&output, &path, "is not a usable wasmflow database (not an SQLite file)");
    // Reading the file whole would take a gigabyte. Linux starts a spawned
    // child's peak at this process's own peak (exec records the high-water
    // mark of the memory it replaces), so the bound allows for that.
    let bound = (256 << 20u64).max(own_peak() + (64 << 20));
    assert!(
        bound < 1 << 30,
        "this test process is too large to tell: {} MiB",
        own_peak() >> 20
    );
    assert!(peak < bound, "wasmflow took {} MiB", peak >> 20);
    assert_eq!(std::fs::metadata(&db).unwrap().len(), 1 << 30);
}

/// This process's peak resident memory in bytes (`VmHWM`).
fn own_peak() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("Linux reports VmHWM");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("VmHWM in kB");
    kib * 1024
}

/// Runs `wasmflow`; returns what it printed and its peak resident memory in bytes.
#[allow(
    clippy::zombie_processes,
    reason = "reaped by wait4, which also gives its resource usage"
)]
fn cli_peak(args: &[&str]) -> (Output, u64) {
    use std::io::Read;
    let mut child = Command::new(wasmflow_bin())
        .args(args)
        .env("WASMFLOW_CACHE_DIR", cache_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("wasmflow runs");
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    child.stdout.take().unwrap().read_to_end(&mut stdout).unwrap();
    child.stderr.take().unwrap().read_to_end(&mut stderr).unwrap();
    // wait4 rather than Child::wait: it gives this child's own resource usage.
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is this process's unwaited child; both pointers are valid.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t);
    let status = std::os::unix::process::ExitStatusExt::from_raw(status);
    // ru_maxrss is in KiB on Linux.
    (Output { status, stdout, stderr }, usage.ru_maxrss as u64 * 1024)
}

#[test]
fn a_view_standing_in_for_instances_is_refused_before_list_runs_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("view.db");
    let view = format!(
        "CREATE VIEW instances AS {ENDLESS} SELECT x AS id, x AS process, x AS diagrams, 'running' AS status, x AS state, x AS created, x AS updated FROM r"
    );
    let bytes = sqlite_file(2, &[("view", "instances", "instances", &view)]);
    std::fs::write(&db, &bytes).unwrap();
    let path = db.display().to_string();
    let diagram = trivial_diagram(dir.path());
    for args in every_command(&path, &diagram) {
        // Listing would sort the view's endless rows: refused before.
        let output = cli(&args);
        assert_refused(
            &output,
            &path,
            "it has view `instances`, which wasmflow does not create",
        );
        assert!(text(&output.stderr).contains("use another --db file"));
    }
    assert_eq!(std::fs::read(&db).unwrap(), bytes);
    assert_eq!(companions(&db), Vec::<PathBuf>::new());
}

#[test]
fn a_trigger_on_instances_is_refused_before_run_fires_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("trigger.db");
    let trigger = format!(
        "CREATE TRIGGER forever AFTER INSERT ON instances BEGIN SELECT count(*) FROM ({ENDLESS} SELECT x FROM r); END"
    );
    let bytes = sqlite_file(
        2,
        &[
            (
                "table",
                "diagrams",
                "diagrams",
                "CREATE TABLE diagrams (hash TEXT, name TEXT, xml TEXT)",
            ),
            (
                "table",
                "instances",
                "instances",
                "CREATE TABLE instances (id TEXT, process TEXT, diagrams TEXT, status TEXT, state TEXT, created TEXT, updated TEXT)",
            ),
            ("trigger", "forever", "instances", &trigger),
        ],
    );
    std::fs::write(&db, &bytes).unwrap();
    let path = db.display().to_string();
    let diagram = trivial_diagram(dir.path());
    for args in every_command(&path, &diagram) {
        // `run` would insert an instance and fire the trigger: refused before.
        let output = cli(&args);
        assert_refused(
            &output,
            &path,
            "it has trigger `forever` on `instances`, which wasmflow does not create",
        );
    }
    assert_eq!(std::fs::read(&db).unwrap(), bytes);
    assert_eq!(companions(&db), Vec::<PathBuf>::new());
}

#[test]
fn a_foreign_sqlite_file_is_refused_by_every_command_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let diagram = trivial_diagram(dir.path());
    for version in [0, 1, 2, 5] {
        let db = dir.path().join(format!("foreign-{version}.db"));
        let bytes = foreign(version);
        std::fs::write(&db, &bytes).unwrap();
        let path = db.display().to_string();
        for args in every_command(&path, &diagram) {
            let output = cli(&args);
            assert_refused(
                &output,
                &path,
                "is not a wasmflow database (it has table `notes`, which wasmflow does not create)",
            );
            assert!(!text(&output.stderr).contains("newer"), "{}", text(&output.stderr));
        }
        assert_eq!(std::fs::read(&db).unwrap(), bytes, "{path} was written to");
        assert_eq!(companions(&db), Vec::<PathBuf>::new());
    }
}

#[test]
fn list_and_show_create_nothing_in_a_missing_or_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("sub/missing.db");
    let zero = dir.path().join("zero.db");
    std::fs::write(&zero, b"").unwrap();
    let blank = dir.path().join("blank.db");
    let blank_bytes = sqlite_file(0, &[]);
    std::fs::write(&blank, &blank_bytes).unwrap();

    for db in [&missing, &zero, &blank] {
        let path = db.display().to_string();
        let output = cli(&["list", "--db", &path]);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        assert_eq!(text(&output.stdout).trim(), format!("no instances in {path}"));
        assert_eq!(cli_json(&["list", "--db", &path, "--json"]), (json!([]), 0));
        for args in [
            vec!["show", "some-id", "--db", &path],
            vec!["resume", "some-id", "--db", &path],
            vec!["complete", "some-id", "task", "--data", "{}", "--db", &path],
        ] {
            let output = cli(&args);
            assert_refused(&output, &path, "has no instances: it is missing or empty");
        }
        assert_eq!(companions(db), Vec::<PathBuf>::new());
    }
    assert!(!dir.path().join("sub").exists(), "list made no directory");
    assert_eq!(std::fs::read(&zero).unwrap(), b"");
    assert_eq!(std::fs::read(&blank).unwrap(), blank_bytes);
}

#[test]
fn run_creates_the_schema_in_a_missing_or_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let diagram = trivial_diagram(dir.path());
    let zero = dir.path().join("zero.db");
    std::fs::write(&zero, b"").unwrap();
    let blank = dir.path().join("blank.db");
    std::fs::write(&blank, sqlite_file(0, &[])).unwrap();
    for db in [dir.path().join("sub/missing.db"), zero, blank] {
        let path = db.display().to_string();
        let (out, code) = cli_json(&["run", &diagram, "--db", &path, "--json"]);
        assert_eq!((code, out["status"].clone()), (0, json!("completed")), "{out}");
        let (listed, _) = cli_json(&["list", "--db", &path, "--json"]);
        assert_eq!(listed[0]["id"], out["id"]);
        let (shown, code) = cli_json(&["show", out["id"].as_str().unwrap(), "--db", &path, "--json"]);
        assert_eq!((code, shown["status"].clone()), (0, json!("completed")));
    }
}

#[test]
fn a_newer_schema_version_is_named_only_for_wasmflows_own_tables() {
    let dir = tempfile::tempdir().unwrap();
    let diagram = trivial_diagram(dir.path());
    let db = dir.path().join("newer.db");
    let path = db.display().to_string();
    let (_, code) = cli_json(&["run", &diagram, "--db", &path, "--json"]);
    assert_eq!(code, 0);
    assert_eq!(
        companions(&db),
        Vec::<PathBuf>::new(),
        "the last step is in the file itself"
    );
    // The schema version, bumped as a later wasmflow would.
    let mut bytes = std::fs::read(&db).unwrap();
    bytes[60..64].copy_from_slice(&7u32.to_be_bytes());
    std::fs::write(&db, &bytes).unwrap();
    for args in every_command(&path, &diagram) {
        let output = cli(&args);
        assert_refused(
            &output,
            &path,
            "was written by a newer wasmflow (schema version 7; this one reads 6)",
        );
    }
    assert_eq!(std::fs::read(&db).unwrap(), bytes);

    // The same version on someone else's tables says what the file is.
    let other = dir.path().join("other.db");
    std::fs::write(&other, foreign(7)).unwrap();
    let path = other.display().to_string();
    let output = cli(&["list", "--db", &path]);
    assert_refused(&output, &path, "is not a wasmflow database");
    assert!(!text(&output.stderr).contains("newer"), "{}", text(&output.stderr));
}

#[test]
fn a_wrong_schema_is_one_sentence_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let diagram = trivial_diagram(dir.path());
    // Version 2, but none of its tables.
    let db = dir.path().join("hollow.db");
    let bytes = sqlite_file(2, &[]);
    std::fs::write(&db, &bytes).unwrap();
    let path = db.display().to_string();
    for args in every_command(&path, &diagram) {
        let output = cli(&args);
        assert_refused(
            &output,
            &path,
            "is not a usable wasmflow database (schema version 2 without its table `diagrams`)",
        );
        assert!(
            !text(&output.stderr).contains("no such table"),
            "{}",
            text(&output.stderr)
        );
    }
    // A table of wasmflow's name that is not wasmflow's table.
    let db = dir.path().join("lookalike.db");
    let lookalike = sqlite_file(2, &[("table", "diagrams", "diagrams", "CREATE TABLE diagrams (x)")]);
    std::fs::write(&db, &lookalike).unwrap();
    let path = db.display().to_string();
    let output = cli(&["run", &diagram, "--db", &path]);
    assert_refused(
        &output,
        &path,
        "is not a wasmflow database (its table `diagrams` is not as wasmflow's schema version 2 has it)",
    );
    assert_eq!(std::fs::read(&db).unwrap(), lookalike);
    assert_eq!(std::fs::read(dir.path().join("hollow.db")).unwrap(), bytes);
}
