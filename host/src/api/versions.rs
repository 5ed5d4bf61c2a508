//! State machine versions as AWS has them: PublishStateMachineVersion,
//! ListStateMachineVersions, DeleteStateMachineVersion, DescribeStateMachine
//! of a version ARN, and what a state machine ARN names ([`Target`]: the
//! state machine, a version `…:name:2`, an alias `…:name:prod`).
//!
//! A version freezes a *revision*: the definition and the role, logging and
//! tracing configuration at publishing. Its `revisionId` is a digest of
//! those, so publishing a revision that already has a live version returns
//! that version (AWS: idempotent). An execution started through a version
//! runs its frozen definition ([`start_through`]).

use super::pagination::{number_key, page, Order};
use super::protocol::{date, ApiError, Params};
use super::state_machine_config::{logging_json, tracing_json};
use super::Api;
use crate::engine::arn::{Qualifier, StateMachineArn};
use crate::engine::{ExecutionInfo, HistoryEvent};
use crate::store::{
    ActivityTask, AliasRecord, Appending, ExecutionSummary, Journal, PublishedVersion, SqliteStore, StartedThrough, StateMachineDetails,
    StateMachineRecord, Store, StoreError, TaskResult, TokenState, VersionDeletion,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::future::Future;
use std::pin::Pin;

/// AWS's limit of versions per state machine.
const MAX_VERSIONS: usize = 1000;

/// What a state machine ARN names.
pub enum Target {
    /// The state machine itself (its latest revision).
    Latest(StateMachineRecord),
    Version(StateMachineRecord, PublishedVersion),
    Alias(StateMachineRecord, AliasRecord),
}

impl Target {
    pub fn machine(&self) -> &StateMachineRecord {
        match self {
            Target::Latest(machine) | Target::Version(machine, _) | Target::Alias(machine, _) => machine,
        }
    }
}

/// `arn` taken apart, or `InvalidArn` naming `field`.
pub fn parse_arn<'a>(field: &str, arn: &'a str) -> Result<StateMachineArn<'a>, ApiError> {
    StateMachineArn::parse(arn).ok_or_else(|| {
        ApiError::new(
            "InvalidArn",
            format!(
                "Invalid Arn: '{field}' is {arn:?}, expected arn:aws:states:<region>:<account>:stateMachine:<name>[:<version or alias>]"
            ),
        )
    })
}

/// An unqualified state machine ARN, or `InvalidArn` naming `field`.
pub fn unqualified<'a>(field: &str, arn: &'a str) -> Result<StateMachineArn<'a>, ApiError> {
    let parsed = parse_arn(field, arn)?;
    if parsed.qualifier.is_some() {
        return Err(ApiError::new(
            "InvalidArn",
            format!("Invalid Arn: '{field}' must be a state machine ARN without a version or alias: {arn:?}"),
        ));
    }
    Ok(parsed)
}

fn no_machine(arn: &str) -> ApiError {
    ApiError::new("StateMachineDoesNotExist", format!("State Machine Does Not Exist: '{arn}'"))
}

/// What `arn` names; `StateMachineDoesNotExist` when nothing.
pub fn resolve(api: &Api, field: &str, arn: &str) -> Result<Target, ApiError> {
    let parsed = parse_arn(field, arn)?;
    let machine = api.store.describe_state_machine(parsed.base)?.ok_or_else(|| no_machine(arn))?;
    Ok(match parsed.qualifier {
        None => Target::Latest(machine),
        Some(Qualifier::Version(n)) => {
            let version = api.store.published_version(parsed.base, n)?.ok_or_else(|| no_machine(arn))?;
            Target::Version(machine, version)
        }
        Some(Qualifier::Alias(_)) => {
            let alias = api.store.alias(arn)?.ok_or_else(|| no_machine(arn))?;
            Target::Alias(machine, alias)
        }
    })
}

