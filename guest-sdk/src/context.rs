//! [`Context`]: what a script, service or expression function sees of its request.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::abi::{Call, Request, TaskInfo};
use crate::error::{Error, Result};

/// The request a plugin function is called with, plus its task data to read and change.
///
/// A `script` function gets `&mut Context`: whatever the task data is when it returns `Ok` is
/// the task's new data. `service` and `expression` functions get `&Context` and return a value.
///
/// ```
/// use wasmflow_guest::{Call, Context, Request, Result};
/// use serde_json::json;
///
/// fn double(ctx: &mut Context) -> Result<()> {
///     let x: i64 = ctx.get("x")?;
///     ctx.set("x", x * 2)?;
///     Ok(())
/// }
///
/// let mut ctx = Context::new(Request::new(Call::Script).with_data(json!({"x": 21})));
/// double(&mut ctx).unwrap();
/// assert_eq!(ctx.data()["x"], 42);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    request: Request,
}

impl Context {
    /// A context for the given request (the SDK makes these; build one yourself to unit-test a
    /// plugin function natively).
    ///
    /// ```
    /// use wasmflow_guest::{Call, Context, Request};
    /// let ctx = Context::new(Request::new(Call::Service).with_operation("ping"));
    /// assert_eq!(ctx.operation(), Some("ping"));
    /// ```
    pub fn new(request: Request) -> Self {
        Context { request }
    }

    /// The whole request.
    ///
    /// ```
    /// # use wasmflow_guest::{Call, Context, Request};
    /// let ctx = Context::new(Request::new(Call::Script));
    /// assert_eq!(ctx.request().abi, 1);
    /// ```
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// What the host asked for.
    ///
    /// ```
    /// # use wasmflow_guest::{Call, Context, Request};
    /// let ctx = Context::new(Request::new(Call::Expression));
    /// assert_eq!(ctx.call(), Call::Expression);
    /// ```
    pub fn call(&self) -> Call {
        self.request.call
    }

    /// Which task of which workflow instance this call is for.
    ///
    /// ```
    /// # use wasmflow_guest::{Call, Context, Request, TaskInfo};
    /// let task = TaskInfo { spec: "Activity_1".into(), ..TaskInfo::default() };
    /// let ctx = Context::new(Request::new(Call::Script).with_task(task));
    /// assert_eq!(ctx.task().spec, "Activity_1");
    /// ```
    pub fn task(&self) -> &TaskInfo {
        &self.request.task
    }

    /// The task data.
    ///
    /// ```
    /// # use wasmflow_guest::{Call, Context, Request};
    /// let ctx = Context::new(Request::new(Call::Script).with_data(serde_json::json!({"a": 1})));
    /// assert!(ctx.data().contains_key("a"));
    /// ```
    pub fn data(&self) -> &Map<String, Value> {
        &self.request.data
    }

