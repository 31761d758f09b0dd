//! The plugin directory: where a name in a diagram finds its WebAssembly module.

use std::path::{Path, PathBuf};

use crate::call::{FailureKind, ScriptError};
use crate::call::{Plugin, PluginSource};

/// Finds plugins by name in a directory: `NAME` is `DIR/NAME.wasm`.
#[derive(Debug, Clone)]
pub struct PluginDirectory {
    dir: PathBuf,
}

impl PluginDirectory {
    /// Plugins in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        PluginDirectory { dir: dir.into() }
    }

    /// The directory searched.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The plugin called `name`, if its file exists.
    pub fn resolve(&self, name: &str) -> Result<Plugin, ScriptError> {
        let path = self.dir.join(format!("{name}.wasm"));
        if path.is_file() {
            return Ok(Plugin {
                name: name.to_string(),
                source: PluginSource::File(path),
                sha256: None,
            });
        }
        Err(ScriptError::new(
            name,
            FailureKind::NotFound,
            format!(
                "no plugin `{name}`: {} does not exist (build the plugin into that directory, or point --plugins at the directory that has it)",
                path.display()
            ),
        ))
    }
}
