//! The on-disk cache of compiled modules.
//!
//! Compiling the interpreter takes seconds; loading a compiled module by mmap
//! takes well under a millisecond and lets wasmtime map its memory image
//! copy-on-write. Entries are keyed by the module's SHA-256 and the engine's
//! compatibility hash, so a new wasmtime or a different configuration never
//! loads an incompatible artifact. The SHA-256 itself is known without hashing
//! for the built-in interpreter (from the build) and usually for plugin files
//! (from the `file_index`), so a start-up hashes no large module.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::{Engine, Module};

/// Where compiled modules are kept.
#[derive(Debug, Clone)]
pub(super) struct ModuleCache {
    dir: Option<PathBuf>,
    engine_hash: u64,
}

impl ModuleCache {
    /// A cache in `dir` (created when first written), or none.
    pub fn new(engine: &Engine, dir: Option<PathBuf>) -> ModuleCache {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        ModuleCache {
            dir,
            engine_hash: hasher.finish(),
        }
    }

    /// The cache key of a module by its SHA-256 (see [`sha256_hex`]), for a
    /// given kind of artifact.
    pub fn key(&self, sha256: &str, kind: &str) -> String {
        format!("{sha256}-{:016x}-{kind}", self.engine_hash)
    }

    fn path(&self, key: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|dir| dir.join(format!("{key}.cwasm")))
    }

    /// Loads a cached module, if there is a usable one.
    pub fn load(&self, engine: &Engine, key: &str) -> Option<Module> {
        let path = self.path(key)?;
        if !path.is_file() {
            return None;
        }
        // SAFETY: the file is one this cache wrote with `Module::serialize` for an
        // engine with the same compatibility hash (part of the key). The cache
        // directory belongs to the user running wasmflow; anyone who can write
        // there can already run code as that user.
        match unsafe { Module::deserialize_file(engine, &path) } {
            Ok(module) => Some(module),
            Err(_) => {
                // Truncated or from an incompatible build: drop it and recompile.
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Stores a compiled module and returns it loaded back from the file, so
    /// that its memory image can be mapped copy-on-write. Falls back to the
    /// in-memory module when the cache cannot be written.
    pub fn store(&self, engine: &Engine, key: &str, module: Module) -> Module {
        let Some(path) = self.path(key) else { return module };
        match write_atomically(&path, || module.serialize()) {
            Ok(()) => self.load(engine, key).unwrap_or(module),
            Err(_) => module,
        }
    }
}

/// Writes a file under a temporary name and renames it into place, so that a
/// concurrent reader (another wasmflow process) never sees half a file.
pub(super) fn write_atomically(path: &Path, bytes: impl FnOnce() -> wasmtime::Result<Vec<u8>>) -> std::io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().expect("cache paths have a parent");
    std::fs::create_dir_all(dir)?;
    let bytes = bytes().map_err(|e| std::io::Error::other(e.to_string()))?;
    let tmp = dir.join(format!(
        ".{}.{}.{}.tmp",
        path.file_name().unwrap().to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// The SHA-256 of some bytes, in lower-case hex.
pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The default cache directory: the user's cache directory (e.g.
/// `~/.cache/wasmflow/modules`). The command line reads `$WASMFLOW_CACHE_DIR`
/// before falling back to it.
pub fn default_cache_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "wasmflow").map(|dirs| dirs.cache_dir().join("modules"))
}
