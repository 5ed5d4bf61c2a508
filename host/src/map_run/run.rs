//! One map run, from its [`MapRunRequest`] to the Map state's result: the
//! items (recorded in the request, or read by the `ItemReader` and put
//! through `ItemSelector`/`ItemBatcher`), one child execution per item or
//! batch with at most `MaxConcurrency` running (changed by UpdateMapRun while
//! it runs, where children are stored), tolerated failures counted as
//! children end, the children still running stopped once the run fails, and
//! the outputs in item order or written by the `ResultWriter`.
//!
//! Where children run is [`Children`]'s: stored executions that `serve`
//! drives ([`super::children::StoredChildren`]), or futures in this process
//! ([`super::children::InProcessChildren`]). Run again after a crash, a map
//! run finds the children it started by their names and waits for them.

use super::items::read_items;
use super::results::{write_results, ChildResult};
use crate::asl::errors;
use crate::engine::map_run::{self, prepare_read_items, MapRunRequest, MapRunSpec, MAX_READ_ITEMS};
use crate::engine::{TaskInvocation, TaskOutcome, MAX_PAYLOAD_BYTES};
use crate::runtime::config::S3Buckets;
use crate::store::{map_run_child_name, MapRunCounts, MapRunStatus};
use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};
use serde::Deserialize as _;
use serde_json::Value;

/// The settings a running map run may be given (UpdateMapRun).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub max_concurrency: u32,
    pub tolerated_failure_count: u64,
    pub tolerated_failure_percentage: f64,
}

/// Where a map run's children run, and where its progress is kept.
pub trait Children: Sync {
    /// The run is starting (or starting again after a crash) with
    /// `children` child executions over `items` items: the settings in
    /// force (a run started before keeps what UpdateMapRun gave it).
    fn begin<'a>(&'a self, request: &'a MapRunRequest, children: u64, items: u64) -> BoxFuture<'a, Result<Settings, TaskOutcome>>;
    /// Runs child `name` on `input` to its end (or finds it started before a
    /// crash and waits for it).
    fn run<'a>(&'a self, request: &'a MapRunRequest, name: String, input: Value) -> BoxFuture<'a, Result<ChildResult, TaskOutcome>>;
    /// The settings now (UpdateMapRun), and the progress so far.
    fn progress(&self, request: &MapRunRequest, items: &MapRunCounts, executions: &MapRunCounts) -> Option<Settings>;
    /// The run ended: children `stop` (still running) are stopped.
    fn finish(&self, request: &MapRunRequest, status: MapRunStatus, stop: &[String]);
}

fn failed(error: &str, cause: String) -> TaskOutcome {
    TaskOutcome::Failed { error: error.into(), cause }
}

/// The children's inputs: the recorded items, or the reader's through the
/// state's ItemSelector and ItemBatcher.
async fn child_inputs(spec: &MapRunSpec, request: &mut MapRunRequest, buckets: Option<&S3Buckets>) -> Result<Vec<Value>, TaskOutcome> {
    if let Some(items) = request.items.take() {
        return Ok(items);
    }
    let Some(reader) = request.item_reader.clone() else {
        return Err(failed(errors::RUNTIME, "the map run has neither items nor an ItemReader".into()));
    };
    let Some(buckets) = buckets.cloned() else {
        return Err(failed(
            "States.ItemReaderFailed",
            "no [s3.buckets] are configured: an ItemReader reads a bucket mapped to a directory in the config".into(),
        ));
    };
    let read = tokio::task::spawn_blocking(move || read_items(&buckets, &reader, MAX_READ_ITEMS)).await;
    let items = match read {
        Ok(Ok(items)) => items,
        Ok(Err(e)) => return Err(failed(e.error(), e.cause().to_string())),
        Err(e) => return Err(failed("States.ItemReaderFailed", format!("reading the items stopped: {e}"))),
    };
    prepare_read_items(spec, request, items).map_err(|f| failed(&f.error, f.cause))
}

