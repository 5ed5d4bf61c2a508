//! The driver's own tests: the loop against scripted task runners, virtual
//! clocks and in-memory stores.

use super::*;
use serde_json::{json, Value};
use std::sync::Arc;
use std::sync::Mutex;
use stepwasm_asl::{errors, parse_definition};
use stepwasm_engine::{Decision, EventKind, Execution, HistoryEvent, Outcome, Scope, TaskInvocation};
use stepwasm_jsonata::evaluation_budget;

/// Answers each invocation from a script, recording what it was asked.
struct Scripted {
    answers: Mutex<Vec<TaskOutcome>>,
    calls: Mutex<Vec<TaskInvocation>>,
}

impl Scripted {
    fn new(answers: Vec<TaskOutcome>) -> Scripted {
        Scripted { answers: Mutex::new(answers), calls: Mutex::new(Vec::new()) }
    }
}

impl TaskRunner for Scripted {
    fn run_task<'a>(&'a self, task: &'a TaskInvocation) -> impl std::future::Future<Output = TaskOutcome> + Send + 'a {
        self.calls.lock().unwrap().push(task.clone());
        std::future::ready(self.answers.lock().unwrap().remove(0))
    }
}

async fn run(def: serde_json::Value, input: serde_json::Value, runner: &Scripted, clock: &VirtualClock) -> ExecutionRecord {
    let machine = Arc::new(parse_definition(&def.to_string()).unwrap());
    run_execution(machine, execution_info("sm", "e1"), input, runner, clock).await.unwrap()
}

/// A JSONata Pass state whose Output has `fields` fields, each an
/// expression of about 700,000 steps (under each expression's own caps).
fn heavy_jsonata(fields: usize) -> serde_json::Value {
    let output: serde_json::Map<String, Value> = (0..fields)
        .map(|i| (format!("f{i}"), json!(format!("{{% $reduce([1..100000], function($a, $b) {{ $a + $b }}) + {i} %}}"))))
        .collect();
    json!({"QueryLanguage": "JSONata", "StartAt": "Heavy", "States": {"Heavy": {"Type": "Pass", "Output": output, "End": true}}})
}

#[tokio::test]
async fn a_state_evaluated_past_its_budget_fails_naming_the_limit() {
    // Each expression is under its step budget; together they run for
    // many seconds, and the state's budget ends them after 1 s.
    let started = std::time::Instant::now();
    let rec = run(heavy_jsonata(400), json!({}), &Scripted::new(vec![]), &VirtualClock::new(0)).await;
    let Outcome::Failed { error, cause } = &rec.outcome else { panic!("{:?}", rec.outcome) };
    assert_eq!(error, errors::QUERY_EVALUATION_ERROR);
    assert!(cause.contains("took longer than 1 s") && cause.contains(evaluation_budget::MARKER), "{cause}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "{:?}", started.elapsed());
}

#[tokio::test]
async fn paths_past_the_budget_fail_the_execution_with_states_runtime() {
    // Thousands of recursive descents over a big input: no evaluator
    // error names the budget (a path just stops selecting), so the
    // driver does.
    let input = json!({"items": (0..10_000).map(|i| json!({"id": i, "tags": ["a", "b"]})).collect::<Vec<_>>()});
    let parameters: serde_json::Map<String, Value> = (0..10_000).map(|i| (format!("f{i}.$"), json!("$..missing"))).collect();
    let def = json!({"StartAt": "Scan", "States": {"Scan": {"Type": "Pass", "Parameters": parameters, "End": true}}});
    let rec = run(def, input, &Scripted::new(vec![]), &VirtualClock::new(0)).await;
    let Outcome::Failed { error, cause } = &rec.outcome else { panic!("{:?}", rec.outcome) };
    assert_eq!(
        (error.as_str(), cause.split(" (").next()),
        (errors::RUNTIME, Some("the evaluation of this state took longer than 1 s")),
        "{cause}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_over_the_inline_budget_is_made_again_on_the_pool() {
    let pooled = crate::evaluation_pool::jobs_run();
    let machine = Arc::new(parse_definition(&heavy_jsonata(3).to_string()).unwrap());
    let runner = Scripted::new(vec![]);
    let rec = run_execution(machine, execution_info("sm", "e1"), json!({}), &runner, &VirtualClock::new(0)).await.unwrap();
    let total: i64 = (1..=100_000).sum();
    assert_eq!(rec.outcome, Outcome::Succeeded { output: json!({"f0": total, "f1": total + 1, "f2": total + 2}) });
    assert!(crate::evaluation_pool::jobs_run() > pooled, "the decision was not made on the pool");
}

fn types(rec: &ExecutionRecord) -> Vec<&'static str> {
    rec.history.iter().map(|e| e.kind.type_name()).collect()
}

fn failed(error: &str) -> TaskOutcome {
    TaskOutcome::Failed { error: error.into(), cause: format!("{error} happened") }
}

/// A store holding the first `keep` events of `full` only: what a crash
/// right after event `keep` leaves behind.
fn crashed_after(full: &ExecutionRecord, keep: usize) -> stepwasm_store::SqliteStore {
    use stepwasm_store::Journal;
    let store = stepwasm_store::SqliteStore::in_memory().unwrap();
    store.create_execution(&full.info, full.history[0].timestamp_ms).unwrap();
    for event in &full.history[..keep] {
        store.append(&full.info.execution_arn, event).unwrap();
    }
    store
}

const TWO_TASKS_AND_A_WAIT: &str = r#"{"StartAt": "A", "States": {
    "A": {"Type": "Task", "Resource": "a", "ResultPath": "$.a", "Next": "W"},
    "W": {"Type": "Wait", "Seconds": 60, "Next": "B"},
    "B": {"Type": "Task", "Resource": "b", "ResultPath": "$.b", "End": true}}}"#;

