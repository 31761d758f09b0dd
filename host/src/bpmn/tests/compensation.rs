//! Compensation boundary events and their handlers, compensation throws,
//! transactions, cancel end and cancel boundary events.

use super::*;

/// A transaction `trip` booking a flight whose handler is joined by an
/// association drawn from the boundary event, and a hotel whose handler is
/// joined by one drawn the other way round; `extra` goes inside the process.
fn trip(extra: &str) -> String {
    wrap(&format!(
        r#"<startEvent id="s"/>
<transaction id="trip">
  <startEvent id="ts"/>
  <task id="flight"/>
  <boundaryEvent id="undo_flight" attachedToRef="flight"><compensateEventDefinition/></boundaryEvent>
  <scriptTask id="refund_flight" isForCompensation="true"><script>x = 1</script></scriptTask>
  <association id="a1" associationDirection="One" sourceRef="undo_flight" targetRef="refund_flight"/>
  <task id="hotel"/>
  <boundaryEvent id="undo_hotel" attachedToRef="hotel"><compensateEventDefinition/></boundaryEvent>
  <task id="refund_hotel" isForCompensation="true"/>
  <association id="a2" sourceRef=" refund_hotel " targetRef="undo_hotel"/>
  <endEvent id="give_up"><cancelEventDefinition/></endEvent>
  <sequenceFlow id="t1" sourceRef="ts" targetRef="flight"/>
  <sequenceFlow id="t2" sourceRef="flight" targetRef="hotel"/>
  <sequenceFlow id="t3" sourceRef="hotel" targetRef="give_up"/>
</transaction>
<boundaryEvent id="cancelled" attachedToRef="trip"><cancelEventDefinition/></boundaryEvent>
<intermediateThrowEvent id="undo_trip"><compensateEventDefinition activityRef="trip"/></intermediateThrowEvent>
<endEvent id="e"/>
<endEvent id="after_cancel"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="trip"/>
<sequenceFlow id="f2" sourceRef="trip" targetRef="undo_trip"/>
<sequenceFlow id="f3" sourceRef="undo_trip" targetRef="e"/>
<sequenceFlow id="f4" sourceRef="cancelled" targetRef="after_cancel"/>
{extra}"#
    ))
}

#[test]
fn a_transaction_with_handlers_cancel_events_and_a_targeted_throw() {
    let d = parse(&trip(""));
    let p = &d.processes[0];
    let trip = p.node_index("trip").unwrap();
    let NodeKind::SubProcess(inner) = &p.nodes[trip].kind else {
        panic!("trip is {:?}", p.nodes[trip].kind);
    };
    assert!(inner.transaction);
    assert_eq!(p.nodes[trip].kind.element_name(), "transaction");
    let node = |id: &str| inner.node_index(id).unwrap();
    for (boundary, activity, handler) in [
        ("undo_flight", "flight", "refund_flight"),
        ("undo_hotel", "hotel", "refund_hotel"),
    ] {
        let kind = &inner.nodes[node(boundary)].kind;
        assert!(
            matches!(kind, &NodeKind::CompensationBoundaryEvent { attached_to, handler: h }
                if attached_to == node(activity) && h == node(handler)),
            "{boundary}: {kind:?}"
        );
        assert_eq!(*inner.nodes[node(activity)].boundaries, [node(boundary)]);
    }
    assert!(matches!(inner.nodes[node("give_up")].kind, NodeKind::CancelEndEvent));
    let cancelled = &p.node("cancelled").unwrap().kind;
    assert!(
        matches!(cancelled, &NodeKind::CancelBoundaryEvent { attached_to } if attached_to == trip),
        "{cancelled:?}"
    );
    let undo = &p.node("undo_trip").unwrap().kind;
    assert!(
        matches!(undo, &NodeKind::CompensationThrowEvent { activity: Some(a) } if a == trip),
        "{undo:?}"
    );
}

#[test]
fn a_compensation_throw_without_activity_ref_compensates_its_whole_scope() {
    let d = parse(&wrap(
        r#"<startEvent id="s"/>
<endEvent id="e"><compensateEventDefinition waitForCompletion="true"/></endEvent>
<sequenceFlow id="f1" sourceRef="s" targetRef="e"/>"#,
    ));
    let p = &d.processes[0];
    let end = &p.node("e").unwrap().kind;
    assert!(
        matches!(end, NodeKind::CompensationEndEvent { activity: None }),
        "{end:?}"
    );
    assert!(!p.transaction);
}

