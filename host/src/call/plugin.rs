//! Plugins: a name and where its WebAssembly module comes from.

use std::path::PathBuf;

/// The name of the built-in Python-dialect interpreter.
pub const PYTHON: &str = "python";

/// The interpreter plugin, built from `scripts/python` with the host.
static PYTHON_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/python.wasm"));

/// The interpreter's SHA-256 (lower-case hex), computed by the build script.
static PYTHON_SHA256: &str = include_str!(concat!(env!("OUT_DIR"), "/python.wasm.sha256"));

/// The interpreter compiled and pre-initialized by the build script for the
/// machine that built it; empty when the build could not compile it.
static PYTHON_CWASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/python.cwasm"));

/// A plugin that can be called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plugin {
    /// The name it is known by (in diagrams, errors and logs).
    pub name: String,
    /// Where its module comes from.
    pub source: PluginSource,
    /// The SHA-256 its module must have (lower-case hex), if pinned in the manifest.
    pub sha256: Option<String>,
}

/// Where a plugin's module comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSource {
    /// Embedded in the `wasmflow` binary.
    Builtin {
        /// Its name.
        name: &'static str,
        /// The module.
        wasm: &'static [u8],
        /// The module's SHA-256 (lower-case hex), known at build time: its
        /// compiled module is found in the cache without reading `wasm`.
        sha256: &'static str,
        /// `wasm` compiled at build time (`Module::serialize`), used when the
        /// cache has no entry yet and the engine accepts it (same wasmtime,
        /// settings and CPU features), so a first run compiles nothing. Empty
        /// when there is none.
        precompiled: &'static [u8],
    },
    /// A `.wasm` file.
    File(PathBuf),
}

impl Plugin {
    /// The built-in Python-dialect interpreter (Starlark).
    pub fn python() -> Plugin {
        Plugin {
            name: PYTHON.to_string(),
            source: PluginSource::Builtin {
                name: PYTHON,
                wasm: PYTHON_WASM,
                sha256: PYTHON_SHA256,
                precompiled: PYTHON_CWASM,
            },
            sha256: None,
        }
    }

    /// A plugin from a file, named after the file's stem.
    pub fn from_file(path: impl Into<PathBuf>) -> Plugin {
        let path = path.into();
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        Plugin {
            name,
            source: PluginSource::File(path),
            sha256: None,
        }
    }
}

impl std::fmt::Display for PluginSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginSource::Builtin { name, .. } => write!(f, "the built-in `{name}`"),
            PluginSource::File(path) => write!(f, "{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn the_build_time_digest_is_the_embedded_interpreters() {
        let PluginSource::Builtin { wasm, sha256, .. } = Plugin::python().source else {
            panic!("python is built in")
        };
        let actual: String = Sha256::digest(wasm).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(sha256, actual);
    }
}