#[tokio::test]
async fn a_recorded_run_journals_every_event_and_ends_the_execution() {
    use stepwasm_store::{ExecutionStatus, Journal};
    let machine = Arc::new(parse_definition(TWO_TASKS_AND_A_WAIT).unwrap());
    let store = stepwasm_store::SqliteStore::in_memory().unwrap();
    let runner = Scripted::new(vec![TaskOutcome::Succeeded(json!(1)), TaskOutcome::Succeeded(json!(2))]);
    let info = execution_info("sm", "journaled");
    let rec = run_recorded(machine.clone(), info.clone(), json!({}), &runner, &VirtualClock::new(0), &store).await.unwrap();
    assert_eq!(store.history(&info.execution_arn).unwrap(), rec.history);
    assert_eq!(store.execution(&info.execution_arn).unwrap().unwrap().status, ExecutionStatus::Succeeded);
    let again = run_recorded(machine, info, json!({}), &runner, &VirtualClock::new(0), &store).await.unwrap_err();
    assert!(again.to_string().contains("already exists"), "{again}");
}

#[tokio::test]
async fn a_redriven_execution_reruns_only_the_state_that_failed_and_can_fail_again() {
    use stepwasm_store::{ExecutionStatus, Journal, Store, StoreError};
    let machine = Arc::new(parse_definition(TWO_TASKS_AND_A_WAIT).unwrap());
    let store = stepwasm_store::SqliteStore::in_memory().unwrap();
    let info = execution_info("sm", "redriven");
    let first = Scripted::new(vec![TaskOutcome::Succeeded(json!(1)), failed("Boom")]);
    let rec = run_recorded(machine.clone(), info.clone(), json!({"n": 7}), &first, &VirtualClock::new(0), &store).await.unwrap();
    assert!(matches!(&rec.outcome, Outcome::Failed { error, .. } if error == "Boom"), "{:?}", rec.outcome);
    let b_input = first.calls.lock().unwrap()[1].input.clone();

    // Redriven: B runs again with the input it had, A does not; it fails again.
    let redriven = store.redrive_execution(&info.execution_arn, Some("t1"), 100_000).unwrap();
    assert_eq!(redriven, stepwasm_store::Redrive { redrive_count: 1, redrive_ms: 100_000, repeated: false });
    // The same request again (a client's retry): that redrive, nothing more.
    let repeated = store.redrive_execution(&info.execution_arn, Some("t1"), 100_500).unwrap();
    assert_eq!(repeated, stepwasm_store::Redrive { redrive_count: 1, redrive_ms: 100_000, repeated: true });
    assert_eq!(store.execution(&info.execution_arn).unwrap().unwrap().status, ExecutionStatus::Running);
    let again = Scripted::new(vec![failed("Boom")]);
    let rec = resume_execution(machine.clone(), info.clone(), &again, &VirtualClock::new(100_000), &store).await.unwrap();
    assert!(matches!(&rec.outcome, Outcome::Failed { .. }));
    assert_eq!(again.calls.lock().unwrap().len(), 1);
    assert_eq!(again.calls.lock().unwrap()[0].resource, "b");
    assert_eq!(again.calls.lock().unwrap()[0].input, b_input);

    // The second redrive succeeds; the history tells it all, in order.
    store.redrive_execution(&info.execution_arn, Some("t2"), 200_000).unwrap();
    let fixed = Scripted::new(vec![TaskOutcome::Succeeded(json!(2))]);
    let rec = resume_execution(machine, info.clone(), &fixed, &VirtualClock::new(200_000), &store).await.unwrap();
    assert_eq!(rec.outcome, Outcome::Succeeded { output: json!({"n": 7, "a": 1, "b": 2}) });
    let tail: Vec<_> = types(&rec).into_iter().skip_while(|t| *t != "ExecutionRedriven").collect();
    assert_eq!(
        tail,
        [
            "ExecutionRedriven",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskFailed",
            "ExecutionFailed",
            "ExecutionRedriven",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded",
        ]
    );
    let summary = store.execution(&info.execution_arn).unwrap().unwrap();
    assert_eq!((summary.status, summary.redrive_count, summary.redrive_ms), (ExecutionStatus::Succeeded, 2, Some(200_000)));

    // A succeeded (or running, or unknown) execution is not redriven.
    let refused = store.redrive_execution(&info.execution_arn, None, 300_000).unwrap_err();
    assert!(matches!(&refused, StoreError::NotRedrivable { reason, .. } if reason.contains("SUCCEEDED")), "{refused}");
    assert!(matches!(store.redrive_execution("arn:none", None, 0), Err(StoreError::NoSuchExecution(_))));
}

