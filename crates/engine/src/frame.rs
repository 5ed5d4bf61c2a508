//! One graph being run: the top level of an execution, a Parallel branch or a
//! Map iteration. A frame folds the events of its own scope into a cursor
//! (which state, which step of it) and decides what its graph needs next;
//! events of deeper scopes go to the children of its running Parallel or Map
//! state ([`super::fanout`]).
//!
//! Task, Parallel and Map share one life cycle: scheduled (`TaskScheduled`,
//! `ParallelStateStarted`, `MapStateStarted`), then succeeded or failed, then
//! Retry, Catch and result processing alike.
//!
//! What the decisions rely on lives beside this file: retry matching and
//! backoff in [`super::retry`], wait arithmetic in [`super::wait`], the
//! context object in [`super::context_object`], data limits in
//! [`super::data_limits`] and I/O processing in [`super::dataflow`].

use super::context_object::{self, StatePosition};
use super::data_limits;
use super::dataflow::{self, io_settings};
use super::fanout::{self, Fanout, Focus};
use super::history::{ErrorCause, EventKind, HistoryEvent, Payload, Scope, StateType};
use super::retry::{handles, retrier_for, retry_delay_ms};
use super::wait::{after_seconds, seconds_setting, wait_until};
use super::{map_run, task_token, Callback, ExecutionInfo, Failure, TaskInvocation};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use stepwasm_asl::errors;
use stepwasm_asl::path::Bindings;
use stepwasm_asl::size;
use stepwasm_asl::template::Template;
use stepwasm_asl::{is_activity, Graph, ResultPathSetting, State, StateKind, Transition};

/// Workflow variables of one scope.
pub(super) type Variables = Map<String, Value>;

/// What a frame sees of the execution around it.
pub(super) struct Env<'a> {
    pub info: &'a ExecutionInfo,
    pub input: &'a Value,
    pub start_ms: i64,
    /// The variables of the enclosing frames, outermost first.
    pub variables: Vec<&'a Variables>,
    /// The JSON bytes of every variable the execution holds now (all its
    /// live frames'), for the per-execution cap.
    pub variable_bytes: usize,
    /// The most Map iterations one Map state runs at once when its
    /// `MaxConcurrency` is 0 or absent (or larger): the host's cap.
    pub max_children: usize,
    /// The host runs a `DISTRIBUTED` Map as a map run of child executions
    /// (else its iterations run here, like an inline Map's).
    pub map_runs: bool,
}

impl<'a> Env<'a> {
    /// The environment of a child frame: this one plus `inner`'s variables,
    /// or none of them (a distributed Map's children cannot read outer variables).
    pub fn inner<'b>(&'b self, inner: &'b Variables, sees_outer: bool) -> Env<'b> {
        let mut variables: Vec<&'b Variables> = if sees_outer { self.variables.clone() } else { Vec::new() };
        if sees_outer {
            variables.push(inner);
        }
        Env {
            info: self.info,
            input: self.input,
            start_ms: self.start_ms,
            variables,
            variable_bytes: self.variable_bytes,
            max_children: self.max_children,
            map_runs: self.map_runs,
        }
    }
}

/// What a frame needs next.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Next {
    Record {
        scope: Scope,
        event: EventKind,
    },
    RecordAt {
        scope: Scope,
        event: EventKind,
        not_before_ms: i64,
        /// When the wait began: a Wait state's entry, a retry's failure.
        since_ms: i64,
    },
    Invoke {
        scope: Scope,
        task: TaskInvocation,
    },
    AwaitCallback {
        scope: Scope,
        callback: Callback,
    },
    /// Nothing at this frame's own level: its running Parallel or Map
    /// state's children are busy (their actions are given apart).
    Busy,
    /// The graph has ended: its output, or the error that ended it.
    Done(Result<Payload, Failure>),
}

#[derive(Debug, Clone)]
enum Step {
    Entered,
    Scheduled {
        input: Payload,
    },
    Started {
        input: Payload,
    },
    /// A `.waitForTaskToken` task's module has run; its token is awaited.
    Submitted,
    /// A redrive found this Distributed Map state's map run unfinished:
    /// `MapRunRedriven` is recorded next, and the same map run runs again.
    RedrivingMapRun,
    /// A Parallel or Map state's children are running.
    Running(Box<Fanout>),
    /// A sibling branch's failure stopped this branch in this state
    /// (`…StateAborted`): nothing more happens in the frame.
    Aborted,
    Succeeded {
        result: Payload,
    },
    Failed {
        failure: Failure,
        retrier: Option<usize>,
        failed_ms: i64,
        /// A Parallel or Map state's children as they were when they
        /// failed it: what a redrive keeps of them.
        children: Option<Box<Fanout>>,
    },
    /// `next` is set when the exit does not follow the state's own
    /// transition: a catcher's `Next`, or the Choice rule taken.
    Exited {
        output: Payload,
        next: Option<String>,
    },
}

/// Where the frame is inside its current state.
#[derive(Debug, Clone)]
struct Cursor {
    state: String,
    /// The state's position in its graph: found without hashing its name.
    state_index: usize,
    input: Payload,
    /// The id of the `…StateEntered` event (a task token names it).
    entered_id: u64,
    entered_ms: i64,
    /// One counter per retrier of the state.
    retries: Vec<u32>,
    attempt: u32,
    /// How many times the execution had scheduled this Task state's task
    /// before the current attempt ([`TaskInvocation::invocation`]).
    invocation: u32,
    /// The task's timeout and heartbeat as resolved when it was scheduled.
    timeout_seconds: Option<u64>,
    heartbeat_seconds: Option<u64>,
    /// When the current attempt's `TaskStarted` was recorded (an
    /// activity's: its `TaskScheduled`).
    started_ms: i64,
    /// The time of the latest event in this state or its children: when
    /// children fail, a retry's backoff counts from here.
    latest_ms: i64,
    /// The request of the map run this state's latest attempt started
    /// (`MapRunStarted`), and how many times it was redriven: a redrive of
    /// the execution runs that map run again rather than a new one.
    map_run: Option<(Payload, u32)>,
    step: Step,
}

