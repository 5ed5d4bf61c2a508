//! One execution as a pure state machine over its history.
//!
//! [`Execution::apply`] folds one recorded event into the state;
//! [`Execution::decide`] looks at the state and says what must happen next:
//! record an event the engine computed itself (a state entered or exited, the
//! execution finished), record one no earlier than some instant (a retry's
//! backoff), or invoke a task whose outcome the caller records. Nothing here
//! sleeps, calls a module or touches a disk, so replaying a stored history
//! rebuilds exactly the state a crash interrupted.

use super::dataflow;
use super::history::{rfc3339, EventKind, HistoryEvent, StateType};
use super::{Failure, TaskInvocation};
use crate::asl::errors;
use crate::asl::{Catcher, Jitter, Retrier, State, StateKind, StateMachine, Transition, WaitFor};
use serde_json::{json, Value};
use std::sync::Arc;

/// Names that identify an execution (AWS-style ARNs and its short name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionInfo {
    pub execution_arn: String,
    pub name: String,
    pub state_machine_arn: String,
    pub state_machine_name: String,
}

/// How an execution ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Succeeded { output: Value },
    Failed { error: String, cause: String },
    /// Ran past the top-level `TimeoutSeconds` (AWS's TIMED_OUT status).
    TimedOut { error: String, cause: String },
}

/// What the caller must do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Record this event now (then apply it).
    Record(EventKind),
    /// Record this event once the clock reaches `not_before_ms` (a retry backoff).
    RecordAt { event: EventKind, not_before_ms: i64 },
    /// Record `TaskStarted`, run the task, record its outcome.
    Invoke(TaskInvocation),
    /// The execution has ended.
    Finished(Outcome),
}

/// A history event that does not fit the execution's state: the history is
/// corrupt or belongs to another definition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event {id} ({event}) cannot be applied: {reason}")]
pub struct ReplayError {
    pub id: u64,
    pub event: &'static str,
    pub reason: String,
}

#[derive(Debug, Clone)]
enum Step {
    Entered,
    Scheduled { input: Value },
    Started { input: Value },
    Succeeded { result: Value },
    Failed { failure: Failure, retrier: Option<usize>, failed_ms: i64 },
    /// `catch_next` is set when a Catch sent the state on: the exit then
    /// leads to the catcher's `Next`, not to the state's own transition.
    Exited { output: Value, catch_next: Option<String> },
}

/// Where the execution is inside its current state.
#[derive(Debug, Clone)]
struct Cursor {
    state: String,
    input: Value,
    entered_ms: i64,
    /// One counter per retrier of the state.
    retries: Vec<u32>,
    attempt: u32,
    /// The task's timeout as resolved when it was scheduled.
    timeout_seconds: Option<u64>,
    step: Step,
}

/// An execution's state, rebuilt from its history.
#[derive(Debug, Clone)]
pub struct Execution {
    machine: Arc<StateMachine>,
    info: ExecutionInfo,
    input: Option<Value>,
    start_ms: i64,
    /// Timestamp of the last applied event: the engine's notion of "now".
    last_event_ms: i64,
    cursor: Option<Cursor>,
    outcome: Option<Outcome>,
}

impl Execution {
    /// A new execution; nothing has happened until `ExecutionStarted` is applied.
    pub fn new(machine: Arc<StateMachine>, info: ExecutionInfo) -> Execution {
        Execution { machine, info, input: None, start_ms: 0, last_event_ms: 0, cursor: None, outcome: None }
    }

    pub fn info(&self) -> &ExecutionInfo {
        &self.info
    }

