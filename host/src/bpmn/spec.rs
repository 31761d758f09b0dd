//! Process specs: the parsed, validated form of a BPMN diagram.
//!
//! A *spec* describes what can happen; the engine's *tasks* are executions of
//! spec nodes. Specs are plain data, index-linked (no pointers between nodes),
//! so a 100,000-node chain is a flat vector, and they are shared between
//! instances behind an `Arc`.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use super::message::{MessageDef, MessageEvent, Retrieval, SignalDef, SignalEvent};
pub use super::timer::{Cycle, Schedule, TimerDef, TimerKind};

/// Where an element starts in its file (1-based line and column).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Index of a node in its [`ProcessSpec::nodes`].
pub type NodeIdx = usize;
/// Index of a flow in its [`ProcessSpec::flows`].
pub type FlowIdx = usize;

/// One parsed BPMN file.
#[derive(Debug, Clone)]
pub struct Diagram {
    /// The file it was read from (as given by the user).
    pub file: PathBuf,
    /// Its top-level processes, in document order.
    pub processes: Vec<Arc<ProcessSpec>>,
    /// Its collaborations (pools), in document order.
    pub collaborations: Vec<Collaboration>,
}

/// A `collaboration`: the pools of a diagram, which run as one instance.
#[derive(Debug, Clone)]
pub struct Collaboration {
    /// The element id.
    pub id: String,
    /// The `name` attribute, if any.
    pub name: Option<String>,
    /// Where the element starts.
    pub position: Position,
    /// Its participants that name a process, in document order.
    pub participants: Vec<Participant>,
}

/// A pool: a `participant` of a collaboration, run by a process.
#[derive(Debug, Clone)]
pub struct Participant {
    /// The element id.
    pub id: String,
    /// The `name` attribute, if any.
    pub name: Option<String>,
    /// The id of the process it runs (`processRef`), defined in the same file.
    pub process: String,
    /// Where the element starts.
    pub position: Position,
}

/// A process, or the inside of an embedded subprocess: nodes joined by flows.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    /// The element id (`bpmn:process` or `bpmn:subProcess`).
    pub id: String,
    /// The `name` attribute, if any.
    pub name: Option<String>,
    /// `isExecutable` (processes only; `false` when absent).
    pub executable: bool,
    /// `isExecutable="false"` written: a process only called, never started
    /// by name (absent, it may be started, as most modelers omit it).
    pub callable_only: bool,
    /// The file this spec comes from.
    pub file: Arc<PathBuf>,
    /// Where the element starts.
    pub position: Position,
    /// Flow nodes in document order.
    pub nodes: Vec<NodeSpec>,
    /// Sequence flows in document order.
    pub flows: Vec<FlowSpec>,
    /// The none start events where an instance of this scope begins.
    pub starts: Vec<NodeIdx>,
    /// The nodes with an id, sorted by id (see [`ProcessSpec::node_index`]):
    /// a word per node, where a map would hold a second copy of every id.
    pub(super) index: Vec<NodeIdx>,
    /// The event subprocesses of this scope (nodes of kind
    /// [`NodeKind::EventSubProcess`]), in document order.
    pub event_subprocesses: Vec<NodeIdx>,
    /// A process's message, signal and timer start events: where an
    /// instance of a deployed process begins when that message or signal
    /// arrives or that timer falls due (a process run directly whose only
    /// starts are timer start events waits at them).
    pub event_starts: Vec<NodeIdx>,
    /// A `transaction`: its cancel end events cancel it, compensating what
    /// it completed, and leave through its cancel boundary event.
    pub transaction: bool,
    /// The parallel joins a loop feeds (an incoming flow on a cycle through
    /// the join), ascending: they fire once no more tokens can arrive, as
    /// SpiffWorkflow's do, where strict BPMN would wait for the loop forever.
    pub loop_fed_joins: Vec<NodeIdx>,
    /// The `dataObject`s declared directly in this scope, by id: values
    /// its tasks (and those of its subprocesses) share.
    pub data_objects: Vec<String>,
}