#[tokio::test]
async fn a_redriven_parallel_state_runs_again_only_the_branch_that_failed() {
    use stepwasm_store::Store;
    let definition = r#"{"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "L", "States": {"L": {"Type": "Task", "Resource": "l", "End": true}}},
        {"StartAt": "R", "States": {"R": {"Type": "Task", "Resource": "r", "End": true}}}]}}}"#;
    let machine = Arc::new(parse_definition(definition).unwrap());
    let store = stepwasm_store::SqliteStore::in_memory().unwrap();
    let info = execution_info("sm", "parallel");
    let first = Scripted::new(vec![TaskOutcome::Succeeded(json!("l1")), failed("Boom")]);
    let rec = run_recorded(machine.clone(), info.clone(), json!({}), &first, &VirtualClock::new(0), &store).await.unwrap();
    assert!(matches!(&rec.outcome, Outcome::Failed { error, .. } if error == "Boom"), "{:?}", rec.outcome);
    let fifteen_days_on = 15 * 24 * 3600 * 1000;
    let too_late = store.redrive_execution(&info.execution_arn, None, fifteen_days_on).unwrap_err();
    assert!(too_late.to_string().contains("redrivable period exceeded"), "{too_late}");
    store.redrive_execution(&info.execution_arn, None, 1_000).unwrap();
    // L succeeded: its output is kept and it is not invoked again.
    let second = Scripted::new(vec![TaskOutcome::Succeeded(json!("r2"))]);
    let rec = resume_execution(machine, info, &second, &VirtualClock::new(1_000), &store).await.unwrap();
    assert_eq!(rec.outcome, Outcome::Succeeded { output: json!(["l1", "r2"]) });
    let resources: Vec<String> = second.calls.lock().unwrap().iter().map(|t| t.resource.clone()).collect();
    assert_eq!(resources, ["r"]);
}

#[tokio::test]
async fn redriving_needs_an_execution_that_ended_unsuccessfully() {
    let machine = Arc::new(parse_definition(TWO_TASKS_AND_A_WAIT).unwrap());
    let mut execution = stepwasm_engine::Execution::new(machine, execution_info("sm", "e"));
    let event = |id, kind| HistoryEvent { id, previous_event_id: id - 1, timestamp_ms: 0, scope: Scope::root(), kind };
    let redriven = || EventKind::ExecutionRedriven { redrive_count: 1 };
    let refused = execution.apply(&event(1, redriven())).unwrap_err();
    assert!(refused.reason.contains("ended"), "{refused}");
    execution.apply(&event(1, EventKind::ExecutionStarted { input: json!({}).into() })).unwrap();
    assert!(execution.apply(&event(2, redriven())).unwrap_err().reason.contains("ended"));
    execution.apply(&event(2, EventKind::ExecutionSucceeded { output: json!({}).into() })).unwrap();
    assert!(execution.apply(&event(3, redriven())).unwrap_err().reason.contains("succeeded"));
}

