//! `stepwasm serve`: the long-running host. It drives every execution its
//! store holds as running, many at once on tokio: on start (recovery after a
//! crash: each goes on from its history) and whenever `stepwasm start` adds
//! one. An execution in a short wait is a sleeping future, not a thread; one
//! in a long Wait is parked: `serve` keeps only a timer for it and replays
//! it from the store when it is due. One stopped in the store (`stepwasm
//! executions stop`) is let go at the next poll, wherever it was.
//!
//! It also answers the HTTP API and serves the console (`crate::api`), on
//! `--listen` (default 127.0.0.1:8083).
//!
//! One `serve` per store: it holds the store's lock while it runs (see
//! [`crate::store::lock`]), so a second one (or `resume`, `run --store`)
//! is refused naming its pid, or waits with `--wait-for-lock`.
//!
//! A drive that fails for a cause that may pass (the disk is full, the store
//! locked or failing I/O, a module file missing) is not the end of its
//! execution: it is driven again from its stored history after a backoff
//! (0.5 s doubling to 30 s), for as long as it takes ([`retries`]).
//! `--exit-when-idle` waits for those too, and exits 1 naming any execution
//! it left RUNNING (one it cannot drive, or, after `--give-up-after`, one
//! still failing).

mod pruning;
mod retries;