impl ProcessSpec {
    /// The event subprocess that compensates this scope (the one a
    /// compensation start event starts), if it has one.
    pub fn compensation_subprocess(&self) -> Option<NodeIdx> {
        (self.event_subprocesses.iter().copied()).find(|&e| match &self.nodes[e].kind {
            NodeKind::EventSubProcess(inner) => inner.is_compensation_subprocess(),
            _ => false,
        })
    }

    /// Whether this is the inside of a compensation event subprocess.
    pub fn is_compensation_subprocess(&self) -> bool {
        (self.starts.iter()).any(|&s| matches!(self.nodes[s].kind, NodeKind::CompensationStartEvent))
    }

    /// The index of the node with this element id.
    pub fn node_index(&self, id: &str) -> Option<NodeIdx> {
        let found = self.index.binary_search_by(|&n| self.nodes[n].id.as_str().cmp(id));
        found.ok().map(|at| self.index[at])
    }

    /// The node with this element id.
    pub fn node(&self, id: &str) -> Option<&NodeSpec> {
        self.node_index(id).map(|n| &self.nodes[n])
    }

    /// What the error start event of an event subprocess catches (`None`
    /// for any other scope).
    pub fn error_start(&self) -> Option<&ErrorEvent> {
        self.starts.iter().find_map(|&s| match &self.nodes[s].kind {
            NodeKind::ErrorStartEvent(error) => Some(error),
            _ => None,
        })
    }
}

/// A flow node: an event, an activity or a gateway.
///
/// A diagram may have 100,000 of these: what few nodes have (hooks, a service
/// call, an error definition) is boxed, so that a node costs what most need,
/// and its lists are boxed slices, allocated at their size.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// The element id.
    pub id: String,
    /// The `name` attribute, if any.
    pub name: Option<String>,
    /// What kind of node it is.
    pub kind: NodeKind,
    /// Incoming sequence flows.
    pub incoming: Box<[FlowIdx]>,
    /// Outgoing sequence flows, in document order (the order conditions are tried).
    pub outgoing: Box<[FlowIdx]>,
    /// The `default` flow of a gateway or activity.
    pub default_flow: Option<FlowIdx>,
    /// Where the element starts.
    pub position: Position,
    /// `spiffworkflow:preScript` (activities only): inline code run on the
    /// task's data before the task does its work.
    pub pre_script: Option<Box<Script>>,
    /// `spiffworkflow:postScript` (activities only): inline code run on the
    /// task's resulting data before it leaves along its outgoing flows.
    pub post_script: Option<Box<Script>>,
    /// The boundary events attached to this activity, in document order.
    pub boundaries: Box<[NodeIdx]>,
    /// `standardLoopCharacteristics` (activities only): it runs pass after pass.
    pub looping: Option<Box<StandardLoop>>,
    /// `multiInstanceLoopCharacteristics` (activities only): it runs once per instance.
    pub multi: Option<Box<MultiInstance>>,
    /// Its data associations (activities only): the data objects it reads and writes.
    pub data: Option<Box<DataAssociations>>,
}

/// The data objects an activity reads (`dataInputAssociation`) and writes
/// (`dataOutputAssociation`), by data object id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataAssociations {
    /// Copied into the task's data when it is reached, under their ids.
    pub inputs: Vec<String>,
    /// Taken out of the task's data when it completes, into the data objects.
    pub outputs: Vec<String>,
}

/// A `multiInstanceLoopCharacteristics`: the activity runs as several
/// instances, one per element of a collection or as many as a cardinality
/// says, one after the other or all at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiInstance {
    /// `isSequential`: one instance at a time, else all at once.
    pub sequential: bool,
    /// How many instances run, and on what.
    pub over: Instances,
    /// `inputDataItem`: the variable each instance finds its element in.
    pub input_item: Option<String>,
    /// `loopDataOutputRef`: the variable the instances' results are gathered in.
    pub output: Option<String>,
    /// `outputDataItem`: the variable of an instance's data that is its result.
    pub output_item: Option<String>,
    /// `completionCondition`: a Python-dialect expression evaluated after
    /// each instance; once it holds, the instances still running are
    /// cancelled and no more start.
    pub completion: Option<String>,
    /// `spiffworkflow:scriptsOnInstances="true"`: the activity's pre- and
    /// post-scripts run on each instance rather than once around them all.
    pub scripts_on_instances: bool,
}

