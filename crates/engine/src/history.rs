//! History events, named and shaped as Step Functions names them
//! (`TaskStateEntered`, `TaskScheduled`, `TaskSucceeded`, ...). The history is
//! the source of truth: an execution's state is a fold over these events.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;

/// A state's input or output as events and the engine hold it: shared, so
/// that the event, the engine's cursor and the task invocation do not each
/// copy a document of up to 256 KiB.
pub type Payload = Arc<Value>;

/// The state types, as they prefix `…StateEntered` / `…StateExited` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StateType {
    Task,
    Pass,
    Choice,
    Succeed,
    Fail,
    Wait,
    Parallel,
    Map,
}

impl StateType {
    pub fn of(state: &stepwasm_asl::State) -> StateType {
        use stepwasm_asl::StateKind::*;
        match state.kind {
            Task(_) => StateType::Task,
            Pass(_) => StateType::Pass,
            Choice(_) => StateType::Choice,
            Succeed(_) => StateType::Succeed,
            Fail(_) => StateType::Fail,
            Wait(_) => StateType::Wait,
            Parallel(_) => StateType::Parallel,
            Map(_) => StateType::Map,
        }
    }

    fn entered(self) -> &'static str {
        match self {
            StateType::Task => "TaskStateEntered",
            StateType::Pass => "PassStateEntered",
            StateType::Choice => "ChoiceStateEntered",
            StateType::Succeed => "SucceedStateEntered",
            StateType::Fail => "FailStateEntered",
            StateType::Wait => "WaitStateEntered",
            StateType::Parallel => "ParallelStateEntered",
            StateType::Map => "MapStateEntered",
        }
    }

    fn aborted(self) -> &'static str {
        match self {
            StateType::Task => "TaskStateAborted",
            StateType::Pass => "PassStateAborted",
            StateType::Choice => "ChoiceStateAborted",
            StateType::Succeed => "SucceedStateAborted",
            StateType::Fail => "FailStateAborted",
            StateType::Wait => "WaitStateAborted",
            StateType::Parallel => "ParallelStateAborted",
            StateType::Map => "MapStateAborted",
        }
    }

    fn exited(self) -> &'static str {
        match self {
            StateType::Task => "TaskStateExited",
            StateType::Pass => "PassStateExited",
            StateType::Choice => "ChoiceStateExited",
            StateType::Succeed => "SucceedStateExited",
            StateType::Fail => "FailStateExited",
            StateType::Wait => "WaitStateExited",
            StateType::Parallel => "ParallelStateExited",
            StateType::Map => "MapStateExited",
        }
    }
}

/// An error name and its cause, as an event records them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCause {
    pub error: String,
    pub cause: String,
}

