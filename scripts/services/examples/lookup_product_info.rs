//! Service `lookup_product_info(product_name)`: the product's price and weight.
//! An unknown product throws the BPMN error `unknown_product`.
use serde_json::{Value, json};
use wasmflow_guest::{Context, Error, Result};

fn lookup_product_info(ctx: &Context) -> Result<Value> {
    let name: String = ctx.param("product_name")?;
    wasmflow_services::product(&name).ok_or_else(|| {
        Error::bpmn_error("unknown_product", json!({"product_name": name})).with_name("Unknown product")
    })
}

wasmflow_guest::export!(service: lookup_product_info);
