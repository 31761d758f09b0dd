//! Admission of calls into the instance pool: back-pressure instead of failures.
//!
//! The pooling allocator has a fixed number of instance slots, and a call that
//! finds none free would fail ("maximum concurrent limit ... reached"). A call
//! can also need more than one: each nested `call_service` instantiates the
//! callee while its caller's instance is still alive. So each outermost call
//! waits here for a *reservation* of [`PER_CALL`] slots (its own, one per
//! nesting level, and one for a pre-initialization on the way), and nested
//! calls run on their outermost call's reservation without waiting: they can
//! never wait for a slot their own caller holds, and no call fails for lack of
//! room. The waiting threads are the bounded queue: at most one per task a
//! run lets call at once.
//!
//! A nested call can also cross executors (its callee's entry names another).
//! On the subprocess executor every nested call gets a worker without waiting
//! (the pool starts one past its size if none is idle). Here, a nested call
//! that comes from another executor takes a reservation if one is free and
//! otherwise runs without one, on the pool's room beyond the reservations
//! (most calls use far fewer than their [`PER_CALL`] slots): it must not wait,
//! since its chain holds a worker, and a worker's chain waiting here while a
//! reservation's chain waits for a worker would deadlock. So only outermost
//! calls, which hold nothing, ever wait.

use std::sync::{Condvar, Mutex};

use crate::call::MAX_DEPTH;

/// Instance slots one outermost call may use: itself, every nesting level below
/// it, and one pre-initialization of a module loaded on the way.
pub(super) const PER_CALL: u32 = MAX_DEPTH + 2;

/// Reservations: how many outermost calls may run at once.
pub(super) struct Slots {
    free: Mutex<u32>,
    freed: Condvar,
}

/// One reservation; dropping it frees it.
pub(super) struct Reservation<'a> {
    slots: &'a Slots,
}

impl Slots {
    /// Room for `calls` outermost calls at once.
    pub fn new(calls: u32) -> Slots {
        Slots {
            free: Mutex::new(calls.max(1)),
            freed: Condvar::new(),
        }
    }

    /// Waits until a reservation is free and takes it.
    pub fn reserve(&self) -> Reservation<'_> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        Reservation { slots: self }
    }

    /// A reservation if one is free now, without waiting.
    pub fn try_reserve(&self) -> Option<Reservation<'_>> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        (*free > 0).then(|| {
            *free -= 1;
            Reservation { slots: self }
        })
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        *self.slots.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.slots.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn more_callers_than_reservations_wait_and_all_get_one() {
        let slots = Slots::new(2);
        let inside = AtomicU32::new(0);
        let most = AtomicU32::new(0);
        let start = Barrier::new(8);
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    start.wait();
                    for _ in 0..50 {
                        let _held = slots.reserve();
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert!(most.load(Ordering::SeqCst) <= 2, "at most two inside at once");
        assert_eq!(*slots.free.lock().unwrap(), 2, "every reservation came back");
    }
}