use crate::api::connections::{ConnectionArgs, Policy};
use crate::api::open_executions::{OpenExecutions, DEFAULT_MAX_OPEN_EXECUTIONS};
use crate::api::{serve_api, Access, Api};
use crate::cli::store_flags::{LockArg, StoreArg};
use crate::cli::{CacheArg, ConfigArg};
use crate::driver::{drive_stored_execution, Clock, DriverError, Progress, ScaledWaits, SystemClock};
use crate::engine::{ExecutionInfo, Outcome};
use crate::machines::StoredMachines;
use crate::runtime::instance_slots;
use crate::store::{CrashGuard, DriveStart, ExecutionStatus, Journal, SqliteStore, Store, StoreError, CRASH_LIMIT};
use crate::tasks::nested::NestedExecutions;
use crate::tasks::HostTasks;
use anyhow::{anyhow, Context as _, Result};
use clap::Args;
use retries::{Failure, Retries, RETRY_BACKOFF};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    store: StoreArg,
    #[command(flatten)]
    lock: LockArg,
    /// Resource map of the stored state machines (default: `wasm:<name>`
    /// resources are looked up in the current directory).
    #[command(flatten)]
    config: ConfigArg,
    #[command(flatten)]
    cache: CacheArg,
    /// How often the store is checked for newly started executions.
    #[arg(long, default_value_t = 200)]
    poll_ms: u64,
    /// At most this many executions are driven at once (replayed, running
    /// tasks, in short waits); the others wait their turn. Bounds memory when
    /// a restart finds many executions to recover.
    #[arg(long, default_value_t = MAX_ACTIVE)]
    max_active: usize,
    /// At most this many tasks run at once (WASM instances alive, 1 to
    /// 4096); the others wait their turn in one FIFO queue. Every loaded
    /// machine's instance pool is sized to it.
    #[arg(long, default_value_t = instance_slots::DEFAULT_INSTANCES)]
    instances: usize,
    /// While this many tasks wait for an instance, StartExecution and
    /// StartSyncExecution answer ThrottlingException (retryable) instead of
    /// taking more work.
    #[arg(long, default_value_t = instance_slots::DEFAULT_MAX_QUEUED)]
    max_queued: usize,
    /// At most this many executions are open (driven, queued, parked,
    /// waiting to be driven again); past it StartExecution answers
    /// ExecutionLimitExceeded, as AWS does past its quota, so that nothing
    /// (a definition starting executions of itself included) can grow
    /// serve's memory and store without bound.
    #[arg(long, default_value_t = DEFAULT_MAX_OPEN_EXECUTIONS)]
    max_open_executions: usize,
    /// Exit once no execution is running, parked, queued or waiting to be
    /// driven again (for scripts and tests): 0 when none is left RUNNING, 1
    /// naming those this serve could not drive.
    #[arg(long)]
    exit_when_idle: bool,
    /// With --exit-when-idle: an execution whose drives keep failing for a
    /// cause that may pass (disk full, store locked, module missing) for
    /// this many seconds is given up (left RUNNING, named at exit). Without
    /// --exit-when-idle such executions are retried for as long as serve runs.
    #[arg(long, default_value_t = GIVE_UP_AFTER_SECS, value_name = "SECONDS")]
    give_up_after: u64,
    /// Worker threads (default: one per core).
    #[arg(long)]
    workers: Option<usize>,
    /// Where the HTTP API (AWS Step Functions, JSON 1.0) and the console
    /// listen; port 0 picks a free port (the line `api listening on …` says
    /// which).
    #[arg(long, default_value = "127.0.0.1:8083")]
    listen: String,
    /// Keep strangers out: KEY_ID:SECRET. Requests must then be SigV4-signed
    /// with that access key and secret (what the AWS CLI and SDKs do when
    /// given them) or carry `Authorization: Bearer SECRET`. Without it the
    /// API takes any request that reaches it.
    #[arg(long, env = "STEPWASM_API_SECRET", hide_env_values = true)]
    api_secret: Option<String>,
    /// The region in the ARNs the API makes for a request that is not
    /// SigV4-signed; a signed request's ARNs carry the region it is signed
    /// for (the client's).
    #[arg(long, default_value = crate::engine::arn::DEFAULT_REGION)]
    region: String,
    /// The account (12 digits) in the ARNs the API makes.
    #[arg(long, default_value = crate::engine::arn::DEFAULT_ACCOUNT)]
    account: String,
    #[command(flatten)]
    connections: ConnectionArgs,
    /// Crash-loop guard: an execution that was being driven (running a task,
    /// or evaluating; a stop during a short wait is not counted) each time
    /// the host stopped (crashed, was killed) this many times in a row, with
    /// no progress in between, is failed (`States.Runtime`) instead of being
    /// replayed again; 0 turns the guard off.
    #[arg(long, default_value_t = CRASH_LIMIT)]
    crash_limit: u32,
    /// Delete closed executions (succeeded, failed, timed out, aborted) with
    /// their histories this many days after they closed, at start and then
    /// hourly (AWS keeps them 90 days). Without it nothing is deleted.
    #[arg(long, value_name = "DAYS")]
    retain_days: Option<u32>,
    /// Wait states take this many times as long (SFN Local's
    /// WAIT_TIME_SCALE): 0 ends them at once, 0.01 makes an hour 36 s.
    /// Retry backoffs and task timeouts keep their length, as in SFN Local.
    #[arg(long, env = "WAIT_TIME_SCALE", value_name = "F", default_value_t = 1.0)]
    wait_time_scale: f64,
    #[command(flatten)]
    fanout: crate::cli::inputs::FanoutArg,
}

