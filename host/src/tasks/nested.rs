//! Nested executions (`arn:aws:states:::states:startExecution`, `.sync`,
//! `.sync:2`, `.waitForTaskToken`): the child is started through the API's
//! own StartExecution (so `serve` drives it like any other), named after the
//! parent's attempt unless `Name` says otherwise, so a parent replayed after
//! a crash finds its child instead of starting a second one.
//!
//! Plain: `{ExecutionArn, StartDate}` at once. `.sync`: the child's
//! DescribeExecution in the integration's shape (capitalised keys, dates in
//! epoch milliseconds, `Input`/`Output` as JSON text; `.sync:2` as JSON),
//! waited for by polling the store (no thread held); a child that did not
//! succeed fails the task with `States.TaskFailed`, its DescribeExecution as
//! the cause. `.waitForTaskToken`: started, then the driver awaits the token.
//! An API error is `StepFunctions.<code>` (e.g. `StepFunctions.ExecutionAlreadyExists`).

use crate::api::actions::dispatch;
use crate::api::{Api, ApiError, Params};
use crate::engine::{TaskInvocation, TaskOutcome};
use crate::store::{ExecutionStatus, Journal as _};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// The field a parent puts in its child's input to link them (AWS's name).
pub const STARTED_BY: &str = "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID";

/// How a nested execution is waited for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pattern {
    /// Started; the task ends at once.
    Start,
    /// `.sync`: until the child ends; `Input`/`Output` as JSON text.
    Sync,
    /// `.sync:2`: until the child ends; `Input`/`Output` as JSON.
    Sync2,
    /// `.waitForTaskToken`: started; the driver waits for the token.
    WaitForTaskToken,
}

/// The pattern of a `states:startExecution` resource, if `resource` is one.
pub fn pattern_of(resource: &str) -> Option<Pattern> {
    let rest = resource.strip_prefix("arn:")?.split_once(":states:::")?.1.strip_prefix("states:startExecution")?;
    match rest {
        "" => Some(Pattern::Start),
        ".sync" => Some(Pattern::Sync),
        ".sync:2" => Some(Pattern::Sync2),
        ".waitForTaskToken" => Some(Pattern::WaitForTaskToken),
        _ => None,
    }
}

/// The longest pause between two looks at a running child.
const POLL_AT_MOST: Duration = Duration::from_secs(1);

/// Starts and follows nested executions on `serve`'s host, through its API.
pub struct NestedExecutions {
    api: Arc<Api>,
}

/// What a task asks for: the child's machine, its input (JSON text) and name.
struct Request {
    state_machine_arn: String,
    input_text: String,
    input: Value,
    name: String,
    /// The name came from the parent's attempt, not from `Name`.
    derived_name: bool,
}

fn runtime_failure(state: &str, why: String) -> TaskOutcome {
    TaskOutcome::Failed { error: crate::asl::errors::RUNTIME.into(), cause: format!("state {state:?}: states:startExecution: {why}") }
}

/// An API error as the integration reports it (`StepFunctions.<code>`); a
/// failure of the host's store is no failure of the task (driven again).
fn api_failure(e: ApiError) -> TaskOutcome {
    if e.status >= 500 {
        return TaskOutcome::StoreUnavailable { cause: e.message };
    }
    TaskOutcome::Failed {
        error: format!("StepFunctions.{}", e.code),
        cause: format!("{} (Service: AWSStepFunctions; Status Code: {}; Error Code: {}; Proxy: null)", e.message, e.status, e.code),
    }
}

