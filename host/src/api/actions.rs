//! The Step Functions actions: each takes the request's parameters and
//! answers with AWS's response shape, or an error with AWS's code. State
//! machines, executions and histories live in the store; executions are run
//! by `serve`'s host (woken when one starts or stops), except
//! StartSyncExecution, which runs here and keeps nothing. Both starts are
//! refused with `ThrottlingException` while the host is saturated.

use super::pagination::{number_key, page, Order};
use super::protocol::{check_arn, check_name, date, ApiError, ArnKind, Params};
use super::resolved::Resolved;
use super::state_machine_config::{logging_json, tracing_json};
use super::versions::{self, Target};
use super::{aliases, map_runs, state_machine_config, Api};
use crate::asl::parse_definition;
use crate::asl::size::json_size;
use crate::driver::{run_execution, Clock, SystemClock};
use crate::engine::arn::ArnScope;
use crate::engine::{ExecutionInfo, HistoryEvent, Outcome, MAX_PAYLOAD_BYTES};
use crate::runtime::instance_slots::InstanceSlots;
use crate::store::{
    redrive_refusal, ActivityRecord, ExecutionStatus, ExecutionSummary, Journal, StateMachineDetails, StateMachineRecord, Store,
    StoreError, TaskResult,
};
use crate::tasks::mocks::TestCase;
use crate::tasks::HostTasks;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Every action this API answers (others get UnknownOperationException).
pub const ACTIONS: &[&str] = &[
    "CreateStateMachine",
    "UpdateStateMachine",
    "DeleteStateMachine",
    "DescribeStateMachine",
    "ListStateMachines",
    "DescribeStateMachineForExecution",
    "ValidateStateMachineDefinition",
    "StartExecution",
    "StartSyncExecution",
    "StopExecution",
    "RedriveExecution",
    "DescribeExecution",
    "ListExecutions",
    "GetExecutionHistory",
    "SendTaskSuccess",
    "SendTaskFailure",
    "SendTaskHeartbeat",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "TestState",
    "CreateActivity",
    "DescribeActivity",
    "ListActivities",
    "DeleteActivity",
    "GetActivityTask",
    "PublishStateMachineVersion",
    "ListStateMachineVersions",
    "DeleteStateMachineVersion",
    "CreateStateMachineAlias",
    "DescribeStateMachineAlias",
    "UpdateStateMachineAlias",
    "ListStateMachineAliases",
    "DeleteStateMachineAlias",
    "ListMapRuns",
    "DescribeMapRun",
    "UpdateMapRun",
];

/// Runs `action`, making ARNs in the API's own region and account.
pub async fn dispatch(api: &Api, action: &str, params: Params) -> Result<Value, ApiError> {
    dispatch_in(api, &api.arns, action, params).await
}

/// Runs `action`, making ARNs (of new state machines) in `scope`.
pub async fn dispatch_in(api: &Api, scope: &ArnScope, action: &str, params: Params) -> Result<Value, ApiError> {
    match action {
        "StartExecution" => start_execution(api, &params).await,
        "StartSyncExecution" => start_sync_execution(api, &params).await,
        "TestState" => super::test_state::test_state(api, &params).await,
        "GetActivityTask" => super::activities::get_task(api, &params).await,
        // The rest read and write SQLite, and Create/UpdateStateMachine may
        // compile modules: blocking work, done so that the worker's other
        // tasks (executions, other requests) move to another thread meanwhile.
        _ => tokio::task::block_in_place(|| {
            let answer = dispatch_blocking(api, scope, action, &params);
            // After the change is in the store: a start resolving meanwhile
            // is not kept (see `resolved`).
            if !leaves_definitions_alone(action) {
                api.resolved.forget();
            }
            answer
        }),
    }
}

/// Whether `action` cannot change what a start resolves to (a state
/// machine, its versions, aliases, tags or modules): the reads, and what
/// acts on executions and activities. Any other action, one added later
/// included, empties the cache of resolved starts.
fn leaves_definitions_alone(action: &str) -> bool {
    matches!(
        action,
        "DescribeStateMachine"
            | "ListStateMachines"
            | "DescribeStateMachineForExecution"
            | "ValidateStateMachineDefinition"
            | "StopExecution"
            | "RedriveExecution"
            | "DescribeExecution"
            | "ListExecutions"
            | "GetExecutionHistory"
            | "SendTaskSuccess"
            | "SendTaskFailure"
            | "SendTaskHeartbeat"
            | "ListTagsForResource"
            | "CreateActivity"
            | "DescribeActivity"
            | "ListActivities"
            | "DeleteActivity"
            | "ListStateMachineVersions"
            | "DescribeStateMachineAlias"
            | "ListStateMachineAliases"
            | "ListMapRuns"
            | "DescribeMapRun"
            | "UpdateMapRun"
    )
}

