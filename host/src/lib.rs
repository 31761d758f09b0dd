//! wasmflow: a BPMN 2.0 workflow engine whose user code runs in WebAssembly sandboxes.
//!
//! The pieces, each in its own module:
//! - [`call`] is the shared vocabulary: what a plugin call is (plugin, limits,
//!   task, request and reply, the executor kinds);
//! - [`bpmn`] parses BPMN XML into process *specs*, with line and column in every error;
//! - [`engine`] runs *instances* of those specs: tasks, states and the step loop;
//! - [`script`] is the *script engine*: the guest ABI, plugin resolution, and what a
//!   script, service or expression call means;
//! - [`executor`] runs plugin calls in a sandbox (in this process with wasmtime);
//! - [`capability`] says what a plugin may touch (nothing unless granted), and
//!   [`manifest`] reads the grants, limits and services declared in `wasmflow.toml`;
//! - [`store`] keeps instances durable (SQLite);
//! - [`cli`] is the `wasmflow` command line.
//!
//! # Example
//! ```no_run
//! use wasmflow::{bpmn, engine::Workflow, script::ScriptEngine, executor::InProcess};
//! use std::sync::Arc;
//!
//! let diagram = bpmn::parse_file("order.bpmn".as_ref())?;
//! let library = Arc::new(bpmn::Library::new(vec![diagram]));
//! let engine = ScriptEngine::new(Arc::new(InProcess::new(Default::default())?), "plugins");
//! let mut workflow = Workflow::start(library, None, serde_json::Map::new())?;
//! workflow.run(&engine);
//! println!("{:?}: {}", workflow.status(), serde_json::Value::Object(workflow.data().clone()));
//! # Ok::<(), anyhow::Error>(())
//! ```

// Errors here carry what a user needs (plugin, message, log); they are the
// cold path, so their size is not worth boxing for.
#![allow(clippy::result_large_err)]

pub mod bpmn;
pub mod call;
pub mod capability;
pub mod cli;
pub mod engine;
pub mod executor;
pub mod manifest;
pub mod script;
pub mod store;
