//! Subprocesses nest as scopes of their own.

use super::*;

#[test]
fn nested_subprocesses() {
    let d = parse(&wrap(
        r#"<startEvent id="s"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="outer"/>
<subProcess id="outer" name="Outer">
  <sequenceFlow id="o1" sourceRef="os" targetRef="inner"/>
  <startEvent id="os"/>
  <subProcess id="inner">
    <startEvent id="is"/>
    <sequenceFlow id="i1" sourceRef="is" targetRef="ie"/>
    <endEvent id="ie"/>
  </subProcess>
</subProcess>"#,
    ));
    let p = &d.processes[0];
    assert_eq!(kinds(p), ["startEvent", "subProcess"]);
    let NodeKind::SubProcess(outer) = &p.node("outer").unwrap().kind else {
        panic!()
    };
    assert_eq!(outer.name.as_deref(), Some("Outer"));
    assert_eq!(outer.position, Position { line: 5, column: 1 });
    assert_eq!(kinds(outer), ["startEvent", "subProcess"]);
    assert_eq!(outer.flows.len(), 1);
    assert_eq!(outer.starts, [0]);
    let NodeKind::SubProcess(inner) = &outer.node("inner").unwrap().kind else {
        panic!()
    };
    assert_eq!(kinds(inner), ["startEvent", "endEvent"]);
    assert_eq!(*inner.nodes[1].incoming, [0]);
    assert_eq!(*p.node("outer").unwrap().incoming, [0]);

    // Flows connect nodes of their own scope only.
    let e = errors(&wrap(
        r#"<startEvent id="s"/>
<task id="t"/>
<subProcess id="sub">
  <startEvent id="ss"/>
  <sequenceFlow id="bad" sourceRef="ss" targetRef="t"/>
</subProcess>
<sequenceFlow id="bad2" sourceRef="s" targetRef="ss"/>"#,
    ));
    assert_eq!(
        e,
        [
            "t.bpmn:7:3: bad: sequence flow targetRef `t` names no flow node in subProcess `sub`",
            "t.bpmn:9:1: bad2: sequence flow targetRef `ss` names no flow node in process `p`",
        ]
    );
}
