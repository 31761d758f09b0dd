//! BPMN XML → [`Diagram`]: one pass over quick-xml's namespace-aware events.
//!
//! Elements are matched by namespace URI and local name, never by prefix, so
//! `bpmn:`, `semantic:` and default-namespace files read the same. Open
//! elements live on an explicit stack (one frame per element), so neither the
//! size of a diagram nor the depth of its XML makes the parser recurse.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use quick_xml::escape::EscapeError;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::{Decoder, NsReader};

use super::diagnostic::{Diagnostic, Diagnostics, Reporter};
use super::lines::LineIndex;
use super::scope::{FlowDraft, ScopeDraft, ScopeKind};
use super::script::{self, Text};
use super::spec::{
    Diagram, ErrorDef, ErrorEvent, NodeKind, NodeSpec, Position, ProcessSpec, ServiceCall, ServiceParam,
};

/// The BPMN 2.0 model namespace.
const BPMN_NS: &str = "http://www.omg.org/spec/BPMN/20100524/MODEL";

/// SpiffWorkflow's extension namespace (`spiffworkflow:` in SpiffArena files).
const SPIFF_NS: &str = "http://spiffworkflow.org/bpmn/schema/1.0/core";

/// Deeper subprocess nesting is refused: specs nest through `Arc`s, and
/// dropping or walking them elsewhere may recurse once per level.
const MAX_SUBPROCESS_DEPTH: usize = 100;

/// Flow elements of BPMN 2.0 this engine does not run (yet). Any other
/// unknown BPMN element inside a process is not a flow element (lanes, data,
/// artifacts, ...) and is skipped silently.
const UNSUPPORTED: &[&str] = &[
    "sendTask",
    "receiveTask",
    "businessRuleTask",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "implicitThrowEvent",
    "eventBasedGateway",
    "complexGateway",
    "transaction",
    "adHocSubProcess",
    "callChoreography",
    "subChoreography",
    "choreographyTask",
];

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
        return Err(fatal.into());
    }
    parser.resolve_errors();
    let mut found = parser.report.found;
    if found.is_empty() {
        Ok(Diagram {
            file: file.to_owned(),
            processes: parser.processes,
        })
    } else {
        // Scopes are checked when they close, after their contents: restore
        // document order.
        found.sort_by_key(|d| (d.position.line, d.position.column));
        Err(Diagnostics(found))
    }
}

/// The BPMN elements read as flow nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Elem {
    StartEvent,
    EndEvent,
    Task,
    ManualTask,
    UserTask,
    ScriptTask,
    ServiceTask,
    BoundaryEvent,
    ExclusiveGateway,
    ParallelGateway,
    InclusiveGateway,
    CallActivity,
}

impl Elem {
    fn from_local(local: &[u8]) -> Option<Elem> {
        Some(match local {
            b"startEvent" => Elem::StartEvent,
            b"endEvent" => Elem::EndEvent,
            b"task" => Elem::Task,
            b"manualTask" => Elem::ManualTask,
            b"userTask" => Elem::UserTask,
            b"scriptTask" => Elem::ScriptTask,
            b"serviceTask" => Elem::ServiceTask,
            b"boundaryEvent" => Elem::BoundaryEvent,
            b"exclusiveGateway" => Elem::ExclusiveGateway,
            b"parallelGateway" => Elem::ParallelGateway,
            b"inclusiveGateway" => Elem::InclusiveGateway,
            b"callActivity" => Elem::CallActivity,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Elem::StartEvent => "startEvent",
            Elem::EndEvent => "endEvent",
            Elem::Task => "task",
            Elem::ManualTask => "manualTask",
            Elem::UserTask => "userTask",
            Elem::ScriptTask => "scriptTask",
            Elem::ServiceTask => "serviceTask",
            Elem::BoundaryEvent => "boundaryEvent",
            Elem::ExclusiveGateway => "exclusiveGateway",
            Elem::ParallelGateway => "parallelGateway",
            Elem::InclusiveGateway => "inclusiveGateway",
            Elem::CallActivity => "callActivity",
        }
    }

    fn is_event(self) -> bool {
        matches!(self, Elem::StartEvent | Elem::EndEvent | Elem::BoundaryEvent)
    }

    fn is_activity(self) -> bool {
        matches!(
            self,
            Elem::Task | Elem::ManualTask | Elem::UserTask | Elem::ScriptTask | Elem::ServiceTask | Elem::CallActivity
        )
    }
}

/// The attributes the parser reads (all unqualified, as BPMN defines them;
/// prefixed extension attributes are ignored).
#[derive(Default)]
struct Attrs {
    id: Option<String>,
    name: Option<String>,
    is_executable: Option<String>,
    source_ref: Option<String>,
    target_ref: Option<String>,
    default: Option<String>,
    script_format: Option<String>,
    called_element: Option<String>,
    triggered_by_event: Option<String>,
    attached_to_ref: Option<String>,
    cancel_activity: Option<String>,
    is_interrupting: Option<String>,
    error_ref: Option<String>,
    error_code: Option<String>,
    result_variable: Option<String>,
    value: Option<String>,
    kind: Option<String>,
}

/// The namespace of an element, as far as the parser cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ns {
    Bpmn,
    Spiff,
    Other,
}

/// A service task's call from its operator, or what is wrong with it (and
/// where, when not at the task).
fn service_call(task_id: &str, operator: Option<OperatorFrame>) -> Result<ServiceCall, (Option<Position>, String)> {
    let Some(operator) = operator else {
        return Err((
            None,
            "service task has no `spiffworkflow:serviceTaskOperator`: add one in its extensionElements \
             naming the operation to call, e.g. <spiffworkflow:serviceTaskOperator id=\"lookup_product\"/>"
                .into(),
        ));
    };
    let at = Some(operator.position);
    let operation = operator.operation.map(|o| o.trim().to_owned()).unwrap_or_default();
    if operation.is_empty() {
        return Err((
            at,
            "`spiffworkflow:serviceTaskOperator` has no id: the id names the operation to call".into(),
        ));
    }
    script::operation_name(&operation).map_err(|message| (at, message))?;
    let result_variable = match operator.result_variable.map(|r| r.trim().to_owned()) {
        Some(r) if !r.is_empty() => r,
        // SpiffWorkflow's default.
        _ => format!("spiff__{}_result", task_id.replace('-', "_")),
    };
    Ok(ServiceCall {
        operation,
        params: operator.params,
        result_variable,
    })
}