/// The `serve` subcommand.
pub fn serve(args: ServeArgs) -> Result<ExitCode> {
    args.fanout.apply();
    // Before any module is loaded: the pools are sized from it.
    instance_slots::configure(args.instances)?;
    instance_slots::set_max_queued(args.max_queued);
    // Taken first and held until serve exits (the kernel drops it when the
    // process dies, however it dies).
    let (_lock, store) = args.store.open_exclusive(&args.lock, "stepwasm serve")?;
    // A page-level check before anything is driven (the CLI's reads skip
    // it; `stepwasm store check --full` also reads every event back).
    store.check(false)?;
    let store = Arc::new(store);
    let settings = args.config.machine_settings(&args.cache)?;
    let machines = Arc::new(StoredMachines::new(settings, &args.store.store));
    machines.map_registered(&*store)?;
    let access = match &args.api_secret {
        Some(spec) => Access::shared_secret(spec).map_err(|e| anyhow!(e))?,
        None => Access::Open,
    };
    let arns = crate::engine::arn::ArnScope::new(&args.region, &args.account).map_err(|e| anyhow!("--region/--account: {e}"))?;
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = args.workers {
        builder.worker_threads(workers.max(1));
    }
    let tokio = builder.enable_all().build()?;
    let limits = HostLimits {
        poll: Duration::from_millis(args.poll_ms.max(1)),
        max_active: args.max_active.max(1),
        crash_limit: args.crash_limit,
        give_up_after: args.exit_when_idle.then(|| Duration::from_secs(args.give_up_after)),
        clock: ScaledWaits::new(args.wait_time_scale).ok_or_else(|| {
            anyhow!("--wait-time-scale {}: a number 0 or more (1 waits as long as the definition says)", args.wait_time_scale)
        })?,
    };
    let left_running = tokio.block_on(async {
        let listener =
            tokio::net::TcpListener::bind(&args.listen).await.with_context(|| format!("--listen {}: cannot listen there", args.listen))?;
        let wake_host = Arc::new(tokio::sync::Notify::new());
        let open_executions = Arc::new(OpenExecutions::new(args.max_open_executions));
        let api = Arc::new(Api {
            store: Arc::clone(&store),
            machines: Arc::clone(&machines),
            wake_host: Arc::clone(&wake_host),
            access,
            arns,
            open_executions: Arc::clone(&open_executions),
            resolved: Default::default(),
        });
        // Nested executions start through the API's own StartExecution.
        let nested = Arc::new(NestedExecutions::new(Arc::clone(&api)));
        crate::console_out::say(format_args!("api listening on http://{}", listener.local_addr()?));
        tokio::spawn(serve_api(listener, api, Policy::from_args(&args.connections)));
        if let Some(days) = args.retain_days {
            pruning::spawn_pruner(Arc::clone(&store), days);
        }
        drive_store(Arc::clone(&store), machines, nested, limits, args.exit_when_idle, wake_host, open_executions).await
    })?;
    // Only those still RUNNING count (one may have been stopped since).
    let left_running: Vec<_> = left_running
        .into_iter()
        .filter(|(arn, _)| store.execution(arn).ok().flatten().is_none_or(|e| e.status == ExecutionStatus::Running))
        .collect();
    if left_running.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    crate::console_out::warn(format_args!("error: {} execution(s) left RUNNING that this serve could not drive:", left_running.len()));
    for (arn, why) in &left_running {
        crate::console_out::warn(format_args!("  {arn}: {why}"));
    }
    Ok(ExitCode::from(1))
}

/// How long `--exit-when-idle` retries an execution whose drives keep
/// failing for a cause that may pass before it gives up on it.
pub const GIVE_UP_AFTER_SECS: u64 = 300;

/// A wait longer than this parks its execution: `serve` keeps a timer for it
/// instead of the execution, and replays it from the store when it is due.
pub const PARK_WAITS_OVER_MS: i64 = 2_000;

/// The longest a drive may sit in a wait it did not park (a short Wait or
/// retry backoff), with a margin for a busy host: the crash-loop guard does
/// not count a stop that may have come during it ([`CrashGuard`]).
const CRASH_GUARD_WAITS_UP_TO_MS: i64 = PARK_WAITS_OVER_MS + 2_000;

/// How many executions `serve` drives at once by default.
pub const MAX_ACTIVE: usize = 10_000;

/// How often `serve` looks at its store, how many executions it drives at
/// once, and how many host stops in a row an execution may be driven through.
struct HostLimits {
    poll: Duration,
    max_active: usize,
    crash_limit: u32,
    /// How long an execution may keep failing before it is given up; none:
    /// retried for as long as serve runs.
    give_up_after: Option<Duration>,
    /// The wall clock, with Wait states scaled by `--wait-time-scale`.
    clock: ScaledWaits,
}

/// The parked executions: all `serve` keeps of an execution in a long wait.
#[derive(Default)]
pub struct ParkedTimers {
    parked: HashMap<String, ExecutionInfo>,
    /// (due time, ARN), soonest first; an entry whose execution is no longer
    /// parked (it was stopped) is skipped when it comes up.
    timers: BinaryHeap<Reverse<(i64, String)>>,
}

