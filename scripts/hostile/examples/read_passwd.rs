//! Tries to read `/etc/passwd`: must fail in the sandbox (no preopened directory).
use wasmflow_guest::{Context, Error, Result};

fn read_passwd(ctx: &mut Context) -> Result<()> {
    match std::fs::read_to_string("/etc/passwd") {
        Ok(content) => ctx.set("passwd", content),
        Err(e) => Err(Error::msg(format!("cannot read /etc/passwd: {e}"))),
    }
}

wasmflow_guest::export!(script: read_passwd);