/// What decides the instances of a multi-instance activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instances {
    /// `loopCardinality` written as a whole number.
    Count(u64),
    /// `loopCardinality` as an expression, evaluated when the activity is reached.
    Cardinality(String),
    /// `loopDataInputRef`: the variable holding the collection (a list, or
    /// an object whose entries are the elements).
    Collection(String),
}

/// A `standardLoopCharacteristics`: the activity runs again, pass after
/// pass, each on the data the last one ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandardLoop {
    /// `loopCondition`: a Python-dialect expression on the data after a
    /// pass (before it, with `test_before`); another pass runs while it holds.
    pub condition: Option<String>,
    /// `loopMaximum`: at most this many passes.
    pub maximum: Option<u64>,
    /// `testBefore`: decided before each pass, the first too; else after
    /// each, so that it runs at least once.
    pub test_before: bool,
}

/// The kinds of node this engine runs.
#[derive(Debug, Clone)]
pub enum NodeKind {
    /// `startEvent` with no event definition.
    StartEvent,
    /// `startEvent` with an `errorEventDefinition`: starts an event subprocess
    /// when a matching error is thrown in the enclosing scope.
    ErrorStartEvent(ErrorEvent),
    /// `startEvent` with a `timerEventDefinition`, in an event subprocess:
    /// starts it when the timer falls due while its enclosing scope runs.
    TimerStartEvent {
        /// When it fires.
        timer: Box<TimerDef>,
        /// `isInterrupting` (default true): firing cancels the rest of the
        /// enclosing scope. A non-interrupting one starts the event subprocess
        /// beside it, and a cycle again at each occurrence.
        interrupting: bool,
    },
    /// `startEvent` with a `messageEventDefinition`, in an event subprocess:
    /// starts it when the message arrives while its enclosing scope runs.
    MessageStartEvent {
        /// What it waits for.
        message: Box<MessageEvent>,
        /// `isInterrupting` (default true), as for timer start events.
        interrupting: bool,
    },
    /// `startEvent` with a `signalEventDefinition`, in an event subprocess:
    /// starts it when the signal is broadcast while its enclosing scope runs.
    SignalStartEvent {
        /// What it waits for.
        signal: Box<SignalEvent>,
        /// `isInterrupting` (default true), as for timer start events.
        interrupting: bool,
    },
    /// `endEvent`; `terminate` when it has a `terminateEventDefinition`.
    EndEvent {
        /// Ends the whole scope, cancelling whatever else is active in it.
        terminate: bool,
    },
    /// `endEvent` with a `messageEventDefinition`: sends the message, then
    /// ends its path.
    MessageEndEvent(Box<MessageEvent>),
    /// `endEvent` with a `signalEventDefinition`: broadcasts the signal, then
    /// ends its path.
    SignalEndEvent(Box<SignalEvent>),
    /// `endEvent` with an `errorEventDefinition`: throws the error to the
    /// enclosing subprocess or call activity.
    ErrorEndEvent(ErrorEvent),
    /// `boundaryEvent` with an `errorEventDefinition` (always interrupting):
    /// catches matching errors thrown by (or inside) the activity it is attached to.
    BoundaryEvent {
        /// The activity it is attached to (`attachedToRef`), in the same scope.
        attached_to: NodeIdx,
        /// What it catches.
        error: ErrorEvent,
    },
    /// `boundaryEvent` with a `timerEventDefinition`: fires when its timer
    /// falls due while the activity it is attached to runs.
    TimerBoundaryEvent {
        /// The activity it is attached to (`attachedToRef`), in the same scope.
        attached_to: NodeIdx,
        /// When it fires.
        timer: Box<TimerDef>,
        /// `cancelActivity` (default true): firing cancels the activity. A
        /// non-interrupting one starts its path each time it fires, and a cycle
        /// fires again while the activity runs.
        interrupting: bool,
    },
    /// `boundaryEvent` with a `messageEventDefinition`: fires when the
    /// message arrives while the activity it is attached to runs.
    MessageBoundaryEvent {
        /// The activity it is attached to (`attachedToRef`), in the same scope.
        attached_to: NodeIdx,
        /// What it waits for.
        message: Box<MessageEvent>,
        /// `cancelActivity` (default true): arriving cancels the activity. A
        /// non-interrupting one starts its path at each message that arrives
        /// while the activity runs.
        interrupting: bool,
    },
    /// `boundaryEvent` with a `signalEventDefinition`: fires when the
    /// signal is broadcast while the activity it is attached to runs.
    SignalBoundaryEvent {
        /// The activity it is attached to (`attachedToRef`), in the same scope.
        attached_to: NodeIdx,
        /// What it waits for.
        signal: Box<SignalEvent>,
        /// `cancelActivity` (default true), as for message boundary events.
        interrupting: bool,
    },
    /// `intermediateCatchEvent` with a `timerEventDefinition`: the token
    /// waits until the timer falls due.
    TimerCatchEvent(Box<TimerDef>),
    /// `intermediateCatchEvent` with a `messageEventDefinition`: the token
    /// waits for the message.
    MessageCatchEvent(Box<MessageEvent>),
    /// `intermediateCatchEvent` with a `signalEventDefinition`: the token
    /// waits for the signal.
    SignalCatchEvent(Box<SignalEvent>),
    /// `intermediateThrowEvent` with a `signalEventDefinition`: broadcasts
    /// the signal and goes on.
    SignalThrowEvent(Box<SignalEvent>),
    /// `intermediateThrowEvent` with no event definition: passes the token on.
    ThrowEvent,
    /// `intermediateThrowEvent` with an `escalationEventDefinition`: throws
    /// the escalation to the innermost catch and, unless that interrupts
    /// it, goes on.
    EscalationThrowEvent(ErrorEvent),
    /// `endEvent` with an `escalationEventDefinition`: throws the escalation
    /// and ends its path.
    EscalationEndEvent(ErrorEvent),
    /// `boundaryEvent` with an `escalationEventDefinition`: catches an
    /// escalation thrown inside its activity.
    EscalationBoundaryEvent {
        /// The activity it is attached to (resolved when its scope closes).
        attached_to: NodeIdx,
        /// What it catches (an escalation without code: any).
        escalation: ErrorEvent,
        /// `cancelActivity` (default true); a non-interrupting one runs its
        /// path beside the activity, which goes on.
        interrupting: bool,
    },
    /// `startEvent` with an `escalationEventDefinition`, in an event
    /// subprocess: starts it when an escalation is thrown in its scope.
    EscalationStartEvent {
        /// What it catches.
        escalation: ErrorEvent,
        /// `isInterrupting` (default true).
        interrupting: bool,
    },
    /// `intermediateCatchEvent` with a `conditionalEventDefinition`: the
    /// token waits until its condition holds.
    ConditionalCatchEvent(Box<ConditionEvent>),
    /// `boundaryEvent` with a `conditionalEventDefinition`: fires when its
    /// condition comes to hold while the activity it is attached to runs.
    ConditionalBoundaryEvent {
        /// The activity it is attached to (`attachedToRef`), in the same scope.
        attached_to: NodeIdx,
        /// When it fires.
        condition: Box<ConditionEvent>,
        /// `cancelActivity` (default true); a non-interrupting one runs its
        /// path beside the activity each time the condition comes to hold.
        interrupting: bool,
    },
    /// `startEvent` with a `conditionalEventDefinition`: in an event
    /// subprocess, starts it when its condition comes to hold while the
    /// enclosing scope runs; starting a process, the instance waits there
    /// until it holds.
    ConditionalStartEvent {
        /// When it fires.
        condition: Box<ConditionEvent>,
        /// `isInterrupting` (default true).
        interrupting: bool,
    },
    /// `boundaryEvent` with a `compensateEventDefinition`: not a path out of
    /// its activity but the mark of what undoes it, once it has completed.
    CompensationBoundaryEvent {
        /// The activity it is attached to (`attachedToRef`), in the same scope.
        attached_to: NodeIdx,
        /// The activity that compensates it (`isForCompensation`), joined
        /// to this event by an association (resolved when its scope closes).
        handler: NodeIdx,
    },
    /// `startEvent` with a `compensateEventDefinition`, in an event
    /// subprocess: when the subprocess (or called process) around that
    /// event subprocess is compensated, the event subprocess runs instead
    /// of the handlers of what completed inside it.
    CompensationStartEvent,
    /// `intermediateCatchEvent` with several event definitions (BPMN's
    /// multiple and parallel multiple events): the token waits for the
    /// first of them, or, `parallel`, for all.
    MultipleCatchEvent(Box<MultipleEvent>),
    /// `boundaryEvent` with several event definitions: fires on the first
    /// of them, or, `parallel`, once all have happened while its activity runs.
    MultipleBoundaryEvent {
        /// The activity it is attached to (`attachedToRef`), in the same scope.
        attached_to: NodeIdx,
        /// What it waits for.
        event: Box<MultipleEvent>,
        /// `cancelActivity` (default true).
        interrupting: bool,
    },
    /// `startEvent` with several event definitions, in an event
    /// subprocess: starts it on the first of them, or, `parallel`, once all
    /// have happened.
    MultipleStartEvent {
        /// What it waits for.
        event: Box<MultipleEvent>,
        /// `isInterrupting` (default true).
        interrupting: bool,
    },
    /// `intermediateThrowEvent` with several event definitions: throws each,
    /// then goes on. The parts are the event as if each definition were its
    /// only one, messages and signals in document order, an escalation last
    /// (it may end the thrower).
    MultipleThrowEvent(Vec<NodeKind>),
    /// `endEvent` with several event definitions: throws each, as
    /// [`NodeKind::MultipleThrowEvent`] does, then ends its path.
    MultipleEndEvent(Vec<NodeKind>),
    /// `intermediateThrowEvent` with a `compensateEventDefinition`: runs
    /// the handlers of what its scope completed, latest first, then goes on.
    CompensationThrowEvent {
        /// `activityRef`: only that activity is compensated; none, every
        /// activity of the scope.
        activity: Option<NodeIdx>,
    },
    /// `endEvent` with a `compensateEventDefinition`: compensates as a
    /// throw event does, then ends its path.
    CompensationEndEvent {
        /// `activityRef`, as for [`NodeKind::CompensationThrowEvent`].
        activity: Option<NodeIdx>,
    },
    /// `endEvent` with a `cancelEventDefinition`, inside a transaction:
    /// cancels it, compensates what it completed, and leaves it through
    /// its cancel boundary event.
    CancelEndEvent,
    /// `boundaryEvent` with a `cancelEventDefinition`, on a transaction:
    /// the path taken once a cancel end event cancelled it.
    CancelBoundaryEvent {
        /// The transaction it is attached to (`attachedToRef`), in the same scope.
        attached_to: NodeIdx,
    },
    /// `intermediateThrowEvent` with a `linkEventDefinition`: the token
    /// jumps to the catch link of the same name in the same process level.
    LinkThrowEvent {
        /// The link's name.
        name: String,
        /// The catch link it jumps to (resolved when its scope closes).
        target: NodeIdx,
    },
    /// `intermediateCatchEvent` with a `linkEventDefinition`: where throw
    /// links of its name jump to; the token goes on from here.
    LinkCatchEvent {
        /// The link's name.
        name: String,
    },
    /// `intermediateThrowEvent` with a `messageEventDefinition`: sends the
    /// message and goes on.
    MessageThrowEvent(Box<MessageEvent>),
    /// `task`: abstract, completes at once.
    Task,
    /// `manualTask`: a wait state completed from outside.
    ManualTask,
    /// `userTask`: a wait state completed from outside.
    UserTask {
        /// `spiffworkflow:variableName`: the data it is completed with goes
        /// under this name instead of being merged into its data.
        variable: Option<String>,
    },
    /// `scriptTask`: runs user code in the sandbox.
    ScriptTask(Script),
    /// `receiveTask`: waits for its message.
    ReceiveTask(Box<MessageEvent>),
    /// `sendTask`: sends its message and goes on.
    SendTask(Box<MessageEvent>),
    /// `serviceTask` with a `spiffworkflow:serviceTaskOperator`: calls an operation.
    ServiceTask(Box<ServiceCall>),
    /// `exclusiveGateway`.
    ExclusiveGateway,
    /// `parallelGateway`.
    ParallelGateway,
    /// `inclusiveGateway`.
    InclusiveGateway,
    /// `eventBasedGateway`: its flows lead to catch events; the first of
    /// them to happen takes the token, and the others are cancelled.
    EventBasedGateway,
    /// An embedded `subProcess`.
    SubProcess(Arc<ProcessSpec>),
    /// A `subProcess triggeredByEvent="true"`: not on any flow; starts when an
    /// error its start event catches is thrown in the enclosing scope.
    EventSubProcess(Arc<ProcessSpec>),
    /// A `callActivity` starting the process with id `called_element`.
    CallActivity {
        /// The `calledElement` attribute.
        called_element: String,
    },
}