impl ParkedTimers {
    pub fn park(&mut self, info: ExecutionInfo, until_ms: i64) {
        self.timers.push(Reverse((until_ms, info.execution_arn.clone())));
        self.parked.insert(info.execution_arn.clone(), info);
    }

    /// Takes out the executions due at `now_ms`.
    pub fn due(&mut self, now_ms: i64) -> Vec<ExecutionInfo> {
        let mut due = Vec::new();
        while self.timers.peek().is_some_and(|Reverse((at, _))| *at <= now_ms) {
            if let Some(info) = self.timers.pop().and_then(|Reverse((_, arn))| self.parked.remove(&arn)) {
                due.push(info);
            }
        }
        due
    }

    /// How long until the next one is due, from `now_ms`.
    pub fn next_due_in(&self, now_ms: i64) -> Option<Duration> {
        self.timers.peek().map(|Reverse((at, _))| Duration::from_millis((at - now_ms).max(1) as u64))
    }

    /// Forgets a parked execution; false if it was not parked.
    pub fn remove(&mut self, arn: &str) -> bool {
        self.parked.remove(arn).is_some()
    }

    pub fn len(&self) -> usize {
        self.parked.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parked.is_empty()
    }
}

/// What `serve` holds: the executions it drives, those parked until a time,
/// those to be driven again after a failure, and those it cannot run.
struct Host {
    store: Arc<SqliteStore>,
    machines: Arc<StoredMachines>,
    tasks: tokio::task::JoinSet<(ExecutionInfo, DriveResult)>,
    driving: HashMap<String, tokio::task::AbortHandle>,
    /// Executions waiting for one of the `max_active` places.
    backlog: VecDeque<ExecutionInfo>,
    max_active: usize,
    /// See [`Store::begin_drive`]; 0: no guard.
    crash_limit: u32,
    parked: ParkedTimers,
    /// Executions whose latest drive failed for a cause that may pass.
    retries: Retries,
    give_up_after: Option<Duration>,
    /// Executions this serve cannot drive (left RUNNING), by ARN, with why;
    /// a redrive or a stop takes one out.
    stuck: HashMap<String, String>,
    /// Nested executions start through the API (`crate::tasks::nested`).
    nested: Arc<NestedExecutions>,
    /// What executions are driven with: see [`HostLimits::clock`].
    clock: ScaledWaits,
}

/// Where `serve` is in its store's lists: executions started and redriven
/// are seen once, by position; stops by time.
#[derive(Default)]
struct Seen {
    started: i64,
    redriven: i64,
    stops_since: i64,
}

