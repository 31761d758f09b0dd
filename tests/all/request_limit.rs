//! One request limit (`Limits::request`, `--max-request`, default 16 MiB)
//! bounds what a plugin sends out of its sandbox: a nested `call_service`
//! request and an `http_request`, on both executors alike.

use serde_json::{Value, json};
use wasmflow::bpmn::Script;
use wasmflow::script::{Catalog, Limits, ScriptEngine, ScriptError, TaskInfo};
use wasmflow_tests::*;

/// Five MiB of padding: above the 4 MiB that nested calls once allowed.
fn padding() -> String {
    "x".repeat(5 << 20)
}

/// `scripts`' executor, where `call_any` may call `lookup_product_info` and
/// `network` implements `fetch_json` (granted no address), under `limits`.
fn engine(scripts: &ScriptEngine, limits: Limits) -> ScriptEngine {
    let mut catalog = Catalog::new(plugin_dir());
    catalog.limits = limits;
    catalog
        .entry_mut("call_any")
        .grants
        .allow_service("lookup_product_info")
        .unwrap();
    catalog.services.insert("fetch_json".into(), "network".into());
    ScriptEngine::with_catalog(scripts.executor().clone(), catalog)
}

/// `call_any` calling `lookup_product_info` with five MiB of extra parameters.
fn nested_call(engine: &ScriptEngine) -> Result<Value, ScriptError> {
    let data = object(json!({"operation": "lookup_product_info", "params": {
        "product_name": "product_a", "padding": padding()}}));
    let script = Script::Plugin {
        name: "call_any".into(),
    };
    engine
        .run_script(&TaskInfo::default(), &script, &data)
        .map(|outcome| outcome.value.done().expect("the script is done")["result"]["product_price"].clone())
}

/// `fetch_json` posting a five MiB body to an address it is not granted.
fn http_call(engine: &ScriptEngine) -> ScriptError {
    let params = object(json!({"url": "http://127.0.0.1:9/upload", "method": "POST", "body": padding()}));
    engine
        .call_service(&TaskInfo::default(), "fetch_json", &params)
        .expect_err("no address is granted")
}

fn lower() -> Limits {
    Limits {
        request: 1 << 20,
        ..Limits::default()
    }
}

for_each_executor! {
    #[test]
    fn a_five_mib_nested_request_passes_the_default_limit(scripts: &ScriptEngine) {
        let price = nested_call(&engine(scripts, Limits::default())).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(price, json!(15.0));
    }

    #[test]
    fn a_nested_request_above_a_lower_limit_is_refused_naming_it(scripts: &ScriptEngine) {
        let error = nested_call(&engine(scripts, lower())).unwrap_err();
        assert!(
            error.message.contains("call_service: the request is")
                && error.message.contains("the request limit is 1048576 bytes")
                && error.message.contains("--max-request"),
            "{error}"
        );
    }

    #[test]
    fn a_five_mib_http_request_passes_the_default_limit(scripts: &ScriptEngine) {
        // It gets as far as the grant check, which refuses the address.
        let error = http_call(&engine(scripts, Limits::default()));
        assert!(error.message.contains("allow_net"), "{error}");
        assert!(!error.message.contains("limit"), "{error}");
    }

    #[test]
    fn an_http_request_above_a_lower_limit_is_refused_naming_it(scripts: &ScriptEngine) {
        let error = http_call(&engine(scripts, lower()));
        assert!(
            error.message.contains("http_request: the request is")
                && error.message.contains("the request limit is 1048576 bytes")
                && error.message.contains("--max-request"),
            "{error}"
        );
        assert!(!error.message.contains("allow_net"), "refused before the grant check: {error}");
    }
}