/// The actions that run to completion without waiting on anything but the
/// store and the compiler.
fn dispatch_blocking(api: &Api, scope: &ArnScope, action: &str, params: &Params) -> Result<Value, ApiError> {
    match action {
        "CreateStateMachine" => create_state_machine(api, scope, params),
        "UpdateStateMachine" => update_state_machine(api, params),
        "DeleteStateMachine" => delete_state_machine(api, params),
        "DescribeStateMachine" => describe_state_machine(api, params),
        "ListStateMachines" => list_state_machines(api, params),
        "DescribeStateMachineForExecution" => describe_state_machine_for_execution(api, params),
        "ValidateStateMachineDefinition" => validate_definition(params),
        "StopExecution" => stop_execution(api, params),
        "RedriveExecution" => redrive_execution(api, params),
        "DescribeExecution" => describe_execution(api, params),
        "ListExecutions" => list_executions(api, params),
        "GetExecutionHistory" => get_execution_history(api, params),
        "SendTaskSuccess" => send_task_success(api, params),
        "SendTaskFailure" => send_task_failure(api, params),
        "SendTaskHeartbeat" => send_task_heartbeat(api, params),
        "TagResource" => tag_resource(api, params),
        "UntagResource" => untag_resource(api, params),
        "ListTagsForResource" => list_tags(api, params),
        "CreateActivity" => super::activities::create(api, scope, params),
        "DescribeActivity" => super::activities::describe(api, params),
        "ListActivities" => super::activities::list(api, params),
        "DeleteActivity" => super::activities::delete(api, params),
        "PublishStateMachineVersion" => versions::publish_state_machine_version(api, params),
        "ListStateMachineVersions" => versions::list_state_machine_versions(api, params),
        "DeleteStateMachineVersion" => versions::delete_state_machine_version(api, params),
        "CreateStateMachineAlias" => aliases::create(api, params),
        "DescribeStateMachineAlias" => aliases::describe(api, params),
        "UpdateStateMachineAlias" => aliases::update(api, params),
        "ListStateMachineAliases" => aliases::list(api, params),
        "DeleteStateMachineAlias" => aliases::delete(api, params),
        "ListMapRuns" => map_runs::list(api, params),
        "DescribeMapRun" => map_runs::describe(api, params),
        "UpdateMapRun" => map_runs::update(api, params),
        other => {
            Err(ApiError::new("UnknownOperationException", format!("unknown action {other:?}; this API answers {}", ACTIONS.join(", "))))
        }
    }
}

/// Parses and checks a definition: valid ASL, size, and every Task resource
/// mapped to a module.
fn checked_definition(api: &Api, definition: &str, kind: &str) -> Result<(), ApiError> {
    // (A definition cannot be over 1 MiB: the request body is capped there.)
    let invalid = |message: String| ApiError::new("InvalidDefinition", format!("Invalid State Machine Definition: {message}"));
    let machine = parse_definition(definition).map_err(|e| invalid(e.to_string()))?;
    api.machines.check_resources(&machine).map_err(|e| invalid(format!("{e:#}")))?;
    for (state, resource) in machine.task_resources() {
        if crate::asl::is_activity(resource) && api.store.activity(resource)?.is_none() {
            return Err(invalid(format!("state {state:?}: activity {resource} does not exist (CreateActivity first)")));
        }
    }
    if kind == "EXPRESS" {
        let waits = |resource: &str| resource.ends_with(crate::asl::WAIT_FOR_TASK_TOKEN) || crate::asl::is_activity(resource);
        if let Some((state, _)) = machine.task_resources().into_iter().find(|(_, r)| waits(r)) {
            return Err(invalid(format!(
                "state {state:?}: an EXPRESS state machine cannot wait for a task token (.waitForTaskToken, activities)"
            )));
        }
    }
    Ok(())
}

fn role_arn<'a>(params: &'a Params, name: &str) -> Result<Option<&'a str>, ApiError> {
    match params.optional_str(name)? {
        Some(arn) if !crate::engine::arn::is_iam_role_arn(arn) => Err(ApiError::new(
            "InvalidArn",
            format!("Invalid Arn: '{name}' is {arn:?}, expected an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)"),
        )),
        role => Ok(role),
    }
}

fn state_machine_type(params: &Params) -> Result<String, ApiError> {
    match params.optional_str("type")?.unwrap_or("STANDARD") {
        kind @ ("STANDARD" | "EXPRESS") => Ok(kind.to_string()),
        other => Err(ApiError::validation(format!("type {other:?}: must be STANDARD or EXPRESS"))),
    }
}

fn existing_state_machine(api: &Api, arn: &str) -> Result<StateMachineRecord, ApiError> {
    api.store
        .describe_state_machine(arn)?
        .ok_or_else(|| ApiError::new("StateMachineDoesNotExist", format!("State Machine Does Not Exist: '{arn}'")))
}

/// `versionDescription`, which AWS takes only with `publish`.
fn version_description(params: &Params, publish: bool) -> Result<Option<&str>, ApiError> {
    let description = params.optional_str("versionDescription")?;
    if description.is_some() && !publish {
        return Err(ApiError::validation("versionDescription can only be given with publish: true"));
    }
    Ok(description)
}

fn create_state_machine(api: &Api, scope: &ArnScope, params: &Params) -> Result<Value, ApiError> {
    let name = params.required_str("name")?;
    check_name("state machine", name)?;
    let definition = params.required_str("definition")?;
    params.required_str("roleArn")?;
    let role_arn = role_arn(params, "roleArn")?.unwrap_or_default();
    let kind = state_machine_type(params)?;
    let logging = state_machine_config::logging(params.optional_object("loggingConfiguration")?.as_ref())?;
    let tracing_enabled = state_machine_config::tracing(params.optional_object("tracingConfiguration")?.as_ref())?.unwrap_or(false);
    let publish = params.optional_bool("publish")?.unwrap_or(false);
    let version_description = version_description(params, publish)?;
    checked_definition(api, definition, &kind)?;
    // The region the client signs for (else the host's) and the host's account.
    let arn = scope.state_machine_arn(name);
    let tags = params.tags("tags")?.into_iter().collect();
    let details = StateMachineDetails { kind, role_arn: role_arn.to_string(), tags, logging, tracing_enabled };
    let answer = |machine: &StateMachineRecord| -> Result<Value, ApiError> {
        let mut response = json!({"stateMachineArn": machine.arn, "creationDate": date(machine.created_ms.unwrap_or(0))});
        if publish {
            response["stateMachineVersionArn"] = json!(versions::publish(api, machine, version_description)?.arn());
        }
        Ok(response)
    };
    if let Some(existing) = api.store.describe_state_machine(&arn)? {
        // AWS: the same name with the same definition, type, logging and
        // tracing is the same state machine, whatever its role and tags
        // (they are not updated); anything else is a conflict.
        let same = existing.definition == definition
            && existing.details.kind == details.kind
            && logging_json(existing.details.logging.as_ref()) == logging_json(details.logging.as_ref())
            && existing.details.tracing_enabled == details.tracing_enabled;
        if same {
            return answer(&existing);
        }
        return Err(ApiError::new(
            "StateMachineAlreadyExists",
            format!("State Machine Already Exists: '{arn}' (with another definition or settings)"),
        ));
    }
    api.store.put_state_machine(&arn, name, definition)?;
    api.store.set_state_machine_details(&arn, &details)?;
    answer(&existing_state_machine(api, &arn)?)
}