#[derive(Debug, Clone)]
pub(super) struct Frame {
    graph: Arc<Graph>,
    input: Payload,
    cursor: Option<Cursor>,
    /// This frame's workflow variables (its scope).
    pub variables: Variables,
    /// The JSON size of each of them, and their sum.
    variable_sizes: HashMap<String, usize>,
    own_variable_bytes: usize,
    /// `own_variable_bytes` plus that of every live frame below this one,
    /// kept up to date by `apply`: a fold over the events, so a replay
    /// gives the same count.
    variable_bytes: usize,
    /// The frame's input was checked against the data limits where it was
    /// recorded (a branch's input, a Map item); the top level's was not.
    input_checked: bool,
}

impl Frame {
    /// The top level's frame.
    pub fn new(graph: Arc<Graph>, input: Payload) -> Frame {
        Frame {
            graph,
            input,
            cursor: None,
            variables: Map::new(),
            variable_sizes: HashMap::new(),
            own_variable_bytes: 0,
            variable_bytes: 0,
            input_checked: false,
        }
    }

    /// A Parallel branch's or Map iteration's frame, whose input was
    /// checked against the data limits where it was recorded.
    pub fn child(graph: Arc<Graph>, input: Payload) -> Frame {
        Frame { input_checked: true, ..Frame::new(graph, input) }
    }

    /// The state `cursor` is in (its index was found in this graph).
    fn current(&self, cursor: &Cursor) -> &State {
        &self.graph.states[cursor.state_index]
    }

    fn state(&self, name: &str) -> &State {
        // Parsing guarantees every transition target exists; a replayed event
        // naming an unknown state is rejected in `apply` before we get here.
        self.graph.state(name).expect("validated definition")
    }

    /// After the execution ended unsuccessfully: the state it ended in (the
    /// one that failed, or the one running when it timed out or was stopped)
    /// is entered again with the input it had, its retry counts new. A
    /// Parallel or Map state whose children failed or were running is not
    /// entered again: its children are redriven in place ([`Fanout::redrive`]:
    /// the ones that succeeded keep their output, the others go on from where
    /// they ended, so nested states are redriven the same way) and its retry
    /// counts are new. An execution stopped between two states goes on to
    /// the next one; a graph that has ended successfully is left as it is.
    pub fn redrive(&mut self) {
        let Some(cursor) = self.cursor.as_mut() else { return };
        let step = std::mem::replace(&mut cursor.step, Step::Entered);
        cursor.step = match step {
            Step::Exited { .. } => step,
            Step::Running(mut children) | Step::Failed { children: Some(mut children), .. } => {
                children.redrive();
                cursor.retries.iter_mut().for_each(|r| *r = 0);
                Step::Running(children)
            }
            // A map run that failed or was stopped runs again: its children
            // that succeeded are kept (AWS's Map Run redrive).
            _ if cursor.map_run.is_some() => {
                cursor.retries.iter_mut().for_each(|r| *r = 0);
                Step::RedrivingMapRun
            }
            _ => Step::Exited { output: Arc::clone(&cursor.input), next: Some(cursor.state.clone()) },
        };
        // Children running again hold their variables again.
        self.variable_bytes = self.own_variable_bytes.saturating_add(self.children_variable_bytes());
    }

    /// Folds one event into this frame (`path` empty) or into the child the
    /// path leads to. Err says why the event does not fit.
    pub fn apply(&mut self, path: &[u32], event: &HistoryEvent) -> Result<(), String> {
        // Children may assign variables, start or end. Only the child the
        // event is about can change: its difference is taken, so that an
        // event costs the same with 1,000 iterations running as with one.
        let child = match (path.first(), &event.kind) {
            (Some(&index), _) => Some(index),
            (
                None,
                EventKind::MapIterationStarted { index, .. }
                | EventKind::MapIterationSucceeded { index, .. }
                | EventKind::MapIterationFailed { index, .. }
                | EventKind::MapIterationAborted { index, .. },
            ) => Some(*index),
            _ => None,
        };
        let before = child.map_or(0, |index| self.child_variable_bytes(index));
        let applied = self.apply_event(path, event);
        let children = match child {
            Some(index) => {
                let after = self.child_variable_bytes(index);
                self.variable_bytes.saturating_sub(self.own_variable_bytes).saturating_sub(before).saturating_add(after)
            }
            None => self.children_variable_bytes(),
        };
        self.variable_bytes = self.own_variable_bytes.saturating_add(children);
        applied
    }

    /// The variable bytes of running child `index` (0 when there is none).
    fn child_variable_bytes(&self, index: u32) -> usize {
        match &self.cursor {
            Some(Cursor { step: Step::Running(fanout), .. }) => fanout.child(index).map_or(0, |child| child.variable_bytes),
            _ => 0,
        }
    }

    /// Counts a task just scheduled by the frame at `path` (this one when
    /// empty) in `counts`, by state name, and notes the count before it in
    /// the frame's cursor: its cursor is at the scheduled step, which only
    /// the event scheduling it leads to.
    pub fn count_scheduling(&mut self, path: &[u32], counts: &mut HashMap<String, u32>) {
        let Some(cursor) = self.cursor.as_mut() else { return };
        match (path.split_first(), &mut cursor.step) {
            (None, Step::Scheduled { .. }) => {
                let count = match counts.get_mut(&cursor.state) {
                    Some(count) => count,
                    None => counts.entry(cursor.state.clone()).or_insert(0),
                };
                cursor.invocation = *count;
                *count = count.saturating_add(1);
            }
            (Some((&index, rest)), Step::Running(fanout)) => {
                if let Some(child) = fanout.child_mut(index) {
                    child.count_scheduling(rest, counts);
                }
            }
            _ => {}
        }
    }

    /// The event that stops this branch where it is, when a sibling's
    /// failure fails the Parallel state: None unless it is inside a state
    /// that does work (Task, Wait, Parallel, Map; AWS names no other
    /// `…StateAborted`).
    pub fn abort_event(&self) -> Option<EventKind> {
        let cursor = self.cursor.as_ref()?;
        if matches!(cursor.step, Step::Exited { .. } | Step::Aborted) {
            return None;
        }
        let state = self.current(cursor);
        matches!(state.kind, StateKind::Task(_) | StateKind::Wait(_) | StateKind::Parallel(_) | StateKind::Map(_))
            .then(|| EventKind::StateAborted { state_type: StateType::of(state), name: cursor.state.clone() })
    }

