//! Service `lookup_shipping_cost(shipping_method)`: the cost of a shipping method.
use serde_json::{Value, json};
use wasmflow_guest::{Context, Error, Result};

fn lookup_shipping_cost(ctx: &Context) -> Result<Value> {
    let method: String = ctx.param("shipping_method")?;
    match wasmflow_services::shipping_cost(&method) {
        Some(cost) => Ok(json!(cost)),
        None => Err(Error::msg(format!(
            "unknown shipping method `{method}` (standard or overnight)"
        ))),
    }
}

wasmflow_guest::export!(service: lookup_shipping_cost);