fn update_state_machine(api: &Api, params: &Params) -> Result<Value, ApiError> {
    let arn = versions::unqualified("stateMachineArn", params.required_str("stateMachineArn")?)?.base;
    let definition = params.optional_str("definition")?;
    let role_arn = role_arn(params, "roleArn")?;
    let logging = state_machine_config::logging(params.optional_object("loggingConfiguration")?.as_ref())?;
    let tracing_enabled = state_machine_config::tracing(params.optional_object("tracingConfiguration")?.as_ref())?;
    let publish = params.optional_bool("publish")?.unwrap_or(false);
    let version_description = version_description(params, publish)?;
    if definition.is_none() && role_arn.is_none() && logging.is_none() && tracing_enabled.is_none() {
        return Err(ApiError::new(
            "MissingRequiredParameter",
            "give a definition, roleArn, loggingConfiguration or tracingConfiguration to update",
        ));
    }
    let existing = existing_state_machine(api, arn)?;
    if let Some(definition) = definition {
        checked_definition(api, definition, &existing.details.kind)?;
        api.store.put_state_machine(arn, &existing.name, definition)?;
    }
    if role_arn.is_some() || logging.is_some() || tracing_enabled.is_some() {
        let details = StateMachineDetails {
            role_arn: role_arn.map_or(existing.details.role_arn.clone(), str::to_string),
            logging: logging.or(existing.details.logging.clone()),
            tracing_enabled: tracing_enabled.unwrap_or(existing.details.tracing_enabled),
            ..existing.details
        };
        api.store.set_state_machine_details(arn, &details)?;
    }
    let updated = existing_state_machine(api, arn)?;
    let mut response = json!({"updateDate": date(SystemClock.now_ms()), "revisionId": versions::current_revision(&updated)});
    if publish {
        response["stateMachineVersionArn"] = json!(versions::publish(api, &updated, version_description)?.arn());
    }
    Ok(response)
}

fn delete_state_machine(api: &Api, params: &Params) -> Result<Value, ApiError> {
    let arn = check_arn("stateMachineArn", params.required_str("stateMachineArn")?, ArnKind::StateMachine)?;
    // AWS answers a deletion of a machine that is not there with success
    // too, and deletes its versions and aliases with it.
    api.store.delete_state_machine(arn)?;
    api.store.delete_versions_and_aliases(arn)?;
    Ok(json!({}))
}

fn describe_state_machine(api: &Api, params: &Params) -> Result<Value, ApiError> {
    let machine = match versions::resolve(api, "stateMachineArn", params.required_str("stateMachineArn")?)? {
        Target::Latest(machine) => machine,
        Target::Version(machine, version) => return versions::describe_version(api, &machine, &version),
        Target::Alias(_, alias) => {
            return Err(ApiError::new(
                "InvalidArn",
                format!(
                    "Invalid Arn: '{}' is an alias: DescribeStateMachineAlias describes it, DescribeStateMachine its versions",
                    alias.arn
                ),
            ))
        }
    };
    Ok(json!({
        "stateMachineArn": machine.arn,
        "name": machine.name,
        "status": "ACTIVE",
        "definition": machine.definition,
        "roleArn": machine.details.role_arn,
        "type": machine.details.kind,
        "creationDate": date(machine.created_ms.unwrap_or(0)),
        "revisionId": versions::current_revision(&machine),
        "loggingConfiguration": logging_json(machine.details.logging.as_ref()),
        "tracingConfiguration": tracing_json(machine.details.tracing_enabled),
    }))
}

fn list_state_machines(api: &Api, params: &Params) -> Result<Value, ApiError> {
    let size = params.page_size(100, 1000)?;
    let mut machines = api.store.state_machines()?;
    // A Distributed Map's child state machines (`<machine>/<label>`) are
    // not listed, as AWS lists none of them.
    machines.retain(|m| !m.name.contains('/'));
    // Listed by name (the store's order).
    let (shown, next) = page(&machines, params.optional_str("nextToken")?, size, "ListStateMachines", Order::Ascending, |m| {
        format!("{}\n{}", m.name, m.arn)
    })?;
    let listed: Vec<Value> = shown
        .iter()
        .map(|m| json!({"stateMachineArn": m.arn, "name": m.name, "type": m.details.kind, "creationDate": date(m.created_ms.unwrap_or(0))}))
        .collect();
    Ok(with_next(json!({"stateMachines": listed}), next))
}

fn with_next(mut response: Value, next: Option<String>) -> Value {
    if let Some(token) = next {
        response["nextToken"] = json!(token);
    }
    response
}

