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
//! - Diagram interchange (`bpmndi`), vendor extensions (`camunda:`, and
//!   `spiffworkflow:` except those below), documentation, lanes, data and
//!   artifacts are ignored. Flow elements the engine cannot run (send and
//!   receive tasks, throw events, message and signal events, timer start
//!   events, loop characteristics, ...) are reported, never silently skipped.
//! - Timers: `timerEventDefinition` on intermediate catch events and on
//!   boundary events (interrupting or not), with one `timeDate`,
//!   `timeDuration` or `timeCycle`: an ISO 8601 literal, else an expression
//!   (see `timer`).
//! - SpiffWorkflow's extensions (namespace
//!   `http://spiffworkflow.org/bpmn/schema/1.0/core`, any prefix): a
//!   `serviceTask` needs a `spiffworkflow:serviceTaskOperator` (its `id` is
//!   the operation; `spiffworkflow:parameter` values are expressions; the
//!   result goes to `resultVariable`, by default `spiff__<task id>_result`);
//!   `spiffworkflow:preScript`/`postScript` are inline code on any activity;
//!   a root `bpmn:error` may have `spiffworkflow:variableName` (where a catch
//!   puts the payload) and `spiffworkflow:payloadExpression` (what an error
//!   end event throws).
//! - Errors: `bpmn:error` root elements, `errorEventDefinition errorRef` on
//!   end events, interrupting boundary events of activities, and the start
//!   event of event subprocesses (`triggeredByEvent="true"`). No `errorRef`
//!   catches every error; an unknown one is an error.
//! - Script tasks: `scriptFormat="wasm"` makes the script body a plugin name
//!   (a bare file name, `.wasm` optional); no scriptFormat, `python`,
//!   `starlark` or `text/x-python` make it inline code, dedented like Python's
//!   `textwrap.dedent`, with the file line where the code starts.
//! - XML that is not well-formed (including a truncated file) gives exactly
//!   one diagnostic, the XML error; other problems are all collected.
//!
//! The parser keeps an explicit stack of open elements and never recurses, so
//! a 100,000-task chain parses in a flat loop.

mod collaboration;
mod compensation;
mod diagnostic;
mod elements;
mod extensions;
mod frames;
mod library;
mod message;
mod parse;
mod resolve;
mod scope;
mod script;
pub mod spec;
mod timer;
mod vocabulary;
mod xml;

#[cfg(test)]
mod tests;

pub use diagnostic::{Diagnostic, Diagnostics};
pub use extensions::zeebe::CORRELATION_KEY as ZEEBE_CORRELATION_KEY;
pub use library::Library;
pub use parse::{parse_file, parse_str};
pub use spec::*;
