//! Which task a call runs for.

use serde::{Deserialize, Serialize};

/// Which task a call runs for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskInfo {
    /// The task's id within its instance.
    pub id: String,
    /// The spec node id (the BPMN element id).
    pub spec: String,
    /// The element's name, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The id of the process the element belongs to.
    pub process: String,
    /// The workflow instance id.
    pub instance: String,
}
