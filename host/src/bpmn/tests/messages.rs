//! Messages: root messages and correlation properties, message event
//! definitions on every event that has one, send and receive tasks, and
//! SpiffWorkflow's message extensions.

use super::*;
use crate::bpmn::spec::{MessageEvent, Retrieval};

const SPIFF: &str = "http://spiffworkflow.org/bpmn/schema/1.0/core";

fn file(body: &str, roots: &str) -> String {
    format!(
        "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" xmlns:spiffworkflow=\"{SPIFF}\" id=\"d\">\n\
         <process id=\"p\" isExecutable=\"true\">\n{body}\n</process>\n{roots}\n</definitions>\n"
    )
}

const ROOTS: &str = r#"<message id="m_order" name="order" />
<message id="m_paid"><extensionElements><spiffworkflow:messageVariable>old_place</spiffworkflow:messageVariable></extensionElements></message>
<correlationProperty id="order_id" name="Order id">
  <correlationPropertyRetrievalExpression messageRef="m_order"><messagePath>order["id"]</messagePath></correlationPropertyRetrievalExpression>
  <correlationPropertyRetrievalExpression messageRef="m_paid"><formalExpression>id</formalExpression></correlationPropertyRetrievalExpression>
</correlationProperty>"#;

fn message<'a>(p: &'a ProcessSpec, id: &str) -> &'a MessageEvent {
    let kind = &p.node(id).unwrap().kind;
    kind.message_catch()
        .or(kind.message_throw())
        .unwrap_or_else(|| panic!("{id} is {kind:?}"))
}