    /// Never started, or stopped by a sibling's failure: nothing of it is left to wait for.
    pub fn stopped(&self) -> bool {
        self.cursor.as_ref().is_none_or(|c| matches!(c.step, Step::Aborted))
    }

    /// The JSON bytes of the variables this frame and its live children hold.
    pub fn variable_bytes(&self) -> usize {
        self.variable_bytes
    }

    fn children_variable_bytes(&self) -> usize {
        let Some(Cursor { step: Step::Running(fanout), .. }) = &self.cursor else { return 0 };
        fanout.children().map(|child| child.variable_bytes).fold(0, usize::saturating_add)
    }

    fn apply_event(&mut self, path: &[u32], event: &HistoryEvent) -> Result<(), String> {
        let graph = Arc::clone(&self.graph);
        if let Some(cursor) = self.cursor.as_mut() {
            cursor.latest_ms = cursor.latest_ms.max(event.timestamp_ms);
        }
        if let Some((&index, rest)) = path.split_first() {
            let cursor = self.cursor.as_mut().ok_or("no state has been entered")?;
            let Step::Running(fanout) = &mut cursor.step else {
                return Err("no Parallel or Map state is running".into());
            };
            let child = fanout.child_mut(index).ok_or_else(|| format!("there is no running child {index}"))?;
            return child.apply(rest, event);
        }
        if let EventKind::StateAborted { name, .. } = &event.kind {
            let cursor = self.cursor.as_mut().ok_or("no state has been entered")?;
            if &cursor.state != name || self.abort_event().is_none() {
                return Err(format!("state {name:?} is not one a branch can be stopped in now"));
            }
            if let Some(cursor) = self.cursor.as_mut() {
                cursor.step = Step::Aborted;
            }
            return Ok(());
        }
        if let EventKind::StateEntered { name, input, .. } = &event.kind {
            let (state_index, _, state) = graph.states.get_full(name.as_str()).ok_or_else(|| format!("no state named {name:?} here"))?;
            self.cursor = Some(Cursor {
                state: name.clone(),
                state_index,
                input: input.clone(),
                entered_id: event.id,
                entered_ms: event.timestamp_ms,
                retries: vec![0; state.retriers().len()],
                attempt: 0,
                invocation: 0,
                timeout_seconds: None,
                heartbeat_seconds: None,
                started_ms: event.timestamp_ms,
                latest_ms: event.timestamp_ms,
                map_run: None,
                step: Step::Entered,
            });
            return Ok(());
        }
        let cursor = self.cursor.as_mut().ok_or("no state has been entered")?;
        let state = graph.states.get_index(cursor.state_index).map(|(_, state)| state).ok_or("the current state is unknown")?;
        match (&event.kind, &state.kind) {
            (EventKind::StateExited { output, assigned_variables, catch_next, .. }, _) => {
                let next = match (catch_next, &state.kind) {
                    (Some(next), StateKind::Choice(choice)) => {
                        let targets = choice.choices.iter().map(|r| &r.next).chain(&choice.default);
                        if !targets.into_iter().any(|t| t == next) {
                            return Err(format!("the Choice state has no rule leading to {next:?}"));
                        }
                        Some(next.clone())
                    }
                    (Some(next), _) => {
                        if !state.catchers().iter().any(|c| &c.next == next) {
                            return Err(format!("no catcher of the state leads to {next:?}"));
                        }
                        Some(next.clone())
                    }
                    (None, StateKind::Choice(_)) => return Err("a Choice state's exit must name the state it leads to".into()),
                    (None, _) => None,
                };
                cursor.step = Step::Exited { output: output.clone(), next };
                if let Some(vars) = assigned_variables {
                    for (name, value) in vars {
                        let bytes = size::json_size(value);
                        let old = self.variable_sizes.insert(name.clone(), bytes).unwrap_or(0);
                        self.own_variable_bytes = self.own_variable_bytes.saturating_sub(old).saturating_add(bytes);
                        self.variables.insert(name.clone(), value.clone());
                    }
                }
            }
            (EventKind::TaskScheduled { parameters, timeout_seconds, heartbeat_seconds, .. }, StateKind::Task(_)) => {
                cursor.schedule(Step::Scheduled { input: parameters.clone() })?;
                cursor.timeout_seconds = *timeout_seconds;
                cursor.heartbeat_seconds = *heartbeat_seconds;
                // An activity's TimeoutSeconds counts from here (its task
                // has no TaskStarted); another task's from its TaskStarted.
                cursor.started_ms = event.timestamp_ms;
            }
            (EventKind::ParallelStateStarted { input, retry_after }, StateKind::Parallel(p)) => {
                cursor.retry_children(state, retry_after)?;
                // The branches share one copy of the state's input.
                let input = Arc::new(input.clone());
                let branches = p.branches.iter().map(|b| Frame::child(Arc::clone(b), Arc::clone(&input))).collect();
                cursor.schedule(Step::Running(Box::new(Fanout::Parallel { branches })))?;
            }
            (EventKind::MapStateStarted { items, retry_after }, StateKind::Map(m)) => {
                cursor.retry_children(state, retry_after)?;
                cursor.schedule(Step::Running(Box::new(Fanout::new_map(Arc::clone(&m.processor), items.clone()))))?;
            }
            (EventKind::MapRunStarted { request, .. }, StateKind::Map(m)) if m.distributed_run.is_some() => {
                cursor.schedule(Step::Started { input: request.clone() })?;
                cursor.started_ms = event.timestamp_ms;
                cursor.map_run = Some((request.clone(), 0));
            }
            (EventKind::MapRunRedriven { redrive_count, .. }, StateKind::Map(_)) => {
                let (Step::RedrivingMapRun, Some((request, redrives))) = (&cursor.step, &mut cursor.map_run) else {
                    return Err("no map run is to be redriven".into());
                };
                *redrives = *redrive_count;
                // The host tells a redrive from a resumed run by this count.
                let mut redriven = Value::clone(request);
                redriven["RedriveCount"] = json!(redrive_count);
                cursor.step = Step::Started { input: Arc::new(redriven) };
                cursor.started_ms = event.timestamp_ms;
            }
            (EventKind::MapRunSucceeded { output }, StateKind::Map(_)) => {
                if !matches!(cursor.step, Step::Started { .. }) {
                    return Err("no map run has started".into());
                }
                cursor.step = Step::Succeeded { result: output.clone() };
            }
            (EventKind::MapRunFailed { error, cause }, StateKind::Map(_)) => {
                if !matches!(cursor.step, Step::Started { .. }) {
                    return Err("no map run has started".into());
                }
                cursor.fail(state, Failure::new(error, cause.clone()), event.timestamp_ms);
            }
            (EventKind::TaskStarted { .. }, StateKind::Task(_)) => {
                cursor.step = match &cursor.step {
                    Step::Scheduled { input } | Step::Started { input } => Step::Started { input: input.clone() },
                    _ => return Err("no task is scheduled".into()),
                };
                cursor.started_ms = event.timestamp_ms;
            }
            (EventKind::ActivityStarted { .. }, StateKind::Task(task)) => {
                if !is_activity(&task.resource) {
                    return Err("only an activity's task is taken by a worker".into());
                }
                if !matches!(cursor.step, Step::Scheduled { .. }) {
                    return Err("no activity task is scheduled".into());
                }
                // The worker holds the task: its token is awaited.
                cursor.step = Step::Submitted;
            }
            (EventKind::TaskSubmitted { .. }, StateKind::Task(task)) => {
                if !task.waits_for_task_token() {
                    return Err("only a .waitForTaskToken task is submitted".into());
                }
                if !matches!(cursor.step, Step::Started { .. }) {
                    return Err("no task has started".into());
                }
                cursor.step = Step::Submitted;
            }
            (EventKind::TaskSucceeded { output, .. }, StateKind::Task(_)) => {
                if !matches!(cursor.step, Step::Started { .. } | Step::Submitted) {
                    return Err("no task has started".into());
                }
                cursor.step = Step::Succeeded { result: output.clone() };
            }
            (EventKind::TaskFailed { error, cause, .. } | EventKind::TaskTimedOut { error, cause, .. }, StateKind::Task(task)) => {
                // An activity's task can time out (or fail) before a worker takes it.
                let waiting_activity = matches!(cursor.step, Step::Scheduled { .. }) && is_activity(&task.resource);
                if !matches!(cursor.step, Step::Started { .. } | Step::Submitted) && !waiting_activity {
                    return Err("no task has started".into());
                }
                cursor.fail(state, Failure::new(error, cause.clone()), event.timestamp_ms);
            }
            (
                EventKind::ParallelStateSucceeded { output } | EventKind::MapStateSucceeded { output },
                StateKind::Parallel(_) | StateKind::Map(_),
            ) => {
                if !matches!(cursor.step, Step::Running(_)) {
                    return Err("the state's children are not running".into());
                }
                cursor.step = Step::Succeeded { result: Arc::new(output.clone()) };
            }
            (
                EventKind::ParallelStateFailed { error, cause } | EventKind::MapStateFailed { error, cause },
                StateKind::Parallel(_) | StateKind::Map(_),
            ) => {
                let children = match std::mem::replace(&mut cursor.step, Step::Entered) {
                    Step::Running(children) => children,
                    other => {
                        cursor.step = other;
                        return Err("the state's children are not running".into());
                    }
                };
                cursor.fail(state, Failure::new(error, cause.clone()), event.timestamp_ms);
                if let Step::Failed { children: kept, .. } = &mut cursor.step {
                    *kept = Some(children);
                }
            }
            (
                EventKind::MapIterationStarted { .. }
                | EventKind::MapIterationSucceeded { .. }
                | EventKind::MapIterationFailed { .. }
                | EventKind::MapIterationAborted { .. },
                StateKind::Map(_),
            ) => match &mut cursor.step {
                Step::Running(fanout) => fanout.apply_iteration(&event.kind)?,
                _ => return Err("the Map state is not running".into()),
            },
            (kind, _) => return Err(format!("{} does not fit state {:?} of type {}", kind.type_name(), state.name, state.type_name())),
        }
        Ok(())
    }

