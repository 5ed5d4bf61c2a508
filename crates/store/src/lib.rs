//! Persistence of state machines, executions and their history events,
//! behind two traits: [`Journal`], the narrow side a driver journals every
//! event through as it happens (and resumes an execution from after a
//! crash), and [`Store`], which extends it with everything else a host
//! does (definitions, listings, stops, redrives, the crash-loop guard).
//!
//! [`SqliteStore`] is the implementation: one file in WAL mode (created on
//! first use), or an in-memory database for tests and throw-away runs.
//! Events are kept in a versioned [`event_format`].

pub mod event_format;
mod journal;
pub mod lock;
mod map_runs;
mod sqlite;

pub use event_format::{EventFormatError, FORMAT_VERSION};
pub use journal::{Appending, Journal};
pub use map_runs::{map_run_child_name, map_run_id, MapRunCounts, MapRunRecord, MapRunStatus};
pub use sqlite::{retention_cutoff_ms, SqliteStore};

use serde_json::Value;
use stepwasm_engine::{EventKind, ExecutionInfo, HistoryEvent, Outcome};

/// Where an execution stands, as DescribeExecution names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionStatus {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

impl ExecutionStatus {
    /// The AWS name, e.g. `SUCCEEDED`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Running => "RUNNING",
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
            ExecutionStatus::Aborted => "ABORTED",
        }
    }

    /// The status named `name` (as [`as_str`](Self::as_str) gives it).
    pub fn parse(name: &str) -> Option<ExecutionStatus> {
        [Self::Running, Self::Succeeded, Self::Failed, Self::TimedOut, Self::Aborted].into_iter().find(|s| s.as_str() == name)
    }

    /// FAILED, TIMED_OUT or ABORTED: ended without succeeding (what a redrive
    /// runs again).
    pub fn is_unsuccessful(self) -> bool {
        matches!(self, ExecutionStatus::Failed | ExecutionStatus::TimedOut | ExecutionStatus::Aborted)
    }

    /// The status of an execution that ended with `outcome`.
    pub fn of(outcome: &Outcome) -> ExecutionStatus {
        match outcome {
            Outcome::Succeeded { .. } => ExecutionStatus::Succeeded,
            Outcome::Failed { .. } => ExecutionStatus::Failed,
            Outcome::TimedOut { .. } => ExecutionStatus::TimedOut,
            Outcome::Aborted { .. } => ExecutionStatus::Aborted,
        }
    }

    /// The status an execution has once `event` is in its history, if the
    /// event ends it.
    pub fn after(event: &EventKind) -> Option<ExecutionStatus> {
        Outcome::ended_by(event).as_ref().map(ExecutionStatus::of)
    }
}

/// The most times an execution can be redriven (AWS's limit).
pub const MAX_REDRIVES: u32 = 1000;
/// How long after it stopped an execution can be redriven (AWS's 14 days).
pub const REDRIVABLE_FOR_MS: i64 = 14 * 24 * 3600 * 1000;

/// Why an execution cannot be redriven at `now_ms`, if it cannot, in AWS's
/// words: only a FAILED, TIMED_OUT or ABORTED one, stopped at most 14 days
/// ago, with room left in its history of `events` events, redriven fewer
/// than [`MAX_REDRIVES`] times. (Whether its state machine allows it is the
/// caller's question.)
pub fn redrive_refusal(status: ExecutionStatus, stop_ms: Option<i64>, events: u64, redrive_count: u32, now_ms: i64) -> Option<String> {
    let max_events = stepwasm_engine::MAX_HISTORY_EVENTS as u64;
    if !status.is_unsuccessful() {
        Some(format!("Execution is {} and cannot be redriven", status.as_str()))
    } else if stop_ms.is_some_and(|stopped| now_ms - stopped > REDRIVABLE_FOR_MS) {
        Some("Execution redrivable period exceeded (14 days after it stopped)".into())
    } else if events >= max_events - 1 {
        Some(format!("Execution history event limit exceeded ({events} of {max_events} events)"))
    } else if redrive_count >= MAX_REDRIVES {
        Some(format!("Execution was redriven {redrive_count} times already, the most there can be"))
    } else {
        None
    }
}