/// An element name with its indefinite article: "a task", "an endEvent".
pub(super) fn article(name: &str) -> String {
    let an = name.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {name}", if an { "an" } else { "a" })
}

/// An `xsd:boolean` attribute.
fn flag(value: &Option<String>) -> bool {
    matches!(value.as_deref().map(str::trim), Some("true" | "1"))
}

/// What every flow node has, read from its start tag.
struct Head {
    id: Option<String>,
    /// The id is present and unique: the node can be referenced.
    indexed: bool,
    name: Option<String>,
    position: Position,
    default_ref: Option<String>,
    /// Loop characteristics found among the children (unsupported).
    loops: Vec<&'static str>,
    /// `spiffworkflow:preScript` and `postScript` text.
    pre_script: Option<Text>,
    post_script: Option<Text>,
}

impl Head {
    fn into_node(self, kind: NodeKind, lines: &LineIndex<'_>) -> (NodeSpec, Option<String>, bool) {
        // A blank pre- or post-script is no script.
        let inline = |text: Option<Text>| text.and_then(|t| script::script(None, Some(&t), lines).ok());
        let node = NodeSpec {
            id: self.id.unwrap_or_default(),
            name: self.name,
            kind,
            incoming: Vec::new(),
            outgoing: Vec::new(),
            default_flow: None,
            position: self.position,
            pre_script: inline(self.pre_script),
            post_script: inline(self.post_script),
            boundaries: Vec::new(),
        };
        (node, self.default_ref, self.indexed)
    }
}

/// A process, or a subprocess with its node head.
struct ScopeFrame {
    draft: ScopeDraft,
    head: Option<Head>,
}

/// A flow node other than a subprocess, with what its children said.
struct NodeFrame {
    elem: Elem,
    head: Head,
    /// Local names of event definitions (events only).
    event_defs: Vec<String>,
    /// The `errorRef` of its `errorEventDefinition`, and where that starts (events only).
    error_def: Option<(Option<String>, Position)>,
    script_format: Option<String>,
    script: Option<Text>,
    called_element: Option<String>,
    /// `attachedToRef` and `cancelActivity` (boundary events).
    attached_to: Option<String>,
    cancel_activity: Option<String>,
    /// `isInterrupting` (start events).
    is_interrupting: Option<String>,
    /// `spiffworkflow:serviceTaskOperator` (service tasks).
    operator: Option<OperatorFrame>,
}

/// A `spiffworkflow:serviceTaskOperator` being read.
struct OperatorFrame {
    position: Position,
    operation: Option<String>,
    result_variable: Option<String>,
    params: Vec<ServiceParam>,
}

/// A root `bpmn:error` being read.
struct ErrorFrame {
    id: Option<String>,
    indexed: bool,
    name: Option<String>,
    code: Option<String>,
    variable: Option<String>,
    payload: Option<String>,
}

/// What the character data of a [`Frame::Text`] is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A script task's `script`.
    Script,
    /// A sequence flow's `conditionExpression`.
    Condition,
    /// `spiffworkflow:preScript`.
    PreScript,
    /// `spiffworkflow:postScript`.
    PostScript,
    /// `spiffworkflow:variableName` of a `bpmn:error`.
    VariableName,
    /// `spiffworkflow:payloadExpression` of a `bpmn:error`.
    PayloadExpression,
}

impl Role {
    fn element(self) -> &'static str {
        match self {
            Role::Script => "script",
            Role::Condition => "conditionExpression",
            Role::PreScript => "spiffworkflow:preScript",
            Role::PostScript => "spiffworkflow:postScript",
            Role::VariableName => "spiffworkflow:variableName",
            Role::PayloadExpression => "spiffworkflow:payloadExpression",
        }
    }
}

/// What an open element is being read as.
enum Frame {
    Definitions {
        position: Position,
    },
    Scope(Box<ScopeFrame>),
    Node(Box<NodeFrame>),
    Flow(Box<FlowDraft>),
    /// A root `bpmn:error`.
    Error(Box<ErrorFrame>),
    /// `bpmn:extensionElements` of a flow node, subprocess or error.
    Extensions,
    /// `spiffworkflow:serviceTaskOperator`.
    Operator(Box<OperatorFrame>),
    /// `spiffworkflow:parameters`.
    Parameters,
    /// An element whose character data is read (see [`Role`]).
    Text(Box<Text>, Role),
    /// Anything not understood, and everything inside it.
    Skip,
}

/// The kind of the innermost open element, copied out so that handlers can
/// borrow the parser mutably.
#[derive(Clone, Copy)]
enum Context {
    Definitions,
    Scope { sub: bool },
    Node(Elem),
    Flow,
    Error,
    Extensions,
    Operator,
    Parameters,
    Leaf,
}

/// Which element an `extensionElements` belongs to, as far as the
/// SpiffWorkflow extensions care.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// A flow node (a subprocess is `Node(None)`).
    Node(Option<Elem>),
    Error,
    Other,
}

struct Parser<'a> {
    input: &'a str,
    lines: LineIndex<'a>,
    file: Arc<PathBuf>,
    report: Reporter,
    /// Every id read so far, with where it was defined.
    ids: HashMap<String, Position>,
    /// Open elements: byte offset of their `<`, and their frame.
    stack: Vec<(usize, Frame)>,
    processes: Vec<Arc<ProcessSpec>>,
    saw_process: bool,
    root_closed: bool,
    subprocess_depth: usize,
    /// Root `bpmn:error` elements by id.
    errors: HashMap<String, ErrorDef>,
    /// Every `errorRef` read: the reference, where, and the event's id.
    error_refs: Vec<(String, Position, Option<String>)>,
}

