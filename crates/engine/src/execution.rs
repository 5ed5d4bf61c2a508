//! One execution as a pure state machine over its history.
//!
//! [`Execution::apply`] folds one recorded event into the state;
//! [`Execution::decide_all`] looks at the state and says everything that
//! must happen next, one [`Decision`] per branch or iteration that needs
//! something (Parallel branches and Map iterations run at the same time):
//! record an event the engine computed itself (a state entered or exited, the
//! execution finished), record one no earlier than some instant (a retry's
//! backoff, a Wait), invoke a task whose outcome the caller records, or wait
//! for a task token. After each event, [`Execution::decide_after`] gives only
//! the decisions that event can have changed (those of its own branch or
//! iteration and of the states around it), so that a Map with many
//! iterations in flight costs the same per event as one with a few.
//! Nothing here sleeps, calls a module or touches a disk, so replaying a
//! stored history rebuilds exactly the state a crash interrupted.
//!
//! This module owns the execution's own events and the top-level
//! `TimeoutSeconds`; the graphs themselves run in [`super::frame`].

use super::fanout::Focus;
use super::frame::{Env, Frame, Next};
use super::history::{EventKind, HistoryEvent, Payload, Scope};
use super::{Callback, TaskInvocation};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use stepwasm_asl::errors;
use stepwasm_asl::StateMachine;

/// Names that identify an execution (AWS-style ARNs and its short name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionInfo {
    pub execution_arn: String,
    pub name: String,
    pub state_machine_arn: String,
    pub state_machine_name: String,
    /// The IAM role the execution runs as (`$$.Execution.RoleArn`): the
    /// state machine's `roleArn`, or [`crate::arn::default_role_arn`].
    pub role_arn: String,
    /// The mock test case the execution runs (SFN Local's
    /// `stateMachineArn#TestCase`), kept with it in the store; the engine
    /// itself never reads it.
    pub test_case: Option<String>,
}

/// How an execution ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Succeeded {
        output: Value,
    },
    Failed {
        error: String,
        cause: String,
    },
    /// Ran past the top-level `TimeoutSeconds` (AWS's TIMED_OUT status).
    TimedOut {
        error: String,
        cause: String,
    },
    /// Stopped from outside (AWS's ABORTED status).
    Aborted {
        error: String,
        cause: String,
    },
}

impl Outcome {
    /// The outcome an event that ends an execution records (None for the others).
    pub fn ended_by(event: &EventKind) -> Option<Outcome> {
        let (error, cause) = match event {
            EventKind::ExecutionSucceeded { output } => return Some(Outcome::Succeeded { output: Value::clone(output) }),
            EventKind::ExecutionFailed { error, cause } => return Some(Outcome::Failed { error: error.clone(), cause: cause.clone() }),
            EventKind::ExecutionTimedOut { error, cause } | EventKind::ExecutionAborted { error, cause } => (error.clone(), cause.clone()),
            _ => return None,
        };
        Some(match event {
            EventKind::ExecutionTimedOut { .. } => Outcome::TimedOut { error, cause },
            _ => Outcome::Aborted { error, cause },
        })
    }
}

/// What the caller must do next. `scope` says which branch or iteration the
/// events belong to (see [`Scope`]); there is at most one decision per scope
/// at a time.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Record this event now (then apply it).
    Record { scope: Scope, event: EventKind },
    /// Record this event once the clock reaches `not_before_ms` (a retry
    /// backoff, a Wait), a wait that began at `since_ms`.
    RecordAt { scope: Scope, event: EventKind, not_before_ms: i64, since_ms: i64 },
    /// Record `TaskStarted`, run the task, record its outcome, all in `scope`
    /// (for a task with a token: `TaskSubmitted` when its module succeeds;
    /// for an activity's: queue it, and record `ActivityStarted` when a worker takes it).
    Invoke { scope: Scope, task: TaskInvocation },
    /// Wait for the callback of a submitted task and record its outcome
    /// (`TaskSucceeded`, `TaskFailed` or `TaskTimedOut`) in `scope`.
    AwaitCallback { scope: Scope, callback: Callback },
    /// The execution has ended.
    Finished(Outcome),
}

impl Decision {
    /// The branch or iteration the decision is for (the top level for `Finished`).
    pub fn scope(&self) -> &Scope {
        static ROOT: Scope = Scope(Vec::new());
        match self {
            Decision::Record { scope, .. }
            | Decision::RecordAt { scope, .. }
            | Decision::Invoke { scope, .. }
            | Decision::AwaitCallback { scope, .. } => scope,
            Decision::Finished(_) => &ROOT,
        }
    }
}

