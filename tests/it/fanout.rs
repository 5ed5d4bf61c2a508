//! Parallel branches and Map iterations run concurrently, end to end.
//!
//! - Two `.waitForTaskToken` branches through `serve` and its API: both
//!   tokens exist before either is answered; answered in reverse order, the
//!   output keeps branch order.
//! - Two branches each in a 2-s Wait, on `run --no-wait`'s virtual clock: the
//!   execution ends 2 s after it started, not 4.
//! - A Map with `MaxConcurrency` 2 over 10 items whose task is an http call
//!   to a local server that pairs requests up: from the history, never more
//!   than 2 iterations running at once, and 2 reached; outputs in item order.
//! - A failing branch (its failure held by a local server until its siblings
//!   are in a 60-s Wait and waiting for a token) fails the Parallel state at
//!   once: the siblings get `WaitStateAborted` / `TaskStateAborted` in their
//!   own branch before `ParallelStateFailed`, the Wait never exits, the
//!   token is closed.
//! - A failing Map iteration (held the same way) aborts the iterations still
//!   running (`MapIterationAborted` for each, before `MapStateFailed`).
//! - A 1,000-item Map (`MaxConcurrency` 50) of kv counters through five kill
//!   -9s of `serve`, each once the Map has made some progress: SUCCEEDED,
//!   every counter 1, the history gap-free.
//!
//! Nothing here measures speed: the servers hold requests until the test has
//! seen (in the store) what must be running at the same time, so whether
//! children overlap is decided by the engine, not by timing. The only bounds
//! on time are how long a test waits for something that a sequential engine
//! never does (30 s), so such an engine fails instead of hanging.

use crate::support::{exit_within, guest_dir, kill_at_goals, scratch, spawn_serve, stepwasm, ApiServer, TestServer};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use stepwasm::engine::{EventKind, HistoryEvent, Scope};
use stepwasm::store::{ExecutionStatus, Journal, SqliteStore};

const ROLE: &str = "arn:aws:iam::000000000000:role/r";

/// How long a test waits for children to be running at the same time: a
/// sequential engine never gets there.
const CONCURRENTLY_WITHIN: Duration = Duration::from_secs(30);

/// A config with the probe module as `probe` (and so `probe.waitForTaskToken`),
/// its kv in namespace `probe`, allowed to call `allow` (an URL prefix).
fn probe_config(dir: &Path, allow: &str) -> PathBuf {
    let config = dir.join("stepwasm.toml");
    std::fs::write(
        &config,
        format!(
            "module_dir = {:?}\n[resources.\"probe\"]\nmodule = \"probe\"\nkv = {{ namespace = \"probe\" }}\n\
             timeout_seconds = 120\nhttp = {{ allow = [\"{allow}\"], timeout_seconds = 120 }}\n",
            guest_dir().to_str().unwrap()
        ),
    )
    .unwrap();
    config
}

/// `serve` over `dir/store.sqlite` with the probe config allowed to call `allow`.
fn serve(dir: &Path, allow: &str) -> ApiServer {
    let config = probe_config(dir, allow);
    let cache = dir.join("cache");
    ApiServer::start(&dir.join("store.sqlite"), &["--config", config.to_str().unwrap(), "--cache-dir", cache.to_str().unwrap()])
}

/// GetExecutionHistory's events (AWS's shape, every page).
fn api_history(server: &ApiServer, arn: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut params = json!({"executionArn": arn, "maxResults": 1000});
    loop {
        let page = server.action("GetExecutionHistory", params.clone());
        events.extend(page["events"].as_array().unwrap().iter().cloned());
        match page["nextToken"].as_str() {
            Some(token) => params["nextToken"] = json!(token),
            None => return events,
        }
    }
}

/// The stored history (with each event's scope), read beside the driver.
fn stored_history(store: &Path, arn: &str) -> Vec<HistoryEvent> {
    SqliteStore::open(store).and_then(|s| s.history(arn)).unwrap_or_default()
}

