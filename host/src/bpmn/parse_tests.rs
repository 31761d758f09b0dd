//! Tests of [`super::parse_str`] and [`super::parse_file`].

use std::path::Path;
use std::time::Instant;

use super::*;
use crate::bpmn::spec::{Diagram, ErrorDef, ErrorEvent, NodeKind, ProcessSpec, Script, ServiceCall, ServiceParam};

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

#[test]
fn camunda_file() {
    let d = parse(CAMUNDA);
    assert_eq!(d.file, Path::new(FILE));
    assert_eq!(d.processes.len(), 1);
    let p = &d.processes[0];
    assert_eq!(p.id, "order");
    assert_eq!(p.name.as_deref(), Some("Order & pay"));
    assert!(p.executable);
    assert_eq!(p.position, Position { line: 6, column: 3 });
    assert_eq!(*p.file, Path::new(FILE));
    assert_eq!(kinds(p), ["startEvent", "scriptTask", "endEvent"]);
    assert_eq!(p.starts, [0]);
    assert_eq!(p.flows.len(), 2);
    assert_eq!((p.flows[0].source, p.flows[0].target), (0, 1));
    assert_eq!((p.flows[1].source, p.flows[1].target), (1, 2));
    let task = p.node("Activity_1").unwrap();
    assert_eq!(task.name.as_deref(), Some("Compute"));
    assert_eq!(task.position, Position { line: 12, column: 5 });
    assert_eq!(
        (task.incoming.as_slice(), task.outgoing.as_slice()),
        (&[0][..], &[1][..])
    );
    assert_eq!(
        *script_of(p, "Activity_1"),
        Script::Inline {
            source: "total = price * quantity".into(),
            line: 17
        }
    );
    assert_eq!(p.flows[1].position, Position { line: 22, column: 5 });
}

#[test]
fn default_namespace_and_other_prefixes() {
    let default_ns = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:x="urn:other">
  <process id="p">
    <startEvent id="s"/>
    <x:task id="ignored"/>
    <x:sequenceFlow id="ignored_too" sourceRef="nowhere" targetRef="s"/>
  </process>
</definitions>"#;
    let d = parse(default_ns);
    assert_eq!(kinds(&d.processes[0]), ["startEvent"]);
    assert!(!d.processes[0].executable);

    let semantic = r#"<?xml version="1.0"?>
<semantic:definitions xmlns:semantic="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <semantic:process id="p" isExecutable="false">
    <semantic:startEvent id="s"/>
    <semantic:sequenceFlow id="f" sourceRef="s" targetRef="t"/>
    <semantic:task id="t"/>
  </semantic:process>
</semantic:definitions>"#;
    let d = parse(semantic);
    assert_eq!(kinds(&d.processes[0]), ["startEvent", "task"]);
    assert_eq!(d.processes[0].nodes[1].incoming, [0]);

    // A namespace may be redeclared on an inner element under another prefix.
    let mixed = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">
  <b:process xmlns:b="http://www.omg.org/spec/BPMN/20100524/MODEL" id="p">
    <startEvent id="s"/>
  </b:process>
</definitions>"#;
    assert_eq!(kinds(&parse(mixed).processes[0]), ["startEvent"]);

    // The prefix `bpmn` means nothing by itself.
    let wrong = r#"<bpmn:definitions xmlns:bpmn="urn:not-bpmn"/>"#;
    assert_eq!(
        errors(wrong),
        [
            "t.bpmn:1:1: not a BPMN 2.0 file: the root element is `bpmn:definitions` (expected \
          `definitions` in namespace http://www.omg.org/spec/BPMN/20100524/MODEL)"
        ]
    );
    let undeclared = r#"<bpmn:definitions/>"#;
    assert!(errors(undeclared)[0].ends_with("; its prefix `bpmn` is not declared"));
}

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
    assert_eq!(xor.outgoing, [1, 2]);
    assert_eq!(xor.default_flow, Some(1));
    assert_eq!(p.flows[1].name.as_deref(), Some("otherwise"));
    assert_eq!(p.node("task").unwrap().default_flow, Some(5));
    assert_eq!(p.node("end").unwrap().incoming, [3, 5]);
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
    assert_eq!(p.index.len(), 12);
    assert_eq!(p.index["or"], 9);
}