/// How many Map iterations one Map state runs at once when its
/// `MaxConcurrency` is 0 or absent, unless the host says otherwise
/// ([`Execution::set_max_children`]).
pub const DEFAULT_MAX_CHILDREN: usize = 1000;

/// A history event that does not fit the execution's state: the history is
/// corrupt or belongs to another definition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event {id} ({event}) cannot be applied: {reason}")]
pub struct ReplayError {
    pub id: u64,
    pub event: &'static str,
    pub reason: String,
}

/// An execution's state, rebuilt from its history.
#[derive(Debug, Clone)]
pub struct Execution {
    machine: Arc<StateMachine>,
    info: ExecutionInfo,
    input: Option<Payload>,
    start_ms: i64,
    /// Timestamp of the last applied event: the engine's notion of "now".
    last_event_ms: i64,
    /// When the execution was last redriven: the top-level `TimeoutSeconds`
    /// counts from here then.
    redriven_ms: Option<i64>,
    /// The top-level graph, once the execution has started.
    root: Option<Frame>,
    outcome: Option<Outcome>,
    /// How many times each Task state's task has been scheduled, by state
    /// name (unique across a machine), over the whole execution: a fold, so
    /// a replay counts the same ([`TaskInvocation::invocation`]).
    scheduled: HashMap<String, u32>,
    /// The host's cap on the iterations one Map state runs at once.
    max_children: usize,
    /// `DISTRIBUTED` Maps run as map runs ([`Execution::set_map_runs`]).
    map_runs: bool,
}

impl Execution {
    /// A new execution; nothing has happened until `ExecutionStarted` is applied.
    pub fn new(machine: Arc<StateMachine>, info: ExecutionInfo) -> Execution {
        Execution {
            machine,
            info,
            input: None,
            start_ms: 0,
            last_event_ms: 0,
            redriven_ms: None,
            root: None,
            outcome: None,
            scheduled: HashMap::new(),
            max_children: DEFAULT_MAX_CHILDREN,
            map_runs: false,
        }
    }

    /// Caps the iterations one Map state runs at once (its `MaxConcurrency`
    /// when that is smaller and not 0); at least 1. A setting of the host,
    /// not of the history: a resumed execution may run under another cap.
    pub fn set_max_children(&mut self, max_children: usize) {
        self.max_children = max_children.max(1);
    }

    /// Whether this host runs a `DISTRIBUTED` Map as a map run of child
    /// executions (`MapRunStarted`, see [`crate::map_run`]); else (the
    /// default) its iterations run inside this execution like an inline Map's.
    pub fn set_map_runs(&mut self, map_runs: bool) {
        self.map_runs = map_runs;
    }

    pub fn info(&self) -> &ExecutionInfo {
        &self.info
    }

    /// The JSON bytes of every workflow variable the execution holds now
    /// (a fold over its events, capped at 10 MiB when assigned).
    pub fn variable_bytes(&self) -> usize {
        self.root.as_ref().map_or(0, Frame::variable_bytes)
    }

    /// The timestamp of the latest event applied: the engine's "now".
    pub fn last_event_ms(&self) -> i64 {
        self.last_event_ms
    }

    /// The outcome, once the event that ends the execution has been applied.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// Folds one recorded event into the state.
    pub fn apply(&mut self, event: &HistoryEvent) -> Result<(), ReplayError> {
        let bad = |reason: &str| ReplayError { id: event.id, event: event.kind.type_name(), reason: reason.to_string() };
        if let EventKind::ExecutionRedriven { .. } = event.kind {
            if !event.scope.is_root() {
                return Err(bad("execution events belong to the top level"));
            }
            match (&self.outcome, self.root.as_mut()) {
                (None, _) => return Err(bad("only an execution that has ended is redriven")),
                (Some(Outcome::Succeeded { .. }), _) => return Err(bad("a succeeded execution is not redriven")),
                (Some(_), None) => return Err(bad("the execution has not started")),
                (Some(_), Some(root)) => root.redrive(),
            }
            self.outcome = None;
            self.redriven_ms = Some(event.timestamp_ms);
            self.last_event_ms = self.last_event_ms.max(event.timestamp_ms);
            return Ok(());
        }
        if self.outcome.is_some() {
            return Err(bad("the execution has already ended"));
        }
        let ending = Outcome::ended_by(&event.kind);
        let execution_event = ending.is_some() || matches!(event.kind, EventKind::ExecutionStarted { .. });
        if execution_event && !event.scope.is_root() {
            return Err(bad("execution events belong to the top level"));
        }
        match &event.kind {
            EventKind::ExecutionStarted { input } => {
                if self.input.is_some() {
                    return Err(bad("the execution has already started"));
                }
                self.input = Some(input.clone());
                self.start_ms = event.timestamp_ms;
                self.root = Some(Frame::new(Arc::clone(&self.machine.root), Arc::clone(input)));
            }
            _ if self.input.is_none() => return Err(bad("the execution has not started")),
            _ if ending.is_some() => self.outcome = ending,
            _ => {
                let root = self.root.as_mut().ok_or_else(|| bad("the execution has not started"))?;
                root.apply(&event.scope.0, event).map_err(|reason| bad(&reason))?;
                // Counted where a task is scheduled, not looked for after every event.
                if let EventKind::TaskScheduled { .. } = event.kind {
                    root.count_scheduling(&event.scope.0, &mut self.scheduled);
                }
            }
        }
        self.last_event_ms = self.last_event_ms.max(event.timestamp_ms);
        Ok(())
    }