/// How many times in a row a host may stop (crash, be killed) while driving
/// an execution that makes no progress in between before the next host fails
/// it instead of replaying it again ([`Store::begin_drive`]): an execution
/// that kills its host (a poison pill) cannot take it down at every restart.
pub const CRASH_LIMIT: u32 = 3;

/// The crash-loop guard's settings ([`Store::begin_drive`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrashGuard {
    /// The host stops in a row that fail an execution ([`CRASH_LIMIT`]; 0: never).
    pub limit: u32,
    /// The longest wait a drive spends in memory (`serve` parks longer ones):
    /// a drive begun sooner than this after the execution's latest settled
    /// event may have stopped in that wait, not while evaluating, so its
    /// stop is not counted (i64::MAX: only stops during a task are).
    pub waits_up_to_ms: i64,
}

/// What [`Store::begin_drive`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum DriveStart {
    /// Drive it. `stops`: the host stops in a row counted against it so far.
    Go { stops: u32 },
    /// The host stopped the guard's limit of times in a row while driving
    /// it without progress: it was failed instead, its history ending with
    /// `ExecutionFailed` of this error (`States.Runtime`) and cause
    /// ([`crash_loop_cause`]).
    Failed { error: String, cause: String },
}

/// The cause of an execution failed by the crash-loop guard.
pub fn crash_loop_cause(stops: u32, last_event_id: u64) -> String {
    format!(
        "the host stopped {stops} times in a row while running this execution (last at event {last_event_id}, with no progress in between); \
         it was failed instead of being replayed again"
    )
}

/// One execution as listed: who it is, where it stands, when it ran.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionSummary {
    pub info: ExecutionInfo,
    pub status: ExecutionStatus,
    /// Milliseconds since the Unix epoch.
    pub start_ms: i64,
    pub stop_ms: Option<i64>,
    /// Set while the execution is parked: when its wait ends (see
    /// [`Journal::park_execution`]).
    pub wake_ms: Option<i64>,
    /// How often it was redriven, and when last ([`Store::redrive_execution`]).
    pub redrive_count: u32,
    pub redrive_ms: Option<i64>,
}

/// What [`Store::redrive_execution`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redrive {
    /// The execution's redrives so far, this one included.
    pub redrive_count: u32,
    pub redrive_ms: i64,
    /// The request repeated the latest redrive (same client token): nothing was done.
    pub repeated: bool,
}

/// A state machine as DescribeStateMachine shows it (its latest definition).
#[derive(Debug, Clone, PartialEq)]
pub struct StateMachineRecord {
    pub arn: String,
    pub name: String,
    pub definition: String,
    /// The latest version (1, 2, ...).
    pub version: u32,
    /// When it was first kept, in milliseconds since the Unix epoch (`None`
    /// for stores made before this was noted).
    pub created_ms: Option<i64>,
    pub details: StateMachineDetails,
}

/// What a client says about a state machine besides its definition; kept,
/// shown back, not acted on (stepwasm has no IAM and runs every type alike).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct StateMachineDetails {
    /// `STANDARD` or `EXPRESS`.
    #[serde(rename = "type")]
    pub kind: String,
    pub role_arn: String,
    /// Tag key to value, in key order.
    pub tags: std::collections::BTreeMap<String, String>,
    /// AWS's loggingConfiguration (level OFF when never given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<LoggingConfiguration>,
    /// AWS's tracingConfiguration.enabled.
    #[serde(default)]
    pub tracing_enabled: bool,
}

/// A state machine's loggingConfiguration, as the API validated it.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct LoggingConfiguration {
    /// `ALL`, `ERROR`, `FATAL` or `OFF`.
    pub level: String,
    pub include_execution_data: bool,
    /// CloudWatch Logs log group ARNs (AWS takes at most one).
    pub destinations: Vec<String>,
}

/// A published version of a state machine (PublishStateMachineVersion): the
/// internal definition version it froze and the configuration it had then.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishedVersion {
    pub state_machine_arn: String,
    /// 1, 2, ...: never reused, also after a deletion.
    pub version: u32,
    /// The definition version (see [`Store::put_state_machine`]) it runs.
    pub definition_version: u32,
    pub description: Option<String>,
    pub created_ms: i64,
    /// The role, logging and tracing at publishing (tags are not kept).
    pub details: StateMachineDetails,
}