    /// What this frame needs next. Pure: the same frame always decides the same.
    ///
    /// A payload over AWS's 256 KiB limit (a state's output, a task's
    /// parameters, a Parallel state's branch input, a Map item) or nested
    /// deeper than [`stepwasm_asl::size::MAX_VALUE_DEPTH`], and variables over
    /// AWS's limits (see [`super::data_limits`]), are not recorded: the state
    /// fails with `States.DataLimitExceeded` instead, which only a catcher
    /// naming it handles (and what that catcher records is checked the same way).
    ///
    /// The actions of this frame and of the children `focus` covers go to
    /// `out` (the children's first, then this frame's own); the graph's end
    /// (its output or the error that ended it) is returned once it has ended.
    pub fn decide(&self, env: &Env, scope: &Scope, focus: Focus, out: &mut Vec<Next>) -> Option<Result<Payload, Failure>> {
        let next = self.decide_checked(env, scope, focus, out);
        match next {
            Next::Done(ended) => Some(ended),
            Next::Busy => None,
            action => {
                out.push(action);
                None
            }
        }
    }

    fn decide_checked(&self, env: &Env, scope: &Scope, focus: Focus, out: &mut Vec<Next>) -> Next {
        let next = self.decide_unchecked(env, scope, focus, out);
        let Some(failure) = self.over_limits(env, scope, &next) else { return next };
        let Some(cursor) = &self.cursor else { return Next::Done(Err(failure)) };
        let state = self.current(cursor);
        let mut scopes = env.variables.clone();
        scopes.push(&self.variables);
        let context = Value::Null;
        let caught = self.catch(scope, state, cursor, &Bindings::new(&context, &scopes), failure);
        match self.over_limits(env, scope, &caught) {
            None => caught,
            Some(failure) => Next::Done(Err(failure)),
        }
    }

