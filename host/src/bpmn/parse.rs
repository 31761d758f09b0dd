//! BPMN XML → [`Diagram`]: one pass over the tokens of `xml`, each start tag
//! handed to the family of the element it opens in (`elements`, or
//! `extensions` for a vendor's element), each end tag to the family of the
//! element it closes. References are resolved as scopes close (`resolve`),
//! error references once the whole file is read.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::diagnostic::{Diagnostic, Diagnostics, Reporter};
use super::elements::data::DataRefs;
use super::elements::messages::MessageRefs;
use super::elements::signals::SignalRefs;
use super::extensions;
use super::frames::{Context, Frame, Role, Stack};
use super::resolve::{ErrorRefs, Ids, ScopeNo};
use super::script::Text;
use super::spec::{Collaboration, Diagram, Position, ProcessSpec};
use super::vocabulary::{Attrs, Ns};
use super::xml::{Fatal, LineIndex, Tag, Token, XmlReader};

/// Reads and parses a BPMN file.
///
/// A file that cannot be read gives one diagnostic at `0:0` naming the OS
/// error; a file that is not UTF-8 one at the first bad byte.
pub fn parse_file(path: &Path) -> Result<Diagram, Diagnostics> {
    let at = |position, message: String| {
        Diagnostics(vec![Diagnostic {
            file: path.to_owned(),
            position,
            element: None,
            message,
        }])
    };
    let bytes = std::fs::read(path).map_err(|e| at(Position::default(), format!("cannot read the file: {e}")))?;
    match String::from_utf8(bytes) {
        Ok(xml) => parse_str(path, &xml),
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let prefix = String::from_utf8_lossy(&e.as_bytes()[..valid]);
            let position = LineIndex::new(&prefix).end();
            Err(at(
                position,
                "the file is not UTF-8 text: save it as UTF-8 (the encoding of BPMN files)".into(),
            ))
        }
    }
}

/// Parses BPMN XML read from `file` (used in diagnostics and specs).
///
/// Returns every problem found, or, for XML that is not well-formed, just the
/// first XML error.
pub fn parse_str(file: &Path, xml: &str) -> Result<Diagram, Diagnostics> {
    // Strip a byte order mark here rather than in quick-xml, so that the
    // reader's offsets are offsets in the text we index.
    let xml = xml.strip_prefix('\u{feff}').unwrap_or(xml);
    let mut parser = Parser::new(file, xml);
    if let Err(fatal) = parser.run() {
        let position = parser.xml.position(fatal.offset);
        return Err(parser.report.diagnostic(position, None, fatal.message).into());
    }
    let errors = std::mem::take(&mut parser.errors);
    errors.resolve(&mut parser.processes, &mut parser.report);
    let escalations = std::mem::take(&mut parser.escalations);
    escalations.resolve(&mut parser.processes, &mut parser.report);
    let messages = std::mem::take(&mut parser.messages);
    messages.resolve(&mut parser.processes, &mut parser.report);
    let signals = std::mem::take(&mut parser.signals);
    signals.resolve(&mut parser.processes, &mut parser.report);
    let data = std::mem::take(&mut parser.data);
    data.resolve(&mut parser.processes, &mut parser.report);
    parser.check_participants();
    let mut found = parser.report.found;
    if found.is_empty() {
        Ok(Diagram {
            file: file.to_owned(),
            processes: parser.processes,
            collaborations: parser.collaborations,
        })
    } else {
        // Scopes are checked when they close, after their contents: restore
        // document order.
        found.sort_by_key(|d| (d.position.line, d.position.column));
        Err(Diagnostics(found))
    }
}

