//! BPMN 2.0 diagrams → process specs.
//!
//! [`parse_file`] and [`parse_str`] read BPMN XML as produced by Camunda
//! Modeler, bpmn.io or SpiffArena and return a [`Diagram`] of validated
//! [`ProcessSpec`]s. Everything wrong with a file comes back at once as
//! [`Diagnostics`], each pointing at the line and column of the element at
//! fault (`FILE:LINE:COLUMN: ELEMENT_ID: MESSAGE`).
//!
//! What the parser accepts:
//! - Elements are matched by namespace URI
//!   (`http://www.omg.org/spec/BPMN/20100524/MODEL`), never by prefix:
//!   `bpmn:`, `semantic:` and default-namespace files read the same.
//! - Diagram interchange (`bpmndi`), vendor extensions (`camunda:`,
//!   `spiffworkflow:`), documentation, lanes, data and artifacts are ignored.
//!   Flow elements the engine cannot run (service tasks, boundary and
//!   intermediate events, event subprocesses, loop characteristics, ...) are
//!   reported, never silently skipped.
//! - Script tasks: `scriptFormat="wasm"` makes the script body a plugin name
//!   (a bare file name, `.wasm` optional); no scriptFormat, `python`,
//!   `starlark` or `text/x-python` make it inline code, dedented like Python's
//!   `textwrap.dedent`, with the file line where the code starts.
//! - XML that is not well-formed (including a truncated file) gives exactly
//!   one diagnostic, the XML error; other problems are all collected.
//!
//! The parser keeps an explicit stack of open elements and never recurses, so
//! a 100,000-task chain parses in a flat loop.

mod diagnostic;
mod library;
mod lines;
mod parse;
mod scope;
mod script;
pub mod spec;

pub use diagnostic::{Diagnostic, Diagnostics};
pub use library::Library;
pub use parse::{parse_file, parse_str};
pub use spec::*;