/// What happened. Inputs and outputs are JSON values here; the AWS wire shape
/// (JSON text inside `…EventDetails`) is produced by [`HistoryEvent::to_aws_json`].
///
/// A Task state's work is kept as `Task…` events whatever its resource; AWS
/// names them after the resource's kind ([`TaskResourceKind`]): a Lambda
/// function's ARN records `LambdaFunction…` events, an activity's ARN
/// `Activity…` events, and [`EventKind::type_name`] and
/// [`HistoryEvent::to_aws_json`] name and shape them so.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EventKind {
    ExecutionStarted {
        input: Payload,
    },
    ExecutionSucceeded {
        output: Payload,
    },
    ExecutionFailed {
        error: String,
        cause: String,
    },
    /// The execution ran past the definition's top-level `TimeoutSeconds`.
    ExecutionTimedOut {
        error: String,
        cause: String,
    },
    /// Someone stopped the execution (`stepwasm executions stop`).
    ExecutionAborted {
        error: String,
        cause: String,
    },
    /// A failed, timed-out or aborted execution was started again from the
    /// state that did not succeed (RedriveExecution); the `redrive_count`th time.
    ExecutionRedriven {
        redrive_count: u32,
    },
    StateEntered {
        state_type: StateType,
        name: String,
        input: Payload,
    },
    StateExited {
        state_type: StateType,
        name: String,
        output: Payload,
        /// The variables the state's (or the taken catcher's) `Assign` set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assigned_variables: Option<serde_json::Map<String, Value>>,
        /// Set when a catcher took the state's error: the state it leads
        /// to; on a Choice state, always: the state its rules chose.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        catch_next: Option<String>,
    },
    /// The state a Parallel branch was in when a sibling's failure stopped
    /// the branch (`TaskStateAborted`, `WaitStateAborted`, ...): its work
    /// was dropped, and the branch records nothing more.
    StateAborted {
        state_type: StateType,
        name: String,
    },
    TaskScheduled {
        resource: String,
        parameters: Payload,
        timeout_seconds: Option<u64>,
        /// Resolved `HeartbeatSeconds` of a task that waits for its token.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        heartbeat_seconds: Option<u64>,
    },
    TaskStarted {
        resource: String,
    },
    /// A worker took an activity's task (GetActivityTask); its token is now
    /// awaited. An activity's task has no `TaskStarted`: it starts when taken.
    ActivityStarted {
        resource: String,
        /// The name the worker gave, when it gave one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        worker_name: Option<String>,
    },
    /// The module of a `.waitForTaskToken` task ran; the task now waits for
    /// its token to come back. `output` is what the module returned.
    TaskSubmitted {
        resource: String,
        output: Payload,
    },
    TaskSucceeded {
        resource: String,
        output: Payload,
    },
    TaskFailed {
        resource: String,
        error: String,
        cause: String,
    },
    TaskTimedOut {
        resource: String,
        error: String,
        cause: String,
    },
    /// The branches start, each with a copy of `input` (the effective input).
    /// `retry_after` is the children's failure this start retries (AWS
    /// records no …StateFailed between attempts, only after the last).
    ParallelStateStarted {
        input: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<ErrorCause>,
    },
    /// Every branch succeeded; `output` is the array of their outputs.
    ParallelStateSucceeded {
        output: Value,
    },
    ParallelStateFailed {
        error: String,
        cause: String,
    },
    /// `items` holds each iteration's input (after ItemSelector and ItemBatcher);
    /// `retry_after` as for `ParallelStateStarted`.
    MapStateStarted {
        items: Vec<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<ErrorCause>,
    },
    MapIterationStarted {
        name: String,
        index: u32,
    },
    MapIterationSucceeded {
        name: String,
        index: u32,
        output: Value,
    },
    MapIterationFailed {
        name: String,
        index: u32,
        error: String,
        cause: String,
    },
    /// The Map state failed while this iteration ran: it was stopped.
    MapIterationAborted {
        name: String,
        index: u32,
    },
    /// `output` is the array of the iterations' outputs, in item order.
    MapStateSucceeded {
        output: Value,
    },
    MapStateFailed {
        error: String,
        cause: String,
    },
    /// A Distributed Map state's map run started (its child executions run
    /// outside this history). `request` is what the host needs to run it
    /// ([`crate::map_run::MapRunRequest`]); AWS shows only the ARN.
    MapRunStarted {
        map_run_arn: String,
        request: Payload,
    },
    /// The map run ended well; `output` is the Map state's result (the
    /// children's outputs, or where the ResultWriter wrote them), which AWS
    /// does not show in this event.
    MapRunSucceeded {
        output: Payload,
    },
    MapRunFailed {
        error: String,
        cause: String,
    },
    /// A redrive of the execution runs the map run of a Map state it left
    /// unfinished again (same ARN): only its children that did not succeed
    /// run again. `redrive_count` counts this map run's redrives, this one
    /// included.
    MapRunRedriven {
        map_run_arn: String,
        redrive_count: u32,
    },
}

