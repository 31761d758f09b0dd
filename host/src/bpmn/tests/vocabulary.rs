//! Which elements are read, and which are reported as unsupported.

use super::*;

#[test]
fn every_element_kind() {
    let d = parse(&wrap(
        r#"<startEvent id="start"/>
<endEvent id="end"/>
<endEvent id="kill"><terminateEventDefinition id="ted"/></endEvent>
<task id="task" default="f_default"/>
<manualTask id="manual"/>
<userTask id="user"/>
<scriptTask id="script"><script>x = 1</script></scriptTask>
<exclusiveGateway id="xor" name="Which?" default="f2"/>
<parallelGateway id="and"/>
<inclusiveGateway id="or"/>
<subProcess id="sub"><startEvent id="sub_start"/></subProcess>
<callActivity id="call" calledElement=" other_process "/>
<sequenceFlow id="f1" sourceRef="start" targetRef="xor"/>
<sequenceFlow id="f2" name="otherwise" sourceRef="xor" targetRef="and"/>
<sequenceFlow id="f3" sourceRef="xor" targetRef="or"/>
<sequenceFlow id="f4" sourceRef="and" targetRef="end"/>
<sequenceFlow id="f5" sourceRef="or" targetRef="kill"/>
<sequenceFlow id="f_default" sourceRef="task" targetRef="end"/>"#,
    ));
    let p = &d.processes[0];
    assert_eq!(
        kinds(p),
        [
            "startEvent",
            "endEvent",
            "endEvent",
            "task",
            "manualTask",
            "userTask",
            "scriptTask",
            "exclusiveGateway",
            "parallelGateway",
            "inclusiveGateway",
            "subProcess",
            "callActivity"
        ]
    );
    assert!(matches!(p.nodes[1].kind, NodeKind::EndEvent { terminate: false }));
    assert!(matches!(p.nodes[2].kind, NodeKind::EndEvent { terminate: true }));
    let xor = p.node("xor").unwrap();
    assert_eq!(xor.name.as_deref(), Some("Which?"));
    assert_eq!(*xor.outgoing, [1, 2]);
    assert_eq!(xor.default_flow, Some(1));
    assert_eq!(p.flows[1].name.as_deref(), Some("otherwise"));
    assert_eq!(p.node("task").unwrap().default_flow, Some(5));
    assert_eq!(*p.node("end").unwrap().incoming, [3, 5]);
    match &p.node("call").unwrap().kind {
        NodeKind::CallActivity { called_element } => assert_eq!(called_element, "other_process"),
        other => panic!("{other:?}"),
    }
    match &p.node("sub").unwrap().kind {
        NodeKind::SubProcess(s) => {
            assert_eq!(s.id, "sub");
            assert_eq!(s.starts, [0]);
            assert!(std::sync::Arc::ptr_eq(&s.file, &p.file));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(p.nodes.len(), 12);
    for (i, node) in p.nodes.iter().enumerate() {
        assert_eq!(p.node_index(&node.id), Some(i), "{}", node.id);
    }
    assert_eq!(p.node_index("or"), Some(9));
}

#[test]
fn unsupported_elements() {
    let e = errors(&wrap(
        r#"<startEvent id="s"/>
<businessRuleTask id="svc"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="g"/>
<exclusiveGateway id="g"/>
<sequenceFlow id="f2" sourceRef="g" targetRef="svc" />
<boundaryEvent id="b" attachedToRef="svc"><linkEventDefinition name="l"/></boundaryEvent>
<startEvent id="m"><compensateEventDefinition id="md"/></startEvent>
<endEvent id="err"><errorEventDefinition/><terminateEventDefinition/></endEvent>
<endEvent id="esc"><linkEventDefinition name="l"/></endEvent>
<callActivity id="call"/>
<task id="loop"><multiInstanceLoopCharacteristics/></task>
<intermediateCatchEvent id="signal"><compensateEventDefinition/></intermediateCatchEvent>
<intermediateCatchEvent id="blank"><conditionalEventDefinition/></intermediateCatchEvent>"#,
    ));
    assert_eq!(
        e,
        [
            "t.bpmn:4:1: svc: unsupported element `businessRuleTask`",
            "t.bpmn:8:1: b: unsupported boundary event: linkEventDefinition (only error, escalation, \
             timer, message, signal, conditional, compensation and cancel boundary events are supported yet)",
            "t.bpmn:9:1: m: a compensation start event can only start an event subprocess (a subProcess \
             with triggeredByEvent=\"true\"), inside the subprocess or called process it compensates",
            "t.bpmn:10:1: err: several event definitions (errorEventDefinition, terminateEventDefinition): a \
             throw or end event with several definitions combines message, signal and escalation definitions \
             only, not an errorEventDefinition",
            "t.bpmn:11:1: esc: unsupported end event: linkEventDefinition",
            "t.bpmn:12:1: call: call activity has no calledElement: name the id of the process to call",
            "t.bpmn:13:17: loop: a multi-instance activity needs a loopCardinality (how many instances) \
             or a loopDataInputRef (a collection, one instance per element)",
            "t.bpmn:14:1: signal: unsupported intermediate catch event: compensateEventDefinition (only \
             timers, messages, signals, conditions and links are supported yet)",
            "t.bpmn:15:36: blank: conditionalEventDefinition has no condition: give the expression that \
             makes it fire (<condition xsi:type=\"tFormalExpression\">...</condition>)",
        ]
    );
    // Only unsupported start events: no "has no start event" on top.
    let e = errors(&wrap(r#"<startEvent id="m"><compensateEventDefinition/></startEvent>"#));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("t.bpmn:3:1: m: a compensation start event can only start an event subprocess"),
        "{e:?}"
    );
    // A timer start event starts a process (deployed: at each occurrence).
    let d = parse(&wrap(
        r#"<startEvent id="m"><timerEventDefinition><timeDuration>PT1M</timeDuration></timerEventDefinition></startEvent>"#,
    ));
    let p = &d.processes[0];
    assert!(p.starts.is_empty());
    assert_eq!(p.event_starts, [p.node_index("m").unwrap()]);
}
