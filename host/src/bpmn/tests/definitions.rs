//! The root element and processes.

use super::*;

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