    /// When the top-level `TimeoutSeconds` runs out, if it is set (counted
    /// from the start, or from the latest redrive). The caller records
    /// [`Self::timed_out`] then, whatever is in flight.
    pub fn deadline_ms(&self) -> Option<i64> {
        let from = self.redriven_ms.unwrap_or(self.start_ms);
        self.machine.timeout_seconds.map(|s| from.saturating_add(s.saturating_mul(1000).min(i64::MAX as u64) as i64))
    }

    /// The event that ends the execution at its deadline.
    pub fn timed_out(&self) -> EventKind {
        let seconds = self.machine.timeout_seconds.unwrap_or_default();
        EventKind::ExecutionTimedOut {
            error: errors::TIMEOUT.into(),
            cause: format!("the execution ran longer than its TimeoutSeconds of {seconds}"),
        }
    }

    /// One thing that must happen next, for a caller that does one thing at
    /// a time: of [`Self::decide_all`], an event to record now before
    /// anything else (the outermost scope's first, as the driver takes them),
    /// else the outermost scope's decision; a wait past the top-level
    /// deadline is the execution's timeout at the deadline.
    pub fn decide(&self) -> Decision {
        let all = self.decide_all();
        let records_now = all.iter().any(|d| matches!(d, Decision::Record { .. } | Decision::Finished(_)));
        let first = all
            .into_iter()
            .filter(|d| !records_now || matches!(d, Decision::Record { .. } | Decision::Finished(_)))
            .min_by(|a, b| a.scope().cmp(b.scope()))
            .unwrap_or_else(|| Decision::Record { scope: Scope::root(), event: Self::nothing_left() });
        match (first, self.deadline_ms()) {
            (Decision::RecordAt { not_before_ms, .. }, Some(deadline)) if not_before_ms > deadline => {
                Decision::RecordAt { scope: Scope::root(), event: self.timed_out(), not_before_ms: deadline, since_ms: self.last_event_ms }
            }
            (first, _) => first,
        }
    }

    /// Everything that must happen next, at most one decision per scope,
    /// children's before their parents'. Pure: the same state always gives
    /// the same decisions.
    ///
    /// The top-level `TimeoutSeconds` bounds everything: once the latest
    /// event is past the deadline the execution times out, and a task may
    /// run only for the time that is left. (A wait beyond the deadline is
    /// left as it is: the caller ends the execution at [`Self::deadline_ms`].)
    pub fn decide_all(&self) -> Vec<Decision> {
        self.decide_within(Focus::All)
    }

    /// The decisions an event just applied can have changed, given the
    /// scope it changed ([`Self::changed_scope`]): those of that scope and
    /// everything below it, and those of the scopes above it (their Parallel
    /// or Map state's own next event). Every other decision made before
    /// stays as it was.
    pub fn decide_after(&self, changed: &Scope) -> Vec<Decision> {
        self.decide_within(Focus::Path(&changed.0))
    }

    /// The scope whose decisions `event` changes: its own, or for an
    /// iteration's start or end (recorded in the Map state's scope) the
    /// iteration's.
    pub fn changed_scope(event: &HistoryEvent) -> Scope {
        match &event.kind {
            EventKind::MapIterationStarted { index, .. }
            | EventKind::MapIterationSucceeded { index, .. }
            | EventKind::MapIterationFailed { index, .. }
            | EventKind::MapIterationAborted { index, .. } => event.scope.child(*index),
            _ => event.scope.clone(),
        }
    }

    /// What a caller with nothing to do and nothing in flight records at
    /// the top level: a history that leaves no branch anything to do is a
    /// bug, not a hang.
    pub fn nothing_left() -> EventKind {
        EventKind::ExecutionFailed {
            error: errors::RUNTIME.into(),
            cause: "the execution has nothing left to do and has not ended (this is a bug of stepwasm)".into(),
        }
    }

