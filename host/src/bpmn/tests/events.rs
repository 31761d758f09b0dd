//! Events, their definitions, root errors and error references.

use super::*;

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
    let work = p.node_index("work").unwrap();
    assert_eq!(
        *p.nodes[work].boundaries,
        [
            p.node_index("catch_missing").unwrap(),
            p.node_index("catch_any").unwrap()
        ]
    );
    match &p.node("catch_missing").unwrap().kind {
        NodeKind::BoundaryEvent { attached_to, error } => {
            assert_eq!(*attached_to, work);
            assert_eq!(error.error.as_deref(), Some(&missing));
            assert!(error.catches(Some("file_not_found")) && !error.catches(Some("x")) && !error.catches(None));
        }
        other => panic!("{other:?}"),
    }
    let any = error_of(p, "catch_any");
    assert_eq!((any.error_ref.as_deref(), any.error.as_ref()), (None, None));
    assert!(any.catches(Some("x")) && any.catches(None));
    // An error without a code catches every code too.
    assert_eq!(error_of(p, "on_sub").error.as_deref(), Some(&other));
    assert!(error_of(p, "on_sub").catches(Some("x")));
    assert_eq!(*p.node("sub").unwrap().boundaries, [p.node_index("on_sub").unwrap()]);
    assert!(p.event_subprocesses.is_empty());
    let NodeKind::SubProcess(sub) = &p.node("sub").unwrap().kind else {
        panic!()
    };
    assert_eq!(error_of(sub, "throw").error.as_deref(), Some(&missing));
    assert_eq!(sub.event_subprocesses, [sub.node_index("handler").unwrap()]);
    assert_eq!(sub.starts, [0]);
    let NodeKind::EventSubProcess(handler) = &sub.node("handler").unwrap().kind else {
        panic!()
    };
    assert_eq!(handler.starts, [0]);
    assert_eq!(handler.error_start().unwrap().error.as_deref(), Some(&other));
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
            "t.bpmn:13:1: bare: boundary event has no event definition: say what it catches (an \
             errorEventDefinition, a timerEventDefinition, a messageEventDefinition or a signalEventDefinition)",
            "t.bpmn:14:1: error_start: an error start event can only start an event subprocess (a subProcess \
             with triggeredByEvent=\"true\")",
            "t.bpmn:16:3: plain_start: an event subprocess starts with an error, timer, message or signal \
             start event (a startEvent with one of those event definitions), not a none start event",
            "t.bpmn:18:1: evsub2: an event subprocess has no sequence flows: its start event starts it (an \
             error it catches, a timer, a message, a signal)",
            "t.bpmn:19:3: soft: an error start event always interrupts: isInterrupting=\"false\" is not allowed \
             (BPMN 2.0, 10.5.2)",
            "t.bpmn:21:1: evsub3: event subProcess `evsub3` has no start event: it starts with an error, timer, \
             message or signal start event",
            "t.bpmn:27:1: `error` has no id attribute",
        ]
    );
}