impl NodeKind {
    /// The event definitions of a multiple or parallel multiple event.
    pub fn multiple(&self) -> Option<&MultipleEvent> {
        match self {
            NodeKind::MultipleCatchEvent(event)
            | NodeKind::MultipleBoundaryEvent { event, .. }
            | NodeKind::MultipleStartEvent { event, .. } => Some(event),
            _ => None,
        }
    }

    /// The timer of a timer event (or of a multiple event's timer definition).
    pub fn timer(&self) -> Option<&TimerDef> {
        match self {
            NodeKind::TimerCatchEvent(timer)
            | NodeKind::TimerBoundaryEvent { timer, .. }
            | NodeKind::TimerStartEvent { timer, .. } => Some(timer),
            _ => self.multiple()?.parts.iter().find_map(NodeKind::timer),
        }
    }

    /// The condition of a conditional event (a catch, boundary or start
    /// event, or a multiple event's conditional definition).
    pub fn condition(&self) -> Option<&ConditionEvent> {
        match self {
            NodeKind::ConditionalCatchEvent(condition)
            | NodeKind::ConditionalBoundaryEvent { condition, .. }
            | NodeKind::ConditionalStartEvent { condition, .. } => Some(condition),
            _ => self.multiple()?.parts.iter().find_map(NodeKind::condition),
        }
    }