    fn decide_within(&self, focus: Focus) -> Vec<Decision> {
        if let Some(outcome) = &self.outcome {
            return vec![Decision::Finished(outcome.clone())];
        }
        let (Some(input), Some(root)) = (&self.input, &self.root) else {
            // Callers apply ExecutionStarted first; say so rather than guess.
            return vec![Decision::Finished(Outcome::Failed {
                error: errors::RUNTIME.into(),
                cause: "the execution was never started".into(),
            })];
        };
        let deadline = self.deadline_ms();
        if deadline.is_some_and(|deadline| self.last_event_ms >= deadline) {
            return vec![Decision::Record { scope: Scope::root(), event: self.timed_out() }];
        }
        let env = Env {
            info: &self.info,
            input,
            start_ms: self.start_ms,
            variables: Vec::new(),
            variable_bytes: root.variable_bytes(),
            max_children: self.max_children,
            map_runs: self.map_runs,
        };
        let mut actions = Vec::new();
        let ended = root.decide(&env, &Scope::root(), focus, &mut actions);
        let mut decisions: Vec<Decision> = actions.into_iter().filter_map(|next| self.decision(next, deadline)).collect();
        let finish = |event| Decision::Record { scope: Scope::root(), event };
        match ended {
            Some(Ok(output)) => decisions.push(finish(EventKind::ExecutionSucceeded { output })),
            Some(Err(f)) => decisions.push(finish(EventKind::ExecutionFailed { error: f.error, cause: f.cause })),
            None => {}
        }
        decisions
    }

