//! Malformed BPMN gives clear errors with line and column, never a panic.

use wasmflow::bpmn;
use wasmflow_tests::*;

fn problems(name: &str) -> Vec<String> {
    let file = fixture(name);
    let error = bpmn::parse_file(&file).expect_err("the file is malformed");
    error.0.iter().map(|d| d.to_string()).collect()
}

#[test]
fn truncated_xml_points_at_where_it_ends() {
    let problems = problems("malformed/truncated.bpmn");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("truncated.bpmn:") && problems[0].contains("truncated"),
        "{problems:?}"
    );
}

#[test]
fn an_unknown_flow_target_is_named() {
    let problems = problems("malformed/unknown_target.bpmn");
    assert!(
        problems
            .iter()
            .any(|p| p.contains("unknown_target.bpmn:6:5: f1: ") && p.contains("`nowhere`")),
        "{problems:?}"
    );
}

#[test]
fn duplicate_ids_point_at_both_places() {
    let problems = problems("malformed/duplicate_ids.bpmn");
    assert!(
        problems
            .iter()
            .any(|p| p.contains("duplicate_ids.bpmn:6:5: task_1: duplicate id `task_1` (first defined at 5:5)")),
        "{problems:?}"
    );
}

#[test]
fn a_file_without_a_process_says_so() {
    let problems = problems("malformed/no_process.bpmn");
    assert!(problems.iter().any(|p| p.contains("no process")), "{problems:?}");
}

#[test]
fn not_bpmn_and_not_xml_are_errors_not_panics() {
    for text in [
        "",
        "plain text",
        "<html><body/></html>",
        "<bpmn:definitions xmlns:bpmn=\"urn:wrong\"/>",
        "\u{0}\u{1}<<<>>>",
        "<?xml version=\"1.0\"?><a><b></a>",
    ] {
        let error = bpmn::parse_str(std::path::Path::new("x.bpmn"), text).expect_err(text);
        assert!(!error.0.is_empty());
        assert!(error.0.iter().all(|d| d.position.line >= 1), "{text:?} → {error}");
    }
}

#[test]
fn the_cli_reports_malformed_files_and_runs_nothing() {
    for name in [
        "malformed/truncated.bpmn",
        "malformed/unknown_target.bpmn",
        "malformed/duplicate_ids.bpmn",
        "malformed/no_process.bpmn",
    ] {
        let file = fixture(name).display().to_string();
        let output = cli(&["run", &file]);
        assert_eq!(output.status.code(), Some(2), "{name}");
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains(&format!("{file}:")) && stderr.contains("nothing was run"),
            "{name}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");

        let (out, code) = cli_json(&["run", &file, "--json"]);
        assert_eq!(
            (code, out["status"].clone(), out["error"]["reason"].clone()),
            (2, serde_json::json!("error"), serde_json::json!("invalid_diagram"))
        );

        let output = cli(&["check", &file]);
        assert!(!output.status.success());
    }
    let output = cli(&["check", "/no/such/diagram.bpmn"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("/no/such/diagram.bpmn"));
}
