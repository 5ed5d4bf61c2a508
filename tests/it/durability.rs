//! Durability end to end: `run --store` journals an execution, a kill -9
//! during its Wait loses nothing, and `resume` finishes it from its history
//! without running a recorded task again; the store's CLI reads it back, and a
//! damaged store file is refused with a clear error.

use crate::support::{self, block_on, exit_within, scratch, stepwasm, Site};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use stepwasm::store::{ExecutionStatus, Journal, SqliteStore, Store};

/// Notify, a Wait of two seconds, notify again: the example's notify module.
const WAIT_BETWEEN_TASKS: &str = r#"{"StartAt": "First", "States": {
  "First": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:NotifyCustomerFunction",
            "Parameters": {"kind": "order-confirmed", "orderId": "D-1", "customer": {"name": "Ada", "email": "ada@example.com"}, "amount": 5},
            "ResultPath": "$.first", "Next": "Pause"},
  "Pause": {"Type": "Wait", "Seconds": 2, "Next": "Second"},
  "Second": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:NotifyCustomerFunction",
             "Parameters": {"kind": "order-confirmed", "orderId": "D-2", "customer": {"name": "Bo", "email": "bo@example.com"}, "amount": 6},
             "ResultPath": "$.second", "End": true}}}"#;

const ARN: &str = "arn:aws:states:local:000000000000:execution:wait:crashy";