impl EventKind {
    /// The Step Functions event type name, e.g. `TaskStateEntered`.
    pub fn type_name(&self) -> &'static str {
        match self {
            EventKind::ExecutionStarted { .. } => "ExecutionStarted",
            EventKind::ExecutionSucceeded { .. } => "ExecutionSucceeded",
            EventKind::ExecutionFailed { .. } => "ExecutionFailed",
            EventKind::ExecutionTimedOut { .. } => "ExecutionTimedOut",
            EventKind::ExecutionAborted { .. } => "ExecutionAborted",
            EventKind::ExecutionRedriven { .. } => "ExecutionRedriven",
            EventKind::StateEntered { state_type, .. } => state_type.entered(),
            EventKind::StateExited { state_type, .. } => state_type.exited(),
            EventKind::StateAborted { state_type, .. } => state_type.aborted(),
            EventKind::TaskScheduled { resource, .. } => TaskResourceKind::of(resource).names()[0],
            EventKind::TaskStarted { resource } => TaskResourceKind::of(resource).names()[1],
            EventKind::ActivityStarted { .. } => "ActivityStarted",
            EventKind::TaskSubmitted { .. } => "TaskSubmitted",
            EventKind::TaskSucceeded { resource, .. } => TaskResourceKind::of(resource).names()[2],
            EventKind::TaskFailed { resource, .. } => TaskResourceKind::of(resource).names()[3],
            EventKind::TaskTimedOut { resource, .. } => TaskResourceKind::of(resource).names()[4],
            EventKind::ParallelStateStarted { .. } => "ParallelStateStarted",
            EventKind::ParallelStateSucceeded { .. } => "ParallelStateSucceeded",
            EventKind::ParallelStateFailed { .. } => "ParallelStateFailed",
            EventKind::MapStateStarted { .. } => "MapStateStarted",
            EventKind::MapIterationStarted { .. } => "MapIterationStarted",
            EventKind::MapIterationSucceeded { .. } => "MapIterationSucceeded",
            EventKind::MapIterationFailed { .. } => "MapIterationFailed",
            EventKind::MapIterationAborted { .. } => "MapIterationAborted",
            EventKind::MapStateSucceeded { .. } => "MapStateSucceeded",
            EventKind::MapStateFailed { .. } => "MapStateFailed",
            EventKind::MapRunStarted { .. } => "MapRunStarted",
            EventKind::MapRunSucceeded { .. } => "MapRunSucceeded",
            EventKind::MapRunFailed { .. } => "MapRunFailed",
            EventKind::MapRunRedriven { .. } => "MapRunRedriven",
        }
    }

    /// A one-line summary for tables: the state or resource, and the payload.
    pub fn summary(&self) -> String {
        match self {
            EventKind::ExecutionStarted { input } => format!("input {input}"),
            EventKind::ExecutionSucceeded { output } => format!("output {output}"),
            EventKind::ExecutionRedriven { redrive_count } => format!("redrive {redrive_count}"),
            EventKind::ExecutionFailed { error, cause }
            | EventKind::ExecutionTimedOut { error, cause }
            | EventKind::ExecutionAborted { error, cause }
            | EventKind::TaskFailed { error, cause, .. }
            | EventKind::TaskTimedOut { error, cause, .. }
            | EventKind::ParallelStateFailed { error, cause }
            | EventKind::MapStateFailed { error, cause }
            | EventKind::MapRunFailed { error, cause } => {
                format!("{error}: {cause}")
            }
            EventKind::MapIterationFailed { index, error, cause, .. } => format!("item {index}: {error}: {cause}"),
            EventKind::ParallelStateStarted { input, retry_after: None } => format!("input {input}"),
            EventKind::ParallelStateStarted { input, retry_after: Some(f) } => format!("retry after {}: input {input}", f.error),
            EventKind::ParallelStateSucceeded { output } | EventKind::MapStateSucceeded { output } => format!("output {output}"),
            EventKind::MapStateStarted { items, retry_after: None } => format!("{} item(s)", items.len()),
            EventKind::MapStateStarted { items, retry_after: Some(f) } => format!("retry after {}: {} item(s)", f.error, items.len()),
            EventKind::MapIterationStarted { index, .. } => format!("item {index}"),
            EventKind::MapIterationAborted { index, .. } => format!("item {index} stopped"),
            EventKind::StateAborted { name, .. } => format!("{name} stopped"),
            EventKind::MapIterationSucceeded { index, output, .. } => format!("item {index} output {output}"),
            EventKind::StateEntered { name, input, .. } => format!("{name} input {input}"),
            EventKind::StateExited { name, output, assigned_variables: Some(vars), .. } => {
                format!("{name} output {output} assigned {}", Value::Object(vars.clone()))
            }
            EventKind::StateExited { name, output, .. } => format!("{name} output {output}"),
            EventKind::TaskScheduled { resource, parameters, .. } => format!("{resource} parameters {parameters}"),
            EventKind::TaskStarted { resource } => resource.clone(),
            EventKind::ActivityStarted { resource, worker_name: Some(worker) } => format!("{resource} taken by {worker}"),
            EventKind::ActivityStarted { resource, worker_name: None } => format!("{resource} taken"),
            EventKind::TaskSucceeded { output, .. } => format!("output {output}"),
            EventKind::TaskSubmitted { output, .. } => format!("submitted, module output {output}"),
            EventKind::MapRunStarted { map_run_arn, .. } => map_run_arn.clone(),
            EventKind::MapRunRedriven { map_run_arn, redrive_count } => format!("{map_run_arn}, redrive {redrive_count}"),
            EventKind::MapRunSucceeded { output } => format!("output {output}"),
        }
    }
}