/// The state of one parse.
pub(super) struct Parser<'a> {
    pub(super) xml: XmlReader<'a>,
    pub(super) file: Arc<PathBuf>,
    pub(super) report: Reporter,
    pub(super) ids: Ids<'a>,
    pub(super) stack: Stack,
    /// The top-level processes read so far.
    pub(super) processes: Vec<Arc<ProcessSpec>>,
    /// The collaborations read so far.
    pub(super) collaborations: Vec<Collaboration>,
    pub(super) saw_process: bool,
    pub(super) root_closed: bool,
    /// How many subprocesses are open.
    pub(super) subprocess_depth: usize,
    /// How many processes and subprocesses have opened.
    scopes: u32,
    pub(super) errors: ErrorRefs,
    pub(super) escalations: ErrorRefs,
    pub(super) messages: MessageRefs,
    pub(super) signals: SignalRefs,
    pub(super) data: DataRefs,
}

impl<'a> Parser<'a> {
    fn new(file: &Path, input: &'a str) -> Self {
        Parser {
            xml: XmlReader::new(input),
            file: Arc::new(file.to_owned()),
            report: Reporter::new(file),
            ids: Ids::default(),
            stack: Stack::default(),
            processes: Vec::new(),
            collaborations: Vec::new(),
            saw_process: false,
            root_closed: false,
            subprocess_depth: 0,
            scopes: 0,
            errors: ErrorRefs::default(),
            escalations: ErrorRefs::of_escalations(),
            messages: MessageRefs::default(),
            signals: SignalRefs::default(),
            data: DataRefs::default(),
        }
    }

    /// Reads the whole input. `Err` is a fatal problem (XML not well-formed,
    /// not BPMN) after which nothing else is worth reporting.
    fn run(&mut self) -> Result<(), Fatal> {
        loop {
            let collecting = matches!(self.stack.parent(), Some(Frame::Text(..)));
            match self.xml.next(collecting)? {
                Token::Open { tag, empty } => {
                    self.open(&tag)?;
                    if empty {
                        self.close();
                    }
                }
                Token::Close => self.close(),
                Token::Text(text, offset) => {
                    if let Some(collected) = self.stack.text_mut() {
                        collected.push(&text, offset);
                    }
                }
                Token::Eof => return self.eof(),
            }
        }
    }

    /// A start tag (or an empty element, closed right after).
    fn open(&mut self, tag: &Tag<'a>) -> Result<(), Fatal> {
        let offset = tag.offset;
        let Some(context) = self.stack.context() else {
            return self.open_root(tag);
        };
        if let Some(prefix) = &tag.undeclared {
            return Err(Fatal::new(
                offset,
                format!(
                    "XML error: namespace prefix `{}` of element `{}` is not declared",
                    String::from_utf8_lossy(prefix),
                    tag.qname()
                ),
            ));
        }
        let read = tag.ns != Ns::Other && !matches!(context, Context::Leaf);
        let mut attrs = tag.attrs(read)?;
        let local = tag.local_name();
        let frame = match (context, tag.ns) {
            (Context::Extensions | Context::Vendor, Ns::Vendor(vendor)) => {
                extensions::open(self, vendor, local, &mut attrs, offset)
            }
            (_, Ns::Vendor(_) | Ns::Other) => Frame::Skip,
            (Context::Definitions, Ns::Bpmn) => self.open_in_definitions(local, &mut attrs, offset),
            (Context::Process, Ns::Bpmn) => self.open_in_scope(false, local, &mut attrs, offset),
            (Context::SubProcess, Ns::Bpmn) => self.open_in_scope(true, local, &mut attrs, offset),
            (Context::Node(elem), Ns::Bpmn) => self.open_in_node(elem, local, &mut attrs, offset),
            (Context::Error, Ns::Bpmn) => self.open_in_error(local),
            (Context::Collaboration, Ns::Bpmn) => self.open_in_collaboration(local, &mut attrs, offset),
            (Context::Flow, Ns::Bpmn) => self.open_in_flow(local),
            (Context::Timer, Ns::Bpmn) => self.open_in_timer(local),
            (Context::MessageDef, Ns::Bpmn) => self.open_in_message_definition(local),
            (Context::ConditionalDef, Ns::Bpmn) => self.open_in_conditional(local),
            (Context::Loop, Ns::Bpmn) => self.open_in_loop(local, &mut attrs),
            (Context::DataAssociation, Ns::Bpmn) => self.open_in_data_association(local),
            (Context::Message, Ns::Bpmn) => self.open_in_message(local),
            (Context::Signal, Ns::Bpmn) => self.open_in_signal(local),
            (Context::Correlation, Ns::Bpmn) => self.open_in_correlation(local, &mut attrs, offset),
            (Context::Retrieval, Ns::Bpmn) => self.open_in_retrieval(local),
            (Context::Extensions | Context::Vendor | Context::Leaf, Ns::Bpmn) => Frame::Skip,
        };
        self.stack.push(offset, frame);
        Ok(())
    }