#[test]
fn conditions() {
    let d = parse(&wrap(
        r#"<startEvent id="s"/>
<exclusiveGateway id="g"/>
<sequenceFlow id="f0" sourceRef="s" targetRef="g"/>
<sequenceFlow id="f1" sourceRef="g" targetRef="e">
  <conditionExpression xsi:type="tFormalExpression" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
    amount &gt; 100 and name != &quot;x&quot; &#x3E;
  </conditionExpression>
</sequenceFlow>
<sequenceFlow id="f2" sourceRef="g" targetRef="e"><conditionExpression><![CDATA[ a < 1 && b ]]></conditionExpression></sequenceFlow>
<sequenceFlow id="f3" sourceRef="g" targetRef="e"><conditionExpression>  </conditionExpression></sequenceFlow>
<sequenceFlow id="f4" sourceRef="g" targetRef="e"><conditionExpression/></sequenceFlow>
<sequenceFlow id="f5" sourceRef="g" targetRef="e"><conditionExpression>x &lt;<![CDATA[<]]> y</conditionExpression></sequenceFlow>
<endEvent id="e"/>"#,
    ));
    let c: Vec<Option<&str>> = d.processes[0].flows.iter().map(|f| f.condition.as_deref()).collect();
    assert_eq!(
        c,
        [
            None,
            Some("amount > 100 and name != \"x\" >"),
            Some("a < 1 && b"),
            None,
            None,
            Some("x << y")
        ]
    );
}

#[test]
fn inline_script_dedent_and_line() {
    let xml = wrap(
        "<startEvent id=\"s\"/>
<scriptTask id=\"a\">
  <script>

        if total &gt; 10:
            discount = 1

        done = True
  </script>
</scriptTask>
<scriptTask id=\"b\" scriptFormat=\"Python\"><script><![CDATA[
    x = 1 < 2
      y = 3]]></script></scriptTask>
<scriptTask id=\"c\" scriptFormat=\"text/x-python\"><script>z = 1</script></scriptTask>
<scriptTask id=\"d\" scriptFormat=\"starlark\"><script>\t\t  w = 2  </script></scriptTask>",
    );
    let d = parse(&xml);
    let p = &d.processes[0];
    assert_eq!(
        *script_of(p, "a"),
        Script::Inline {
            source: "if total > 10:\n    discount = 1\n\ndone = True".into(),
            line: 7
        }
    );
    assert_eq!(
        *script_of(p, "b"),
        Script::Inline {
            source: "x = 1 < 2\n  y = 3".into(),
            line: 14
        }
    );
    assert_eq!(
        *script_of(p, "c"),
        Script::Inline {
            source: "z = 1".into(),
            line: 16
        }
    );
    assert_eq!(
        *script_of(p, "d"),
        Script::Inline {
            source: "w = 2  ".into(),
            line: 17
        }
    );

    // Windows line ends: lines are still counted right, and `\r` is dropped.
    let crlf = xml.replace('\n', "\r\n");
    let d = parse(&crlf);
    assert_eq!(*script_of(&d.processes[0], "a"), *script_of(p, "a"));
    assert_eq!(*script_of(&d.processes[0], "b"), *script_of(p, "b"));
}

#[test]
fn wasm_scripts() {
    let d = parse(&wrap(
        r#"<startEvent id="s"/>
<scriptTask id="a" scriptFormat="wasm"><script> compute_total.wasm
</script></scriptTask>
<scriptTask id="b" scriptFormat="WASM"><script>lookup-v2.1</script></scriptTask>"#,
    ));
    let p = &d.processes[0];
    assert_eq!(
        *script_of(p, "a"),
        Script::Plugin {
            name: "compute_total".into()
        }
    );
    assert_eq!(
        *script_of(p, "b"),
        Script::Plugin {
            name: "lookup-v2.1".into()
        }
    );

    let e = errors(&wrap(
        r#"<startEvent id="s"/>
<scriptTask id="a" scriptFormat="wasm"><script>../evil</script></scriptTask>
<scriptTask id="b" scriptFormat="javascript"><script>x = 1</script></scriptTask>
<scriptTask id="c"><script>

</script></scriptTask>
<scriptTask id="d"/>
<scriptTask id="e" scriptFormat="wasm"/>"#,
    ));
    assert_eq!(e.len(), 5, "{e:#?}");
    assert!(
        e[0].starts_with("t.bpmn:4:1: a: invalid plugin name `../evil`"),
        "{}",
        e[0]
    );
    assert_eq!(
        e[1],
        "t.bpmn:5:1: b: unknown scriptFormat `javascript`: use `wasm` for a compiled plugin, \
         or `python`/`starlark` (or none) for inline code"
    );
    assert_eq!(e[2], "t.bpmn:6:1: c: script task has no script");
    assert_eq!(e[3], "t.bpmn:9:1: d: script task has no script");
    assert!(
        e[4].starts_with("t.bpmn:10:1: e: script task has no script"),
        "{}",
        e[4]
    );
}

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
    assert_eq!(inner.nodes[1].incoming, [0]);
    assert_eq!(p.node("outer").unwrap().incoming, [0]);

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

