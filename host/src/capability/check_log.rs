//! The checks of one call, kept within a bound.
//!
//! A plugin can make checks as fast as it can loop (a denied open costs a few
//! microseconds), and every kept check is memory, an audit line and, when
//! denied, a line of the task's error. So a call keeps its first
//! [`CheckLog::KEPT`] checks and counts the rest, which end up as one summary
//! check: memory, the audit file and the error stay bounded whatever the
//! plugin does.

use super::{Capability, Check};

/// The checks made during one call, the first [`CheckLog::KEPT`] of them kept.
#[derive(Debug, Default)]
pub struct CheckLog {
    kept: Vec<Check>,
    omitted: u64,
    omitted_denied: u64,
    /// Who made the last omitted check, and of what kind, for the summary.
    last: Option<(String, Capability)>,
}

impl CheckLog {
    /// How many checks one call keeps.
    pub const KEPT: usize = 100;

    /// Records a check, or counts it once the log is full.
    pub fn push(&mut self, check: Check) {
        if self.kept.len() < Self::KEPT {
            self.kept.push(check);
            return;
        }
        self.omitted += 1;
        self.omitted_denied += u64::from(!check.allowed);
        self.last = Some((check.plugin, check.capability));
    }

    /// Records several checks (a nested call's).
    pub fn extend(&mut self, checks: impl IntoIterator<Item = Check>) {
        for check in checks {
            self.push(check);
        }
    }

    /// The kept checks, then one that says how many more there were, if any.
    pub fn finish(&mut self) -> Vec<Check> {
        let mut checks = std::mem::take(&mut self.kept);
        if let Some((plugin, capability)) = self.last.take() {
            checks.push(Check {
                plugin,
                capability,
                target: "(further checks)".into(),
                allowed: self.omitted_denied == 0,
                detail: format!(
                    "{} more checks of this call ({} of them denied) were counted, not recorded: a call keeps its first {}",
                    self.omitted,
                    self.omitted_denied,
                    Self::KEPT
                ),
                operation: None,
            });
        }
        self.omitted = 0;
        self.omitted_denied = 0;
        checks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_keeps_the_first_checks_and_counts_the_rest() {
        let mut log = CheckLog::default();
        for i in 0..10_000 {
            log.push(Check::denied("p", Capability::Read, format!("/f{i}"), "no grant", "/"));
        }
        let checks = log.finish();
        assert_eq!(checks.len(), CheckLog::KEPT + 1);
        assert_eq!(checks[0].target, "/f0");
        let summary = checks.last().unwrap();
        assert!(!summary.allowed);
        assert!(summary.detail.starts_with("9900 more checks"), "{}", summary.detail);
        assert!(log.finish().is_empty(), "finishing empties the log");
    }
}