#[test]
fn a_killed_run_resumes_from_its_history_without_rerunning_a_task() {
    let site = Site::new("durability", "wait.asl.json", WAIT_BETWEEN_TASKS);
    let (def, store_arg, config_arg, cache_arg) = site.args();
    let (dir, store_path) = (&site.dir, &site.store_path);

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_stepwasm"))
        .args(["run", def, "--config", config_arg, "--store", store_arg, "--name", "crashy", "--cache-dir", cache_arg])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it (SIGKILL) as soon as the Wait has begun: the first task's
    // result is recorded, the second has not started.
    let deadline = Instant::now() + Duration::from_secs(60);
    let waiting = loop {
        let history = SqliteStore::open(store_path).ok().and_then(|s| s.history(ARN).ok()).unwrap_or_default();
        if history.iter().any(|e| e.kind.type_name() == "WaitStateEntered") {
            break history;
        }
        assert!(Instant::now() < deadline, "the run never reached its Wait: {history:?}");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it was killed");
        std::thread::sleep(Duration::from_millis(10));
    };
    child.kill().unwrap();
    child.wait().unwrap();

    let store = SqliteStore::open(store_path).unwrap();
    assert_eq!(store.execution(ARN).unwrap().unwrap().status, ExecutionStatus::Running);
    let (code, listed, _) = stepwasm(&["executions", "list", "--store", store_arg, "--status", "running"]);
    assert_eq!(code, 0);
    assert!(listed.contains("RUNNING") && listed.contains("crashy"), "{listed}");

    let (code, out, err) = stepwasm(&["resume", "--store", store_arg, "--config", config_arg, "--cache-dir", cache_arg]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("1 running execution(s)") && out.contains("status: SUCCEEDED"), "{out}");
    assert!(out.contains("Order D-1 confirmed") && out.contains("Order D-2 confirmed"), "{out}");

    let history = store.history(ARN).unwrap();
    assert_eq!(history[..waiting.len()], waiting[..], "what was recorded before the kill is kept as it was");
    assert!(history.iter().enumerate().all(|(i, e)| e.id == i as u64 + 1), "no gaps or duplicates");
    let started = history.iter().filter(|e| e.kind.type_name() == "LambdaFunctionStarted").count();
    assert_eq!(started, 2, "each task ran once: the first was not run again");
    let entered = waiting.iter().find(|e| e.kind.type_name() == "WaitStateEntered").unwrap();
    let exited = history.iter().find(|e| e.kind.type_name() == "WaitStateExited").unwrap();
    assert!(exited.timestamp_ms - entered.timestamp_ms >= 2_000, "the Wait kept its length across the restart");
    assert_eq!(store.execution(ARN).unwrap().unwrap().status, ExecutionStatus::Succeeded);

    let (code, described, _) = stepwasm(&["executions", "describe", "crashy", "--store", store_arg]);
    assert_eq!(code, 0);
    assert!(described.contains("status: SUCCEEDED") && described.contains("events: 14"), "{described}");
    let (code, out, _) = stepwasm(&["resume", "--store", store_arg, "--config", config_arg]);
    assert_eq!((code, out.trim()), (0, format!("0 running execution(s) in {store_arg}").as_str()));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn store_commands_name_what_is_wrong() {
    let dir = scratch("store-errors");
    let junk = dir.join("junk.sqlite");
    std::fs::write(&junk, vec![b'#'; 4096]).unwrap();
    let junk_arg = junk.to_str().unwrap();
    let (code, _, err) = stepwasm(&["executions", "list", "--store", junk_arg]);
    assert_eq!(code, 2);
    assert!(err.contains("junk.sqlite") && err.contains("not a database"), "{err}");
    assert_eq!(std::fs::read(&junk).unwrap(), vec![b'#'; 4096], "a damaged store is left as it was");

    let good = dir.join("good.sqlite");
    let good_arg = good.to_str().unwrap();
    let (code, _, err) = stepwasm(&["executions", "describe", "nobody", "--store", good_arg]);
    assert_eq!(code, 2);
    assert!(err.contains("no execution named \"nobody\""), "{err}");
    let (code, _, err) = stepwasm(&["executions", "list", "--store", good_arg, "--status", "sleepy"]);
    assert_eq!(code, 2);
    assert!(err.contains("--status \"sleepy\""), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A task that fails its first attempt and is retried a second later, a
/// Wait, and a second task: every execution of it outlives a few kills.
/// Each task, once it succeeds, counts itself in the kv store (kept in the
/// store file): a count of 1 at the end means its writes were applied once.
/// The Wait is long enough for `serve` to park the executions (a timer each,
/// replayed from the store when due).
const RETRY_WAIT_RETRY: &str = r#"{"StartAt": "Flaky", "States": {
  "Flaky": {"Type": "Task", "Resource": "probe", "ResultPath": "$.flaky",
            "Parameters": {"steps": [{"fail_before_attempt": 2}, {"incr.$": "States.Format('flaky-{}', $.id)"}]},
            "Retry": [{"ErrorEquals": ["NotYet"], "IntervalSeconds": 1, "MaxAttempts": 3}], "Next": "Pause"},
  "Pause": {"Type": "Wait", "Seconds": 3, "Next": "Again"},
  "Again": {"Type": "Task", "Resource": "probe", "ResultPath": "$.again",
            "Parameters": {"steps": [{"fail_before_attempt": 1}, {"incr.$": "States.Format('again-{}', $.id)"}]}, "End": true}}}"#;

/// Milliseconds in `[low, high)`, from the clock: kill points that differ run to run.
fn somewhere_between(low: u64, high: u64) -> Duration {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64;
    Duration::from_millis(low + nanos % (high - low))
}

#[test]
fn serve_killed_again_and_again_finishes_every_execution_exactly_as_it_should() {
    use stepwasm::engine::EventKind;
    const N: usize = 1000;
    let dir = scratch("serve-crash");
    let config = dir.join("stepwasm.toml");
    std::fs::write(&config, format!("module_dir = {:?}\n{}", support::guest_dir(), support::PROBE_RESOURCES)).unwrap();
    let store_path = dir.join("store.sqlite");
    let cache = dir.join("cache");
    let (store_arg, config_arg, cache_arg) = (store_path.to_str().unwrap(), config.to_str().unwrap(), cache.to_str().unwrap());

    // N executions started in the store, as `stepwasm start` records them.
    let store = SqliteStore::open(&store_path).unwrap();
    let machine = std::sync::Arc::new(stepwasm::asl::parse_definition(RETRY_WAIT_RETRY).unwrap());
    let infos: Vec<_> = (0..N).map(|i| stepwasm::driver::execution_info("crash", &format!("e{i}"))).collect();
    store.put_state_machine(&infos[0].state_machine_arn, "crash", RETRY_WAIT_RETRY).unwrap();
    for (i, info) in infos.iter().enumerate() {
        let input = serde_json::json!({ "id": i });
        block_on(stepwasm::driver::start_execution(machine.clone(), info.clone(), input, &stepwasm::driver::SystemClock, &store)).unwrap();
    }

    let serve = |extra: &[&str]| {
        // At most 500 driven at once: the others wait in serve's backlog.
        // The crash-loop guard stays on but above the five kills: a task
        // that happens to be in flight at three kills in a row is what the
        // guard fails (as it should), which is not what this test is about.
        let mut args = vec![
            "serve",
            "--crash-limit",
            "6",
            "--store",
            store_arg,
            "--config",
            config_arg,
            "--cache-dir",
            cache_arg,
            "--max-active",
            "500",
            "--listen",
            "127.0.0.1:0",
        ];
        args.extend_from_slice(extra);
        std::process::Command::new(env!("CARGO_BIN_EXE_stepwasm")).args(&args).stdout(std::process::Stdio::null()).spawn().unwrap()
    };
    // Kill -9 at random points, five times; count the kills that caught the
    // executions half-way (some still running, progress made since the last).
    let total_events = || -> usize { infos.iter().map(|i| store.history(&i.execution_arn).unwrap().len()).sum() };
    let (mut events_before, mut mid_run_kills) = (total_events(), 0);
    for _ in 0..5 {
        let mut child = serve(&[]);
        std::thread::sleep(somewhere_between(300, 1200));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let events = total_events();
        if events > events_before && !store.executions(Some(ExecutionStatus::Running)).unwrap().is_empty() {
            mid_run_kills += 1;
        }
        events_before = events;
    }
    assert!(mid_run_kills >= 2, "only {mid_run_kills} kill(s) landed while the executions were under way");
    let mut last = serve(&["--exit-when-idle"]);
    let status = exit_within(&mut last, Duration::from_secs(120)).expect("serve finishes the executions within two minutes");
    assert!(status.success(), "{status:?}");

    for (i, info) in infos.iter().enumerate() {
        let arn = &info.execution_arn;
        assert_eq!(store.execution(arn).unwrap().unwrap().status, ExecutionStatus::Succeeded, "{arn}");
        let history = store.history(arn).unwrap();
        assert!(history.iter().enumerate().all(|(k, e)| e.id == k as u64 + 1), "{arn}: gaps or duplicates");
        let Some(EventKind::ExecutionSucceeded { output }) = history.last().map(|e| &e.kind) else { panic!("{arn}: no end") };
        let expected = serde_json::json!({"id": i, "flaky": {"results": [2, 1]}, "again": {"results": [1, 1]}});
        assert_eq!(**output, expected, "{arn}");
        // A task whose success is recorded is never started again.
        let mut succeeded = HashSet::new();
        let mut state = String::new();
        for e in &history {
            match &e.kind {
                EventKind::StateEntered { name, .. } => state = name.clone(),
                EventKind::TaskSucceeded { .. } => assert!(succeeded.insert(state.clone()), "{arn}: {state} succeeded twice"),
                EventKind::TaskStarted { .. } => assert!(!succeeded.contains(&state), "{arn}: {state} started after its success"),
                _ => {}
            }
        }
        assert_eq!(succeeded.len(), 2, "{arn}");
    }
    // Every task's kv writes were applied exactly once, whatever the kills
    // interrupted (the store file keeps the kv data too).
    let kv = stepwasm::runtime::KvStore::open(&store_path).unwrap().entries("probe").unwrap();
    assert_eq!(kv.len(), 2 * N);
    let twice: Vec<&(String, String)> = kv.iter().filter(|(_, count)| count != "1").collect();
    assert!(twice.is_empty(), "counted more than once: {twice:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