#[test]
fn root_and_process_errors() {
    assert_eq!(
        errors("<?xml version=\"1.0\"?>\n  <html><body/></html>"),
        [
            "t.bpmn:2:3: not a BPMN 2.0 file: the root element is `html` (expected `definitions` \
          in namespace http://www.omg.org/spec/BPMN/20100524/MODEL)"
        ]
    );
    assert_eq!(
        errors(
            "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\">\n\
             <collaboration id=\"c\"/>\n</definitions>"
        ),
        ["t.bpmn:1:1: no process in this file"]
    );
    assert_eq!(errors("  \n"), ["t.bpmn:2:1: not a BPMN 2.0 file: the file is empty"]);
    assert_eq!(
        errors(&wrap("<task id=\"t\"/>")),
        ["t.bpmn:2:1: p: process `p` has no start event"]
    );
}

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
fn unsupported_elements() {
    let e = errors(&wrap(
        r#"<startEvent id="s"/>
<sendTask id="svc"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="g"/>
<exclusiveGateway id="g"/>
<sequenceFlow id="f2" sourceRef="g" targetRef="svc" />
<boundaryEvent id="b" attachedToRef="svc"><timerEventDefinition/></boundaryEvent>
<startEvent id="m"><messageEventDefinition id="md"/></startEvent>
<endEvent id="err"><errorEventDefinition/><terminateEventDefinition/></endEvent>
<endEvent id="esc"><escalationEventDefinition/></endEvent>
<callActivity id="call"/>
<task id="loop"><multiInstanceLoopCharacteristics/></task>
<intermediateCatchEvent id="timer"><timerEventDefinition/></intermediateCatchEvent>"#,
    ));
    assert_eq!(
        e,
        [
            "t.bpmn:4:1: svc: unsupported element `sendTask`",
            "t.bpmn:8:1: b: unsupported boundary event: timerEventDefinition (only error boundary events \
             are supported)",
            "t.bpmn:9:1: m: unsupported start event: messageEventDefinition",
            "t.bpmn:10:1: err: more than one event definition (errorEventDefinition, \
             terminateEventDefinition): only one is supported",
            "t.bpmn:11:1: esc: unsupported end event: escalationEventDefinition",
            "t.bpmn:12:1: call: call activity has no calledElement: name the id of the process to call",
            "t.bpmn:13:1: loop: unsupported loop: `multiInstanceLoopCharacteristics` (loops and \
             multi-instance activities are not supported yet)",
            "t.bpmn:14:1: timer: unsupported element `intermediateCatchEvent`",
        ]
    );
    // Only unsupported start events: no "has no start event" on top.
    let e = errors(&wrap(r#"<startEvent id="m"><timerEventDefinition/></startEvent>"#));
    assert_eq!(e, ["t.bpmn:3:1: m: unsupported start event: timerEventDefinition"]);
}

#[test]
fn xml_errors() {
    // Cut inside a tag.
    let cut = &CAMUNDA[..CAMUNDA.find("<bpmn:endEvent").unwrap() + 8];
    assert_eq!(
        errors(cut),
        [
            "t.bpmn:19:5: XML error: syntax error: tag not closed: `>` not found before end of \
          input; the file may be truncated"
        ]
    );
    // Cut between tags.
    let cut = &CAMUNDA[..CAMUNDA.find("<bpmn:endEvent").unwrap()];
    assert_eq!(
        errors(cut),
        [
            "t.bpmn:19:5: XML error: the file ends inside element `bpmn:process` (opened at 6:3); \
          the file may be truncated"
        ]
    );
    let e = errors(&wrap("<startEvent id=\"s\"></endEvent>"));
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("t.bpmn:3:20: XML error: ill-formed document:"),
        "{}",
        e[0]
    );
    assert_eq!(
        errors(&wrap("<startEvent id=\"s\" name=\"&nbsp;\"/>")),
        [
            "t.bpmn:3:1: XML error: in attribute `name`: unknown entity `&nbsp;` (XML defines only \
          &lt; &gt; &amp; &apos; &quot; and character references such as &#160;)"
        ]
    );
    let e = errors(&wrap("<startEvent id=\"s\"/>\n<documentation>a&nbsp;b</documentation>"));
    assert!(
        e[0].starts_with("t.bpmn:4:17: XML error: unknown entity `&nbsp;`"),
        "{}",
        e[0]
    );
    let e = errors(&wrap("<startEvent id=\"s\"/>\n<x:task id=\"t\"/>"));
    assert_eq!(
        e,
        ["t.bpmn:4:1: XML error: namespace prefix `x` of element `x:task` is not declared"]
    );
    // Attributes are checked even where they are not read.
    let e = errors(&wrap(
        "<startEvent id=\"s\"/>\n<extensionElements><x a=\"1\" a=\"2\"/></extensionElements>",
    ));
    assert!(
        e[0].starts_with("t.bpmn:4:20: XML error: error while parsing attribute: "),
        "{}",
        e[0]
    );
    let e = errors(&format!("{}<definitions/>", wrap("<startEvent id=\"s\"/>")));
    assert_eq!(e.len(), 1);
    assert!(e[0].contains("second root element"), "{}", e[0]);
}

#[test]
fn never_panics_on_prefixes() {
    // Every truncation of a real file fails cleanly, with a real position.
    let mut cuts = 0;
    for end in (0..CAMUNDA.len()).filter(|&i| CAMUNDA.is_char_boundary(i)) {
        if parse_str(Path::new(FILE), &CAMUNDA[..end]).is_ok() {
            // Only whitespace after the root may be cut.
            assert!(CAMUNDA[end..].trim().is_empty());
        }
        cuts += 1;
    }
    assert!(cuts > 1000);
    // And some garbage.
    for junk in [
        "<",
        "<<>>",
        "&",
        "<a",
        "<?xml",
        "<!--",
        "<![CDATA[",
        "\u{feff}",
        "<a></b>",
    ] {
        assert!(parse_str(Path::new(FILE), junk).is_err(), "{junk}");
    }
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
fn byte_order_mark_and_columns_in_characters() {
    let xml = format!("\u{feff}{}", wrap("<task name=\"é\" id=\"t\"/><task/>"));
    let e = errors(&xml);
    assert_eq!(
        e,
        [
            "t.bpmn:2:1: p: process `p` has no start event",
            "t.bpmn:3:24: `task` has no id attribute"
        ]
    );
}

#[test]
fn files() {
    let missing = parse_file(Path::new("/nonexistent/dir/x.bpmn")).unwrap_err();
    assert_eq!(missing.0.len(), 1);
    let msg = missing.to_string();
    assert!(
        msg.starts_with("/nonexistent/dir/x.bpmn:0:0: cannot read the file: "),
        "{msg}"
    );

    let dir = std::env::temp_dir().join(format!("wasmflow-bpmn-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.bpmn");
    std::fs::write(&good, CAMUNDA).unwrap();
    let d = parse_file(&good).unwrap();
    assert_eq!(d.file, good);
    assert_eq!(*d.processes[0].file, good);

    let latin1 = dir.join("latin1.bpmn");
    let utf8 = wrap("<startEvent id=\"s\" name=\"caf\u{e9}\"/>");
    let at = utf8.find('\u{e9}').unwrap();
    let mut bytes = utf8.into_bytes();
    bytes.splice(at..at + 2, [0xe9]);
    std::fs::write(&latin1, bytes).unwrap();
    let e = parse_file(&latin1).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:3:29: the file is not UTF-8 text: save it as UTF-8 (the encoding of BPMN files)",
            latin1.display()
        )
    );
    std::fs::remove_dir_all(&dir).unwrap();
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

#[test]
fn chain_of_100_000_script_tasks() {
    const N: usize = 100_000;
    let mut body = String::with_capacity(N * 160);
    body.push_str("<startEvent id=\"start\"/>\n<sequenceFlow id=\"f0\" sourceRef=\"start\" targetRef=\"t0\"/>\n");
    for i in 0..N {
        body.push_str(&format!(
            "<scriptTask id=\"t{i}\"><script>x = {i}</script></scriptTask>\n\
             <sequenceFlow id=\"f{}\" sourceRef=\"t{i}\" targetRef=\"t{}\"/>\n",
            i + 1,
            i + 1
        ));
    }
    body.push_str(&format!("<endEvent id=\"t{N}\"/>"));
    let xml = wrap(&body);
    let started = Instant::now();
    let d = parse(&xml);
    let elapsed = started.elapsed();
    let p = &d.processes[0];
    assert_eq!(p.nodes.len(), N + 2);
    assert_eq!(p.flows.len(), N + 1);
    assert_eq!(
        *script_of(p, "t99999"),
        Script::Inline {
            source: "x = 99999".into(),
            line: 4 + 2 * 99_999 + 1
        }
    );
    assert_eq!(p.node(&format!("t{N}")).unwrap().incoming, [N]);
    eprintln!("parsed {} bytes, {} nodes in {elapsed:?}", xml.len(), p.nodes.len());
    // Same chain on one line: columns are counted without rescanning the line.
    let one_line = xml.replace('\n', " ");
    let started = Instant::now();
    let e = parse_str(
        Path::new(FILE),
        &one_line.replace("<endEvent id=\"t100000\"/>", "<endEvent/>"),
    )
    .unwrap_err();
    eprintln!("one line with an error: {:?}", started.elapsed());
    assert_eq!(e.0.len(), 2, "{e}");
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

fn service_of<'a>(p: &'a ProcessSpec, id: &str) -> &'a ServiceCall {
    match &p.node(id).unwrap().kind {
        NodeKind::ServiceTask(call) => call,
        other => panic!("{id} is {other:?}"),
    }
}

#[test]
fn service_tasks() {
    let d = parse(&spiff(
        r#"<serviceTask id="get_product" name="Look up product">
  <extensionElements>
    <spiffworkflow:instructionsForEndUser>ignored</spiffworkflow:instructionsForEndUser>
    <spiffworkflow:serviceTaskOperator id="lookup_product_info" resultVariable="product_info">
      <spiffworkflow:parameters>
        <spiffworkflow:parameter id="product_name" type="str" value="product_name"/>
        <spiffworkflow:parameter id="count" type="int" value=" quantity * 2 "/>
        <spiffworkflow:parameter id="unset" type="str"/>
      </spiffworkflow:parameters>
    </spiffworkflow:serviceTaskOperator>
    <spiffworkflow:postScript>total = product_info["price"] * quantity</spiffworkflow:postScript>
  </extensionElements>
</serviceTask>
<serviceTask id="a-b">
  <extensionElements><other:x xmlns:other="urn:o"/><s:serviceTaskOperator xmlns:s="http://spiffworkflow.org/bpmn/schema/1.0/core" id="http/GetRequestV2" resultVariable=" "/></extensionElements>
</serviceTask>"#,
        "",
    ));
    let p = &d.processes[0];
    assert_eq!(kinds(p), ["startEvent", "serviceTask", "serviceTask"]);
    let call = service_of(p, "get_product");
    assert_eq!(call.operation, "lookup_product_info");
    assert_eq!(call.result_variable, "product_info");
    assert_eq!(
        call.params,
        [
            ServiceParam {
                id: "product_name".into(),
                kind: Some("str".into()),
                value: "product_name".into(),
                line: 9
            },
            ServiceParam {
                id: "count".into(),
                kind: Some("int".into()),
                value: "quantity * 2".into(),
                line: 10
            },
        ]
    );
    let node = p.node("get_product").unwrap();
    assert_eq!(node.pre_script, None);
    assert_eq!(
        node.post_script,
        Some(Script::Inline {
            source: "total = product_info[\"price\"] * quantity".into(),
            line: 14
        })
    );
    // Any prefix; SpiffWorkflow's default result variable.
    let other = service_of(p, "a-b");
    assert_eq!(other.operation, "http/GetRequestV2");
    assert_eq!(other.result_variable, "spiff__a_b_result");
    assert!(other.params.is_empty());
}

#[test]
fn pre_and_post_scripts_on_every_activity() {
    let d = parse(&spiff(
        r#"<scriptTask id="script">
  <extensionElements>
    <spiffworkflow:preScript>
        a = 1
        b = 2
    </spiffworkflow:preScript>
    <spiffworkflow:postScript><![CDATA[c = a < b]]></spiffworkflow:postScript>
  </extensionElements>
  <script>x = 1</script>
</scriptTask>
<userTask id="user"><extensionElements><spiffworkflow:preScript>u = 1</spiffworkflow:preScript></extensionElements></userTask>
<manualTask id="manual"><extensionElements><spiffworkflow:postScript>m = 1</spiffworkflow:postScript></extensionElements></manualTask>
<task id="plain"><extensionElements><spiffworkflow:preScript>   </spiffworkflow:preScript></extensionElements></task>
<subProcess id="sub">
  <extensionElements><spiffworkflow:preScript>sp = 1</spiffworkflow:preScript></extensionElements>
  <startEvent id="ss"/>
</subProcess>
<callActivity id="call" calledElement="other">
  <extensionElements><spiffworkflow:postScript>ca = 1</spiffworkflow:postScript></extensionElements>
</callActivity>"#,
        "",
    ));
    let p = &d.processes[0];
    let inline = |source: &str, line| {
        Some(Script::Inline {
            source: source.into(),
            line,
        })
    };
    let node = |id| p.node(id).unwrap();
    assert_eq!(node("script").pre_script, inline("a = 1\nb = 2", 7));
    assert_eq!(node("script").post_script, inline("c = a < b", 10));
    assert_eq!(*script_of(p, "script"), *inline("x = 1", 12).as_ref().unwrap());
    assert_eq!(node("user").pre_script, inline("u = 1", 14));
    assert_eq!(node("manual").post_script, inline("m = 1", 15));
    // A blank script is no script.
    assert_eq!(node("plain").pre_script, None);
    assert_eq!(node("sub").pre_script, inline("sp = 1", 18));
    assert_eq!(node("call").post_script, inline("ca = 1", 22));
}

#[test]
fn malformed_extensions() {
    let e = errors(&spiff(
        r#"<serviceTask id="none"/>
<serviceTask id="no_id"><extensionElements>
  <spiffworkflow:serviceTaskOperator resultVariable="r"/>
</extensionElements></serviceTask>
<serviceTask id="bad_name"><extensionElements>
  <spiffworkflow:serviceTaskOperator id="../etc/evil"/>
</extensionElements></serviceTask>
<serviceTask id="params"><extensionElements>
  <spiffworkflow:serviceTaskOperator id="op"><spiffworkflow:parameters>
    <spiffworkflow:parameter type="str" value="1"/>
    <spiffworkflow:parameter id="x" value="1"/>
    <spiffworkflow:parameter id="x" value="2"/>
    <spiffworkflow:parameter id="empty" value="  "/>
  </spiffworkflow:parameters></spiffworkflow:serviceTaskOperator>
</extensionElements></serviceTask>
<serviceTask id="two"><extensionElements>
  <spiffworkflow:serviceTaskOperator id="a"/>
  <spiffworkflow:serviceTaskOperator id="b"/>
  <spiffworkflow:preScript>x = 1</spiffworkflow:preScript>
  <spiffworkflow:preScript>x = 2</spiffworkflow:preScript>
</extensionElements></serviceTask>
<scriptTask id="script"><extensionElements>
  <spiffworkflow:serviceTaskOperator id="op"/>
</extensionElements><script>x = 1</script></scriptTask>
<exclusiveGateway id="g"><extensionElements>
  <spiffworkflow:postScript>x = 1</spiffworkflow:postScript>
</extensionElements></exclusiveGateway>
<endEvent id="e"><extensionElements><spiffworkflow:preScript>x = 1</spiffworkflow:preScript></extensionElements></endEvent>
<sequenceFlow id="f" sourceRef="g" targetRef="e"/>"#,
        "",
    ));
    assert_eq!(
        e,
        [
            "t.bpmn:4:1: none: service task has no `spiffworkflow:serviceTaskOperator`: add one in its \
             extensionElements naming the operation to call, e.g. \
             <spiffworkflow:serviceTaskOperator id=\"lookup_product\"/>",
            "t.bpmn:6:3: no_id: `spiffworkflow:serviceTaskOperator` has no id: the id names the operation to call",
            "t.bpmn:9:3: bad_name: invalid operation name `../etc/evil`: use letters, digits, `_`, `-`, `.` \
             and `/` (no empty segment and no segment starting with `.`), e.g. `lookup_product_info`",
            "t.bpmn:13:5: params: `spiffworkflow:parameter` has no id: the id names the parameter",
            "t.bpmn:15:5: params: parameter `x` is given twice",
            "t.bpmn:16:5: params: parameter `empty` has an empty value: the value is an expression evaluated \
             against the task data (quote text, e.g. value=\"'abc'\")",
            "t.bpmn:21:3: two: more than one `spiffworkflow:serviceTaskOperator`: a service task calls one \
             operation",
            "t.bpmn:23:3: two: more than one `spiffworkflow:preScript`: write the code in one",
            "t.bpmn:26:3: script: `spiffworkflow:serviceTaskOperator` on a scriptTask: only a serviceTask \
             calls an operation",
            "t.bpmn:29:3: g: `spiffworkflow:postScript` on an exclusiveGateway: pre- and post-scripts run only \
             on activities (tasks, subprocesses and call activities)",
            "t.bpmn:31:37: e: `spiffworkflow:preScript` on an endEvent: pre- and post-scripts run only on \
             activities (tasks, subprocesses and call activities)",
        ]
    );
}

fn error_of<'a>(p: &'a ProcessSpec, id: &str) -> &'a ErrorEvent {
    match &p.node(id).unwrap().kind {
        NodeKind::BoundaryEvent { error, .. } | NodeKind::ErrorEndEvent(error) | NodeKind::ErrorStartEvent(error) => {
            error
        }
        other => panic!("{id} is {other:?}"),
    }
}

