//! The manifest, `wasmflow.toml`: which plugins a workflow uses, what each may
//! reach, and its limits.
//!
//! ```toml
//! [plugins.read_file]
//! module = "plugins/read_file.wasm"   # relative to the manifest
//! sha256 = "…"                        # optional pin; a mismatch refuses to run
//! services = ["read_file"]            # operation names this plugin implements
//! allow_read = ["./data"]             # relative to the manifest; seen by the plugin as /data
//! allow_write = []
//! allow_net = ["127.0.0.1:8080"]
//! allow_env = ["API_KEY"]
//! allow_services = ["lookup_product_info"]
//! limits = { memory = "64MiB", timeout = "10s" }
//! on_error = "service_unavailable"    # ordinary failures throw this BPMN error instead
//! config = { currency = "EUR" }       # passed to the plugin as the request's `config`
//! executor = "subprocess"             # run its calls in worker processes, whatever --executor says
//! ```
//!
//! `[plugins.python]` (no `module`) configures the built-in interpreter that runs
//! inline scripts and expressions, e.g. to let scripts call services.
//!
//! ```toml
//! [run]
//! abstract_tasks = "wait"   # plain bpmn:tasks wait to be completed, as in SpiffWorkflow
//! ```
//! Unknown keys are errors, and every error names the file, line and column.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use toml::Spanned;

use crate::capability::Grants;
use crate::engine::AbstractTasks;
use crate::executor::Kind;
use crate::script::{Catalog, PYTHON, parse_duration, parse_size};

/// The file name looked for next to a diagram.
pub const FILE_NAME: &str = "wasmflow.toml";

/// A problem in a manifest, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    /// The manifest file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong, and what to do.
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

/// All the problems found in one manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestErrors(pub Vec<ManifestError>);

impl fmt::Display for ManifestErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ManifestErrors {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[serde(default)]
    plugins: BTreeMap<Spanned<String>, Spanned<RawPlugin>>,
    run: Option<RawRun>,
}

/// `[run]`: how the instances of the workflow run.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRun {
    abstract_tasks: Option<Spanned<Parsed<AbstractTasks>>>,
}

/// What the manifest's `[run]` table says about how instances run; what it
/// leaves out is `None` (the command line's choice, else the default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSettings {
    /// `abstract_tasks = "wait"` or `"pass"`: whether plain `bpmn:task`s
    /// wait to be completed, as SpiffWorkflow runs them, or pass through.
    pub abstract_tasks: Option<AbstractTasks>,
}

impl FromManifest for AbstractTasks {
    fn parse(text: &str) -> Result<Self, String> {
        text.parse()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlugin {
    module: Option<Spanned<String>>,
    sha256: Option<Spanned<String>>,
    #[serde(default)]
    services: Vec<Spanned<String>>,
    #[serde(default)]
    allow_read: Vec<Spanned<String>>,
    #[serde(default)]
    allow_write: Vec<Spanned<String>>,
    #[serde(default)]
    allow_net: Vec<Spanned<String>>,
    #[serde(default)]
    allow_env: Vec<Spanned<String>>,
    #[serde(default)]
    allow_services: Vec<Spanned<String>>,
    limits: Option<Spanned<RawLimits>>,
    on_error: Option<Spanned<String>>,
    config: Option<toml::Value>,
    executor: Option<Spanned<Parsed<Kind>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    memory: Option<Spanned<Parsed<Size>>>,
    timeout: Option<Spanned<Parsed<Timeout>>>,
    response: Option<Spanned<Parsed<Size>>>,
    request: Option<Spanned<Parsed<Size>>>,
}

/// A value the manifest writes as a string, parsed into its type while the file
/// is read. A malformed value is kept as its message rather than failing the
/// read, so every problem in the file is reported with its position, not just
/// the first.
struct Parsed<T>(Result<T, String>);

/// How a [`Parsed`] value is read from its string.
trait FromManifest: Sized {
    fn parse(text: &str) -> Result<Self, String>;
}

/// A size such as `32MiB` ([`parse_size`]).
struct Size(usize);

/// A duration such as `2s` ([`parse_duration`]).
struct Timeout(Duration);

impl FromManifest for Size {
    fn parse(text: &str) -> Result<Self, String> {
        parse_size(text).map(Size)
    }
}

impl FromManifest for Timeout {
    fn parse(text: &str) -> Result<Self, String> {
        parse_duration(text).map(Timeout)
    }
}

/// Spelled as on the command line (`--executor`).
impl FromManifest for Kind {
    fn parse(text: &str) -> Result<Self, String> {
        <Kind as clap::ValueEnum>::from_str(text, false)
            .map_err(|_| format!("executor `{text}`: write \"in-process\" or \"subprocess\""))
    }
}

impl<'de, T: FromManifest> Deserialize<'de> for Parsed<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(Parsed(T::parse(&text)))
    }
}

