//! Misbehaving wasmflow plugins, for the host's sandbox and limit tests.
//!
//! Each plugin is an example target of this crate built as a `cdylib`
//! (`target/guests/wasm32-wasip1/release/examples/NAME.wasm`). Script plugins via the SDK
//! unless noted:
//!
//! | plugin | behaviour |
//! |---|---|
//! | `read_passwd` | reads `/etc/passwd`; answers `error` with the I/O error (sandboxed), or sets data `passwd` |
//! | `read_env` | sets data `env` to every environment variable it can see (`{}` in the sandbox) |
//! | `open_socket` | connects to `127.0.0.1:80`; answers `error` with the I/O error, or sets `connected: true` |
//! | `loop_forever` | spins forever (deadline / fuel tests) |
//! | `alloc_unbounded` | allocates 1 MiB blocks until memory runs out (a trap) |
//! | `recurse` | recurses without bound (stack exhaustion, a trap) |
//! | `trap` | panics with "deliberate trap" (abort = `unreachable` trap) |
//! | `invalid_json` | raw exports answering `this is not json {` |
//! | `huge_response` | sets data `blob` to `config.size` or data `size` bytes (default 20 MiB) |
//! | `export_nothing` | exports only `unrelated() -> i32` |
//! | `wrong_status` | raw exports answering `{"status":"maybe"}` |
//! | `print_garbage` | writes 1 MiB of arbitrary bytes to stdout and to stderr, then answers ok with the data unchanged |
//! | `echo` | answers its data plus `echoed: true`, logging one info line |
//! | `increment` | `i = i + 1` (`i` defaults to 0): a minimal well-behaved script for chains, loops and benchmarks |
//! | `bpmn_error` | throws BPMN error `payment_failed` with payload `{"reason": "card declined"}` |
//! | `escalate` | escalates `late` (name "Running late") with payload `{"days": 3}` |
//! | `fail` | fails with message `nope` at line 7 |
//! | `fs_ops` | runs the file operations in data `ops` (read, write, mkdir, rename, symlink, renumbered descriptors, a flood of opens) and sets `results` |
//! | `init_forever` | a `wizer-initialize` that never returns |
//! | `say` | logs data `log`, prints data `stdout`, answers data `status` with data `message` (terminal-escape tests) |

/// Pack a response pointer and length the way `wasmflow_run` returns them, for the plugins that
/// implement the exports by hand: `(ptr << 32) | len`.
pub fn pack(ptr: *const u8, len: usize) -> i64 {
    (((ptr as usize as u32 as u64) << 32) | (len as u32 as u64)) as i64
}

/// A leaked zeroed buffer of `len` bytes, as a hand-written `wasmflow_alloc` returns it (a null
/// pointer for a negative length).
pub fn leak_buffer(len: i32) -> *mut u8 {
    match usize::try_from(len) {
        Ok(len) => Box::leak(vec![0u8; len].into_boxed_slice()).as_mut_ptr(),
        Err(_) => std::ptr::null_mut(),
    }
}
