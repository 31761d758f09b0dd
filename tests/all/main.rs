//! wasmflow's end-to-end tests, one binary: each module is one area of
//! behaviour (run one with `cargo test -p wasmflow-tests -- MODULE::`).
//! One binary links wasmtime once instead of once per file.

mod abstract_tasks;
mod batch;
mod bpmn_errors;
mod cli;
mod cli_args;
mod collaborations;
mod compensation;
mod concurrency;
mod conditions;
mod crash;
mod data_objects;
mod elements;
mod escalations;
mod examples;
mod fuzz_abi;
mod grants;
mod hostile;
mod limits;
mod loops;
mod malformed;
mod messages;
mod multi_instance;
mod multiple_events;
mod network;
mod persistence;
mod request_limit;
mod routing;
mod sandbox;
mod sandbox_cli;
mod scale;
mod service_tasks;
mod step_log;
mod store_hostile;
mod subprocess;
mod timer_starts;
mod timers;
