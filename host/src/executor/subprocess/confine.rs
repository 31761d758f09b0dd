//! What a worker process starts with: resource limits and descriptors, set
//! between `fork` and `exec` so they hold from the worker's first instruction.
//!
//! On Linux: `RLIMIT_AS`, `RLIMIT_CPU` and `RLIMIT_NOFILE` as configured,
//! `RLIMIT_CORE` 0 (a crashing worker must not write its multi-GiB address
//! space to disk), every descriptor above stderr marked close-on-exec (Rust
//! opens its own that way already; this also covers descriptors a library
//! opened without the flag), and a process group of its own so the parent can
//! kill the worker with anything it started. Elsewhere, none of this is applied.

use std::process::Command;

/// Resource limits for one worker; `None` leaves the parent's limit.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rlimits {
    /// Address space (`RLIMIT_AS`), bytes.
    pub address_space: Option<u64>,
    /// CPU time (`RLIMIT_CPU`), seconds.
    pub cpu_seconds: Option<u64>,
    /// Open descriptors (`RLIMIT_NOFILE`).
    pub open_files: Option<u64>,
}

/// Arranges for `command`'s process to start confined by `limits`.
#[cfg(target_os = "linux")]
pub fn confine(command: &mut Command, limits: Rlimits) {
    use std::os::unix::process::CommandExt;

    command.process_group(0);
    // SAFETY: the closure runs in the forked child before exec and calls only
    // async-signal-safe system calls (getrlimit, setrlimit, close_range); it
    // allocates nothing and takes no locks.
    unsafe {
        command.pre_exec(move || apply(limits));
    }
}

/// Not Linux: workers start with the parent's limits and descriptors.
#[cfg(not(target_os = "linux"))]
pub fn confine(_command: &mut Command, _limits: Rlimits) {}

/// The type libc gives resource numbers (it differs between glibc and musl).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
type Resource = libc::__rlimit_resource_t;
#[cfg(all(target_os = "linux", not(target_env = "gnu")))]
type Resource = libc::c_int;

#[cfg(target_os = "linux")]
fn apply(limits: Rlimits) -> std::io::Result<()> {
    set(libc::RLIMIT_AS, limits.address_space)?;
    set(libc::RLIMIT_CPU, limits.cpu_seconds)?;
    set(libc::RLIMIT_NOFILE, limits.open_files)?;
    set(libc::RLIMIT_CORE, Some(0))?;
    // CLOSE_RANGE_CLOEXEC (Linux 5.11): mark rather than close, because the
    // standard library reports a failed exec through a close-on-exec pipe we
    // must not close. On older kernels this fails harmlessly: Rust's own
    // descriptors are close-on-exec already.
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: a plain system call on integers.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        );
    }
    Ok(())
}

/// Sets a soft and hard limit, never above the current hard limit (which an
/// unprivileged process cannot raise).
#[cfg(target_os = "linux")]
fn set(resource: Resource, value: Option<u64>) -> std::io::Result<()> {
    let Some(value) = value else { return Ok(()) };
    let mut current = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `current` is a valid rlimit for the kernel to fill.
    if unsafe { libc::getrlimit(resource, &mut current) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let value = (value as libc::rlim_t).min(current.rlim_max);
    let limit = libc::rlimit {
        rlim_cur: value,
        rlim_max: value,
    };
    // SAFETY: `limit` is a valid rlimit.
    if unsafe { libc::setrlimit(resource, &limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Kills a worker's whole process group (the worker and anything it started).
#[cfg(target_os = "linux")]
pub fn kill_group(pid: u32) {
    // SAFETY: a plain system call; the group is the worker's own (see `confine`).
    unsafe {
        libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
    }
}

/// Not Linux: the caller kills the worker itself.
#[cfg(not(target_os = "linux"))]
pub fn kill_group(_pid: u32) {}

/// The worker's resident memory, bytes, from `/proc/PID/statm` (kept open and re-read).
#[cfg(target_os = "linux")]
pub fn resident_bytes(statm: &std::fs::File) -> Option<u64> {
    use std::os::unix::fs::FileExt;

    let mut buffer = [0u8; 128];
    let len = statm.read_at(&mut buffer, 0).ok()?;
    let text = std::str::from_utf8(&buffer[..len]).ok()?;
    let pages: u64 = text.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * page.max(1) as u64)
}

/// Not Linux: resident memory is not measured.
#[cfg(not(target_os = "linux"))]
pub fn resident_bytes(_statm: &std::fs::File) -> Option<u64> {
    None
}

/// The CPU time the worker has used, seconds, from `/proc/PID/stat` (kept open and re-read).
#[cfg(target_os = "linux")]
pub fn cpu_seconds_used(stat: &std::fs::File) -> Option<u64> {
    use std::os::unix::fs::FileExt;

    let mut buffer = [0u8; 1024];
    let len = stat.read_at(&mut buffer, 0).ok()?;
    let text = std::str::from_utf8(&buffer[..len]).ok()?;
    // Fields after the command name (which may hold spaces): state is field 3,
    // utime and stime are fields 14 and 15, in clock ticks.
    let mut fields = text.get(text.rfind(')')? + 1..)?.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Some((utime + stime) / ticks.max(1) as u64)
}

/// Not Linux: CPU time is not measured.
#[cfg(not(target_os = "linux"))]
pub fn cpu_seconds_used(_stat: &std::fs::File) -> Option<u64> {
    None
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_memory_and_cpu_time() {
        let statm = std::fs::File::open("/proc/self/statm").unwrap();
        assert!(resident_bytes(&statm).unwrap() > 1 << 20);
        let stat = std::fs::File::open("/proc/self/stat").unwrap();
        // Spin until the kernel's own account (getrusage) shows 1.5 s of CPU
        // time, however busy the machine is, then read it from /proc.
        let used = || {
            // SAFETY: getrusage only writes the struct it is given.
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) }, 0);
            let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
            seconds(usage.ru_utime) + seconds(usage.ru_stime)
        };
        while used() < 1.5 {
            std::hint::black_box(0u64);
        }
        assert!(cpu_seconds_used(&stat).unwrap() >= 1);
    }
}