/// Reads a manifest and adds its plugins to `catalog` (whose plugin directory and
/// default limits are already set). Every problem is reported, not just the first.
pub fn load(path: &Path, catalog: &mut Catalog) -> Result<(), ManifestErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ManifestErrors(vec![ManifestError {
            file: path.to_path_buf(),
            line: 1,
            column: 1,
            message: format!("cannot read the manifest: {e}"),
        }])
    })?;
    parse(path, &text, catalog)
}

/// The `[run]` settings of the manifest at `path` (its plugins are read by [`load`]).
pub fn run_settings(path: &Path) -> Result<RunSettings, ManifestErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ManifestErrors(vec![ManifestError {
            file: path.to_path_buf(),
            line: 1,
            column: 1,
            message: format!("cannot read the manifest: {e}"),
        }])
    })?;
    let mut errors = Errors {
        file: path,
        text: &text,
        list: Vec::new(),
    };
    let raw: RawManifest = match toml::from_str(&text) {
        Ok(raw) => raw,
        Err(error) => {
            errors.add(error.span().unwrap_or(0..0), error.message().to_string());
            return Err(ManifestErrors(errors.list));
        }
    };
    let mut settings = RunSettings::default();
    if let Some(abstract_tasks) = raw.run.and_then(|r| r.abstract_tasks) {
        let span = abstract_tasks.span();
        match abstract_tasks.into_inner().0 {
            Ok(mode) => settings.abstract_tasks = Some(mode),
            Err(message) => {
                errors.add(span, format!("[run] abstract_tasks: {message}"));
                return Err(ManifestErrors(errors.list));
            }
        }
    }
    Ok(settings)
}

