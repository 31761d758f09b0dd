//! Waiting for a pipe to become readable: spin briefly, then sleep in `poll`.
//!
//! A worker usually answers within tens of microseconds. A thread that sleeps
//! for that answer costs a wake-up, and on a virtual machine an idle CPU takes
//! tens of microseconds more to wake: spinning first keeps the round trip
//! short, and the spin is bounded, so an idle pool still sleeps.

use std::io::Read;
use std::time::{Duration, Instant};

/// How long to spin before sleeping.
pub const SPIN: Duration = Duration::from_micros(100);

/// Whether `fd` has something to read (or has closed) within `wait`.
#[cfg(unix)]
pub fn readable(fd: std::os::fd::BorrowedFd<'_>, wait: Duration) -> bool {
    let spin_until = Instant::now() + SPIN.min(wait);
    loop {
        if poll(fd, 0) {
            return true;
        }
        if Instant::now() >= spin_until {
            break;
        }
        std::hint::spin_loop();
    }
    match wait.checked_sub(SPIN) {
        // Round up, so a wait never ends early and spins again.
        Some(left) if !left.is_zero() => poll(fd, left.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32),
        _ => false,
    }
}

#[cfg(unix)]
fn poll(fd: std::os::fd::BorrowedFd<'_>, millis: i32) -> bool {
    use std::os::fd::AsRawFd;

    let mut poll = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd. An interrupted poll reports "not yet", and callers wait again.
    unsafe { libc::poll(&mut poll, 1, millis) > 0 }
}

/// A reader that spins briefly for input before each read (the worker's stdin).
pub struct Spinning<R>(pub R);

#[cfg(unix)]
impl<R: Read + std::os::fd::AsFd> Read for Spinning<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        // Spin, then let `read` itself block: no deadline on the worker's side.
        readable(self.0.as_fd(), SPIN);
        self.0.read(buffer)
    }
}

#[cfg(not(unix))]
impl<R: Read> Read for Spinning<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buffer)
    }
}
