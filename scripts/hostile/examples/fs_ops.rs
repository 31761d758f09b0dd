//! Runs the file operations listed in data `ops` and sets data `results`, one
//! string per op: `ok` or `ok: <content>`, else `err: <message>`. The sandbox's
//! file tests script attacks with it (renaming a granted directory away,
//! symlinks, renumbered descriptors, floods of denied opens, FIFOs).
//!
//! Ops (`path`s are as the plugin sees them):
//! `{"op": "read", "path"}`, `{"op": "write", "path", "text"}`, `{"op": "mkdir", "path"}`,
//! `{"op": "stat", "path"}`, `{"op": "readlink", "path"}`, `{"op": "rmdir", "path"}`, `{"op": "unlink", "path"}`, `{"op": "rename", "from", "to"}`,
//! `{"op": "symlink", "target", "link"}`, `{"op": "open", "path", "as"}` (keeps the descriptor
//! under a name), `{"op": "renumber", "from", "to"}` (names; `to` takes `from`'s descriptor
//! number), `{"op": "openat", "dir", "path"}` (reads `path` under the named descriptor),
//! `{"op": "flood", "path"}` (opens `path` until the call is stopped).
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};

use serde_json::Value;
use wasmflow_guest::{Context, Result};

#[link(wasm_import_module = "wasi_snapshot_preview1")]
unsafe extern "C" {
    fn path_open(
        fd: u32,
        dirflags: u32,
        path: *const u8,
        path_len: usize,
        oflags: u32,
        rights_base: u64,
        rights_inheriting: u64,
        fdflags: u32,
        opened: *mut u32,
    ) -> u16;
    fn fd_renumber(from: u32, to: u32) -> u16;
    fn path_symlink(old: *const u8, old_len: usize, fd: u32, new: *const u8, new_len: usize) -> u16;
}

fn text(op: &Value, key: &str) -> String {
    op[key].as_str().unwrap_or_default().to_string()
}

fn result<T>(r: std::io::Result<T>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => format!("err: {e}"),
    }
}

/// Splits `/a/b/c` into (`/a/b`, `c`).
fn split(path: &str) -> (String, String) {
    match path.rsplit_once('/') {
        Some(("", name)) => ("/".into(), name.into()),
        Some((dir, name)) => (dir.into(), name.into()),
        None => (".".into(), path.into()),
    }
}

fn run(op: &Value, fds: &mut HashMap<String, u32>) -> String {
    match op["op"].as_str().unwrap_or_default() {
        "read" => match std::fs::read_to_string(text(op, "path")) {
            Ok(content) => format!("ok: {content}"),
            Err(e) => format!("err: {e}"),
        },
        "write" => result(std::fs::write(text(op, "path"), text(op, "text"))),
        "mkdir" => result(std::fs::create_dir(text(op, "path"))),
        "stat" => match std::fs::metadata(text(op, "path")) {
            Ok(meta) => format!("ok: {} bytes", meta.len()),
            Err(e) => format!("err: {e}"),
        },
        "readlink" => match std::fs::read_link(text(op, "path")) {
            Ok(target) => format!("ok: {}", target.display()),
            Err(e) => format!("err: {e}"),
        },
        "rmdir" => result(std::fs::remove_dir(text(op, "path"))),
        "unlink" => result(std::fs::remove_file(text(op, "path"))),
        "rename" => result(std::fs::rename(text(op, "from"), text(op, "to"))),
        "symlink" => {
            let (dir, name) = split(&text(op, "link"));
            let target = text(op, "target");
            match File::open(&dir) {
                Ok(dir) => {
                    let errno = unsafe {
                        path_symlink(
                            target.as_ptr(),
                            target.len(),
                            dir.as_raw_fd() as u32,
                            name.as_ptr(),
                            name.len(),
                        )
                    };
                    if errno == 0 {
                        "ok".into()
                    } else {
                        format!("err: errno {errno}")
                    }
                }
                Err(e) => format!("err: {e}"),
            }
        }
        "open" => match File::open(text(op, "path")) {
            Ok(file) => {
                fds.insert(text(op, "as"), file.into_raw_fd() as u32);
                "ok".into()
            }
            Err(e) => format!("err: {e}"),
        },
        "renumber" => {
            let (Some(&from), Some(&to)) = (fds.get(&text(op, "from")), fds.get(&text(op, "to"))) else {
                return "err: unknown descriptor name".into();
            };
            let errno = unsafe { fd_renumber(from, to) };
            fds.remove(&text(op, "from"));
            if errno == 0 {
                "ok".into()
            } else {
                format!("err: errno {errno}")
            }
        }
        "openat" => {
            let Some(&dir) = fds.get(&text(op, "dir")) else {
                return "err: unknown descriptor name".into();
            };
            let path = text(op, "path");
            let mut opened = 0u32;
            // Rights: fd_read (1 << 1).
            let errno = unsafe { path_open(dir, 1, path.as_ptr(), path.len(), 0, 1 << 1, 0, 0, &mut opened) };
            if errno != 0 {
                return format!("err: errno {errno}");
            }
            let mut file = unsafe { File::from_raw_fd(opened as i32) };
            let mut content = String::new();
            match file.read_to_string(&mut content) {
                Ok(_) => format!("ok: {content}"),
                Err(e) => format!("err: {e}"),
            }
        }
        "flood" => loop {
            let _ = std::hint::black_box(File::open(text(op, "path")));
        },
        other => format!("err: unknown op `{other}`"),
    }
}

fn fs_ops(ctx: &mut Context) -> Result<()> {
    let ops: Vec<Value> = ctx.get("ops")?;
    let mut fds = HashMap::new();
    let results: Vec<String> = ops.iter().map(|op| run(op, &mut fds)).collect();
    ctx.set("results", results)
}

wasmflow_guest::export!(script: fs_ops);