impl PublishedVersion {
    /// Its ARN: the state machine's, `:` and the number.
    pub fn arn(&self) -> String {
        format!("{}:{}", self.state_machine_arn, self.version)
    }
}

/// One entry of an alias's routingConfiguration, in AWS's JSON shape.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RoutingEntry {
    #[serde(rename = "stateMachineVersionArn")]
    pub version_arn: String,
    pub weight: u32,
}

/// A state machine alias: a name that routes executions to one or two
/// published versions by weight.
#[derive(Debug, Clone, PartialEq)]
pub struct AliasRecord {
    pub arn: String,
    pub state_machine_arn: String,
    pub name: String,
    pub description: Option<String>,
    pub routing: Vec<RoutingEntry>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// What an execution was started through, when not its state machine's
/// plain ARN: the published version it runs, and the alias that chose it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StartedThrough {
    #[serde(rename = "stateMachineVersionArn")]
    pub version_arn: String,
    #[serde(rename = "stateMachineAliasArn", default, skip_serializing_if = "Option::is_none")]
    pub alias_arn: Option<String>,
}

/// What [`Store::delete_published_version`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionDeletion {
    Deleted,
    /// There was no such (live) version.
    NotFound,
    /// Refused: this alias routes executions to it.
    RoutedBy(String),
}

/// A Task resource registered through the HTTP API (PutTaskResource): its
/// entry as the config's `[resources."…"]` table would hold it, and the
/// module uploaded with it, if it was (kept in the store, by SHA-256).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskResourceRecord {
    pub resource: String,
    pub config: Value,
    pub module_sha256: Option<String>,
    pub registered_ms: i64,
}

/// An activity: a queue of tasks that workers take (GetActivityTask).
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityRecord {
    pub arn: String,
    pub name: String,
    pub created_ms: i64,
    pub tags: std::collections::BTreeMap<String, String>,
}

/// A task waiting in an activity's queue for a worker: its token (a task
/// token the driver waits on) and its input.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityTask {
    pub token: String,
    pub activity_arn: String,
    pub execution_arn: String,
    pub input: Value,
    pub created_ms: i64,
}

/// What was sent back for a task token (`stepwasm task success|failure`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum TaskResult {
    Success(Value),
    Failure { error: String, cause: String },
}

/// Where a task token stands.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenState {
    /// Its task waits; `heartbeat_ms` is the latest sign of life (at first,
    /// when the token was issued).
    Waiting { heartbeat_ms: i64 },
    /// A result came; the task's driver records it.
    Completed(TaskResult),
    /// The task ended otherwise (failed, timed out, its execution stopped or
    /// ended): the token is of no more use.
    Closed,
}

/// A store problem, located: which file, which execution, which event.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {path}: {source}")]
    Open { path: String, source: rusqlite::Error },
    #[error("store {path}: {message}")]
    Unreadable { path: String, message: String },
    #[error("store: {0}")]
    Query(#[from] rusqlite::Error),
    #[error("an execution named {0:?} already exists")]
    ExecutionExists(String),
    #[error("no execution {0:?} in the store")]
    NoSuchExecution(String),
    #[error("execution {arn:?} is {status}, so no event can be added to it")]
    Closed { arn: String, status: &'static str },
    #[error("execution {arn:?} cannot be redriven: {reason}")]
    NotRedrivable { arn: String, reason: String },
    #[error("execution {arn:?}: event {got} does not follow event {last} (histories have no gaps or duplicates)")]
    OutOfOrder { arn: String, last: u64, got: u64 },
    #[error("store: a group commit failed: {0}")]
    GroupCommit(String),
    #[error("no task is waiting for token {0:?}")]
    InvalidToken(String),
    #[error("the task of token {0:?} is no longer waiting: it timed out, failed, was already answered, or its execution ended")]
    TaskNotWaiting(String),
    #[error("execution {arn:?}, event {id}: stored event is corrupt: {message}")]
    CorruptEvent { arn: String, id: u64, message: String },
    /// A stored event this build cannot read: written in a newer
    /// [`event_format`] ([`EventFormatError::UnknownVersion`]).
    #[error("execution {arn:?}, event {id}: {source}")]
    EventFormat { arn: String, id: u64, source: EventFormatError },
}

impl StoreError {
    /// A cause that may pass (the disk is full, the file is locked by
    /// another process, an I/O error): the same step can succeed later, so a
    /// host retries it instead of giving up on the execution.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Open { source, .. } | StoreError::Query(source) => is_transient_sqlite(source),
            // The committer's whole transaction failed to begin or commit (a
            // refused batch is answered with its own error, not this one).
            StoreError::GroupCommit(_) => true,
            _ => false,
        }
    }
}

