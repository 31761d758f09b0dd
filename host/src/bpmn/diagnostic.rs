//! What the parser reports when a diagram cannot be used.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::spec::Position;

/// One problem found in a diagram, pointing at the element that has it.
///
/// Displays as `FILE:LINE:COLUMN: ELEMENT_ID: MESSAGE` (without `ELEMENT_ID: `
/// when the problem belongs to no identified element), the form editors and
/// terminals turn into a link to the line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The file, as given by the user.
    pub file: PathBuf,
    /// Where the offending element starts (`0:0` only when the file could not be read).
    pub position: Position,
    /// The id of the offending element, when it has one.
    pub element: Option<String>,
    /// What is wrong, and when it helps, what to do about it.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file.display(), self.position)?;
        if let Some(element) = &self.element {
            write!(f, "{element}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}

/// All the problems found in one file (never empty), in document order
/// within each kind of check.
///
/// Displays as one [`Diagnostic`] per line.
#[derive(Debug, Clone)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// The individual problems.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Collects the diagnostics of one parse.
pub(super) struct Reporter {
    file: PathBuf,
    pub(super) found: Vec<Diagnostic>,
}

impl Reporter {
    pub(super) fn new(file: &Path) -> Self {
        Reporter {
            file: file.to_owned(),
            found: Vec::new(),
        }
    }

    /// A diagnostic for this file, not recorded.
    pub(super) fn diagnostic(
        &self,
        position: Position,
        element: Option<&str>,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            file: self.file.clone(),
            position,
            element: element.map(str::to_owned),
            message: message.into(),
        }
    }

    /// Records a diagnostic.
    pub(super) fn report(&mut self, position: Position, element: Option<&str>, message: impl Into<String>) {
        let d = self.diagnostic(position, element, message);
        self.found.push(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display() {
        let d = Diagnostic {
            file: "a/b.bpmn".into(),
            position: Position { line: 3, column: 7 },
            element: Some("Gateway_1".into()),
            message: "gateway has no outgoing sequence flow: there is no way out".into(),
        };
        assert_eq!(
            d.to_string(),
            "a/b.bpmn:3:7: Gateway_1: gateway has no outgoing sequence flow: there is no way out"
        );
        let e = Diagnostic {
            element: None,
            message: "no process in this file".into(),
            ..d.clone()
        };
        assert_eq!(e.to_string(), "a/b.bpmn:3:7: no process in this file");
        assert_eq!(
            Diagnostics(vec![d.clone(), e]).to_string(),
            format!("{d}\na/b.bpmn:3:7: no process in this file")
        );
    }
}