    /// The task data, to change in place (a script's changes become the task's new data).
    ///
    /// ```
    /// # use wasmflow_guest::{Call, Context, Request};
    /// let mut ctx = Context::new(Request::new(Call::Script));
    /// ctx.data_mut().insert("done".into(), true.into());
    /// assert_eq!(ctx.data()["done"], true);
    /// ```
    pub fn data_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.request.data
    }

    /// Take the task data out of the context.
    ///
    /// ```
    /// # use wasmflow_guest::{Call, Context, Request};
    /// let ctx = Context::new(Request::new(Call::Script).with_data(serde_json::json!({"a": 1})));
    /// assert_eq!(ctx.into_data().len(), 1);
    /// ```
    pub fn into_data(self) -> Map<String, Value> {
        self.request.data
    }

    /// Read a task data entry as a `T`.
    ///
    /// A missing key is an error naming the key, unless `T` accepts `null` (an `Option`), in
    /// which case it is `None`. A value of the wrong shape is an error naming the key and
    /// saying what was expected.
    ///
    /// ```
    /// # use wasmflow_guest::{Call, Context, Request};
    /// let ctx = Context::new(Request::new(Call::Script).with_data(serde_json::json!({"n": 3})));
    /// assert_eq!(ctx.get::<u32>("n").unwrap(), 3);
    /// assert_eq!(ctx.get::<Option<u32>>("m").unwrap(), None);
    /// assert_eq!(
    ///     ctx.get::<u32>("m").unwrap_err().to_string(),
    ///     "task data has no key `m`"
    /// );
    /// assert!(ctx.get::<String>("n").unwrap_err().to_string()
    ///     .starts_with("task data key `n` has the wrong type: invalid type: integer `3`"));
    /// ```
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<T> {
        lookup(self.data(), key, "task data key", "task data has no key")
    }

    /// Set a task data entry to any serializable value.
    ///
    /// Fails only when the value cannot be represented as JSON (a map with non-string keys, a
    /// failing `Serialize` implementation).
    ///
    /// ```
    /// # use wasmflow_guest::{Call, Context, Request};
    /// let mut ctx = Context::new(Request::new(Call::Script));
    /// ctx.set("total", 12.5).unwrap();
    /// ctx.set("tags", vec!["a", "b"]).unwrap();
    /// assert_eq!(ctx.data()["tags"][1], "b");
    /// ```
    pub fn set<T: Serialize>(&mut self, key: impl Into<String>, value: T) -> Result<()> {
        let key = key.into();
        let value =
            serde_json::to_value(value).map_err(|e| Error::msg(format!("cannot store task data key `{key}`: {e}")))?;
        self.request.data.insert(key, value);
        Ok(())
    }

    /// Remove a task data entry, returning its value if it was there.
    ///
    /// ```
    /// # use wasmflow_guest::{Call, Context, Request};
    /// let mut ctx = Context::new(Request::new(Call::Script).with_data(serde_json::json!({"tmp": 1})));
    /// assert_eq!(ctx.remove("tmp"), Some(1.into()));
    /// assert!(ctx.data().is_empty());
    /// ```
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.request.data.remove(key)
    }

    /// The plugin's static configuration from the manifest (`null` when there is none).
    ///
    /// ```
    /// # use wasmflow_guest::{Call, Context, Request};
    /// let ctx = Context::new(Request::new(Call::Script));
    /// assert!(ctx.config().is_null());
    /// ```
    pub fn config(&self) -> &Value {
        &self.request.config
    }

    /// Read one entry of the configuration object as a `T`, with the same rules as
    /// [`get`](Self::get).
    ///
    /// ```
    /// # use wasmflow_guest::{Call, Context, Request};
    /// let ctx = Context::new(Request::new(Call::Script).with_config(serde_json::json!({"size": 8})));
    /// assert_eq!(ctx.config_get::<usize>("size").unwrap(), 8);
    /// assert_eq!(ctx.config_get::<Option<usize>>("limit").unwrap(), None);
    /// ```
    pub fn config_get<T: DeserializeOwned>(&self, key: &str) -> Result<T> {
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        let map = match &self.request.config {
            Value::Object(map) => map,
            _ => EMPTY.get_or_init(Map::new),
        };
        lookup(map, key, "plugin configuration key", "plugin configuration has no key")
    }

    /// The service operation to run, if any.
    ///
    /// ```
    /// # use wasmflow_guest::{Call, Context, Request};
    /// let ctx = Context::new(Request::new(Call::Service).with_operation("lookup"));
    /// assert_eq!(ctx.operation(), Some("lookup"));
    /// ```
    pub fn operation(&self) -> Option<&str> {
        self.request.operation.as_deref()
    }

    /// The service task's parameters.
    ///
    /// ```
    /// # use wasmflow_guest::{Call, Context, Request};
    /// let ctx = Context::new(Request::new(Call::Service).with_params(serde_json::json!({"q": 1})));
    /// assert_eq!(ctx.params().len(), 1);
    /// ```
    pub fn params(&self) -> &Map<String, Value> {
        &self.request.params
    }

    /// Read one service parameter as a `T`, with the same rules as [`get`](Self::get).
    ///
    /// ```
    /// # use wasmflow_guest::{Call, Context, Request};
    /// let ctx = Context::new(Request::new(Call::Service)
    ///     .with_params(serde_json::json!({"product_name": "product_a"})));
    /// assert_eq!(ctx.param::<String>("product_name").unwrap(), "product_a");
    /// assert_eq!(
    ///     ctx.param::<String>("qty").unwrap_err().to_string(),
    ///     "service call has no parameter `qty`"
    /// );
    /// ```
    pub fn param<T: DeserializeOwned>(&self, name: &str) -> Result<T> {
        lookup(
            self.params(),
            name,
            "service parameter",
            "service call has no parameter",
        )
    }

    /// The inline source text (for interpreter plugins), if any.
    ///
    /// ```
    /// # use wasmflow_guest::{Call, Context, Request};
    /// let ctx = Context::new(Request::new(Call::Expression).with_source("x > 1"));
    /// assert_eq!(ctx.source(), Some("x > 1"));
    /// ```
    pub fn source(&self) -> Option<&str> {
        self.request.source.as_deref()
    }
}

/// Read `map[key]` as a `T`. `label` names one entry ("task data key"), `missing` says what
/// lacks it ("task data has no key").
fn lookup<T: DeserializeOwned>(map: &Map<String, Value>, key: &str, label: &str, missing: &str) -> Result<T> {
    match map.get(key) {
        Some(value) => {
            T::deserialize(value).map_err(|e| Error::msg(format!("{label} `{key}` has the wrong type: {e}")))
        }
        // A missing key reads as null for types that accept it (Option<T>, ()).
        None => T::deserialize(&Value::Null).map_err(|_| Error::msg(format!("{missing} `{key}`"))),
    }
}
