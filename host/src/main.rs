//! The `wasmflow` command: parse the arguments, run the command, map the outcome to an exit code.

fn main() -> std::process::ExitCode {
    wasmflow::cli::main()
}