/// Drives the store's executions until idle (`exit_when_idle`) or forever;
/// returns the executions it left RUNNING, with why.
async fn drive_store(
    store: Arc<SqliteStore>,
    machines: Arc<StoredMachines>,
    nested: Arc<NestedExecutions>,
    limits: HostLimits,
    exit_when_idle: bool,
    wake: Arc<tokio::sync::Notify>,
    open_executions: Arc<OpenExecutions>,
) -> Result<Vec<(String, String)>> {
    let poll = limits.poll;
    crate::console_out::say(format_args!("serving {:?}", store));
    let mut host = Host {
        store,
        machines,
        tasks: tokio::task::JoinSet::new(),
        driving: HashMap::new(),
        backlog: VecDeque::new(),
        max_active: limits.max_active,
        crash_limit: limits.crash_limit,
        parked: ParkedTimers::default(),
        retries: Retries::new(RETRY_BACKOFF),
        give_up_after: limits.give_up_after,
        stuck: HashMap::new(),
        nested,
        clock: limits.clock,
    };
    let mut seen = Seen::default();
    // The latest poll's failure, said once (the store may be unreadable for a while).
    let mut poll_failure: Option<String> = None;
    // Whether this pass asks the store (not after a drive's end alone), and
    // when the store is asked at the latest: passes for drives' ends do not
    // put the poll off, however often they come.
    let mut poll_store = true;
    let mut next_poll = tokio::time::Instant::now();
    loop {
        host.reap()?;
        let now = SystemClock.now_ms();
        let polled = if poll_store || tokio::time::Instant::now() >= next_poll {
            next_poll = tokio::time::Instant::now() + poll;
            Some(host.poll(&mut seen, now))
        } else {
            None
        };
        match polled {
            None => {}
            Some(Ok(())) if poll_failure.take().is_some() => crate::console_out::say(format_args!("the store answers again")),
            Some(Ok(())) => {}
            Some(Err(e)) if e.is_transient() => {
                let why = e.to_string();
                if poll_failure.as_ref() != Some(&why) {
                    crate::console_out::warn(format_args!("error: cannot read the store (tried again at every poll): {why}"));
                }
                poll_failure = Some(why);
            }
            Some(Err(e)) => return Err(e.into()),
        }
        for info in host.parked.due(now) {
            host.spawn(info);
        }
        for info in host.retries.due(now) {
            host.spawn(info);
        }
        host.admit();
        open_executions.set(host.open());
        let idle = host.tasks.is_empty() && host.parked.is_empty() && host.backlog.is_empty() && host.retries.is_empty();
        // Not before the store has answered: what it holds is not known yet.
        if exit_when_idle && idle && poll_failure.is_none() {
            let mut left: Vec<_> = host.stuck.into_iter().collect();
            left.sort();
            return Ok(left);
        }
        let now = SystemClock.now_ms();
        let next_due = [host.parked.next_due_in(now), host.retries.next_due_in(now)].into_iter().flatten().min();
        // The API wakes us when it starts, stops or redrives an execution.
        // A drive that ends is taken in at once: it makes room for the
        // backlog (`--max-active`), and `--exit-when-idle` sees the end; such
        // a pass does not ask the store.
        let driving = !host.tasks.is_empty();
        poll_store = tokio::select! {
            () = tokio::time::sleep_until(next_due.map_or(next_poll, |d| next_poll.min(tokio::time::Instant::now() + d))) => true,
            () = wake.notified() => true,
            Some(joined) = host.tasks.join_next(), if driving => {
                host.landed(joined)?;
                false
            }
        };
    }
}

/// How one drive of an execution ended.
type DriveResult = Result<Progress, DriverError>;

impl Host {
    /// Takes in what the store says changed: executions started, redriven
    /// and stopped since `seen`.
    fn poll(&mut self, seen: &mut Seen, now: i64) -> Result<(), StoreError> {
        for (position, execution) in self.store.executions_started_after(seen.started)? {
            seen.started = seen.started.max(position);
            match execution.wake_ms {
                // Parked by an earlier serve: its timer, without a replay.
                Some(at) if at > now => self.parked.park(execution.info, at),
                _ => self.spawn(execution.info),
            }
        }
        // Ended executions started again (RedriveExecution): driven on from
        // their stored history, as any other (one already taken in above is
        // not driven twice).
        for (position, execution) in self.store.executions_redriven_after(seen.redriven)? {
            seen.redriven = seen.redriven.max(position);
            self.stuck.remove(&execution.info.execution_arn);
            self.spawn(execution.info);
        }
        for stopped in self.store.executions_stopped_since(seen.stops_since)? {
            self.let_go(&stopped.info);
        }
        // With a margin: the stopping process's clock may differ a little.
        seen.stops_since = now - 60_000;
        Ok(())
    }

    /// Takes in the executions whose task ended: finished, parked or failed.
    fn reap(&mut self) -> Result<()> {
        while let Some(joined) = self.tasks.try_join_next() {
            self.landed(joined)?;
        }
        Ok(())
    }