#[test]
fn every_message_element_reads_its_message_payload_and_correlation() {
    let d = parse(&file(
        r#"<startEvent id="s"/>
<sendTask id="send" messageRef="m_order"><extensionElements><spiffworkflow:messagePayload>{"id": 1}</spiffworkflow:messagePayload></extensionElements></sendTask>
<receiveTask id="receive" messageRef="m_paid" />
<intermediateThrowEvent id="throw"><messageEventDefinition messageRef="m_order" /></intermediateThrowEvent>
<intermediateCatchEvent id="catch"><messageEventDefinition messageRef="m_order"><extensionElements>
  <spiffworkflow:messageVariable>got</spiffworkflow:messageVariable>
  <spiffworkflow:processVariableCorrelation><spiffworkflow:propertyId>order_id</spiffworkflow:propertyId><spiffworkflow:expression>my_id</spiffworkflow:expression></spiffworkflow:processVariableCorrelation>
</extensionElements></messageEventDefinition></intermediateCatchEvent>
<intermediateThrowEvent id="milestone" />
<boundaryEvent id="b" attachedToRef="receive" cancelActivity="false"><messageEventDefinition messageRef="m_order" /></boundaryEvent>
<endEvent id="e"><messageEventDefinition messageRef="m_paid" /></endEvent>
<endEvent id="e2" />
<sequenceFlow id="f1" sourceRef="s" targetRef="send"/>
<sequenceFlow id="f2" sourceRef="send" targetRef="receive"/>
<sequenceFlow id="f3" sourceRef="receive" targetRef="throw"/>
<sequenceFlow id="f4" sourceRef="throw" targetRef="catch"/>
<sequenceFlow id="f5" sourceRef="catch" targetRef="milestone"/>
<sequenceFlow id="f6" sourceRef="milestone" targetRef="e"/>
<sequenceFlow id="f7" sourceRef="b" targetRef="e2"/>"#,
        ROOTS,
    ));
    let p = &d.processes[0];
    let by_path = |property: &str, expression: &str| Retrieval {
        property: property.into(),
        expression: expression.into(),
    };
    let send = message(p, "send");
    assert_eq!(
        (send.name.as_str(), send.payload.as_deref()),
        ("order", Some(r#"{"id": 1}"#))
    );
    assert_eq!(send.correlation, [by_path("order_id", r#"order["id"]"#)]);
    let receive = message(p, "receive");
    assert_eq!(receive.name, "m_paid", "a message without a name is named by its id");
    assert_eq!(
        receive.variable.as_deref(),
        Some("old_place"),
        "SpiffWorkflow's older place"
    );
    assert_eq!(receive.correlation, [by_path("order_id", "id")]);
    let catch = message(p, "catch");
    assert_eq!(catch.variable.as_deref(), Some("got"));
    assert_eq!(catch.subscription, [by_path("order_id", "my_id")]);
    assert_eq!(message(p, "throw").payload, None);
    assert!(matches!(p.node("milestone").unwrap().kind, NodeKind::ThrowEvent));
    assert!(matches!(
        p.node("b").unwrap().kind,
        NodeKind::MessageBoundaryEvent {
            interrupting: false,
            ..
        }
    ));
    assert!(matches!(p.node("e").unwrap().kind, NodeKind::MessageEndEvent(_)));
    assert_eq!(
        kinds(p),
        [
            "startEvent",
            "sendTask",
            "receiveTask",
            "intermediateThrowEvent",
            "intermediateCatchEvent",
            "intermediateThrowEvent",
            "boundaryEvent",
            "endEvent",
            "endEvent"
        ]
    );
}

#[test]
fn a_message_event_without_a_message_ref_is_named_after_the_event() {
    let d = parse(&file(
        r#"<startEvent id="s"/><intermediateCatchEvent id="c" name="go ahead"><messageEventDefinition/></intermediateCatchEvent><endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="c"/><sequenceFlow id="f2" sourceRef="c" targetRef="e"/>"#,
        "",
    ));
    assert_eq!(message(&d.processes[0], "c").name, "go ahead");
}

#[test]
fn message_problems_name_the_element_and_what_to_write() {
    let e = errors(&file(
        r#"<startEvent id="s"/>
<intermediateCatchEvent id="c"><messageEventDefinition messageRef="nope"/></intermediateCatchEvent>
<receiveTask id="r"/>
<intermediateCatchEvent id="v"><messageEventDefinition messageRef="m_order"><extensionElements>
<spiffworkflow:processVariableCorrelation><spiffworkflow:propertyId>order_id</spiffworkflow:propertyId></spiffworkflow:processVariableCorrelation>
</extensionElements></messageEventDefinition></intermediateCatchEvent>
<sequenceFlow id="f1" sourceRef="s" targetRef="c"/><sequenceFlow id="f2" sourceRef="c" targetRef="r"/><sequenceFlow id="f3" sourceRef="r" targetRef="v"/>"#,
        r#"<message id="m_order" name="order" />
<correlationProperty id="lonely" />
<correlationProperty id="half"><correlationPropertyRetrievalExpression messageRef="m_order"/></correlationProperty>"#,
    ));
    assert_eq!(
        e,
        [
            "t.bpmn:4:32: c: messageRef `nope` names no `message` element in this file: define it, e.g. \
             <bpmn:message id=\"nope\" name=\"nope\"/>",
            "t.bpmn:5:1: r: the message event names no message: give it a messageRef naming a bpmn:message, \
             e.g. messageRef=\"payment\" with <bpmn:message id=\"payment\" name=\"payment\"/>",
            "t.bpmn:7:1: v: `spiffworkflow:processVariableCorrelation` needs a `spiffworkflow:propertyId` (a \
             correlationProperty id) and a `spiffworkflow:expression` (read from the task data)",
            "t.bpmn:12:1: lonely: correlationProperty has no correlationPropertyRetrievalExpression: say how \
             its value is read from each message that carries it",
            "t.bpmn:13:32: half: correlationPropertyRetrievalExpression needs a messageRef and a messagePath \
             (the expression that reads the value from the message's payload)",
        ]
    );
}

#[test]
fn a_process_may_start_by_a_message_or_signal_but_an_embedded_subprocess_may_not() {
    let d = parse(&file(
        r#"<startEvent id="by_message"><messageEventDefinition messageRef="m_order"/></startEvent>
<startEvent id="plain"/>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="by_message" targetRef="e"/><sequenceFlow id="f2" sourceRef="plain" targetRef="e"/>"#,
        ROOTS,
    ));
    let p = &d.processes[0];
    assert_eq!(p.starts, [p.node_index("plain").unwrap()]);
    assert_eq!(p.event_starts, [p.node_index("by_message").unwrap()]);
    let e = errors(&file(
        r#"<startEvent id="s"/><endEvent id="e"/>
<subProcess id="sub"><startEvent id="inner"><messageEventDefinition messageRef="m_order"/></startEvent></subProcess>
<sequenceFlow id="f1" sourceRef="s" targetRef="sub"/><sequenceFlow id="f2" sourceRef="sub" targetRef="e"/>"#,
        ROOTS,
    ));
    assert_eq!(
        e,
        [
            "t.bpmn:4:22: inner: a timer, message, signal or conditional start event starts a process or an \
             event subprocess; an embedded subprocess starts with a none start event"
        ]
    );
}