pub use stepwasm_sqlite::is_transient_sqlite;

/// Definitions, executions and histories: the [`Journal`] and everything
/// else a host does. Every method is one atomic step: after a crash the
/// store holds each event either entirely or not at all.
pub trait Store: Journal {
    /// Keeps `definition` (ASL text) under the state machine's ARN and
    /// returns its version: the latest one when the text is unchanged, else a
    /// new one (1, 2, ...). Executions keep the version they started with.
    fn put_state_machine(&self, arn: &str, name: &str, definition: &str) -> Result<u32, StoreError>;

    /// The latest definition text of a state machine.
    fn state_machine(&self, arn: &str) -> Result<Option<String>, StoreError>;

    /// A state machine with its latest definition and details.
    fn describe_state_machine(&self, arn: &str) -> Result<Option<StateMachineRecord>, StoreError>;

    /// Every state machine, by name.
    fn state_machines(&self) -> Result<Vec<StateMachineRecord>, StoreError>;

    /// Replaces a state machine's details; false if there is no such machine.
    fn set_state_machine_details(&self, arn: &str, details: &StateMachineDetails) -> Result<bool, StoreError>;

    /// Forgets a state machine; its executions keep their definitions (the
    /// versions stay), so running ones go on. False if there was none.
    fn delete_state_machine(&self, arn: &str) -> Result<bool, StoreError>;

    /// The definition an execution runs, with its version: the one that was
    /// the state machine's latest when the execution was created (`None`
    /// for executions of a store made before versions were kept).
    fn execution_definition(&self, execution_arn: &str) -> Result<Option<(Option<u32>, String)>, StoreError>;

    /// Registers (or replaces) a Task resource, with its uploaded module's
    /// bytes when it has one, in one step.
    fn put_task_resource(&self, record: &TaskResourceRecord, module: Option<&[u8]>) -> Result<(), StoreError>;

    /// Every registered Task resource, by resource.
    fn task_resources(&self) -> Result<Vec<TaskResourceRecord>, StoreError>;

    /// Forgets a registered resource (and its module, unless another
    /// resource uses it); false if there was none.
    fn delete_task_resource(&self, resource: &str) -> Result<bool, StoreError>;

