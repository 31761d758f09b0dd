//! XML reading: namespaces, well-formedness, entities, positions, files.

use super::*;

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
    assert_eq!(*d.processes[0].nodes[1].incoming, [0]);

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
