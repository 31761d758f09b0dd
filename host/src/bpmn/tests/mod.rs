//! Tests of [`parse_str`] and [`parse_file`], one module per concern of the
//! parser; the helpers below build and read small diagrams.

use std::path::Path;

pub(super) use crate::bpmn::spec::{
    Diagram, ErrorDef, ErrorEvent, NodeKind, Position, ProcessSpec, Script, ServiceCall, ServiceParam, TimerDef,
    TimerKind,
};
pub(super) use crate::bpmn::{parse_file, parse_str};

mod compensation;
mod definitions;
mod diagram;
mod events;
mod flows;
mod messages;
mod resolve;
mod scope;
mod spiffworkflow;
mod subprocesses;
mod tasks;
mod vocabulary;
mod xml;

const FILE: &str = "t.bpmn";

fn parse(xml: &str) -> Diagram {
    parse_str(Path::new(FILE), xml).unwrap_or_else(|e| panic!("unexpected diagnostics:\n{e}"))
}

/// The diagnostics of a file that must fail, as displayed.
fn errors(xml: &str) -> Vec<String> {
    match parse_str(Path::new(FILE), xml) {
        Ok(_) => panic!("parsed without diagnostics"),
        Err(d) => {
            assert!(!d.0.is_empty());
            for d in &d.0 {
                assert!(d.position.line > 0 && d.position.column > 0, "{d}");
            }
            d.0.iter().map(ToString::to_string).collect()
        }
    }
}

/// A file whose single process `p` holds `body`; the body starts on line 3.
fn wrap(body: &str) -> String {
    format!(
        "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" id=\"d\">\n\
         <process id=\"p\" isExecutable=\"true\">\n{body}\n</process>\n</definitions>\n"
    )
}

fn kinds(p: &ProcessSpec) -> Vec<&'static str> {
    p.nodes.iter().map(|n| n.kind.element_name()).collect()
}

fn script_of<'a>(p: &'a ProcessSpec, id: &str) -> &'a Script {
    match &p.node(id).unwrap().kind {
        NodeKind::ScriptTask(s) => s,
        other => panic!("{id} is {other:?}"),
    }
}

/// A file with the SpiffWorkflow namespace declared as `spiffworkflow:`, its
/// process `p` holding `body` (which starts on line 4), and `after` following
/// the process (root elements such as `bpmn:error`).
fn spiff(body: &str, after: &str) -> String {
    format!(
        "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" \
         xmlns:spiffworkflow=\"http://spiffworkflow.org/bpmn/schema/1.0/core\" id=\"d\">\n\
         <process id=\"p\" isExecutable=\"true\">\n<startEvent id=\"s\"/>\n{body}\n</process>\n{after}\n</definitions>\n"
    )
}

const CAMUNDA: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler" exporterVersion="5.17.0">
  <bpmn:collaboration id="Collaboration_1">
    <bpmn:participant id="Participant_1" processRef="order" />
  </bpmn:collaboration>
  <bpmn:process id="order" name="Order &amp; pay" isExecutable="true">
    <bpmn:laneSet id="LaneSet_1"><bpmn:lane id="Lane_1" /></bpmn:laneSet>
    <bpmn:startEvent id="StartEvent_1">
      <bpmn:outgoing>Flow_1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Activity_1" />
    <bpmn:scriptTask id="Activity_1" name="Compute" camunda:asyncBefore="true">
      <bpmn:documentation>total &lt;- price</bpmn:documentation>
      <bpmn:extensionElements><camunda:inputOutput><camunda:inputParameter name="a" /></camunda:inputOutput></bpmn:extensionElements>
      <bpmn:incoming>Flow_1</bpmn:incoming>
      <bpmn:outgoing>Flow_2</bpmn:outgoing>
      <bpmn:script>total = price * quantity</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:endEvent id="Event_1">
      <bpmn:incoming>Flow_2</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Activity_1" targetRef="Event_1" />
    <bpmn:dataObject id="DataObject_1" />
    <bpmn:textAnnotation id="TextAnnotation_1"><bpmn:text>note</bpmn:text></bpmn:textAnnotation>
  </bpmn:process>
  <bpmn:message id="Message_1" name="m" />
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="order">
      <bpmndi:BPMNShape id="_BPMNShape_StartEvent_2" bpmnElement="StartEvent_1">
        <dc:Bounds x="179" y="79" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="Flow_1_di" bpmnElement="Flow_1">
        <di:waypoint x="215" y="97" />
        <di:waypoint x="270" y="97" />
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"#;