#[tokio::test]
async fn resuming_never_reruns_a_recorded_completion_and_reruns_what_was_in_flight() {
    let machine = Arc::new(parse_definition(TWO_TASKS_AND_A_WAIT).unwrap());
    let clock = VirtualClock::new(1_000_000);
    let both = || Scripted::new(vec![TaskOutcome::Succeeded(json!(1)), TaskOutcome::Succeeded(json!(2))]);
    let full = run_execution(machine.clone(), execution_info("sm", "e"), json!({}), &both(), &clock).await.unwrap();
    let position = |ty: &str, nth: usize| full.history.iter().filter(|e| e.kind.type_name() == ty).nth(nth).unwrap().id as usize;

    // Crash after A's result was recorded, during the Wait: only B runs,
    // and the Wait ends when it would have (60 s after it began).
    let store = crashed_after(&full, position("WaitStateEntered", 0));
    let runner = Scripted::new(vec![TaskOutcome::Succeeded(json!(2))]);
    let resumed_clock = VirtualClock::new(1_000_000 + 5_000);
    let resumed = resume_execution(machine.clone(), full.info.clone(), &runner, &resumed_clock, &store).await.unwrap();
    assert_eq!(resumed.outcome, full.outcome);
    assert_eq!(runner.calls.lock().unwrap().iter().map(|c| c.resource.as_str()).collect::<Vec<_>>(), ["b"]);
    let wait_exit = resumed.history.iter().find(|e| e.kind.type_name() == "WaitStateExited").unwrap();
    let wait_entry = &full.history[position("WaitStateEntered", 0) - 1];
    assert_eq!(wait_exit.timestamp_ms - wait_entry.timestamp_ms, 60_000);
    assert!(resumed.history.iter().enumerate().all(|(i, e)| e.id == i as u64 + 1), "no gaps, no duplicates");
    assert_eq!(stepwasm_store::Journal::history(&store, &full.info.execution_arn).unwrap(), resumed.history);

    // Crash while A was running: A runs again, as the same attempt.
    let store = crashed_after(&full, position("TaskStarted", 0));
    let runner = both();
    let resumed = resume_execution(machine.clone(), full.info.clone(), &runner, &VirtualClock::new(1_000_000), &store).await.unwrap();
    assert_eq!(resumed.outcome, full.outcome);
    let calls: Vec<(String, u32)> = runner.calls.lock().unwrap().iter().map(|c| (c.resource.clone(), c.attempt)).collect();
    assert_eq!(calls, [("a".to_string(), 1), ("b".to_string(), 1)]);

    // A finished execution resumes to its outcome without running anything.
    let store = crashed_after(&full, full.history.len());
    let runner = Scripted::new(vec![]);
    let resumed = resume_execution(machine, full.info.clone(), &runner, &clock, &store).await.unwrap();
    assert_eq!((resumed.outcome, resumed.history.len()), (full.outcome.clone(), full.history.len()));
    assert!(runner.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn task_then_pass_with_data_flow() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "r", "Parameters": {"n.$": "$.n"}, "ResultPath": "$.t", "Next": "P"},
        "P": {"Type": "Pass", "Result": {"done": true}, "ResultPath": "$.p", "End": true}}});
    let runner = Scripted::new(vec![TaskOutcome::Succeeded(json!(42))]);
    let rec = run(def, json!({"n": 1}), &runner, &VirtualClock::new(0)).await;
    assert_eq!(rec.outcome, Outcome::Succeeded { output: json!({"n": 1, "t": 42, "p": {"done": true}}) });
    assert_eq!(
        types(&rec),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSucceeded",
            "TaskStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
    let call = &runner.calls.lock().unwrap()[0];
    assert_eq!(((*call.input).clone(), call.attempt, call.state_name.as_str()), (json!({"n": 1}), 1, "T"));
    // Ids are consecutive and each points at its predecessor.
    assert!(rec.history.iter().enumerate().all(|(i, e)| e.id == i as u64 + 1 && e.previous_event_id == i as u64));
}

