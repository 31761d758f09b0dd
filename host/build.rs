//! Builds the guest plugins in `scripts/` for wasm32-wasip1 and embeds the
//! built-in interpreter (`python.wasm`) in the `wasmflow` binary, with its
//! SHA-256 (`python.wasm.sha256`) and its module compiled for this machine
//! (`python.cwasm`), so that a first run does not spend seconds compiling it.
//!
//! The guests are a cargo workspace of their own (another target, their own
//! lockfile); they build into `target/guests` inside this workspace's target
//! directory, so there is still one target directory to clean or cache.

use std::path::{Path, PathBuf};
use std::process::Command;

use wasmtime::{Engine, Linker, Module, Store};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;

// The executor's own engine settings and pre-initialization, so that the
// module compiled here is the one the executor would compile.
#[path = "src/executor/in_process/compiler.rs"]
mod compiler;
#[path = "src/executor/in_process/preinit.rs"]
mod preinit;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap();
    let scripts = root.join("scripts");
    let guest_target = guest_target_dir(&manifest_dir);

    println!("cargo:rerun-if-changed={}", scripts.display());
    println!("cargo:rerun-if-changed={}", root.join("guest-sdk").display());

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(&scripts)
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "wasm32-wasip1",
            "--workspace",
            "--examples",
            "--bins",
            "--lib",
        ])
        .env("CARGO_TARGET_DIR", &guest_target);
    // The outer build's settings are for the host, not for the guests.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_") && !matches!(key.as_ref(), "CARGO_HOME" | "CARGO_MAKEFLAGS" | "CARGO_NET_OFFLINE")
            || key == "RUSTFLAGS"
            || key == "RUSTC_WRAPPER"
        {
            command.env_remove(key.as_ref());
        }
    }
    command.env("CARGO_TARGET_DIR", &guest_target);

    let status = command
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the guest plugins: {e}"));
    if !status.success() {
        panic!(
            "building the guest plugins in {} failed (see above). If the target is missing, run `rustup target add wasm32-wasip1`.",
            scripts.display()
        );
    }
    let built = guest_target.join("wasm32-wasip1/release");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    copy(&built.join("python.wasm"), &out_dir.join("python.wasm"));
    write_digest(&out_dir.join("python.wasm"), &out_dir.join("python.wasm.sha256"));
    precompile(&out_dir.join("python.wasm"), &out_dir.join("python.cwasm"));
    // Every plugin in one flat directory, usable as `--plugins`: the tests
    // and the examples find them in `target/guests/plugins`.
    let plugins = guest_target.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap_or_else(|e| panic!("cannot create {}: {e}", plugins.display()));
    for dir in [built.clone(), built.join("examples")] {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            // Cargo also leaves hashed copies (`name-0123abcd.wasm`) of examples.
            if path.extension().is_some_and(|e| e == "wasm") && !stem.contains('-') {
                copy(&path, &plugins.join(path.file_name().unwrap()));
            }
        }
    }
}

/// `<workspace target dir>/guests`, derived from OUT_DIR (`<target>/<profile>/build/<pkg>/out`).
fn guest_target_dir(manifest_dir: &Path) -> PathBuf {
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    out_dir
        .ancestors()
        .find(|dir| dir.file_name().is_some_and(|name| name == "build"))
        .and_then(|build| build.parent()?.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| manifest_dir.parent().unwrap().join("target"))
        .join("guests")
}

/// Writes the SHA-256 of `module` (lower-case hex) to `to`: the built-in's
/// cache key, so that finding its compiled module on every start does not
/// hash the embedded bytes again (milliseconds for the interpreter).
fn write_digest(module: &Path, to: &Path) {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(module).unwrap_or_else(|e| panic!("cannot read {}: {e}", module.display()));
    let hex: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(to, hex).unwrap_or_else(|e| panic!("cannot write {}: {e}", to.display()));
}

/// Writes `module` compiled and pre-initialized as the executor would, for
/// this machine, to `to`; or an empty file, with a warning, when it cannot be
/// (then the first run compiles it). A cross build embeds none: its code
/// would be for the wrong machine.
fn precompile(module: &Path, to: &Path) {
    let cwasm = if std::env::var_os("TARGET") != std::env::var_os("HOST") {
        Vec::new()
    } else {
        let bytes = std::fs::read(module).unwrap_or_else(|e| panic!("cannot read {}: {e}", module.display()));
        compile_ahead(&bytes).unwrap_or_else(|e| {
            println!(
                "cargo:warning=the built-in interpreter is not compiled ahead of time ({e:#}); \
                 each machine compiles it on its first run"
            );
            Vec::new()
        })
    };
    std::fs::write(to, cwasm).unwrap_or_else(|e| panic!("cannot write {}: {e}", to.display()));
}

fn compile_ahead(wasm: &[u8]) -> wasmtime::Result<Vec<u8>> {
    let engine = Engine::new(&compiler::config())?;
    let mut linker: Linker<WasiP1Ctx> = Linker::new(&engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |ctx| ctx)?;
    // Nothing granted, as when the executor pre-initializes: no files, no
    // environment, and the host's own functions trap if the warm-up calls them.
    let mut store = Store::new(&engine, WasiCtxBuilder::new().build_p1());
    store.set_epoch_deadline(u64::MAX);
    let snapshot = preinit::preinitialize(&mut store, wasm, |store, instrumented| {
        let module = Module::new(&engine, instrumented)?;
        linker.define_unknown_imports_as_traps(&module)?;
        linker.instantiate(store, &module)
    })?;
    Module::new(&engine, &snapshot)?.serialize()
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("cannot copy {} to {}: {e}", from.display(), to.display()));
}
