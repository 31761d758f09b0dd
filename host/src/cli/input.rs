//! Reading JSON given on the command line (`JSON` or `@FILE`) and loading diagrams.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use serde_json::{Map, Value};

use crate::bpmn::{self, Diagnostic, Library};

/// Parses `JSON` or reads `@FILE`; `what` names the option in errors.
pub fn json_arg(text: &str, what: &str) -> anyhow::Result<Value> {
    let (text, origin) = match text.strip_prefix('@') {
        Some(path) => (
            std::fs::read_to_string(path).with_context(|| format!("{what}: cannot read {path}"))?,
            format!("{what} file {path}"),
        ),
        None => (text.to_string(), what.to_string()),
    };
    serde_json::from_str(&text).with_context(|| format!("{origin} is not valid JSON"))
}

/// Like [`json_arg`], but the value must be an object.
pub fn object_arg(text: &str, what: &str) -> anyhow::Result<Map<String, Value>> {
    match json_arg(text, what)? {
        Value::Object(object) => Ok(object),
        other => bail!("{what} must be a JSON object, not {}", kind_of(&other)),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A diagram as read: its name (the path given) and its text.
pub struct Source {
    pub name: String,
    pub xml: String,
}

/// Parses every file, collecting every problem of every file; returns the
/// library and the files' texts (a store keeps those).
pub fn load(files: &[PathBuf]) -> Result<(Arc<Library>, Vec<Source>), Vec<Diagnostic>> {
    let mut diagrams = Vec::new();
    let mut sources = Vec::new();
    let mut problems = Vec::new();
    for file in files {
        let parsed = match std::fs::read_to_string(file) {
            Ok(xml) => {
                let parsed = bpmn::parse_str(file, &xml);
                sources.push(Source {
                    name: file.display().to_string(),
                    xml,
                });
                parsed
            }
            // Unreadable or not UTF-8: the parser words those problems.
            Err(_) => bpmn::parse_file(file),
        };
        match parsed {
            Ok(diagram) => diagrams.push(diagram),
            Err(diagnostics) => problems.extend(diagnostics.0),
        }
    }
    if problems.is_empty() {
        Ok((Arc::new(Library::new(diagrams)), sources))
    } else {
        Err(problems)
    }
}