    /// Takes in one execution whose task ended.
    fn landed(&mut self, joined: Result<(ExecutionInfo, DriveResult), tokio::task::JoinError>) -> Result<()> {
        let (info, result) = match joined {
            Ok(finished) => finished,
            // Let go of in `let_go`: it was stopped.
            Err(e) if e.is_cancelled() => return Ok(()),
            Err(e) => return Err(anyhow!("an execution's task failed: {e}")),
        };
        self.driving.remove(&info.execution_arn);
        if result.is_ok() {
            if let Some(failures) = self.retries.succeeded(&info.execution_arn) {
                crate::console_out::say(format_args!("execution {} goes on after {failures} failed drive(s)", info.name));
            }
        }
        match result {
            Ok(Progress::Finished(outcome)) => {
                // Ended while a map run went on (its TimeoutSeconds, a
                // store stop): that run's children stop with it.
                crate::map_run::children::abort_runs_of(&*self.store, &info.execution_arn);
                crate::console_out::say(format_args!("{} {}", ExecutionStatus::of(&outcome).as_str(), info.name))
            }
            Ok(Progress::Parked { until_ms }) => self.parked.park(info, until_ms),
            Err(e) => {
                // The host did not die driving it: no crash is counted.
                // (Should this fail too, the next drive ends the count.)
                let _ = self.store.end_drive(&info.execution_arn);
                self.failed(info, Failure::of_drive(&e));
            }
        }
        Ok(())
    }

    /// A drive of `info`, or the load before it, failed: driven again after
    /// a backoff, or let go of, or left RUNNING as stuck.
    fn failed(&mut self, info: ExecutionInfo, failure: Failure) {
        let arn = info.execution_arn.clone();
        let (why, may_give_up) = match failure {
            Failure::Ended(why) => {
                self.retries.remove(&arn);
                crate::console_out::warn(format_args!("execution {arn} is not running any more: {why}"));
                return;
            }
            Failure::Permanent(why) => {
                self.retries.remove(&arn);
                crate::console_out::warn(format_args!("error: execution {arn} cannot be driven, it stays RUNNING: {why}"));
                self.stuck.insert(arn, why);
                return;
            }
            Failure::Passing(why) => (why, true),
            Failure::Stale(why) => (why, false),
        };
        let scheduled = self.retries.failed(info, why.clone(), SystemClock.now_ms(), retries::jitter());
        if may_give_up && self.give_up_after.is_some_and(|limit| scheduled.failing_for >= limit) {
            self.retries.remove(&arn);
            let why = format!("{why} (given up after {} failed drives over {})", scheduled.failures, retries::shown(scheduled.failing_for));
            crate::console_out::warn(format_args!("error: execution {arn}: {why}"));
            self.stuck.insert(arn, why);
        } else if scheduled.changed {
            crate::console_out::warn(format_args!(
                "error: execution {arn}: {why}; driven again in {} (and after each failure, at most every {})",
                retries::shown(scheduled.delay),
                retries::shown(RETRY_BACKOFF.max)
            ));
        }
    }

    /// Queues `info` to be driven.
    fn spawn(&mut self, info: ExecutionInfo) {
        self.backlog.push_back(info);
    }

    /// The executions this host holds open: driven, queued, parked, waiting
    /// for a retry's backoff, stuck.
    fn open(&self) -> usize {
        self.driving.len() + self.backlog.len() + self.parked.len() + self.retries.waiting() + self.stuck.len()
    }

    /// Drives executions from the backlog while there is room.
    fn admit(&mut self) {
        while self.driving.len() < self.max_active {
            let Some(info) = self.backlog.pop_front() else { break };
            self.start(info);
        }
    }