impl<'a> Parser<'a> {
    fn new(file: &Path, input: &'a str) -> Self {
        Parser {
            input,
            lines: LineIndex::new(input),
            file: Arc::new(file.to_owned()),
            report: Reporter::new(file),
            ids: HashMap::new(),
            stack: Vec::new(),
            processes: Vec::new(),
            saw_process: false,
            root_closed: false,
            subprocess_depth: 0,
            errors: HashMap::new(),
            error_refs: Vec::new(),
        }
    }

    /// Reads the whole input. `Err` is a fatal problem (XML not well-formed,
    /// not BPMN) after which nothing else is worth reporting.
    fn run(&mut self) -> Result<(), Diagnostic> {
        let mut reader = NsReader::from_str(self.input);
        loop {
            let before = offset(reader.buffer_position());
            let (ns, unknown, event) = match reader.read_resolved_event() {
                Ok((ns, event)) => {
                    let known = match ns {
                        ResolveResult::Bound(Namespace(n)) if n == BPMN_NS.as_bytes() => Ns::Bpmn,
                        ResolveResult::Bound(Namespace(n)) if n == SPIFF_NS.as_bytes() => Ns::Spiff,
                        _ => Ns::Other,
                    };
                    let unknown = match ns {
                        ResolveResult::Unknown(prefix) => Some(prefix),
                        _ => None,
                    };
                    (known, unknown, event)
                }
                Err(e) => return Err(self.xml_error(&e, offset(reader.error_position()))),
            };
            let decoder = reader.decoder();
            match event {
                Event::Start(e) => self.open(decoder, ns, unknown, &e, before)?,
                Event::Empty(e) => {
                    self.open(decoder, ns, unknown, &e, before)?;
                    self.close();
                }
                Event::End(_) => self.close(),
                Event::Text(t) if self.collecting() => {
                    let text = t.decode().map_err(|e| self.xml_error(&e.into(), before))?;
                    self.push_text(&text, before);
                }
                Event::CData(c) if self.collecting() => {
                    let text = c.decode().map_err(|e| self.xml_error(&e.into(), before))?;
                    let start = match self.input.get(before..) {
                        Some(rest) if rest.starts_with("<![CDATA[") => before + 9,
                        _ => before,
                    };
                    self.push_text(&text, start);
                }
                Event::GeneralRef(r) => {
                    let text = self.reference(&r, before)?;
                    if self.collecting() {
                        self.push_text(&text, before);
                    }
                }
                Event::Eof => return self.eof(),
                _ => {}
            }
        }
    }

    fn context(&self) -> Option<Context> {
        Some(match &self.stack.last()?.1 {
            Frame::Definitions { .. } => Context::Definitions,
            Frame::Scope(s) => Context::Scope { sub: s.head.is_some() },
            Frame::Node(n) => Context::Node(n.elem),
            Frame::Flow(_) => Context::Flow,
            Frame::Error(_) => Context::Error,
            Frame::Extensions => Context::Extensions,
            Frame::Operator(_) => Context::Operator,
            Frame::Parameters => Context::Parameters,
            Frame::Text(..) | Frame::Skip => Context::Leaf,
        })
    }

    /// A start tag (or an empty element, closed right after).
    fn open(
        &mut self,
        decoder: Decoder,
        ns: Ns,
        unknown: Option<Vec<u8>>,
        e: &BytesStart<'_>,
        before: usize,
    ) -> Result<(), Diagnostic> {
        let offset = self.tag_offset(before);
        let qname = || String::from_utf8_lossy(e.name().as_ref()).into_owned();
        let bpmn = ns == Ns::Bpmn;
        let spiff = ns == Ns::Spiff;
        let Some(context) = self.context() else {
            return self.open_root(bpmn, unknown, e, offset);
        };
        if let Some(prefix) = unknown {
            return Err(self.fatal(
                offset,
                format!(
                    "XML error: namespace prefix `{}` of element `{}` is not declared",
                    String::from_utf8_lossy(&prefix),
                    qname()
                ),
            ));
        }
        let read = (bpmn || spiff) && !matches!(context, Context::Leaf);
        let mut attrs = self.attrs(decoder, e, offset, read)?;
        let local = e.local_name();
        let local = local.as_ref();
        let frame = match context {
            Context::Extensions if spiff => self.open_extension(local, &mut attrs, offset),
            Context::Operator if spiff && local == b"parameters" => Frame::Parameters,
            Context::Parameters if spiff && local == b"parameter" => {
                self.add_parameter(&mut attrs, offset);
                Frame::Skip
            }
            _ if !bpmn => Frame::Skip,
            Context::Definitions if local == b"process" => self.open_process(attrs, offset),
            Context::Definitions if local == b"error" => self.open_error(&mut attrs, offset),
            Context::Scope { sub } => self.open_in_scope(sub, local, &mut attrs, offset),
            Context::Node(elem) => self.open_in_node(elem, local, &mut attrs, offset),
            Context::Error if local == b"extensionElements" => Frame::Extensions,
            Context::Flow if local == b"conditionExpression" => Frame::Text(Box::default(), Role::Condition),
            _ => Frame::Skip,
        };
        self.stack.push((offset, frame));
        Ok(())
    }

