//! Running a `lambda:invoke` task (see [`crate::lambda`]): the function its
//! `FunctionName` names, among the loaded resources, on its `Payload`; the
//! outcome shaped as the optimized integration's.

use super::WasmRuntime;
use crate::lambda::{function_error_cause, invoke_response, match_function, parse_function};
use serde_json::Value;
use stepwasm_asl::errors;
use stepwasm_engine::{Payload, TaskInvocation, TaskOutcome};

impl WasmRuntime {
    /// Runs the function a `lambda:invoke` task names on its `Payload`.
    pub(super) async fn invoke_lambda(&self, task: &TaskInvocation) -> TaskOutcome {
        let failed = |cause: String| TaskOutcome::Failed { error: errors::TASK_FAILED.into(), cause };
        let Some(function) = task.input.get("FunctionName").and_then(Value::as_str) else {
            return failed(format!("{}: the parameters have no FunctionName string", task.resource));
        };
        let Some(reference) = parse_function(function) else {
            return failed(format!("FunctionName {function:?} is not a Lambda function name or ARN"));
        };
        let resource = match match_function(self.resources.keys().map(String::as_str), function) {
            Ok(resource) => resource.to_string(),
            Err(why) => return failed(format!("state {:?}: {why}", task.state_name)),
        };
        // Without a Payload the function gets an empty event, as on AWS.
        let payload = task.input.get("Payload").cloned().unwrap_or_else(|| Value::Object(Default::default()));
        let inner = TaskInvocation { resource, input: Payload::from(payload), ..task.clone() };
        match self.invoke_module(&inner).await {
            TaskOutcome::Succeeded(output) => TaskOutcome::Succeeded(invoke_response(output, &reference)),
            // The handler's own error is a Lambda function error; the host's
            // (States.Timeout, a trap, a limit) stay as they are.
            TaskOutcome::Failed { error, cause } if !error.starts_with("States.") => {
                let cause = function_error_cause(&error, &cause);
                TaskOutcome::Failed { error, cause }
            }
            other => other,
        }
    }
}