#[test]
fn errors_boundaries_and_event_subprocesses() {
    let d = parse(&spiff(
        r#"<boundaryEvent id="catch_missing" attachedToRef="work"><errorEventDefinition id="ed1" errorRef="missing"/></boundaryEvent>
<boundaryEvent id="catch_any" attachedToRef="work" cancelActivity="true"><errorEventDefinition/></boundaryEvent>
<serviceTask id="work"><extensionElements><spiffworkflow:serviceTaskOperator id="op"/></extensionElements></serviceTask>
<subProcess id="sub">
  <startEvent id="sub_start"/>
  <endEvent id="throw"><errorEventDefinition errorRef=" missing "/></endEvent>
  <sequenceFlow id="sf" sourceRef="sub_start" targetRef="throw"/>
  <subProcess id="handler" triggeredByEvent="true">
    <startEvent id="handler_start" isInterrupting="true"><errorEventDefinition errorRef="other"/></startEvent>
  </subProcess>
</subProcess>
<boundaryEvent id="on_sub" attachedToRef="sub"><errorEventDefinition errorRef="other"/></boundaryEvent>
<sequenceFlow id="f1" sourceRef="s" targetRef="work"/>
<sequenceFlow id="f2" sourceRef="work" targetRef="sub"/>
<sequenceFlow id="f3" sourceRef="catch_missing" targetRef="sub"/>"#,
        r#"<error id="missing" name="File missing" errorCode="file_not_found">
  <extensionElements>
    <spiffworkflow:variableName> missing_info </spiffworkflow:variableName>
    <spiffworkflow:payloadExpression>{"file": path}</spiffworkflow:payloadExpression>
  </extensionElements>
</error>
<error id="other" errorCode=""/>"#,
    ));
    let p = &d.processes[0];
    let missing = ErrorDef {
        id: "missing".into(),
        name: Some("File missing".into()),
        code: Some("file_not_found".into()),
        variable: Some("missing_info".into()),
        payload: Some("{\"file\": path}".into()),
    };
    let other = ErrorDef {
        id: "other".into(),
        name: None,
        code: None,
        variable: None,
        payload: None,
    };
    let work = p.index["work"];
    assert_eq!(
        p.nodes[work].boundaries,
        [p.index["catch_missing"], p.index["catch_any"]]
    );
    match &p.node("catch_missing").unwrap().kind {
        NodeKind::BoundaryEvent { attached_to, error } => {
            assert_eq!(*attached_to, work);
            assert_eq!(error.error.as_ref(), Some(&missing));
            assert!(error.catches(Some("file_not_found")) && !error.catches(Some("x")) && !error.catches(None));
        }
        other => panic!("{other:?}"),
    }
    let any = error_of(p, "catch_any");
    assert_eq!((any.error_ref.as_deref(), any.error.as_ref()), (None, None));
    assert!(any.catches(Some("x")) && any.catches(None));
    // An error without a code catches every code too.
    assert_eq!(error_of(p, "on_sub").error.as_ref(), Some(&other));
    assert!(error_of(p, "on_sub").catches(Some("x")));
    assert_eq!(p.node("sub").unwrap().boundaries, [p.index["on_sub"]]);
    assert!(p.event_subprocesses.is_empty());
    let NodeKind::SubProcess(sub) = &p.node("sub").unwrap().kind else {
        panic!()
    };
    assert_eq!(error_of(sub, "throw").error.as_ref(), Some(&missing));
    assert_eq!(sub.event_subprocesses, [sub.index["handler"]]);
    assert_eq!(sub.starts, [0]);
    let NodeKind::EventSubProcess(handler) = &sub.node("handler").unwrap().kind else {
        panic!()
    };
    assert_eq!(handler.starts, [0]);
    assert_eq!(handler.error_start().unwrap().error.as_ref(), Some(&other));
    assert_eq!(kinds(handler), ["startEvent"]);
    assert_eq!(p.node("on_sub").unwrap().kind.element_name(), "boundaryEvent");
}

