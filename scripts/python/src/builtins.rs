//! Python builtins that Starlark leaves out but workflow scripts reach for
//! (`round` and `sum`, with Python's semantics), and wasmflow's `halt`,
//! `bpmn_error`, `escalate` and `call_service`.

use std::sync::Mutex;

use starlark::collections::SmallMap;
use starlark::values::StringValue;
use wasmflow_guest::Response;

use starlark::environment::GlobalsBuilder;
use starlark::starlark_module;
use starlark::values::float::StarlarkFloat;
use starlark::values::none::{NoneOr, NoneType};
use starlark::values::{Heap, Value, ValueLike};

/// The answer a script asked for by stopping: a `halt(...)`, or a BPMN error
/// (or halt) raised by a service it called. A call is a fresh instance, so
/// this never outlives the request that set it.
static PENDING: Mutex<Option<Response>> = Mutex::new(None);

/// Takes the answer a builtin set since the last take.
pub(crate) fn take_pending() -> Option<Response> {
    PENDING.lock().unwrap_or_else(|e| e.into_inner()).take()
}

fn set_pending(response: Response) {
    *PENDING.lock().unwrap_or_else(|e| e.into_inner()) = Some(response);
}

/// Calls the service `operation` with keyword arguments as its params.
pub(crate) fn call<'v>(
    operation: &str,
    kwargs: SmallMap<StringValue<'v>, Value<'v>>,
    heap: Heap<'v>,
) -> anyhow::Result<Value<'v>> {
    let mut params = serde_json::Map::new();
    for (key, value) in kwargs {
        let json = value.to_json_value().map_err(|e| {
            anyhow::anyhow!(
                "{operation}(): argument `{}` does not convert to JSON: {e}",
                key.as_str()
            )
        })?;
        params.insert(key.as_str().to_owned(), json);
    }
    match wasmflow_guest::call_service(operation, serde_json::Value::Object(params)) {
        Ok(result) => Ok(heap.alloc(&result)),
        Err(error) if error.is_bpmn() || error.is_halt() => {
            let message = error.to_string();
            set_pending(error.into());
            anyhow::bail!("{message}")
        }
        Err(error) => anyhow::bail!("{error}"),
    }
}

/// What `bpmn_error` and `escalate` share: the answer the host is given
/// (made by `answer` from the code, name and JSON payload) is kept, and the
/// script stops here with an error that only ends it.
fn throw(
    builtin: &str,
    code: &str,
    name: NoneOr<&str>,
    payload: NoneOr<Value<'_>>,
    answer: fn(String, Option<String>, Option<serde_json::Value>) -> Response,
) -> anyhow::Result<NoneType> {
    let payload = json_payload(builtin, payload)?;
    set_pending(answer(code.to_owned(), name.into_option().map(str::to_owned), payload));
    anyhow::bail!("{builtin}: {code}")
}

/// A thrown event's payload as JSON.
fn json_payload(builtin: &str, payload: NoneOr<Value<'_>>) -> anyhow::Result<Option<serde_json::Value>> {
    (payload.into_option())
        .map(|value| {
            (value.to_json_value())
                .map_err(|e| anyhow::anyhow!("{builtin}(): the payload does not convert to JSON: {e}"))
        })
        .transpose()
}

