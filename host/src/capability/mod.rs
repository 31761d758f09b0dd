//! Capability grants: what a plugin may touch beyond its own memory, and the
//! record of every check made against them.
//!
//! Everything is off unless granted. [`Grants`] is the resolved, plain-data
//! form (absolute directories, network [`Endpoint`]s, variable values, service
//! names) that crosses into executors and worker processes; the manifest and
//! the command line produce it (see [`crate::manifest`]). Stdio is captured by
//! the executor, and clocks and random are allowed (they reveal nothing about
//! the host that a plugin could misuse).
//!
//! Every check the host makes (a file open, a network request, a service call)
//! becomes a [`Check`]: the executor returns them with the call's reply, the
//! script engine appends them to the audit file (`--audit`), and a denied check
//! is added to the task's log and error message, so a denial always names the
//! plugin, what it tried, and the grant that would allow it.

pub mod audit;
mod check_log;
pub mod net;

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use audit::Audit;
pub use check_log::CheckLog;
pub use net::Endpoint;

/// No grants at all, for plugins no manifest entry or flag names.
pub static NO_GRANTS: Grants = Grants {
    dirs: Vec::new(),
    net: Vec::new(),
    env: Vec::new(),
    services: Vec::new(),
    denied: Vec::new(),
};

/// What one plugin is allowed to reach. `Grants::default()` is nothing at all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grants {
    /// Directories, preopened for WASI.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dirs: Vec<DirGrant>,
    /// Network endpoints (`host:port`: a name, an IPv4 address or a bracketed IPv6 address).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub net: Vec<Endpoint>,
    /// Environment variables the plugin sees, with the values they had when granted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvGrant>,
    /// Service operations the plugin may call with `call_service`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    /// Explicit denials (`--deny-…`), kept so that a refusal can say what denied it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denied: Vec<Denial>,
}

/// An explicit denial, by the flag that made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Denial {
    /// `--deny-read`: every directory grant overlapping this path withdrawn.
    Read(PathBuf),
    /// `--deny-write`: write access withdrawn from grants overlapping this path.
    Write(PathBuf),
    /// `--deny-net`: this endpoint refused, as a URL's host or a resolved address.
    Net(Endpoint),
    /// `--deny-env`: this variable withdrawn.
    Env(String),
}

impl Denial {
    /// The flag that makes this denial.
    pub fn flag(&self) -> &'static str {
        match self {
            Denial::Read(_) => "--deny-read",
            Denial::Write(_) => "--deny-write",
            Denial::Net(_) => "--deny-net",
            Denial::Env(_) => "--deny-env",
        }
    }
}

impl std::fmt::Display for Denial {
    /// What is denied and by which flag: `/data (--deny-read)`, `api.example.com:443 (--deny-net)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Denial::Read(path) | Denial::Write(path) => write!(f, "{} ({})", path.display(), self.flag()),
            Denial::Net(endpoint) => write!(f, "{endpoint} ({})", self.flag()),
            Denial::Env(name) => write!(f, "{name} ({})", self.flag()),
        }
    }
}

/// One granted directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirGrant {
    /// The directory on the host (absolute, symlinks resolved).
    pub host: PathBuf,
    /// Where the plugin sees it: `/data` for a grant written `./data`, the
    /// absolute path for one written absolute.
    pub guest: String,
    /// Read-write (`allow_write`) rather than read-only (`allow_read`).
    pub write: bool,
    /// Which directory it was when granted. Executors open each grant once
    /// and keep the handle; a grant whose path has since come to name another
    /// directory (renamed away, replaced by a symlink) is refused rather than
    /// followed. `None` only for grants made where identities are unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<DirIdentity>,
}

/// A directory's identity on the host: its device and inode numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DirIdentity {
    /// The device it is on.
    pub device: u64,
    /// Its inode on that device.
    pub inode: u64,
}

impl DirIdentity {
    /// The identity of what `metadata` describes (`None` off Unix).
    pub fn of(metadata: &std::fs::Metadata) -> Option<DirIdentity> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Some(DirIdentity {
                device: metadata.dev(),
                inode: metadata.ino(),
            })
        }
        #[cfg(not(unix))]
        {
            let _ = metadata;
            None
        }
    }
}

/// One granted environment variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvGrant {
    /// Its name.
    pub name: String,
    /// Its value in the host's environment when the grant was made; `None` if unset there.
    pub value: Option<String>,
}

impl Grants {
    /// No capabilities: the sandbox default.
    pub fn none() -> Self {
        Grants::default()
    }

    /// Whether the plugin may call the service `operation`.
    pub fn allows_service(&self, operation: &str) -> bool {
        self.services.iter().any(|s| s == operation)
    }

