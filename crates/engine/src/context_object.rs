//! The context object (`$$`, and `$states.context` in JSONata): what a
//! state's fields may read of the execution, the state machine, the current
//! state and, for a `.waitForTaskToken` task, its token; and whether a state
//! reads it at all, so that it is built only when needed.

use super::dataflow;
use super::frame::Env;
use super::history::rfc3339;
use super::task_token;
use serde_json::{json, Map, Value};
use stepwasm_asl::definition::{MapState, NumberSetting};
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
            StateKind::Choice(c) => {
                dataflow::uses_context(&c.io)
                    || c.choices
                        .iter()
                        .any(|rule| rule.condition.uses_context() || rule.assign.iter().chain(&rule.output).any(|t| t.uses_context()))
            }
            StateKind::Map(m) => map_reads_context(m) || catchers_read_context(state),
            StateKind::Wait(w) if matches!(&w.wait, WaitFor::SecondsPath(p) | WaitFor::TimestampPath(p) if p.root() == Root::Context) => {
                true
            }
            StateKind::Task(t) if t.timeout_seconds_path.iter().chain(&t.heartbeat_seconds_path).any(|p| p.root() == Root::Context) => true,
            _ => dataflow::uses_context(dataflow::io_settings(state)) || catchers_read_context(state),
        }
}

fn catchers_read_context(state: &State) -> bool {
    state.catchers().iter().any(|c| c.assign.as_ref().is_some_and(|t| t.uses_context()))
}

/// A Map state's fields that may read `$$` (its ItemSelector sees
/// `$$.Map.Item`); a map run keeps the context in its request, so a
/// Distributed Map that runs as one always builds it.
fn map_reads_context(m: &MapState) -> bool {
    let number = |setting: &Option<NumberSetting>| match setting {
        Some(NumberSetting::Path(p)) => p.root() == Root::Context,
        Some(NumberSetting::Expr(t)) => t.uses_context(),
        Some(NumberSetting::Fixed(_)) | None => false,
    };
    let batcher = m
        .item_batcher
        .as_ref()
        .is_some_and(|b| number(&b.max_items) || number(&b.max_bytes) || b.batch_input.as_ref().is_some_and(|t| t.uses_context()));
    m.distributed_run.is_some()
        || dataflow::uses_context(&m.io)
        || m.items_path.as_ref().is_some_and(|p| p.root() == Root::Context)
        || m.items.as_ref().is_some_and(|t| t.uses_context())
        || m.item_selector.as_ref().is_some_and(|t| t.uses_context())
        || number(&m.max_concurrency)
        || number(&m.tolerated_failure_count)
        || number(&m.tolerated_failure_percentage)
        || batcher
}

/// The context object for `state` at `position`.
pub(crate) fn context_object(env: &Env, state: &State, position: &StatePosition) -> Value {
    // Built field by field: `json!` would serialize the execution input
    // into a new value instead of cloning it.
    let object = |fields: Vec<(&str, Value)>| Value::Object(fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<Map<_, _>>());
    let text = |s: &str| Value::String(s.to_string());
    let mut fields = vec![
        (
            "Execution",
            object(vec![
                ("Id", text(&env.info.execution_arn)),
                ("Input", env.input.clone()),
                ("Name", text(&env.info.name)),
                ("RoleArn", text(&env.info.role_arn)),
                ("StartTime", Value::String(rfc3339(env.start_ms))),
                ("RedriveCount", json!(0)),
            ]),
        ),
        (
            "State",
            object(vec![
                ("EnteredTime", Value::String(rfc3339(position.entered_ms))),
                ("Name", text(position.name)),
                ("RetryCount", json!(position.retry_count)),
            ]),
        ),
        ("StateMachine", object(vec![("Id", text(&env.info.state_machine_arn)), ("Name", text(&env.info.state_machine_name))])),
    ];
    if matches!(&state.kind, StateKind::Task(t) if t.waits_for_task_token()) {
        let attempt = if position.preparing_next_attempt { position.attempt + 1 } else { position.attempt };
        fields.push(("Task", object(vec![("Token", Value::String(task_token(&env.info.execution_arn, position.entered_id, attempt)))])));
    }
    object(fields)
}
