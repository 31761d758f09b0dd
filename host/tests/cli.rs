//! The binary's argument handling. (The end-to-end suite is in the workspace's
//! `tests/` crate; having an integration test here also makes `cargo test`
//! build the `wasmflow` binary that suite runs.)

use std::process::Command;

fn wasmflow(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_wasmflow"))
        .args(args)
        .output()
        .expect("wasmflow runs")
}

#[test]
fn help_lists_the_commands() {
    let output = wasmflow(&["--help"]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for command in ["run", "check", "call"] {
        assert!(text.contains(command), "`{command}` missing from:\n{text}");
    }
}

#[test]
fn bad_limits_are_usage_errors_that_say_how_to_fix_them() {
    let output = wasmflow(&["run", "nothing.bpmn", "--memory", "lots"]);
    assert_eq!(output.status.code(), Some(2));
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(text.contains("--memory") && text.contains("64MiB"), "{text}");
}