    /// Why this frame may not record the event `next` holds, if it may not.
    /// Events of deeper frames were checked there.
    fn over_limits(&self, env: &Env, scope: &Scope, next: &Next) -> Option<Failure> {
        let (Next::Record { event, scope: at } | Next::RecordAt { event, scope: at, .. }) = next else { return None };
        if at != scope {
            return None;
        }
        let state = self.cursor.as_ref().map_or("", |c| c.state.as_str());
        // An output that is the state's input unchanged (a Choice, a Pass
        // without fields) was checked when it was recorded: every state's
        // input is a recorded output, a branch's input or a Map item, but the
        // top level's first.
        let checked = match (event, &self.cursor) {
            (EventKind::StateExited { output, .. }, Some(cursor)) => {
                Arc::ptr_eq(output, &cursor.input) && (self.input_checked || !Arc::ptr_eq(&cursor.input, &self.input))
            }
            _ => false,
        };
        data_limits::over_limits(event, checked, state, &self.variable_sizes, env.variable_bytes)
    }

    fn decide_unchecked(&self, env: &Env, scope: &Scope, focus: Focus, out: &mut Vec<Next>) -> Next {
        let record = |event| Next::Record { scope: scope.clone(), event };
        let Some(cursor) = &self.cursor else {
            return record(self.enter(&self.graph.start_at, self.input.clone()));
        };
        let state = self.current(cursor);
        if let Step::Running(fanout) = &cursor.step {
            return self.decide_children(env, scope, state, cursor, fanout, focus, out);
        }
        if let Step::Aborted = cursor.step {
            return Next::Busy;
        }
        // The variables in scope: the enclosing frames' and this one's.
        let mut scopes = env.variables.clone();
        scopes.push(&self.variables);
        let context = self.context_for(env, state, cursor);
        // A JSONata state's expressions read `$states.input` and `$states.context`.
        let states = if state.jsonata { json!({"input": cursor.input, "context": context}) } else { Value::Null };
        let b = Bindings::new(&context, &scopes);
        let b = if state.jsonata { b.with_states(&states) } else { b };
        match (&state.kind, &cursor.step) {
            (_, Step::Exited { output, next: Some(next) }) => record(self.enter(next, output.clone())),
            (_, Step::Exited { output, next: None }) => self.transition(scope, state, output.clone()),
            (StateKind::Task(_) | StateKind::Parallel(_) | StateKind::Map(_), Step::Entered) => {
                match self.schedule(env, state, cursor, &b, true) {
                    Ok(event) => record(event),
                    Err(failure) => self.catch(scope, state, cursor, &b, failure),
                }
            }
            (StateKind::Task(task), Step::Scheduled { input } | Step::Started { input }) => Next::Invoke {
                scope: scope.clone(),
                task: TaskInvocation {
                    resource: task.resource.clone(),
                    input: input.clone(),
                    execution_id: env.info.execution_arn.clone(),
                    state_name: cursor.state.clone(),
                    attempt: cursor.attempt,
                    invocation: cursor.invocation,
                    timeout_seconds: cursor.timeout_seconds,
                    task_token: task.waits_for_task_token().then(|| task_token(&env.info.execution_arn, cursor.entered_id, cursor.attempt)),
                    entered_event_id: cursor.entered_id,
                    journaled: false,
                    map_run: None,
                },
            },
            (StateKind::Map(_), Step::RedrivingMapRun) => match &cursor.map_run {
                Some((request, redrives)) => record(EventKind::MapRunRedriven {
                    map_run_arn: request["MapRunArn"].as_str().unwrap_or_default().to_string(),
                    redrive_count: redrives.saturating_add(1),
                }),
                None => Next::Busy,
            },
            (StateKind::Map(map), Step::Started { input }) => Next::Invoke {
                scope: scope.clone(),
                task: TaskInvocation {
                    resource: map_run::MAP_RUN_RESOURCE.into(),
                    input: input.clone(),
                    execution_id: env.info.execution_arn.clone(),
                    state_name: cursor.state.clone(),
                    attempt: cursor.attempt,
                    invocation: cursor.invocation,
                    timeout_seconds: None,
                    task_token: None,
                    entered_event_id: cursor.entered_id,
                    journaled: false,
                    map_run: map.distributed_run.clone().map(map_run::MapRunSpec),
                },
            },
            (StateKind::Task(task), Step::Submitted) => Next::AwaitCallback {
                scope: scope.clone(),
                callback: Callback {
                    resource: task.resource.clone(),
                    token: task_token(&env.info.execution_arn, cursor.entered_id, cursor.attempt),
                    heartbeat_seconds: cursor.heartbeat_seconds,
                    deadline_ms: cursor.timeout_seconds.map(|t| after_seconds(cursor.started_ms, t)),
                },
            },
            (_, Step::Succeeded { result }) => match dataflow::process_result(io_settings(state), &cursor.input, (**result).clone(), &b) {
                Ok((output, assigned)) => record(self.exit(state, output, assigned, None)),
                Err(failure) => self.catch(scope, state, cursor, &b, failure),
            },
            (_, Step::Failed { failure, retrier, failed_ms, .. }) => {
                if let Some(i) = *retrier {
                    let r = &state.retriers()[i];
                    if cursor.retries[i] < r.max_attempts {
                        let delay = retry_delay_ms(r, cursor.retries[i], &env.info.execution_arn, &cursor.state, cursor.attempt);
                        // The input is prepared again for each attempt, so
                        // `$$.State.RetryCount` shows the retry being made.
                        let retry_count = cursor.retries.iter().sum::<u32>() + 1;
                        let context = self.context(env, cursor, retry_count);
                        let states = json!({"input": cursor.input, "context": context});
                        let b = Bindings::new(&context, &scopes);
                        let b = if state.jsonata { b.with_states(&states) } else { b };
                        return match self.schedule(env, state, cursor, &b, false) {
                            Ok(event) => {
                                Next::RecordAt { scope: scope.clone(), event, not_before_ms: failed_ms + delay, since_ms: *failed_ms }
                            }
                            Err(failure) => self.catch(scope, state, cursor, &b, failure),
                        };
                    }
                }
                self.catch(scope, state, cursor, &b, failure.clone())
            }
            (StateKind::Pass(pass), Step::Entered) if pass.io.jsonata => match dataflow::complete(&pass.io, &cursor.input, &b) {
                Ok((output, assigned)) => record(self.exit(state, output, assigned, None)),
                Err(failure) => Next::Done(Err(failure)),
            },
            (StateKind::Pass(pass), Step::Entered)
                if dataflow::passes_input_through(&pass.io)
                    && (pass.result.is_none() || pass.io.result_path == ResultPathSetting::Discard) =>
            {
                // Its output is its input: shared, not copied.
                record(self.exit_shared(state, Arc::clone(&cursor.input), None, None))
            }
            (StateKind::Pass(pass), Step::Entered) => {
                let result = dataflow::effective_input(&pass.io, &cursor.input, &b).and_then(|effective| {
                    let result = pass.result.clone().unwrap_or(effective);
                    let assigned = dataflow::assign(pass.io.assign.as_ref(), &result, &b)?;
                    let placed = dataflow::place_result(&pass.io.result_path, &cursor.input, result)?;
                    Ok((dataflow::output(&pass.io, placed, &b)?, assigned))
                });
                match result {
                    Ok((output, assigned)) => record(self.exit(state, output, assigned, None)),
                    Err(failure) => Next::Done(Err(failure)),
                }
            }
            (StateKind::Choice(choice), Step::Entered) => {
                if dataflow::passes_input_through(&choice.io) {
                    // Its output is its input (shared), unless the rule taken assigns or outputs.
                    match self.choose(state, &cursor.input, &b) {
                        Ok((next, None, None)) => return record(self.exit_shared(state, Arc::clone(&cursor.input), None, Some(next))),
                        Ok(_) => {}
                        Err(failure) => return Next::Done(Err(failure)),
                    }
                }
                let decided = dataflow::effective_input(&choice.io, &cursor.input, &b).and_then(|effective| {
                    let (next, assign, output) = self.choose(state, &effective, &b)?;
                    let assigned = dataflow::assign(assign, &effective, &b)?;
                    let output = match output {
                        Some(t) => t.render_with(&effective, &b).map_err(|e| Failure::new(e.error, e.cause))?,
                        None => dataflow::output(&choice.io, effective, &b)?,
                    };
                    Ok((output, assigned, next))
                });
                match decided {
                    Ok((output, assigned, next)) => record(self.exit(state, output, assigned, Some(next))),
                    Err(failure) => Next::Done(Err(failure)),
                }
            }
            (StateKind::Succeed(succeed), Step::Entered) if succeed.io.jsonata => {
                match dataflow::complete(&succeed.io, &cursor.input, &b) {
                    Ok((output, _)) => record(self.exit(state, output, None, None)),
                    Err(failure) => Next::Done(Err(failure)),
                }
            }
            (StateKind::Succeed(succeed), Step::Entered) => {
                match dataflow::effective_input(&succeed.io, &cursor.input, &b)
                    .and_then(|effective| dataflow::output(&succeed.io, effective, &b))
                {
                    Ok(output) => record(self.exit(state, output, None, None)),
                    Err(failure) => Next::Done(Err(failure)),
                }
            }
            (StateKind::Fail(fail), Step::Entered) => {
                // ErrorPath/CausePath: a reference path or an intrinsic, on the state's input.
                let field = |fixed: &Option<String>, dynamic: &Option<stepwasm_asl::template::Template>, name: &str| match dynamic {
                    None => Ok(fixed.clone().unwrap_or_default()),
                    Some(t) => match t.render_with(&cursor.input, &b) {
                        Ok(Value::String(s)) => Ok(s),
                        Ok(other) => {
                            let (error, field) = if state.jsonata {
                                (errors::QUERY_EVALUATION_ERROR, name.trim_end_matches("Path"))
                            } else {
                                (errors::RUNTIME, name)
                            };
                            Err(Failure::new(error, format!("{field} must give a string, got {other}")))
                        }
                        Err(_) if matches!(t, stepwasm_asl::template::Template::Path(_)) => {
                            Err(Failure::new(errors::RUNTIME, format!("{name} selects nothing in the state's input")))
                        }
                        Err(e) => Err(Failure::new(e.error, format!("{name}: {}", e.cause))),
                    },
                };
                match (field(&fail.error, &fail.error_path, "ErrorPath"), field(&fail.cause, &fail.cause_path, "CausePath")) {
                    (Ok(error), Ok(cause)) => Next::Done(Err(Failure::new(error, cause))),
                    (Err(failure), _) | (_, Err(failure)) => Next::Done(Err(failure)),
                }
            }
            (StateKind::Wait(wait), Step::Entered) => {
                let planned = dataflow::effective_input(&wait.io, &cursor.input, &b).and_then(|effective| {
                    let until = wait_until(&wait.wait, &effective, cursor.entered_ms, &b)?;
                    if wait.io.jsonata {
                        let (output, assigned) = dataflow::complete(&wait.io, &cursor.input, &b)?;
                        return Ok((output, assigned, until));
                    }
                    let assigned = dataflow::assign(wait.io.assign.as_ref(), &effective, &b)?;
                    Ok((dataflow::output(&wait.io, effective, &b)?, assigned, until))
                });
                match planned {
                    Ok((output, assigned, until)) => {
                        let event = self.exit(state, output, assigned, None);
                        Next::RecordAt { scope: scope.clone(), event, not_before_ms: until, since_ms: cursor.entered_ms }
                    }
                    Err(failure) => Next::Done(Err(failure)),
                }
            }
            // Only a history that does not belong to this definition gets here;
            // end with a recorded, explained failure.
            (_, step) => Next::Done(Err(Failure::new(
                errors::RUNTIME,
                format!("state {:?} of type {} cannot be in step {step:?}", cursor.state, state.type_name()),
            ))),
        }
    }

