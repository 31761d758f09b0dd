//! Service `read_file(filename)`: the text of a file. Paths are as the plugin
//! sees them: a directory granted as `./data` is `/data` (or `data/...`).
//! A missing file throws the BPMN error `file_not_found` with the file name
//! as payload; any other failure (a denial included) is an ordinary error.
use std::io::ErrorKind;

use serde_json::{Value, json};
use wasmflow_guest::{Context, Error, Result};

fn read_file(ctx: &Context) -> Result<Value> {
    let filename: String = ctx.param("filename")?;
    match std::fs::read_to_string(&filename) {
        Ok(content) => Ok(json!({"filename": filename, "content": content})),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            Err(Error::bpmn_error("file_not_found", json!({"filename": filename})).with_name("File not found"))
        }
        Err(e) => Err(Error::msg(format!("cannot read {filename}: {e}"))),
    }
}

wasmflow_guest::export!(service: read_file);
