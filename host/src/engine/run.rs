//! The step loop: the one place steps are taken and their interruptions
//! handled, whether script and service tasks' plugin work runs on the loop's
//! thread ([`OnThisThread`]) or on a pool of threads ([`Pool`]).
//!
//! With a pool, a READY call task becomes STARTED and its work is handed to
//! the pool; the loop goes on with other steps and takes in each result as it
//! arrives. All workflow state changes on the loop's thread, so results from
//! the pool apply one at a time; merges go in branch order (see
//! [`Task::branch`](super::Task::branch)), so the final data does not depend
//! on which call finished first.
//!
//! When a task fails or halts, no new step starts; the calls still running
//! are waited for: a success goes on as usual (its successors stay queued),
//! anything else puts its task back in the queue, to run again on resume or retry.

use std::sync::Mutex;
use std::sync::mpsc::{Receiver, Sender, channel};

use super::failure::Interrupt;
use super::jobs::{Done, Job, is_call, perform};
use super::{Status, TaskId, TaskState, Workflow};
use crate::script::ScriptEngine;

/// What the step loop does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// Run a READY task.
    Execute(TaskId),
    /// Complete a STARTED task whose work is done: a subprocess or call
    /// activity whose scope has ended, or a user task completed from outside.
    Finish(TaskId),
}

/// Where script and service tasks' plugin work runs.
trait Workers {
    /// How many jobs may run elsewhere at once; 0 runs every job on the loop's thread.
    fn capacity(&self) -> usize;
    /// Hands a job out.
    fn start(&mut self, job: Job);
    /// Waits for a job handed out to be done.
    fn next_done(&mut self) -> Done;
}

/// Every job runs on the loop's thread, as a step like any other.
struct OnThisThread;

impl Workers for OnThisThread {
    fn capacity(&self) -> usize {
        0
    }

    fn start(&mut self, _: Job) {
        unreachable!("no job is handed out when the capacity is 0")
    }

    fn next_done(&mut self) -> Done {
        unreachable!("no job is handed out when the capacity is 0")
    }
}

/// Scoped threads taking jobs from one channel, started as jobs need them.
struct Pool<'scope, 'env> {
    threads: &'scope std::thread::Scope<'scope, 'env>,
    scripts: &'env ScriptEngine,
    /// The threads' end of the job channel (one thread takes each job).
    inbox: &'env Mutex<Receiver<Job>>,
    jobs: Sender<Job>,
    results: Sender<Done>,
    done: Receiver<Done>,
    capacity: usize,
    /// Threads started so far.
    started: usize,
    /// Jobs handed out and not yet taken back.
    running: usize,
}

impl Workers for Pool<'_, '_> {
    fn capacity(&self) -> usize {
        self.capacity
    }

    fn start(&mut self, job: Job) {
        self.running += 1;
        if self.started < self.running {
            self.started += 1;
            let (inbox, results, scripts) = (self.inbox, self.results.clone(), self.scripts);
            self.threads.spawn(move || {
                loop {
                    let job = inbox.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    let Ok(job) = job else { break };
                    if results.send(perform(job, scripts)).is_err() {
                        break;
                    }
                }
            });
        }
        self.jobs.send(job).expect("pool threads wait for jobs");
    }

    fn next_done(&mut self) -> Done {
        self.running -= 1;
        self.done.recv().expect("pool threads outlive the loop")
    }
}

impl Workflow {
    /// Runs every step that can run (see [`Workflow::run_observed`]).
    pub(super) fn run_steps<E>(
        &mut self,
        scripts: &ScriptEngine,
        mut after_step: impl FnMut(&mut Workflow) -> Result<(), E>,
    ) -> Result<Status, E> {
        // A finished or halted instance stays as it is: nothing can run in it
        // (a halted one runs on after `resume_halted`).
        if self.is_stopped() {
            return Ok(self.status);
        }
        self.status = Status::Running;
        // A script or service task saved STARTED was running on the pool when
        // the instance was saved: it runs again (at least once).
        for i in 0..self.queue.len() {
            if let Step::Execute(id) = self.queue[i]
                && self.tasks[id].state == TaskState::Started
                && self.tasks[id].child.is_none()
                && is_call(self.node(id))
                && !self.in_flight.contains(&id)
            {
                self.tasks[id].state = TaskState::Ready;
            }
        }
        // Conditions changed from outside (a completed task, `resume`, `tick`).
        if self.conditions_stale() {
            self.evaluate_conditions(scripts);
            if self.is_stopped() {
                return Ok(self.status);
            }
        }
        if scripts.concurrency() <= 1 {
            return self.step_loop(scripts, &mut OnThisThread, &mut after_step);
        }
        let (jobs, inbox) = channel();
        let inbox = Mutex::new(inbox);
        let (results, done) = channel();
        std::thread::scope(|threads| {
            let mut pool = Pool {
                threads,
                scripts,
                inbox: &inbox,
                jobs,
                results,
                done,
                capacity: scripts.concurrency(),
                started: 0,
                running: 0,
            };
            // Dropping the pool at the end closes the job channel: its threads end.
            self.step_loop(scripts, &mut pool, &mut after_step)
        })
    }