fn describe_state_machine_for_execution(api: &Api, params: &Params) -> Result<Value, ApiError> {
    let execution = existing_execution(api, params)?;
    let (version, definition) = api.store.execution_definition(&execution.info.execution_arn)?.ok_or_else(|| {
        ApiError::new("StateMachineDoesNotExist", format!("the definition of {} is not in the store", execution.info.execution_arn))
    })?;
    // The configuration of the version it was started through, else the
    // state machine's as it is now.
    let through = api.store.started_through(&execution.info.execution_arn)?;
    let frozen = match through.as_ref().and_then(|t| crate::engine::arn::StateMachineArn::parse(&t.version_arn)) {
        Some(crate::engine::arn::StateMachineArn { base, qualifier: Some(crate::engine::arn::Qualifier::Version(n)), .. }) => {
            api.store.published_version(base, n)?.map(|v| v.details)
        }
        _ => None,
    };
    let details = match frozen {
        Some(details) => details,
        None => api.store.describe_state_machine(&execution.info.state_machine_arn)?.map(|m| m.details).unwrap_or_default(),
    };
    let mut response = json!({
        "stateMachineArn": execution.info.state_machine_arn,
        "name": execution.info.state_machine_name,
        "definition": definition,
        "roleArn": details.role_arn,
        "updateDate": date(execution.start_ms),
        "loggingConfiguration": logging_json(details.logging.as_ref()),
        "tracingConfiguration": tracing_json(details.tracing_enabled),
    });
    if let Some(version) = version {
        response["revisionId"] = json!(versions::revision_id(version, &details));
    }
    Ok(response)
}

