//! Messages as the engine sees them: what a message event or a send or
//! receive task names (a root `bpmn:message`), what a throw sends as payload,
//! where a catch puts it, and how correlation values are found.
//!
//! Correlation is by *property*: a root `correlationProperty` says, per
//! message, how its value is read from a payload
//! (`correlationPropertyRetrievalExpression`/`messagePath`, an expression in
//! the sandbox). A throw computes its message's values from its payload; a
//! catch waits for the values the same expressions give on the catching
//! task's data, or those SpiffWorkflow's `processVariableCorrelation`
//! expressions give, and leaves open a property neither gives.

/// How one correlation property's value is read: an expression evaluated in
/// the sandbox against a payload (or, for a catch, the task data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retrieval {
    /// The `correlationProperty` id (what `--correlate KEY=VALUE` names).
    pub property: String,
    /// The expression (`messagePath` or `formalExpression`).
    pub expression: String,
}

/// A `messageEventDefinition`, or the message of a `sendTask` or `receiveTask`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageEvent {
    /// Its `messageRef`; `None` when the element names no message (SpiffWorkflow
    /// then uses the event's name).
    pub message_ref: Option<String>,
    /// The message's `name`, what throws and catches match on (filled in
    /// once the file is read).
    pub name: String,
    /// `spiffworkflow:messagePayload`: what a throw sends, an expression
    /// evaluated against its data. Without one a throw sends a copy of its data.
    pub payload: Option<String>,
    /// `spiffworkflow:messageVariable`: where a catch puts the payload.
    /// Without one the payload (an object) is merged into the task data.
    pub variable: Option<String>,
    /// How the message's correlation values are read from a payload.
    pub correlation: Vec<Retrieval>,
    /// `spiffworkflow:processVariableCorrelation`: how a catch's values are
    /// read from its task data, where they differ from `correlation`.
    pub subscription: Vec<Retrieval>,
    /// The line of the element in its file.
    pub line: u32,
}

/// A `signalEventDefinition`: a broadcast, by name, with no correlation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalEvent {
    /// Its `signalRef`; `None` when it names none (then the event's name is used).
    pub signal_ref: Option<String>,
    /// The signal's `name` (filled in once the file is read).
    pub name: String,
    /// `spiffworkflow:payloadExpression` of the root `signal`: what a throw
    /// sends, evaluated against its data. Without one a throw sends no payload.
    pub payload: Option<String>,
    /// `spiffworkflow:variableName` of the root `signal`: where a catch puts
    /// the payload. Without one an object payload is merged into the data.
    pub variable: Option<String>,
    /// The line of the element in its file.
    pub line: u32,
}

/// A root `bpmn:signal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalDef {
    /// The element id (what `signalRef` names).
    pub id: String,
    /// The `name` attribute; the id when it has none.
    pub name: String,
    /// `spiffworkflow:payloadExpression`.
    pub payload: Option<String>,
    /// `spiffworkflow:variableName`.
    pub variable: Option<String>,
}

/// A root `bpmn:message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageDef {
    /// The element id (what `messageRef` names).
    pub id: String,
    /// The `name` attribute; the id when it has none.
    pub name: String,
    /// SpiffWorkflow's older place for `messagePayload` and `messageVariable`.
    pub payload: Option<String>,
    pub variable: Option<String>,
}