#[tokio::test]
async fn retries_back_off_on_the_clock_then_catch() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "r",
              "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 2, "MaxAttempts": 2, "BackoffRate": 3}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Handle"}],
              "End": true},
        "Handle": {"Type": "Pass", "End": true}}});
    let runner = Scripted::new(vec![failed("Flaky"), failed("Flaky"), failed("Flaky")]);
    let clock = VirtualClock::new(1_000_000);
    let rec = run(def, json!({"id": 7}), &runner, &clock).await;
    assert_eq!(rec.outcome, Outcome::Succeeded { output: json!({"id": 7, "error": {"Error": "Flaky", "Cause": "Flaky happened"}}) });
    let attempts: Vec<u32> = runner.calls.lock().unwrap().iter().map(|c| c.attempt).collect();
    assert_eq!(attempts, [1, 2, 3]);
    // 2 s, then 2 × 3 = 6 s of backoff, on the virtual clock.
    assert_eq!(clock.now_ms(), 1_000_000 + 2_000 + 6_000);
    assert_eq!(rec.last_state(), Some("Handle"));
}

#[tokio::test]
async fn max_attempts_zero_and_uncaught_errors_fail_the_execution() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "r", "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 0}], "End": true}}});
    let runner = Scripted::new(vec![failed("Boom")]);
    let rec = run(def, json!({}), &runner, &VirtualClock::new(0)).await;
    assert_eq!(rec.outcome, Outcome::Failed { error: "Boom".into(), cause: "Boom happened".into() });
    assert_eq!(runner.calls.lock().unwrap().len(), 1);
    assert_eq!(types(&rec).last(), Some(&"ExecutionFailed"));
}

#[tokio::test]
async fn timeouts_are_states_timeout_and_not_task_failed() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "r",
              "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Wrong"}, {"ErrorEquals": ["States.Timeout"], "Next": "Right"}],
              "End": true},
        "Wrong": {"Type": "Fail", "Error": "Wrong"}, "Right": {"Type": "Succeed"}}});
    let runner = Scripted::new(vec![TaskOutcome::TimedOut { cause: "too slow".into() }]);
    let rec = run(def, json!({}), &runner, &VirtualClock::new(0)).await;
    assert!(types(&rec).contains(&"TaskTimedOut"));
    assert_eq!(rec.last_state(), Some("Right"));
}

#[tokio::test]
async fn choice_routes_and_reports_no_match() {
    let def = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"}]},
        "Big": {"Type": "Succeed"}}});
    let rec = run(def.clone(), json!({"n": 11}), &Scripted::new(vec![]), &VirtualClock::new(0)).await;
    assert_eq!(rec.last_state(), Some("Big"));
    let rec = run(def, json!({"n": 1}), &Scripted::new(vec![]), &VirtualClock::new(0)).await;
    assert!(matches!(&rec.outcome, Outcome::Failed { error, .. } if error == "States.NoChoiceMatched"));
}

#[tokio::test]
async fn fail_state_and_runtime_errors() {
    let def = json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Nope", "Cause": "because"}}});
    let rec = run(def, json!({}), &Scripted::new(vec![]), &VirtualClock::new(0)).await;
    assert_eq!(rec.outcome, Outcome::Failed { error: "Nope".into(), cause: "because".into() });
    assert_eq!(types(&rec), ["ExecutionStarted", "FailStateEntered", "ExecutionFailed"]);
    // States.Runtime is not caught by States.ALL.
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "r", "InputPath": "$.missing",
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "S"}], "End": true},
        "S": {"Type": "Succeed"}}});
    let rec = run(def, json!({}), &Scripted::new(vec![]), &VirtualClock::new(0)).await;
    assert!(matches!(&rec.outcome, Outcome::Failed { error, .. } if error == "States.Runtime"));
}