fn scope(path: &[u32]) -> Scope {
    Scope(path.to_vec())
}

/// Where the first event of type `ty` in `scope` is, if anywhere.
fn position(history: &[HistoryEvent], ty: &str, at: &Scope) -> Option<usize> {
    history.iter().position(|e| e.kind.type_name() == ty && &e.scope == at)
}

/// The history as `id scope type` lines, for failure messages.
fn listing(history: &[HistoryEvent]) -> String {
    history.iter().map(|e| format!("{:>5} [{}] {}\n", e.id, e.scope, e.kind.type_name())).collect()
}

/// Looks every 20 ms until `check` holds; after `limit`, fails with `what`
/// and the last thing `check` reported.
fn within(limit: Duration, what: &str, mut check: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + limit;
    loop {
        let last = match check() {
            Ok(()) => return,
            Err(last) => last,
        };
        assert!(Instant::now() < deadline, "{what}: not after {limit:?}\n{last}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The Map iteration index an event names (`…EventDetails.index`, AWS's
/// shape: also for event types this file does not know by name).
fn iteration_index(event: &Value) -> Option<u64> {
    let details = event.as_object()?.iter().find(|(k, _)| k.ends_with("EventDetails"))?.1;
    details["index"].as_u64()
}

/// Walking a history (AWS's shape): the most Map iterations started and not
/// yet ended (succeeded, failed or aborted) at any point.
fn most_iterations_at_once(events: &[Value]) -> usize {
    let mut open = HashSet::new();
    let mut most = 0;
    for e in events {
        let index = iteration_index(e);
        match (e["type"].as_str().unwrap_or(""), index) {
            ("MapIterationStarted", Some(i)) => {
                open.insert(i);
            }
            ("MapIterationSucceeded" | "MapIterationFailed" | "MapIterationAborted", Some(i)) => {
                open.remove(&i);
            }
            _ => {}
        }
        most = most.max(open.len());
    }
    most
}

fn aws_events(history: &[HistoryEvent]) -> Vec<Value> {
    history.iter().map(|e| e.to_aws_json("local")).collect()
}

/// A local server each of whose requests is held until the test opens the
/// gate (at most 90 s); counts the requests that arrived.
struct Gate {
    server: TestServer,
    open: Arc<(Mutex<bool>, Condvar)>,
    arrived: Arc<AtomicUsize>,
}

impl Gate {
    fn start() -> Gate {
        let open = Arc::new((Mutex::new(false), Condvar::new()));
        let arrived = Arc::new(AtomicUsize::new(0));
        let (gate, count) = (Arc::clone(&open), Arc::clone(&arrived));
        let server = TestServer::start(move |path, _| {
            count.fetch_add(1, Ordering::SeqCst);
            let (opened, changed) = &*gate;
            drop(changed.wait_timeout_while(opened.lock().unwrap(), Duration::from_secs(90), |o| !*o).unwrap());
            (200, json!({ "path": path }).to_string())
        });
        Gate { server, open, arrived }
    }

    fn open(&self) {
        let (opened, changed) = &*self.open;
        *opened.lock().unwrap() = true;
        changed.notify_all();
    }

    fn arrived(&self) -> usize {
        self.arrived.load(Ordering::SeqCst)
    }
}

impl Drop for Gate {
    /// Held requests end with the test.
    fn drop(&mut self) {
        self.open();
    }
}

#[test]
fn parallel_wait_for_task_token_branches_issue_both_tokens_before_either_is_answered() {
    let dir = scratch("fanout-tokens");
    let server = serve(&dir, "http://127.0.0.1:9/unused/");
    // State names are unique across the whole machine.
    let ask = |branch: &str| {
        let name = format!("Ask-{branch}");
        json!({"StartAt": name, "States": {name: {"Type": "Task", "Resource": "probe.waitForTaskToken",
            "Parameters": {"steps": [], "branch": branch, "token.$": "$$.Task.Token"}, "End": true}}})
    };
    let machine = server.create_machine(
        "two-tokens",
        &json!({"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "Branches": [ask("a"), ask("b")], "End": true}}}),
        ROLE,
    );
    let arn = server.start_execution(&machine, "t1", "{}");

    // Both branches submit their task before anyone answers either.
    let mut events = Vec::new();
    within(CONCURRENTLY_WITHIN, "both branches waiting for their tokens", || {
        events = api_history(&server, &arn);
        let submitted = events.iter().filter(|e| e["type"] == "TaskSubmitted").count();
        let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        if submitted == 2 {
            Ok(())
        } else {
            Err(format!("{submitted} TaskSubmitted: {types:?}"))
        }
    });
    // Each branch's token, as its module received it.
    let tokens: BTreeMap<String, String> = events
        .iter()
        .filter(|e| e["type"] == "TaskScheduled")
        .map(|e| {
            let parameters: Value = serde_json::from_str(e["taskScheduledEventDetails"]["parameters"].as_str().unwrap()).unwrap();
            (parameters["branch"].as_str().unwrap().to_string(), parameters["token"].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(tokens.len(), 2, "{tokens:?}");
    assert_ne!(tokens["a"], tokens["b"]);
    assert!(!events.iter().any(|e| e["type"] == "TaskSucceeded"), "nothing was answered yet");

    // Answered in reverse order: the second branch's answer ends it alone.
    server.action("SendTaskSuccess", json!({"taskToken": tokens["b"], "output": r#"{"answer": "b"}"#}));
    let described = server.action("DescribeExecution", json!({"executionArn": arn}));
    assert_eq!(described["status"], "RUNNING", "the first branch still waits: {described}");
    server.action("SendTaskSuccess", json!({"taskToken": tokens["a"], "output": r#"{"answer": "a"}"#}));
    let described = server.wait_for_end(&arn);
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    let output: Value = serde_json::from_str(described["output"].as_str().unwrap()).unwrap();
    assert_eq!(output, json!([{"answer": "a"}, {"answer": "b"}]), "outputs in branch order");
    let events = api_history(&server, &arn);
    assert_eq!(events.iter().filter(|e| e["type"] == "TaskSucceeded").count(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn two_two_second_waits_in_parallel_branches_take_two_seconds() {
    let dir = scratch("fanout-waits");
    let nap = |name: &str| json!({"StartAt": name, "States": {name: {"Type": "Wait", "Seconds": 2, "End": true}}});
    let definition =
        json!({"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "Branches": [nap("NapA"), nap("NapB")], "End": true}}});
    let file = dir.join("naps.asl.json");
    std::fs::write(&file, definition.to_string()).unwrap();
    let (code, out, err) =
        stepwasm(&["run", file.to_str().unwrap(), "--no-wait", "--output", "json", "--history", "--input", r#"{"n": 1}"#]);
    assert_eq!(code, 0, "{out}{err}");
    let result: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(result["status"], "SUCCEEDED", "{result}");
    assert_eq!(result["output"], json!([{"n": 1}, {"n": 1}]));
    let events = result["events"].as_array().unwrap();
    let at = |ty: &str| -> i64 {
        let e = events.iter().find(|e| e["type"] == ty).unwrap_or_else(|| panic!("no {ty}"));
        chrono::DateTime::parse_from_rfc3339(e["timestamp"].as_str().unwrap()).unwrap().timestamp_millis()
    };
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    let took = at("ExecutionSucceeded") - at("ExecutionStarted");
    assert!((2_000..3_000).contains(&took), "the two 2-s Waits took {took} ms of virtual time, not about 2000: {types:?}");
    // Both Waits begin before either ends.
    let entered: Vec<usize> = (0..types.len()).filter(|&i| types[i] == "WaitStateEntered").collect();
    let first_exit = types.iter().position(|t| *t == "WaitStateExited").unwrap();
    assert_eq!(entered.len(), 2, "{types:?}");
    assert!(entered.iter().all(|&i| i < first_exit), "the second Wait began only after the first ended: {types:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn map_max_concurrency_2_over_10_items_never_runs_more_than_2() {
    const ITEMS: usize = 10;
    let dir = scratch("fanout-max-concurrency");
    // Each request is held until a second one arrives (its pair), at most
    // a second: two tasks running at once are in flight together.
    let (arrived, in_flight, most_in_flight) = (Arc::new(Mutex::new(0usize)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let paired = Arc::new(Condvar::new());
    let server = {
        let (arrived, paired, in_flight, most_in_flight) =
            (Arc::clone(&arrived), Arc::clone(&paired), Arc::clone(&in_flight), Arc::clone(&most_in_flight));
        TestServer::start(move |path, _| {
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            most_in_flight.fetch_max(now, Ordering::SeqCst);
            let mut count = arrived.lock().unwrap();
            let ticket = *count;
            *count += 1;
            paired.notify_all();
            let partner = ticket / 2 * 2 + 2;
            drop(paired.wait_timeout_while(count, Duration::from_secs(1), |c| *c < partner).unwrap());
            in_flight.fetch_sub(1, Ordering::SeqCst);
            (200, json!({ "path": path }).to_string())
        })
    };
    let config = probe_config(&dir, &server.url("/pair/"));
    let definition = json!({"StartAt": "Each", "States": {"Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": "probe",
            "Parameters": {"steps": [{"fetch": {"url.$": format!("States.Format('{}{{}}', $.i)", server.url("/pair/"))}}]},
            "ResultSelector": {"got.$": "States.StringToJson($.results[0].body)"}, "End": true}}},
        "End": true}}});
    let file = dir.join("pairs.asl.json");
    std::fs::write(&file, definition.to_string()).unwrap();
    let input = json!({"items": (0..ITEMS).map(|i| json!({"i": i})).collect::<Vec<_>>()}).to_string();
    let cache = dir.join("cache");
    let (code, out, err) = stepwasm(&[
        "run",
        file.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
        "--output",
        "json",
        "--history",
        "--input",
        &input,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let result: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(result["status"], "SUCCEEDED", "{result}");
    let expected: Vec<Value> = (0..ITEMS).map(|i| json!({"got": {"path": format!("/pair/{i}")}})).collect();
    assert_eq!(result["output"], json!(expected), "outputs in item order");

    let events = result["events"].as_array().unwrap();
    let started: Vec<u64> = events.iter().filter(|e| e["type"] == "MapIterationStarted").filter_map(iteration_index).collect();
    assert_eq!(started.iter().copied().collect::<BTreeSet<_>>(), (0..ITEMS as u64).collect(), "each item started once: {started:?}");
    assert_eq!(started.len(), ITEMS);
    assert!(most_in_flight.load(Ordering::SeqCst) <= 2, "the server saw {} calls at once", most_in_flight.load(Ordering::SeqCst));
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    let most = most_iterations_at_once(events);
    assert!(most <= 2, "{most} iterations ran at once under MaxConcurrency 2: {types:?}");
    assert_eq!(most, 2, "the iterations ran one at a time: {types:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_failing_branch_stops_its_siblings() {
    let dir = scratch("fanout-failing-branch");
    let gate = Gate::start();
    let server = serve(&dir, &gate.server.url("/gate/"));
    let store = dir.join("store.sqlite");
    let machine = server.create_machine(
        "one-fails",
        &json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 60, "End": true}}},
            {"StartAt": "Break", "States": {"Break": {"Type": "Task", "Resource": "probe",
                "Parameters": {"steps": [{"fetch": {"url": gate.server.url("/gate/break")}}, {"fail": "Broke"}]}, "End": true}}},
            {"StartAt": "Ask", "States": {"Ask": {"Type": "Task", "Resource": "probe.waitForTaskToken",
                "Parameters": {"steps": [], "token.$": "$$.Task.Token"}, "End": true}}}]}}}),
        ROLE,
    );
    let arn = server.start_execution(&machine, "f1", "{}");

    // Branch 1's failure is held until branch 0 waits and branch 2 waits for its token.
    within(CONCURRENTLY_WITHIN, "the three branches under way at once", || {
        let history = stored_history(&store, &arn);
        let waiting = position(&history, "WaitStateEntered", &scope(&[0])).is_some();
        let submitted = position(&history, "TaskSubmitted", &scope(&[2])).is_some();
        if waiting && submitted && gate.arrived() == 1 {
            Ok(())
        } else {
            Err(format!("failing branch's call arrived: {}\n{}", gate.arrived(), listing(&history)))
        }
    });
    let history = stored_history(&store, &arn);
    let token = history
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::TaskScheduled { parameters, .. } if e.scope == scope(&[2]) => parameters["token"].as_str().map(str::to_string),
            _ => None,
        })
        .unwrap();
    gate.open();

    let described = server.wait_for_end(&arn);
    assert_eq!(described["status"], "FAILED", "{described}");
    assert_eq!((described["error"].as_str(), described["cause"].as_str()), (Some("Broke"), Some("the script said to fail")), "{described}");
    let history = stored_history(&store, &arn);
    let all = listing(&history);
    let failed = history
        .iter()
        .position(|e| matches!(&e.kind, EventKind::ParallelStateFailed { error, .. } if error == "Broke"))
        .unwrap_or_else(|| panic!("no ParallelStateFailed with Broke:\n{all}"));
    assert!(position(&history, "TaskFailed", &scope(&[1])).is_some_and(|p| p < failed), "{all}");
    // The Wait is stopped, not waited out, in its own branch.
    let aborted = position(&history, "WaitStateAborted", &scope(&[0]));
    assert!(aborted.is_some_and(|p| p < failed), "no WaitStateAborted in branch 0 before ParallelStateFailed:\n{all}");
    assert!(position(&history, "WaitStateExited", &scope(&[0])).is_none(), "the Wait ran to its end:\n{all}");
    let entered = &history[position(&history, "WaitStateEntered", &scope(&[0])).unwrap()];
    let ended = history.last().unwrap();
    assert_eq!(ended.kind.type_name(), "ExecutionFailed");
    assert!(ended.timestamp_ms - entered.timestamp_ms < 60_000, "the execution ended only when the 60-s Wait would have:\n{all}");
    // The task waiting for its token is stopped, and its token closed.
    let task_aborted = position(&history, "TaskStateAborted", &scope(&[2]));
    assert!(task_aborted.is_some_and(|p| p < failed), "no TaskStateAborted in branch 2 before ParallelStateFailed:\n{all}");
    assert!(position(&history, "TaskSucceeded", &scope(&[2])).is_none() && position(&history, "TaskStateExited", &scope(&[2])).is_none());
    let (status, body) = server.call("AWSStepFunctions.SendTaskSuccess", &json!({"taskToken": token, "output": r#"{"too": "late"}"#}));
    // Closed: refused as a token no task waits for any more.
    assert_eq!(status, 400, "the aborted task's token still waits: {body}");
    assert!(matches!(body["__type"].as_str(), Some("TaskTimedOut" | "TaskDoesNotExist")), "{body}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_failing_map_iteration_aborts_the_running_ones() {
    let dir = scratch("fanout-failing-iteration");
    let gate = Gate::start();
    let server = serve(&dir, &gate.server.url("/gate/"));
    let store = dir.join("store.sqlite");
    let machine = server.create_machine(
        "iteration-fails",
        &json!({"StartAt": "Each", "States": {"Each": {"Type": "Map", "ItemsPath": "$.items", "End": true,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Which", "States": {
                "Which": {"Type": "Choice", "Choices": [{"Variable": "$.fail", "BooleanEquals": true, "Next": "Break"}], "Default": "Hold"},
                "Hold": {"Type": "Wait", "Seconds": 60, "End": true},
                "Break": {"Type": "Task", "Resource": "probe",
                    "Parameters": {"steps": [{"fetch": {"url": gate.server.url("/gate/break")}}, {"fail": "Broke"}]}, "End": true}}}}}}),
        ROLE,
    );
    let items = json!({"items": [{"fail": false}, {"fail": false}, {"fail": true}, {"fail": false}]});
    let arn = server.start_execution(&machine, "m1", &items.to_string());

    // Item 2's failure is held until items 0, 1 and 3 are in their Waits.
    let holding = [0u32, 1, 3];
    within(CONCURRENTLY_WITHIN, "the four iterations under way at once", || {
        let history = stored_history(&store, &arn);
        let waiting = holding.iter().all(|&i| position(&history, "WaitStateEntered", &scope(&[i])).is_some());
        if waiting && gate.arrived() == 1 {
            Ok(())
        } else {
            Err(format!("failing iteration's call arrived: {}\n{}", gate.arrived(), listing(&history)))
        }
    });
    gate.open();

    let described = server.wait_for_end(&arn);
    assert_eq!(described["status"], "FAILED", "{described}");
    assert_eq!(described["error"].as_str(), Some("Broke"), "{described}");
    let history = stored_history(&store, &arn);
    let all = listing(&history);
    let events = aws_events(&history);
    let failed = events.iter().position(|e| e["type"] == "MapStateFailed").unwrap_or_else(|| panic!("no MapStateFailed:\n{all}"));
    let indices = |ty: &str| -> BTreeSet<u64> { events[..failed].iter().filter(|e| e["type"] == ty).filter_map(iteration_index).collect() };
    assert_eq!(indices("MapIterationFailed"), BTreeSet::from([2]), "{all}");
    assert_eq!(indices("MapIterationAborted"), BTreeSet::from([0, 1, 3]), "each running iteration aborted before MapStateFailed:\n{all}");
    let aborted = events.iter().find(|e| e["type"] == "MapIterationAborted").unwrap();
    let details = &aborted["mapIterationAbortedEventDetails"];
    let started = events.iter().find(|e| e["type"] == "MapIterationStarted").unwrap();
    assert_eq!(details["name"], started["mapIterationStartedEventDetails"]["name"], "{aborted}");
    assert!(details["index"].is_u64(), "{aborted}");
    assert!(!events.iter().any(|e| e["type"] == "MapIterationSucceeded" || e["type"] == "WaitStateExited"), "{all}");
    let entered = history.iter().find(|e| e.kind.type_name() == "WaitStateEntered").unwrap();
    let ended = history.last().unwrap();
    assert_eq!(ended.kind.type_name(), "ExecutionFailed");
    assert!(ended.timestamp_ms - entered.timestamp_ms < 60_000, "the execution ended only when the Waits would have:\n{all}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A Map over `$.items` ({"i": k} each), 50 at a time, whose task counts
/// its item in the kv store: a count of 1 at the end means applied once.
const COUNT_EACH: &str = r#"{"StartAt": "Count", "States": {"Count": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 50,
  "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Incr", "States": {
    "Incr": {"Type": "Task", "Resource": "probe", "Parameters": {"steps": [{"incr.$": "States.Format('item-{}', $.i)"}]},
             "ResultSelector": {"count.$": "$.results[0]"}, "ResultPath": "$.result", "End": true}}},
  "End": true}}}"#;

#[test]
fn kill_9_during_a_1000_item_map_applies_every_item_once() {
    const ITEMS: usize = 1000;
    let dir = scratch("fanout-kill");
    let config = probe_config(&dir, "http://127.0.0.1:9/unused/");
    let definition = dir.join("count.asl.json");
    std::fs::write(&definition, COUNT_EACH).unwrap();
    let input = dir.join("input.json");
    std::fs::write(&input, json!({"items": (0..ITEMS).map(|i| json!({"i": i})).collect::<Vec<_>>()}).to_string()).unwrap();
    let store_path = dir.join("store.sqlite");
    let cache = dir.join("cache");
    let (store_arg, config_arg, cache_arg) = (store_path.to_str().unwrap(), config.to_str().unwrap(), cache.to_str().unwrap());
    let input_arg = format!("@{}", input.to_str().unwrap());
    let (code, out, err) = stepwasm(&[
        "start",
        definition.to_str().unwrap(),
        "--store",
        store_arg,
        "--config",
        config_arg,
        "--name",
        "big",
        "--input",
        &input_arg,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let arn = out.trim().to_string();

    let base = ["--store", store_arg, "--config", config_arg, "--cache-dir", cache_arg];
    let serve = |extra: &[&str]| spawn_serve(&[&base[..], extra].concat());
    let store = SqliteStore::open(&store_path).unwrap();
    let succeeded = || store.history(&arn).unwrap().iter().filter(|e| e.kind.type_name() == "MapIterationSucceeded").count();
    // Kill -9 five times, each once the Map has gone a little further (at a
    // point that differs run to run): every kill lands mid-Map, whatever the
    // engine's speed.
    let jitter = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() % 50) as usize;
    let running = || store.execution(&arn).unwrap().unwrap().status == ExecutionStatus::Running;
    let mid_run_kills = kill_at_goals(|| serve(&[]), (1..=5).map(|round| round * 150 + jitter), succeeded, running);
    assert!(mid_run_kills >= 3, "only {mid_run_kills} kill(s) landed while the Map was under way");
    let mut last = serve(&["--exit-when-idle"]);
    let status = exit_within(&mut last, Duration::from_secs(120)).expect("serve finishes the Map within two minutes");
    assert!(status.success(), "{status:?}");

    assert_eq!(store.execution(&arn).unwrap().unwrap().status, ExecutionStatus::Succeeded);
    let history = store.history(&arn).unwrap();
    let Some(EventKind::ExecutionSucceeded { output }) = history.last().map(|e| &e.kind) else { panic!("no end") };
    let expected: Vec<Value> = (0..ITEMS).map(|i| json!({"i": i, "result": {"count": 1}})).collect();
    assert_eq!(**output, json!(expected), "every item counted once, in item order");
    for (k, e) in history.iter().enumerate() {
        assert_eq!(e.id, k as u64 + 1, "gaps or duplicates at event {k}");
        if e.id == 1 {
            assert_eq!(e.previous_event_id, 0);
        } else {
            assert!((1..e.id).contains(&e.previous_event_id), "event {} follows {}", e.id, e.previous_event_id);
        }
    }
    // Each item's iteration succeeded once, never more than 50 ran at once,
    // and a task whose success is recorded was never started again.
    let events = aws_events(&history);
    let mut done: HashMap<u64, usize> = HashMap::new();
    for e in events.iter().filter(|e| e["type"] == "MapIterationSucceeded") {
        *done.entry(iteration_index(e).unwrap()).or_default() += 1;
    }
    assert_eq!(done.len(), ITEMS);
    assert!(done.values().all(|&n| n == 1), "an iteration succeeded twice");
    let most = most_iterations_at_once(&events);
    assert!(most <= 50, "{most} iterations at once under MaxConcurrency 50");
    let mut succeeded_in = HashSet::new();
    for e in &history {
        match e.kind {
            EventKind::TaskSucceeded { .. } => assert!(succeeded_in.insert(e.scope.clone()), "[{}] succeeded twice", e.scope),
            EventKind::TaskStarted { .. } => assert!(!succeeded_in.contains(&e.scope), "[{}] started after its success", e.scope),
            _ => {}
        }
    }
    assert_eq!(succeeded_in.len(), ITEMS);
    // Every item's kv write was applied exactly once, whatever the kills interrupted.
    let kv = stepwasm::runtime::KvStore::open(&store_path).unwrap().entries("probe").unwrap();
    assert_eq!(kv.len(), ITEMS);
    let twice: Vec<&(String, String)> = kv.iter().filter(|(_, count)| count != "1").collect();
    assert!(twice.is_empty(), "counted more than once: {twice:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