    fn open_root(
        &mut self,
        bpmn: bool,
        unknown: Option<Vec<u8>>,
        e: &BytesStart<'_>,
        offset: usize,
    ) -> Result<(), Diagnostic> {
        let qname = String::from_utf8_lossy(e.name().as_ref()).into_owned();
        if self.root_closed {
            return Err(self.fatal(
                offset,
                format!("XML error: a second root element `{qname}` after the end of the first"),
            ));
        }
        if !(bpmn && e.local_name().as_ref() == b"definitions") {
            let hint = match unknown {
                Some(p) => format!("; its prefix `{}` is not declared", String::from_utf8_lossy(&p)),
                None => String::new(),
            };
            return Err(self.fatal(
                offset,
                format!(
                    "not a BPMN 2.0 file: the root element is `{qname}` (expected `definitions` \
                     in namespace {BPMN_NS}){hint}"
                ),
            ));
        }
        let position = self.lines.position(offset);
        self.stack.push((offset, Frame::Definitions { position }));
        Ok(())
    }

    fn open_process(&mut self, attrs: Attrs, offset: usize) -> Frame {
        self.saw_process = true;
        let position = self.lines.position(offset);
        let (id, _) = self.register(attrs.id, "process", position);
        let executable = flag(&attrs.is_executable);
        let draft = ScopeDraft::new(ScopeKind::Process, id, attrs.name, executable, position);
        Frame::Scope(Box::new(ScopeFrame { draft, head: None }))
    }

    /// A child of a process or subprocess.
    fn open_in_scope(&mut self, sub: bool, local: &[u8], attrs: &mut Attrs, offset: usize) -> Frame {
        if let Some(elem) = Elem::from_local(local) {
            let position = self.lines.position(offset);
            if elem.is_event() {
                attrs.default = None;
            }
            let head = self.head(elem.name(), attrs, position);
            return Frame::Node(Box::new(NodeFrame {
                elem,
                head,
                event_defs: Vec::new(),
                error_def: None,
                script_format: attrs.script_format.take(),
                script: None,
                called_element: attrs.called_element.take(),
                attached_to: attrs.attached_to_ref.take(),
                cancel_activity: attrs.cancel_activity.take(),
                is_interrupting: attrs.is_interrupting.take(),
                operator: None,
            }));
        }
        match local {
            b"sequenceFlow" => {
                let position = self.lines.position(offset);
                let (id, _) = self.register(attrs.id.take(), "sequenceFlow", position);
                Frame::Flow(Box::new(FlowDraft {
                    id,
                    name: attrs.name.take(),
                    source_ref: attrs.source_ref.take(),
                    target_ref: attrs.target_ref.take(),
                    condition: None,
                    position,
                }))
            }
            b"subProcess" => self.open_subprocess(attrs, offset),
            b"extensionElements" if sub => Frame::Extensions,
            b"multiInstanceLoopCharacteristics" | b"standardLoopCharacteristics" if sub => {
                if let Some((_, Frame::Scope(s))) = self.stack.last_mut()
                    && let Some(head) = &mut s.head
                {
                    head.loops.push(loop_name(local));
                }
                Frame::Skip
            }
            _ => match UNSUPPORTED.iter().find(|u| u.as_bytes() == local) {
                Some(name) => {
                    self.unsupported(attrs, offset, name, format!("unsupported element `{name}`"));
                    Frame::Skip
                }
                None => Frame::Skip,
            },
        }
    }

    fn open_subprocess(&mut self, attrs: &mut Attrs, offset: usize) -> Frame {
        let event = flag(&attrs.triggered_by_event);
        if self.subprocess_depth >= MAX_SUBPROCESS_DEPTH {
            let message = format!("subProcess nested more than {MAX_SUBPROCESS_DEPTH} levels deep");
            self.unsupported(attrs, offset, "subProcess", message);
            return Frame::Skip;
        }
        self.subprocess_depth += 1;
        let position = self.lines.position(offset);
        let head = self.head("subProcess", attrs, position);
        let kind = if event {
            ScopeKind::EventSubProcess
        } else {
            ScopeKind::SubProcess
        };
        let draft = ScopeDraft::new(kind, head.id.clone(), head.name.clone(), false, position);
        Frame::Scope(Box::new(ScopeFrame {
            draft,
            head: Some(head),
        }))
    }

    /// Reports an unsupported flow element and notes its id in its scope, so
    /// flows to and from it are not reported again.
    fn unsupported(&mut self, attrs: &mut Attrs, offset: usize, what: &str, message: String) {
        let position = self.lines.position(offset);
        let (id, _) = self.register(attrs.id.take(), what, position);
        self.report.report(position, id.as_deref(), message);
        if let Some((_, Frame::Scope(s))) = self.stack.last_mut() {
            s.draft.add_unsupported(id, false);
        }
    }

    /// A child of a flow node.
    fn open_in_node(&mut self, elem: Elem, local: &[u8], attrs: &mut Attrs, offset: usize) -> Frame {
        let position = self.lines.position(offset);
        let Some((_, Frame::Node(node))) = self.stack.last_mut() else {
            return Frame::Skip;
        };
        if elem.is_event() && (local.ends_with(b"EventDefinition") || local == b"eventDefinitionRef") {
            node.event_defs.push(String::from_utf8_lossy(local).into_owned());
            if local == b"errorEventDefinition" && node.error_def.is_none() {
                let error_ref = attrs
                    .error_ref
                    .take()
                    .map(|r| r.trim().to_owned())
                    .filter(|r| !r.is_empty());
                node.error_def = Some((error_ref, position));
            }
        } else if local == b"extensionElements" {
            return Frame::Extensions;
        } else if elem == Elem::ScriptTask && local == b"script" {
            return Frame::Text(Box::default(), Role::Script);
        } else if elem.is_activity()
            && matches!(
                local,
                b"multiInstanceLoopCharacteristics" | b"standardLoopCharacteristics"
            )
        {
            node.head.loops.push(loop_name(local));
        }
        Frame::Skip
    }

    fn head(&mut self, what: &str, attrs: &mut Attrs, position: Position) -> Head {
        let (id, indexed) = self.register(attrs.id.take(), what, position);
        Head {
            id,
            indexed,
            name: attrs.name.take(),
            position,
            default_ref: attrs.default.take(),
            loops: Vec::new(),
            pre_script: None,
            post_script: None,
        }
    }