/// Where an event happened: the path of child indices from the top level
/// down through Parallel branches and Map iterations. `[]` is the top level,
/// `[1]` branch 1 (or item 1) of the Parallel (or Map) state running there,
/// `[1, 4]` item 4 of a Map running inside that branch.
/// Ordered by path: a scope sorts before the scopes below it.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Scope(pub Vec<u32>);

/// Maps keyed by scope are looked up by a path slice (an ancestor's, say)
/// without building a scope for it; the derived order and hash are the
/// vector's, which are the slice's.
impl std::borrow::Borrow<[u32]> for Scope {
    fn borrow(&self) -> &[u32] {
        &self.0
    }
}

impl Scope {
    pub fn root() -> Scope {
        Scope(Vec::new())
    }
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
    /// The scope of child `index` of the state running in this scope.
    pub fn child(&self, index: u32) -> Scope {
        let mut path = self.0.clone();
        path.push(index);
        Scope(path)
    }
    /// The enclosing scope (the root is its own parent).
    pub fn parent(&self) -> Scope {
        Scope(self.0[..self.0.len().saturating_sub(1)].to_vec())
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(u32::to_string).collect();
        f.write_str(&parts.join("."))
    }
}

/// One entry of an execution's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEvent {
    /// 1-based, consecutive.
    pub id: u64,
    /// The event this one follows in its own branch or iteration (the
    /// enclosing scope's latest event for the first one; 0 for the very first).
    pub previous_event_id: u64,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    #[serde(default, skip_serializing_if = "Scope::is_root")]
    pub scope: Scope,
    pub kind: EventKind,
}

