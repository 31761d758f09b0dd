//! The root element and processes.

use super::*;
use crate::bpmn::Library;

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
fn a_collaborations_pools_run_as_one_process_under_its_id() {
    let xml = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
<collaboration id="c" name="Both">
  <participant id="pa" processRef="a" />
  <participant id="pb" name="B" processRef="b" />
  <participant id="outside" name="Drawn only" />
  <participant id="pd" processRef="doc" />
</collaboration>
<process id="a" isExecutable="true"><startEvent id="sa" /></process>
<process id="b" isExecutable="true"><startEvent id="sb"><messageEventDefinition messageRef="m" /></startEvent></process>
<message id="m" name="m" />
<process id="doc" isExecutable="false"><startEvent id="sd" /></process>
</definitions>"#;
    let d = parse(xml);
    let c = &d.collaborations[0];
    let pools: Vec<(&str, &str)> = c
        .participants
        .iter()
        .map(|p| (p.id.as_str(), p.process.as_str()))
        .collect();
    assert_eq!(
        pools,
        [("pa", "a"), ("pb", "b"), ("pd", "doc")],
        "a black box has no process"
    );
    let library = Library::new(vec![d]);
    let spec = library.process("c").expect("the collaboration runs under its id");
    // The non-executable pool stays out; a pool started by a message waits,
    // without interrupting, beside the one that starts.
    assert_eq!(kinds(spec), ["callActivity", "subProcess"]);
    assert_eq!(
        (spec.starts.as_slice(), spec.event_subprocesses.as_slice()),
        (&[0][..], &[1][..])
    );
    let NodeKind::EventSubProcess(inner) = &spec.nodes[1].kind else {
        panic!("{:?}", spec.nodes[1].kind)
    };
    assert!(matches!(
        inner.nodes[inner.starts[0]].kind,
        NodeKind::MessageStartEvent {
            interrupting: false,
            ..
        }
    ));
    assert_eq!(spec.nodes[1].name.as_deref(), Some("B"));
    assert_eq!(library.default_process().unwrap().id, "c");
}