/// How many items a child's input stands for (a batch's `Items`).
fn items_in(spec: &MapRunSpec, input: &Value) -> u64 {
    match (&spec.0.item_batcher, input.get("Items")) {
        (Some(_), Some(Value::Array(items))) => items.len() as u64,
        _ => 1,
    }
}

/// Whether the run has failed past what it tolerates: the request's
/// tolerance, with what UpdateMapRun changed since `initial`.
fn tolerance_exceeded(request: &MapRunRequest, initial: &Settings, now: &Settings, failed: u64, total: u64) -> bool {
    let count = if now.tolerated_failure_count != initial.tolerated_failure_count {
        Some(now.tolerated_failure_count)
    } else {
        request.tolerated_failure_count
    };
    let percentage = if now.tolerated_failure_percentage != initial.tolerated_failure_percentage {
        Some(now.tolerated_failure_percentage)
    } else {
        request.tolerated_failure_percentage
    };
    map_run::tolerance_exceeded(count, percentage, failed, total)
}

/// Runs the map run `task` stands for, its children in `children`.
pub async fn run_map_run(task: &TaskInvocation, children: &dyn Children, buckets: Option<&S3Buckets>, host_cap: usize) -> TaskOutcome {
    let Some(spec) = &task.map_run else {
        return failed(errors::RUNTIME, format!("state {:?}: a map run without its Map state's settings", task.state_name));
    };
    // Read from the recorded input, not a copy of it.
    let mut request = match MapRunRequest::deserialize(&*task.input) {
        Ok(request) => request,
        Err(e) => return failed(errors::RUNTIME, format!("state {:?}: the map run's recorded request: {e}", task.state_name)),
    };
    let inputs = match child_inputs(spec, &mut request, buckets).await {
        Ok(inputs) => inputs,
        Err(outcome) => return outcome,
    };
    let sizes: Vec<u64> = inputs.iter().map(|input| items_in(spec, input)).collect();
    let total_items: u64 = sizes.iter().sum();
    let total = inputs.len() as u64;
    let initial = match children.begin(&request, total, total_items).await {
        Ok(settings) => settings,
        Err(outcome) => return outcome,
    };
    let mut settings = initial;
    let cap = |s: &Settings| if s.max_concurrency == 0 { host_cap } else { (s.max_concurrency as usize).min(host_cap) }.max(1);
    let mut results: Vec<Option<ChildResult>> = vec![None; inputs.len()];
    let mut item_counts = MapRunCounts { pending: total_items, total: total_items, ..MapRunCounts::default() };
    let mut execution_counts = MapRunCounts { pending: total, total, ..MapRunCounts::default() };
    let mut running = FuturesUnordered::new();
    let mut running_names: std::collections::BTreeMap<usize, String> = std::collections::BTreeMap::new();
    let mut queue = inputs.into_iter().enumerate();
    let mut failed_children = 0u64;
    let mut failure: Option<TaskOutcome> = None;
    loop {
        while failure.is_none() && running.len() < cap(&settings) {
            let Some((index, input)) = queue.next() else { break };
            let name = map_run_child_name(&request.map_run_arn, index);
            running_names.insert(index, name.clone());
            let child = children.run(&request, name, input);
            running.push(async move { (index, child.await) });
            item_counts.pending -= sizes[index];
            item_counts.running += sizes[index];
            execution_counts.pending -= 1;
            execution_counts.running += 1;
        }
        let Some((index, ended)) = running.next().await else { break };
        running_names.remove(&index);
        let result = match ended {
            Ok(result) => result,
            // The host could not run or follow the child (its store): the
            // run stops here and is driven again.
            Err(outcome) => {
                failure = Some(outcome);
                break;
            }
        };
        let n = sizes[index];
        item_counts.running -= n;
        execution_counts.running -= 1;
        let (items, executions) = (&mut item_counts, &mut execution_counts);
        match result.status.as_str() {
            "SUCCEEDED" => {
                items.succeeded += n;
                executions.succeeded += 1;
            }
            "TIMED_OUT" => {
                items.timed_out += n;
                executions.timed_out += 1;
                failed_children += 1;
            }
            "ABORTED" => {
                items.aborted += n;
                executions.aborted += 1;
                failed_children += 1;
            }
            _ => {
                items.failed += n;
                executions.failed += 1;
                failed_children += 1;
            }
        }
        results[index] = Some(result);
        if let Some(now) = children.progress(&request, &item_counts, &execution_counts) {
            settings = now;
        }
        if failed_children > 0 && tolerance_exceeded(&request, &initial, &settings, failed_children, total) {
            let cause = format!(
                "The specified tolerated failure threshold was exceeded: {failed_children} of {total} child executions of map run {} did not succeed",
                request.map_run_arn
            );
            failure = Some(failed("States.ExceedToleratedFailureThreshold", cause));
            break;
        }
    }
    drop(running);
    if let Some(outcome) = failure {
        let still_running: Vec<String> = running_names.into_values().collect();
        let stored = matches!(outcome, TaskOutcome::StoreUnavailable { .. });
        if !stored {
            children.finish(&request, MapRunStatus::Failed, &still_running);
        }
        return outcome;
    }
    let ended: Vec<ChildResult> = results.into_iter().flatten().collect();
    let outcome = match &request.result_writer {
        Some(writer) => {
            let written = write(buckets, writer, &request.map_run_arn, ended).await;
            if matches!(written, TaskOutcome::Succeeded(_)) {
                item_counts.results_written = item_counts.total;
                execution_counts.results_written = execution_counts.total;
            }
            written
        }
        None => outputs(&ended),
    };
    let status = if matches!(outcome, TaskOutcome::Succeeded(_)) { MapRunStatus::Succeeded } else { MapRunStatus::Failed };
    children.progress(&request, &item_counts, &execution_counts);
    children.finish(&request, status, &[]);
    outcome
}