/// Formats epoch milliseconds as RFC 3339 with milliseconds, as AWS does.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl HistoryEvent {
    /// The event as GetExecutionHistory returns it, for an execution in
    /// `region` (the region its task events name: see [`crate::arn::region_of`]).
    pub fn to_aws_json(&self, region: &str) -> Value {
        let (key, details) = match &self.kind {
            EventKind::ExecutionStarted { input } => ("executionStartedEventDetails", json!({"input": input.to_string()})),
            EventKind::ExecutionSucceeded { output } => ("executionSucceededEventDetails", json!({"output": output.to_string()})),
            EventKind::ExecutionFailed { error, cause } => ("executionFailedEventDetails", error_details(error, cause)),
            EventKind::ExecutionTimedOut { error, cause } => ("executionTimedOutEventDetails", error_details(error, cause)),
            EventKind::ExecutionAborted { error, cause } => ("executionAbortedEventDetails", error_details(error, cause)),
            EventKind::ExecutionRedriven { redrive_count } => ("executionRedrivenEventDetails", json!({"redriveCount": redrive_count})),
            EventKind::StateEntered { name, input, .. } => ("stateEnteredEventDetails", json!({"name": name, "input": input.to_string()})),
            EventKind::StateExited { name, output, assigned_variables, .. } => {
                let mut details = json!({"name": name, "output": output.to_string()});
                if let Some(vars) = assigned_variables {
                    // AWS gives each variable's value as JSON text.
                    let texts: serde_json::Map<String, Value> =
                        vars.iter().map(|(k, v)| (k.clone(), Value::String(v.to_string()))).collect();
                    details["assignedVariables"] = Value::Object(texts);
                    details["assignedVariablesDetails"] = json!({"truncated": false});
                }
                ("stateExitedEventDetails", details)
            }
            EventKind::TaskScheduled { resource, parameters, timeout_seconds, heartbeat_seconds } => {
                let kind = TaskResourceKind::of(resource);
                let mut details = match kind {
                    TaskResourceKind::Service => {
                        json!({"resourceType": resource_type(resource), "resource": resource_name(resource), "region": region, "parameters": parameters.to_string()})
                    }
                    TaskResourceKind::LambdaFunction | TaskResourceKind::Activity => {
                        json!({"resource": resource, "input": parameters.to_string(), "inputDetails": {"truncated": false}})
                    }
                };
                if let Some(timeout) = timeout_seconds {
                    details["timeoutInSeconds"] = json!(timeout);
                }
                // A Lambda function has no heartbeat in AWS's model.
                if let (Some(heartbeat), false) = (heartbeat_seconds, kind == TaskResourceKind::LambdaFunction) {
                    details["heartbeatInSeconds"] = json!(heartbeat);
                }
                (kind.details_keys()[0], details)
            }
            EventKind::TaskStarted { resource } => {
                let kind = TaskResourceKind::of(resource);
                let details = match kind {
                    TaskResourceKind::Service => json!({"resourceType": resource_type(resource), "resource": resource_name(resource)}),
                    TaskResourceKind::LambdaFunction | TaskResourceKind::Activity => json!({}),
                };
                (kind.details_keys()[1], details)
            }
            EventKind::ActivityStarted { worker_name, .. } => {
                let details = match worker_name {
                    Some(worker) if !worker.is_empty() => json!({"workerName": worker}),
                    _ => json!({}),
                };
                ("activityStartedEventDetails", details)
            }
            EventKind::TaskSubmitted { resource, output } => (
                "taskSubmittedEventDetails",
                json!({"resourceType": resource_type(resource), "resource": resource_name(resource), "output": output.to_string()}),
            ),
            EventKind::TaskSucceeded { resource, output } => {
                let kind = TaskResourceKind::of(resource);
                let details = match kind {
                    TaskResourceKind::Service => {
                        json!({"resourceType": resource_type(resource), "resource": resource_name(resource), "output": output.to_string()})
                    }
                    TaskResourceKind::LambdaFunction | TaskResourceKind::Activity => {
                        json!({"output": output.to_string(), "outputDetails": {"truncated": false}})
                    }
                };
                (kind.details_keys()[2], details)
            }
            EventKind::TaskFailed { resource, error, cause } => {
                let kind = TaskResourceKind::of(resource);
                (kind.details_keys()[3], task_error_details(kind, resource, error, cause))
            }
            EventKind::TaskTimedOut { resource, error, cause } => {
                let kind = TaskResourceKind::of(resource);
                (kind.details_keys()[4], task_error_details(kind, resource, error, cause))
            }
            // AWS's model gives these events no details; a failed Parallel or
            // Map's error and cause are those of the execution's failure (or
            // of the Catch that handles it).
            EventKind::ParallelStateStarted { .. }
            | EventKind::ParallelStateSucceeded { .. }
            | EventKind::MapStateSucceeded { .. }
            | EventKind::ParallelStateFailed { .. }
            | EventKind::MapStateFailed { .. }
            | EventKind::StateAborted { .. }
            | EventKind::MapRunSucceeded { .. } => ("", Value::Null),
            EventKind::MapRunStarted { map_run_arn, .. } => ("mapRunStartedEventDetails", json!({"mapRunArn": map_run_arn})),
            EventKind::MapRunFailed { error, cause } => ("mapRunFailedEventDetails", error_details(error, cause)),
            EventKind::MapRunRedriven { map_run_arn, redrive_count } => {
                ("mapRunRedrivenEventDetails", json!({"mapRunArn": map_run_arn, "redriveCount": redrive_count}))
            }
            EventKind::MapStateStarted { items, .. } => ("mapStateStartedEventDetails", json!({"length": items.len()})),
            EventKind::MapIterationStarted { name, index }
            | EventKind::MapIterationSucceeded { name, index, .. }
            | EventKind::MapIterationFailed { name, index, .. }
            | EventKind::MapIterationAborted { name, index } => {
                let key = match &self.kind {
                    EventKind::MapIterationStarted { .. } => "mapIterationStartedEventDetails",
                    EventKind::MapIterationSucceeded { .. } => "mapIterationSucceededEventDetails",
                    EventKind::MapIterationAborted { .. } => "mapIterationAbortedEventDetails",
                    _ => "mapIterationFailedEventDetails",
                };
                (key, json!({"name": name, "index": index}))
            }
        };
        let mut out = json!({
            "id": self.id,
            "previousEventId": self.previous_event_id,
            "timestamp": rfc3339(self.timestamp_ms),
            "type": self.kind.type_name(),
        });
        if !key.is_empty() {
            out[key] = details;
        }
        out
    }
}