    /// A running Parallel or Map state: its children's actions (those `focus`
    /// covers) go to `out`; the state's own next event, or its children's
    /// failure handed to Retry and Catch.
    ///
    /// The context object and `$states` are built only when the Map's own
    /// settings read them (they hold the execution's input: building them
    /// for every event of every iteration would cost the items' size each time).
    #[allow(clippy::too_many_arguments)]
    fn decide_children(
        &self,
        env: &Env,
        scope: &Scope,
        state: &State,
        cursor: &Cursor,
        fanout: &Fanout,
        focus: Focus,
        out: &mut Vec<Next>,
    ) -> Next {
        if let Focus::Shallow = focus {
            return Next::Busy;
        }
        let mut scopes = env.variables.clone();
        scopes.push(&self.variables);
        let reads_settings = matches!(&state.kind, StateKind::Map(m) if fanout::settings_read_context(m));
        let context = if reads_settings { self.context_for(env, state, cursor) } else { Value::Null };
        let states = if state.jsonata && reads_settings { json!({"input": cursor.input, "context": context}) } else { Value::Null };
        let b = Bindings::new(&context, &scopes);
        let b = if state.jsonata { b.with_states(&states) } else { b };
        let sees_outer = !matches!(&state.kind, StateKind::Map(m) if m.distributed);
        match fanout.decide(&env.inner(&self.variables, sees_outer), scope, state, &cursor.input, &b, focus, out) {
            Ok(Some(next)) => next,
            Ok(None) => Next::Busy,
            Err(failure) => self.children_failed(env, scope, state, cursor, &scopes, failure),
        }
    }