/// A UUID-shaped name derived from the parent's attempt: the same when a
/// crash replays the attempt, another for every other attempt.
fn name_of_attempt(task: &TaskInvocation) -> String {
    let digest = Sha256::digest(task.attempt_key().as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// Reads `Parameters` with AWS's field names.
fn read_request(task: &TaskInvocation) -> Result<Request, String> {
    let Value::Object(fields) = &*task.input else {
        return Err(format!("Parameters must be an object, not {}", task.input));
    };
    const KNOWN: [&str; 3] = ["StateMachineArn", "Input", "Name"];
    if let Some(unknown) = fields.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(format!("the field {unknown:?} is not supported (supported: {})", KNOWN.join(", ")));
    }
    let state_machine_arn = fields.get("StateMachineArn").and_then(Value::as_str).ok_or("StateMachineArn (a string) is required")?;
    let (input_text, input) = match fields.get("Input") {
        None | Some(Value::Null) => ("{}".to_string(), json!({})),
        Some(Value::String(text)) => {
            (text.clone(), serde_json::from_str(text).map_err(|e| format!("Input is a string that is not JSON text: {e}"))?)
        }
        Some(other) => (other.to_string(), other.clone()),
    };
    let (name, derived_name) = match fields.get("Name") {
        None | Some(Value::Null) => (name_of_attempt(task), true),
        Some(Value::String(name)) => (name.clone(), false),
        Some(other) => return Err(format!("Name must be a string, not {other}")),
    };
    Ok(Request { state_machine_arn: state_machine_arn.to_string(), input_text, input, name, derived_name })
}

/// An epoch-seconds date of the API as the integration's epoch milliseconds.
fn millis(seconds: &Value) -> Value {
    seconds.as_f64().map_or(Value::Null, |s| json!((s * 1000.0).round() as i64))
}

/// DescribeExecution's answer in the integration's shape: keys capitalised,
/// dates in milliseconds; with `json_io` (`.sync:2`) `Input` and `Output` parsed.
fn integration_shape(described: &Value, json_io: bool) -> Value {
    let mut shaped = Map::new();
    let Value::Object(fields) = described else { return described.clone() };
    for (key, value) in fields {
        let mut chars = key.chars();
        let capitalised: String = chars.next().map(|c| c.to_ascii_uppercase()).into_iter().chain(chars).collect();
        let value = match (key.as_str(), value) {
            (k, v) if k.ends_with("Date") => millis(v),
            ("inputDetails" | "outputDetails", v) => json!({"Included": v.get("included").cloned().unwrap_or(json!(true))}),
            ("input" | "output", Value::String(text)) if json_io => serde_json::from_str(text).unwrap_or_else(|_| json!(text)),
            (_, v) => v.clone(),
        };
        shaped.insert(capitalised, value);
    }
    Value::Object(shaped)
}

/// The execution ARN of `name` under state machine `arn` (AWS's rule), also
/// when the child was started through a version or alias ARN (its
/// executions are the unqualified machine's).
fn execution_arn(state_machine_arn: &str, name: &str) -> Option<String> {
    let base = crate::engine::arn::StateMachineArn::parse(state_machine_arn)?.base;
    crate::engine::arn::execution_of(base, name).map(|info| info.execution_arn)
}

impl NestedExecutions {
    pub fn new(api: Arc<Api>) -> NestedExecutions {
        NestedExecutions { api }
    }

    /// The API children are started through (a map run's too).
    pub fn api(&self) -> &Arc<Api> {
        &self.api
    }

    async fn call(&self, action: &str, params: Value) -> Result<Value, ApiError> {
        let params = Params::parse(params.to_string().as_bytes())?;
        // Boxed: an action (TestState) may run tasks, which may call actions.
        let call: std::pin::Pin<Box<dyn std::future::Future<Output = Result<Value, ApiError>> + Send + '_>> =
            Box::pin(dispatch(&self.api, action, params));
        call.await
    }

    async fn describe(&self, arn: &str) -> Result<Value, ApiError> {
        self.call("DescribeExecution", json!({"executionArn": arn})).await
    }

    /// Starts the child (or finds the one this attempt started before a
    /// crash); its ARN and start date (epoch seconds).
    async fn start(&self, task: &TaskInvocation, request: &Request) -> Result<(String, Value), ApiError> {
        let params = json!({"stateMachineArn": request.state_machine_arn, "name": request.name, "input": request.input_text});
        match self.call("StartExecution", params).await {
            Ok(started) => Ok((started["executionArn"].as_str().unwrap_or_default().to_string(), started["startDate"].clone())),
            Err(refused) if refused.code == "ExecutionAlreadyExists" => {
                // Ended already: ours if this attempt named it, or it says
                // this parent started it, with the same input.
                let Some(arn) = execution_arn(&request.state_machine_arn, &request.name) else { return Err(refused) };
                let Ok(existing) = self.describe(&arn).await else { return Err(refused) };
                let input: Value = existing["input"].as_str().and_then(|t| serde_json::from_str(t).ok()).unwrap_or(Value::Null);
                let linked = request.derived_name || input.get(STARTED_BY).and_then(Value::as_str) == Some(task.execution_id.as_str());
                if linked && input == request.input {
                    Ok((arn, existing["startDate"].clone()))
                } else {
                    Err(refused)
                }
            }
            Err(refused) => Err(refused),
        }
    }

    /// Waits for the child `arn` to end, polling the store (from 20 ms,
    /// doubling to 1 s); false when `deadline` passed first.
    async fn wait_for_end(&self, arn: &str, deadline: Option<tokio::time::Instant>) -> Result<bool, ApiError> {
        let mut pause = Duration::from_millis(20);
        loop {
            match self.api.store.execution(arn) {
                Ok(Some(child)) if child.status != ExecutionStatus::Running => return Ok(true),
                Ok(Some(_)) => {}
                Ok(None) => return Err(ApiError::new("ExecutionDoesNotExist", format!("Execution Does Not Exist: '{arn}'"))),
                Err(e) if e.is_transient() => {}
                Err(e) => return Err(e.into()),
            }
            if deadline.is_some_and(|d| tokio::time::Instant::now() + pause > d) {
                return Ok(false);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(POLL_AT_MOST);
        }
    }

    /// Runs one `states:startExecution` task.
    pub async fn invoke(&self, pattern: Pattern, task: &TaskInvocation) -> TaskOutcome {
        let request = match read_request(task) {
            Ok(request) => request,
            Err(why) => return runtime_failure(&task.state_name, why),
        };
        let (arn, start_date) = match self.start(task, &request).await {
            Ok(started) => started,
            Err(e) => return api_failure(e),
        };
        let json_io = match pattern {
            Pattern::Start | Pattern::WaitForTaskToken => {
                return TaskOutcome::Succeeded(json!({"ExecutionArn": arn, "StartDate": millis(&start_date)}))
            }
            Pattern::Sync => false,
            Pattern::Sync2 => true,
        };
        let deadline = task.timeout_seconds.map(|t| tokio::time::Instant::now() + Duration::from_secs(t));
        match self.wait_for_end(&arn, deadline).await {
            Ok(true) => {}
            Ok(false) => {
                let cause = format!("the nested execution {arn} was still running after the state's TimeoutSeconds");
                return TaskOutcome::TimedOut { cause };
            }
            Err(e) => return api_failure(e),
        }
        let described = match self.describe(&arn).await {
            Ok(described) => integration_shape(&described, json_io),
            Err(e) => return api_failure(e),
        };
        if described["Status"] == "SUCCEEDED" {
            TaskOutcome::Succeeded(described)
        } else {
            TaskOutcome::Failed { error: crate::asl::errors::TASK_FAILED.into(), cause: described.to_string() }
        }
    }
}

/// A nested execution where no host runs them (`stepwasm run`, TestState).
pub fn unavailable(task: &TaskInvocation) -> TaskOutcome {
    let cause = format!(
        "state {:?}: {} starts a nested execution, which runs only under `stepwasm serve` (its store holds the state machines); \
         this command has none",
        task.state_name, task.resource
    );
    TaskOutcome::Failed { error: crate::asl::errors::RUNTIME.into(), cause }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_started_through_a_version_or_alias_is_an_execution_of_its_machine() {
        let machine = "arn:aws:states:eu-west-1:123456789012:stateMachine:child";
        let expected = Some("arn:aws:states:eu-west-1:123456789012:execution:child:run-1".to_string());
        assert_eq!(execution_arn(machine, "run-1"), expected);
        assert_eq!(execution_arn(&format!("{machine}:3"), "run-1"), expected);
        assert_eq!(execution_arn(&format!("{machine}:prod"), "run-1"), expected);
        assert_eq!(execution_arn("arn:aws:lambda:eu-west-1:123456789012:function:child", "run-1"), None);
    }

    #[test]
    fn resources_name_their_pattern() {
        assert_eq!(pattern_of("arn:aws:states:::states:startExecution"), Some(Pattern::Start));
        assert_eq!(pattern_of("arn:aws:states:::states:startExecution.sync"), Some(Pattern::Sync));
        assert_eq!(pattern_of("arn:aws:states:::states:startExecution.sync:2"), Some(Pattern::Sync2));
        assert_eq!(pattern_of("arn:aws:states:::states:startExecution.waitForTaskToken"), Some(Pattern::WaitForTaskToken));
        assert_eq!(pattern_of("arn:aws:states:::states:startExecution.sync:3"), None);
        assert_eq!(pattern_of("arn:aws:states:::lambda:invoke"), None);
    }

    #[test]
    fn described_executions_take_the_integrations_shape() {
        let described = json!({"executionArn": "a", "startDate": 1.5, "input": "{\"x\":1}", "inputDetails": {"included": true},
            "output": "[1]", "status": "SUCCEEDED"});
        let text = integration_shape(&described, false);
        assert_eq!(
            text,
            json!({"ExecutionArn": "a", "StartDate": 1500, "Input": "{\"x\":1}", "InputDetails": {"Included": true},
            "Output": "[1]", "Status": "SUCCEEDED"})
        );
        let parsed = integration_shape(&described, true);
        assert_eq!((&parsed["Input"], &parsed["Output"]), (&json!({"x": 1}), &json!([1])));
    }
}
