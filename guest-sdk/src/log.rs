//! Log lines to the task log through the host.
//!
//! In a wasm plugin these call the host function `wasmflow.log(level, ptr, len)`; the host
//! writes the line to the task's log. Built for any other target (native unit tests, docs) they
//! print `[wasmflow LEVEL] message` to stderr instead.
//!
//! The macros [`error!`](crate::error!), [`warn!`](crate::warn!), [`info!`](crate::info!) and
//! [`debug!`](crate::debug!) take `format!` arguments.
//!
//! ```
//! use wasmflow_guest::log;
//!
//! log::info("computing the order total");
//! wasmflow_guest::debug!("{} items", 3);
//! ```

use std::fmt;

/// How important a log line is. The number is the `level` argument of the host function.
///
/// ```
/// use wasmflow_guest::log::Level;
/// assert_eq!(Level::Info as i32, 2);
/// assert_eq!(Level::Warn.to_string(), "warn");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(i32)]
pub enum Level {
    /// Something failed.
    Error = 0,
    /// Something looks wrong.
    Warn = 1,
    /// Progress worth knowing about.
    Info = 2,
    /// Detail for debugging.
    Debug = 3,
}

impl Level {
    /// The level's lower-case name.
    ///
    /// ```
    /// assert_eq!(wasmflow_guest::log::Level::Debug.as_str(), "debug");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(target_arch = "wasm32")]
mod sys {
    #[link(wasm_import_module = "wasmflow")]
    unsafe extern "C" {
        #[link_name = "log"]
        pub fn wasmflow_log(level: i32, ptr: i32, len: i32);
    }
}

/// Write one line to the task log at the given level.
///
/// ```
/// use wasmflow_guest::log::{log, Level};
/// log(Level::Warn, "stock is low");
/// ```
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    {
        // SAFETY: the host reads `len` bytes at `ptr` from our memory during the call; the
        // slice outlives the call. Pointers and lengths fit in i32 on wasm32.
        unsafe { sys::wasmflow_log(level as i32, message.as_ptr() as usize as i32, message.len() as i32) }
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        eprintln!("[wasmflow {level}] {message}");
    }
}

/// Log at [`Level::Error`].
///
/// ```
/// wasmflow_guest::log::error("the payment service refused the card");
/// ```
pub fn error(message: &str) {
    log(Level::Error, message)
}

/// Log at [`Level::Warn`].
///
/// ```
/// wasmflow_guest::log::warn("no discount code given");
/// ```
pub fn warn(message: &str) {
    log(Level::Warn, message)
}

/// Log at [`Level::Info`].
///
/// ```
/// wasmflow_guest::log::info("order total computed");
/// ```
pub fn info(message: &str) {
    log(Level::Info, message)
}

/// Log at [`Level::Debug`].
///
/// ```
/// wasmflow_guest::log::debug("3 items");
/// ```
pub fn debug(message: &str) {
    log(Level::Debug, message)
}

/// Log a `format!`-style message at error level.
///
/// ```
/// wasmflow_guest::error!("lookup of {} failed", "product_a");
/// ```
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => {
        $crate::log::log($crate::log::Level::Error, &::std::format!($($arg)+))
    };
}

/// Log a `format!`-style message at warn level.
///
/// ```
/// wasmflow_guest::warn!("only {} left in stock", 2);
/// ```
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => {
        $crate::log::log($crate::log::Level::Warn, &::std::format!($($arg)+))
    };
}

/// Log a `format!`-style message at info level.
///
/// ```
/// let total = 12.5;
/// wasmflow_guest::info!("total is {total}");
/// ```
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => {
        $crate::log::log($crate::log::Level::Info, &::std::format!($($arg)+))
    };
}

/// Log a `format!`-style message at debug level.
///
/// ```
/// wasmflow_guest::debug!("request had {} keys", 4);
/// ```
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => {
        $crate::log::log($crate::log::Level::Debug, &::std::format!($($arg)+))
    };
}
