//! Whole diagrams: a modeler's file, and a very large one.

use std::time::Instant;

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