    /// The message a message catch waits for (a catch or start event, a
    /// boundary event, a receive task, a multiple event's message definition).
    pub fn message_catch(&self) -> Option<&MessageEvent> {
        match self {
            NodeKind::MessageCatchEvent(message)
            | NodeKind::ReceiveTask(message)
            | NodeKind::MessageBoundaryEvent { message, .. }
            | NodeKind::MessageStartEvent { message, .. } => Some(message),
            _ => self.multiple()?.parts.iter().find_map(NodeKind::message_catch),
        }
    }

    /// The message a throw sends (a throw or end event, a send task).
    pub fn message_throw(&self) -> Option<&MessageEvent> {
        match self {
            NodeKind::MessageThrowEvent(message) | NodeKind::MessageEndEvent(message) | NodeKind::SendTask(message) => {
                Some(message)
            }
            _ => self.thrown()?.iter().find_map(NodeKind::message_throw),
        }
    }

    /// The signal a signal catch waits for (a catch, boundary or start
    /// event, a multiple event's signal definition).
    pub fn signal_catch(&self) -> Option<&SignalEvent> {
        match self {
            NodeKind::SignalCatchEvent(signal)
            | NodeKind::SignalBoundaryEvent { signal, .. }
            | NodeKind::SignalStartEvent { signal, .. } => Some(signal),
            _ => self.multiple()?.parts.iter().find_map(NodeKind::signal_catch),
        }
    }

