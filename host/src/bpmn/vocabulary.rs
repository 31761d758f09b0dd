//! The BPMN vocabulary the parser reads: namespaces, the flow elements by
//! family (each family is read by one module of `elements`), the flow
//! elements it reports as unsupported, and the attributes it decodes. An
//! element the engine learns to run starts here.

use super::extensions::{self, Vendor};

/// The BPMN 2.0 model namespace.
pub(super) const BPMN_NS: &str = "http://www.omg.org/spec/BPMN/20100524/MODEL";

/// The namespace of an element, as far as the parser cares. Elements are
/// matched by namespace URI, never by prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ns {
    /// The BPMN 2.0 model.
    Bpmn,
    /// A modeler whose extensions are read.
    Vendor(Vendor),
    /// Any other namespace, or none.
    Other,
}

/// The namespace a bound URI names.
pub(super) fn namespace(uri: &[u8]) -> Ns {
    if uri == BPMN_NS.as_bytes() {
        Ns::Bpmn
    } else {
        extensions::vendor(uri).map_or(Ns::Other, Ns::Vendor)
    }
}

/// Events (read by `elements::events`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EventElem {
    Start,
    End,
    Boundary,
    IntermediateCatch,
    IntermediateThrow,
}

/// Tasks (read by `elements::tasks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TaskElem {
    Task,
    Manual,
    User,
    Script,
    Service,
    Receive,
    Send,
}

/// Gateways (read by `elements::gateways`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum GatewayElem {
    Exclusive,
    Parallel,
    Inclusive,
    EventBased,
}

/// The BPMN elements read as flow nodes, by family. (A subprocess is read as
/// a scope of its own, see [`FlowElement::SubProcess`].)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Elem {
    Event(EventElem),
    Task(TaskElem),
    Gateway(GatewayElem),
    /// Read by `elements::subprocesses`.
    CallActivity,
}

impl Elem {
    /// Every flow node element.
    const ALL: [Elem; 17] = [
        Elem::Event(EventElem::Start),
        Elem::Event(EventElem::End),
        Elem::Event(EventElem::Boundary),
        Elem::Event(EventElem::IntermediateCatch),
        Elem::Event(EventElem::IntermediateThrow),
        Elem::Task(TaskElem::Task),
        Elem::Task(TaskElem::Manual),
        Elem::Task(TaskElem::User),
        Elem::Task(TaskElem::Script),
        Elem::Task(TaskElem::Service),
        Elem::Task(TaskElem::Receive),
        Elem::Task(TaskElem::Send),
        Elem::Gateway(GatewayElem::Exclusive),
        Elem::Gateway(GatewayElem::Parallel),
        Elem::Gateway(GatewayElem::Inclusive),
        Elem::Gateway(GatewayElem::EventBased),
        Elem::CallActivity,
    ];

    /// Its local name in the BPMN namespace: the one place it is spelled.
    pub(super) fn name(self) -> &'static str {
        match self {
            Elem::Event(EventElem::Start) => "startEvent",
            Elem::Event(EventElem::End) => "endEvent",
            Elem::Event(EventElem::Boundary) => "boundaryEvent",
            Elem::Event(EventElem::IntermediateCatch) => "intermediateCatchEvent",
            Elem::Event(EventElem::IntermediateThrow) => "intermediateThrowEvent",
            Elem::Task(TaskElem::Task) => "task",
            Elem::Task(TaskElem::Manual) => "manualTask",
            Elem::Task(TaskElem::User) => "userTask",
            Elem::Task(TaskElem::Script) => "scriptTask",
            Elem::Task(TaskElem::Service) => "serviceTask",
            Elem::Task(TaskElem::Receive) => "receiveTask",
            Elem::Task(TaskElem::Send) => "sendTask",
            Elem::Gateway(GatewayElem::Exclusive) => "exclusiveGateway",
            Elem::Gateway(GatewayElem::Parallel) => "parallelGateway",
            Elem::Gateway(GatewayElem::Inclusive) => "inclusiveGateway",
            Elem::Gateway(GatewayElem::EventBased) => "eventBasedGateway",
            Elem::CallActivity => "callActivity",
        }
    }

    /// Whether it is an activity: what pre- and post-scripts, loops and
    /// boundary events apply to (as do subprocesses).
    pub(super) fn is_activity(self) -> bool {
        matches!(self, Elem::Task(_) | Elem::CallActivity)
    }
}

/// What a BPMN element directly inside a process or subprocess is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FlowElement {
    Node(Elem),
    SubProcess,
    /// A `transaction`: a subprocess whose cancel end events compensate it.
    Transaction,
    SequenceFlow,
    /// An `association`: an artifact, read for what joins a compensation
    /// boundary event to its handler.
    Association,
    /// A flow element of BPMN 2.0 this engine does not run (yet), by name:
    /// reported, never silently skipped.
    Unsupported(&'static str),
}

/// Flow elements of BPMN 2.0 this engine does not run (yet). Any other
/// unknown BPMN element inside a process is not a flow element (lanes, data,
/// artifacts, ...) and is skipped silently.
const UNSUPPORTED: &[&str] = &[
    "businessRuleTask",
    "implicitThrowEvent",
    "complexGateway",
    "adHocSubProcess",
    "callChoreography",
    "subChoreography",
    "choreographyTask",
];

impl FlowElement {
    /// The flow element with this local name; `None` for anything else.
    pub(super) fn from_local(local: &[u8]) -> Option<FlowElement> {
        if let Some(&elem) = Elem::ALL.iter().find(|e| e.name().as_bytes() == local) {
            return Some(FlowElement::Node(elem));
        }
        match local {
            b"subProcess" => Some(FlowElement::SubProcess),
            b"transaction" => Some(FlowElement::Transaction),
            b"sequenceFlow" => Some(FlowElement::SequenceFlow),
            b"association" => Some(FlowElement::Association),
            _ => UNSUPPORTED
                .iter()
                .find(|u| u.as_bytes() == local)
                .map(|&name| FlowElement::Unsupported(name)),
        }
    }
}

