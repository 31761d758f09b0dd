//! Whole diagrams: a modeler's file, and a very large one.

use super::*;

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
    assert_eq!((&*task.incoming, &*task.outgoing), (&[0][..], &[1][..]));
    assert_eq!(
        *script_of(p, "Activity_1"),
        Script::Inline {
            source: "total = price * quantity".into(),
            line: 17
        }
    );
    assert_eq!(p.flows[1].position, Position { line: 22, column: 5 });
}

/// A chain far longer than any real diagram: every node and flow is read,
/// linked in order, and positioned, in a file with a line per element and
/// in the same file on one line.
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
    let d = parse(&xml);
    let p = &d.processes[0];
    assert_eq!(p.nodes.len(), N + 2);
    assert_eq!(p.flows.len(), N + 1);
    // Every node is found by its id.
    for (i, node) in p.nodes.iter().enumerate() {
        assert_eq!(p.node_index(&node.id), Some(i), "{}", node.id);
    }
    assert_eq!(p.node_index("t"), None);
    assert_eq!(p.starts, [0]);
    // A straight line: flow i leads from node i to node i + 1, and every
    // node has exactly the flows of its place in the line.
    for (i, flow) in p.flows.iter().enumerate() {
        assert_eq!(
            (flow.id.as_str(), flow.source, flow.target),
            (format!("f{i}").as_str(), i, i + 1)
        );
    }
    for (i, node) in p.nodes.iter().enumerate() {
        let incoming: &[usize] = if i == 0 { &[] } else { &[i - 1] };
        let outgoing: &[usize] = if i == N + 1 { &[] } else { &[i] };
        assert_eq!((&*node.incoming, &*node.outgoing), (incoming, outgoing), "{}", node.id);
    }
    assert!(matches!(p.nodes[0].kind, NodeKind::StartEvent));
    assert_eq!(p.nodes[0].id, "start");
    // A sample of tasks: index, position, script and the script's line.
    for i in [0, 1, 4_999, 50_000, N - 1] {
        let id = format!("t{i}");
        let line = 5 + 2 * u32::try_from(i).unwrap();
        assert_eq!(p.node_index(&id), Some(i + 1));
        assert_eq!(p.nodes[i + 1].position, Position { line, column: 1 });
        assert_eq!(
            *script_of(p, &id),
            Script::Inline {
                source: format!("x = {i}"),
                line
            }
        );
    }
    let end = p.node(&format!("t{N}")).unwrap();
    assert!(matches!(end.kind, NodeKind::EndEvent { terminate: false }));
    assert_eq!(end.position.line, 5 + 2 * u32::try_from(N).unwrap());

    // The same chain on one line, with an end event lacking its id: columns
    // are exact at the far end of the line.
    let one_line = xml
        .replace('\n', " ")
        .replace(&format!("<endEvent id=\"t{N}\"/>"), "<endEvent/>");
    let column = |needle: &str| one_line.find(needle).unwrap() + 1;
    assert_eq!(
        errors(&one_line),
        [
            format!(
                "t.bpmn:1:{}: f{N}: sequence flow targetRef `t{N}` names no flow node in process `p`",
                column(&format!("<sequenceFlow id=\"f{N}\""))
            ),
            format!("t.bpmn:1:{}: `endEvent` has no id attribute", column("<endEvent/>")),
        ]
    );
}
