//! Write wasmflow plugins in Rust.
//!
//! A wasmflow plugin is a WebAssembly module (`wasm32-wasip1`) that the workflow engine calls
//! to run a BPMN script task, a service task operation or an expression (a gateway condition).
//! The engine sends one JSON request and expects one JSON response (the *guest ABI*, version 1);
//! this crate hides that: you write a plain Rust function, and [`export!`] makes it the plugin's
//! entry point.
//!
//! | kind | your function | answers |
//! |---|---|---|
//! | `export!(script: f)` | `fn f(ctx: &mut Context) -> Result<()>` | the context's data as the task's new data |
//! | `export!(service: f)` | `fn f(ctx: &Context) -> Result<serde_json::Value>` | the value |
//! | `export!(expression: f)` | `fn f(ctx: &Context) -> Result<serde_json::Value>` | the value |
//! | `export!(handler: f)` | `fn f(req: Request) -> Response` | whatever `f` says |
//!
//! Returning `Err(Error::bpmn(code))` throws a BPMN error event; any other error fails the task
//! with its message. Log lines go to the task log through [`log`] (or the [`info!`]-style
//! macros). The plugin runs in a sandbox: no files, network or environment variables unless the
//! workflow's manifest grants them, and a fresh instance for every call.
//!
//! # A complete plugin
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [package]
//! name = "order-total"
//! version = "0.1.0"
//! edition = "2024"
//!
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! wasmflow-guest = "0.1"
//! serde = { version = "1", features = ["derive"] }
//!
//! [profile.release]
//! panic = "abort"
//! ```
//!
//! `src/lib.rs`:
//!
//! ```
//! use serde::Deserialize;
//! use wasmflow_guest::{Context, Error, Result};
//!
//! #[derive(Deserialize)]
//! struct Item {
//!     price: f64,
//!     quantity: u32,
//! }
//!
//! /// Sets `total` from the order's `items`.
//! fn order_total(ctx: &mut Context) -> Result<()> {
//!     let items: Vec<Item> = ctx.get("items")?;
//!     if items.is_empty() {
//!         return Err(Error::bpmn("empty_order"));
//!     }
//!     let total: f64 = items.iter().map(|i| i.price * f64::from(i.quantity)).sum();
//!     wasmflow_guest::info!("{} items, total {total:.2}", items.len());
//!     ctx.set("total", (total * 100.0).round() / 100.0)
//! }
//!
//! wasmflow_guest::export!(script: order_total);
//! #
//! # use wasmflow_guest::{Plugin, Response};
//! # let r = Plugin::Script(order_total)
//! #     .handle(br#"{"abi":1,"call":"script","data":{"items":[{"price":2.5,"quantity":3}]}}"#);
//! # assert_eq!(r.to_json(), r#"{"status":"ok","data":{"items":[{"price":2.5,"quantity":3}],"total":7.5}}"#);
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip1`; the plugin is
//! `target/wasm32-wasip1/release/order_total.wasm`. It exports `memory`, `wasmflow_alloc` and
//! `wasmflow_run`, and imports WASI preview 1 plus, if it logs, `wasmflow.log`.
//!
//! # Testing natively
//!
//! Everything but the exports also compiles for the host target, so a plugin's logic can be
//! unit-tested with `cargo test`: call the function with a [`Context`] built from a
//! [`Request`], or feed request JSON to [`Plugin::handle`] exactly as the exported
//! `wasmflow_run` does. Logging prints to stderr there.
//!
//! ```
//! use wasmflow_guest::{Call, Context, Request, Result};
//! use serde_json::json;
//!
//! fn greet(ctx: &mut Context) -> Result<()> {
//!     let name: String = ctx.get("name")?;
//!     ctx.set("greeting", format!("Hello, {name}!"))
//! }
//!
//! let mut ctx = Context::new(Request::new(Call::Script).with_data(json!({"name": "Ada"})));
//! greet(&mut ctx).unwrap();
//! assert_eq!(ctx.data()["greeting"], "Hello, Ada!");
//! ```
//!
//! # The ABI underneath
//!
//! [`export!`] emits two functions in your crate, which the host calls:
//! `wasmflow_alloc(len: i32) -> i32` returns a buffer for the request's JSON, and
//! `wasmflow_run(ptr: i32, len: i32) -> i64` answers it and returns
//! `(response_ptr << 32) | response_len`. The SDK rejects a request for another ABI version,
//! invalid request JSON and a call kind the plugin does not export with an `error` response;
//! a panic is not caught (build with `panic = "abort"`): the host reports the trap.