    /// Grants a directory, written as the operator wrote it and resolved
    /// against `base` (the manifest's directory, or the current directory for
    /// the command line). It must exist. Granting write to a directory already
    /// granted read-only upgrades that grant.
    pub fn allow_dir(&mut self, written: &str, base: &Path, write: bool) -> Result<(), String> {
        let host = resolve_dir(written, base)?;
        let guest = guest_path(written, &host);
        if let Some(existing) = self.dirs.iter_mut().find(|d| d.host == host || d.guest == guest) {
            if existing.host != host {
                return Err(format!(
                    "`{written}` would appear to plugins as {guest}, which another grant ({}) already uses",
                    existing.host.display()
                ));
            }
            existing.write |= write;
            return Ok(());
        }
        let identity = std::fs::metadata(&host).ok().as_ref().and_then(DirIdentity::of);
        self.dirs.push(DirGrant {
            host,
            guest,
            write,
            identity,
        });
        Ok(())
    }

    /// Grants a network endpoint `host:port`.
    pub fn allow_net(&mut self, endpoint: &str) -> Result<(), String> {
        let endpoint: Endpoint = endpoint.parse()?;
        if !self.net.contains(&endpoint) {
            self.net.push(endpoint);
        }
        Ok(())
    }

    /// Grants an environment variable, with its current value in this process's environment.
    pub fn allow_env(&mut self, name: &str) -> Result<(), String> {
        if name.is_empty() || name.contains('=') || name.contains('\0') {
            return Err(format!("`{name}` is not an environment variable name"));
        }
        if !self.env.iter().any(|e| e.name == name) {
            self.env.push(EnvGrant {
                name: name.to_string(),
                value: std::env::var(name).ok(),
            });
        }
        Ok(())
    }

    /// Grants calling the service `operation`.
    pub fn allow_service(&mut self, operation: &str) -> Result<(), String> {
        if operation.trim().is_empty() {
            return Err("a service name cannot be empty".into());
        }
        if !self.allows_service(operation) {
            self.services.push(operation.to_string());
        }
        Ok(())
    }

    /// Removes directory grants that overlap `written`. A preopen cannot have
    /// a hole in it, so a denied path inside a granted directory withdraws the
    /// whole grant: a deny always wins, even at the cost of more than it names.
    /// `write_only` withdraws only write access (`--deny-write`).
    pub fn deny_dir(&mut self, written: &str, base: &Path, write_only: bool) -> Result<(), String> {
        let path = base.join(written);
        let denied = std::fs::canonicalize(&path).unwrap_or_else(|_| normalize(&path));
        let overlaps = |d: &DirGrant| d.host.starts_with(&denied) || denied.starts_with(&d.host);
        if write_only {
            for dir in self.dirs.iter_mut().filter(|d| d.write && overlaps(d)) {
                dir.write = false;
            }
        } else {
            self.dirs.retain(|d| !overlaps(d));
        }
        self.denied.push(if write_only {
            Denial::Write(denied)
        } else {
            Denial::Read(denied)
        });
        Ok(())
    }

    /// Withdraws a network endpoint (and refuses it even if a name resolves to it).
    pub fn deny_net(&mut self, endpoint: &str) -> Result<(), String> {
        let endpoint: Endpoint = endpoint.parse()?;
        self.net.retain(|e| *e != endpoint);
        self.denied.push(Denial::Net(endpoint));
        Ok(())
    }

    /// Withdraws an environment variable.
    pub fn deny_env(&mut self, name: &str) -> Result<(), String> {
        self.env.retain(|e| e.name != name);
        self.denied.push(Denial::Env(name.to_string()));
        Ok(())
    }

    /// The explicit denials as one list for messages, e.g.
    /// `/data (--deny-read), api.example.com:443 (--deny-net)`.
    pub fn withdrawn(&self) -> String {
        let denials: Vec<String> = self.denied.iter().map(ToString::to_string).collect();
        denials.join(", ")
    }

    /// The endpoints withdrawn with `--deny-net` (the net capability matches
    /// them against names and resolved addresses).
    pub fn denied_net(&self) -> impl Iterator<Item = &Endpoint> {
        self.denied.iter().filter_map(|d| match d {
            Denial::Net(endpoint) => Some(endpoint),
            _ => None,
        })
    }

    /// The directory grant a guest path falls under, if any (the longest match).
    pub fn dir_for(&self, guest: &str) -> Option<&DirGrant> {
        self.dirs
            .iter()
            .filter(|d| {
                guest == d.guest
                    || guest
                        .strip_prefix(d.guest.as_str())
                        .is_some_and(|rest| rest.starts_with('/') || d.guest == "/")
            })
            .max_by_key(|d| d.guest.len())
    }
}

/// A granted directory on the host: absolute, symlinks resolved, and existing.
fn resolve_dir(written: &str, base: &Path) -> Result<PathBuf, String> {
    if written.trim().is_empty() {
        return Err("a directory grant cannot be empty".into());
    }
    let path = base.join(written);
    let host = std::fs::canonicalize(&path).map_err(|e| format!("cannot grant {}: {e}", path.display()))?;
    if !host.is_dir() {
        return Err(format!("cannot grant {}: not a directory", path.display()));
    }
    Ok(host)
}