#[tokio::test]
async fn wait_states_wait_on_the_clock() {
    let def = json!({"StartAt": "W1", "States": {
        "W1": {"Type": "Wait", "Seconds": 90, "Next": "W2"},
        "W2": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "W3"},
        "W3": {"Type": "Wait", "TimestampPath": "$.until", "OutputPath": "$.delay", "End": true}}});
    let clock = VirtualClock::new(1_000_000);
    let until = "1970-01-01T00:30:00Z"; // 1,800,000 ms
    let rec = run(def, json!({"delay": 10, "until": until}), &Scripted::new(vec![]), &clock).await;
    assert_eq!(rec.outcome, Outcome::Succeeded { output: json!(10) });
    assert_eq!(clock.now_ms(), 1_800_000);
    let exits: Vec<i64> = rec.history.iter().filter(|e| e.kind.type_name() == "WaitStateExited").map(|e| e.timestamp_ms).collect();
    assert_eq!(exits, [1_090_000, 1_100_000, 1_800_000]);
    // A timestamp in the past does not wait.
    let def = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Timestamp": "2000-01-01T00:00:00Z", "End": true}}});
    let clock = VirtualClock::new(2_000_000_000_000);
    run(def, json!({}), &Scripted::new(vec![]), &clock).await;
    assert_eq!(clock.now_ms(), 2_000_000_000_000);
    // A bad SecondsPath value is States.Runtime.
    let def = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": true}}});
    let rec = run(def, json!({"s": "soon"}), &Scripted::new(vec![]), &VirtualClock::new(0)).await;
    assert!(matches!(&rec.outcome, Outcome::Failed { error, .. } if error == "States.Runtime"));
}

#[tokio::test]
async fn fail_paths_and_timeout_paths_read_the_input() {
    let def = json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "$.c"}}});
    let rec = run(def.clone(), json!({"e": "Custom", "c": "why"}), &Scripted::new(vec![]), &VirtualClock::new(0)).await;
    assert_eq!(rec.outcome, Outcome::Failed { error: "Custom".into(), cause: "why".into() });
    let rec = run(def, json!({"e": 1, "c": "why"}), &Scripted::new(vec![]), &VirtualClock::new(0)).await;
    assert!(matches!(&rec.outcome, Outcome::Failed { error, .. } if error == "States.Runtime"));

    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "r", "TimeoutSecondsPath": "$.t",
        "Retry": [{"ErrorEquals": ["X"]}], "End": true}}});
    let runner = Scripted::new(vec![failed("X"), TaskOutcome::Succeeded(json!(1))]);
    run(def, json!({"t": 7}), &runner, &VirtualClock::new(0)).await;
    let timeouts: Vec<Option<u64>> = runner.calls.lock().unwrap().iter().map(|c| c.timeout_seconds).collect();
    assert_eq!(timeouts, [Some(7), Some(7)], "the retry keeps the resolved timeout");
}

#[tokio::test]
async fn execution_timeout_cuts_waits_and_bounds_tasks() {
    let def = json!({"TimeoutSeconds": 10, "StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "r", "TimeoutSeconds": 60, "Next": "W"},
        "W": {"Type": "Wait", "Seconds": 100, "End": true}}});
    let runner = Scripted::new(vec![TaskOutcome::Succeeded(json!(1))]);
    let clock = VirtualClock::new(5_000);
    let rec = run(def, json!({}), &runner, &clock).await;
    assert_eq!(runner.calls.lock().unwrap()[0].timeout_seconds, Some(10), "the task gets only the time left");
    assert!(matches!(&rec.outcome, Outcome::TimedOut { error, .. } if error == "States.Timeout"), "{:?}", rec.outcome);
    assert_eq!(types(&rec).last(), Some(&"ExecutionTimedOut"));
    assert_eq!(clock.now_ms(), 15_000, "timed out at the deadline, not after the 100 s wait");
    // Without the deadline being reached, nothing changes.
    let def = json!({"TimeoutSeconds": 1000, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100, "End": true}}});
    let rec = run(def, json!({}), &Scripted::new(vec![]), &VirtualClock::new(0)).await;
    assert!(matches!(rec.outcome, Outcome::Succeeded { .. }));
}

