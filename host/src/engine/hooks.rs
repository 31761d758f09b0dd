//! Pre- and post-scripts (`spiffworkflow:preScript` / `postScript`): inline
//! code run on an activity's data before it does its work and after.

use serde_json::{Map, Value};

use super::failure::{Interrupt, answered};
use crate::bpmn::Script;
use crate::script::{ScriptEngine, TaskInfo};

/// Which of an activity's two scripts runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Hook {
    /// Before the activity's work.
    Pre,
    /// After it, before the data leaves along the outgoing flows.
    Post,
}

impl Hook {
    /// How messages name it.
    fn name(self) -> &'static str {
        match self {
            Hook::Pre => "pre-script",
            Hook::Post => "post-script",
        }
    }
}

/// Runs `hook`'s `script` for `task` on `data`: the data it is done with,
/// what it logged appended to `log`. Whatever interrupts it names the hook.
pub(super) fn run_hook(
    scripts: &ScriptEngine,
    task: &TaskInfo,
    hook: Hook,
    script: &Script,
    data: &Map<String, Value>,
    log: &mut String,
) -> Result<Map<String, Value>, Interrupt> {
    match answered(scripts.run_script(task, script, data)) {
        Ok(outcome) => {
            log.push_str(&outcome.log);
            Ok(outcome.value)
        }
        Err(interrupt) => Err(interrupt.within(hook.name())),
    }
}
