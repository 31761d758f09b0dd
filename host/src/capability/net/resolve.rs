//! Name resolution for granted names, bounded by the exchange's deadline.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::Failure;

/// The most addresses taken from one lookup.
const MAX_LOOKUP: usize = 64;

/// Resolves `name` with the system resolver, giving up at the deadline (the
/// lookup thread is then left to finish on its own).
pub(super) fn resolve(name: &str, port: u16, deadline: Option<Instant>) -> Result<Vec<SocketAddr>, Failure> {
    let cannot = |why: String| Failure::error(format!("cannot resolve `{name}`: {why}"));
    let remaining = time_left(deadline).ok_or_else(|| cannot("no time left".into()))?;
    let (tx, rx) = mpsc::sync_channel(1);
    let query = (name.to_owned(), port);
    std::thread::Builder::new()
        .name("wasmflow-resolve".into())
        .spawn(move || {
            let result = query
                .to_socket_addrs()
                .map(|addrs| addrs.take(MAX_LOOKUP).collect::<Vec<_>>());
            let _ = tx.send(result);
        })
        .map_err(|e| cannot(format!("cannot start the lookup: {e}")))?;
    match rx.recv_timeout(remaining) {
        Ok(Ok(addrs)) if addrs.is_empty() => Err(cannot("no address".into())),
        Ok(Ok(addrs)) => Ok(addrs),
        Ok(Err(e)) => Err(cannot(e.to_string())),
        Err(_) => Err(cannot(format!("no answer within {remaining:?}"))),
    }
}

/// The time left before `deadline` (`None` once it has passed; no deadline
/// means about a century).
pub(super) fn time_left(deadline: Option<Instant>) -> Option<Duration> {
    match deadline {
        None => Some(Duration::from_secs(u64::from(u32::MAX))),
        Some(deadline) => deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()),
    }
}