    /// A frame's action as the caller's decision, a task's time cut to what
    /// is left before the deadline.
    fn decision(&self, next: Next, deadline: Option<i64>) -> Option<Decision> {
        let left_ms = deadline.map(|deadline| deadline - self.last_event_ms);
        Some(match next {
            Next::Record { scope, event } => Decision::Record { scope, event },
            Next::RecordAt { scope, event, not_before_ms, since_ms } => Decision::RecordAt { scope, event, not_before_ms, since_ms },
            Next::Invoke { scope, mut task } => {
                if let Some(left_ms) = left_ms {
                    let left = (left_ms.max(0) as u64).div_ceil(1000).max(1);
                    task.timeout_seconds = Some(task.timeout_seconds.map_or(left, |t| t.min(left)));
                }
                Decision::Invoke { scope, task }
            }
            Next::AwaitCallback { scope, mut callback } => {
                if let Some(deadline) = deadline {
                    callback.deadline_ms = Some(callback.deadline_ms.map_or(deadline, |d| d.min(deadline)));
                }
                Decision::AwaitCallback { scope, callback }
            }
            Next::Busy | Next::Done(_) => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use stepwasm_asl::parse_definition;

    /// The execution every test here runs as.
    fn test_info() -> ExecutionInfo {
        ExecutionInfo {
            execution_arn: "arn:e".into(),
            name: "e".into(),
            state_machine_arn: "arn:m".into(),
            state_machine_name: "m".into(),
            role_arn: "arn:aws:iam::1:role/r".into(),
            test_case: None,
        }
    }

    /// Runs a machine without tasks to its end: the outcome, the history and
    /// the execution.
    fn run(def: Value, input: Value) -> (Outcome, Vec<HistoryEvent>, Execution) {
        let machine = Arc::new(parse_definition(&def.to_string()).unwrap());
        let mut execution = Execution::new(machine, test_info());
        let mut history: Vec<HistoryEvent> = Vec::new();
        let mut record = |execution: &mut Execution, scope: Scope, kind: EventKind| {
            let event =
                HistoryEvent { id: history.len() as u64 + 1, previous_event_id: history.len() as u64, timestamp_ms: 0, scope, kind };
            execution.apply(&event).unwrap();
            history.push(event);
        };
        record(&mut execution, Scope::root(), EventKind::ExecutionStarted { input: input.into() });
        loop {
            match execution.decide() {
                Decision::Record { scope, event } | Decision::RecordAt { scope, event, .. } => record(&mut execution, scope, event),
                Decision::Finished(outcome) => return (outcome, history, execution),
                other => panic!("no tasks here: {other:?}"),
            }
        }
    }

    fn failed(outcome: &Outcome) -> (&str, &str) {
        match outcome {
            Outcome::Failed { error, cause } => (error.as_str(), cause.as_str()),
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    /// A Pass state `Assign`ing `assign` (JSONPath) `times` times in a loop.
    fn looping(assign: Value, times: u32) -> Value {
        let mut assign = assign;
        assign["n.$"] = json!("States.MathAdd($n, 1)");
        json!({"StartAt": "Init", "States": {
            "Init": {"Type": "Pass", "Assign": {"n": 0}, "Next": "Loop"},
            "Loop": {"Type": "Pass", "Assign": assign, "Next": "Again"},
            "Again": {"Type": "Choice", "Choices": [{"Variable": "$n", "NumericGreaterThanEquals": times, "Next": "Done"}], "Default": "Loop"},
            "Done": {"Type": "Succeed"}
        }})
    }

    #[test]
    fn one_variable_is_capped_at_256_kib() {
        let def = json!({"StartAt": "Init", "States": {
            "Init": {"Type": "Pass", "Assign": {"x": ["abcdefghijklmnopqrstuvwxyz0123456789"]}, "Next": "Double"},
            "Double": {"Type": "Pass", "Assign": {"x.$": "States.Array($x, $x)"}, "Next": "Again"},
            "Again": {"Type": "Choice", "Choices": [{"Variable": "$x", "IsNull": true, "Next": "Never"}], "Default": "Double"},
            "Never": {"Type": "Succeed"}
        }});
        let (outcome, history, _) = run(def, json!({}));
        let (error, cause) = failed(&outcome);
        assert_eq!(error, "States.DataLimitExceeded");
        assert!(
            cause.contains("the variable \"x\" assigned by state \"Double\" is over the limit of 262144 bytes for one variable"),
            "{cause}"
        );
        // Every value recorded stayed under the limit.
        let largest = history
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::StateExited { assigned_variables: Some(vars), .. } => vars.get("x").map(stepwasm_asl::size::json_size),
                _ => None,
            })
            .max()
            .unwrap();
        assert!(largest <= 262_144 && largest > 262_144 / 2, "{largest}");
    }

    #[test]
    fn one_assign_is_capped_at_256_kib_and_just_under_works() {
        let big = |n: usize| json!({"a": "x".repeat(n), "b": "y".repeat(n)});
        // The input is not passed on (Result): only the Assign is over a limit.
        let def = json!({"StartAt": "S", "States": {"S": {"Type": "Pass", "Result": {},
            "Assign": {"a.$": "$$.Execution.Input.a", "b.$": "$$.Execution.Input.b"}, "End": true}}});
        // Each value is n + 2 bytes of JSON.
        let (outcome, _, execution) = run(def.clone(), big(131_072 - 2));
        assert!(matches!(outcome, Outcome::Succeeded { .. }), "{outcome:?}");
        assert_eq!(execution.variable_bytes(), 262_144);
        let (outcome, _, _) = run(def, big(131_072 - 1));
        let (error, cause) = failed(&outcome);
        assert_eq!(error, "States.DataLimitExceeded");
        assert!(cause.contains("are over the limit of 262144 bytes for one Assign"), "{cause}");
    }

    #[test]
    fn all_variables_of_an_execution_are_capped_at_10_mib_and_survive_replay() {
        let big = "x".repeat(200 * 1024);
        // Reassigning one variable replaces it: a hundred times 200 KiB is fine.
        let (outcome, _, execution) = run(looping(json!({"x.$": "$.big"}), 100), json!({"big": big}));
        assert!(matches!(outcome, Outcome::Succeeded { .. }), "{outcome:?}");
        assert_eq!(execution.variable_bytes(), 200 * 1024 + 2 + 3, "x and n (100)");
        // New names add up: 51 of them fit, the 52nd is over 10 MiB.
        let mut states = serde_json::Map::new();
        for i in 0..60 {
            let next = if i + 1 < 60 { json!({"Next": format!("S{}", i + 1)}) } else { json!({"End": true}) };
            let mut state = json!({"Type": "Pass", "Assign": {format!("v{i}.$"): "$.big"}});
            state.as_object_mut().unwrap().extend(next.as_object().unwrap().clone());
            states.insert(format!("S{i}"), state);
        }
        let def = json!({"StartAt": "S0", "States": states});
        let (outcome, history, execution) = run(def.clone(), json!({"big": big}));
        let (error, cause) = failed(&outcome);
        assert_eq!(error, "States.DataLimitExceeded");
        assert!(
            cause.contains("after state \"S51\" assigns, over the limit of 10485760 bytes for all of an execution's variables"),
            "{cause}"
        );
        assert_eq!(execution.variable_bytes(), 51 * (200 * 1024 + 2));
        // Replayed from its history, an execution counts the same.
        let mut replayed = Execution::new(Arc::new(parse_definition(&def.to_string()).unwrap()), execution.info().clone());
        for event in &history {
            replayed.apply(event).unwrap();
        }
        assert_eq!(replayed.variable_bytes(), execution.variable_bytes());
        drop(history);
    }

    #[test]
    fn a_branch_s_variables_count_while_it_runs_and_not_after() {
        let def = json!({"StartAt": "P", "States": {
            "P": {"Type": "Parallel", "ResultPath": null, "Next": "After", "Branches": [
                {"StartAt": "B", "States": {"B": {"Type": "Pass", "Assign": {"inner.$": "$.s"}, "Next": "C"},
                                             "C": {"Type": "Pass", "Assign": {"check.$": "$inner"}, "End": true}}}
            ]},
            "After": {"Type": "Pass", "Assign": {"outer.$": "$.s"}, "End": true}
        }});
        let (outcome, history, execution) = run(def, json!({"s": "abc"}));
        assert!(matches!(outcome, Outcome::Succeeded { .. }), "{outcome:?}");
        assert_eq!(execution.variable_bytes(), 5, "only outer is left");
        assert!(history.len() > 8);
    }

    #[test]
    fn deep_values_are_refused_before_they_are_recorded() {
        let def = json!({"StartAt": "Init", "States": {
            "Init": {"Type": "Pass", "Assign": {"x": 0}, "Next": "Wrap"},
            "Wrap": {"Type": "Pass", "Assign": {"x.$": "States.Array(States.Array($x))"}, "Next": "Again"},
            "Again": {"Type": "Choice", "Choices": [{"Variable": "$x", "IsNull": true, "Next": "Done"}], "Default": "Wrap"},
            "Done": {"Type": "Succeed"}
        }});
        let (outcome, _, _) = run(def, json!({}));
        let (error, cause) = failed(&outcome);
        assert_eq!(error, "States.DataLimitExceeded");
        assert!(cause.contains("nests deeper than the limit of 100 levels"), "{cause}");
    }

    /// Records `kind` in `scope` as the next event of `history` and applies it.
    fn record(execution: &mut Execution, history: &mut Vec<HistoryEvent>, scope: Scope, kind: EventKind) {
        let n = history.len() as u64;
        let event = HistoryEvent { id: n + 1, previous_event_id: n, timestamp_ms: 0, scope, kind };
        execution.apply(&event).unwrap();
        history.push(event);
    }

    /// Runs an execution on until it ends, each task answered by `answer`
    /// from its input (an Err fails it with that error); the inputs of the
    /// tasks invoked, in order.
    fn drive(
        execution: &mut Execution,
        history: &mut Vec<HistoryEvent>,
        answer: &dyn Fn(&Value) -> Result<Value, String>,
    ) -> (Outcome, Vec<Value>) {
        let mut calls = Vec::new();
        loop {
            match execution.decide() {
                Decision::Record { scope, event } | Decision::RecordAt { scope, event, .. } => record(execution, history, scope, event),
                Decision::Invoke { scope, task } => {
                    let resource = task.resource.clone();
                    record(execution, history, scope.clone(), EventKind::TaskStarted { resource: resource.clone() });
                    calls.push((*task.input).clone());
                    let outcome = match answer(&task.input) {
                        Ok(output) => EventKind::TaskSucceeded { resource, output: Arc::new(output) },
                        Err(error) => EventKind::TaskFailed { resource, error, cause: "broken".into() },
                    };
                    record(execution, history, scope, outcome);
                }
                Decision::Finished(outcome) => return (outcome, calls),
                other => panic!("no callbacks here: {other:?}"),
            }
        }
    }

    fn started(def: &Value, input: Value) -> (Execution, Vec<HistoryEvent>) {
        let machine = Arc::new(parse_definition(&def.to_string()).unwrap());
        let mut execution = Execution::new(machine, test_info());
        let mut history = Vec::new();
        record(&mut execution, &mut history, Scope::root(), EventKind::ExecutionStarted { input: input.into() });
        (execution, history)
    }

    fn redrive(execution: &mut Execution, history: &mut Vec<HistoryEvent>, count: u32) {
        record(execution, history, Scope::root(), EventKind::ExecutionRedriven { redrive_count: count });
    }

    /// The whole history folded into a new execution decides as `execution` does.
    fn assert_replays(def: &Value, execution: &Execution, history: &[HistoryEvent]) {
        let mut replayed = Execution::new(Arc::new(parse_definition(&def.to_string()).unwrap()), execution.info().clone());
        for event in history {
            replayed.apply(event).unwrap();
        }
        assert_eq!(replayed.decide(), execution.decide());
        assert_eq!(replayed.outcome(), execution.outcome());
    }

    /// A task that answers `{"done": <its input's id>}` unless its id is in `broken`.
    fn answer_unless(broken: &'static [&'static str]) -> impl Fn(&Value) -> Result<Value, String> {
        move |input| {
            let id = input["id"].as_str().unwrap_or_default().to_string();
            if broken.contains(&id.as_str()) {
                Err(format!("Broken.{id}"))
            } else {
                Ok(json!({"done": id}))
            }
        }
    }

    fn branch(id: &str) -> Value {
        let name = format!("Work {id}");
        json!({"StartAt": name, "States": {name: {"Type": "Task", "Resource": "work", "Parameters": {"id": id}, "End": true}}})
    }

    #[test]
    fn a_redriven_parallel_reruns_only_the_branch_that_failed() {
        let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true,
            "Branches": [branch("a"), branch("b"), branch("c")]}}});
        let (mut execution, mut history) = started(&def, json!({}));
        let (outcome, calls) = drive(&mut execution, &mut history, &answer_unless(&["b"]));
        assert_eq!(failed(&outcome).0, "Broken.b");
        assert_eq!(calls, [json!({"id": "a"}), json!({"id": "b"})], "branches run in order; the first failure ends the state");
        let redriven_at = history.len();
        redrive(&mut execution, &mut history, 1);
        let (outcome, calls) = drive(&mut execution, &mut history, &answer_unless(&[]));
        assert_eq!(calls, [json!({"id": "b"}), json!({"id": "c"})], "a, which succeeded, is not run again");
        assert_eq!(outcome, Outcome::Succeeded { output: json!([{"done": "a"}, {"done": "b"}, {"done": "c"}]) });
        // After the redrive: only the failed and unfinished branches' events,
        // then the Parallel state's end; the state is not entered again.
        let after: Vec<(Vec<u32>, &str)> = history[redriven_at + 1..].iter().map(|e| (e.scope.0.clone(), e.kind.type_name())).collect();
        assert!(after.iter().all(|(scope, _)| scope.first() != Some(&0)), "{after:?}");
        assert_eq!(after.first(), Some(&(vec![1], "TaskStateEntered")), "{after:?}");
        let top: Vec<&str> = after.iter().filter(|(scope, _)| scope.is_empty()).map(|(_, t)| *t).collect();
        assert_eq!(top, ["ParallelStateSucceeded", "ParallelStateExited", "ExecutionSucceeded"]);
        assert_replays(&def, &execution, &history);
    }

    #[test]
    fn a_redriven_map_reruns_only_the_iterations_that_failed_or_did_not_run() {
        let mut processor = branch("unused");
        processor["States"]["Work unused"]["Parameters"] = json!({"id.$": "$"});
        let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true, "ItemProcessor": processor}}});
        let items = json!(["i0", "i1", "i2", "i3", "i4"]);
        let (mut execution, mut history) = started(&def, items);
        let mut runs: Vec<Value> = Vec::new();
        // i1 and i3 fail: an inline Map tolerates no failure, so it fails
        // with i1's error (i2..i4, started with it, are stopped before their tasks run).
        let (outcome, calls) = drive(&mut execution, &mut history, &answer_unless(&["i1", "i3"]));
        assert_eq!(failed(&outcome).0, "Broken.i1");
        runs.extend(calls);
        // Redriven with i3 still broken: i1 runs again, i2 and i3 for the first time.
        redrive(&mut execution, &mut history, 1);
        let (outcome, calls) = drive(&mut execution, &mut history, &answer_unless(&["i3"]));
        assert_eq!(failed(&outcome).0, "Broken.i3");
        assert_eq!(calls, [json!({"id": "i1"}), json!({"id": "i2"}), json!({"id": "i3"})]);
        runs.extend(calls);
        assert_replays(&def, &execution, &history);
        // Redriven again: only i3 (failed) and i4 (never started).
        let redriven_at = history.len();
        redrive(&mut execution, &mut history, 2);
        let (outcome, calls) = drive(&mut execution, &mut history, &answer_unless(&[]));
        assert_eq!(calls, [json!({"id": "i3"}), json!({"id": "i4"})]);
        runs.extend(calls);
        let done: Vec<Value> = (0..5).map(|i| json!({"done": format!("i{i}")})).collect();
        assert_eq!(outcome, Outcome::Succeeded { output: Value::Array(done) }, "results in item order");
        let ids = |id: &str| runs.iter().filter(|r| r["id"] == id).count();
        assert_eq!((ids("i0"), ids("i1"), ids("i2"), ids("i3"), ids("i4")), (1, 2, 1, 2, 1), "no succeeded item ran again");
        let iterations: Vec<&str> = history[redriven_at..].iter().filter(|e| e.scope.is_root()).map(|e| e.kind.type_name()).collect();
        assert_eq!(
            iterations,
            [
                "ExecutionRedriven",
                // Both run at once: started together, then each ends.
                "MapIterationStarted",
                "MapIterationStarted",
                "MapIterationSucceeded",
                "MapIterationSucceeded",
                "MapStateSucceeded",
                "MapStateExited",
                "ExecutionSucceeded"
            ]
        );
        assert_replays(&def, &execution, &history);
    }

    #[test]
    fn a_map_whose_tolerated_failures_ran_out_reruns_only_those_failures() {
        let mut processor = branch("unused");
        processor["States"]["Work unused"]["Parameters"] = json!({"id.$": "$"});
        processor["ProcessorConfig"] = json!({"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"});
        let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true, "ToleratedFailureCount": 1,
            "ItemProcessor": processor}}});
        let (mut execution, mut history) = started(&def, json!(["i0", "i1", "i2", "i3", "i4"]));
        let (outcome, calls) = drive(&mut execution, &mut history, &answer_unless(&["i3", "i4"]));
        assert_eq!(failed(&outcome).0, "States.ExceedToleratedFailureThreshold");
        assert_eq!(calls.len(), 5);
        redrive(&mut execution, &mut history, 1);
        let (outcome, calls) = drive(&mut execution, &mut history, &answer_unless(&[]));
        assert_eq!(calls, [json!({"id": "i3"}), json!({"id": "i4"})]);
        let done: Vec<Value> = (0..5).map(|i| json!({"done": format!("i{i}")})).collect();
        assert_eq!(outcome, Outcome::Succeeded { output: Value::Array(done) });
        assert_replays(&def, &execution, &history);
    }

    #[test]
    fn a_failed_parallel_nested_in_a_branch_and_a_map_iteration_is_redriven_the_same_way() {
        let inner = json!({"StartAt": "Inner", "States": {"Inner": {"Type": "Parallel", "End": true,
            "Branches": [branch("y0"), branch("y1")]}}});
        let map = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true, "ItemsPath": "$.items", "ItemProcessor": inner}}});
        let def = json!({"StartAt": "Outer", "States": {"Outer": {"Type": "Parallel", "End": true,
            "Branches": [branch("x"), map]}}});
        let (mut execution, mut history) = started(&def, json!({"items": [1, 2]}));
        // The second iteration's y1 fails: x, y0, y1, y0, y1 ran.
        let broken_once = std::cell::Cell::new(0);
        let first = |input: &Value| {
            if input["id"] == "y1" {
                broken_once.set(broken_once.get() + 1);
                if broken_once.get() == 2 {
                    return Err("Broken.y1".to_string());
                }
            }
            answer_unless(&[])(input)
        };
        let (outcome, calls) = drive(&mut execution, &mut history, &first);
        assert_eq!(failed(&outcome).0, "Broken.y1");
        assert_eq!(calls.len(), 5);
        redrive(&mut execution, &mut history, 1);
        let (outcome, calls) = drive(&mut execution, &mut history, &answer_unless(&[]));
        assert_eq!(calls, [json!({"id": "y1"})], "only the failed task of the failed branch of the failed iteration");
        let pair = json!([{"done": "y0"}, {"done": "y1"}]);
        assert_eq!(outcome, Outcome::Succeeded { output: json!([{"done": "x"}, [pair, pair]]) });
        assert_replays(&def, &execution, &history);
    }

    #[test]
    fn a_parallel_stopped_while_its_branches_run_is_redriven_where_they_were() {
        let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true,
            "Branches": [branch("a"), branch("b")]}}});
        let (mut execution, mut history) = started(&def, json!({}));
        // a succeeds, then b's task is started when the execution is stopped.
        let answer = answer_unless(&[]);
        loop {
            match execution.decide() {
                Decision::Record { scope, event } => record(&mut execution, &mut history, scope, event),
                Decision::Invoke { scope, task } if task.input["id"] == "a" => {
                    record(&mut execution, &mut history, scope.clone(), EventKind::TaskStarted { resource: task.resource.clone() });
                    let output = Arc::new(answer(&task.input).unwrap());
                    record(&mut execution, &mut history, scope, EventKind::TaskSucceeded { resource: task.resource, output });
                }
                Decision::Invoke { scope, task } => {
                    record(&mut execution, &mut history, scope, EventKind::TaskStarted { resource: task.resource });
                    break;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        let stop = EventKind::ExecutionAborted { error: "Stopped".into(), cause: String::new() };
        record(&mut execution, &mut history, Scope::root(), stop);
        redrive(&mut execution, &mut history, 1);
        let (outcome, calls) = drive(&mut execution, &mut history, &answer);
        assert_eq!(calls, [json!({"id": "b"})]);
        assert_eq!(outcome, Outcome::Succeeded { output: json!([{"done": "a"}, {"done": "b"}]) });
        assert_replays(&def, &execution, &history);
    }
}
