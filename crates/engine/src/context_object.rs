//! The context object (`$$`, and `$states.context` in JSONata): what a
//! state's fields may read of the execution, the state machine, the current
//! state and, for a `.waitForTaskToken` task, its token; and whether a state
//! reads it at all, so that it is built only when needed.

use super::dataflow;
use super::frame::Env;
use super::history::rfc3339;
use super::task_token;
use serde_json::{json, Value};
use stepwasm_asl::path::Root;
use stepwasm_asl::{State, StateKind, WaitFor};

/// Where a frame is in its current state, as the context object tells it.
pub(crate) struct StatePosition<'a> {
    pub name: &'a str,
    /// The time and id of the state's `…StateEntered` event.
    pub entered_ms: i64,
    pub entered_id: u64,
    /// `$$.State.RetryCount`.
    pub retry_count: u32,
    /// The attempts scheduled so far.
    pub attempt: u32,
    /// The next attempt is being prepared (on entering, or after a failure):
    /// its parameters come before it starts, so the token is for that one.
    pub preparing_next_attempt: bool,
}

/// True when any field of `state` may read the context object.
pub(crate) fn reads_context(state: &State) -> bool {
    state.jsonata
        || match &state.kind {
            StateKind::Fail(f) => f.error_path.iter().chain(&f.cause_path).any(|t| t.uses_context()),
            // Rules and Map item selectors may read `$$`; building it is cheap next to them.
            StateKind::Choice(_) | StateKind::Map(_) => true,
            StateKind::Wait(w) if matches!(&w.wait, WaitFor::SecondsPath(p) | WaitFor::TimestampPath(p) if p.root() == Root::Context) => {
                true
            }
            StateKind::Task(t) if t.timeout_seconds_path.iter().chain(&t.heartbeat_seconds_path).any(|p| p.root() == Root::Context) => true,
            _ => {
                let io = dataflow::io_settings(state);
                dataflow::uses_context(io) || state.catchers().iter().any(|c| c.assign.as_ref().is_some_and(|t| t.uses_context()))
            }
        }
}

/// The context object for `state` at `position`.
pub(crate) fn context_object(env: &Env, state: &State, position: &StatePosition) -> Value {
    let mut context = json!({
        "Execution": {
            "Id": env.info.execution_arn,
            "Input": env.input,
            "Name": env.info.name,
            "RoleArn": env.info.role_arn,
            "StartTime": rfc3339(env.start_ms),
            "RedriveCount": 0,
        },
        "State": {
            "EnteredTime": rfc3339(position.entered_ms),
            "Name": position.name,
            "RetryCount": position.retry_count,
        },
        "StateMachine": {"Id": env.info.state_machine_arn, "Name": env.info.state_machine_name},
    });
    if matches!(&state.kind, StateKind::Task(t) if t.waits_for_task_token()) {
        let attempt = if position.preparing_next_attempt { position.attempt + 1 } else { position.attempt };
        context["Task"] = json!({"Token": task_token(&env.info.execution_arn, position.entered_id, attempt)});
    }
    context
}