    /// Checks that an element has an id not used before; returns the id and
    /// whether it is usable as a reference (present and unique).
    fn register(&mut self, id: Option<String>, what: &str, position: Position) -> (Option<String>, bool) {
        let Some(id) = id.filter(|id| !id.trim().is_empty()) else {
            self.report
                .report(position, None, format!("`{what}` has no id attribute"));
            return (None, false);
        };
        match self.ids.entry(id) {
            Entry::Occupied(first) => {
                let id = first.key().clone();
                let message = format!("duplicate id `{id}` (first defined at {})", first.get());
                self.report.report(position, Some(&id), message);
                (Some(id), false)
            }
            Entry::Vacant(slot) => {
                let id = slot.key().clone();
                slot.insert(position);
                (Some(id), true)
            }
        }
    }

    /// An end tag (or the end of an empty element).
    fn close(&mut self) {
        let Some((offset, frame)) = self.stack.pop() else {
            return;
        };
        match frame {
            Frame::Definitions { position } => {
                if !self.saw_process {
                    self.report.report(position, None, "no process in this file");
                }
                self.root_closed = true;
            }
            Frame::Scope(scope) => self.close_scope(*scope),
            Frame::Node(node) => self.close_node(*node),
            Frame::Flow(flow) => {
                if let Some(scope) = self.scope_mut() {
                    scope.add_flow(*flow);
                }
            }
            Frame::Error(error) => {
                let ErrorFrame {
                    id,
                    indexed,
                    name,
                    code,
                    variable,
                    payload,
                } = *error;
                if let Some(id) = id.filter(|_| indexed) {
                    let code = code.filter(|c| !c.trim().is_empty());
                    let def = ErrorDef {
                        id: id.clone(),
                        name,
                        code,
                        variable,
                        payload,
                    };
                    self.errors.insert(id, def);
                }
            }
            Frame::Operator(operator) => {
                let position = operator.position;
                let element = self.owner_id();
                match self.owner_mut() {
                    Some(Frame::Node(node)) if node.operator.is_none() => node.operator = Some(*operator),
                    Some(Frame::Node(_)) => self.report.report(
                        position,
                        element.as_deref(),
                        "more than one `spiffworkflow:serviceTaskOperator`: a service task calls one operation",
                    ),
                    _ => {}
                }
            }
            Frame::Text(text, role) => self.close_text(*text, role, offset),
            Frame::Extensions | Frame::Parameters | Frame::Skip => {}
        }
    }

    /// Hands collected character data to the element it belongs to.
    fn close_text(&mut self, text: Text, role: Role, offset: usize) {
        match role {
            Role::Script => {
                if let Some((_, Frame::Node(node))) = self.stack.last_mut()
                    && node.script.is_none()
                {
                    node.script = Some(text);
                }
            }
            Role::Condition => {
                if let Some((_, Frame::Flow(flow))) = self.stack.last_mut()
                    && flow.condition.is_none()
                {
                    flow.condition = text.trimmed();
                }
            }
            Role::PreScript | Role::PostScript => {
                let element = self.owner_id();
                let head = match self.owner_mut() {
                    Some(Frame::Node(node)) => &mut node.head,
                    Some(Frame::Scope(scope)) => match &mut scope.head {
                        Some(head) => head,
                        None => return,
                    },
                    _ => return,
                };
                let slot = if role == Role::PreScript {
                    &mut head.pre_script
                } else {
                    &mut head.post_script
                };
                if slot.is_none() {
                    *slot = Some(text);
                } else {
                    let position = self.lines.position(offset);
                    let message = format!("more than one `{}`: write the code in one", role.element());
                    self.report.report(position, element.as_deref(), message);
                }
            }
            Role::VariableName | Role::PayloadExpression => {
                if let Some(Frame::Error(error)) = self.owner_mut() {
                    let slot = if role == Role::VariableName {
                        &mut error.variable
                    } else {
                        &mut error.payload
                    };
                    if slot.is_none() {
                        *slot = text.trimmed();
                    }
                }
            }
        }
    }

    /// The frame that owns the `extensionElements` open at the top of the stack.
    fn owner_mut(&mut self) -> Option<&mut Frame> {
        let n = self.stack.len();
        match self.stack.get(n.checked_sub(1)?) {
            Some((_, Frame::Extensions)) => self.stack.get_mut(n - 2).map(|(_, f)| f),
            _ => None,
        }
    }

    fn owner(&self) -> Owner {
        let n = self.stack.len();
        let below_extensions = match n.checked_sub(1).and_then(|i| self.stack.get(i)) {
            Some((_, Frame::Extensions)) => n.checked_sub(2).and_then(|i| self.stack.get(i)),
            _ => None,
        };
        match below_extensions {
            Some((_, Frame::Node(node))) => Owner::Node(Some(node.elem)),
            Some((_, Frame::Scope(scope))) if scope.head.is_some() => Owner::Node(None),
            Some((_, Frame::Error(_))) => Owner::Error,
            _ => Owner::Other,
        }
    }

    /// The id of the element that owns the open `extensionElements`, for diagnostics.
    fn owner_id(&self) -> Option<String> {
        let n = self.stack.len();
        match self.stack.get(n.checked_sub(2)?) {
            Some((_, Frame::Node(node))) => node.head.id.clone(),
            Some((_, Frame::Scope(scope))) => scope.head.as_ref().and_then(|h| h.id.clone()),
            Some((_, Frame::Error(error))) => error.id.clone(),
            _ => None,
        }
    }

    /// A root `bpmn:error`.
    fn open_error(&mut self, attrs: &mut Attrs, offset: usize) -> Frame {
        let position = self.lines.position(offset);
        let (id, indexed) = self.register(attrs.id.take(), "error", position);
        Frame::Error(Box::new(ErrorFrame {
            id,
            indexed,
            name: attrs.name.take(),
            code: attrs.error_code.take(),
            variable: None,
            payload: None,
        }))
    }

