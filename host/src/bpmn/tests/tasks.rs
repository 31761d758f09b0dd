//! Script tasks (service tasks are in `spiffworkflow`).

use super::*;
use crate::bpmn::{Instances, MultiInstance};

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
fn multi_instance_characteristics_as_spiffworkflow_writes_them() {
    let xml = spiff(
        r#"<scriptTask id="a"><multiInstanceLoopCharacteristics isSequential="true" spiffworkflow:scriptsOnInstances="true">
  <loopDataInputRef>input_data</loopDataInputRef>
  <loopDataOutputRef>output_data</loopDataOutputRef>
  <inputDataItem id="input_item" name="input item" />
  <outputDataItem id="output_item" name="output item" />
  <completionCondition xsi:type="tFormalExpression" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">done
  </completionCondition>
</multiInstanceLoopCharacteristics><script>x = 1</script></scriptTask>
<userTask id="b"><multiInstanceLoopCharacteristics><loopCardinality> 3 </loopCardinality></multiInstanceLoopCharacteristics></userTask>
<callActivity id="c" calledElement="p"><multiInstanceLoopCharacteristics><loopCardinality>len(xs)</loopCardinality>
  <inputDataItem name="only_named" /></multiInstanceLoopCharacteristics></callActivity>"#,
        "",
    );
    let d = parse(&xml);
    let p = &d.processes[0];
    let multi = |id: &str| p.node(id).unwrap().multi.as_deref().unwrap().clone();
    assert_eq!(
        multi("a"),
        MultiInstance {
            sequential: true,
            over: Instances::Collection("input_data".into()),
            input_item: Some("input_item".into()),
            output: Some("output_data".into()),
            output_item: Some("output_item".into()),
            completion: Some("done".into()),
            scripts_on_instances: true,
        }
    );
    let b = multi("b");
    assert_eq!((b.sequential, b.over, b.input_item), (false, Instances::Count(3), None));
    let c = multi("c");
    assert_eq!(c.over, Instances::Cardinality("len(xs)".into()));
    assert_eq!(c.input_item.as_deref(), Some("only_named"), "without an id, the name");
    assert!(p.node("a").unwrap().looping.is_none());
}