    /// Drives `info` from its stored history, as a task of its own.
    fn start(&mut self, info: ExecutionInfo) {
        let arn = info.execution_arn.clone();
        if self.driving.contains_key(&arn) || self.stuck.contains_key(&arn) {
            return;
        }
        // A machine may load later (a module file restored, the store readable again).
        let loaded = match self.machines.get(&self.store, &info) {
            Ok(loaded) => loaded,
            Err(e) => return self.failed(info, Failure::Passing(format!("cannot load its state machine: {e:#}"))),
        };
        let test_case = match self.machines.test_case_of(&info) {
            Ok(test_case) => test_case,
            Err(e) => return self.failed(info, Failure::Passing(format!("{e:#}"))),
        };
        let clock = self.clock;
        let store = Arc::clone(&self.store);
        let nested = Arc::clone(&self.nested);
        let machines = Arc::clone(&self.machines);
        let crash_limit = self.crash_limit;
        let after_failure = self.retries.contains(&arn);
        let task = self.tasks.spawn(async move {
            // Noted before anything of it is evaluated: if it kills the host,
            // the next host knows (the crash-loop guard).
            if crash_limit > 0 {
                // Driven again after this serve's own failed drive: what that
                // left (a task started again and again while the disk was
                // full) is no crash, so the count starts over and the guard
                // does not fail it now; a crash during this drive still counts.
                if after_failure {
                    if let Err(e) = store.end_drive(&info.execution_arn) {
                        return (info, Err(e.into()));
                    }
                }
                let limit = if after_failure { 0 } else { crash_limit };
                let guard = CrashGuard { limit, waits_up_to_ms: CRASH_GUARD_WAITS_UP_TO_MS };
                match store.begin_drive(&info.execution_arn, guard, SystemClock.now_ms()) {
                    Ok(DriveStart::Go { .. }) => {}
                    Ok(DriveStart::Failed { error, cause }) => {
                        crate::console_out::warn(format_args!("error: execution {} failed: {cause}", info.execution_arn));
                        return (info, Ok(Progress::Finished(Outcome::Failed { error, cause })));
                    }
                    Err(e) => return (info, Err(e.into())),
                }
            }
            let (machine, runtime) = &*loaded;
            let tasks = HostTasks::wasm_only(runtime)
                .with_nested(&nested)
                .with_http_tasks(machines.http_tasks())
                .with_s3_buckets(machines.s3_buckets())
                .with_mock(test_case.as_deref());
            let result = drive_stored_execution(Arc::clone(machine), info.clone(), &tasks, &clock, &*store, PARK_WAITS_OVER_MS).await;
            (info, result)
        });
        self.driving.insert(arn, task);
    }

    /// An execution stopped in the store: its task is dropped wherever it
    /// was (a task in progress is abandoned), or its timer forgotten.
    fn let_go(&mut self, info: &ExecutionInfo) {
        let arn = &info.execution_arn;
        let held = match self.driving.remove(arn) {
            Some(task) => {
                task.abort();
                true
            }
            None => {
                let queued = self.backlog.len();
                self.backlog.retain(|waiting| &waiting.execution_arn != arn);
                self.parked.remove(arn) || self.backlog.len() < queued
            }
        };
        // Its Distributed Maps' children stop with it.
        crate::map_run::children::abort_runs_of(&*self.store, arn);
        // Waiting to be driven again, or stuck: nothing more to do for it.
        let held = self.retries.remove(arn) | self.stuck.remove(arn).is_some() | held;
        if held {
            crate::console_out::say(format_args!("ABORTED {}", info.name));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parked_executions_come_due_in_time_order_and_a_stopped_one_never_does() {
        let info = |name: &str| crate::driver::execution_info("sm", name);
        let mut timers = ParkedTimers::default();
        timers.park(info("late"), 3_000);
        timers.park(info("early"), 1_000);
        timers.park(info("stopped"), 2_000);
        assert!(timers.remove(&info("stopped").execution_arn));
        assert!(!timers.remove(&info("stopped").execution_arn));
        assert_eq!(timers.next_due_in(500), Some(Duration::from_millis(500)));
        assert!(timers.due(999).is_empty());
        let names = |due: Vec<ExecutionInfo>| due.into_iter().map(|i| i.name).collect::<Vec<_>>();
        assert_eq!(names(timers.due(2_500)), ["early"]);
        assert_eq!(timers.len(), 1);
        assert_eq!(names(timers.due(10_000)), ["late"]);
        assert!(timers.is_empty() && timers.due(i64::MAX).is_empty());
    }
}