#[tokio::test]
async fn payloads_over_256_kib_fail_with_data_limit_exceeded() {
    let big = "x".repeat(300 * 1024);
    // A state output over the limit fails the execution.
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Result": big, "End": true}}});
    let rec = run(def, json!({}), &Scripted::new(vec![]), &VirtualClock::new(0)).await;
    assert!(
        matches!(&rec.outcome, Outcome::Failed { error, cause } if error == "States.DataLimitExceeded" && cause.contains("output")),
        "{:?}",
        rec.outcome
    );
    // Task parameters over the limit (from an input within it): a catcher
    // that names the error takes it.
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "r", "Parameters": {"a.$": "$.blob", "b.$": "$.blob"},
              "Catch": [{"ErrorEquals": ["States.DataLimitExceeded"], "ResultPath": null, "Next": "Handled"}, {"ErrorEquals": ["States.ALL"], "Next": "Wrong"}],
              "End": true},
        "Wrong": {"Type": "Fail", "Error": "Wrong"},
        "Handled": {"Type": "Pass", "Result": "handled", "End": true}}});
    let runner = Scripted::new(vec![]);
    let rec = run(def, json!({"blob": "y".repeat(200 * 1024)}), &runner, &VirtualClock::new(0)).await;
    assert!(runner.calls.lock().unwrap().is_empty(), "the task never ran");
    assert_eq!(rec.outcome, Outcome::Succeeded { output: json!("handled") }, "{:?}", rec.outcome);
}

#[tokio::test]
async fn endless_loops_stop_at_the_history_limit() {
    // A loop with an exit that this input never takes.
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.stop", "IsPresent": true, "Next": "Done"}], "Default": "A"},
        "Done": {"Type": "Succeed"}}});
    let rec = run(def, json!({}), &Scripted::new(vec![]), &VirtualClock::new(0)).await;
    assert_eq!(rec.history.len(), MAX_HISTORY_EVENTS);
    assert!(matches!(&rec.outcome, Outcome::Failed { cause, .. } if cause.contains("25000")));
}

#[tokio::test]
async fn replaying_a_history_rebuilds_the_same_decisions() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "r", "Retry": [{"ErrorEquals": ["Flaky"]}], "Next": "P"},
        "P": {"Type": "Pass", "End": true}}});
    let runner = Scripted::new(vec![failed("Flaky"), TaskOutcome::Succeeded(json!({"ok": 1}))]);
    let machine = Arc::new(parse_definition(&def.to_string()).unwrap());
    let rec = run_execution(machine.clone(), execution_info("sm", "e1"), json!({}), &runner, &VirtualClock::new(0)).await.unwrap();
    // Cut the history at every point: the replayed execution must decide
    // exactly the event that was recorded next.
    for cut in 1..rec.history.len() {
        let mut exec = Execution::new(machine.clone(), rec.info.clone());
        for e in &rec.history[..cut] {
            exec.apply(e).unwrap();
        }
        let next = &rec.history[cut].kind;
        match exec.decide() {
            Decision::Record { event, .. } | Decision::RecordAt { event, .. } => assert_eq!(&event, next, "cut {cut}"),
            // An invocation is recorded as TaskStarted; a task in flight at
            // the cut is invoked again, and what follows is its outcome.
            Decision::Invoke { .. } => {
                let expected: &[&str] = if rec.history[cut - 1].kind.type_name() == "TaskStarted" {
                    &["TaskSucceeded", "TaskFailed", "TaskTimedOut"]
                } else {
                    &["TaskStarted"]
                };
                assert!(expected.contains(&next.type_name()), "cut {cut}: {}", next.type_name());
            }
            Decision::AwaitCallback { .. } => panic!("no task here waits for a token (cut {cut})"),
            Decision::Finished(_) => panic!("finished early at cut {cut}"),
        }
    }
    // A history that does not fit is rejected, not panicked on.
    let mut exec = Execution::new(machine, rec.info.clone());
    let err = exec.apply(&rec.history[2]).unwrap_err();
    assert!(err.to_string().contains("has not started"), "{err}");
}

const ACTIVITY: &str = "arn:aws:states:us-east-1:123456789012:activity:approve";

fn activity_machine(timeout_seconds: u64) -> Arc<stepwasm_asl::StateMachine> {
    let def = json!({"StartAt": "Work", "States": {"Work": {
        "Type": "Task", "Resource": ACTIVITY, "TimeoutSeconds": timeout_seconds, "HeartbeatSeconds": 3, "End": true}}});
    Arc::new(parse_definition(&def.to_string()).unwrap())
}