    /// A SpiffWorkflow extension element inside `extensionElements`.
    fn open_extension(&mut self, local: &[u8], attrs: &mut Attrs, offset: usize) -> Frame {
        let owner = self.owner();
        let position = self.lines.position(offset);
        let element = self.owner_id();
        let what = |owner: Owner| match owner {
            Owner::Node(Some(elem)) => article(elem.name()),
            Owner::Node(None) => "a subProcess".to_owned(),
            Owner::Error => "an error".to_owned(),
            Owner::Other => "this element".to_owned(),
        };
        match local {
            b"preScript" | b"postScript" => {
                let role = if local == b"preScript" {
                    Role::PreScript
                } else {
                    Role::PostScript
                };
                match owner {
                    Owner::Node(None) => Frame::Text(Box::default(), role),
                    Owner::Node(Some(elem)) if elem.is_activity() => Frame::Text(Box::default(), role),
                    Owner::Other => Frame::Skip,
                    _ => {
                        let message = format!(
                            "`{}` on {}: pre- and post-scripts run only on activities \
                             (tasks, subprocesses and call activities)",
                            role.element(),
                            what(owner)
                        );
                        self.report.report(position, element.as_deref(), message);
                        Frame::Skip
                    }
                }
            }
            b"serviceTaskOperator" => match owner {
                Owner::Node(Some(Elem::ServiceTask)) => Frame::Operator(Box::new(OperatorFrame {
                    position,
                    operation: attrs.id.take(),
                    result_variable: attrs.result_variable.take(),
                    params: Vec::new(),
                })),
                Owner::Other => Frame::Skip,
                _ => {
                    let message = format!(
                        "`spiffworkflow:serviceTaskOperator` on {}: only a serviceTask calls an operation",
                        what(owner)
                    );
                    self.report.report(position, element.as_deref(), message);
                    Frame::Skip
                }
            },
            b"variableName" if owner == Owner::Error => Frame::Text(Box::default(), Role::VariableName),
            b"payloadExpression" if owner == Owner::Error => Frame::Text(Box::default(), Role::PayloadExpression),
            // Other SpiffWorkflow extensions (instructions, properties, unit tests, ...) are ignored.
            _ => Frame::Skip,
        }
    }

    /// A `spiffworkflow:parameter` of the operator two levels up.
    fn add_parameter(&mut self, attrs: &mut Attrs, offset: usize) {
        let position = self.lines.position(offset);
        let n = self.stack.len();
        // The service task is below extensionElements, the operator and its parameters.
        let element = n.checked_sub(4).and_then(|i| match self.stack.get(i) {
            Some((_, Frame::Node(node))) => node.head.id.clone(),
            _ => None,
        });
        let Some(operator) = n.checked_sub(2).and_then(|i| match self.stack.get_mut(i) {
            Some((_, Frame::Operator(op))) => Some(op),
            _ => None,
        }) else {
            return;
        };
        let id = attrs
            .id
            .take()
            .map(|id| id.trim().to_owned())
            .filter(|id| !id.is_empty());
        let problem = match (&id, attrs.value.take()) {
            (None, _) => Some("`spiffworkflow:parameter` has no id: the id names the parameter".to_owned()),
            // SpiffWorkflow passes only the parameters that have a value.
            (Some(_), None) => None,
            (Some(id), Some(_)) if operator.params.iter().any(|p| &p.id == id) => {
                Some(format!("parameter `{id}` is given twice"))
            }
            (Some(id), Some(value)) if value.trim().is_empty() => Some(format!(
                "parameter `{id}` has an empty value: the value is an expression evaluated against \
                 the task data (quote text, e.g. value=\"'abc'\")"
            )),
            (Some(id), Some(value)) => {
                operator.params.push(ServiceParam {
                    id: id.clone(),
                    kind: attrs.kind.take(),
                    value: value.trim().to_owned(),
                    line: position.line,
                });
                None
            }
        };
        if let Some(message) = problem {
            self.report.report(position, element.as_deref(), message);
        }
    }

    fn close_scope(&mut self, scope: ScopeFrame) {
        let event = scope.draft.kind() == ScopeKind::EventSubProcess;
        let spec = scope.draft.finish(&self.file, &mut self.report);
        match scope.head {
            None => self.processes.push(Arc::new(spec)),
            Some(head) => {
                self.subprocess_depth -= 1;
                self.report_loops(&head);
                let spec = Arc::new(spec);
                let kind = if event {
                    NodeKind::EventSubProcess(spec)
                } else {
                    NodeKind::SubProcess(spec)
                };
                let (node, default_ref, indexed) = head.into_node(kind, &self.lines);
                if let Some(parent) = self.scope_mut() {
                    parent.add_node(node, default_ref, indexed);
                }
            }
        }
    }

