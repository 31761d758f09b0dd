//! Stand-ins for the host when a plugin's logic is tested natively.
//!
//! Inside the sandbox, [`call_service`](crate::call_service) and
//! [`http`](crate::http) talk to the wasmflow host. In a native `cargo test`
//! there is no host; install a handler for the current thread instead. A
//! handler receives the JSON request the host would get and answers the JSON
//! the host would answer.
//!
//! ```
//! use serde_json::json;
//! use wasmflow_guest::{call_service, testing};
//!
//! testing::on_call_service(|request| {
//!     assert_eq!(request["operation"], "lookup_product_info");
//!     json!({"status": "ok", "result": {"price": 15.0}})
//! });
//! assert_eq!(call_service("lookup_product_info", json!({}))?["price"], 15.0);
//! # Ok::<(), wasmflow_guest::Error>(())
//! ```

#![cfg(not(target_arch = "wasm32"))]

use serde_json::Value;

use crate::host::native;

/// Answers this thread's `call_service` calls with `handler`.
pub fn on_call_service(handler: impl Fn(&Value) -> Value + 'static) {
    native::SERVICE.with(|slot| *slot.borrow_mut() = Some(Box::new(handler)));
}

/// Answers this thread's `http_request` calls with `handler`.
pub fn on_http_request(handler: impl Fn(&Value) -> Value + 'static) {
    native::HTTP.with(|slot| *slot.borrow_mut() = Some(Box::new(handler)));
}
