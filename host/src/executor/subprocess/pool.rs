//! The pool of worker processes: at most `pool_size` of them, started on
//! demand (or eagerly for warm-up), lent to one call at a time, replaced when
//! they die, hang or wear out.

use std::ops::{Deref, DerefMut};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use super::SubprocessConfig;
use super::protocol::{self, Answer};
use super::worker::Worker;
use crate::call::{Limits, Plugin};

/// How long loading a plugin may take in a worker: compiling it and, after a
/// pre-initialization bounded by the call's limit, compiling the snapshot,
/// with a few seconds for the worker to say how it went.
pub fn load_allowance(config: &SubprocessConfig, limits: Limits) -> Duration {
    config.compile_timeout.saturating_mul(2) + limits.timeout + Duration::from_secs(5)
}

/// The longest line a prepare's answer can be.
const PREPARE_LINE: usize = 4 << 20;

/// Worker processes and who may use them.
pub struct Pool {
    config: SubprocessConfig,
    state: Mutex<State>,
    /// Signalled whenever a worker is returned or a slot frees up.
    freed: Condvar,
}

struct State {
    /// Workers waiting for a call, most recently used last (reused first: its caches are warm).
    idle: Vec<Worker>,
    /// Workers in existence (idle, lent out, or being started).
    live: usize,
    /// Their process ids.
    pids: Vec<u32>,
}

/// A worker lent to one call; going out of scope returns it, or retires it
/// when it is dead or worn out.
pub struct Lease<'a> {
    pool: &'a Pool,
    worker: Option<Worker>,
}

impl Pool {
    /// An empty pool.
    pub fn new(config: SubprocessConfig) -> Pool {
        Pool {
            config,
            state: Mutex::new(State {
                idle: Vec::new(),
                live: 0,
                pids: Vec::new(),
            }),
            freed: Condvar::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &SubprocessConfig {
        &self.config
    }

    /// Starts `count` workers now, each asked to load `plugin` in the background.
    pub fn warm_up(&self, count: usize, plugin: &Plugin) -> std::io::Result<()> {
        for _ in 0..count.min(self.config.pool_size) {
            self.state().live += 1;
            let mut worker = match Worker::spawn(&self.config) {
                Ok(worker) => worker,
                Err(error) => {
                    self.state().live -= 1;
                    return Err(error);
                }
            };
            let id = worker.next_id();
            // A failed send kills the worker; the first call then finds it dead and replaces it.
            if worker
                .send(&protocol::encode_prepare(id, plugin, Limits::default()))
                .is_ok()
            {
                worker.warming = Some(id);
            }
            let mut state = self.state();
            state.pids.push(worker.pid());
            state.idle.push(worker);
        }
        Ok(())
    }

    /// A sound worker for one call: an idle one, a new one if the pool has
    /// room, else the next one returned. A nested call (`wait` false) never
    /// waits: with no idle worker it gets a new one past the pool's size,
    /// retired when it comes back. Its chain holds a worker or an in-process
    /// reservation, so waiting could wait on itself; the overflow is bounded
    /// by the nesting depth of the calls running.
    pub fn lease(&self, wait: bool) -> std::io::Result<Lease<'_>> {
        loop {
            let idle = {
                let mut state = self.state();
                loop {
                    if let Some(worker) = state.idle.pop() {
                        break Some(worker);
                    }
                    if state.live < self.config.pool_size || !wait {
                        state.live += 1;
                        break None;
                    }
                    state = self.freed.wait(state).unwrap_or_else(|e| e.into_inner());
                }
            };
            // From here the slot is the lease's: dropping it frees the slot or returns the worker.
            let mut lease = Lease {
                pool: self,
                worker: None,
            };
            let Some(mut worker) = idle else {
                // A fresh worker is used as is: re-checking it could spawn forever.
                let worker = Worker::spawn(&self.config)?;
                self.state().pids.push(worker.pid());
                lease.worker = Some(worker);
                return Ok(lease);
            };
            if let Some(id) = worker.warming.take() {
                settle_warm_up(&self.config, &mut worker, id);
            }
            let sound = worker.is_sound();
            lease.worker = Some(worker);
            if sound {
                return Ok(lease);
            }
            // Dead while idle, or it printed unasked: retire it and look again.
            lease.kill();
        }
    }

    /// The process ids of the workers now running.
    pub fn pids(&self) -> Vec<u32> {
        self.state().pids.clone()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a worker should be replaced by a fresh one.
    fn worn_out(&self, worker: &Worker) -> bool {
        let calls = self.config.recycle_after_calls.is_some_and(|max| worker.calls >= max);
        let memory = self
            .config
            .recycle_above_rss
            .is_some_and(|max| worker.resident_bytes().is_some_and(|rss| rss > max));
        // Retire a worker well before RLIMIT_CPU would kill it in the middle of a call.
        let cpu = self
            .config
            .cpu_seconds
            .is_some_and(|max| worker.cpu_seconds_used().is_some_and(|used| used >= max / 2));
        calls || memory || cpu
    }
}

/// Reads the answer to a warm-up prepare, so the call after it reads its own.
fn settle_warm_up(config: &SubprocessConfig, worker: &mut Worker, id: u64) {
    let Ok(line) = worker.receive(load_allowance(config, Limits::default()), PREPARE_LINE) else {
        return; // the worker is dead; the caller retires it
    };
    match protocol::decode_reply(&line, id) {
        // A load failure shows again, properly reported, when a call needs the plugin.
        Ok(Answer::Ok(_) | Answer::Failed(_)) => {}
        Ok(Answer::Loading | Answer::Running | Answer::Service(..)) | Err(_) => {
            worker.kill();
        }
    }
}

impl Deref for Lease<'_> {
    type Target = Worker;
    fn deref(&self) -> &Worker {
        self.worker.as_ref().expect("a lease holds its worker until dropped")
    }
}

impl DerefMut for Lease<'_> {
    fn deref_mut(&mut self) -> &mut Worker {
        self.worker.as_mut().expect("a lease holds its worker until dropped")
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let pool = self.pool;
        let retired = match self.worker.take() {
            Some(worker)
                if worker.is_alive() && !pool.worn_out(&worker) && pool.state().live <= pool.config.pool_size =>
            {
                pool.state().idle.push(worker);
                None
            }
            Some(worker) => {
                let mut state = pool.state();
                state.live -= 1;
                state.pids.retain(|&pid| pid != worker.pid());
                Some(worker)
            }
            None => {
                pool.state().live -= 1;
                None
            }
        };
        pool.freed.notify_one();
        // Killing and reaping happens outside the lock.
        drop(retired);
    }
}