#[test]
fn timers_on_catch_and_boundary_events() {
    let d = parse(&wrap(
        r#"<startEvent id="s"/>
<intermediateCatchEvent id="hour">
  <timerEventDefinition>
    <timeDuration>PT1H</timeDuration>
  </timerEventDefinition>
</intermediateCatchEvent>
<intermediateCatchEvent id="deadline"><timerEventDefinition><timeDate>"2027-01-01T09:00:00Z"</timeDate></timerEventDefinition></intermediateCatchEvent>
<userTask id="approve"/>
<boundaryEvent id="remind" attachedToRef="approve" cancelActivity="false"><timerEventDefinition><timeCycle>R3/PT10M</timeCycle></timerEventDefinition></boundaryEvent>
<boundaryEvent id="expire" attachedToRef="approve"><timerEventDefinition><timeDuration>limit</timeDuration></timerEventDefinition></boundaryEvent>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="hour"/>
<sequenceFlow id="f2" sourceRef="hour" targetRef="deadline"/>
<sequenceFlow id="f3" sourceRef="deadline" targetRef="approve"/>
<sequenceFlow id="f4" sourceRef="approve" targetRef="e"/>"#,
    ));
    let p = &d.processes[0];
    let timer = |id: &str| p.node(id).unwrap().kind.timer().cloned().unwrap();
    assert_eq!(
        timer("hour"),
        TimerDef {
            kind: TimerKind::Duration,
            text: "PT1H".into(),
            expression: false,
            line: 6
        }
    );
    // SpiffWorkflow quotes its timer values: an expression, evaluated when armed.
    let deadline = timer("deadline");
    assert_eq!((deadline.kind, deadline.expression), (TimerKind::Date, true));
    assert_eq!(kinds(p)[1], "intermediateCatchEvent");
    let approve = p.node_index("approve").unwrap();
    assert_eq!(
        *p.nodes[approve].boundaries,
        [p.node_index("remind").unwrap(), p.node_index("expire").unwrap()]
    );
    for (id, cancels) in [("remind", false), ("expire", true)] {
        match &p.node(id).unwrap().kind {
            NodeKind::TimerBoundaryEvent {
                attached_to,
                interrupting,
                ..
            } => assert_eq!((*attached_to, *interrupting), (approve, cancels), "{id}"),
            other => panic!("{id} is {other:?}"),
        }
    }
    assert_eq!(timer("remind").kind, TimerKind::Cycle);
    assert!(timer("expire").expression);
}

#[test]
fn conditional_catch_boundary_and_event_subprocess_starts() {
    let d = parse(&wrap(
        r#"<startEvent id="s"/>
<intermediateCatchEvent id="ready">
  <conditionalEventDefinition>
    <condition xsi:type="tFormalExpression">order.total &gt; 1e3 and len(items_2) &gt; 0</condition>
  </conditionalEventDefinition>
</intermediateCatchEvent>
<userTask id="review"/>
<boundaryEvent id="urgent" attachedToRef="review" cancelActivity="false"><conditionalEventDefinition><condition>urgent</condition></conditionalEventDefinition></boundaryEvent>
<endEvent id="e"/>
<subProcess id="late" triggeredByEvent="true">
  <startEvent id="late_start" isInterrupting="false"><conditionalEventDefinition><condition>late</condition></conditionalEventDefinition></startEvent>
</subProcess>
<sequenceFlow id="f1" sourceRef="s" targetRef="ready"/>
<sequenceFlow id="f2" sourceRef="ready" targetRef="review"/>
<sequenceFlow id="f3" sourceRef="review" targetRef="e"/>"#,
    ));
    let p = &d.processes[0];
    let ready = p.node("ready").unwrap().kind.condition().cloned().unwrap();
    assert_eq!(ready.expression, "order.total > 1e3 and len(items_2) > 0");
    assert_eq!(ready.line, 6);
    // The names it mentions (`1e3` is a number): what wakes it.
    assert_eq!(
        *ready.names,
        ["and", "items_2", "len", "order", "total"].map(String::from)
    );
    assert!(ready.mentions("order") && !ready.mentions("e3"));
    let review = p.node_index("review").unwrap();
    assert_eq!(*p.nodes[review].boundaries, [p.node_index("urgent").unwrap()]);
    assert!(matches!(
        p.node("urgent").unwrap().kind,
        NodeKind::ConditionalBoundaryEvent { attached_to, interrupting: false, .. } if attached_to == review
    ));
    let NodeKind::EventSubProcess(late) = &p.node("late").unwrap().kind else {
        panic!("late is no event subprocess")
    };
    assert!(matches!(
        late.nodes[late.starts[0]].kind,
        NodeKind::ConditionalStartEvent {
            interrupting: false,
            ..
        }
    ));
}