/// `error` and `cause` as AWS's model has them: optional members, left out
/// when empty (a StopExecution without an error has none).
fn error_details(error: &str, cause: &str) -> Value {
    let mut details = serde_json::Map::new();
    if !error.is_empty() {
        details.insert("error".into(), json!(error));
    }
    if !cause.is_empty() {
        details.insert("cause".into(), json!(cause));
    }
    Value::Object(details)
}

/// What a Task state's resource is, which decides how AWS names and shapes
/// its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskResourceKind {
    /// A Lambda function's ARN called directly
    /// (`arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`):
    /// `LambdaFunctionScheduled`, `…Started`, `…Succeeded`, `…Failed`, `…TimedOut`.
    LambdaFunction,
    /// An activity's ARN: `ActivityScheduled`, `ActivityStarted` (a worker
    /// took it), `…Succeeded`, `…Failed`, `…TimedOut`.
    Activity,
    /// A service integration (`arn:aws:states:::SERVICE:ACTION`) or a
    /// resource the config maps to a module: `Task…` events.
    Service,
}

impl TaskResourceKind {
    pub fn of(resource: &str) -> TaskResourceKind {
        if stepwasm_asl::is_activity(resource) {
            return TaskResourceKind::Activity;
        }
        // stepwasm's `<resource>.waitForTaskToken` is a module that submits
        // and then waits: Task events (there is no LambdaFunctionSubmitted).
        let parts: Vec<&str> = resource.split(':').collect();
        let lambda = !resource.ends_with(".waitForTaskToken")
            && matches!(parts.len(), 7 | 8)
            && parts[0] == "arn"
            && parts[2] == "lambda"
            && parts[5] == "function"
            && parts[6..].iter().all(|p| !p.is_empty());
        if lambda {
            TaskResourceKind::LambdaFunction
        } else {
            TaskResourceKind::Service
        }
    }

    /// The event types of a task's scheduling, start, success, failure and timeout.
    fn names(self) -> [&'static str; 5] {
        match self {
            TaskResourceKind::LambdaFunction => [
                "LambdaFunctionScheduled",
                "LambdaFunctionStarted",
                "LambdaFunctionSucceeded",
                "LambdaFunctionFailed",
                "LambdaFunctionTimedOut",
            ],
            TaskResourceKind::Activity => {
                ["ActivityScheduled", "ActivityStarted", "ActivitySucceeded", "ActivityFailed", "ActivityTimedOut"]
            }
            TaskResourceKind::Service => ["TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskFailed", "TaskTimedOut"],
        }
    }

    /// The details member of each of [`Self::names`] (`""`: the model gives
    /// the event none).
    fn details_keys(self) -> [&'static str; 5] {
        match self {
            TaskResourceKind::LambdaFunction => [
                "lambdaFunctionScheduledEventDetails",
                "",
                "lambdaFunctionSucceededEventDetails",
                "lambdaFunctionFailedEventDetails",
                "lambdaFunctionTimedOutEventDetails",
            ],
            TaskResourceKind::Activity => [
                "activityScheduledEventDetails",
                "activityStartedEventDetails",
                "activitySucceededEventDetails",
                "activityFailedEventDetails",
                "activityTimedOutEventDetails",
            ],
            TaskResourceKind::Service => [
                "taskScheduledEventDetails",
                "taskStartedEventDetails",
                "taskSucceededEventDetails",
                "taskFailedEventDetails",
                "taskTimedOutEventDetails",
            ],
        }
    }
}

/// The service a task's resource belongs to, as AWS's events name it:
/// `lambda` for `arn:aws:states:::lambda:invoke`; `stepwasm` for a resource
/// mapped to a module by the config.
fn resource_type(resource: &str) -> &str {
    integration(resource).map_or("stepwasm", |(service, _)| service)
}

/// The resource as AWS's events name it: the integration's action
/// (`invoke`, `invoke.waitForTaskToken`), or the whole resource; one longer
/// than the model's 80 characters by its last `:` part, cut at 80.
fn resource_name(resource: &str) -> &str {
    let name = integration(resource).map_or(resource, |(_, action)| action);
    if name.chars().count() <= MAX_NAME_CHARS {
        return name;
    }
    let last = name.rsplit(':').next().unwrap_or(name);
    last.char_indices().nth(MAX_NAME_CHARS).map_or(last, |(cut, _)| &last[..cut])
}