/// Parses manifest text as if read from `path` (relative paths resolve against its directory).
pub fn parse(path: &Path, text: &str, catalog: &mut Catalog) -> Result<(), ManifestErrors> {
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let base = if base.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        base
    };
    let mut errors = Errors {
        file: path,
        text,
        list: Vec::new(),
    };
    let raw: RawManifest = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(error) => {
            let span = error.span().unwrap_or(0..0);
            errors.add(span, error.message().to_string());
            return Err(ManifestErrors(errors.list));
        }
    };
    if let Some(Err(message)) = raw
        .run
        .as_ref()
        .and_then(|r| r.abstract_tasks.as_ref())
        .map(|a| &a.get_ref().0)
    {
        let span = raw
            .run
            .as_ref()
            .and_then(|r| r.abstract_tasks.as_ref())
            .map_or(0..0, |a| a.span());
        errors.add(span, format!("[run] abstract_tasks: {message}"));
    }
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    for (name, plugin) in raw.plugins {
        let span = name.span();
        let name = name.into_inner();
        let plugin_span = plugin.span();
        let plugin = plugin.into_inner();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            errors.add(
                span.clone(),
                format!("`{name}` is not a plugin name (letters, digits, `_`, `-`, `.`)"),
            );
        }
        let mut entry = catalog.plugins.remove(&name).unwrap_or_default();
        match (&plugin.module, name == PYTHON) {
            (Some(module), true) => errors.add(
                module.span(),
                "`python` is the built-in interpreter: configure its grants and limits here, but it takes no `module`"
                    .into(),
            ),
            (Some(module), false) => {
                let file = base.join(module.get_ref());
                if !file.is_file() {
                    errors.add(
                        module.span(),
                        format!("[plugins.{name}] module: {} does not exist", file.display()),
                    );
                }
                entry.module = Some(file);
            }
            (None, true) => {}
            (None, false) => errors.add(
                plugin_span.clone(),
                format!("[plugins.{name}] needs `module = \"path/to/{name}.wasm\"` (relative to the manifest)"),
            ),
        }
        if let Some(sha) = &plugin.sha256 {
            let hex = sha.get_ref().trim().to_ascii_lowercase();
            if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                errors.add(
                    sha.span(),
                    "sha256 must be 64 hexadecimal digits (e.g. from `sha256sum`)".into(),
                );
            }
            entry.sha256 = Some(hex);
        }
        for service in &plugin.services {
            let operation = service.get_ref();
            if let Some(owner) = owners.get(operation)
                && *owner != name
            {
                errors.add(
                    service.span(),
                    format!("service `{operation}` is already implemented by [plugins.{owner}]"),
                );
            }
            owners.insert(operation.clone(), name.clone());
        }
        let grants = &mut entry.grants;
        let mut grant = |list: &[Spanned<String>], apply: &mut dyn FnMut(&mut Grants, &str) -> Result<(), String>| {
            for item in list {
                if let Err(message) = apply(grants, item.get_ref()) {
                    errors.add(item.span(), message);
                }
            }
        };
        grant(&plugin.allow_read, &mut |g, v| g.allow_dir(v, &base, false));
        grant(&plugin.allow_write, &mut |g, v| g.allow_dir(v, &base, true));
        grant(&plugin.allow_net, &mut |g, v| g.allow_net(v));
        grant(&plugin.allow_env, &mut |g, v| g.allow_env(v));
        grant(&plugin.allow_services, &mut |g, v| g.allow_service(v));
        if let Some(limits) = &plugin.limits {
            let mut resolved = entry.limits.unwrap_or(catalog.limits);
            let raw = limits.get_ref();
            if let Some(memory) = &raw.memory {
                match &memory.get_ref().0 {
                    Ok(Size(bytes)) => resolved.memory = *bytes,
                    Err(e) => errors.add(memory.span(), format!("limits.memory: {e}")),
                }
            }
            if let Some(timeout) = &raw.timeout {
                match &timeout.get_ref().0 {
                    Ok(Timeout(duration)) => resolved.timeout = *duration,
                    Err(e) => errors.add(timeout.span(), format!("limits.timeout: {e}")),
                }
            }
            if let Some(response) = &raw.response {
                match &response.get_ref().0 {
                    Ok(Size(bytes)) => resolved.response = *bytes,
                    Err(e) => errors.add(response.span(), format!("limits.response: {e}")),
                }
            }
            if let Some(request) = &raw.request {
                match &request.get_ref().0 {
                    Ok(Size(bytes)) => resolved.request = *bytes,
                    Err(e) => errors.add(request.span(), format!("limits.request: {e}")),
                }
            }
            entry.limits = Some(resolved);
        }
        if let Some(code) = &plugin.on_error {
            if code.get_ref().trim().is_empty() {
                errors.add(
                    code.span(),
                    "on_error names the BPMN error code to throw; it cannot be empty".into(),
                );
            }
            entry.on_error = Some(code.get_ref().clone());
        }
        if let Some(executor) = &plugin.executor {
            match &executor.get_ref().0 {
                Ok(kind) => entry.executor = Some(*kind),
                Err(e) => errors.add(executor.span(), e.clone()),
            }
        }
        if let Some(config) = plugin.config {
            entry.config = Some(serde_json::to_value(config).unwrap_or(Value::Null));
        }
        catalog.plugins.insert(name, entry);
    }
    for (operation, owner) in owners {
        catalog.services.insert(operation, owner);
    }
    if errors.list.is_empty() {
        Ok(())
    } else {
        Err(ManifestErrors(errors.list))
    }
}