    /// An uploaded module's bytes, by SHA-256 (lowercase hex).
    fn module(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Keeps an activity (again: nothing changes) and returns it.
    fn put_activity(
        &self,
        arn: &str,
        name: &str,
        tags: &std::collections::BTreeMap<String, String>,
        now_ms: i64,
    ) -> Result<ActivityRecord, StoreError>;

    fn activity(&self, arn: &str) -> Result<Option<ActivityRecord>, StoreError>;

    /// Every activity, by name.
    fn activities(&self) -> Result<Vec<ActivityRecord>, StoreError>;

    /// Replaces an activity's tags; false if there is no such activity.
    fn set_activity_tags(&self, arn: &str, tags: &std::collections::BTreeMap<String, String>) -> Result<bool, StoreError>;

    /// Forgets an activity and its queued tasks (their executions wait on,
    /// until their timeouts); false if there was none.
    fn delete_activity(&self, arn: &str) -> Result<bool, StoreError>;

    /// Hands the oldest queued task of an activity whose token still waits
    /// to `worker`; it is not handed out again.
    fn take_activity_task(&self, activity_arn: &str, worker: &str) -> Result<Option<ActivityTask>, StoreError>;

    /// The executions with `status` (all when `None`), oldest first.
    fn executions(&self, status: Option<ExecutionStatus>) -> Result<Vec<ExecutionSummary>, StoreError>;

    /// The executions of one state machine with `status` (all when
    /// `None`), newest first.
    fn executions_of(&self, state_machine_arn: &str, status: Option<ExecutionStatus>) -> Result<Vec<ExecutionSummary>, StoreError>;

    /// The RUNNING executions registered after `position` (0: all), each
    /// with its position, in order: a host polling for new executions asks
    /// for those after the last position it saw.
    fn executions_started_after(&self, position: i64) -> Result<Vec<(i64, ExecutionSummary)>, StoreError>;

    /// The executions redriven after `position` (0: all) that are still
    /// RUNNING, each with the position of its latest redrive, in order: a
    /// host polling for executions to drive asks for those after the last
    /// position it saw.
    fn executions_redriven_after(&self, position: i64) -> Result<Vec<(i64, ExecutionSummary)>, StoreError>;

    /// The executions stopped (ABORTED) at or after `since_ms`.
    fn executions_stopped_since(&self, since_ms: i64) -> Result<Vec<ExecutionSummary>, StoreError>;

    /// Notes, before a host evaluates anything of a running execution, that
    /// it begins driving it, for the crash-loop guard, which counts the host
    /// stops (crashes, kills) in a row while the execution was being driven
    /// with no progress in between (progress: a new event other than
    /// `TaskStarted`, which a rerun of an interrupted task adds):
    /// - each rerun of the same interrupted task is one stop;
    /// - a drive begun at least `guard.waits_up_to_ms` after the latest
    ///   settled event (so evaluating, not waiting) that did not end is one;
    /// - nothing is counted while a task waits for its token's answer.
    ///
    /// When `guard.limit` stops (0: never) are counted, the execution is
    /// failed instead, as a stop is written (one step: `ExecutionFailed` with
    /// `States.Runtime` and [`crash_loop_cause`], status FAILED, tokens
    /// closed), and [`DriveStart::Failed`] returned. A drive that ends well
    /// starts the count over: the execution ends or parks
    /// ([`Journal::park_execution`]), or [`end_drive`](Self::end_drive).
    fn begin_drive(&self, execution_arn: &str, guard: CrashGuard, now_ms: i64) -> Result<DriveStart, StoreError>;

    /// A drive ended without the host stopping, and without parking or
    /// ending the execution (the host gave up on it): its count starts over.
    fn end_drive(&self, execution_arn: &str) -> Result<(), StoreError>;

    /// Stops a running execution: appends `ExecutionAborted` after its last
    /// event, marks it ABORTED and closes its task tokens, in one step.
    /// Returns the event; a driver still running it finds its next append
    /// refused and stops there.
    fn stop_execution(&self, execution_arn: &str, error: &str, cause: &str, now_ms: i64) -> Result<HistoryEvent, StoreError>;

    /// Starts a FAILED, TIMED_OUT or ABORTED execution again from the state
    /// that did not succeed (RedriveExecution): appends `ExecutionRedriven`
    /// after its last event and marks it RUNNING, in one step; a host then
    /// drives it on ([`executions_redriven_after`](Self::executions_redriven_after)).
    /// A request with the `client_token` of the latest redrive is that
    /// redrive again: nothing more is done. [`StoreError::NotRedrivable`]
    /// says why not for a running or succeeded execution, one stopped over
    /// 14 days ago, one whose history is full, or one redriven 1,000 times.
    fn redrive_execution(&self, execution_arn: &str, client_token: Option<&str>, now_ms: i64) -> Result<Redrive, StoreError>;

    /// Publishes the definition version `definition_version` of state
    /// machine `arn` with `details` as its next version (numbers are never
    /// reused) and returns it.
    fn publish_version(
        &self,
        arn: &str,
        definition_version: u32,
        description: Option<&str>,
        details: &StateMachineDetails,
        now_ms: i64,
    ) -> Result<PublishedVersion, StoreError>;

    /// A state machine's live published versions, newest first.
    fn published_versions(&self, arn: &str) -> Result<Vec<PublishedVersion>, StoreError>;

    /// One live published version.
    fn published_version(&self, arn: &str, version: u32) -> Result<Option<PublishedVersion>, StoreError>;

    /// Deletes a published version, unless an alias routes to it (one step).
    fn delete_published_version(&self, arn: &str, version: u32) -> Result<VersionDeletion, StoreError>;

    /// The text of a state machine's definition version `definition_version`.
    fn definition_at(&self, arn: &str, definition_version: u32) -> Result<Option<String>, StoreError>;

    /// Creates or replaces an alias, in one step with the check that every
    /// version it routes to is live: `Err(version ARN)` names one that is not.
    fn put_alias(&self, alias: &AliasRecord) -> Result<Result<(), String>, StoreError>;

    fn alias(&self, arn: &str) -> Result<Option<AliasRecord>, StoreError>;

    /// A state machine's aliases, newest first.
    fn aliases(&self, state_machine_arn: &str) -> Result<Vec<AliasRecord>, StoreError>;

    /// False if there was none.
    fn delete_alias(&self, arn: &str) -> Result<bool, StoreError>;

    /// Forgets a state machine's published versions and aliases (with the
    /// state machine: AWS deletes them with it).
    fn delete_versions_and_aliases(&self, state_machine_arn: &str) -> Result<(), StoreError>;

    /// Registers a new execution of a published version with its first
    /// `events`, in one step: it runs `definition_version` (not the latest)
    /// and remembers what it was `through`.
    fn start_execution_through(
        &self,
        info: &ExecutionInfo,
        start_ms: i64,
        events: &[HistoryEvent],
        definition_version: u32,
        through: &StartedThrough,
    ) -> Result<(), StoreError>;

    /// What an execution was started through, if a version or an alias.
    fn started_through(&self, execution_arn: &str) -> Result<Option<StartedThrough>, StoreError>;

    /// Of a state machine's executions, those started through a version or
    /// an alias, by execution ARN.
    fn executions_started_through(&self, state_machine_arn: &str) -> Result<std::collections::HashMap<String, StartedThrough>, StoreError>;

    /// Sends a waiting task its result. [`StoreError::InvalidToken`] for a
    /// token never issued, [`StoreError::TaskNotWaiting`] for one whose task
    /// no longer waits.
    fn send_task_result(&self, token: &str, result: &TaskResult) -> Result<(), StoreError>;

    /// Resolves when a task of the activity is queued through this same
    /// store (by a driver in this process), so a waiting GetActivityTask need
    /// not poll for it; tasks queued by other processes are only seen through
    /// [`take_activity_task`](Self::take_activity_task). Ask before taking:
    /// a task queued in between is not missed.
    fn activity_task_queued<'a>(&'a self, _activity_arn: &'a str) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>> {
        Box::pin(std::future::pending())
    }