#[test]
fn timer_definition_problems() {
    let e = errors(&wrap(
        r#"<startEvent id="s"/>
<intermediateCatchEvent id="none"><timerEventDefinition/></intermediateCatchEvent>
<intermediateCatchEvent id="two"><timerEventDefinition><timeDate>2027-01-01</timeDate><timeDuration>PT1H</timeDuration></timerEventDefinition></intermediateCatchEvent>
<intermediateCatchEvent id="blank"><timerEventDefinition><timeDuration>  </timeDuration></timerEventDefinition></intermediateCatchEvent>
<intermediateCatchEvent id="cron"><timerEventDefinition><timeCycle>0 0 9 * * ?</timeCycle></timerEventDefinition></intermediateCatchEvent>
<intermediateCatchEvent id="empty"/>
<task id="t"/>
<boundaryEvent id="loose"><timerEventDefinition><timeDuration>PT1M</timeDuration></timerEventDefinition></boundaryEvent>
<sequenceFlow id="f1" sourceRef="s" targetRef="none"/>
<sequenceFlow id="f2" sourceRef="none" targetRef="two"/>
<sequenceFlow id="f3" sourceRef="two" targetRef="blank"/>
<sequenceFlow id="f4" sourceRef="blank" targetRef="cron"/>
<sequenceFlow id="f5" sourceRef="cron" targetRef="empty"/>
<sequenceFlow id="f6" sourceRef="empty" targetRef="t"/>"#,
    ));
    assert_eq!(
        e,
        [
            "t.bpmn:4:35: none: timerEventDefinition has no timeDate, timeDuration or timeCycle: say when it fires",
            "t.bpmn:5:34: two: timerEventDefinition has timeDate and timeDuration: give one",
            "t.bpmn:6:36: blank: the timer's timeDuration is empty",
            "t.bpmn:7:35: cron: timeCycle `0 0 9 * * ?`: cron expressions are not supported yet; write an ISO \
             8601 repeating interval such as R3/PT10S or R/2027-01-01T09:00:00Z/P1D",
            "t.bpmn:8:1: empty: intermediate catch event has no event definition: say what it waits for (a \
             timerEventDefinition, a messageEventDefinition, a signalEventDefinition or a \
             conditionalEventDefinition)",
            "t.bpmn:10:1: loose: boundary event has no attachedToRef: name the activity it is attached to",
        ]
    );
}

#[test]
fn an_event_based_gateway_leads_to_catch_events_without_conditions() {
    let e = errors(&wrap(
        r#"<startEvent id="s"/>
<eventBasedGateway id="race"/>
<intermediateCatchEvent id="wait"><timerEventDefinition><timeDuration>PT1M</timeDuration></timerEventDefinition></intermediateCatchEvent>
<task id="t"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="race"/>
<sequenceFlow id="f2" sourceRef="race" targetRef="wait"><conditionExpression>x</conditionExpression></sequenceFlow>
<sequenceFlow id="f3" sourceRef="race" targetRef="t"/>
<sequenceFlow id="f4" sourceRef="wait" targetRef="t"/>"#,
    ));
    assert_eq!(
        e,
        [
            "t.bpmn:4:1: race: event-based gateway leads to `t`, a task: its flows lead to intermediate catch \
             events (timers, messages and signals, for now) and receive tasks",
            "t.bpmn:8:1: f2: a flow out of an event-based gateway has no condition: the event it leads to decides",
        ]
    );
}

#[test]
fn a_throw_link_jumps_to_the_catch_link_of_its_name_in_its_level() {
    let d = parse(&wrap(
        r#"<startEvent id="s" /><intermediateThrowEvent id="out"><linkEventDefinition name="next" /></intermediateThrowEvent>
<intermediateCatchEvent id="in" name="next"><linkEventDefinition /></intermediateCatchEvent><endEvent id="e" />
<sequenceFlow id="f1" sourceRef="s" targetRef="out" /><sequenceFlow id="f2" sourceRef="in" targetRef="e" />"#,
    ));
    let p = &d.processes[0];
    let NodeKind::LinkThrowEvent { name, target } = &p.node("out").unwrap().kind else {
        panic!("{:?}", p.node("out"))
    };
    assert_eq!((name.as_str(), *target), ("next", p.node_index("in").unwrap()));
    assert!(matches!(&p.node("in").unwrap().kind, NodeKind::LinkCatchEvent { name } if name == "next"));
}

