//! Ids and the references between elements.

use super::*;

#[test]
fn id_errors() {
    let e = errors(&wrap(
        r#"<startEvent id="s"/>
  <task id="s"/>
<task/>
<sequenceFlow sourceRef="s" targetRef="x2"/>
<task id="x2" />
<sendTask id="p"/>"#,
    ));
    assert_eq!(
        e,
        [
            "t.bpmn:4:3: s: duplicate id `s` (first defined at 3:1)",
            "t.bpmn:5:1: `task` has no id attribute",
            "t.bpmn:6:1: `sequenceFlow` has no id attribute",
            "t.bpmn:8:1: p: duplicate id `p` (first defined at 2:1)",
            "t.bpmn:8:1: p: unsupported element `sendTask`",
        ]
    );
    // Ids must be unique across processes too.
    let two = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">
<process id="a"><startEvent id="s"/></process>
<process id="b"><startEvent id="s"/></process>
</definitions>"#;
    assert_eq!(
        errors(two),
        ["t.bpmn:3:17: s: duplicate id `s` (first defined at 2:17)"]
    );
}

#[test]
fn flow_errors() {
    let e = errors(&wrap(
        r#"<startEvent id="s"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="nowhere"/>
<sequenceFlow id="f2" targetRef="g"/>
<sequenceFlow id="f3" sourceRef="s"/>
<exclusiveGateway id="g" default="f1"/>
<task id="t" default="f4"/>
<sequenceFlow id="f4" sourceRef="s" targetRef="t"/>"#,
    ));
    assert_eq!(
        e,
        [
            "t.bpmn:4:1: f1: sequence flow targetRef `nowhere` names no flow node in process `p`",
            "t.bpmn:5:1: f2: sequence flow has no sourceRef",
            "t.bpmn:6:1: f3: sequence flow has no targetRef",
            "t.bpmn:7:1: g: gateway has no outgoing sequence flow: there is no way out",
            "t.bpmn:8:1: t: default flow `f4` is not an outgoing sequence flow of this node",
        ]
    );
}