#[test]
fn a_compensation_boundary_event_needs_a_handler_joined_by_an_association() {
    let errors = errors(&wrap(
        r#"<startEvent id="s"/>
<task id="book"/>
<boundaryEvent id="undo" attachedToRef="book"><compensateEventDefinition/></boundaryEvent>
<sequenceFlow id="f1" sourceRef="s" targetRef="book"/>"#,
    ));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains(" undo: "), "{}", errors[0]);
    assert!(
        errors[0].contains(
            "compensation boundary event has no handler: draw an association from it to the activity that undoes `book`"
        ),
        "{}",
        errors[0]
    );
}

#[test]
fn a_handler_must_be_marked_for_compensation_and_stand_on_no_flow() {
    let errors = errors(&wrap(
        r#"<startEvent id="s"/>
<task id="book"/>
<boundaryEvent id="undo" attachedToRef="book"><compensateEventDefinition/></boundaryEvent>
<task id="refund"/>
<association id="a" sourceRef="undo" targetRef="refund"/>
<task id="book2"/>
<boundaryEvent id="undo2" attachedToRef="book2"><compensateEventDefinition/></boundaryEvent>
<task id="refund2" isForCompensation="true"/>
<association id="a2" sourceRef="undo2" targetRef="refund2"/>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="book"/>
<sequenceFlow id="f2" sourceRef="book" targetRef="book2"/>
<sequenceFlow id="f3" sourceRef="book2" targetRef="refund2"/>
<sequenceFlow id="f4" sourceRef="refund" targetRef="e"/>"#,
    ));
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].contains(" undo: ") && errors[0].contains("`refund`, is not marked isForCompensation=\"true\""),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].contains(" refund2: ")
            && errors[1].contains("a compensation handler (isForCompensation=\"true\") has no sequence flows"),
        "{}",
        errors[1]
    );
}

#[test]
fn a_handler_joined_to_no_boundary_event_is_reported_as_never_running() {
    let errors = errors(&wrap(
        r#"<startEvent id="s"/>
<task id="refund" isForCompensation="true"/>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="e"/>"#,
    ));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains(" refund: ")
            && errors[0].contains("is joined to no compensation boundary event, so it would never run"),
        "{}",
        errors[0]
    );
}

#[test]
fn a_compensation_boundary_event_has_no_outgoing_flow() {
    let errors = errors(&trip("").replace(
        r#"<sequenceFlow id="t3""#,
        r#"<sequenceFlow id="t9" sourceRef="undo_flight" targetRef="give_up"/>
  <sequenceFlow id="t3""#,
    ));
    assert!(
        errors.iter().any(|e| e.contains(" undo_flight: ")
            && e.contains("a compensation boundary event has no outgoing sequence flow")),
        "{errors:?}"
    );
}

#[test]
fn cancel_events_stand_only_in_and_on_transactions() {
    let errors = errors(&wrap(
        r#"<startEvent id="s"/>
<subProcess id="sub">
  <startEvent id="ss"/>
  <endEvent id="give_up"><cancelEventDefinition/></endEvent>
  <sequenceFlow id="t1" sourceRef="ss" targetRef="give_up"/>
</subProcess>
<boundaryEvent id="cancelled" attachedToRef="sub"><cancelEventDefinition/></boundaryEvent>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="sub"/>
<sequenceFlow id="f2" sourceRef="sub" targetRef="e"/>
<sequenceFlow id="f3" sourceRef="cancelled" targetRef="e"/>"#,
    ));
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|e| e.contains(" give_up: ") && e.contains("it can only stand directly inside a transaction")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains(" cancelled: ") && e.contains("is attached to a transaction, not to a subProcess")),
        "{errors:?}"
    );
}

#[test]
fn an_activity_ref_names_an_activity_of_the_throws_own_level() {
    let errors = errors(&trip(
        r#"<intermediateThrowEvent id="bad1"><compensateEventDefinition activityRef="flight"/></intermediateThrowEvent>
<intermediateThrowEvent id="bad2"><compensateEventDefinition activityRef="e"/></intermediateThrowEvent>
<sequenceFlow id="f5" sourceRef="bad1" targetRef="bad2"/>
<sequenceFlow id="f6" sourceRef="bad2" targetRef="e"/>
<startEvent id="s2"/><sequenceFlow id="f7" sourceRef="s2" targetRef="bad1"/>"#,
    ));
    assert!(
        errors
            .iter()
            .any(|e| e.contains(" bad1: ") && e.contains("activityRef `flight` names no activity in")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains(" bad2: ") && e.contains("activityRef `e` is an endEvent")),
        "{errors:?}"
    );
}

