//! The places a plugin call can run.

/// The two executors a plugin call can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExecutorKind {
    /// In this process (`executor::InProcess`).
    InProcess,
    /// In a pool of worker processes (`executor::Subprocess`).
    Subprocess,
}

impl std::fmt::Display for ExecutorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ExecutorKind::InProcess => "in-process",
            ExecutorKind::Subprocess => "subprocess",
        })
    }
}