#[tokio::test]
async fn an_activity_task_starts_when_a_worker_takes_it_and_names_the_worker() {
    use stepwasm_store::{Store, TaskResult};
    let store = stepwasm_store::SqliteStore::in_memory().unwrap();
    let info = execution_info("sm", "taken");
    let runner = Scripted::new(vec![]);
    let worker = async {
        // The worker polls as GetActivityTask does, then answers.
        loop {
            if let Some(task) = store.take_activity_task(ACTIVITY, "worker-1").unwrap() {
                assert_eq!(task.input, json!({"job": 1}));
                store.send_task_result(&task.token, &TaskResult::Success(json!({"done": true}))).unwrap();
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    };
    let driving = run_recorded(activity_machine(300), info, json!({"job": 1}), &runner, &SystemClock, &store);
    let (rec, ()) = tokio::join!(driving, worker);
    let rec = rec.unwrap();
    assert_eq!(rec.outcome, Outcome::Succeeded { output: json!({"done": true}) });
    assert_eq!(
        types(&rec),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "ActivityScheduled",
            "ActivityStarted",
            "ActivitySucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
    assert!(runner.calls.lock().unwrap().is_empty(), "an activity runs no module");
    let started = &rec.history[3].kind;
    assert_eq!(started, &EventKind::ActivityStarted { resource: ACTIVITY.into(), worker_name: Some("worker-1".into()) });
    let aws = rec.history[3].to_aws_json("us-east-1");
    assert_eq!(aws["activityStartedEventDetails"], json!({"workerName": "worker-1"}));
    // The history folds again as it was recorded (a resumed driver's replay).
    let mut replayed = Execution::new(activity_machine(300), rec.info.clone());
    for event in &rec.history {
        replayed.apply(event).unwrap();
    }
    assert!(matches!(replayed.decide(), Decision::Finished(Outcome::Succeeded { .. })));
}

#[tokio::test]
async fn an_activity_task_no_worker_takes_times_out_from_its_scheduling() {
    let store = stepwasm_store::SqliteStore::in_memory().unwrap();
    let clock = VirtualClock::new(1_000);
    let rec =
        run_recorded(activity_machine(5), execution_info("sm", "idle"), json!({}), &Scripted::new(vec![]), &clock, &store).await.unwrap();
    assert_eq!(types(&rec), ["ExecutionStarted", "TaskStateEntered", "ActivityScheduled", "ActivityTimedOut", "ExecutionFailed"]);
    let Outcome::Failed { error, cause } = &rec.outcome else { panic!("{:?}", rec.outcome) };
    assert_eq!(error, errors::TIMEOUT);
    assert!(cause.contains("no worker took"), "{cause}");
    assert_eq!(rec.history[3].timestamp_ms - rec.history[2].timestamp_ms, 5_000, "TimeoutSeconds counts from the scheduling");
}

#[tokio::test]
async fn an_activity_without_a_store_fails_saying_why() {
    let rec = run(
        json!({"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": ACTIVITY, "End": true}}}),
        json!({}),
        &Scripted::new(vec![]),
        &VirtualClock::new(0),
    )
    .await;
    let Outcome::Failed { error, cause } = &rec.outcome else { panic!("{:?}", rec.outcome) };
    assert_eq!(error, errors::RUNTIME);
    assert!(cause.contains("only by an execution kept in a store"), "{cause}");
    assert_eq!(types(&rec)[2..4], ["ActivityScheduled", "ActivityFailed"]);
}

#[tokio::test]
async fn retries_that_fit_in_the_execution_s_timeout_run_on_a_virtual_clock() {
    let def = json!({"StartAt": "T", "TimeoutSeconds": 8, "States": {"T": {"Type": "Task", "Resource": "work",
        "Retry": [{"ErrorEquals": ["E"]}], "End": true}}});
    let failure = || TaskOutcome::Failed { error: "E".into(), cause: "c".into() };
    let runner = Scripted::new(vec![failure(), failure(), failure(), TaskOutcome::Succeeded(json!({"a": 1}))]);
    let rec = run(def, json!({}), &runner, &VirtualClock::new(0)).await;
    let kinds: Vec<(&str, i64)> = rec.history.iter().map(|e| (e.kind.type_name(), e.timestamp_ms)).collect();
    assert_eq!(rec.outcome, Outcome::Succeeded { output: json!({"a": 1}) }, "{kinds:?}");
    // Backoffs of 1, 2 and 4 s: the last attempt starts at 7 s, within the 8 s.
    assert_eq!(rec.history.last().map(|e| e.timestamp_ms), Some(7_000), "{kinds:?}");
}
