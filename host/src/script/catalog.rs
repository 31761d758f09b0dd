//! The catalog: every plugin a run may call, with its grants, limits and
//! configuration, and which plugin implements each service operation.
//!
//! It is plain data (the manifest and the command line fill it) so that it can
//! travel to worker processes, which need it when a plugin calls a service.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::plugin::PluginDirectory;
use crate::call::{ExecutorKind, Limits, PYTHON, Plugin, PluginSource};
use crate::call::{FailureKind, ScriptError};
use crate::capability::{Grants, NO_GRANTS};

/// Plugins by name, services by operation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    /// Where plugins not declared in the manifest are found (`NAME.wasm`); they have no grants.
    pub plugin_dir: PathBuf,
    /// Limits for plugins whose entry sets none.
    pub limits: Limits,
    /// Declared plugins (the manifest), and plugins given grants on the command line.
    #[serde(default)]
    pub plugins: BTreeMap<String, Entry>,
    /// Operation name → the plugin that implements it.
    #[serde(default)]
    pub services: BTreeMap<String, String>,
}

/// What the catalog knows about one plugin.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Its module; `None` for the built-in interpreter or a plugin from the plugin directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<PathBuf>,
    /// The SHA-256 the module must have (lower-case hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// What it may reach.
    #[serde(default)]
    pub grants: Grants,
    /// Its limits, when they differ from the run's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// The BPMN error code its ordinary failures throw instead of failing the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_error: Option<String>,
    /// Static configuration passed as the request's `config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Value>,
    /// Where its calls run, when not where the run's other calls do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<ExecutorKind>,
}

/// A plugin ready to call: the module and the rules it runs under.
#[derive(Debug, Clone)]
pub struct Binding<'a> {
    /// The plugin.
    pub plugin: Plugin,
    /// Its grants.
    pub grants: &'a Grants,
    /// Its limits.
    pub limits: Limits,
    /// Its manifest configuration.
    pub config: Option<&'a Value>,
    /// The BPMN error its ordinary failures become.
    pub on_error: Option<&'a str>,
    /// Where its calls run, if the manifest says.
    pub executor: Option<ExecutorKind>,
}

impl Catalog {
    /// A catalog with only a plugin directory, default limits and no grants.
    pub fn new(plugin_dir: impl Into<PathBuf>) -> Catalog {
        Catalog {
            plugin_dir: plugin_dir.into(),
            ..Catalog::default()
        }
    }

    /// The entry for `name`, created empty if the catalog has none (for command-line grants).
    pub fn entry_mut(&mut self, name: &str) -> &mut Entry {
        self.plugins.entry(name.to_string()).or_default()
    }

    /// The plugin called `name`: declared in the manifest, the built-in
    /// interpreter, or `NAME.wasm` in the plugin directory.
    pub fn plugin(&self, name: &str) -> Result<Binding<'_>, ScriptError> {
        let entry = self.plugins.get(name);
        let plugin = match entry.and_then(|e| e.module.as_ref()) {
            Some(module) => Plugin {
                name: name.to_string(),
                source: PluginSource::File(module.clone()),
                sha256: entry.and_then(|e| e.sha256.clone()),
            },
            None if name == PYTHON => Plugin::python(),
            None => {
                let mut plugin = PluginDirectory::new(&self.plugin_dir).resolve(name)?;
                plugin.sha256 = entry.and_then(|e| e.sha256.clone());
                plugin
            }
        };
        Ok(Binding {
            plugin,
            grants: entry.map_or(&NO_GRANTS, |e| &e.grants),
            limits: entry.and_then(|e| e.limits).unwrap_or(self.limits),
            config: entry.and_then(|e| e.config.as_ref()),
            on_error: entry.and_then(|e| e.on_error.as_deref()),
            executor: entry.and_then(|e| e.executor),
        })
    }

    /// The plugin implementing the service `operation`: the one whose manifest
    /// `services` lists it, else a plugin named like the operation.
    pub fn service(&self, operation: &str) -> Result<Binding<'_>, ScriptError> {
        match self.services.get(operation) {
            Some(owner) => self.plugin(owner),
            None => self.plugin(operation).map_err(|mut error| {
                if error.kind == FailureKind::NotFound {
                    error.message = format!(
                        "no plugin implements the service `{operation}`: declare it in wasmflow.toml \
                         (`services = [\"{operation}\"]` under the plugin that implements it), or put \
                         {operation}.wasm in the plugin directory {}",
                        self.plugin_dir.display()
                    );
                }
                error
            }),
        }
    }

    /// The executors the entries ask for.
    pub fn executors(&self) -> impl Iterator<Item = ExecutorKind> + '_ {
        self.plugins.values().filter_map(|e| e.executor)
    }

    /// The largest memory limit any plugin may be given (to size the executor).
    pub fn max_memory(&self) -> usize {
        self.plugins
            .values()
            .filter_map(|e| e.limits.map(|l| l.memory))
            .fold(self.limits.memory, usize::max)
    }
}
