//! Per-call limits from the command line and the manifest: a value out of
//! range is a usage error (exit 2) naming the flag or key and the accepted
//! range, never a panic.

use wasmflow_tests::*;

fn path(p: &std::path::Path) -> String {
    p.display().to_string()
}

/// Expects a usage error whose message contains every one of `needles`.
fn refused(output: &std::process::Output, needles: &[&str]) {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "no `{needle}` in: {stderr}");
    }
}

#[test]
fn a_limit_flag_out_of_range_is_a_usage_error_not_a_panic() {
    let diagram = path(&fixture("linear.bpmn"));
    let run = |flag: &str, value: &str| cli(&["run", &diagram, "--data", r#"{"x": 1}"#, flag, value]);
    refused(
        &run("--timeout", "99999999999999999999999"),
        &["--timeout", "from 1ms to 24h"],
    );
    refused(&run("--timeout", "25h"), &["--timeout", "from 1ms to 24h"]);
    refused(&run("--memory", "5GiB"), &["--memory", "4GiB"]);
    refused(
        &run("--max-response", "99999999999999999999999"),
        &["--max-response", "4GiB"],
    );
    // `call` takes the same flags.
    let output = cli(&["call", "python", "--timeout", "99999999999999999999999"]);
    refused(&output, &["--timeout", "from 1ms to 24h"]);

    // The ends of the ranges are accepted.
    let output = run("--timeout", "24h");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let output = run("--max-response", "4GiB");
    assert!(output.status.success(), "{}", text(&output.stderr));
}

#[test]
fn a_manifest_limit_out_of_range_is_a_usage_error_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let diagram = dir.path().join("linear.bpmn");
    std::fs::copy(fixture("linear.bpmn"), &diagram).unwrap();
    let manifest = dir.path().join("wasmflow.toml");
    let run = || cli(&["run", &path(&diagram), "--data", r#"{"x": 1}"#]);

    std::fs::write(
        &manifest,
        "[plugins.python]\nlimits = { timeout = \"99999999999999999999999\" }\n",
    )
    .unwrap();
    refused(&run(), &["wasmflow.toml:2:", "limits.timeout", "from 1ms to 24h"]);

    std::fs::write(
        &manifest,
        "[plugins.python]\nlimits = { memory = \"8GiB\", response = \"99999999999999999999999\" }\n",
    )
    .unwrap();
    refused(&run(), &["limits.memory", "limits.response", "4GiB"]);
}