/// The manifest for a run: `explicit` if given, else `wasmflow.toml` next to
/// the first diagram, if there is one.
pub fn find(explicit: Option<&Path>, first_diagram: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_path_buf());
    }
    let dir = first_diagram?.parent()?;
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let candidate = dir.join(FILE_NAME);
    candidate.is_file().then_some(candidate)
}

struct Errors<'a> {
    file: &'a Path,
    text: &'a str,
    list: Vec<ManifestError>,
}

impl Errors<'_> {
    fn add(&mut self, span: Range<usize>, message: String) {
        let offset = span.start.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        self.list.push(ManifestError {
            file: self.file.to_path_buf(),
            line,
            column,
            message,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<Catalog, ManifestErrors> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        std::fs::write(dir.path().join("p.wasm"), b"\0asm").unwrap();
        let mut catalog = Catalog::new("plugins");
        parse(&dir.path().join(FILE_NAME), text, &mut catalog).map(|()| catalog)
    }

    #[test]
    fn a_full_entry_resolves() {
        let catalog = parse_text(
            r#"
[plugins.p]
module = "p.wasm"
services = ["op"]
allow_read = ["./data"]
allow_net = ["Example.com:443"]
allow_services = ["other"]
limits = { memory = "32MiB", timeout = "2s" }
on_error = "unavailable"
config = { currency = "EUR" }
"#,
        )
        .unwrap();
        let entry = &catalog.plugins["p"];
        assert!(entry.module.as_ref().unwrap().ends_with("p.wasm"));
        assert_eq!(entry.grants.dirs[0].guest, "/data");
        assert!(!entry.grants.dirs[0].write);
        assert_eq!(entry.grants.net, vec!["example.com:443".parse().unwrap()]);
        assert_eq!(entry.grants.services, vec!["other"]);
        assert_eq!(entry.limits.unwrap().memory, 32 << 20);
        assert_eq!(entry.on_error.as_deref(), Some("unavailable"));
        assert_eq!(entry.config, Some(serde_json::json!({"currency": "EUR"})));
        assert_eq!(catalog.services["op"], "p");
    }

    #[test]
    fn problems_name_the_line() {
        let errors = parse_text("[plugins.p]\nmodule = \"p.wasm\"\nallow_reed = [\"data\"]\n").unwrap_err();
        assert_eq!(errors.0.len(), 1);
        assert_eq!((errors.0[0].line, errors.0[0].column), (3, 1), "{errors}");
        assert!(errors.0[0].message.contains("allow_reed"), "{errors}");

        let errors = parse_text(
            "[plugins.p]\nmodule = \"missing.wasm\"\nallow_read = [\"nope\"]\nallow_net = [\"no-port\"]\nlimits = { memory = \"lots\" }\n",
        )
        .unwrap_err();
        let lines: Vec<usize> = errors.0.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5], "{errors}");
        assert!(errors.to_string().contains("missing.wasm does not exist"), "{errors}");

        let errors = parse_text("[plugins.p]\nmodule = \"p.wasm\"\n[plugins.q]\nmodule = \"p.wasm\"\nservices = [\"x\"]\n[plugins.p2]\nmodule = \"p.wasm\"\nservices = [\"x\"]\n").unwrap_err();
        assert!(
            errors.to_string().contains("is already implemented by [plugins."),
            "{errors}"
        );

        let errors = parse_text("[plugins.python]\nmodule = \"p.wasm\"\n").unwrap_err();
        assert!(errors.to_string().contains("built-in interpreter"), "{errors}");
        assert!(parse_text("[plugins.python]\nallow_services = [\"x\"]\n").is_ok());
        let errors = parse_text("[plugins.p]\nsha256 = \"abc\"\nmodule = \"p.wasm\"\n").unwrap_err();
        assert!(errors.to_string().contains("64 hexadecimal"), "{errors}");
    }
}
