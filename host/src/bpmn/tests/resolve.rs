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
<businessRuleTask id="p"/>"#,
    ));
    assert_eq!(
        e,
        [
            "t.bpmn:4:3: s: duplicate id `s` (first defined at 3:1)",
            "t.bpmn:5:1: `task` has no id attribute",
            "t.bpmn:6:1: `sequenceFlow` has no id attribute",
            "t.bpmn:8:1: p: duplicate id `p` (first defined at 2:1)",
            "t.bpmn:8:1: p: unsupported element `businessRuleTask`",
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
fn ids_written_with_references() {
    // An id is its decoded text, however it is written, in definitions and references.
    let d = parse(&wrap(
        r#"<startEvent id="s&amp;1"/>
<sequenceFlow id="f" sourceRef="s&#38;1" targetRef="&#101;"/>
<endEvent id="e"/>"#,
    ));
    let p = &d.processes[0];
    assert_eq!((p.node_index("s&1"), p.node_index("e")), (Some(0), Some(1)));
    assert_eq!((p.flows[0].source, p.flows[0].target), (0, 1));
    let e = errors(&wrap(
        r#"<startEvent id="a"/>
<task id="&#97;"/>
<task id="b&amp;"/>
<task id="b&#38;"/>"#,
    ));
    assert_eq!(
        e,
        [
            "t.bpmn:4:1: a: duplicate id `a` (first defined at 3:1)",
            "t.bpmn:6:1: b&: duplicate id `b&` (first defined at 5:1)",
        ]
    );
}

#[test]
fn flows_before_and_after_their_nodes() {
    // `f0` and `f1` close before a node they join, `f2` after both of its
    // nodes: each node lists its flows in document order all the same.
    let d = parse(&wrap(
        r#"<startEvent id="s"/>
<endEvent id="e"/>
<sequenceFlow id="f0" sourceRef="s" targetRef="g"/>
<exclusiveGateway id="g" default="f2"/>
<sequenceFlow id="f1" sourceRef="g" targetRef="late"/>
<sequenceFlow id="f2" sourceRef="g" targetRef="e"/>
<endEvent id="late"/>"#,
    ));
    let p = &d.processes[0];
    let ends: Vec<_> = p.flows.iter().map(|f| (f.id.as_str(), f.source, f.target)).collect();
    assert_eq!(ends, [("f0", 0, 2), ("f1", 2, 3), ("f2", 2, 1)]);
    let g = p.node("g").unwrap();
    assert_eq!(
        (&*g.incoming, &*g.outgoing, g.default_flow),
        (&[0][..], &[1, 2][..], Some(2))
    );
    assert_eq!(*p.node("e").unwrap().incoming, [2]);
    assert_eq!(*p.node("late").unwrap().incoming, [1]);
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
