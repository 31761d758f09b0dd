//! Per-call limits: memory, wall-clock time, request and response size.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The largest memory, request or response size a limit may name: 4GiB. A wasm32
/// memory cannot grow beyond it, and a response is read out of that memory, so
/// a larger limit could never be reached; refusing it catches a typo instead.
pub const MAX_SIZE: u64 = 4 << 30;

/// The longest timeout a limit may name: 24h. A call that needs longer belongs
/// in a user task or an outside job, and the bound keeps every deadline
/// (`Instant + timeout`, epoch ticks, milliseconds to a worker) far from overflow.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// The shortest timeout: 1ms, the resolution limits have on their way to a
/// worker process (a shorter one would arrive there as zero).
pub const MIN_TIMEOUT: Duration = Duration::from_millis(1);

/// What one plugin call may use. The defaults are deliberately small; raise
/// them per run from the command line ([`parse_size`] and [`parse_duration`]
/// give the accepted ranges).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Linear memory, in bytes.
    pub memory: usize,
    /// Wall-clock time.
    #[serde(with = "duration_ms")]
    pub timeout: Duration,
    /// Response size, in bytes.
    pub response: usize,
    /// The largest request a plugin may send out of its sandbox, in bytes: an
    /// `http_request` or a nested `call_service` request. Both executors apply it.
    #[serde(default = "default_request")]
    pub request: usize,
}

/// The default [`Limits::request`]: 16 MiB.
fn default_request() -> usize {
    16 << 20
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory: 64 << 20,
            timeout: Duration::from_secs(10),
            response: 16 << 20,
            request: default_request(),
        }
    }
}

mod duration_ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// Parses a size such as `64MiB`, `512KiB`, `1GiB`, `100MB` or a plain byte
/// count, at most [`MAX_SIZE`].
pub fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let out_of_range = || format!("size `{text}` is out of range: the most is 4GiB, all that a wasm32 memory can hold");
    if number.is_empty() {
        return Err(format!("`{text}` is not a size: write e.g. 64MiB, 512KiB or 1048576"));
    }
    // Digits only, so a failure here is a number too long for u64: out of range too.
    let number: u64 = number.parse().map_err(|_| out_of_range())?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "kb" => 1_000,
        "m" | "mib" => 1 << 20,
        "mb" => 1_000_000,
        "g" | "gib" => 1 << 30,
        "gb" => 1_000_000_000,
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{text}`: use B, KiB, MiB or GiB"
            ));
        }
    };
    number
        .checked_mul(factor)
        .filter(|&bytes| bytes <= MAX_SIZE)
        .and_then(|bytes| usize::try_from(bytes).ok())
        .ok_or_else(out_of_range)
}

/// Parses a duration such as `10s`, `250ms`, `2m` or a plain number of
/// seconds, from [`MIN_TIMEOUT`] to [`MAX_TIMEOUT`].
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: write e.g. 10s, 500ms or 2m"))?;
    let seconds = match unit.trim() {
        "" | "s" => number,
        "ms" => number / 1000.0,
        "m" | "min" => number * 60.0,
        "h" => number * 3600.0,
        other => {
            return Err(format!(
                "unknown duration unit `{other}` in `{text}`: use ms, s, m or h"
            ));
        }
    };
    // try_from refuses what `from_secs_f64` would panic on (infinite, too large).
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|d| (MIN_TIMEOUT..=MAX_TIMEOUT).contains(d))
        .ok_or_else(|| format!("duration `{text}` is out of range: write one from 1ms to 24h"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_parse() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("2 KiB"), Ok(2048));
        assert!(parse_size("lots").unwrap_err().contains("not a size"));
        assert!(parse_size("3 parsecs").unwrap_err().contains("unknown size unit"));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("0s").is_err());
    }

    #[test]
    fn limits_out_of_range_are_refused_not_a_panic() {
        assert_eq!(parse_size("4GiB"), Ok(4 << 30));
        for size in [
            "5GiB",
            "4294967297",
            "99999999999999999999999",
            "18446744073709551615GiB",
        ] {
            let error = parse_size(size).unwrap_err();
            assert!(
                error.contains("out of range") && error.contains("4GiB"),
                "{size}: {error}"
            );
        }
        assert_eq!(parse_duration("24h"), Ok(MAX_TIMEOUT));
        assert_eq!(parse_duration("1ms"), Ok(MIN_TIMEOUT));
        let long = "9".repeat(400);
        for duration in ["99999999999999999999999", "25h", "0.5ms", "0", &long] {
            let error = parse_duration(duration).unwrap_err();
            assert!(error.contains("from 1ms to 24h"), "{duration}: {error}");
        }
    }
}