    /// The signal a throw broadcasts (a throw or end event).
    pub fn signal_throw(&self) -> Option<&SignalEvent> {
        match self {
            NodeKind::SignalThrowEvent(signal) | NodeKind::SignalEndEvent(signal) => Some(signal),
            _ => self.thrown()?.iter().find_map(NodeKind::signal_throw),
        }
    }

    /// What a throw or end event with several event definitions throws.
    pub fn thrown(&self) -> Option<&[NodeKind]> {
        match self {
            NodeKind::MultipleThrowEvent(parts) | NodeKind::MultipleEndEvent(parts) => Some(parts),
            _ => None,
        }
    }

    /// The BPMN element name, as shown to users (`scriptTask`, `exclusiveGateway`, ...).
    pub fn element_name(&self) -> &'static str {
        match self {
            NodeKind::StartEvent
            | NodeKind::ErrorStartEvent(_)
            | NodeKind::TimerStartEvent { .. }
            | NodeKind::MessageStartEvent { .. }
            | NodeKind::SignalStartEvent { .. }
            | NodeKind::EscalationStartEvent { .. }
            | NodeKind::ConditionalStartEvent { .. }
            | NodeKind::MultipleStartEvent { .. }
            | NodeKind::CompensationStartEvent => "startEvent",
            NodeKind::EndEvent { .. }
            | NodeKind::ErrorEndEvent(_)
            | NodeKind::MessageEndEvent(_)
            | NodeKind::SignalEndEvent(_)
            | NodeKind::EscalationEndEvent(_)
            | NodeKind::CompensationEndEvent { .. }
            | NodeKind::MultipleEndEvent(_)
            | NodeKind::CancelEndEvent => "endEvent",
            NodeKind::BoundaryEvent { .. }
            | NodeKind::TimerBoundaryEvent { .. }
            | NodeKind::MessageBoundaryEvent { .. }
            | NodeKind::SignalBoundaryEvent { .. }
            | NodeKind::EscalationBoundaryEvent { .. }
            | NodeKind::ConditionalBoundaryEvent { .. }
            | NodeKind::CompensationBoundaryEvent { .. }
            | NodeKind::MultipleBoundaryEvent { .. }
            | NodeKind::CancelBoundaryEvent { .. } => "boundaryEvent",
            NodeKind::TimerCatchEvent(_)
            | NodeKind::MessageCatchEvent(_)
            | NodeKind::SignalCatchEvent(_)
            | NodeKind::LinkCatchEvent { .. }
            | NodeKind::ConditionalCatchEvent(_)
            | NodeKind::MultipleCatchEvent(_) => "intermediateCatchEvent",
            NodeKind::ThrowEvent
            | NodeKind::MessageThrowEvent(_)
            | NodeKind::SignalThrowEvent(_)
            | NodeKind::LinkThrowEvent { .. }
            | NodeKind::EscalationThrowEvent(_)
            | NodeKind::MultipleThrowEvent(_)
            | NodeKind::CompensationThrowEvent { .. } => "intermediateThrowEvent",
            NodeKind::ReceiveTask(_) => "receiveTask",
            NodeKind::SendTask(_) => "sendTask",
            NodeKind::ServiceTask(_) => "serviceTask",
            NodeKind::Task => "task",
            NodeKind::ManualTask => "manualTask",
            NodeKind::UserTask { .. } => "userTask",
            NodeKind::ScriptTask(_) => "scriptTask",
            NodeKind::ExclusiveGateway => "exclusiveGateway",
            NodeKind::ParallelGateway => "parallelGateway",
            NodeKind::InclusiveGateway => "inclusiveGateway",
            NodeKind::EventBasedGateway => "eventBasedGateway",
            NodeKind::SubProcess(inner) if inner.transaction => "transaction",
            NodeKind::SubProcess(_) | NodeKind::EventSubProcess(_) => "subProcess",
            NodeKind::CallActivity { .. } => "callActivity",
        }
    }
}

