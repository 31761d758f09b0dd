//! Script: prices an order by calling the `lookup_product_info` and
//! `lookup_shipping_cost` services (it needs them in its `allow_services`).
//! Reads `product_name`, `product_quantity`, `shipping_method`; sets
//! `product_info`, `shipping_cost` and `order_total`.
use serde_json::json;
use wasmflow_guest::{Context, Result, call_service};

fn order_quote(ctx: &mut Context) -> Result<()> {
    let name: String = ctx.get("product_name")?;
    let quantity: f64 = ctx.get("product_quantity")?;
    let method: String = ctx.get("shipping_method")?;
    let info = call_service("lookup_product_info", json!({"product_name": name}))?;
    let shipping = call_service("lookup_shipping_cost", json!({"shipping_method": method}))?;
    let price = info["product_price"].as_f64().unwrap_or_default();
    let total = price * quantity + shipping.as_f64().unwrap_or_default();
    ctx.set("product_info", info)?;
    ctx.set("shipping_cost", shipping)?;
    ctx.set("order_total", (total * 100.0).round() / 100.0)
}

wasmflow_guest::export!(script: order_quote);