    fn close_node(&mut self, node: NodeFrame) {
        let NodeFrame {
            elem,
            head,
            event_defs,
            error_def,
            script_format,
            script,
            called_element,
            attached_to,
            cancel_activity,
            is_interrupting,
            operator,
        } = node;
        let position = head.position;
        let id = head.id.clone();
        let mut service_error = None;
        let mut fail = |message: String| self.report.report(position, id.as_deref(), message);
        // The error event this event has, when it has exactly that one definition.
        let error = match (event_defs.as_slice(), &error_def) {
            ([only], Some((error_ref, _))) if only == "errorEventDefinition" => Some(ErrorEvent {
                error_ref: error_ref.clone(),
                error: None,
            }),
            _ => None,
        };
        let several = |defs: &[String]| {
            format!(
                "more than one event definition ({}): only one is supported",
                defs.join(", ")
            )
        };
        let kind = match elem {
            Elem::StartEvent if event_defs.is_empty() => Some(NodeKind::StartEvent),
            Elem::StartEvent => match error {
                Some(error) => {
                    if is_interrupting.is_some() && !flag(&is_interrupting) {
                        fail(
                            "an error start event always interrupts: isInterrupting=\"false\" is not allowed \
                             (BPMN 2.0, 10.5.2)"
                                .into(),
                        );
                    }
                    Some(NodeKind::ErrorStartEvent(error))
                }
                None if event_defs.len() > 1 => {
                    fail(several(&event_defs));
                    None
                }
                None => {
                    fail(format!("unsupported start event: {}", event_defs.join(", ")));
                    None
                }
            },
            Elem::EndEvent => match (event_defs.as_slice(), error) {
                ([], _) => Some(NodeKind::EndEvent { terminate: false }),
                ([only], _) if only == "terminateEventDefinition" => Some(NodeKind::EndEvent { terminate: true }),
                (_, Some(error)) => Some(NodeKind::ErrorEndEvent(error)),
                ([_, _, ..], None) => {
                    fail(several(&event_defs));
                    None
                }
                (_, None) => {
                    fail(format!("unsupported end event: {}", event_defs.join(", ")));
                    None
                }
            },
            Elem::BoundaryEvent => match error {
                Some(error) => {
                    if cancel_activity.is_some() && !flag(&cancel_activity) {
                        fail(
                            "an error boundary event always interrupts its activity: cancelActivity=\"false\" \
                             is not allowed (BPMN 2.0, 10.5.4)"
                                .into(),
                        );
                    }
                    if attached_to.as_deref().is_none_or(|a| a.trim().is_empty()) {
                        fail("boundary event has no attachedToRef: name the activity it is attached to".into());
                    }
                    Some(NodeKind::BoundaryEvent {
                        attached_to: usize::MAX,
                        error,
                    })
                }
                None if event_defs.is_empty() => {
                    fail(
                        "boundary event has no event definition: an error boundary event has an \
                          errorEventDefinition"
                            .into(),
                    );
                    None
                }
                None if event_defs.len() > 1 => {
                    fail(several(&event_defs));
                    None
                }
                None => {
                    fail(format!(
                        "unsupported boundary event: {} (only error boundary events are supported)",
                        event_defs.join(", ")
                    ));
                    None
                }
            },
            Elem::Task => Some(NodeKind::Task),
            Elem::ManualTask => Some(NodeKind::ManualTask),
            Elem::UserTask => Some(NodeKind::UserTask),
            Elem::ExclusiveGateway => Some(NodeKind::ExclusiveGateway),
            Elem::ParallelGateway => Some(NodeKind::ParallelGateway),
            Elem::InclusiveGateway => Some(NodeKind::InclusiveGateway),
            // A node that is wrong inside stays in its scope as a plain task,
            // so that its flows do not add dangling-reference diagnostics.
            Elem::ScriptTask => match script::script(script_format.as_deref(), script.as_ref(), &self.lines) {
                Ok(s) => Some(NodeKind::ScriptTask(s)),
                Err(message) => {
                    fail(message);
                    Some(NodeKind::Task)
                }
            },
            Elem::ServiceTask => match service_call(id.as_deref().unwrap_or_default(), operator) {
                Ok(call) => Some(NodeKind::ServiceTask(call)),
                Err(problem) => {
                    service_error = Some(problem);
                    Some(NodeKind::Task)
                }
            },
            Elem::CallActivity => match called_element.filter(|c| !c.trim().is_empty()) {
                Some(called) => Some(NodeKind::CallActivity {
                    called_element: called.trim().to_owned(),
                }),
                None => {
                    fail("call activity has no calledElement: name the id of the process to call".into());
                    Some(NodeKind::Task)
                }
            },
        };
        if let Some((at, message)) = service_error {
            self.report.report(at.unwrap_or(position), id.as_deref(), message);
        }
        if let Some((Some(error_ref), at)) = &error_def
            && kind.is_some()
        {
            self.error_refs.push((error_ref.clone(), *at, id.clone()));
        }
        self.report_loops(&head);
        let built = kind.map(|kind| head.into_node(kind, &self.lines));
        let Some(scope) = self.scope_mut() else {
            return;
        };
        match built {
            Some((node, default_ref, indexed)) => {
                scope.add_node(node, default_ref, indexed);
                if elem == Elem::BoundaryEvent {
                    scope.attach(attached_to.map(|a| a.trim().to_owned()).filter(|a| !a.is_empty()));
                }
            }
            None => scope.add_unsupported(id, elem == Elem::StartEvent),
        }
    }

    /// Reports every `errorRef` that names no `bpmn:error` of the file, and
    /// fills in the error of every error event of the parsed specs.
    fn resolve_errors(&mut self) {
        if self.error_refs.is_empty() {
            return;
        }
        for (error_ref, position, element) in std::mem::take(&mut self.error_refs) {
            if !self.errors.contains_key(&error_ref) {
                self.report.report(
                    position,
                    element.as_deref(),
                    format!(
                        "errorRef `{error_ref}` names no `error` element in this file: define it, e.g. \
                         <bpmn:error id=\"{error_ref}\" errorCode=\"...\"/>"
                    ),
                );
            }
        }
        if !self.report.found.is_empty() {
            return;
        }
        // Specs are not shared yet, so `make_mut` never copies. An explicit
        // stack: nesting depth does not make this recurse.
        let errors = &self.errors;
        let mut stack: Vec<&mut ProcessSpec> = self.processes.iter_mut().map(Arc::make_mut).collect();
        while let Some(spec) = stack.pop() {
            for node in &mut spec.nodes {
                match &mut node.kind {
                    NodeKind::SubProcess(inner) | NodeKind::EventSubProcess(inner) => stack.push(Arc::make_mut(inner)),
                    NodeKind::ErrorStartEvent(event)
                    | NodeKind::ErrorEndEvent(event)
                    | NodeKind::BoundaryEvent { error: event, .. } => {
                        event.error = event.error_ref.as_ref().and_then(|r| errors.get(r)).cloned();
                    }
                    _ => {}
                }
            }
        }
    }