/// The event definitions of a multiple or parallel multiple catch event.
#[derive(Debug, Clone)]
pub struct MultipleEvent {
    /// One kind per event definition, in document order, each the event
    /// as if that were its only definition (a timer catch, a message
    /// boundary event, ...); at most one of each kind of definition.
    pub parts: Vec<NodeKind>,
    /// `parallelMultiple="true"`: it fires once every part has happened,
    /// not on the first.
    pub parallel: bool,
}

/// A `conditionalEventDefinition`: the expression that makes its event fire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionEvent {
    /// The `condition` text (trimmed), evaluated in the sandbox.
    pub expression: String,
    /// The line of the `condition` element in the file.
    pub line: u32,
    /// The names the expression mentions, sorted: only a change to a
    /// variable of one of these names makes it be evaluated again.
    pub names: Box<[String]>,
}

impl ConditionEvent {
    /// The condition `expression`, written at `line`.
    pub fn new(expression: String, line: u32) -> ConditionEvent {
        let mut names: Vec<String> = Vec::new();
        let mut rest = expression.as_str();
        while let Some(start) = rest.find(|c: char| c.is_alphabetic() || c == '_') {
            // A name starts where no digit or letter precedes it (`1e5` is a number).
            let preceded = rest[..start].chars().next_back().is_some_and(|c| c.is_alphanumeric());
            let tail = &rest[start..];
            let len = tail
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            if !preceded {
                names.push(tail[..len].to_string());
            }
            rest = &tail[len..];
        }
        names.sort();
        names.dedup();
        ConditionEvent {
            expression,
            line,
            names: names.into_boxed_slice(),
        }
    }