/// An element name with its indefinite article: "a task", "an endEvent".
pub(super) fn article(name: &str) -> String {
    let an = name.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {name}", if an { "an" } else { "a" })
}

/// The attributes the parser reads (all unqualified, as BPMN defines them;
/// prefixed extension attributes are ignored). Only these are decoded, so an
/// attribute the parser ignores cannot make a file fail.
#[derive(Default)]
pub(super) struct Attrs<'a> {
    pub(super) id: Option<String>,
    /// The id as a slice of the input, when it is written without
    /// references: what [`Ids`](super::resolve::Ids) keys it by, so that no
    /// id is copied for the table.
    pub(super) id_text: Option<&'a str>,
    pub(super) name: Option<String>,
    pub(super) is_executable: Option<String>,
    pub(super) source_ref: Option<String>,
    pub(super) target_ref: Option<String>,
    pub(super) default: Option<String>,
    pub(super) script_format: Option<String>,
    pub(super) called_element: Option<String>,
    pub(super) triggered_by_event: Option<String>,
    pub(super) attached_to_ref: Option<String>,
    pub(super) cancel_activity: Option<String>,
    pub(super) is_interrupting: Option<String>,
    /// `testBefore` and `loopMaximum` of a `standardLoopCharacteristics`.
    pub(super) test_before: Option<String>,
    pub(super) loop_maximum: Option<String>,
    /// `dataObjectRef` of a `dataObjectReference`.
    pub(super) data_object_ref: Option<String>,
    /// `isSequential` of a `multiInstanceLoopCharacteristics`.
    pub(super) is_sequential: Option<String>,
    /// `spiffworkflow:scriptsOnInstances` of a `multiInstanceLoopCharacteristics`.
    pub(super) scripts_on_instances: Option<String>,
    /// `parallelMultiple` of a catch event.
    pub(super) parallel_multiple: Option<String>,
    pub(super) error_ref: Option<String>,
    pub(super) error_code: Option<String>,
    pub(super) escalation_ref: Option<String>,
    pub(super) escalation_code: Option<String>,
    pub(super) message_ref: Option<String>,
    pub(super) signal_ref: Option<String>,
    /// `isForCompensation` of an activity.
    pub(super) is_for_compensation: Option<String>,
    /// `activityRef` of a `compensateEventDefinition`.
    pub(super) activity_ref: Option<String>,
    /// `processRef` of a collaboration's `participant`.
    pub(super) process_ref: Option<String>,
    /// `correlationKey` of `zeebe:subscription`.
    pub(super) correlation_key: Option<String>,
    /// `resultVariable` of `spiffworkflow:serviceTaskOperator`.
    pub(super) result_variable: Option<String>,
    /// `value` of `spiffworkflow:parameter`.
    pub(super) value: Option<String>,
    /// `type` of `spiffworkflow:parameter`.
    pub(super) kind: Option<String>,
}

impl Attrs<'_> {
    /// Where the value of the attribute named `key` goes, if the parser reads it.
    pub(super) fn slot(&mut self, key: &[u8]) -> Option<&mut Option<String>> {
        Some(match key {
            b"id" => &mut self.id,
            b"name" => &mut self.name,
            b"isExecutable" => &mut self.is_executable,
            b"sourceRef" => &mut self.source_ref,
            b"targetRef" => &mut self.target_ref,
            b"default" => &mut self.default,
            b"scriptFormat" => &mut self.script_format,
            b"calledElement" => &mut self.called_element,
            b"triggeredByEvent" => &mut self.triggered_by_event,
            b"attachedToRef" => &mut self.attached_to_ref,
            b"cancelActivity" => &mut self.cancel_activity,
            b"isInterrupting" => &mut self.is_interrupting,
            b"parallelMultiple" => &mut self.parallel_multiple,
            b"testBefore" => &mut self.test_before,
            b"loopMaximum" => &mut self.loop_maximum,
            b"isSequential" => &mut self.is_sequential,
            b"dataObjectRef" => &mut self.data_object_ref,
            // SpiffWorkflow's extension attribute, whatever its prefix.
            key if key.ends_with(b":scriptsOnInstances") => &mut self.scripts_on_instances,
            b"errorRef" => &mut self.error_ref,
            b"errorCode" => &mut self.error_code,
            b"escalationRef" => &mut self.escalation_ref,
            b"escalationCode" => &mut self.escalation_code,
            b"messageRef" => &mut self.message_ref,
            b"signalRef" => &mut self.signal_ref,
            b"isForCompensation" => &mut self.is_for_compensation,
            b"activityRef" => &mut self.activity_ref,
            b"processRef" => &mut self.process_ref,
            b"correlationKey" => &mut self.correlation_key,
            b"resultVariable" => &mut self.result_variable,
            b"value" => &mut self.value,
            b"type" => &mut self.kind,
            _ => return None,
        })
    }
}

/// An `xsd:boolean` attribute.
pub(super) fn flag(value: &Option<String>) -> bool {
    matches!(value.as_deref().map(str::trim), Some("true" | "1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flow_node_is_found_by_its_name() {
        for elem in Elem::ALL {
            assert_eq!(
                FlowElement::from_local(elem.name().as_bytes()),
                Some(FlowElement::Node(elem))
            );
        }
        assert_eq!(
            FlowElement::from_local(b"businessRuleTask"),
            Some(FlowElement::Unsupported("businessRuleTask"))
        );
        assert_eq!(FlowElement::from_local(b"lane"), None);
    }
}
