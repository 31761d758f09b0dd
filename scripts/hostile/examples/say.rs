//! Logs data `log`, prints data `stdout`, then answers with data `status`
//! (`error` with message data `message`, `halt` with it, else `ok`): whatever
//! bytes a plugin writes must reach the terminal escaped.
use wasmflow_guest::{Context, Error, Result, log};

fn say(ctx: &mut Context) -> Result<()> {
    let field = |ctx: &Context, key: &str| ctx.get::<String>(key).unwrap_or_default();
    log::info(&field(ctx, "log"));
    print!("{}", field(ctx, "stdout"));
    let message = field(ctx, "message");
    match field(ctx, "status").as_str() {
        "error" => Err(Error::msg(message)),
        "halt" => Err(Error::halt(message)),
        _ => Ok(()),
    }
}

wasmflow_guest::export!(script: say);