#[starlark_module]
pub(crate) fn python_builtins(builder: &mut GlobalsBuilder) {
    /// `halt(message)`: stop the workflow instance at this task, kept as
    /// halted with `message`, until an operator resumes it (the task then runs
    /// again, with any data the operator amended).
    fn halt(#[starlark(require = pos)] message: &str) -> anyhow::Result<NoneType> {
        set_pending(Response::Halt {
            message: message.to_owned(),
        });
        anyhow::bail!("halt: {message}")
    }

    /// `bpmn_error(code, name=None, payload=None)`: stop the script and
    /// throw a BPMN error from this task, caught by a matching error boundary
    /// event or event subprocess (`payload` lands in the catching path's
    /// data); uncaught, the task fails with the code.
    fn bpmn_error<'v>(
        #[starlark(require = pos)] code: &str,
        #[starlark(default = NoneOr::None)] name: NoneOr<&str>,
        #[starlark(default = NoneOr::None)] payload: NoneOr<Value<'v>>,
    ) -> anyhow::Result<NoneType> {
        throw("bpmn_error", code, name, payload, |code, name, payload| {
            Response::BpmnError { code, name, payload }
        })
    }

    /// `escalate(code, name=None, payload=None)`: stop the script and throw
    /// an escalation from this task. The task goes on with the data it was
    /// reached with (what the script changed is dropped, as for any
    /// escalating call) unless an interrupting catch takes over.
    fn escalate<'v>(
        #[starlark(require = pos)] code: &str,
        #[starlark(default = NoneOr::None)] name: NoneOr<&str>,
        #[starlark(default = NoneOr::None)] payload: NoneOr<Value<'v>>,
    ) -> anyhow::Result<NoneType> {
        throw("escalate", code, name, payload, |code, name, payload| {
            Response::Escalation { code, name, payload }
        })
    }

    /// `call_service(operation, **params)`: calls a service the interpreter's
    /// grant names (`allow_services` under `[plugins.python]`) and returns its
    /// result. A BPMN error it throws is thrown from this task; a denial or
    /// failure fails the script with the service's message. Each granted
    /// service is also a function of its own name: `lookup(x=1)` is
    /// `call_service("lookup", x=1)`.
    fn call_service<'v>(
        #[starlark(require = pos)] operation: &str,
        #[starlark(kwargs)] kwargs: SmallMap<StringValue<'v>, Value<'v>>,
        heap: Heap<'v>,
    ) -> anyhow::Result<Value<'v>> {
        call(operation, kwargs, heap)
    }

    /// `round(number, ndigits=None)`, as in Python: halves round to even;
    /// without `ndigits` the result is an int, with it a number of the same type.
    fn round<'v>(
        #[starlark(require = pos)] number: Value<'v>,
        #[starlark(require = pos, default = NoneOr::None)] ndigits: NoneOr<i32>,
        heap: Heap<'v>,
    ) -> anyhow::Result<Value<'v>> {
        if let Some(int) = number.unpack_i32() {
            return Ok(match ndigits.into_option() {
                Some(n) if n < 0 => {
                    let step = 10f64.powi(-n);
                    heap.alloc(((f64::from(int) / step).round_ties_even() * step) as i64)
                }
                _ => number,
            });
        }
        let Some(float) = number.downcast_ref::<StarlarkFloat>().map(|f| f.0) else {
            anyhow::bail!("round() takes an int or a float, not {}", number.get_type());
        };
        match ndigits.into_option() {
            None => {
                let rounded = float.round_ties_even();
                anyhow::ensure!(
                    rounded.is_finite() && rounded.abs() < 9.0e15,
                    "cannot round {float} to an int"
                );
                Ok(heap.alloc(rounded as i64))
            }
            // Formatting rounds the exact binary value half to even, as Python's round does.
            Some(n) if n >= 0 => Ok(heap.alloc(format!("{float:.*}", n.min(300) as usize).parse::<f64>()?)),
            Some(n) => {
                let step = 10f64.powi(-n);
                Ok(heap.alloc((float / step).round_ties_even() * step))
            }
        }
    }

    /// `sum(iterable, start=0)`, as in Python: adds the items to `start`.
    fn sum<'v>(
        #[starlark(require = pos)] iterable: Value<'v>,
        #[starlark(require = pos)] start: Option<Value<'v>>,
        heap: Heap<'v>,
    ) -> starlark::Result<Value<'v>> {
        let mut total = start.unwrap_or_else(|| heap.alloc(0));
        for item in iterable.iterate(heap)? {
            total = total.add(item, heap)?;
        }
        Ok(total)
    }
}