    /// The step loop proper: takes the next step (or, with nothing else to
    /// do, the next result from `workers`), then calls `after_step`.
    fn step_loop<E>(
        &mut self,
        scripts: &ScriptEngine,
        workers: &mut dyn Workers,
        after_step: &mut impl FnMut(&mut Workflow) -> Result<(), E>,
    ) -> Result<Status, E> {
        loop {
            if !self.timers.is_empty() && !self.is_stopped() {
                self.fire_due();
            }
            let next = if self.is_stopped() {
                None
            } else {
                self.queue.front().copied()
            };
            match next {
                Some(Step::Execute(id)) if self.hands_out(id, workers.capacity()) => {
                    if self.in_flight.len() >= workers.capacity() {
                        // Every worker is busy: take in a result first.
                        let done = workers.next_done();
                        self.take_in(done, scripts);
                    } else {
                        self.queue.pop_front();
                        // Its boundary timers are armed here, as `execute` would.
                        let armed = self
                            .read_data_objects(id)
                            .and_then(|()| self.arm_boundaries(id, scripts));
                        match armed {
                            Ok(()) => {
                                let job = self.job(id, true);
                                self.task_mut(id).state = TaskState::Started;
                                self.in_flight.push(id);
                                workers.start(job);
                            }
                            Err(interrupted) => self.catch_or_stop(Err(interrupted), scripts),
                        }
                    }
                }
                Some(step) => {
                    self.queue.pop_front();
                    tracing::trace!(instance = %self.id, ?step, "step");
                    let result = match step {
                        Step::Execute(id) if self.tasks[id].state == TaskState::Ready => self.execute(id, scripts),
                        Step::Finish(id) if self.tasks[id].state == TaskState::Started => self.finish(id, scripts),
                        // Cancelled while queued.
                        _ => Ok(()),
                    };
                    self.catch_or_stop(result, scripts);
                }
                None if self.in_flight.is_empty() => break,
                None => {
                    let done = workers.next_done();
                    self.take_in(done, scripts);
                }
            }
            // Conditions whose data changed in this step are evaluated in it.
            if self.conditions_stale() {
                self.evaluate_conditions(scripts);
            }
            // A running instance with nothing queued and nothing in flight waits.
            if self.status == Status::Running && self.queue.is_empty() && self.in_flight.is_empty() {
                self.status = Status::Waiting;
            }
            after_step(self)?;
        }
        if self.status == Status::Running {
            self.status = Status::Waiting;
        }
        Ok(self.status)
    }

    /// Whether nothing more may start: the instance failed, halted or completed.
    pub(super) fn is_stopped(&self) -> bool {
        matches!(self.status, Status::Error | Status::Halted | Status::Completed)
    }

    /// Whether task `id`, at the front of the queue, goes to workers that can
    /// take `capacity` jobs: a READY script or service task, unless nothing
    /// else could run meanwhile (a chain), where the handoff would only cost.
    fn hands_out(&self, id: TaskId, capacity: usize) -> bool {
        capacity > 0
            && self.tasks[id].state == TaskState::Ready
            && is_call(self.node(id))
            && !self.fans_out(id)
            && !(self.in_flight.is_empty() && self.queue.len() == 1)
            // A loop tested before its first pass is tested here, in `execute`.
            && !(self.tasks[id].passes == 0 && self.node(id).looping.as_ref().is_some_and(|l| l.test_before))
    }

    /// Takes in a job done by the workers.
    fn take_in(&mut self, done: Done, scripts: &ScriptEngine) {
        let id = done.id;
        self.in_flight.retain(|&t| t != id);
        if self.tasks[id].state == TaskState::Started {
            self.task_mut(id).state = TaskState::Ready;
        }
        if self.is_stopped() && self.tasks[id].state == TaskState::Ready {
            if let Err((_, keep)) = done.outcome {
                // Not this interruption's turn: the task runs again when the instance does.
                self.task_mut(id).data = Some(keep);
                self.queue.push_front(Step::Execute(id));
                return;
            }
        }
        let result = self.complete_job(done, scripts);
        self.catch_or_stop(result, scripts);
    }

    /// What the step loop does with a step's interruption: a thrown event is
    /// caught if something catches it; an escalation a task's call answered
    /// is thrown, and the task goes on unless an interrupting catch took
    /// over; anything else, or an uncaught throw, stops the instance at the task.
    fn catch_or_stop(&mut self, result: Result<(), (TaskId, Interrupt)>, scripts: &ScriptEngine) {
        let Err((id, interrupt)) = result else {
            return;
        };
        let uncaught = match interrupt {
            Interrupt::Throw(thrown) => match self.catch(id, thrown) {
                Ok(()) => return,
                Err(thrown) => Interrupt::Throw(thrown),
            },
            Interrupt::Escalate(thrown) => {
                if self.throw_escalation(id, thrown) {
                    // On with the data it was reached with: a call that
                    // escalates hands back no new data.
                    let data = self.task_mut(id).data.take().unwrap_or_default();
                    let result = self.route(id, data, scripts);
                    self.catch_or_stop(result, scripts);
                }
                return;
            }
            other => other,
        };
        self.stop(id, uncaught);
    }
}