    /// Whether a change to the variable `name` may change what it gives.
    pub fn mentions(&self, name: &str) -> bool {
        self.names.binary_search_by(|n| n.as_str().cmp(name)).is_ok()
    }
}

/// The code a script task runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Script {
    /// `scriptFormat="wasm"`: the script body names a compiled plugin.
    Plugin {
        /// The plugin name (resolved as `NAME.wasm` in the plugin directory).
        name: String,
    },
    /// Inline source for the built-in Python-dialect interpreter
    /// (no scriptFormat, `python` or `starlark`).
    Inline {
        /// The script text, with the XML entities decoded.
        source: String,
        /// The line in the BPMN file where the source text starts.
        line: u32,
    },
}

/// What a service task calls (SpiffWorkflow's `spiffworkflow:serviceTaskOperator`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceCall {
    /// The operation name (the operator's `id`).
    pub operation: String,
    /// The parameters, in document order.
    pub params: Vec<ServiceParam>,
    /// Where the result goes in the task data: the operator's `resultVariable`,
    /// or SpiffWorkflow's default `spiff__<task id>_result` (with `-` made `_`).
    pub result_variable: String,
}

/// One `spiffworkflow:parameter` of a service call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceParam {
    /// The parameter name (`id`), the key in the call's `params`.
    pub id: String,
    /// The declared `type` (informative: the value is passed as evaluated).
    pub kind: Option<String>,
    /// An expression in the Python dialect, evaluated against the task data.
    pub value: String,
    /// The line of the parameter element in the file.
    pub line: u32,
}

/// A root `bpmn:error` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorDef {
    /// The element id (what `errorRef` names).
    pub id: String,
    /// The `name` attribute.
    pub name: Option<String>,
    /// The `errorCode` attribute; an error without one catches any code.
    pub code: Option<String>,
    /// `spiffworkflow:variableName`: where a catch event puts the payload.
    pub variable: Option<String>,
    /// `spiffworkflow:payloadExpression`: what an error end event throws as
    /// payload, evaluated against its data.
    pub payload: Option<String>,
}

/// An `errorEventDefinition`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorEvent {
    /// Its `errorRef`; none catches every error (or throws one without code).
    pub error_ref: Option<String>,
    /// The error it names, once resolved (the parser resolves every `errorRef`
    /// of a diagram that parses).
    pub error: Option<Box<ErrorDef>>,
}

impl ErrorEvent {
    /// The code a catch event matches; `None` catches any error.
    pub fn code(&self) -> Option<&str> {
        self.error.as_ref().and_then(|e| e.code.as_deref())
    }

    /// Whether a catch event with this definition catches an error thrown with `code`.
    pub fn catches(&self, code: Option<&str>) -> bool {
        self.code().is_none_or(|c| Some(c) == code)
    }
}

/// A sequence flow.
#[derive(Debug, Clone)]
pub struct FlowSpec {
    /// The element id.
    pub id: String,
    /// The `name` attribute, if any.
    pub name: Option<String>,
    /// The source node.
    pub source: NodeIdx,
    /// The target node.
    pub target: NodeIdx,
    /// A `conditionExpression` in the Python dialect, if any.
    pub condition: Option<String>,
    /// Where the element starts.
    pub position: Position,
}
