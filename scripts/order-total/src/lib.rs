//! `order_total.wasm`: a compiled script task for the README's example workflow.
//!
//! Reads `items`, an array of `{"name": …, "price": …, "quantity": …}` (`name` optional,
//! `price` a non-negative number, `quantity` a non-negative integer), and sets
//!
//! * `total`: the sum of `price × quantity`, rounded to cents;
//! * `item_count`: the number of articles ordered, the sum of the quantities.
//!
//! A missing or malformed `items` fails the task with a message naming the key (and the item).

use serde::Deserialize;
use wasmflow_guest::{Context, Error, Result};

/// One order line.
#[derive(Debug, Deserialize)]
pub struct Item {
    /// What is ordered (only used in messages).
    #[serde(default)]
    pub name: Option<String>,
    /// Unit price.
    pub price: f64,
    /// How many.
    pub quantity: u64,
}

/// The script: `items` → `total`, `item_count`.
pub fn order_total(ctx: &mut Context) -> Result<()> {
    let items: Vec<Item> = ctx.get("items")?;
    let mut total = 0.0;
    let mut count: u64 = 0;
    for (i, item) in items.iter().enumerate() {
        if !item.price.is_finite() || item.price < 0.0 {
            let name = item.name.as_deref().unwrap_or("?");
            return Err(Error::msg(format!(
                "task data key `items`: item {i} ({name}) has an invalid price {}",
                item.price
            )));
        }
        total += item.price * item.quantity as f64;
        count += item.quantity;
    }
    let total = (total * 100.0).round() / 100.0;
    wasmflow_guest::info!("{} order lines, {count} items, total {total:.2}", items.len());
    ctx.set("total", total)?;
    ctx.set("item_count", count)
}

wasmflow_guest::export!(script: order_total);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use wasmflow_guest::Plugin;

    fn run(data: Value) -> Value {
        let req = json!({"abi": 1, "call": "script", "data": data});
        let r = Plugin::Script(order_total).handle(req.to_string().as_bytes());
        serde_json::from_str(&r.to_json()).unwrap()
    }

    #[test]
    fn totals() {
        let out = run(json!({"items": [
            {"name": "a", "price": 0.1, "quantity": 1},
            {"name": "b", "price": 0.2, "quantity": 1},
            {"name": "c", "price": 19.99, "quantity": 3}
        ]}));
        assert_eq!(out["status"], "ok");
        assert_eq!(out["data"]["total"], json!(60.27));
        assert_eq!(out["data"]["item_count"], json!(5));
    }

    #[test]
    fn empty_order() {
        let out = run(json!({"items": []}));
        assert_eq!(out["data"]["total"], json!(0.0));
        assert_eq!(out["data"]["item_count"], json!(0));
    }

    #[test]
    fn errors_name_the_key() {
        let out = run(json!({}));
        assert_eq!(
            out,
            json!({"status": "error", "message": "task data has no key `items`"})
        );
        let out = run(json!({"items": "many"}));
        assert!(
            out["message"]
                .as_str()
                .unwrap()
                .starts_with("task data key `items` has the wrong type")
        );
        let out = run(json!({"items": [{"name": "x", "price": -1, "quantity": 1}]}));
        assert!(out["message"].as_str().unwrap().contains("`items`"), "{out}");
    }
}