    fn report_loops(&mut self, head: &Head) {
        for name in &head.loops {
            self.report.report(
                head.position,
                head.id.as_deref(),
                format!("unsupported loop: `{name}` (loops and multi-instance activities are not supported yet)"),
            );
        }
    }

    /// The scope the innermost open element belongs to.
    fn scope_mut(&mut self) -> Option<&mut ScopeDraft> {
        match self.stack.last_mut() {
            Some((_, Frame::Scope(s))) => Some(&mut s.draft),
            _ => None,
        }
    }

    fn collecting(&self) -> bool {
        matches!(self.stack.last(), Some((_, Frame::Text(..))))
    }

    fn push_text(&mut self, text: &str, file_offset: usize) {
        if let Some((_, Frame::Text(t, _))) = self.stack.last_mut() {
            t.push(text, file_offset);
        }
    }

    /// Resolves `&name;` or `&#N;`; anything but the five XML entities and
    /// character references is an error, as there is no DTD to declare more.
    fn reference(&self, r: &BytesRef<'_>, offset: usize) -> Result<String, Diagnostic> {
        let bad = |detail: String| self.fatal(offset, format!("XML error: {detail}"));
        let name = r.decode().map_err(|e| self.xml_error(&e.into(), offset))?;
        match r.resolve_char_ref() {
            Ok(Some(c)) => Ok(c.to_string()),
            Ok(None) => match quick_xml::escape::resolve_xml_entity(&name) {
                Some(s) => Ok(s.to_owned()),
                None => Err(bad(unknown_entity(&name))),
            },
            Err(e) => Err(bad(format!("invalid character reference `&{name};`: {e}"))),
        }
    }

    /// The end of the input: every element must have been closed.
    fn eof(&mut self) -> Result<(), Diagnostic> {
        if let Some(&(offset, _)) = self.stack.last() {
            let name: String = (self.input.get(offset + 1..).unwrap_or_default().chars())
                .take_while(|c| !c.is_whitespace() && !matches!(c, '>' | '/'))
                .collect();
            let opened = self.lines.position(offset);
            let message = format!(
                "XML error: the file ends inside element `{name}` (opened at {opened}); \
                 the file may be truncated"
            );
            return Err(self.fatal(self.input.len(), message));
        }
        if !self.root_closed {
            let message = if self.input.trim().is_empty() {
                "not a BPMN 2.0 file: the file is empty"
            } else {
                "not a BPMN 2.0 file: there is no root element"
            };
            return Err(self.fatal(self.input.len(), message.into()));
        }
        Ok(())
    }

    /// The attributes of a start tag. All of them are checked for
    /// well-formedness; those the parser uses are decoded when `read`.
    fn attrs(&self, decoder: Decoder, e: &BytesStart<'_>, offset: usize, read: bool) -> Result<Attrs, Diagnostic> {
        let mut attrs = Attrs::default();
        for attr in e.attributes() {
            let attr = attr.map_err(|err| self.xml_error(&err.into(), offset))?;
            if !read {
                continue;
            }
            let slot = match attr.key.as_ref() {
                b"id" => &mut attrs.id,
                b"name" => &mut attrs.name,
                b"isExecutable" => &mut attrs.is_executable,
                b"sourceRef" => &mut attrs.source_ref,
                b"targetRef" => &mut attrs.target_ref,
                b"default" => &mut attrs.default,
                b"scriptFormat" => &mut attrs.script_format,
                b"calledElement" => &mut attrs.called_element,
                b"triggeredByEvent" => &mut attrs.triggered_by_event,
                b"attachedToRef" => &mut attrs.attached_to_ref,
                b"cancelActivity" => &mut attrs.cancel_activity,
                b"isInterrupting" => &mut attrs.is_interrupting,
                b"errorRef" => &mut attrs.error_ref,
                b"errorCode" => &mut attrs.error_code,
                b"resultVariable" => &mut attrs.result_variable,
                b"value" => &mut attrs.value,
                b"type" => &mut attrs.kind,
                _ => continue,
            };
            let value = attr.decode_and_unescape_value(decoder).map_err(|err| {
                let key = String::from_utf8_lossy(attr.key.as_ref());
                let detail = match err {
                    quick_xml::Error::Escape(EscapeError::UnrecognizedEntity(_, name)) => unknown_entity(&name),
                    other => other.to_string(),
                };
                self.fatal(offset, format!("XML error: in attribute `{key}`: {detail}"))
            })?;
            *slot = Some(value.into_owned());
        }
        Ok(attrs)
    }

    /// The offset of the `<` of the tag just read, which starts where the
    /// previous event ended (text is always reported, so nothing lies between).
    fn tag_offset(&self, before: usize) -> usize {
        let rest = self.input.as_bytes().get(before..).unwrap_or_default();
        before + rest.iter().position(|&b| b == b'<').unwrap_or(0)
    }

    fn xml_error(&self, e: &quick_xml::Error, offset: usize) -> Diagnostic {
        let hint = match e {
            quick_xml::Error::Syntax(_) => "; the file may be truncated",
            _ => "",
        };
        self.fatal(offset, format!("XML error: {e}{hint}"))
    }

    fn fatal(&self, offset: usize, message: String) -> Diagnostic {
        self.report.diagnostic(self.lines.position(offset), None, message)
    }
}

fn unknown_entity(name: &str) -> String {
    format!(
        "unknown entity `&{name};` (XML defines only &lt; &gt; &amp; &apos; &quot; \
         and character references such as &#160;)"
    )
}

fn loop_name(local: &[u8]) -> &'static str {
    if local == b"standardLoopCharacteristics" {
        "standardLoopCharacteristics"
    } else {
        "multiInstanceLoopCharacteristics"
    }
}

fn offset(position: u64) -> usize {
    usize::try_from(position).unwrap_or(usize::MAX)
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
