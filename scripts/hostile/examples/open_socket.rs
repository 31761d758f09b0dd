//! Tries to open a TCP connection to 127.0.0.1:80: must fail in the sandbox.
use wasmflow_guest::{Context, Error, Result};

fn open_socket(ctx: &mut Context) -> Result<()> {
    match std::net::TcpStream::connect("127.0.0.1:80") {
        Ok(_stream) => ctx.set("connected", true),
        Err(e) => Err(Error::msg(format!("cannot connect to 127.0.0.1:80: {e}"))),
    }
}

wasmflow_guest::export!(script: open_socket);