/// Where a plugin sees a granted directory: a relative grant (`./data`) at
/// `/data`, an absolute one (or one that climbs out with `..`) at its absolute path.
fn guest_path(written: &str, host: &Path) -> String {
    let relative = Path::new(written);
    if relative.is_relative()
        && relative
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        let parts: Vec<String> = relative
            .components()
            .filter_map(|c| match c {
                Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect();
        if !parts.is_empty() {
            return format!("/{}", parts.join("/"));
        }
    }
    host.to_string_lossy().into_owned()
}

/// A path with `.` and `..` removed lexically (for denials of paths that do not exist).
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The kind of capability a check is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Opening a file or directory for reading.
    Read,
    /// Opening a file for writing, or creating one.
    Write,
    /// A network request (each redirect hop is its own check).
    Net,
    /// Calling another service.
    Service,
}

impl Capability {
    /// The manifest key that grants it.
    pub fn manifest_key(self) -> &'static str {
        match self {
            Capability::Read => "allow_read",
            Capability::Write => "allow_write",
            Capability::Net => "allow_net",
            Capability::Service => "allow_services",
        }
    }

    /// The command-line flag that grants it for one run, if there is one.
    pub fn flag(self) -> Option<&'static str> {
        match self {
            Capability::Read => Some("--allow-read"),
            Capability::Write => Some("--allow-write"),
            Capability::Net => Some("--allow-net"),
            Capability::Service => None,
        }
    }
}

/// One capability check: who asked for what, and the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// The plugin that asked.
    pub plugin: String,
    /// What kind of access.
    pub capability: Capability,
    /// What it tried to reach: a path as the plugin saw it, a URL, an operation name.
    pub target: String,
    /// The answer.
    pub allowed: bool,
    /// For an allowed check, the grant that allowed it; for a denial, why, and
    /// the grant that would allow it.
    pub detail: String,
    /// For file checks other than opens, the operation (`mkdir`, `unlink`,
    /// `rename`, `symlink`, `link`, `rmdir`, `set_times`, `stat`, `readlink`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
}

impl Check {
    /// An allowed check.
    pub fn allowed(plugin: &str, capability: Capability, target: impl Into<String>, grant: impl Into<String>) -> Check {
        Check {
            plugin: plugin.to_string(),
            capability,
            target: target.into(),
            allowed: true,
            detail: grant.into(),
            operation: None,
        }
    }

    /// A denial that no grant can lift (a FIFO, a symlink pointing out of its grant).
    pub fn refused(plugin: &str, capability: Capability, target: impl Into<String>, why: impl Into<String>) -> Check {
        Check {
            plugin: plugin.to_string(),
            capability,
            target: target.into(),
            allowed: false,
            detail: why.into(),
            operation: None,
        }
    }

    /// The same check, about the file operation `operation`.
    pub fn for_operation(mut self, operation: &str) -> Check {
        self.operation = Some(operation.to_string());
        self
    }

    /// A denial; `why` says what is missing, `remedy` the grant that would allow it
    /// (as a manifest value, e.g. `"/data"` for `allow_read` or `"api.example.com:443"`).
    pub fn denied(
        plugin: &str,
        capability: Capability,
        target: impl Into<String>,
        why: impl AsRef<str>,
        remedy: impl AsRef<str>,
    ) -> Check {
        let remedy = remedy.as_ref();
        let key = capability.manifest_key();
        let how = match capability.flag() {
            Some(flag) => format!(
                "`{key} = [\"{remedy}\"]` under [plugins.{plugin}] in wasmflow.toml, or `{flag} {plugin}={remedy}` for one run"
            ),
            None => format!("`{key} = [\"{remedy}\"]` under [plugins.{plugin}] in wasmflow.toml"),
        };
        Check {
            plugin: plugin.to_string(),
            capability,
            target: target.into(),
            allowed: false,
            detail: format!("{}; to allow it, grant {how}", why.as_ref()),
            operation: None,
        }
    }

    /// The denial as one sentence for logs and error messages.
    pub fn describe(&self) -> String {
        let verb = match (self.capability, self.operation.as_deref()) {
            (_, Some(operation)) => operation,
            (capability, _) => match capability {
                Capability::Read => "read",
                Capability::Write => "write",
                Capability::Net => "reach",
                Capability::Service => "call the service",
            },
        };
        let answer = if self.allowed { "allowed" } else { "denied" };
        // The target is what the plugin asked for: keep its bytes off the terminal.
        format!(
            "{answer}: plugin `{}` tried to {verb} {}: {}",
            self.plugin,
            crate::call::escape_controls(&self.target),
            self.detail
        )
    }
}
