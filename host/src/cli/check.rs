//! `wasmflow check`: parse and validate diagrams together, list what they
//! contain, and report every problem as `file:line:column: element id: message`.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::process::ExitCode;
use std::sync::Arc;

use serde::Serialize;

use super::args::CheckArgs;
use super::{BAD_INPUT, FAILED};
use crate::bpmn::{self, Diagnostic, Library, NodeKind, Position, ProcessSpec, Script};
use crate::call::ScriptError;
use crate::script::{CallKind, ScriptEngine};

/// What `check --json` prints.
#[derive(Debug, Serialize)]
struct Report {
    processes: Vec<ProcessReport>,
    problems: Vec<Diagnostic>,
}

#[derive(Debug, Serialize)]
struct ProcessReport {
    file: String,
    id: String,
    name: Option<String>,
    executable: bool,
    tasks: Vec<TaskReport>,
    plugins: BTreeSet<String>,
    /// Service operations its service tasks call.
    operations: BTreeSet<String>,
}

#[derive(Debug, Serialize)]
struct TaskReport {
    id: String,
    name: Option<String>,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    plugin: Option<String>,
    /// The operation a service task calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    operation: Option<String>,
    /// `preScript` and/or `postScript`, when the task has them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    scripts: Vec<&'static str>,
}

pub fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let mut problems = Vec::new();
    let mut diagrams = Vec::new();
    for file in &args.files {
        match bpmn::parse_file(file) {
            Ok(diagram) => diagrams.push(diagram),
            Err(diagnostics) => problems.extend(diagnostics.0),
        }
    }
    let library = Arc::new(Library::new(diagrams));
    let scripts = args.sandbox.script_engine(args.files.first().map(|f| f.as_path()))?;
    let mut syntax = SyntaxCheck {
        scripts: &scripts,
        parsed: HashMap::new(),
    };
    let mut processes = Vec::new();
    for duplicate in library.duplicates() {
        problems.push(diagnostic(
            duplicate,
            duplicate.position,
            &duplicate.id,
            format!(
                "process `{}` is also defined in an earlier file; call activities will use that one",
                duplicate.id
            ),
        ));
    }
    for process in library.diagrams().iter().flat_map(|d| &d.processes) {
        processes.push(check_process(process, &library, &mut syntax, &mut problems));
    }

    if args.json {
        out!(
            "{}",
            serde_json::to_string_pretty(&Report {
                processes,
                problems: problems.clone()
            })?
        );
    } else {
        for process in &processes {
            let executable = if process.executable { " (executable)" } else { "" };
            out!(
                "{}: process `{}`{}{executable}",
                process.file,
                process.id,
                process.name.as_ref().map(|n| format!(" \"{n}\"")).unwrap_or_default()
            );
            for task in &process.tasks {
                let plugin = task
                    .plugin
                    .as_ref()
                    .map(|p| format!("  [plugin {p}]"))
                    .unwrap_or_default();
                let operation = task
                    .operation
                    .as_ref()
                    .map(|o| format!("  [operation {o}]"))
                    .unwrap_or_default();
                let scripts: String = task.scripts.iter().map(|s| format!("  [{s}]")).collect();
                out!(
                    "  {} `{}`{}{plugin}{operation}{scripts}",
                    task.kind,
                    task.id,
                    task.name.as_ref().map(|n| format!(" \"{n}\"")).unwrap_or_default()
                );
            }
            let plugins: Vec<_> = process.plugins.iter().map(String::as_str).collect();
            out!(
                "  plugins needed: {}",
                if plugins.is_empty() {
                    "none".to_string()
                } else {
                    plugins.join(", ")
                }
            );
            if !process.operations.is_empty() {
                let operations: Vec<_> = process.operations.iter().map(String::as_str).collect();
                out!("  operations called: {}", operations.join(", "));
            }
        }
        for problem in &problems {
            eprintln!("{problem}");
        }
        if problems.is_empty() {
            out!(
                "ok: {} file(s), {} process(es), no problems",
                args.files.len(),
                processes.len()
            );
        } else {
            eprintln!("{} problem(s)", problems.len());
        }
    }
    let unreadable = problems.iter().any(|p| p.position == Position::default());
    Ok(match (problems.is_empty(), unreadable) {
        (true, _) => ExitCode::SUCCESS,
        (false, true) => ExitCode::from(BAD_INPUT),
        (false, false) => ExitCode::from(FAILED),
    })
}