/// The revision of a definition version with a configuration: a digest, so
/// that the same definition, role, logging and tracing is the same revision.
pub fn revision_id(definition_version: u32, details: &StateMachineDetails) -> String {
    let frozen = json!({
        "definitionVersion": definition_version,
        "roleArn": details.role_arn,
        "logging": logging_json(details.logging.as_ref()),
        "tracing": details.tracing_enabled,
    });
    let digest = Sha256::digest(frozen.to_string().as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// The current revision of a state machine.
pub fn current_revision(machine: &StateMachineRecord) -> String {
    revision_id(machine.version, &machine.details)
}

fn check_description(field: &str, description: Option<&str>) -> Result<(), ApiError> {
    match description {
        Some(text) if text.chars().count() > 256 => Err(ApiError::validation(format!(
            "1 validation error detected: Value at '{field}' failed to satisfy constraint: Member must have length less than or equal to 256"
        ))),
        _ => Ok(()),
    }
}

/// Publishes `machine`'s current revision, or returns the live version
/// that already has it (AWS: idempotent).
pub fn publish(api: &Api, machine: &StateMachineRecord, description: Option<&str>) -> Result<PublishedVersion, ApiError> {
    check_description("description", description)?;
    let revision = current_revision(machine);
    let versions = api.store.published_versions(&machine.arn)?;
    if let Some(existing) = versions.iter().find(|v| revision_id(v.definition_version, &v.details) == revision) {
        return Ok(existing.clone());
    }
    if versions.len() >= MAX_VERSIONS {
        return Err(ApiError::new(
            "ServiceQuotaExceededException",
            format!("'{}' has {MAX_VERSIONS} versions, the most AWS allows; delete unused ones (DeleteStateMachineVersion)", machine.arn),
        ));
    }
    let now_ms = chrono::Utc::now().timestamp_millis();
    Ok(api.store.publish_version(&machine.arn, machine.version, description, &machine.details, now_ms)?)
}

/// PublishStateMachineVersion.
pub fn publish_state_machine_version(api: &Api, params: &Params) -> Result<Value, ApiError> {
    let arn = unqualified("stateMachineArn", params.required_str("stateMachineArn")?)?.base;
    let description = params.optional_str("description")?;
    check_description("description", description)?;
    let machine = api.store.describe_state_machine(arn)?.ok_or_else(|| no_machine(arn))?;
    if let Some(expected) = params.optional_str("revisionId")? {
        let current = current_revision(&machine);
        if expected != current {
            return Err(ApiError::new(
                "ConflictException",
                format!("revisionId {expected:?} is not the current revision of '{arn}' ({current}): it changed since"),
            ));
        }
    }
    let version = publish(api, &machine, description)?;
    Ok(json!({"creationDate": date(version.created_ms), "stateMachineVersionArn": version.arn()}))
}

/// ListStateMachineVersions: newest first.
pub fn list_state_machine_versions(api: &Api, params: &Params) -> Result<Value, ApiError> {
    let size = params.page_size(100, 1000)?;
    let arn = unqualified("stateMachineArn", params.required_str("stateMachineArn")?)?.base;
    let versions = api.store.published_versions(arn)?;
    let operation = format!("ListStateMachineVersions {arn}");
    let (shown, next) =
        page(&versions, params.optional_str("nextToken")?, size, &operation, Order::Descending, |v| number_key(v.version as i64))?;
    let listed: Vec<Value> = shown.iter().map(|v| json!({"stateMachineVersionArn": v.arn(), "creationDate": date(v.created_ms)})).collect();
    let mut response = json!({"stateMachineVersions": listed});
    if let Some(token) = next {
        response["nextToken"] = json!(token);
    }
    Ok(response)
}

/// DeleteStateMachineVersion: refused while an alias routes to it; a version
/// that is not there is deleted already (success, as AWS answers).
pub fn delete_state_machine_version(api: &Api, params: &Params) -> Result<Value, ApiError> {
    let given = params.required_str("stateMachineVersionArn")?;
    let parsed = parse_arn("stateMachineVersionArn", given)?;
    let Some(Qualifier::Version(number)) = parsed.qualifier else {
        return Err(ApiError::new(
            "InvalidArn",
            format!("Invalid Arn: 'stateMachineVersionArn' is {given:?}, not a version ARN (…:stateMachine:<name>:<number>)"),
        ));
    };
    match api.store.delete_published_version(parsed.base, number)? {
        VersionDeletion::Deleted | VersionDeletion::NotFound => Ok(json!({})),
        VersionDeletion::RoutedBy(alias) => Err(ApiError::new(
            "ConflictException",
            format!("Version '{given}' is routed to by alias '{alias}': update or delete the alias first"),
        )),
    }
}

/// DescribeStateMachine of a version ARN: the version's frozen revision.
pub fn describe_version(api: &Api, machine: &StateMachineRecord, version: &PublishedVersion) -> Result<Value, ApiError> {
    let definition = api
        .store
        .definition_at(&machine.arn, version.definition_version)?
        .ok_or_else(|| ApiError::internal(format!("the definition of version {} is not in the store", version.arn())))?;
    let mut response = json!({
        "stateMachineArn": version.arn(),
        "name": machine.name,
        "status": "ACTIVE",
        "definition": definition,
        "roleArn": version.details.role_arn,
        "type": machine.details.kind,
        "creationDate": date(version.created_ms),
        "loggingConfiguration": logging_json(version.details.logging.as_ref()),
        "tracingConfiguration": tracing_json(version.details.tracing_enabled),
        "revisionId": revision_id(version.definition_version, &version.details),
    });
    if let Some(description) = &version.description {
        response["description"] = json!(description);
    }
    Ok(response)
}

/// Where an execution's definition comes from: the definition version it
/// runs, its text, and what it was started through (`None`: the latest).
pub struct Chosen {
    pub definition_version: u32,
    pub definition: String,
    pub through: Option<StartedThrough>,
}

/// The definition a start through `target` runs: the latest, a version's,
/// or the version an alias picks by weight (`roll`: 0 to 99).
pub fn chosen(api: &Api, target: &Target, roll: u32) -> Result<Chosen, ApiError> {
    let (version, alias_arn) = match target {
        Target::Latest(machine) => {
            return Ok(Chosen { definition_version: machine.version, definition: machine.definition.clone(), through: None })
        }
        Target::Version(_, version) => (version.clone(), None),
        Target::Alias(machine, alias) => {
            let picked = super::aliases::pick(alias, roll);
            let number = StateMachineArn::parse(picked).and_then(|p| match p.qualifier {
                Some(Qualifier::Version(n)) => Some(n),
                _ => None,
            });
            let version = match number {
                Some(n) => api.store.published_version(&machine.arn, n)?,
                None => None,
            };
            let version = version.ok_or_else(|| no_machine(picked))?;
            (version, Some(alias.arn.clone()))
        }
    };
    let machine = target.machine();
    let definition = api
        .store
        .definition_at(&machine.arn, version.definition_version)?
        .ok_or_else(|| ApiError::internal(format!("the definition of version {} is not in the store", version.arn())))?;
    Ok(Chosen {
        definition_version: version.definition_version,
        definition,
        through: Some(StartedThrough { version_arn: version.arn(), alias_arn }),
    })
}

/// The journal a start through a version or alias goes through: the store,
/// except that the execution is created running the version's definition
/// and remembering what it was started through, with its first events in
/// the same step (so the host never sees it run another definition).
pub struct StartThrough<'a> {
    pub store: &'a SqliteStore,
    pub definition_version: u32,
    pub through: StartedThrough,
}

impl Journal for StartThrough<'_> {
    fn create_execution(&self, info: &ExecutionInfo, start_ms: i64) -> Result<(), StoreError> {
        self.store.start_execution_through(info, start_ms, &[], self.definition_version, &self.through)
    }

    fn start_execution_async<'a>(&'a self, info: &'a ExecutionInfo, start_ms: i64, events: &'a [HistoryEvent]) -> Appending<'a> {
        let started = self.store.start_execution_through(info, start_ms, events, self.definition_version, &self.through);
        Box::pin(std::future::ready(started))
    }

    fn append_all(&self, execution_arn: &str, events: &[HistoryEvent]) -> Result<(), StoreError> {
        self.store.append_all(execution_arn, events)
    }

    fn append_all_async<'a>(&'a self, execution_arn: &'a str, events: &'a [HistoryEvent]) -> Appending<'a> {
        self.store.append_all_async(execution_arn, events)
    }

    fn history(&self, execution_arn: &str) -> Result<Vec<HistoryEvent>, StoreError> {
        self.store.history(execution_arn)
    }

    fn execution(&self, execution_arn: &str) -> Result<Option<ExecutionSummary>, StoreError> {
        self.store.execution(execution_arn)
    }

    fn park_execution(&self, execution_arn: &str, last_event_id: u64, until_ms: i64) -> Result<(), StoreError> {
        self.store.park_execution(execution_arn, last_event_id, until_ms)
    }

    fn queue_activity_task(&self, task: &ActivityTask) -> Result<(), StoreError> {
        self.store.queue_activity_task(task)
    }

    fn open_task_token(&self, token: &str, execution_arn: &str, now_ms: i64) -> Result<(), StoreError> {
        self.store.open_task_token(token, execution_arn, now_ms)
    }

    fn task_token(&self, token: &str) -> Result<Option<TokenState>, StoreError> {
        self.store.task_token(token)
    }

    fn token_answered<'a>(&'a self, token: &'a str) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        self.store.token_answered(token)
    }

    fn close_task_token(&self, token: &str) -> Result<Option<TaskResult>, StoreError> {
        self.store.close_task_token(token)
    }
}