    /// An end tag (or the end of an empty element).
    fn close(&mut self) {
        let Some((offset, frame)) = self.stack.pop() else {
            return;
        };
        match frame {
            Frame::Definitions { position } => self.close_definitions(position),
            Frame::Process(draft) => self.close_process(*draft),
            Frame::SubProcess(sub) => self.close_subprocess(*sub),
            Frame::Node(node) => self.close_node(*node),
            Frame::Flow(flow) => self.close_flow(*flow),
            Frame::Error(error) => self.close_error(*error),
            Frame::Collaboration(frame) => self.close_collaboration(*frame),
            Frame::Timer(timer) => self.close_timer(*timer),
            Frame::MessageDef(draft) => self.close_message_definition(*draft),
            Frame::ConditionalDef(draft) => self.close_conditional(*draft),
            Frame::Loop(draft) => self.close_loop(*draft),
            Frame::DataAssociation(draft) => self.close_data_association(*draft),
            Frame::Message(message) => self.close_message(*message),
            Frame::Signal(signal) => self.close_signal(*signal),
            Frame::Correlation(property) => self.close_correlation_property(*property),
            Frame::Retrieval(retrieval) => self.close_retrieval(*retrieval),
            Frame::Vendor(frame) => extensions::close(self, frame),
            Frame::Text(text, role) => self.close_text(*text, role, offset),
            Frame::Extensions | Frame::Skip => {}
        }
    }

    /// Hands collected character data to the element it belongs to.
    fn close_text(&mut self, text: Text, role: Role, offset: usize) {
        match role {
            Role::Script => self.close_script(text),
            Role::Condition => self.close_condition(text),
            Role::Timer(kind) => self.close_timer_value(kind, text, offset),
            Role::EventCondition => self.close_event_condition(text, offset),
            Role::Loop(part) => self.close_loop_text(part, text),
            Role::DataRef => self.close_data_ref(text),
            Role::MessagePath => self.close_message_path(text),
            Role::Vendor(role) => extensions::close_text(self, role, text, offset),
        }
    }

    /// The end of the input: every element must have been closed.
    fn eof(&mut self) -> Result<(), Fatal> {
        if let Some(offset) = self.stack.innermost_offset() {
            return Err(self.xml.truncated(offset));
        }
        if !self.root_closed {
            return Err(self.xml.no_root());
        }
        Ok(())
    }

    /// The line and column of a byte offset.
    pub(super) fn position(&self, offset: usize) -> Position {
        self.xml.position(offset)
    }

    /// The number of a process or subprocess that opens.
    pub(super) fn next_scope(&mut self) -> ScopeNo {
        self.scopes += 1;
        ScopeNo::new(self.scopes).expect("a scope takes hundreds of bytes: memory runs out long before 2^32 of them")
    }

    /// Registers the id of an element (`what`, for messages) read at
    /// `position`: the id, and whether it can be referenced.
    pub(super) fn register(&mut self, attrs: &mut Attrs<'a>, what: &str, position: Position) -> (Option<String>, bool) {
        let text = attrs.id_text.take();
        self.ids
            .register(&mut self.report, attrs.id.take(), text, what, position)
    }
}