    /// The outcome, once `ExecutionSucceeded`/`ExecutionFailed` has been applied.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    fn state(&self, name: &str) -> &State {
        // Parsing guarantees every transition target exists; a replayed event
        // naming an unknown state is rejected in `apply` before we get here.
        self.machine.state(name).expect("validated definition")
    }

    /// Folds one recorded event into the state.
    pub fn apply(&mut self, event: &HistoryEvent) -> Result<(), ReplayError> {
        let bad = |reason: &str| ReplayError { id: event.id, event: event.kind.type_name(), reason: reason.to_string() };
        if self.outcome.is_some() {
            return Err(bad("the execution has already ended"));
        }
        self.last_event_ms = self.last_event_ms.max(event.timestamp_ms);
        match &event.kind {
            EventKind::ExecutionStarted { input } => {
                if self.input.is_some() {
                    return Err(bad("the execution has already started"));
                }
                self.input = Some(input.clone());
                self.start_ms = event.timestamp_ms;
            }
            _ if self.input.is_none() => return Err(bad("the execution has not started")),
            EventKind::ExecutionSucceeded { output } => self.outcome = Some(Outcome::Succeeded { output: output.clone() }),
            EventKind::ExecutionFailed { error, cause } => {
                self.outcome = Some(Outcome::Failed { error: error.clone(), cause: cause.clone() })
            }
            EventKind::ExecutionTimedOut { error, cause } => {
                self.outcome = Some(Outcome::TimedOut { error: error.clone(), cause: cause.clone() })
            }
            EventKind::StateEntered { name, input, .. } => {
                let state = self.machine.state(name).ok_or_else(|| bad(&format!("no state named {name:?}")))?;
                let retriers = match &state.kind {
                    StateKind::Task(t) => t.retry.len(),
                    _ => 0,
                };
                self.cursor = Some(Cursor {
                    state: name.clone(),
                    input: input.clone(),
                    entered_ms: event.timestamp_ms,
                    retries: vec![0; retriers],
                    attempt: 0,
                    timeout_seconds: None,
                    step: Step::Entered,
                });
            }
            EventKind::StateExited { output, .. } => {
                let machine = Arc::clone(&self.machine);
                let cursor = self.cursor.as_mut().ok_or_else(|| bad("no state has been entered"))?;
                // Leaving a failed task can only mean a catcher took it.
                let catch_next = match (&cursor.step, machine.state(&cursor.state).map(|s| &s.kind)) {
                    (Step::Failed { failure, .. }, Some(StateKind::Task(task))) => {
                        let catcher = task.catch.iter().find(|c| errors::matches(&c.error_equals, &failure.error));
                        Some(catcher.ok_or_else(|| bad("no catcher handles the task's error"))?.next.clone())
                    }
                    _ => None,
                };
                cursor.step = Step::Exited { output: output.clone(), catch_next };
            }
            EventKind::TaskScheduled { parameters, timeout_seconds, .. } => {
                let cursor = self.cursor.as_mut().ok_or_else(|| bad("no state has been entered"))?;
                match &cursor.step {
                    Step::Entered => {}
                    Step::Failed { retrier: Some(i), .. } => cursor.retries[*i] += 1,
                    _ => return Err(bad("a task is scheduled only on entering a state or to retry it")),
                }
                cursor.attempt += 1;
                cursor.timeout_seconds = *timeout_seconds;
                cursor.step = Step::Scheduled { input: parameters.clone() };
            }
            EventKind::TaskStarted { .. } => {
                let cursor = self.cursor.as_mut().ok_or_else(|| bad("no state has been entered"))?;
                cursor.step = match &cursor.step {
                    Step::Scheduled { input } | Step::Started { input } => Step::Started { input: input.clone() },
                    _ => return Err(bad("no task is scheduled")),
                };
            }
            EventKind::TaskSucceeded { output, .. } => {
                let cursor = self.cursor.as_mut().ok_or_else(|| bad("no state has been entered"))?;
                if !matches!(cursor.step, Step::Started { .. }) {
                    return Err(bad("no task has started"));
                }
                cursor.step = Step::Succeeded { result: output.clone() };
            }
            EventKind::TaskFailed { error, cause, .. } | EventKind::TaskTimedOut { error, cause, .. } => {
                let machine = Arc::clone(&self.machine);
                let cursor = self.cursor.as_mut().ok_or_else(|| bad("no state has been entered"))?;
                if !matches!(cursor.step, Step::Started { .. }) {
                    return Err(bad("no task has started"));
                }
                let retrier = match &machine.state(&cursor.state).map(|s| &s.kind) {
                    Some(StateKind::Task(t)) => t.retry.iter().position(|r| errors::matches(&r.error_equals, error)),
                    _ => None,
                };
                cursor.step = Step::Failed {
                    failure: Failure::new(error, cause.clone()),
                    retrier,
                    failed_ms: event.timestamp_ms,
                };
            }
        }
        Ok(())
    }

    /// When the top-level `TimeoutSeconds` runs out, if it is set.
    fn deadline_ms(&self) -> Option<i64> {
        self.machine.timeout_seconds.map(|s| self.start_ms.saturating_add(s.saturating_mul(1000).min(i64::MAX as u64) as i64))
    }

    fn timed_out(&self) -> EventKind {
        let seconds = self.machine.timeout_seconds.unwrap_or_default();
        EventKind::ExecutionTimedOut {
            error: errors::TIMEOUT.into(),
            cause: format!("the execution ran longer than its TimeoutSeconds of {seconds}"),
        }
    }

    /// What must happen next. Pure: the same state always gives the same decision.
    ///
    /// The top-level `TimeoutSeconds` bounds everything: past the deadline the
    /// execution times out, no wait is planned beyond it, and a task may run
    /// only for the time that is left.
    pub fn decide(&self) -> Decision {
        let decision = self.decide_step();
        let Some(deadline) = self.deadline_ms() else { return decision };
        if matches!(decision, Decision::Finished(_)) {
            return decision;
        }
        if self.last_event_ms >= deadline {
            return Decision::Record(self.timed_out());
        }
        match decision {
            Decision::RecordAt { not_before_ms, .. } if not_before_ms > deadline => {
                Decision::RecordAt { event: self.timed_out(), not_before_ms: deadline }
            }
            Decision::Invoke(mut task) => {
                let left = ((deadline - self.last_event_ms) as u64).div_ceil(1000).max(1);
                task.timeout_seconds = Some(task.timeout_seconds.map_or(left, |t| t.min(left)));
                Decision::Invoke(task)
            }
            other => other,
        }
    }

    fn decide_step(&self) -> Decision {
        if let Some(outcome) = &self.outcome {
            return Decision::Finished(outcome.clone());
        }
        let Some(input) = &self.input else {
            // Callers apply ExecutionStarted first; say so rather than guess.
            return Decision::Finished(Outcome::Failed {
                error: errors::RUNTIME.into(),
                cause: "the execution was never started".into(),
            });
        };
        let Some(cursor) = &self.cursor else {
            return Decision::Record(self.enter(&self.machine.start_at, input.clone()));
        };
        let state = self.state(&cursor.state);
        match (&state.kind, &cursor.step) {
            (_, Step::Exited { output, catch_next: Some(next) }) => Decision::Record(self.enter(next, output.clone())),
            (_, Step::Exited { output, catch_next: None }) => self.transition(state, cursor, output.clone()),
            (StateKind::Task(task), Step::Entered) => {
                let scheduled = dataflow::effective_input(&task.io, &cursor.input, &self.context_for(&task.io, cursor))
                    .and_then(|parameters| {
                        let timeout_seconds = match &task.timeout_seconds_path {
                            Some(path) => Some(positive_integer_at(path, &cursor.input, "TimeoutSecondsPath")?),
                            None => task.timeout_seconds,
                        };
                        Ok(EventKind::TaskScheduled { resource: task.resource.clone(), parameters, timeout_seconds })
                    });
                match scheduled {
                    Ok(event) => Decision::Record(event),
                    Err(failure) => self.handle_failure(state, cursor, failure),
                }
            }
            (StateKind::Task(task), Step::Scheduled { input } | Step::Started { input }) => {
                Decision::Invoke(TaskInvocation {
                    resource: task.resource.clone(),
                    input: input.clone(),
                    execution_id: self.info.execution_arn.clone(),
                    state_name: cursor.state.clone(),
                    attempt: cursor.attempt,
                    timeout_seconds: cursor.timeout_seconds,
                })
            }
            (StateKind::Task(task), Step::Succeeded { result }) => {
                match dataflow::process_result(&task.io, &cursor.input, result.clone(), &self.context_for(&task.io, cursor)) {
                    Ok(output) => Decision::Record(self.exit(state, output)),
                    Err(failure) => self.handle_failure(state, cursor, failure),
                }
            }
            (StateKind::Task(task), Step::Failed { failure, retrier, failed_ms, .. }) => {
                if let Some(i) = *retrier {
                    let r = &task.retry[i];
                    if cursor.retries[i] < r.max_attempts {
                        let delay = retry_delay_ms(r, cursor.retries[i], &self.info.execution_arn, &cursor.state, cursor.attempt);
                        // Parameters are evaluated again for each attempt, so
                        // `$$.State.RetryCount` shows the retry being made.
                        let retry_count = cursor.retries.iter().sum::<u32>() + 1;
                        let context = if dataflow::uses_context(&task.io) { self.context(cursor, retry_count) } else { Value::Null };
                        return match dataflow::effective_input(&task.io, &cursor.input, &context) {
                            Ok(parameters) => Decision::RecordAt {
                                event: EventKind::TaskScheduled {
                                    resource: task.resource.clone(),
                                    parameters,
                                    timeout_seconds: cursor.timeout_seconds,
                                },
                                not_before_ms: failed_ms + delay,
                            },
                            Err(failure) => self.catch(&task.catch, cursor, failure),
                        };
                    }
                }
                // A caught task failure exits the state (TaskStateExited, as on
                // AWS) with the catcher's ResultPath applied; the exit leads to
                // the catcher's Next.
                match task.catch.iter().find(|c| errors::matches(&c.error_equals, &failure.error)) {
                    Some(catcher) => match self.caught_input(catcher, cursor, failure) {
                        Ok(output) => Decision::Record(self.exit(state, output)),
                        Err(result_path_failure) => self.fail_execution(result_path_failure),
                    },
                    None => self.fail_execution(failure.clone()),
                }
            }
            (StateKind::Pass(pass), Step::Entered) => {
                let context = self.context_for(&pass.io, cursor);
                let result = dataflow::effective_input(&pass.io, &cursor.input, &context).and_then(|effective| {
                    let result = pass.result.clone().unwrap_or(effective);
                    let placed = dataflow::place_result(&pass.io.result_path, &cursor.input, result)?;
                    dataflow::output(&pass.io, &placed, &context)
                });
                match result {
                    Ok(output) => Decision::Record(self.exit(state, output)),
                    Err(failure) => self.handle_failure(state, cursor, failure),
                }
            }
            (StateKind::Choice(choice), Step::Entered) => {
                let context = self.context_for(&choice.io, cursor);
                let decided = dataflow::effective_input(&choice.io, &cursor.input, &context)
                    .and_then(|effective| self.choose(state, &effective).map(|_| effective))
                    .and_then(|effective| dataflow::output(&choice.io, &effective, &context));
                match decided {
                    Ok(output) => Decision::Record(self.exit(state, output)),
                    Err(failure) => self.handle_failure(state, cursor, failure),
                }
            }
            (StateKind::Succeed(succeed), Step::Entered) => {
                let context = self.context_for(&succeed.io, cursor);
                match dataflow::effective_input(&succeed.io, &cursor.input, &context)
                    .and_then(|effective| dataflow::output(&succeed.io, &effective, &context))
                {
                    Ok(output) => Decision::Record(self.exit(state, output)),
                    Err(failure) => self.handle_failure(state, cursor, failure),
                }
            }
            (StateKind::Fail(fail), Step::Entered) => {
                let context = if fail.error_path.iter().chain(&fail.cause_path).any(|t| t.uses_context()) {
                    self.context(cursor, 0)
                } else {
                    Value::Null
                };
                // ErrorPath/CausePath: a reference path or an intrinsic, on the state's input.
                let field = |fixed: &Option<String>, dynamic: &Option<crate::asl::template::Template>, name: &str| match dynamic {
                    None => Ok(fixed.clone().unwrap_or_default()),
                    Some(t) => match t.render(&cursor.input, &context) {
                        Ok(Value::String(s)) => Ok(s),
                        Ok(other) => Err(Failure::new(errors::RUNTIME, format!("{name} must give a string, got {other}"))),
                        Err(_) if matches!(t, crate::asl::template::Template::Path(_)) => {
                            Err(Failure::new(errors::RUNTIME, format!("{name} selects nothing in the state's input")))
                        }
                        Err(e) => Err(Failure::new(e.error, format!("{name}: {}", e.cause))),
                    },
                };
                match (field(&fail.error, &fail.error_path, "ErrorPath"), field(&fail.cause, &fail.cause_path, "CausePath")) {
                    (Ok(error), Ok(cause)) => Decision::Record(EventKind::ExecutionFailed { error, cause }),
                    (Err(failure), _) | (_, Err(failure)) => self.fail_execution(failure),
                }
            }
            (StateKind::Wait(wait), Step::Entered) => {
                let context = self.context_for(&wait.io, cursor);
                let planned = dataflow::effective_input(&wait.io, &cursor.input, &context).and_then(|effective| {
                    let until = wait_until(&wait.wait, &effective, cursor.entered_ms)?;
                    Ok((dataflow::output(&wait.io, &effective, &context)?, until))
                });
                match planned {
                    Ok((output, until)) => Decision::RecordAt { event: self.exit(state, output), not_before_ms: until },
                    Err(failure) => self.fail_execution(failure),
                }
            }
            // Only a history that does not belong to this definition gets here;
            // end the execution with a recorded, explained failure.
            (_, step) => self.fail_execution(Failure::new(
                errors::RUNTIME,
                format!("state {:?} of type {} cannot be in step {step:?}", cursor.state, state.type_name()),
            )),
        }
    }

    fn enter(&self, name: &str, input: Value) -> EventKind {
        EventKind::StateEntered { state_type: StateType::of(self.state(name)), name: name.to_string(), input }
    }

    fn exit(&self, state: &State, output: Value) -> EventKind {
        EventKind::StateExited { state_type: StateType::of(state), name: state.name.clone(), output }
    }

    /// After a state exits: enter the next one, or end the execution.
    fn transition(&self, state: &State, cursor: &Cursor, output: Value) -> Decision {
        let next = match &state.kind {
            StateKind::Task(t) => t.transition.clone(),
            StateKind::Pass(p) => p.transition.clone(),
            StateKind::Wait(w) => w.transition.clone(),
            StateKind::Succeed(_) | StateKind::Fail(_) => Transition::End,
            // The choice was made (and succeeded) before the exit was recorded;
            // evaluating it again on the same input gives the same answer.
            StateKind::Choice(choice) => {
                let context = self.context_for(&choice.io, cursor);
                match dataflow::effective_input(&choice.io, &cursor.input, &context).and_then(|e| self.choose(state, &e)) {
                    Ok(next) => Transition::Next(next),
                    Err(failure) => return self.fail_execution(failure),
                }
            }
        };
        match next {
            Transition::Next(name) => Decision::Record(self.enter(&name, output)),
            Transition::End => Decision::Record(EventKind::ExecutionSucceeded { output }),
        }
    }

    /// The Choice state's target for `input`, or `States.NoChoiceMatched`.
    fn choose(&self, state: &State, input: &Value) -> Result<String, Failure> {
        let StateKind::Choice(choice) = &state.kind else { unreachable!("choose is only called for Choice states") };
        for rule in &choice.choices {
            match rule.condition.evaluate(input) {
                Ok(true) => return Ok(rule.next.clone()),
                Ok(false) => {}
                Err(e) => return Err(Failure::new(errors::RUNTIME, e.0)),
            }
        }
        choice.default.clone().ok_or_else(|| {
            Failure::new(errors::NO_CHOICE_MATCHED, format!("no choice rule matched and state {:?} has no Default", state.name))
        })
    }

    /// A failure that is not a task outcome (data processing): only Catch applies.
    fn handle_failure(&self, state: &State, cursor: &Cursor, failure: Failure) -> Decision {
        match &state.kind {
            StateKind::Task(task) => self.catch(&task.catch, cursor, failure),
            _ => self.fail_execution(failure),
        }
    }

    /// A data-processing failure caught before or after the task ran: the
    /// catcher's state is entered directly.
    fn catch(&self, catchers: &[Catcher], cursor: &Cursor, failure: Failure) -> Decision {
        let Some(catcher) = catchers.iter().find(|c| errors::matches(&c.error_equals, &failure.error)) else {
            return self.fail_execution(failure);
        };
        match self.caught_input(catcher, cursor, &failure) {
            Ok(input) => Decision::Record(self.enter(&catcher.next, input)),
            Err(result_path_failure) => self.fail_execution(result_path_failure),
        }
    }

    /// The input the catcher's `Next` receives: the `{Error, Cause}` error
    /// output placed by the catcher's ResultPath.
    fn caught_input(&self, catcher: &Catcher, cursor: &Cursor, failure: &Failure) -> Result<Value, Failure> {
        let error_output = json!({"Error": failure.error, "Cause": failure.cause});
        dataflow::place_result(&catcher.result_path, &cursor.input, error_output)
    }

    fn fail_execution(&self, failure: Failure) -> Decision {
        Decision::Record(EventKind::ExecutionFailed { error: failure.error, cause: failure.cause })
    }

    fn context_for(&self, io: &crate::asl::IoSettings, cursor: &Cursor) -> Value {
        if dataflow::uses_context(io) {
            self.context(cursor, cursor.retries.iter().sum())
        } else {
            Value::Null
        }
    }

    /// The context object (`$$`) for the current state and attempt.
    fn context(&self, cursor: &Cursor, retry_count: u32) -> Value {
        json!({
            "Execution": {
                "Id": self.info.execution_arn,
                "Input": self.input,
                "Name": self.info.name,
                "StartTime": rfc3339(self.start_ms),
            },
            "State": {
                "EnteredTime": rfc3339(cursor.entered_ms),
                "Name": cursor.state,
                "RetryCount": retry_count,
            },
            "StateMachine": {"Id": self.info.state_machine_arn, "Name": self.info.state_machine_name},
        })
    }
}

