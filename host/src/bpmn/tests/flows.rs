//! Sequence flows and their conditions.

use super::*;

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