#![warn(missing_docs)]

mod abi;
mod context;
mod error;
mod host;
pub mod http;
pub mod log;
mod plugin;
mod service;
pub mod testing;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use abi::{ABI_VERSION, Call, Request, Response, TaskInfo};
pub use context::Context;
pub use error::{Error, Result};
pub use plugin::Plugin;
pub use service::call_service;

/// Re-exported for plugin code: `wasmflow_guest::serde_json::json!`.
pub use serde_json;

/// Make a function the plugin's entry point.
///
/// Use it once per plugin crate (a `cdylib`), at the top level:
///
/// * `export!(script: f)` with `fn f(ctx: &mut Context) -> Result<()>`: a script task; the
///   context's data when `f` returns `Ok` is the task's new data.
/// * `export!(service: f)` with `fn f(ctx: &Context) -> Result<serde_json::Value>`: a service
///   task operation ([`Context::operation`], [`Context::params`]); the value is the result.
/// * `export!(expression: f)`, same signature as a service: evaluates an expression.
/// * `export!(handler: f)` with `fn f(req: Request) -> Response`: full control over every call
///   kind (interpreters use this).
///
/// Built for `wasm32`, it emits the exports `wasmflow_alloc` and `wasmflow_run` in your crate;
/// on other targets it only checks the function's signature, so the crate still builds and
/// tests natively.
///
/// ```
/// use wasmflow_guest::{Context, Result};
/// use serde_json::{json, Value};
///
/// fn lookup_product_info(ctx: &Context) -> Result<Value> {
///     let name: String = ctx.param("product_name")?;
///     Ok(json!({"product_name": name, "price": 15.0}))
/// }
///
/// wasmflow_guest::export!(service: lookup_product_info);
/// ```
///
/// A handler:
///
/// ```
/// use wasmflow_guest::{Request, Response};
///
/// fn handle(req: Request) -> Response {
///     match req.source {
///         Some(src) => Response::Result(src.len().into()),
///         None => Response::error("no source"),
///     }
/// }
///
/// wasmflow_guest::export!(handler: handle);
/// ```
#[macro_export]
macro_rules! export {
    (script: $f:expr $(,)?) => {
        $crate::__export_plugin!($crate::Plugin::Script($f));
    };
    (service: $f:expr $(,)?) => {
        $crate::__export_plugin!($crate::Plugin::Service($f));
    };
    (expression: $f:expr $(,)?) => {
        $crate::__export_plugin!($crate::Plugin::Expression($f));
    };
    (handler: $f:expr $(,)?) => {
        $crate::__export_plugin!($crate::Plugin::Handler($f));
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __export_plugin {
    ($plugin:expr) => {
        // Checks the signature on every target (and keeps the function "used" natively).
        const _: $crate::Plugin = $plugin;

        /// WASI reactor start-up: runs the static constructors once, before
        /// any other export (the host calls it; pre-initialization runs it
        /// into the snapshot). Without it the linker wraps every export in a
        /// constructor run of its own, repeated on every call.
        #[cfg(target_arch = "wasm32")]
        #[unsafe(no_mangle)]
        pub extern "C" fn _initialize() {
            $crate::__private::initialize()
        }

        /// Allocates a buffer of `len` bytes for the host to write the request into.
        #[cfg(target_arch = "wasm32")]
        #[unsafe(no_mangle)]
        pub extern "C" fn wasmflow_alloc(len: i32) -> i32 {
            $crate::__private::alloc(len)
        }

        /// Answers the request at `ptr`/`len`: returns `(response_ptr << 32) | response_len`.
        #[cfg(target_arch = "wasm32")]
        #[unsafe(no_mangle)]
        pub extern "C" fn wasmflow_run(ptr: i32, len: i32) -> i64 {
            let plugin: $crate::Plugin = $plugin;
            // SAFETY: the host passes back the buffer wasmflow_alloc(len) returned.
            unsafe { $crate::__private::run(ptr, len, plugin) }
        }
    };
}