    /// A Parallel or Map state's children failed: start them all again after
    /// the backoff if a retrier allows (recording no failure in between, as
    /// AWS does), else record the state's failure for Catch to handle.
    fn children_failed(&self, env: &Env, scope: &Scope, state: &State, cursor: &Cursor, scopes: &[&Variables], failure: Failure) -> Next {
        if let Some(i) = retrier_for(state, &failure) {
            let r = &state.retriers()[i];
            if cursor.retries[i] < r.max_attempts {
                let delay = retry_delay_ms(r, cursor.retries[i], &env.info.execution_arn, &cursor.state, cursor.attempt);
                let context = self.context(env, cursor, cursor.retries.iter().sum::<u32>() + 1);
                let states = json!({"input": cursor.input, "context": context});
                let b = Bindings::new(&context, scopes);
                let b = if state.jsonata { b.with_states(&states) } else { b };
                let failed = ErrorCause { error: failure.error.clone(), cause: failure.cause.clone() };
                return match self.schedule(env, state, cursor, &b, false) {
                    Ok(mut event) => {
                        if let EventKind::ParallelStateStarted { retry_after, .. } | EventKind::MapStateStarted { retry_after, .. } =
                            &mut event
                        {
                            *retry_after = Some(failed);
                        }
                        Next::RecordAt { scope: scope.clone(), event, not_before_ms: cursor.latest_ms + delay, since_ms: cursor.latest_ms }
                    }
                    Err(failure) => self.catch(scope, state, cursor, &b, failure),
                };
            }
        }
        let (error, cause) = (failure.error, failure.cause);
        let event = match state.kind {
            StateKind::Map(_) => EventKind::MapStateFailed { error, cause },
            _ => EventKind::ParallelStateFailed { error, cause },
        };
        Next::Record { scope: scope.clone(), event }
    }

    /// The event that starts a Task, Parallel or Map state's work: on entering
    /// it (`first`) or for a retry.
    fn schedule(&self, env: &Env, state: &State, cursor: &Cursor, b: &Bindings, first: bool) -> Result<EventKind, Failure> {
        let io = io_settings(state);
        match &state.kind {
            StateKind::Task(task) => {
                let parameters = dataflow::effective_input(io, &cursor.input, b)?;
                // A retry keeps what its first attempt resolved.
                let (timeout_seconds, heartbeat_seconds) = if first {
                    (
                        seconds_setting(
                            "TimeoutSeconds",
                            task.timeout_seconds,
                            &task.timeout_seconds_path,
                            &task.timeout_seconds_expr,
                            &cursor.input,
                            b,
                        )?,
                        seconds_setting(
                            "HeartbeatSeconds",
                            task.heartbeat_seconds,
                            &task.heartbeat_seconds_path,
                            &task.heartbeat_seconds_expr,
                            &cursor.input,
                            b,
                        )?,
                    )
                } else {
                    (cursor.timeout_seconds, cursor.heartbeat_seconds)
                };
                // A heartbeat matters only while a token is awaited.
                let heartbeat_seconds = heartbeat_seconds.filter(|_| task.waits_for_task_token());
                Ok(EventKind::TaskScheduled {
                    resource: task.resource.clone(),
                    parameters: Arc::new(parameters),
                    timeout_seconds,
                    heartbeat_seconds,
                })
            }
            StateKind::Parallel(_) => {
                Ok(EventKind::ParallelStateStarted { input: dataflow::effective_input(io, &cursor.input, b)?, retry_after: None })
            }
            StateKind::Map(map) => match &map.distributed_run {
                Some(distributed) if env.map_runs => {
                    let label = map_run::label_of(distributed, &state.name);
                    let (arn, machine) = map_run::map_run_arn(&env.info.execution_arn, &label, cursor.entered_id, cursor.attempt);
                    let request = map_run::request(map, distributed, &cursor.input, b, arn.clone(), machine)?;
                    let request = serde_json::to_value(request).map_err(|e| Failure::new(errors::RUNTIME, e.to_string()))?;
                    Ok(EventKind::MapRunStarted { map_run_arn: arn, request: Arc::new(request) })
                }
                _ => Ok(EventKind::MapStateStarted { items: fanout::map_items(map, &cursor.input, b)?, retry_after: None }),
            },
            _ => Err(Failure::new(errors::RUNTIME, format!("state {:?} has no work to schedule", state.name))),
        }
    }

    fn enter(&self, name: &str, input: Payload) -> EventKind {
        EventKind::StateEntered { state_type: StateType::of(self.state(name)), name: name.to_string(), input }
    }

    fn exit(&self, state: &State, output: Value, assigned_variables: Option<Variables>, next: Option<String>) -> EventKind {
        self.exit_shared(state, Arc::new(output), assigned_variables, next)
    }