/// The children's outputs in item order: the Map state's result without a
/// ResultWriter (held to the payload limit, as on AWS).
fn outputs(ended: &[ChildResult]) -> TaskOutcome {
    let mut outputs = Vec::with_capacity(ended.len());
    let mut bytes = 2usize;
    for child in ended {
        let text = child.output.as_deref().unwrap_or("null");
        bytes += text.len() + 1;
        if bytes > MAX_PAYLOAD_BYTES {
            return failed(
                errors::DATA_LIMIT_EXCEEDED,
                format!(
                    "the outputs of the map run's {} child executions are over the limit of {MAX_PAYLOAD_BYTES} bytes; a ResultWriter writes them to a bucket instead",
                    ended.len()
                ),
            );
        }
        outputs.push(serde_json::from_str(text).unwrap_or(Value::Null));
    }
    TaskOutcome::Succeeded(Value::Array(outputs))
}

/// The children's results written where the ResultWriter says.
async fn write(buckets: Option<&S3Buckets>, writer: &Value, map_run_arn: &str, ended: Vec<ChildResult>) -> TaskOutcome {
    let Some(buckets) = buckets.cloned() else {
        return failed(
            "States.ResultWriterFailed",
            "no [s3.buckets] are configured: a ResultWriter writes to a bucket mapped to a directory in the config".into(),
        );
    };
    let (writer, arn) = (writer.clone(), map_run_arn.to_string());
    let written = tokio::task::spawn_blocking(move || write_results(&buckets, &writer, &arn, &ended)).await;
    match written {
        Ok(Ok(details)) => TaskOutcome::Succeeded(details),
        Ok(Err(e)) => failed(e.error(), e.cause().to_string()),
        Err(e) => failed("States.ResultWriterFailed", format!("writing the results stopped: {e}")),
    }
}