/// The model's bound on a `Name` (`resourceType`, `resource`).
const MAX_NAME_CHARS: usize = 80;

/// `arn:aws:states:::SERVICE:ACTION` split into its service and action.
fn integration(resource: &str) -> Option<(&str, &str)> {
    resource.strip_prefix("arn:aws:states:::")?.split_once(':')
}

/// A task's failure: its resource (a Lambda function's or an activity's
/// events do not name it), then [`error_details`].
fn task_error_details(kind: TaskResourceKind, resource: &str, error: &str, cause: &str) -> Value {
    if kind != TaskResourceKind::Service {
        return error_details(error, cause);
    }
    let mut details = json!({"resourceType": resource_type(resource), "resource": resource_name(resource)});
    if let (Value::Object(out), Value::Object(errors)) = (&mut details, error_details(error, cause)) {
        out.extend(errors);
    }
    details
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: EventKind) -> Value {
        HistoryEvent { id: 2, previous_event_id: 1, timestamp_ms: 0, scope: Scope::root(), kind }.to_aws_json("us-east-1")
    }

    #[test]
    fn an_empty_error_or_cause_is_left_out_as_aws_leaves_it_out() {
        let aborted = event(EventKind::ExecutionAborted { error: String::new(), cause: String::new() });
        assert_eq!(aborted["executionAbortedEventDetails"], json!({}));
        let stopped = event(EventKind::ExecutionAborted { error: "Operator".into(), cause: String::new() });
        assert_eq!(stopped["executionAbortedEventDetails"], json!({"error": "Operator"}));
        let failed = event(EventKind::TaskFailed { resource: "r".into(), error: "E".into(), cause: String::new() });
        assert_eq!(failed["taskFailedEventDetails"], json!({"resourceType": "stepwasm", "resource": "r", "error": "E"}));
    }

    #[test]
    fn an_integration_is_named_by_its_service_and_action() {
        let parameters = Payload::from(json!({}));
        let scheduled = |resource: &str| {
            let kind = EventKind::TaskScheduled {
                resource: resource.into(),
                parameters: parameters.clone(),
                timeout_seconds: None,
                heartbeat_seconds: None,
            };
            let details = event(kind)["taskScheduledEventDetails"].clone();
            (details["resourceType"].as_str().unwrap().to_string(), details["resource"].as_str().unwrap().to_string())
        };
        assert_eq!(scheduled("arn:aws:states:::lambda:invoke"), ("lambda".into(), "invoke".into()));
        assert_eq!(scheduled("arn:aws:states:::lambda:invoke.waitForTaskToken"), ("lambda".into(), "invoke.waitForTaskToken".into()));
        assert_eq!(scheduled("wasm:echo"), ("stepwasm".into(), "wasm:echo".into()));
    }

    #[test]
    fn a_task_without_a_timeout_has_no_timeout_member() {
        let parameters = Payload::from(json!({"a": 1}));
        let scheduled = event(EventKind::TaskScheduled {
            resource: "r".into(),
            parameters: parameters.clone(),
            timeout_seconds: None,
            heartbeat_seconds: None,
        });
        assert!(scheduled["taskScheduledEventDetails"].get("timeoutInSeconds").is_none(), "{scheduled}");
        assert_eq!(scheduled["taskScheduledEventDetails"]["region"], "us-east-1", "botocore's model requires it");
        let bounded =
            event(EventKind::TaskScheduled { resource: "r".into(), parameters, timeout_seconds: Some(5), heartbeat_seconds: None });
        assert_eq!(bounded["taskScheduledEventDetails"]["timeoutInSeconds"], 5);
    }

    #[test]
    fn a_lambda_functions_arn_records_lambda_function_events() {
        let function = "arn:aws:lambda:us-east-1:123456789012:function:Charge";
        let input = Payload::from(json!({"a": 1}));
        let scheduled = event(EventKind::TaskScheduled {
            resource: function.into(),
            parameters: input,
            timeout_seconds: Some(5),
            heartbeat_seconds: None,
        });
        assert_eq!(scheduled["type"], "LambdaFunctionScheduled");
        assert_eq!(
            scheduled["lambdaFunctionScheduledEventDetails"],
            json!({"resource": function, "input": "{\"a\":1}", "inputDetails": {"truncated": false}, "timeoutInSeconds": 5})
        );
        let started = event(EventKind::TaskStarted { resource: function.into() });
        assert_eq!(started.as_object().unwrap().len(), 4, "LambdaFunctionStarted has no details: {started}");
        assert_eq!(started["type"], "LambdaFunctionStarted");
        let succeeded = event(EventKind::TaskSucceeded { resource: function.into(), output: Payload::from(json!(2)) });
        assert_eq!(succeeded["lambdaFunctionSucceededEventDetails"], json!({"output": "2", "outputDetails": {"truncated": false}}));
        let failed = event(EventKind::TaskFailed { resource: function.into(), error: "E".into(), cause: "C".into() });
        assert_eq!(failed["lambdaFunctionFailedEventDetails"], json!({"error": "E", "cause": "C"}));
        let timed_out = event(EventKind::TaskTimedOut { resource: function.into(), error: "States.Timeout".into(), cause: String::new() });
        assert_eq!(
            (timed_out["type"].as_str(), &timed_out["lambdaFunctionTimedOutEventDetails"]),
            (Some("LambdaFunctionTimedOut"), &json!({"error": "States.Timeout"}))
        );
        // A qualified ARN is a Lambda function's too; the optimized integration is not.
        assert_eq!(TaskResourceKind::of("arn:aws:lambda:eu-west-1:123456789012:function:Charge:live"), TaskResourceKind::LambdaFunction);
        assert_eq!(TaskResourceKind::of("arn:aws:states:::lambda:invoke"), TaskResourceKind::Service);
        assert_eq!(TaskResourceKind::of(&format!("{function}.waitForTaskToken")), TaskResourceKind::Service);
        assert_eq!(TaskResourceKind::of("arn:aws:lambda:us-east-1:123456789012:layer:x"), TaskResourceKind::Service);
    }

    #[test]
    fn an_activitys_arn_records_activity_events() {
        let activity = "arn:aws:states:us-east-1:123456789012:activity:approve";
        let scheduled = event(EventKind::TaskScheduled {
            resource: activity.into(),
            parameters: Payload::from(json!({})),
            timeout_seconds: Some(60),
            heartbeat_seconds: Some(10),
        });
        assert_eq!(scheduled["type"], "ActivityScheduled");
        assert_eq!(
            scheduled["activityScheduledEventDetails"],
            json!({"resource": activity, "input": "{}", "inputDetails": {"truncated": false}, "timeoutInSeconds": 60, "heartbeatInSeconds": 10})
        );
        let taken = event(EventKind::ActivityStarted { resource: activity.into(), worker_name: Some("w-1".into()) });
        assert_eq!(
            (taken["type"].as_str(), &taken["activityStartedEventDetails"]),
            (Some("ActivityStarted"), &json!({"workerName": "w-1"}))
        );
        let anonymous = event(EventKind::ActivityStarted { resource: activity.into(), worker_name: None });
        assert_eq!(anonymous["activityStartedEventDetails"], json!({}));
        let failed = event(EventKind::TaskFailed { resource: activity.into(), error: "E".into(), cause: String::new() });
        assert_eq!((failed["type"].as_str(), &failed["activityFailedEventDetails"]), (Some("ActivityFailed"), &json!({"error": "E"})));
        let timed_out = event(EventKind::TaskTimedOut { resource: activity.into(), error: "States.Timeout".into(), cause: "c".into() });
        assert_eq!(timed_out["type"], "ActivityTimedOut");
        let succeeded = event(EventKind::TaskSucceeded { resource: activity.into(), output: Payload::from(json!({})) });
        assert_eq!(succeeded["type"], "ActivitySucceeded");
    }

    #[test]
    fn a_resource_name_over_80_characters_is_cut_to_its_last_part() {
        let long = format!("arn:aws:states:local:000000000000:task:{}", "x".repeat(100));
        let started = event(EventKind::TaskStarted { resource: long });
        assert_eq!(started["taskStartedEventDetails"]["resource"], "x".repeat(80));
    }

    #[test]
    fn a_failed_parallel_or_map_has_only_the_members_of_aws_model() {
        for kind in [
            EventKind::MapStateFailed { error: "E".into(), cause: "C".into() },
            EventKind::ParallelStateFailed { error: "E".into(), cause: "C".into() },
        ] {
            let failed = event(kind);
            let members: Vec<&str> = failed.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(members, ["id", "previousEventId", "timestamp", "type"], "{failed}");
        }
    }
}