fn validate_definition(params: &Params) -> Result<Value, ApiError> {
    let definition = params.required_str("definition")?;
    state_machine_type(params)?;
    // Only the language is checked here: which resources exist is a matter
    // of this host's configuration, checked when a machine is created.
    Ok(match parse_definition(definition) {
        Ok(_) => json!({"result": "OK", "diagnostics": [], "truncated": false}),
        Err(invalid) => {
            let diagnostics: Vec<Value> = invalid
                .0
                .iter()
                .map(|e| json!({"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "message": e.message, "location": e.location}))
                .collect();
            json!({"result": "FAIL", "diagnostics": diagnostics, "truncated": false})
        }
    })
}

/// An execution's input, as StartExecution takes it: JSON text, 256 KiB at most.
fn execution_input(params: &Params) -> Result<(Value, String), ApiError> {
    let text = params.optional_str("input")?.unwrap_or("{}");
    let input: Value = serde_json::from_str(text)
        .map_err(|e| ApiError::new("InvalidExecutionInput", format!("Invalid execution input: not JSON: {e}")))?;
    let size = json_size(&input);
    if size > MAX_PAYLOAD_BYTES {
        return Err(ApiError::new(
            "InvalidExecutionInput",
            format!("Invalid execution input: {size} bytes, over the limit of {MAX_PAYLOAD_BYTES}"),
        ));
    }
    Ok((input, text.to_string()))
}

/// The execution a StartExecution names (a fresh UUID when it names none).
/// A `stateMachineArn` of `<ARN>#<TestCase>` runs that mock test case (as
/// SFN Local reads it): `info.test_case`, checked by [`check_test_case`].
fn new_execution(params: &Params) -> Result<(String, ExecutionInfo), ApiError> {
    let (sm_arn, test_case) = match params.required_str("stateMachineArn")?.split_once('#') {
        Some((arn, test_case)) => (arn, Some(test_case.to_string())),
        None => (params.required_str("stateMachineArn")?, None),
    };
    // A version or alias ARN names the state machine's executions too.
    let base = versions::parse_arn("stateMachineArn", sm_arn)?.base;
    let name = match params.optional_str("name")? {
        Some(name) => name.to_string(),
        None => uuid::Uuid::new_v4().to_string(),
    };
    check_name("execution", &name)?;
    // The execution's ARN is its state machine's region and account.
    let info = crate::engine::arn::execution_of(base, &name)
        .ok_or_else(|| ApiError::new("InvalidArn", format!("Invalid Arn: 'stateMachineArn' is {sm_arn:?}")))?;
    let info = ExecutionInfo { test_case, ..info };
    Ok((sm_arn.to_string(), info))
}

/// The mock test case `info` asks for (`stateMachineArn#TestCase`), if
/// any: one the mock config has for its state machine, else a
/// `ValidationException` saying what there is.
fn check_test_case(api: &Api, info: &ExecutionInfo) -> Result<Option<Arc<TestCase>>, ApiError> {
    let Some(name) = &info.test_case else { return Ok(None) };
    api.machines.test_case(&info.state_machine_name, name).map(Some).map_err(|why| ApiError::new("ValidationException", why))
}

/// Refuses new work while the host is saturated: as AWS does when over a
/// quota, `ThrottlingException` (HTTP 400), which the SDKs and the CLI retry
/// with backoff. Saturated: `serve --max-queued` task invocations or more are
/// waiting for an instance slot (see [`InstanceSlots::saturated`]).
fn refuse_when_saturated(action: &str) -> Result<(), ApiError> {
    match InstanceSlots::global().saturated() {
        None => Ok(()),
        Some(waiting) => Err(ApiError::new(
            "ThrottlingException",
            format!("Rate exceeded: {action} refused while {waiting} tasks wait for one of the host's instances; retry later"),
        )),
    }
}

async fn start_execution(api: &Api, params: &Params) -> Result<Value, ApiError> {
    refuse_when_saturated("StartExecution")?;
    if let Some(why) = api.open_executions.refusal() {
        return Err(ApiError::new("ExecutionLimitExceeded", why));
    }
    let (sm_arn, mut info) = new_execution(params)?;
    let (input, input_text) = execution_input(params)?;
    let resolved = api.resolved.resolve(api, "stateMachineArn", &sm_arn)?;
    runs_as(&mut info, &resolved);
    check_test_case(api, &info)?;
    let clock = SystemClock;
    let started_ms = clock.now_ms();
    let machine = Arc::clone(&resolved.loaded.0);
    // The store refuses a second execution of one ARN (`ExecutionExists`),
    // so the usual start, a new name, reads nothing before it is journaled.
    let started = match &resolved.through {
        None => crate::driver::start_execution(machine, info.clone(), input, &clock, &*api.store).await,
        Some(through) => {
            let journal =
                versions::StartThrough { store: &api.store, definition_version: resolved.definition_version, through: through.clone() };
            crate::driver::start_execution(machine, info.clone(), input, &clock, &journal).await
        }
    };
    match started {
        Ok(()) => {}
        Err(crate::driver::DriverError::Store(StoreError::ExecutionExists(_))) => {
            return tokio::task::block_in_place(|| started_again(api, &info.execution_arn, &input_text))
        }
        Err(e) => return Err(ApiError::internal(e)),
    }
    api.wake_host.notify_one();
    Ok(json!({"executionArn": info.execution_arn, "startDate": date(started_ms)}))
}

/// StartExecution of an execution ARN that exists: as AWS, starting a
/// RUNNING execution again with the same input is idempotent (answered with
/// the first start); anything else is a conflict.
fn started_again(api: &Api, execution_arn: &str, input_text: &str) -> Result<Value, ApiError> {
    let input: Value = serde_json::from_str(input_text).map_err(ApiError::internal)?;
    match api.store.execution(execution_arn)? {
        Some(existing) if existing.status == ExecutionStatus::Running && execution_input_of(api, &existing)? == input => {
            Ok(json!({"executionArn": existing.info.execution_arn, "startDate": date(existing.start_ms)}))
        }
        _ => Err(already_exists(execution_arn)),
    }
}

/// A new execution of `resolved`'s state machine: under its stored ARN (its
/// name decides it) and as its role, when it has one.
fn runs_as(info: &mut ExecutionInfo, resolved: &Resolved) {
    info.state_machine_arn = resolved.machine_arn.clone();
    if !resolved.role_arn.is_empty() {
        info.role_arn = resolved.role_arn.clone();
    }
}

fn not_express(arn: &str, action: &str) -> ApiError {
    ApiError::new(
        "StateMachineTypeNotSupported",
        format!("State Machine Type Not Supported: {action} takes EXPRESS state machines; '{arn}' is STANDARD"),
    )
}

fn already_exists(arn: &str) -> ApiError {
    ApiError::new("ExecutionAlreadyExists", format!("Execution Already Exists: '{arn}' (not running, or with another input)"))
}

/// How long StartSyncExecution runs an execution, as AWS allows.
const SYNC_EXECUTION_LIMIT: std::time::Duration = std::time::Duration::from_secs(300);

/// Runs an EXPRESS state machine's execution here, to its end (at most 5
/// minutes), without keeping it.
async fn start_sync_execution(api: &Api, params: &Params) -> Result<Value, ApiError> {
    refuse_when_saturated("StartSyncExecution")?;
    let (sm_arn, mut info) = new_execution(params)?;
    let (input, input_text) = execution_input(params)?;
    let resolved = api.resolved.resolve(api, "stateMachineArn", &sm_arn)?;
    if resolved.kind != "EXPRESS" {
        return Err(not_express(&resolved.machine_arn, "StartSyncExecution"));
    }
    runs_as(&mut info, &resolved);
    let test_case = check_test_case(api, &info)?;
    let (state_machine, runtime) = &*resolved.loaded;
    let start_ms = SystemClock.now_ms();
    let tasks = HostTasks::wasm_only(runtime)
        .with_mock(test_case.as_deref())
        .with_http_tasks(api.machines.http_tasks())
        .with_s3_buckets(api.machines.s3_buckets());
    let run = run_execution(Arc::clone(state_machine), info.clone(), input, &tasks, &SystemClock);
    let outcome = match tokio::time::timeout(SYNC_EXECUTION_LIMIT, run).await {
        Ok(record) => record.map_err(ApiError::internal)?.outcome,
        Err(_) => Outcome::TimedOut {
            error: crate::asl::errors::TIMEOUT.to_string(),
            cause: format!("a synchronous execution runs for at most {} s", SYNC_EXECUTION_LIMIT.as_secs()),
        },
    };
    let mut response = json!({
        "executionArn": info.execution_arn,
        "stateMachineArn": info.state_machine_arn,
        "name": info.name,
        "startDate": date(start_ms),
        "stopDate": date(SystemClock.now_ms()),
        "status": ExecutionStatus::of(&outcome).as_str(),
        "input": input_text,
        "inputDetails": {"included": true},
        "billingDetails": {"billedMemoryUsedInMB": 0, "billedDurationInMilliseconds": 0},
    });
    add_outcome(&mut response, &outcome);
    Ok(response)
}

fn add_outcome(response: &mut Value, outcome: &Outcome) {
    match outcome {
        Outcome::Succeeded { output } => {
            response["output"] = json!(output.to_string());
            response["outputDetails"] = json!({"included": true});
        }
        Outcome::Failed { error, cause } | Outcome::TimedOut { error, cause } | Outcome::Aborted { error, cause } => {
            response["error"] = json!(error);
            response["cause"] = json!(cause);
        }
    }
}

fn existing_execution(api: &Api, params: &Params) -> Result<ExecutionSummary, ApiError> {
    let arn = check_arn("executionArn", params.required_str("executionArn")?, ArnKind::Execution)?;
    api.store.execution(arn)?.ok_or_else(|| ApiError::new("ExecutionDoesNotExist", format!("Execution Does Not Exist: '{arn}'")))
}

/// The input an execution started with (its first event's).
fn execution_input_of(api: &Api, execution: &ExecutionSummary) -> Result<Value, ApiError> {
    let history = api.store.history(&execution.info.execution_arn)?;
    Ok(match history.first().map(|e| &e.kind) {
        Some(crate::engine::EventKind::ExecutionStarted { input }) => Value::clone(input),
        _ => Value::Null,
    })
}

fn stop_execution(api: &Api, params: &Params) -> Result<Value, ApiError> {
    let execution = existing_execution(api, params)?;
    let error = params.optional_str("error")?.unwrap_or("");
    let cause = params.optional_str("cause")?.unwrap_or("");
    crate::engine::check_error_and_cause(error, cause).map_err(|e| ApiError::validation(e.to_string()))?;
    match api.store.stop_execution(&execution.info.execution_arn, error, cause, SystemClock.now_ms()) {
        Ok(event) => {
            api.wake_host.notify_one();
            Ok(json!({"stopDate": date(event.timestamp_ms)}))
        }
        // Already ended: stopping it changes nothing.
        Err(StoreError::Closed { .. }) => Ok(json!({"stopDate": date(execution.stop_ms.unwrap_or(execution.start_ms))})),
        Err(e) => Err(e.into()),
    }
}

/// Why no execution of `execution`'s state machine can be redriven, if so
/// (the execution's own state is [`redrive_refusal`]'s question).
fn machine_not_redrivable(api: &Api, execution: &ExecutionSummary) -> Result<Option<String>, ApiError> {
    Ok(match api.store.describe_state_machine(&execution.info.state_machine_arn)? {
        None => Some("Execution's state machine was deleted".into()),
        Some(machine) if machine.details.kind == "EXPRESS" => Some("Executions of EXPRESS state machines cannot be redriven".into()),
        Some(_) => None,
    })
}

fn redrive_execution(api: &Api, params: &Params) -> Result<Value, ApiError> {
    let execution = existing_execution(api, params)?;
    // SDKs fill clientToken in; a retried request repeats it and is answered
    // with the redrive it made (the store knows that redrive's token).
    let client_token = params.optional_str("clientToken")?;
    if client_token.is_some_and(|token| token.is_empty() || token.chars().count() > 64) {
        return Err(ApiError::validation("clientToken: 1 to 64 characters"));
    }
    let refused = |reason: &str| ApiError::new("ExecutionNotRedrivable", format!("Execution Not Redrivable: {reason}"));
    if let Some(reason) = machine_not_redrivable(api, &execution)? {
        return Err(refused(&reason));
    }
    match api.store.redrive_execution(&execution.info.execution_arn, client_token, SystemClock.now_ms()) {
        Ok(redrive) => {
            api.wake_host.notify_one();
            Ok(json!({"redriveDate": date(redrive.redrive_ms)}))
        }
        Err(StoreError::NotRedrivable { reason, .. }) => Err(refused(&reason)),
        Err(e) => Err(e.into()),
    }
}

fn describe_execution(api: &Api, params: &Params) -> Result<Value, ApiError> {
    let execution = existing_execution(api, params)?;
    let history = api.store.history(&execution.info.execution_arn)?;
    let input = match history.first().map(|e| &e.kind) {
        Some(crate::engine::EventKind::ExecutionStarted { input }) => input.to_string(),
        _ => "{}".to_string(),
    };
    let mut response = execution_listing(&execution);
    versions::add_started_through(&mut response, api.store.started_through(&execution.info.execution_arn)?.as_ref());
    if let Some(map_run_arn) = map_runs::run_of_child(&api.store, &execution)? {
        response["mapRunArn"] = json!(map_run_arn);
    }
    response["input"] = json!(input);
    response["inputDetails"] = json!({"included": true});
    if let Some(outcome) = history.last().and_then(|e| Outcome::ended_by(&e.kind)) {
        add_outcome(&mut response, &outcome);
    }
    let events = history.len() as u64;
    let refusal = match redrive_refusal(execution.status, execution.stop_ms, events, execution.redrive_count, SystemClock.now_ms()) {
        Some(reason) => Some(reason),
        None => machine_not_redrivable(api, &execution)?,
    };
    match refusal {
        None => response["redriveStatus"] = json!("REDRIVABLE"),
        Some(reason) => {
            response["redriveStatus"] = json!("NOT_REDRIVABLE");
            response["redriveStatusReason"] = json!(reason);
        }
    }
    Ok(response)
}

fn execution_listing(execution: &ExecutionSummary) -> Value {
    let mut listed = json!({
        "executionArn": execution.info.execution_arn,
        "stateMachineArn": execution.info.state_machine_arn,
        "name": execution.info.name,
        "status": execution.status.as_str(),
        "startDate": date(execution.start_ms),
    });
    if let Some(stop) = execution.stop_ms {
        listed["stopDate"] = date(stop);
    }
    listed["redriveCount"] = json!(execution.redrive_count);
    if let Some(redriven) = execution.redrive_ms {
        listed["redriveDate"] = date(redriven);
    }
    listed
}

/// ListExecutions' `statusFilter` and `redriveFilter` (redriven or not).
fn execution_filters(params: &Params) -> Result<(Option<ExecutionStatus>, Option<bool>), ApiError> {
    let status = match params.optional_str("statusFilter")? {
        Some(name) => Some(ExecutionStatus::parse(name).ok_or_else(|| {
            ApiError::validation(format!("statusFilter {name:?}: must be RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED"))
        })?),
        None => None,
    };
    let redriven = match params.optional_str("redriveFilter")? {
        Some("REDRIVEN") => Some(true),
        Some("NOT_REDRIVEN") => Some(false),
        Some(other) => return Err(ApiError::validation(format!("redriveFilter {other:?}: must be REDRIVEN or NOT_REDRIVEN"))),
        None => None,
    };
    Ok((status, redriven))
}

/// The sort key of ListExecutions: the start date, ties broken by ARN.
fn listing_key(e: &ExecutionSummary) -> String {
    format!("{}\n{}", number_key(e.start_ms), e.info.execution_arn)
}

/// ListExecutions of a map run (`mapRunArn`): its child executions,
/// filtered, ordered and paged as a state machine's are.
fn list_map_run_executions(
    api: &Api,
    params: &Params,
    map_run_arn: &str,
    size: usize,
    (status, redriven): (Option<ExecutionStatus>, Option<bool>),
) -> Result<Value, ApiError> {
    let mut executions = map_runs::children(api, "mapRunArn", map_run_arn)?;
    executions.retain(|e| status.is_none_or(|s| e.status == s) && redriven.is_none_or(|r| (e.redrive_count > 0) == r));
    executions.sort_by_cached_key(|e| std::cmp::Reverse(listing_key(e)));
    // Bound to the run: a token of a state machine's list is refused here.
    let operation = format!("ListExecutions {map_run_arn}");
    let (shown, next) = page(&executions, params.optional_str("nextToken")?, size, &operation, Order::Descending, listing_key)?;
    let listed: Vec<Value> = shown
        .iter()
        .map(|e| {
            let mut item = execution_listing(e);
            item["mapRunArn"] = json!(map_run_arn);
            item
        })
        .collect();
    Ok(with_next(json!({"executions": listed}), next))
}

fn list_executions(api: &Api, params: &Params) -> Result<Value, ApiError> {
    let size = params.page_size(100, 1000)?;
    let (status, redriven) = execution_filters(params)?;
    let sm_arn = match (params.optional_str("stateMachineArn")?, params.optional_str("mapRunArn")?) {
        (Some(sm_arn), None) => sm_arn,
        (None, Some(map_run_arn)) => return list_map_run_executions(api, params, map_run_arn, size, (status, redriven)),
        _ => return Err(ApiError::validation("ListExecutions takes exactly one of stateMachineArn and mapRunArn")),
    };
    // A version or alias ARN lists the executions started through it.
    let target = versions::resolve(api, "stateMachineArn", sm_arn)?;
    let machine = target.machine();
    if machine.details.kind == "EXPRESS" {
        // AWS keeps no list of Express executions either.
        return Err(ApiError::new(
            "StateMachineTypeNotSupported",
            format!("State Machine Type Not Supported: ListExecutions does not list the executions of EXPRESS state machine '{sm_arn}'"),
        ));
    }
    // Newest first by start date, as AWS documents ("sorted by time, with the
    // most recent execution first"); a start date never changes, so page
    // tokens stay valid while executions close. The key breaks ties by ARN.
    let mut executions = api.store.executions_of(&machine.arn, status)?;
    if let Some(redriven) = redriven {
        executions.retain(|e| (e.redrive_count > 0) == redriven);
    }
    let through = api.store.executions_started_through(&machine.arn)?;
    match &target {
        Target::Latest(_) => {}
        Target::Version(_, version) => {
            let version_arn = version.arn();
            executions.retain(|e| through.get(&e.info.execution_arn).is_some_and(|t| t.version_arn == version_arn));
        }
        Target::Alias(_, alias) => {
            executions.retain(|e| through.get(&e.info.execution_arn).is_some_and(|t| t.alias_arn.as_ref() == Some(&alias.arn)));
        }
    }
    executions.sort_by_cached_key(|e| std::cmp::Reverse(listing_key(e)));
    let (shown, next) = page(&executions, params.optional_str("nextToken")?, size, "ListExecutions", Order::Descending, listing_key)?;
    let listed: Vec<Value> = shown
        .iter()
        .map(|e| {
            let mut item = execution_listing(e);
            versions::add_started_through(&mut item, through.get(&e.info.execution_arn));
            item
        })
        .collect();
    Ok(with_next(json!({"executions": listed}), next))
}

fn get_execution_history(api: &Api, params: &Params) -> Result<Value, ApiError> {
    let size = params.page_size(100, 1000)?;
    let execution = existing_execution(api, params)?;
    let include_data = params.optional_bool("includeExecutionData")?.unwrap_or(true);
    let mut history = api.store.history(&execution.info.execution_arn)?;
    let order = if params.optional_bool("reverseOrder")?.unwrap_or(false) {
        history.reverse();
        Order::Descending
    } else {
        Order::Ascending
    };
    // Bound to the execution too: a token of one history is refused by another.
    let operation = format!("GetExecutionHistory {}", execution.info.execution_arn);
    let (shown, next) = page(&history, params.optional_str("nextToken")?, size, &operation, order, |e| number_key(e.id as i64))?;
    let region = crate::engine::arn::region_of(&execution.info.execution_arn);
    let events: Vec<Value> = shown.iter().map(|event| aws_event(event, region, include_data)).collect();
    Ok(with_next(json!({"events": events}), next))
}

/// An event as GetExecutionHistory gives it: dates as epoch seconds, and
/// without inputs and outputs unless asked for.
fn aws_event(event: &HistoryEvent, region: &str, include_data: bool) -> Value {
    let mut json = event.to_aws_json(region);
    json["timestamp"] = date(event.timestamp_ms);
    if !include_data {
        if let Some(fields) = json.as_object_mut() {
            for (key, details) in fields.iter_mut() {
                if let (true, Some(details)) = (key.ends_with("EventDetails"), details.as_object_mut()) {
                    strip_data(details);
                }
            }
        }
    }
    json
}

fn strip_data(details: &mut Map<String, Value>) {
    for (key, included) in [("input", "inputDetails"), ("output", "outputDetails")] {
        if details.remove(key).is_some() {
            details.insert(included.to_string(), json!({"truncated": false}));
        }
    }
}

fn task_token(params: &Params) -> Result<&str, ApiError> {
    let token = params.required_str("taskToken")?;
    // Tokens this host issues are "swt" and hex digits; anything else was
    // never one of them.
    let ours =
        token.len() <= 1024 && token.strip_prefix("swt").is_some_and(|hex| !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()));
    if ours {
        Ok(token)
    } else {
        Err(ApiError::new("InvalidToken", format!("Invalid Token: {token:?} is not a task token of this host")))
    }
}

fn token_error(e: StoreError) -> ApiError {
    match e {
        StoreError::InvalidToken(token) => {
            ApiError::new("TaskDoesNotExist", format!("Task Does Not Exist: no task was given token {token:?}"))
        }
        StoreError::TaskNotWaiting(token) => ApiError::new(
            "TaskTimedOut",
            format!("Task Timed Out: the task of token {token:?} no longer waits (answered, timed out, or its execution ended)"),
        ),
        other => other.into(),
    }
}

fn send_task_success(api: &Api, params: &Params) -> Result<Value, ApiError> {
    let token = task_token(params)?;
    let text = params.required_str("output")?;
    let output: Value = serde_json::from_str(text).map_err(|e| ApiError::new("InvalidOutput", format!("Invalid Output: not JSON: {e}")))?;
    if json_size(&output) > MAX_PAYLOAD_BYTES {
        return Err(ApiError::new("InvalidOutput", format!("Invalid Output: over the limit of {MAX_PAYLOAD_BYTES} bytes")));
    }
    api.store.send_task_result(token, &TaskResult::Success(output)).map_err(token_error)?;
    Ok(json!({}))
}

fn send_task_failure(api: &Api, params: &Params) -> Result<Value, ApiError> {
    let token = task_token(params)?;
    let error = params.optional_str("error")?.unwrap_or("");
    let cause = params.optional_str("cause")?.unwrap_or("");
    crate::engine::check_error_and_cause(error, cause).map_err(|e| ApiError::validation(e.to_string()))?;
    let failure = TaskResult::Failure { error: error.to_string(), cause: cause.to_string() };
    api.store.send_task_result(token, &failure).map_err(token_error)?;
    Ok(json!({}))
}

fn send_task_heartbeat(api: &Api, params: &Params) -> Result<Value, ApiError> {
    let token = task_token(params)?;
    api.store.send_task_heartbeat(token, SystemClock.now_ms()).map_err(token_error)?;
    Ok(json!({}))
}

/// A tagged resource: a state machine or an activity.
enum Tagged {
    Machine(StateMachineRecord),
    Activity(ActivityRecord),
}

impl Tagged {
    /// The resource a tagging request names.
    fn named(api: &Api, params: &Params) -> Result<Tagged, ApiError> {
        let arn = params.required_str("resourceArn")?;
        let not_found = || ApiError::new("ResourceNotFound", format!("Resource Not Found: '{arn}'"));
        if crate::asl::is_activity(arn) {
            return api.store.activity(arn)?.map(Tagged::Activity).ok_or_else(not_found);
        }
        check_arn("resourceArn", arn, ArnKind::StateMachine)?;
        api.store.describe_state_machine(arn)?.map(Tagged::Machine).ok_or_else(not_found)
    }

    fn tags(&mut self) -> &mut BTreeMap<String, String> {
        match self {
            Tagged::Machine(machine) => &mut machine.details.tags,
            Tagged::Activity(activity) => &mut activity.tags,
        }
    }

    fn save(&self, api: &Api) -> Result<(), ApiError> {
        match self {
            Tagged::Machine(machine) => api.store.set_state_machine_details(&machine.arn, &machine.details)?,
            Tagged::Activity(activity) => api.store.set_activity_tags(&activity.arn, &activity.tags)?,
        };
        Ok(())
    }
}

fn tag_resource(api: &Api, params: &Params) -> Result<Value, ApiError> {
    // The request is read whole before the resource is looked up, as AWS does.
    let tags = params.tags("tags")?;
    let mut tagged = Tagged::named(api, params)?;
    tagged.tags().extend(tags);
    check_tag_count(tagged.tags())?;
    tagged.save(api)?;
    Ok(json!({}))
}

/// AWS's limit of tags per resource.
pub fn check_tag_count(tags: &BTreeMap<String, String>) -> Result<(), ApiError> {
    if tags.len() > 50 {
        return Err(ApiError::new("TooManyTags", format!("Too Many Tags: {} (50 at most)", tags.len())));
    }
    Ok(())
}

fn untag_resource(api: &Api, params: &Params) -> Result<Value, ApiError> {
    let keys = params.strings("tagKeys")?;
    let mut tagged = Tagged::named(api, params)?;
    for key in keys {
        tagged.tags().remove(&key);
    }
    tagged.save(api)?;
    Ok(json!({}))
}

fn list_tags(api: &Api, params: &Params) -> Result<Value, ApiError> {
    let mut tagged = Tagged::named(api, params)?;
    let tags: Vec<Value> = tagged.tags().iter().map(|(key, value)| json!({"key": key, "value": value})).collect();
    Ok(json!({"tags": tags}))
}
