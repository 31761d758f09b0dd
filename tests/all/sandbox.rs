//! Attacks on the sandbox, each contained: a granted directory swapped for a
//! symlink, FIFOs, floods of denied checks, renumbered descriptors, nested
//! calls that would overflow the host's stack or outlive their deadline, more
//! calls than instance slots, and load steps that never end. On both
//! executors where the attack applies.

#![allow(clippy::result_large_err)] // ScriptErrors are handed around as the library does

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use wasmflow::bpmn::Script;
use wasmflow::executor::{InProcess, InProcessConfig};
use wasmflow::script::{Catalog, FailureKind, Limits, ScriptEngine, ScriptError, TaskInfo};
use wasmflow_tests::*;

/// An engine on `scripts`' executor whose catalog `setup` fills.
fn engine(scripts: &ScriptEngine, setup: impl FnOnce(&mut Catalog)) -> ScriptEngine {
    let mut catalog = Catalog::new(plugin_dir());
    setup(&mut catalog);
    ScriptEngine::with_catalog(scripts.executor().clone(), catalog)
}

/// A catalog entry named `name` running the `fs_ops` plugin.
fn fs_entry<'a>(catalog: &'a mut Catalog, name: &str) -> &'a mut wasmflow::script::Entry {
    let entry = catalog.entry_mut(name);
    entry.module = Some(plugin("fs_ops"));
    entry
}

/// Runs the file operations `ops` as plugin `name`: the result of each.
fn fs_ops(engine: &ScriptEngine, name: &str, ops: Value) -> Result<Vec<String>, ScriptError> {
    let script = Script::Plugin { name: name.into() };
    let outcome = engine.run_script(&TaskInfo::default(), &script, &object(json!({ "ops": ops })))?;
    let data = outcome.value.done().expect("the script answers with data");
    Ok(serde_json::from_value(data["results"].clone()).unwrap())
}

fn service(engine: &ScriptEngine, operation: &str, params: Value) -> Result<Value, ScriptError> {
    engine
        .call_service(&TaskInfo::default(), operation, &object(params))
        .map(|outcome| outcome.value.done().expect("the service answers with a value"))
}

/// `shared/in/file.txt` (granted) and `outside/secret.txt` (not).
fn shared_workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("shared/in")).unwrap();
    std::fs::create_dir_all(dir.path().join("outside")).unwrap();
    std::fs::write(dir.path().join("shared/in/file.txt"), "inside").unwrap();
    std::fs::write(dir.path().join("outside/file.txt"), "outside secret").unwrap();
    dir
}