    /// [`Self::exit`] with an output that is shared (the state's input, unchanged).
    fn exit_shared(&self, state: &State, output: Payload, assigned_variables: Option<Variables>, next: Option<String>) -> EventKind {
        EventKind::StateExited { state_type: StateType::of(state), name: state.name.clone(), output, assigned_variables, catch_next: next }
    }

    /// After a state exits by its own transition: enter the next state, or end the graph.
    fn transition(&self, scope: &Scope, state: &State, output: Payload) -> Next {
        // A Choice's exit always names its target (see `apply`); Succeed and
        // Fail end the graph.
        match state.transition() {
            Some(Transition::Next(name)) => Next::Record { scope: scope.clone(), event: self.enter(name, output) },
            Some(Transition::End) | None => Next::Done(Ok(output)),
        }
    }

    /// The Choice state's target for `input` and the `Assign` that goes with
    /// it (the rule's, or the state's own for `Default`), or `States.NoChoiceMatched`.
    #[allow(clippy::type_complexity)]
    fn choose<'s>(
        &self,
        state: &'s State,
        input: &Value,
        b: &Bindings,
    ) -> Result<(String, Option<&'s Template>, Option<&'s Template>), Failure> {
        let StateKind::Choice(choice) = &state.kind else { unreachable!("choose is only called for Choice states") };
        // A JSONata Condition that fails is a query error; a JSONPath rule
        // reading a missing path is States.Runtime.
        let failed = if state.jsonata { errors::QUERY_EVALUATION_ERROR } else { errors::RUNTIME };
        for rule in &choice.choices {
            match rule.condition.evaluate_with(input, b) {
                Ok(true) => return Ok((rule.next.clone(), rule.assign.as_ref(), rule.output.as_ref())),
                Ok(false) => {}
                Err(e) => return Err(Failure::new(failed, e.0)),
            }
        }
        match &choice.default {
            Some(default) => Ok((default.clone(), choice.io.assign.as_ref(), choice.io.output.as_ref())),
            None => {
                Err(Failure::new(errors::NO_CHOICE_MATCHED, format!("no choice rule matched and state {:?} has no Default", state.name)))
            }
        }
    }

    /// A failure the state cannot retry: a catcher takes it (the state exits
    /// with the `{Error, Cause}` output placed by the catcher's ResultPath and
    /// the catcher's Assign, towards the catcher's Next), or it ends the graph.
    /// Data-processing failures come here directly; failures of the task or
    /// children once retries are exhausted.
    fn catch(&self, scope: &Scope, state: &State, cursor: &Cursor, b: &Bindings, failure: Failure) -> Next {
        let from_children = matches!(cursor.step, Step::Failed { .. });
        let Some(catcher) = state.catchers().iter().find(|c| handles(state, &c.error_equals, &failure, from_children)) else {
            return Next::Done(Err(failure));
        };
        let error_output = json!({"Error": failure.error, "Cause": failure.cause});
        let caught = if state.jsonata {
            // `$states.errorOutput`; the output is the error output unless the catcher's Output says otherwise.
            let states = json!({"input": cursor.input, "context": b.context, "errorOutput": error_output});
            let b = b.with_states(&states);
            dataflow::assign(catcher.assign.as_ref(), &error_output, &b).and_then(|assigned| {
                let output = match &catcher.output {
                    Some(t) => t.render_with(&error_output, &b).map_err(|e| Failure::new(e.error, e.cause))?,
                    None => error_output.clone(),
                };
                Ok((output, assigned))
            })
        } else {
            dataflow::assign(catcher.assign.as_ref(), &error_output, b)
                .and_then(|assigned| Ok((dataflow::place_result(&catcher.result_path, &cursor.input, error_output)?, assigned)))
        };
        match caught {
            Ok((output, assigned)) => {
                Next::Record { scope: scope.clone(), event: self.exit(state, output, assigned, Some(catcher.next.clone())) }
            }
            Err(failure) => Next::Done(Err(failure)),
        }
    }

    /// The context object, when the state's fields read it (else `null`).
    fn context_for(&self, env: &Env, state: &State, cursor: &Cursor) -> Value {
        if context_object::reads_context(state) {
            self.context(env, cursor, cursor.retries.iter().sum())
        } else {
            Value::Null
        }
    }

    /// The context object (`$$`) for the current state and attempt.
    fn context(&self, env: &Env, cursor: &Cursor, retry_count: u32) -> Value {
        let position = StatePosition {
            name: &cursor.state,
            entered_ms: cursor.entered_ms,
            entered_id: cursor.entered_id,
            retry_count,
            attempt: cursor.attempt,
            preparing_next_attempt: matches!(cursor.step, Step::Entered | Step::Failed { .. }),
        };
        context_object::context_object(env, self.current(cursor), &position)
    }
}

impl Cursor {
    /// A Parallel or Map state restarts its children after they failed: the
    /// retrier that handles the failure counts one more retry.
    fn retry_children(&mut self, state: &State, retry_after: &Option<ErrorCause>) -> Result<(), String> {
        let Some(failed) = retry_after else { return Ok(()) };
        if !matches!(self.step, Step::Running(_)) {
            return Err("only running children can be retried".into());
        }
        let failure = Failure::new(&failed.error, failed.cause.clone());
        let i = retrier_for(state, &failure).ok_or("no retrier handles the children's failure")?;
        self.step = Step::Failed { failure, retrier: Some(i), failed_ms: self.latest_ms, children: None };
        Ok(())
    }

    /// A Task, Parallel or Map state's work starts: on entering, or as a retry.
    fn schedule(&mut self, step: Step) -> Result<(), String> {
        match &self.step {
            Step::Entered => {}
            Step::Failed { retrier: Some(i), .. } => self.retries[*i] += 1,
            _ => return Err("work is scheduled only on entering a state or to retry it".into()),
        }
        self.attempt += 1;
        // A new attempt's map run is a new one (MapRunStarted notes it).
        self.map_run = None;
        self.step = step;
        Ok(())
    }

    fn fail(&mut self, state: &State, failure: Failure, at_ms: i64) {
        let retrier = retrier_for(state, &failure);
        self.step = Step::Failed { failure, retrier, failed_ms: at_ms, children: None };
    }
}
