//! Service `write_file(filename, content)`: writes a file; answers the bytes written.
use serde_json::{Value, json};
use wasmflow_guest::{Context, Error, Result};

fn write_file(ctx: &Context) -> Result<Value> {
    let filename: String = ctx.param("filename")?;
    let content: String = ctx.param("content")?;
    std::fs::write(&filename, &content).map_err(|e| Error::msg(format!("cannot write {filename}: {e}")))?;
    Ok(json!(content.len()))
}

wasmflow_guest::export!(service: write_file);