/// Renames `shared/in` away and puts a symlink to `../outside` in its place.
fn swap_for_symlink(base: &Path) {
    std::fs::rename(base.join("shared/in"), base.join("shared/moved")).unwrap();
    std::os::unix::fs::symlink("../outside", base.join("shared/in")).unwrap();
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

for_each_executor! {
    #[test]
    fn a_granted_directory_swapped_for_a_symlink_is_never_followed(scripts: &ScriptEngine) {
        let dir = shared_workspace();
        let engine = engine(scripts, |c| {
            fs_entry(c, "victim").grants.allow_dir("shared/in", dir.path(), false).unwrap();
            fs_entry(c, "attacker").grants.allow_dir("shared", dir.path(), true).unwrap();
        });
        let read = json!([{"op": "read", "path": "/shared/in/file.txt"}]);
        assert_eq!(fs_ops(&engine, "victim", read.clone()).unwrap(), ["ok: inside"]);

        // A plugin with write access to the parent cannot plant a link pointing out...
        let attack = json!([
            {"op": "rename", "from": "/shared/in", "to": "/shared/moved"},
            {"op": "symlink", "target": "../outside", "link": "/shared/in"},
        ]);
        let results = fs_ops(&engine, "attacker", attack).unwrap();
        assert_eq!(results[0], "ok", "renaming inside its own grant is allowed");
        assert!(results[1].starts_with("err"), "{results:?}");
        std::fs::rename(dir.path().join("shared/moved"), dir.path().join("shared/in")).unwrap();

        // ...and when something else on the host swaps the directory, the
        // victim's grant still means the directory that was granted.
        swap_for_symlink(dir.path());
        match fs_ops(&engine, "victim", read) {
            Ok(results) => assert_eq!(results, ["ok: inside"], "the grant's own directory, never the link's target"),
            Err(error) => assert!(error.message.contains("no longer the directory that was granted"), "{error}"),
        }
    }

    #[test]
    fn a_grant_replaced_before_its_first_use_is_refused(scripts: &ScriptEngine) {
        let dir = shared_workspace();
        let engine = engine(scripts, |c| {
            fs_entry(c, "victim").grants.allow_dir("shared/in", dir.path(), false).unwrap();
        });
        swap_for_symlink(dir.path());
        let error = fs_ops(&engine, "victim", json!([{"op": "read", "path": "/shared/in/file.txt"}])).unwrap_err();
        assert!(error.message.contains("no longer the directory that was granted"), "{error}");
        assert!(error.message.contains("shared/in"), "names the grant: {error}");
        assert!(!error.message.contains("outside secret"));
    }

    #[test]
    fn climbing_out_with_dotdot_is_denied_naming_the_real_directory(scripts: &ScriptEngine) {
        let dir = shared_workspace();
        let engine = engine(scripts, |c| {
            fs_entry(c, "climber").grants.allow_dir("shared/in", dir.path(), false).unwrap();
        });
        let script = Script::Plugin { name: "climber".into() };
        let ops = json!({"ops": [{"op": "read", "path": "/shared/in/../../outside/file.txt"}]});
        let outcome = engine.run_script(&TaskInfo::default(), &script, &object(ops)).unwrap();
        let data = outcome.value.done().expect("the script answers with data");
        assert!(data["results"][0].as_str().unwrap().starts_with("err"));
        let real = std::fs::canonicalize(dir.path()).unwrap().join("outside");
        // Before, the remedy was the clamped sandbox path (`/outside`), which grants nothing useful.
        assert!(
            outcome.log.contains(&format!("--allow-read climber={}", real.display())),
            "{}",
            outcome.log
        );
    }

    #[test]
    fn a_fifo_in_a_granted_directory_is_refused_not_opened(scripts: &ScriptEngine) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        mkfifo(&dir.path().join("data/pipe"));
        let engine = engine(scripts, |c| {
            fs_entry(c, "reader").grants.allow_dir("./data", dir.path(), true).unwrap();
        });
        // Before, opening the FIFO blocked the host's thread forever: the test would hang here.
        let results = fs_ops(
            &engine,
            "reader",
            json!([
                {"op": "read", "path": "/data/pipe"},
                {"op": "write", "path": "/data/pipe", "text": "x"},
            ]),
        )
        .unwrap();
        assert!(results.iter().all(|r| r.starts_with("err")), "{results:?}");
    }

    #[test]
    fn a_flood_of_denials_keeps_host_memory_and_the_error_bounded(scripts: &ScriptEngine) {
        let engine = engine(scripts, |c| {
            fs_entry(c, "flooder");
        })
        .with_limits(Limits {
            timeout: Duration::from_millis(500),
            ..Limits::default()
        });
        let error = fs_ops(&engine, "flooder", json!([{"op": "flood", "path": "/etc/passwd"}])).unwrap_err();
        assert_eq!(error.kind, FailureKind::Deadline, "{error}");
        assert!(error.message.len() < 16 << 10, "the error is bounded: {} bytes", error.message.len());
        assert!(error.log.len() < 64 << 10, "the log is bounded: {} bytes", error.log.len());
        assert!(error.message.contains("more checks were denied"), "{}", error.message);
    }

    #[test]
    fn directory_changes_are_checked_and_recorded_with_their_paths(scripts: &ScriptEngine) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("rw")).unwrap();
        std::fs::create_dir_all(dir.path().join("ro")).unwrap();
        std::fs::write(dir.path().join("ro/kept.txt"), "kept").unwrap();
        let audit_path = dir.path().join("audit.jsonl");
        let engine = engine(scripts, |c| {
            let entry = fs_entry(c, "changer");
            entry.grants.allow_dir("./rw", dir.path(), true).unwrap();
            entry.grants.allow_dir("./ro", dir.path(), false).unwrap();
        })
        .with_audit(wasmflow::capability::Audit::open(&audit_path).unwrap());
        let results = fs_ops(
            &engine,
            "changer",
            json!([
                {"op": "mkdir", "path": "/rw/sub"},
                {"op": "write", "path": "/rw/sub/a.txt", "text": "a"},
                {"op": "rename", "from": "/rw/sub/a.txt", "to": "/rw/b.txt"},
                {"op": "unlink", "path": "/rw/b.txt"},
                {"op": "rmdir", "path": "/rw/sub"},
                {"op": "unlink", "path": "/ro/kept.txt"},
                {"op": "mkdir", "path": "/elsewhere"},
                {"op": "stat", "path": "/ro/kept.txt"},
                {"op": "stat", "path": "/etc/passwd"},
                {"op": "symlink", "target": "kept.txt", "link": "/rw/link"},
                {"op": "readlink", "path": "/rw/link"},
            ]),
        )
        .unwrap();
        assert_eq!(&results[..5], ["ok", "ok", "ok", "ok", "ok"], "{results:?}");
        assert!(results[5].starts_with("err") && results[6].starts_with("err"), "{results:?}");
        assert_eq!(results[7], "ok: 4 bytes", "{results:?}");
        assert!(results[8].starts_with("err"), "{results:?}");
        assert_eq!(&results[9..], ["ok", "ok: kept.txt"], "{results:?}");
        assert!(dir.path().join("ro/kept.txt").exists(), "a read-only grant refuses unlink");
        let lines: Vec<Value> = std::fs::read_to_string(&audit_path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let find = |operation: &str, target: &str| {
            lines
                .iter()
                .find(|l| l["operation"] == operation && l["target"] == target)
                .unwrap_or_else(|| panic!("no {operation} of {target} in {lines:#?}"))
        };
        assert_eq!(find("mkdir", "/rw/sub")["allowed"], true);
        assert_eq!(find("rename", "/rw/sub/a.txt")["allowed"], true);
        assert_eq!(find("rename", "/rw/b.txt")["allowed"], true);
        assert_eq!(find("unlink", "/rw/b.txt")["allowed"], true);
        assert_eq!(find("rmdir", "/rw/sub")["allowed"], true);
        assert_eq!(find("unlink", "/ro/kept.txt")["allowed"], false);
        assert_eq!(find("mkdir", "/elsewhere")["allowed"], false);
        assert_eq!(find("stat", "/ro/kept.txt")["allowed"], true);
        assert_eq!(find("stat", "/etc/passwd")["allowed"], false);
        assert_eq!(find("symlink", "/rw/link")["allowed"], true);
        assert_eq!(find("readlink", "/rw/link")["allowed"], true);
    }

    #[test]
    fn renumbered_descriptors_are_audited_with_the_path_they_stand_for(scripts: &ScriptEngine) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data/sub")).unwrap();
        std::fs::write(dir.path().join("data/sub/note.txt"), "note").unwrap();
        std::fs::write(dir.path().join("data/file.txt"), "file").unwrap();
        let audit_path = dir.path().join("audit.jsonl");
        let engine = engine(scripts, |c| {
            fs_entry(c, "renumberer").grants.allow_dir("./data", dir.path(), false).unwrap();
        })
        .with_audit(wasmflow::capability::Audit::open(&audit_path).unwrap());
        let results = fs_ops(
            &engine,
            "renumberer",
            json!([
                {"op": "open", "path": "/data/sub", "as": "dir"},
                {"op": "open", "path": "/data/file.txt", "as": "file"},
                {"op": "open", "path": "/data/file.txt", "as": "other"},
                // The directory's descriptor takes the file's number...
                {"op": "renumber", "from": "dir", "to": "file"},
                {"op": "openat", "dir": "file", "path": "note.txt"},
                // ...and a file's descriptor takes that number back: it is no directory now.
                {"op": "renumber", "from": "other", "to": "file"},
                {"op": "openat", "dir": "file", "path": "never.txt"},
            ]),
        )
        .unwrap();
        assert_eq!(results[4], "ok: note", "{results:?}");
        assert!(results[6].starts_with("err"), "{results:?}");
        let audit = std::fs::read_to_string(&audit_path).unwrap();
        assert!(audit.contains("\"/data/sub/note.txt\""), "the open through the renumbered descriptor: {audit}");
        assert!(!audit.contains("never.txt"), "no path that was never opened: {audit}");
    }

    #[test]
    fn nested_services_on_parallel_threads_never_overflow_the_host_stack(scripts: &ScriptEngine) {
        let engine = engine(scripts, |c| {
            c.entry_mut("nest").grants.allow_service("nest").unwrap();
        });
        // Nine stores, each burning much of its wasm stack, on threads with
        // Rust's default 2 MiB stack: before, the host aborted (rc 134).
        std::thread::scope(|scope| {
            let branches: Vec<_> = (0..2)
                .map(|_| scope.spawn(|| service(&engine, "nest", json!({"levels": 8, "frames": NEST_FRAMES}))))
                .collect();
            for branch in branches {
                assert_eq!(branch.join().unwrap().unwrap(), json!(8));
            }
        });
    }

    #[test]
    fn both_executors_allow_the_full_nesting_depth(scripts: &ScriptEngine) {
        let engine = engine(scripts, |c| {
            c.entry_mut("nest").grants.allow_service("nest").unwrap();
        });
        assert_eq!(service(&engine, "nest", json!({"levels": 8})).unwrap(), json!(8));
        let error = service(&engine, "nest", json!({"levels": 9})).unwrap_err();
        assert!(error.message.contains("nested 8 calls deep"), "{error}");
    }

    #[test]
    fn a_nested_call_gets_only_what_remains_of_its_callers_deadline(scripts: &ScriptEngine) {
        let engine = engine(scripts, |c| {
            c.entry_mut("call_any").grants.allow_service("wait").unwrap();
        })
        .with_limits(Limits {
            timeout: Duration::from_secs(1),
            ..Limits::default()
        });
        let script = Script::Plugin { name: "call_any".into() };
        let data = object(json!({"operation": "wait", "params": {"ms": 60_000}}));
        let error = engine.run_script(&TaskInfo::default(), &script, &data).unwrap_err();
        // The nested `wait` was stopped at what remained of the caller's second,
        // not at a second of its own.
        assert!(error.message.contains("limit of"), "{error}");
        assert!(!error.message.contains("limit of 1s"), "the nested call had a full deadline: {error}");
    }

    #[test]
    fn pre_initialization_that_never_ends_is_stopped_by_the_time_limit(scripts: &ScriptEngine) {
        let engine = scripts.clone().with_limits(Limits {
            timeout: Duration::from_millis(300),
            ..Limits::default()
        });
        let plugin = engine.catalog().plugin("init_forever").unwrap().plugin;
        let error = engine.prepare(&plugin).unwrap_err();
        assert_eq!(error.kind, FailureKind::Load);
        assert!(error.message.contains("pre-initialization"), "{error}");
        assert!(error.message.contains("time limit of 300ms"), "{error}");
    }
}

/// How many frames `nest` burns per level: enough that nine levels need more
/// than a 2 MiB thread stack, few enough that one level fits its 512 KiB of wasm stack.
const NEST_FRAMES: u32 = 4_500;

#[test]
fn more_calls_than_instance_slots_wait_instead_of_failing() {
    let executor = InProcess::new(InProcessConfig {
        cache_dir: Some(cache_dir()),
        max_concurrent_calls: 2,
        ..InProcessConfig::default()
    })
    .unwrap();
    let mut catalog = Catalog::new(plugin_dir());
    catalog.entry_mut("nest").grants.allow_service("nest").unwrap();
    let engine = ScriptEngine::with_catalog(Arc::new(executor), catalog);
    // Twelve callers, each nesting four deep, on room for two outermost calls:
    // before, most failed with "maximum concurrent limit ... reached".
    std::thread::scope(|scope| {
        let callers: Vec<_> = (0..12)
            .map(|_| scope.spawn(|| service(&engine, "nest", json!({"levels": 4}))))
            .collect();
        for caller in callers {
            assert_eq!(caller.join().unwrap().unwrap(), json!(4));
        }
    });
}
