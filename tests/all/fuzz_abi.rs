//! Property tests: arbitrary bytes through the guest ABI and the host
//! functions never crash the host, and it answers every call.
//!
//! One hand-written module does what its request bytes say: answer from an
//! arbitrary place in its memory, send arbitrary bytes as its response, or
//! pass arbitrary pointers and lengths to `log`, `call_service` and
//! `http_request`. The request itself is the fuzz input, so one compiled
//! module serves every case. Run briefly in CI (a few hundred cases per
//! executor); raise `PROPTEST_CASES` to run longer.

use std::path::PathBuf;
use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::json;
use wasmflow::executor::subprocess::protocol;
use wasmflow::script::{Catalog, Plugin, Response, ScriptEngine};
use wasmflow_tests::*;

/// Request layout: `op: u8, a: i32, b: i32, c: i32` (little-endian), then payload.
const FUZZ_GUEST: &str = r#"(module
  (import "wasmflow" "log" (func $log (param i32 i32 i32)))
  (import "wasmflow" "call_service" (func $call_service (param i32 i32) (result i64)))
  (import "wasmflow" "http_request" (func $http_request (param i32 i32) (result i64)))
  (memory (export "memory") 2)
  (func (export "wasmflow_alloc") (param $len i32) (result i32)
    (if (result i32) (i32.gt_u (local.get $len) (i32.const 65536))
      (then (i32.const -1))
      (else (i32.const 1024))))
  (func (export "wasmflow_run") (param $ptr i32) (param $len i32) (result i64)
    (local $op i32) (local $a i32) (local $b i32) (local $c i32)
    (if (i32.lt_u (local.get $len) (i32.const 13))
      (then (return (i64.const 0))))
    (local.set $op (i32.rem_u (i32.load8_u (local.get $ptr)) (i32.const 4)))
    (local.set $a (i32.load (i32.add (local.get $ptr) (i32.const 1))))
    (local.set $b (i32.load (i32.add (local.get $ptr) (i32.const 5))))
    (local.set $c (i32.load (i32.add (local.get $ptr) (i32.const 9))))
    (if (i32.eq (local.get $op) (i32.const 0))
      (then (return (i64.or
        (i64.shl (i64.extend_i32_u (local.get $a)) (i64.const 32))
        (i64.extend_i32_u (local.get $b))))))
    (if (i32.eq (local.get $op) (i32.const 1))
      (then
        (call $log (local.get $c) (local.get $a) (local.get $b))
        (return (i64.or
          (i64.shl (i64.extend_i32_u (i32.add (local.get $ptr) (i32.const 13))) (i64.const 32))
          (i64.extend_i32_u (i32.sub (local.get $len) (i32.const 13)))))))
    (if (i32.eq (local.get $op) (i32.const 2))
      (then (return (call $call_service (local.get $a) (local.get $b)))))
    (call $http_request (local.get $a) (local.get $b))))"#;

fn fuzz_guest() -> PathBuf {
    static MODULE: OnceLock<PathBuf> = OnceLock::new();
    MODULE
        .get_or_init(|| {
            let path = cache_dir().join("fuzz_guest.wasm");
            std::fs::create_dir_all(cache_dir()).unwrap();
            std::fs::write(&path, wat::parse_str(FUZZ_GUEST).unwrap()).unwrap();
            path
        })
        .clone()
}

/// An engine on `kind` where the fuzz guest may call `echo` and reach a closed local port.
fn engine(kind: ExecutorKind) -> ScriptEngine {
    let mut catalog = Catalog::new(plugin_dir());
    let entry = catalog.entry_mut("fuzz_guest");
    entry.module = Some(fuzz_guest());
    entry.grants.allow_service("echo").unwrap();
    entry.grants.allow_net("127.0.0.1:9").unwrap();
    ScriptEngine::with_catalog(scripts_on(kind).executor().clone(), catalog)
}

/// Pointers and lengths: mostly near the module's memory, sometimes anything.
fn pointer() -> impl Strategy<Value = i32> {
    prop_oneof![0..140_000i32, any::<i32>(), Just(1024), Just(i32::MAX), Just(-1)]
}

fn request() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<u8>(),
        pointer(),
        pointer(),
        any::<i32>(),
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..512),
            Just(br#"{"operation":"echo","params":{"x":1}}"#.to_vec()),
            Just(br#"{"url":"http://127.0.0.1:9/","method":"GET"}"#.to_vec()),
            Just(br#"{"status":"ok","data":{}}"#.to_vec()),
        ],
    )
        .prop_map(|(op, a, b, c, payload)| {
            let mut bytes = vec![op];
            for word in [a, b, c] {
                bytes.extend_from_slice(&word.to_le_bytes());
            }
            bytes.extend_from_slice(&payload);
            bytes
        })
}

/// The host still answers an ordinary call correctly.
fn still_answers(engine: &ScriptEngine) {
    let echo = Plugin::from_file(plugin("echo"));
    let request = serde_json::to_vec(&json!({"abi": 1, "call": "script", "task": {"id": "1", "spec": "t", "process": "p", "instance": "i"}, "data": {"n": 1}})).unwrap();
    match engine.call(&echo, &request, None).unwrap().value {
        Response::Ok { data: Some(data), .. } => assert_eq!(data["echoed"], true),
        other => panic!("echo answered {other:?}"),
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(300),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The fuzz guest works as the cases assume: told to, it logs its payload
/// and answers with it (so the properties below reach the host functions).
#[test]
fn the_fuzz_guest_does_what_its_request_says() {
    for kind in [ExecutorKind::InProcess, ExecutorKind::Subprocess] {
        let engine = engine(kind);
        let payload = br#"{"status":"ok","data":{"fuzzed":true}}"#;
        let mut bytes = vec![1u8];
        for word in [1024 + 13, payload.len() as i32, 2] {
            bytes.extend_from_slice(&word.to_le_bytes());
        }
        bytes.extend_from_slice(payload);
        let outcome = engine.call(&Plugin::from_file(fuzz_guest()), &bytes, None).unwrap();
        match outcome.value {
            Response::Ok { data: Some(data), .. } => assert_eq!(data["fuzzed"], true),
            other => panic!("{kind:?}: {other:?}"),
        }
        assert!(
            outcome.log.contains("fuzzed"),
            "{kind:?} logged its payload: {}",
            outcome.log
        );
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_guest_behaviour_in_process_gets_an_answer(bytes in request()) {
        let engine = engine(ExecutorKind::InProcess);
        // Any answer or error will do: the host must neither panic nor hang.
        let _ = engine.call(&Plugin::from_file(fuzz_guest()), &bytes, None);
        still_answers(&engine);
    }

    #[test]
    fn arbitrary_guest_behaviour_in_a_worker_gets_an_answer(bytes in request()) {
        let engine = engine(ExecutorKind::Subprocess);
        let result = engine.call(&Plugin::from_file(fuzz_guest()), &bytes, None);
        if let Err(error) = &result {
            prop_assert!(
                error.kind != wasmflow::script::FailureKind::Worker,
                "a worker broke on guest input: {error}"
            );
        }
        still_answers(&engine);
    }

    #[test]
    fn arbitrary_response_bytes_parse_or_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = Response::parse(&bytes);
    }

    #[test]
    fn arbitrary_worker_lines_decode_or_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = protocol::decode_reply(&bytes, 1);
    }
}
