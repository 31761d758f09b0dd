//! Service `nest(levels, frames)`: burns native wasm stack with `frames`
//! recursive calls, then, while that stack is still in use, calls itself with
//! `levels - 1` through `call_service` (needs `allow_services = ["nest"]`).
//! Answers how many levels ran. The host-stack and nesting tests use it: each
//! nested call is a new store entering wasm deeper on the same host thread.
use serde_json::{Value, json};
use wasmflow_guest::{Context, Result, call_service};

/// Recurses `frames` deep with a few live locals per frame, then runs `at_bottom`.
#[inline(never)]
fn burn(frames: u32, seed: u64, at_bottom: &mut dyn FnMut() -> Result<u64>) -> Result<u64> {
    if frames == 0 {
        return at_bottom();
    }
    let a = std::hint::black_box(seed.wrapping_mul(31));
    let b = std::hint::black_box(a ^ u64::from(frames));
    let below = burn(frames - 1, b, at_bottom)?;
    Ok(std::hint::black_box(below.wrapping_add(a).wrapping_sub(a)))
}

fn nest(ctx: &Context) -> Result<Value> {
    let levels: u64 = ctx.param("levels")?;
    let frames: u32 = ctx.params().get("frames").and_then(Value::as_u64).unwrap_or(0) as u32;
    let mut below = || -> Result<u64> {
        if levels == 0 {
            return Ok(0);
        }
        let result = call_service("nest", json!({"levels": levels - 1, "frames": frames}))?;
        Ok(result.as_u64().unwrap_or(0) + 1)
    };
    let ran = burn(frames, levels, &mut below)?;
    Ok(json!(ran))
}

wasmflow_guest::export!(service: nest);