#[test]
fn link_problems_are_reported_where_they_are() {
    let e = errors(&wrap(
        r#"<startEvent id="s" />
<intermediateThrowEvent id="lost"><linkEventDefinition name="nowhere" /></intermediateThrowEvent>
<intermediateCatchEvent id="a"><linkEventDefinition name="twice" /></intermediateCatchEvent>
<intermediateCatchEvent id="b"><linkEventDefinition name="twice" /></intermediateCatchEvent>
<intermediateThrowEvent id="onward"><linkEventDefinition name="twice" /></intermediateThrowEvent>
<intermediateThrowEvent id="anonymous"><linkEventDefinition /></intermediateThrowEvent>
<endEvent id="e" />
<sequenceFlow id="f1" sourceRef="s" targetRef="lost" /><sequenceFlow id="f2" sourceRef="onward" targetRef="e" />
<sequenceFlow id="f3" sourceRef="a" targetRef="e" /><sequenceFlow id="f4" sourceRef="s" targetRef="b" />
<subProcess id="sub"><startEvent id="ss" /><intermediateThrowEvent id="up"><linkEventDefinition name="twice" /></intermediateThrowEvent>
<sequenceFlow id="f5" sourceRef="ss" targetRef="up" /></subProcess>"#,
    ));
    assert_eq!(
        e,
        [
            "t.bpmn:4:1: lost: throw link `nowhere` has no catch link of that name in this process level (links join \
             parts of one process or subprocess)",
            "t.bpmn:6:1: b: a catch link has no incoming sequence flow: throw links of its name lead to it",
            "t.bpmn:6:1: b: catch link `twice` is also the name of `a` (line 5): a throw link jumps to one catch of its name",
            "t.bpmn:7:1: onward: a throw link has no outgoing sequence flow: the token goes on from the catch link of its name",
            "t.bpmn:8:1: anonymous: link event has no name: give its linkEventDefinition a name (throw and catch links meet by name)",
            "t.bpmn:12:44: up: throw link `twice` has no catch link of that name in this process level (links join \
             parts of one process or subprocess)",
        ]
    );
}

/// A file with message `m` (`paid`), signal `sg` (`cancel`) and error
/// `err`, whose single process `p` holds `body`.
fn with_roots(body: &str) -> String {
    format!(
        "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" id=\"d\">\n\
         <message id=\"m\" name=\"paid\"/><signal id=\"sg\" name=\"cancel\"/><error id=\"err\" errorCode=\"x\"/>\n\
         <process id=\"p\" isExecutable=\"true\">\n{body}\n</process>\n</definitions>\n"
    )
}