/// The members DescribeExecution and ListExecutions add for an execution
/// started through a version or an alias.
pub fn add_started_through(response: &mut Value, through: Option<&StartedThrough>) {
    if let Some(through) = through {
        response["stateMachineVersionArn"] = json!(through.version_arn);
        if let Some(alias) = &through.alias_arn {
            response["stateMachineAliasArn"] = json!(alias);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revision_is_its_definition_and_configuration() {
        let details = StateMachineDetails { role_arn: "arn:aws:iam::123456789012:role/a".into(), ..Default::default() };
        let tagged = StateMachineDetails { tags: [("k".to_string(), "v".to_string())].into(), ..details.clone() };
        assert_eq!(revision_id(1, &details), revision_id(1, &tagged), "tags are not part of a revision");
        assert_ne!(revision_id(1, &details), revision_id(2, &details));
        let other_role = StateMachineDetails { role_arn: "arn:aws:iam::123456789012:role/b".into(), ..details.clone() };
        assert_ne!(revision_id(1, &details), revision_id(1, &other_role));
        let traced = StateMachineDetails { tracing_enabled: true, ..details.clone() };
        assert_ne!(revision_id(1, &details), revision_id(1, &traced));
        assert_eq!(revision_id(1, &details).len(), 36);
    }
}
