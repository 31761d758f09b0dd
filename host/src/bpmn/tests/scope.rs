//! Structure checks of a scope, and diagnostics as a whole.

use super::*;

#[test]
fn structure_errors() {
    let e = errors(&wrap(
        r#"<startEvent id="s"/>
<endEvent id="e"/>
<parallelGateway id="g"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="g"/>
<sequenceFlow id="f2" sourceRef="e" targetRef="s"/>
<task id="lonely"/>"#,
    ));
    assert_eq!(
        e,
        [
            "t.bpmn:3:1: s: start event has an incoming sequence flow: a start event begins a path",
            "t.bpmn:4:1: e: end event has an outgoing sequence flow: an end event ends its path",
            "t.bpmn:5:1: g: gateway has no outgoing sequence flow: there is no way out",
        ]
    );
}

#[test]
fn collects_everything_in_document_order() {
    let e = errors(&wrap(
        r#"<task id="t" default="nope"/>
<exclusiveGateway id="g"/>
<sequenceFlow id="f" sourceRef="t" targetRef="gone"/>"#,
    ));
    assert_eq!(
        e,
        [
            "t.bpmn:2:1: p: process `p` has no start event",
            "t.bpmn:3:1: t: default flow `nope` is not an outgoing sequence flow of this node",
            "t.bpmn:4:1: g: gateway has no outgoing sequence flow: there is no way out",
            "t.bpmn:5:1: f: sequence flow targetRef `gone` names no flow node in process `p`",
        ]
    );
}

#[test]
fn diagnostics_serialize() {
    let e = parse_str(Path::new(FILE), &wrap("<task id=\"t\"/>")).unwrap_err();
    let json = serde_json::to_value(&e.0[0]).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "file": "t.bpmn",
            "position": {"line": 2, "column": 1},
            "element": "p",
            "message": "process `p` has no start event"
        })
    );
}