#[test]
fn error_event_problems() {
    let e = errors(&spiff(
        r#"<task id="t"/>
<exclusiveGateway id="g"/>
<boundaryEvent id="unknown_ref" attachedToRef="t">
  <errorEventDefinition errorRef="nope"/>
</boundaryEvent>
<boundaryEvent id="non_interrupting" attachedToRef="t" cancelActivity="false"><errorEventDefinition/></boundaryEvent>
<boundaryEvent id="dangling" attachedToRef="nothing"><errorEventDefinition/></boundaryEvent>
<boundaryEvent id="on_gateway" attachedToRef="g"><errorEventDefinition/></boundaryEvent>
<boundaryEvent id="unattached"><errorEventDefinition/></boundaryEvent>
<boundaryEvent id="bare" attachedToRef="t"/>
<startEvent id="error_start"><errorEventDefinition/></startEvent>
<subProcess id="evsub" triggeredByEvent="true">
  <startEvent id="plain_start"/>
</subProcess>
<subProcess id="evsub2" triggeredByEvent="true">
  <startEvent id="soft" isInterrupting="false"><errorEventDefinition/></startEvent>
</subProcess>
<subProcess id="evsub3" triggeredByEvent="true"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
<sequenceFlow id="f2" sourceRef="t" targetRef="g"/>
<sequenceFlow id="f3" sourceRef="g" targetRef="evsub2"/>
<sequenceFlow id="f4" sourceRef="t" targetRef="unattached"/>"#,
        r#"<error errorCode="x"/>"#,
    ));
    assert_eq!(
        e,
        [
            "t.bpmn:7:3: unknown_ref: errorRef `nope` names no `error` element in this file: define it, e.g. \
             <bpmn:error id=\"nope\" errorCode=\"...\"/>",
            "t.bpmn:9:1: non_interrupting: an error boundary event always interrupts its activity: \
             cancelActivity=\"false\" is not allowed (BPMN 2.0, 10.5.4)",
            "t.bpmn:10:1: dangling: boundary event attachedToRef `nothing` names no activity in process `p`",
            "t.bpmn:11:1: on_gateway: boundary event is attached to `g`, an exclusiveGateway: boundary events \
             attach to activities (tasks, subprocesses and call activities)",
            "t.bpmn:12:1: unattached: boundary event has no attachedToRef: name the activity it is attached to",
            "t.bpmn:12:1: unattached: boundary event has an incoming sequence flow: a boundary event begins a path",
            "t.bpmn:13:1: bare: boundary event has no event definition: an error boundary event has an \
             errorEventDefinition",
            "t.bpmn:14:1: error_start: an error start event can only start an event subprocess (a subProcess \
             with triggeredByEvent=\"true\")",
            "t.bpmn:16:3: plain_start: an event subprocess starts with an error start event (a startEvent with \
             an errorEventDefinition), not a none start event",
            "t.bpmn:18:1: evsub2: an event subprocess has no sequence flows: it starts when an error it catches \
             is thrown",
            "t.bpmn:19:3: soft: an error start event always interrupts: isInterrupting=\"false\" is not allowed \
             (BPMN 2.0, 10.5.2)",
            "t.bpmn:21:1: evsub3: event subProcess `evsub3` has no start event: it starts with an error start event",
            "t.bpmn:27:1: `error` has no id attribute",
        ]
    );
}
