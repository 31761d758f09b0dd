//! SpiffWorkflow extensions.

use super::*;

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
        Some(Box::new(Script::Inline {
            source: "total = product_info[\"price\"] * quantity".into(),
            line: 14
        }))
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
        Some(Box::new(Script::Inline {
            source: source.into(),
            line,
        }))
    };
    let node = |id| p.node(id).unwrap();
    assert_eq!(node("script").pre_script, inline("a = 1\nb = 2", 7));
    assert_eq!(node("script").post_script, inline("c = a < b", 10));
    assert_eq!(*script_of(p, "script"), **inline("x = 1", 12).as_ref().unwrap());
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