    /// A waiting task is alive: its heartbeat timeout starts over.
    fn send_task_heartbeat(&self, token: &str, now_ms: i64) -> Result<(), StoreError>;

    /// Keeps a new map run, unless one with its ARN is kept already, and
    /// returns the kept one: a map run started again (after a crash) keeps
    /// what [`update_map_run`](Self::update_map_run) changed and its counts.
    fn create_map_run(&self, record: &MapRunRecord) -> Result<MapRunRecord, StoreError>;

    fn map_run(&self, map_run_arn: &str) -> Result<Option<MapRunRecord>, StoreError>;

    /// The map runs of an execution, oldest first.
    fn map_runs_of(&self, execution_arn: &str) -> Result<Vec<MapRunRecord>, StoreError>;

    /// Changes the settings given (UpdateMapRun); false if there is no such run.
    fn update_map_run(
        &self,
        map_run_arn: &str,
        max_concurrency: Option<u32>,
        tolerated_failure_count: Option<u64>,
        tolerated_failure_percentage: Option<f64>,
    ) -> Result<bool, StoreError>;

    /// Replaces a map run's counts of items and child executions.
    fn set_map_run_progress(
        &self,
        map_run_arn: &str,
        item_counts: &MapRunCounts,
        execution_counts: &MapRunCounts,
    ) -> Result<(), StoreError>;

    /// A redriven map run runs again: RUNNING, as its redrive
    /// `redrive_count`, unless it is at that count already (a redrive
    /// resumed after a crash). False if there is no such run.
    fn redrive_map_run(&self, map_run_arn: &str, redrive_count: u32, now_ms: i64) -> Result<bool, StoreError>;

    /// Ends a RUNNING map run with `status` at `stop_ms`; one that ended
    /// already keeps its end.
    fn finish_map_run(&self, map_run_arn: &str, status: MapRunStatus, stop_ms: i64) -> Result<(), StoreError>;

    /// The child executions of a map run (of its child state machine, named
    /// `<map run id>-…`), oldest first; none for an unknown run.
    fn map_run_children(&self, map_run_arn: &str) -> Result<Vec<ExecutionSummary>, StoreError>;
}