/// A subprocess `sub` whose compensation event subprocess `esp` throws
/// compensation at `activity_ref`; `extra` goes inside `sub`.
fn compensated_by_event_subprocess(activity_ref: &str, extra: &str) -> String {
    wrap(&format!(
        r#"<startEvent id="s"/>
<subProcess id="sub">
  <startEvent id="ss"/>
  <task id="reserve"/>
  <boundaryEvent id="undo_reserve" attachedToRef="reserve"><compensateEventDefinition/></boundaryEvent>
  <task id="release" isForCompensation="true"/>
  <association id="a1" sourceRef="undo_reserve" targetRef="release"/>
  <endEvent id="se"/>
  <sequenceFlow id="t1" sourceRef="ss" targetRef="reserve"/>
  <sequenceFlow id="t2" sourceRef="reserve" targetRef="se"/>
  <subProcess id="esp" triggeredByEvent="true">
    <startEvent id="es" isInterrupting="false"><compensateEventDefinition/></startEvent>
    <intermediateThrowEvent id="undo_inside"><compensateEventDefinition activityRef="{activity_ref}"/></intermediateThrowEvent>
    <endEvent id="ee"/>
    <sequenceFlow id="u1" sourceRef="es" targetRef="undo_inside"/>
    <sequenceFlow id="u2" sourceRef="undo_inside" targetRef="ee"/>
  </subProcess>
  {extra}
</subProcess>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="sub"/>
<sequenceFlow id="f2" sourceRef="sub" targetRef="e"/>"#
    ))
}

#[test]
fn a_compensation_event_subprocess_compensates_the_scope_around_it() {
    let d = parse(&compensated_by_event_subprocess("reserve", ""));
    let p = &d.processes[0];
    let NodeKind::SubProcess(sub) = &p.nodes[p.node_index("sub").unwrap()].kind else {
        panic!("sub is not a subprocess");
    };
    let esp = sub.node_index("esp").unwrap();
    assert_eq!(sub.compensation_subprocess(), Some(esp));
    assert!(!sub.is_compensation_subprocess() && p.compensation_subprocess().is_none());
    let NodeKind::EventSubProcess(inner) = &sub.nodes[esp].kind else {
        panic!("esp is not an event subprocess");
    };
    assert!(inner.is_compensation_subprocess());
    assert_eq!(inner.starts, [inner.node_index("es").unwrap()]);
    assert!(matches!(
        inner.nodes[inner.starts[0]].kind,
        NodeKind::CompensationStartEvent
    ));
    // Its throw's activityRef names an activity of `sub`, by its index there.
    let throw = &inner.nodes[inner.node_index("undo_inside").unwrap()].kind;
    assert!(
        matches!(throw, &NodeKind::CompensationThrowEvent { activity: Some(a) } if a == sub.node_index("reserve").unwrap()),
        "{throw:?}"
    );
}

#[test]
fn a_compensation_event_subprocess_is_checked() {
    // An activityRef inside it names an activity of the scope it compensates.
    let errors = errors(&compensated_by_event_subprocess("ee", ""));
    assert!(
        errors.iter().any(|e| e.contains(" undo_inside: ")
            && e.contains("activityRef `ee` names no activity in subProcess `sub`")
            && e.contains("it names an activity of the scope the event subprocess compensates")),
        "{errors:?}"
    );
    let errors = self::errors(&compensated_by_event_subprocess("se", ""));
    assert!(
        errors
            .iter()
            .any(|e| e.contains(" undo_inside: ") && e.contains("activityRef `se` is an endEvent")),
        "{errors:?}"
    );
    // One per scope.
    let second = r#"<subProcess id="esp2" triggeredByEvent="true">
    <startEvent id="es2"><compensateEventDefinition/></startEvent>
    <endEvent id="ee2"/>
    <sequenceFlow id="v1" sourceRef="es2" targetRef="ee2"/>
  </subProcess>"#;
    let errors = self::errors(&compensated_by_event_subprocess("reserve", second));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains(" esp2: ")
            && errors[0].contains("subProcess `sub` already has a compensation event subprocess, `esp`"),
        "{errors:?}"
    );
    // Outside an event subprocess, a compensation start event is misplaced.
    let errors = self::errors(&wrap(
        r#"<startEvent id="s"/>
<subProcess id="sub">
  <startEvent id="ss"><compensateEventDefinition/></startEvent>
  <endEvent id="se"/>
  <sequenceFlow id="t1" sourceRef="ss" targetRef="se"/>
</subProcess>
<sequenceFlow id="f1" sourceRef="s" targetRef="sub"/>"#,
    ));
    assert!(
        errors.iter().any(|e| e.contains(" ss: ")
            && e.contains("a compensation start event can only start an event subprocess")),
        "{errors:?}"
    );
}
