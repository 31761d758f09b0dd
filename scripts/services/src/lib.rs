//! Service plugins for the wasmflow examples and grant tests; each plugin is an
//! example target (see Cargo.toml). The shared product table lives here.

use serde_json::{Value, json};

/// The products the order example sells: name → (price, weight in kg).
pub fn product(name: &str) -> Option<Value> {
    let (price, weight) = match name {
        "product_a" => (15.00, 0.5),
        "product_b" => (15.00, 1.0),
        "product_c" => (25.00, 2.5),
        "product_d" => (25.00, 4.0),
        "product_e" => (25.00, 8.0),
        "product_f" => (30.00, 12.0),
        "product_g" => (30.00, 20.0),
        _ => return None,
    };
    Some(json!({"product_name": name, "product_price": price, "product_weight": weight}))
}

/// Shipping costs by method.
pub fn shipping_cost(method: &str) -> Option<f64> {
    match method {
        "standard" => Some(5.00),
        "overnight" => Some(25.00),
        _ => None,
    }
}