/// A positive integer read from the state's input (`TimeoutSecondsPath` and the like).
fn positive_integer_at(path: &crate::asl::path::Path, input: &Value, field: &str) -> Result<u64, Failure> {
    match path.select(input).as_ref().and_then(Value::as_u64) {
        Some(n) if n > 0 => Ok(n),
        _ => Err(Failure::new(errors::RUNTIME, format!("{field} '{path}' must select a positive integer in the state's input"))),
    }
}

/// When a Wait state entered at `entered_ms` ends, given its effective input.
fn wait_until(wait: &WaitFor, input: &Value, entered_ms: i64) -> Result<i64, Failure> {
    let runtime = |msg: String| Failure::new(errors::RUNTIME, msg);
    let seconds_ms = |s: u64| entered_ms.saturating_add(s.saturating_mul(1000).min(i64::MAX as u64) as i64);
    match wait {
        WaitFor::Seconds(s) => Ok(seconds_ms(*s)),
        WaitFor::Timestamp(ms) => Ok(*ms),
        WaitFor::SecondsPath(path) => match path.select(input).as_ref().and_then(Value::as_u64) {
            Some(s) => Ok(seconds_ms(s)),
            None => Err(runtime(format!("SecondsPath '{path}' must select a non-negative integer in the state's input"))),
        },
        WaitFor::TimestampPath(path) => {
            match path.select(input).as_ref().and_then(Value::as_str).and_then(crate::asl::choice::parse_timestamp) {
                Some(t) => Ok(t.timestamp_millis()),
                None => Err(runtime(format!("TimestampPath '{path}' must select an RFC 3339 timestamp in the state's input"))),
            }
        }
    }
}

/// Backoff before retry number `retries_so_far + 1` of `retrier`:
/// `IntervalSeconds × BackoffRate^retries_so_far`, capped by `MaxDelaySeconds`;
/// with `JitterStrategy: FULL` a deterministic fraction of that (derived from
/// the execution, state and attempt, so a replay waits the same).
pub fn retry_delay_ms(retrier: &Retrier, retries_so_far: u32, execution: &str, state: &str, attempt: u32) -> i64 {
    let mut delay = retrier.interval_seconds as f64 * retrier.backoff_rate.powi(retries_so_far as i32);
    if let Some(max) = retrier.max_delay_seconds {
        delay = delay.min(max as f64);
    }
    let mut ms = (delay * 1000.0).min(i64::MAX as f64 / 2.0) as i64;
    if retrier.jitter == Jitter::Full {
        let seed = format!("{execution}\u{0}{state}\u{0}{attempt}");
        let h = seed.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3));
        ms = (ms as f64 * ((h >> 11) as f64 / (1u64 << 53) as f64)) as i64;
    }
    ms
}
