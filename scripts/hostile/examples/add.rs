//! A service that adds its numeric parameters `a` and `b` and returns `{"sum": a + b,
//! "operation": <the operation it was called as>}`.
use serde_json::{Value, json};
use wasmflow_guest::{Context, Result};

fn add(ctx: &Context) -> Result<Value> {
    let a: f64 = ctx.param("a")?;
    let b: f64 = ctx.param("b")?;
    let sum = a + b;
    // Whole numbers stay integers in the JSON result.
    let sum = if sum.fract() == 0.0 && sum.abs() < 9.0e15 {
        json!(sum as i64)
    } else {
        json!(sum)
    };
    Ok(json!({"sum": sum, "operation": ctx.operation()}))
}

wasmflow_guest::export!(service: add);
