//! The crash-loop guard end to end: an execution that `serve` was driving
//! each time it died (kill -9) three times in a row, with no progress in
//! between, is failed by the next `serve` (`States.Runtime`, the cause saying
//! why) instead of being replayed again; an execution that progresses between
//! the same deaths is not touched.

use crate::support::{self, scratch, stepwasm, wait_for, ApiServer};
use serde_json::{json, Value};
use stepwasm::engine::{EventKind, HistoryEvent};
use stepwasm::store::{crash_loop_cause, ExecutionStatus, Journal, SqliteStore};

/// Stands in for a poison pill: its task runs (spins, stopped only by its
/// 120 s timeout) until the host dies, at every restart.
const POISON: &str = r#"{"StartAt": "Prepare", "States": {
  "Prepare": {"Type": "Pass", "Result": {"steps": [{"spin": true}]}, "Next": "Block"},
  "Block": {"Type": "Task", "Resource": "probe-slow", "TimeoutSeconds": 120, "End": true}}}"#;

/// A loop of a quick task and a one-second Wait (too short to park): always
/// being driven, and always a little further along at the next death.
const HEALTHY: &str = r#"{"StartAt": "Init", "States": {
  "Init": {"Type": "Pass", "Result": 0, "ResultPath": "$.n", "Next": "Tick"},
  "Tick": {"Type": "Task", "Resource": "probe", "Parameters": {"steps": [{"clock": true}]}, "ResultPath": "$.t", "Next": "Nap"},
  "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Count"},
  "Count": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "Next": "More"},
  "More": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericLessThan": 1000, "Next": "Tick"}], "Default": "Done"},
  "Done": {"Type": "Succeed"}}}"#;

/// The history's events other than `TaskStarted` (which a restarted host
/// records again for the task it reruns): what counts as progress.
fn settled(history: &[HistoryEvent]) -> usize {
    history.iter().filter(|e| !matches!(e.kind, EventKind::TaskStarted { .. })).count()
}

fn task_starts(history: &[HistoryEvent]) -> usize {
    history.iter().filter(|e| matches!(e.kind, EventKind::TaskStarted { .. })).count()
}

#[test]
fn a_host_killed_three_times_driving_an_execution_fails_it_at_the_next_start_and_spares_one_that_progressed() {
    let dir = scratch("crash-loop");
    let config = dir.join("stepwasm.toml");
    std::fs::write(&config, format!("module_dir = {:?}\n{}", support::guest_dir(), support::PROBE_RESOURCES)).unwrap();
    let store_path = dir.join("store.sqlite");
    let cache = dir.join("cache");
    let serve_args = ["--config", config.to_str().unwrap(), "--cache-dir", cache.to_str().unwrap()];
    let store = SqliteStore::open(&store_path).unwrap();
    let history = |arn: &str| store.history(arn).unwrap();

    let mut serve = ApiServer::start(&store_path, &serve_args);
    let mut arns = Vec::new();
    for (name, definition) in [("poison", POISON), ("healthy", HEALTHY)] {
        let machine = serve.ok(
            "AWSStepFunctions.CreateStateMachine",
            json!({"name": name, "definition": definition, "roleArn": "arn:aws:iam::000000000000:role/r"}),
        );
        let started = serve.ok("AWSStepFunctions.StartExecution", json!({"stateMachineArn": machine["stateMachineArn"], "name": name}));
        arns.push(started["executionArn"].as_str().unwrap().to_string());
    }
    let (poison, healthy) = (arns[0].clone(), arns[1].clone());

    // Three deaths, each while serve drives both: the poison's task running
    // (started once more by this serve), the healthy one further along.
    for death in 1..=3 {
        let healthy_before = settled(&history(&healthy));
        wait_for(&format!("serve {death} (re)starts the poison's task"), || task_starts(&history(&poison)) >= death);
        wait_for(&format!("the healthy execution progresses under serve {death}"), || settled(&history(&healthy)) >= healthy_before + 3);
        drop(serve); // kill -9
        assert_eq!(store.execution(&poison).unwrap().unwrap().status, ExecutionStatus::Running);
        serve = ApiServer::start(&store_path, &serve_args);
    }

    // The fourth serve fails the poison instead of driving it again.
    let describe = |arn: &str| serve.ok("AWSStepFunctions.DescribeExecution", json!({"executionArn": arn}));
    wait_for("the fourth serve fails the poison", || describe(&poison)["status"] == "FAILED");
    let failed = describe(&poison);
    let last_before = history(&poison).len() as u64 - 1;
    let expected_cause = crash_loop_cause(3, last_before);
    assert_eq!(failed["error"], "States.Runtime", "{failed}");
    assert_eq!(failed["cause"], Value::from(expected_cause.clone()), "{failed}");
    assert!(expected_cause.contains("the host stopped 3 times in a row while running this execution"), "{expected_cause}");
    let poison_history = history(&poison);
    assert_eq!(task_starts(&poison_history), 3, "its task is not run a fourth time: {poison_history:#?}");
    assert_eq!(
        poison_history.last().map(|e| &e.kind),
        Some(&EventKind::ExecutionFailed { error: "States.Runtime".into(), cause: expected_cause.clone() })
    );
    // The API's history shows it too.
    let events = serve.ok("AWSStepFunctions.GetExecutionHistory", json!({"executionArn": poison, "reverseOrder": true}));
    assert_eq!(events["events"][0]["type"], "ExecutionFailed", "{events}");
    assert_eq!(events["events"][0]["executionFailedEventDetails"]["error"], "States.Runtime", "{events}");

    // The one that progressed between the same deaths goes on.
    let healthy_now = settled(&history(&healthy));
    wait_for("the healthy execution goes on", || settled(&history(&healthy)) >= healthy_now + 3);
    assert_eq!(describe(&healthy)["status"], "RUNNING");
    drop(serve);

    let (code, out, err) = stepwasm(&["executions", "describe", "--store", store_path.to_str().unwrap(), "poison"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("status: FAILED") && out.contains("error: States.Runtime"), "{out}");
    assert!(out.contains(&format!("cause: {expected_cause}")), "{out}");
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}