#[test]
fn several_definitions_make_multiple_catch_boundary_and_event_subprocess_start_events() {
    let d = parse(&with_roots(
        r#"<startEvent id="s"/>
<intermediateCatchEvent id="any"><messageEventDefinition messageRef="m"/><signalEventDefinition signalRef="sg"/></intermediateCatchEvent>
<userTask id="work"/>
<boundaryEvent id="both" attachedToRef="work" cancelActivity="false" parallelMultiple="true">
  <timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition>
  <conditionalEventDefinition><condition>x &gt; 1</condition></conditionalEventDefinition>
</boundaryEvent>
<endEvent id="e"/>
<endEvent id="e2"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="any"/>
<sequenceFlow id="f2" sourceRef="any" targetRef="work"/>
<sequenceFlow id="f3" sourceRef="work" targetRef="e"/>
<sequenceFlow id="f4" sourceRef="both" targetRef="e2"/>
<subProcess id="esp" triggeredByEvent="true">
  <startEvent id="es" isInterrupting="false"><signalEventDefinition signalRef="sg"/><messageEventDefinition messageRef="m"/></startEvent>
  <endEvent id="ee"/>
  <sequenceFlow id="t1" sourceRef="es" targetRef="ee"/>
</subProcess>"#,
    ));
    let p = &d.processes[0];
    let NodeKind::MultipleCatchEvent(any) = &p.node("any").unwrap().kind else {
        panic!("any is {:?}", p.node("any").unwrap().kind);
    };
    assert!(!any.parallel);
    assert!(
        matches!(&any.parts[..], [NodeKind::MessageCatchEvent(m), NodeKind::SignalCatchEvent(s)]
        if m.name == "paid" && s.name == "cancel")
    );
    let kind = &p.node("any").unwrap().kind;
    assert_eq!(kind.element_name(), "intermediateCatchEvent");
    assert_eq!(
        (
            kind.message_catch().unwrap().name.as_str(),
            kind.signal_catch().unwrap().name.as_str()
        ),
        ("paid", "cancel")
    );

    let work = p.node_index("work").unwrap();
    let both = p.node_index("both").unwrap();
    assert_eq!(*p.nodes[work].boundaries, [both]);
    let NodeKind::MultipleBoundaryEvent {
        attached_to,
        event,
        interrupting,
    } = &p.nodes[both].kind
    else {
        panic!("both is {:?}", p.nodes[both].kind);
    };
    assert_eq!((*attached_to, *interrupting, event.parallel), (work, false, true));
    assert!(p.nodes[both].kind.timer().is_some() && p.nodes[both].kind.condition().is_some());

    let NodeKind::EventSubProcess(inner) = &p.node("esp").unwrap().kind else {
        panic!("esp is not an event subprocess");
    };
    let start = &inner.nodes[inner.starts[0]].kind;
    assert!(matches!(start, NodeKind::MultipleStartEvent { interrupting: false, event } if event.parts.len() == 2));
    assert_eq!(start.message_catch().unwrap().name, "paid");
}

#[test]
fn several_definitions_that_cannot_combine_are_reported() {
    let errors = errors(&with_roots(
        r#"<startEvent id="s"><messageEventDefinition messageRef="m"/><timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition></startEvent>
<intermediateCatchEvent id="bad_timer"><messageEventDefinition messageRef="m"/><timerEventDefinition/></intermediateCatchEvent>
<userTask id="work"/>
<boundaryEvent id="with_error" attachedToRef="work"><errorEventDefinition errorRef="err"/><messageEventDefinition messageRef="m"/></boundaryEvent>
<boundaryEvent id="unattached"><messageEventDefinition messageRef="m"/><signalEventDefinition/></boundaryEvent>
<endEvent id="e"/>
<sequenceFlow id="f1" sourceRef="s" targetRef="bad_timer"/>
<sequenceFlow id="f2" sourceRef="bad_timer" targetRef="work"/>
<sequenceFlow id="f3" sourceRef="work" targetRef="e"/>"#,
    ));
    let has = |id: &str, text: &str| {
        errors
            .iter()
            .any(|e| e.contains(&format!(" {id}: ")) && e.contains(text))
    };
    assert!(
        has(
            "s",
            "a start event with several event definitions can only start an event subprocess"
        ),
        "{errors:?}"
    );
    assert!(has("bad_timer", "timerEventDefinition has no timeDate"), "{errors:?}");
    assert!(has("with_error", "not an errorEventDefinition"), "{errors:?}");
    let unattached: Vec<_> = errors.iter().filter(|e| e.contains(" unattached: ")).collect();
    assert_eq!(unattached.len(), 1, "reported once, not per definition: {errors:?}");
    assert!(unattached[0].contains("no attachedToRef"), "{errors:?}");
}