/// Lists one process (subprocesses included, walked without recursion) and
/// checks what the parser cannot: called processes, plugins and inline code.
/// Parses inline sources in the sandbox, each distinct text once: diagrams
/// repeat the same script or condition on many elements, and whether a text
/// parses depends on nothing else. A failure is asked again at each element,
/// since its line differs.
struct SyntaxCheck<'a> {
    scripts: &'a ScriptEngine,
    parsed: HashMap<CallKind, HashSet<String>>,
}

impl SyntaxCheck<'_> {
    fn check(&mut self, call: CallKind, source: &str, first_line: u32) -> Result<(), ScriptError> {
        if self.parsed.get(&call).is_some_and(|parsed| parsed.contains(source)) {
            return Ok(());
        }
        self.scripts.check_source(call, source, first_line)?;
        self.parsed.entry(call).or_default().insert(source.to_string());
        Ok(())
    }
}

fn check_process(
    process: &Arc<ProcessSpec>,
    library: &Library,
    syntax: &mut SyntaxCheck<'_>,
    problems: &mut Vec<Diagnostic>,
) -> ProcessReport {
    let scripts = syntax.scripts;
    let mut report = ProcessReport {
        file: process.file.display().to_string(),
        id: process.id.clone(),
        name: process.name.clone(),
        executable: process.executable,
        tasks: Vec::new(),
        plugins: BTreeSet::new(),
        operations: BTreeSet::new(),
    };
    let mut checked_plugins = BTreeSet::new();
    let mut scopes = vec![process.clone()];
    while let Some(scope) = scopes.pop() {
        for node in &scope.nodes {
            let mut plugin = None;
            let mut operation = None;
            let mut task_scripts = Vec::new();
            // Pre- and post-scripts must parse.
            for (which, script) in [("preScript", &node.pre_script), ("postScript", &node.post_script)] {
                let Some(script) = script else { continue };
                task_scripts.push(which);
                report.plugins.insert(crate::script::PYTHON.to_string());
                if let Script::Inline { source, line } = &**script
                    && let Err(error) = syntax.check(CallKind::Script, source, *line)
                {
                    let at = Position {
                        line: error.line.unwrap_or(*line),
                        column: 1,
                    };
                    problems.push(diagnostic(
                        &scope,
                        at,
                        &node.id,
                        format!("{which} does not parse: {}", error.message),
                    ));
                }
            }
            match &node.kind {
                NodeKind::SubProcess(inner) | NodeKind::EventSubProcess(inner) => scopes.push(inner.clone()),
                NodeKind::ServiceTask(call) => {
                    operation = Some(call.operation.clone());
                    report.operations.insert(call.operation.clone());
                    for param in &call.params {
                        report.plugins.insert(crate::script::PYTHON.to_string());
                        if let Err(error) = syntax.check(CallKind::Expression, &param.value, param.line) {
                            let at = Position {
                                line: param.line,
                                column: 1,
                            };
                            problems.push(diagnostic(
                                &scope,
                                at,
                                &node.id,
                                format!("parameter `{}` does not parse: {}", param.id, error.message),
                            ));
                        }
                    }
                }
                kind if let Some(condition) = kind.condition() => {
                    report.plugins.insert(crate::script::PYTHON.to_string());
                    if let Err(error) = syntax.check(CallKind::Expression, &condition.expression, condition.line) {
                        let at = Position {
                            line: condition.line,
                            column: 1,
                        };
                        let message = format!("condition `{}` does not parse: {}", condition.expression, error.message);
                        problems.push(diagnostic(&scope, at, &node.id, message));
                    }
                }
                NodeKind::ErrorEndEvent(event)
                | NodeKind::EscalationEndEvent(event)
                | NodeKind::EscalationThrowEvent(event) => {
                    if let Some(expression) = event.error.as_ref().and_then(|e| e.payload.as_deref()) {
                        report.plugins.insert(crate::script::PYTHON.to_string());
                        if let Err(error) = syntax.check(CallKind::Expression, expression, node.position.line) {
                            problems.push(diagnostic(
                                &scope,
                                node.position,
                                &node.id,
                                format!("payloadExpression does not parse: {}", error.message),
                            ));
                        }
                    }
                }
                NodeKind::TimerCatchEvent(timer)
                | NodeKind::TimerBoundaryEvent { timer, .. }
                | NodeKind::TimerStartEvent { timer, .. }
                    if timer.expression =>
                {
                    report.plugins.insert(crate::script::PYTHON.to_string());
                    if let Err(error) = syntax.check(CallKind::Expression, &timer.text, timer.line) {
                        let at = Position {
                            line: timer.line,
                            column: 1,
                        };
                        let message = format!(
                            "{} `{}` is neither ISO 8601 nor an expression that parses: {}",
                            timer.kind.element_name(),
                            timer.text,
                            error.message
                        );
                        problems.push(diagnostic(&scope, at, &node.id, message));
                    }
                }
                kind if kind.message_catch().is_some() || kind.message_throw().is_some() => {
                    let message = kind.message_catch().or(kind.message_throw()).expect("matched above");
                    // Every expression a message event evaluates: its payload
                    // (throws), how its correlation values are read.
                    let expressions = (message.payload.iter().map(|p| ("messagePayload".to_string(), p)))
                        .chain(message.correlation.iter().map(|r| {
                            (
                                format!("the messagePath of correlation property `{}`", r.property),
                                &r.expression,
                            )
                        }))
                        .chain(message.subscription.iter().map(|r| {
                            (
                                format!("the processVariableCorrelation expression of `{}`", r.property),
                                &r.expression,
                            )
                        }));
                    for (what, expression) in expressions {
                        report.plugins.insert(crate::script::PYTHON.to_string());
                        if let Err(error) = syntax.check(CallKind::Expression, expression, message.line) {
                            problems.push(diagnostic(
                                &scope,
                                node.position,
                                &node.id,
                                format!("{what} (`{expression}`) does not parse: {}", error.message),
                            ));
                        }
                    }
                }
                kind if kind.signal_throw().is_some_and(|s| s.payload.is_some()) => {
                    let signal = kind.signal_throw().expect("matched above");
                    let expression = signal.payload.as_deref().unwrap_or_default();
                    report.plugins.insert(crate::script::PYTHON.to_string());
                    if let Err(error) = syntax.check(CallKind::Expression, expression, signal.line) {
                        problems.push(diagnostic(
                            &scope,
                            node.position,
                            &node.id,
                            format!(
                                "the payloadExpression of signal `{}` (`{expression}`) does not parse: {}",
                                signal.name, error.message
                            ),
                        ));
                    }
                }
                NodeKind::CallActivity { called_element } if library.process(called_element).is_none() => {
                    problems.push(diagnostic(&scope, node.position, &node.id, format!("calledElement `{called_element}` names no process in the files given: add the file that defines it")));
                }
                NodeKind::ScriptTask(script) => {
                    match scripts.plugin_for(script).and_then(|p| scripts.prepare(&p).map(|()| p)) {
                        Ok(found) => plugin = Some(found.name),
                        Err(error) => {
                            if let Script::Plugin { name } = script {
                                plugin = Some(name.clone());
                                // Report each missing plugin once per process, at its first use.
                                if checked_plugins.insert(name.clone()) {
                                    problems.push(diagnostic(
                                        &scope,
                                        node.position,
                                        &node.id,
                                        format!("plugin `{name}`: {}", error.message),
                                    ));
                                }
                            }
                        }
                    }
                    if let Script::Inline { source, line } = script
                        && let Err(error) = syntax.check(CallKind::Script, source, *line)
                    {
                        let at = Position {
                            line: error.line.unwrap_or(*line),
                            column: 1,
                        };
                        problems.push(diagnostic(
                            &scope,
                            at,
                            &node.id,
                            format!("script does not parse: {}", error.message),
                        ));
                    }
                }
                _ => {}
            }
            if let Some(plugin) = &plugin {
                report.plugins.insert(plugin.clone());
            }
            report.tasks.push(TaskReport {
                id: node.id.clone(),
                name: node.name.clone(),
                kind: node.kind.element_name(),
                plugin,
                operation,
                scripts: task_scripts,
            });
        }
        for flow in &scope.flows {
            if let Some(condition) = &flow.condition {
                report.plugins.insert(crate::script::PYTHON.to_string());
                if let Err(error) = syntax.check(CallKind::Expression, condition, flow.position.line) {
                    problems.push(diagnostic(
                        &scope,
                        flow.position,
                        &flow.id,
                        format!("condition does not parse: {}", error.message),
                    ));
                }
            }
        }
    }
    report
}

fn diagnostic(scope: &ProcessSpec, position: Position, element: &str, message: String) -> Diagnostic {
    Diagnostic {
        file: scope.file.as_ref().clone(),
        position,
        element: Some(element.to_string()),
        message,
    }
}
