//! Callbacks, stop and the history limit, through a store.
//!
//! The driver-level tests run on a virtual clock (waits jump to their end) with
//! scripted task runners; the end-to-end ones drive `stepwasm serve` and answer
//! its waiting task with `stepwasm task …`, across a kill -9.

use crate::support::{block_on, exit_within, stepwasm, wait_for, Site};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stepwasm::asl::parse_definition;
use stepwasm::driver::{
    execution_info, resume_execution, run_execution, run_recorded, Clock, ExecutionRecord, TaskOutcome, TaskRunner, VirtualClock, Wait,
    MAX_HISTORY_EVENTS,
};
use stepwasm::engine::{EventKind, Outcome, TaskInvocation};
use stepwasm::store::{ExecutionStatus, Journal, SqliteStore, Store, StoreError, TaskResult};

/// Asks for approval with a token, then notes it.
const APPROVAL: &str = r#"{"StartAt": "Ask", "States": {
  "Ask": {"Type": "Task", "Resource": "approver.waitForTaskToken",
          "Parameters": {"token.$": "$$.Task.Token", "order.$": "$.order"},
          "HeartbeatSeconds": 5, "TimeoutSeconds": 60,
          "Retry": [{"ErrorEquals": ["States.HeartbeatTimeout"], "IntervalSeconds": 1, "MaxAttempts": 1}],
          "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.timedOut", "Next": "Late"}],
          "ResultPath": "$.approval", "Next": "Done"},
  "Late": {"Type": "Pass", "End": true},
  "Done": {"Type": "Pass", "End": true}}}"#;

/// Runs tasks with `answer`, which sees the invocation; keeps every invocation.
struct Runner<F: Fn(&TaskInvocation) -> TaskOutcome + Sync> {
    answer: F,
    calls: Mutex<Vec<TaskInvocation>>,
}

impl<F: Fn(&TaskInvocation) -> TaskOutcome + Sync> Runner<F> {
    fn new(answer: F) -> Self {
        Runner { answer, calls: Mutex::new(Vec::new()) }
    }
    fn calls(&self) -> Vec<TaskInvocation> {
        self.calls.lock().unwrap().clone()
    }
}

impl<F: Fn(&TaskInvocation) -> TaskOutcome + Sync> TaskRunner for Runner<F> {
    fn run_task<'a>(&'a self, task: &'a TaskInvocation) -> impl std::future::Future<Output = TaskOutcome> + Send + 'a {
        std::future::ready(self.answer(task))
    }
}

impl<F: Fn(&TaskInvocation) -> TaskOutcome + Sync> Runner<F> {
    fn answer(&self, task: &TaskInvocation) -> TaskOutcome {
        self.calls.lock().unwrap().push(task.clone());
        (self.answer)(task)
    }
}

/// A virtual clock that calls `on_wait` with the time after every wait: the
/// world acting while the driver waits.
struct Acting<F: Fn(i64) + Send + Sync> {
    clock: VirtualClock,
    on_wait: F,
}

impl<F: Fn(i64) + Send + Sync> Clock for Acting<F> {
    fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
    /// The virtual clock jumps at once; the world acts before the wait is awaited.
    fn wait_until(&self, deadline_ms: i64) -> Wait<'_> {
        let waited = self.clock.wait_until(deadline_ms);
        (self.on_wait)(self.clock.now_ms());
        waited
    }
}

const START_MS: i64 = 1_000_000;

fn types(rec: &ExecutionRecord) -> Vec<&'static str> {
    rec.history.iter().map(|e| e.kind.type_name()).collect()
}

fn at(rec: &ExecutionRecord, ty: &str, nth: usize) -> i64 {
    rec.history.iter().filter(|e| e.kind.type_name() == ty).nth(nth).unwrap_or_else(|| panic!("no {ty} #{nth}")).timestamp_ms
}

fn approval_run(store: &SqliteStore, runner: &(impl TaskRunner + Sync), clock: &dyn Clock) -> ExecutionRecord {
    let machine = Arc::new(parse_definition(APPROVAL).unwrap());
    block_on(run_recorded(machine, execution_info("approvals", "a1"), json!({"order": 7}), runner, clock, store)).unwrap()
}

#[test]
fn a_task_waits_for_its_token_and_takes_the_result_sent_back() {
    let store = SqliteStore::in_memory().unwrap();
    // The module sends the token back itself, while it runs: the token is valid by then.
    let runner = Runner::new(|task| {
        let token = task.input["token"].as_str().unwrap();
        assert_eq!(Some(token), task.task_token.as_deref(), "$$.Task.Token is the task's token");
        store.send_task_result(token, &TaskResult::Success(json!({"approved": true}))).unwrap();
        TaskOutcome::Succeeded(json!({"queued": true}))
    });
    let rec = approval_run(&store, &runner, &VirtualClock::new(START_MS));
    assert_eq!(rec.outcome, Outcome::Succeeded { output: json!({"order": 7, "approval": {"approved": true}}) });
    assert_eq!(
        types(&rec)[1..7],
        ["TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded", "TaskStateExited"]
    );
    let submitted = rec.history.iter().find_map(|e| match &e.kind {
        EventKind::TaskSubmitted { output, .. } => Some((**output).clone()),
        _ => None,
    });
    assert_eq!(submitted, Some(json!({"queued": true})), "the module's own output is kept in TaskSubmitted");
    let aws = rec.history.iter().find(|e| e.kind.type_name() == "TaskScheduled").unwrap().to_aws_json("local");
    assert_eq!(aws["taskScheduledEventDetails"]["heartbeatInSeconds"], json!(5));

    // The token is used up; an unknown one was never valid.
    let token = runner.calls()[0].task_token.clone().unwrap();
    let again = store.send_task_result(&token, &TaskResult::Success(json!(1))).unwrap_err();
    assert!(matches!(again, StoreError::TaskNotWaiting(_)), "{again}");
    assert!(matches!(store.send_task_heartbeat(&token, START_MS), Err(StoreError::TaskNotWaiting(_))));
    let unknown = store.send_task_result("swt00", &TaskResult::Success(json!(1))).unwrap_err();
    assert!(matches!(unknown, StoreError::InvalidToken(_)), "{unknown}");
    assert!(unknown.to_string().contains("no task is waiting for token"), "{unknown}");
}

#[test]
fn a_failure_sent_back_is_the_tasks_error() {
    let store = SqliteStore::in_memory().unwrap();
    let def = r#"{"StartAt": "Ask", "States": {
      "Ask": {"Type": "Task", "Resource": "approver.waitForTaskToken", "Parameters": {"t.$": "$$.Task.Token"},
              "Catch": [{"ErrorEquals": ["Rejected"], "Next": "No"}], "End": true},
      "No": {"Type": "Pass", "End": true}}}"#;
    let runner = Runner::new(|task| {
        let failure = TaskResult::Failure { error: "Rejected".into(), cause: "over budget".into() };
        store.send_task_result(task.task_token.as_deref().unwrap(), &failure).unwrap();
        TaskOutcome::Succeeded(json!(null))
    });
    let machine = Arc::new(parse_definition(def).unwrap());
    let rec = block_on(run_recorded(machine, execution_info("approvals", "f"), json!({}), &runner, &VirtualClock::new(START_MS), &store))
        .unwrap();
    assert_eq!(rec.outcome, Outcome::Succeeded { output: json!({"Error": "Rejected", "Cause": "over budget"}) });
    assert!(types(&rec).contains(&"TaskFailed"));
}

#[test]
fn heartbeats_keep_a_task_alive_and_their_absence_times_it_out() {
    let store = SqliteStore::in_memory().unwrap();
    let tokens: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let runner = Runner::new(|task| {
        tokens.lock().unwrap().push(task.task_token.clone().unwrap());
        TaskOutcome::Succeeded(json!(null))
    });
    // A worker beats for the first attempt until 20 s after the start, then goes quiet.
    let beats: Mutex<Vec<i64>> = Mutex::new(Vec::new());
    let clock = Acting {
        clock: VirtualClock::new(START_MS),
        on_wait: |now| {
            let tokens = tokens.lock().unwrap();
            if tokens.len() == 1 && now <= START_MS + 20_000 && store.send_task_heartbeat(&tokens[0], now).is_ok() {
                beats.lock().unwrap().push(now);
            }
        },
    };
    let rec = approval_run(&store, &runner, &clock);
    // Each attempt timed out on its heartbeat; the retry had a token of its own.
    let tokens = tokens.lock().unwrap().clone();
    assert_eq!(tokens.len(), 2);
    assert_ne!(tokens[0], tokens[1]);
    let last_beat = *beats.lock().unwrap().last().unwrap();
    assert!(last_beat > START_MS + 15_000, "the heartbeats went on past three HeartbeatSeconds: {last_beat}");
    assert_eq!(at(&rec, "TaskTimedOut", 0), last_beat + 5_000, "timed out 5 s after the last heartbeat");
    assert_eq!(at(&rec, "TaskTimedOut", 1) - at(&rec, "TaskSubmitted", 1), 5_000, "no heartbeat: 5 s after submission");
    let errors: Vec<&str> = rec
        .history
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::TaskTimedOut { error, .. } => Some(error.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(errors, ["States.HeartbeatTimeout", "States.HeartbeatTimeout"]);
    // States.Timeout in a catcher takes a heartbeat timeout.
    let Outcome::Succeeded { output } = &rec.outcome else { panic!("{:?}", rec.outcome) };
    assert_eq!(output["timedOut"]["Error"], json!("States.HeartbeatTimeout"));
    let refused = store.send_task_heartbeat(&tokens[1], START_MS).unwrap_err().to_string();
    assert!(refused.contains("no longer waiting"), "{refused}");
}

#[test]
fn timeout_seconds_bounds_the_wait_for_a_token() {
    let store = SqliteStore::in_memory().unwrap();
    let def = r#"{"StartAt": "Ask", "States": {"Ask": {"Type": "Task", "Resource": "approver.waitForTaskToken", "TimeoutSeconds": 30, "End": true}}}"#;
    let runner = Runner::new(|_| TaskOutcome::Succeeded(json!(null)));
    let machine = Arc::new(parse_definition(def).unwrap());
    let rec = block_on(run_recorded(machine, execution_info("approvals", "t"), json!({}), &runner, &VirtualClock::new(START_MS), &store))
        .unwrap();
    assert!(matches!(&rec.outcome, Outcome::Failed { error, .. } if error == "States.Timeout"), "{:?}", rec.outcome);
    assert_eq!(at(&rec, "TaskTimedOut", 0) - at(&rec, "TaskStarted", 0), 30_000);
    // A result sent too late is refused, not lost silently.
    let token = runner.calls()[0].task_token.clone().unwrap();
    assert!(matches!(store.send_task_result(&token, &TaskResult::Success(json!(1))), Err(StoreError::TaskNotWaiting(_))));
}

#[test]
fn without_a_store_a_token_task_fails_and_says_why() {
    let def = r#"{"StartAt": "Ask", "States": {"Ask": {"Type": "Task", "Resource": "approver.waitForTaskToken", "End": true}}}"#;
    let runner = Runner::new(|_| TaskOutcome::Succeeded(json!(null)));
    let machine = Arc::new(parse_definition(def).unwrap());
    let rec = block_on(run_execution(machine, execution_info("approvals", "n"), json!({}), &runner, &VirtualClock::new(START_MS))).unwrap();
    assert!(
        matches!(&rec.outcome, Outcome::Failed { error, cause } if error == "States.Runtime" && cause.contains("store")),
        "{:?}",
        rec.outcome
    );
    assert!(runner.calls().is_empty(), "the module is not run when nobody could answer");
}

#[test]
fn a_resumed_execution_waits_on_for_its_token_without_rerunning_the_module() {
    let store = SqliteStore::in_memory().unwrap();
    let runner = Runner::new(|task| {
        store.send_task_result(task.task_token.as_deref().unwrap(), &TaskResult::Success(json!("yes"))).unwrap();
        TaskOutcome::Succeeded(json!(null))
    });
    let full = approval_run(&store, &runner, &VirtualClock::new(START_MS));
    // What a crash right after TaskSubmitted leaves behind.
    let crashed = SqliteStore::in_memory().unwrap();
    crashed.create_execution(&full.info, START_MS).unwrap();
    let submitted = full.history.iter().position(|e| e.kind.type_name() == "TaskSubmitted").unwrap();
    crashed.append_all(&full.info.execution_arn, &full.history[..=submitted]).unwrap();
    let token = runner.calls()[0].task_token.clone().unwrap();
    // The answer comes while the resumed driver waits.
    let clock = Acting {
        clock: VirtualClock::new(START_MS + 2_000),
        on_wait: |_| {
            let _ = crashed.send_task_result(&token, &TaskResult::Success(json!("yes, later")));
        },
    };
    let nobody = Runner::new(|_| panic!("the submitted task's module must not run again"));
    let machine = Arc::new(parse_definition(APPROVAL).unwrap());
    let rec = block_on(resume_execution(machine, full.info.clone(), &nobody, &clock, &crashed)).unwrap();
    assert_eq!(rec.outcome, Outcome::Succeeded { output: json!({"order": 7, "approval": "yes, later"}) });
    assert_eq!(crashed.history(&full.info.execution_arn).unwrap(), rec.history);
}

#[test]
fn a_stopped_execution_ends_aborted_wherever_it_was() {
    let store = SqliteStore::in_memory().unwrap();
    let arn = execution_info("approvals", "a1").execution_arn;
    // Stopped while its token is awaited.
    let clock = Acting {
        clock: VirtualClock::new(START_MS),
        on_wait: |now| {
            let _ = store.stop_execution(&arn, "Operator", "not needed", now);
        },
    };
    let runner = Runner::new(|_| TaskOutcome::Succeeded(json!(null)));
    let rec = approval_run(&store, &runner, &clock);
    assert_eq!(rec.outcome, Outcome::Aborted { error: "Operator".into(), cause: "not needed".into() });
    assert_eq!(types(&rec).last(), Some(&"ExecutionAborted"));
    assert_eq!(store.execution(&arn).unwrap().unwrap().status, ExecutionStatus::Aborted);
    let token = runner.calls()[0].task_token.clone().unwrap();
    assert!(matches!(store.send_task_result(&token, &TaskResult::Success(json!(1))), Err(StoreError::TaskNotWaiting(_))));
    // An ended execution cannot be stopped.
    let again = store.stop_execution(&arn, "", "", START_MS).unwrap_err();
    assert!(again.to_string().contains("is ABORTED"), "{again}");

    // Stopped while a task runs: its result is not kept.
    let store = SqliteStore::in_memory().unwrap();
    let def = r#"{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "a", "Next": "B"}, "B": {"Type": "Task", "Resource": "b", "End": true}}}"#;
    let info = execution_info("two", "s");
    let runner = Runner::new(|_| {
        store.stop_execution(&info.execution_arn, "", "", START_MS).unwrap();
        TaskOutcome::Succeeded(json!(1))
    });
    let machine = Arc::new(parse_definition(def).unwrap());
    let rec = block_on(run_recorded(machine, info.clone(), json!({}), &runner, &VirtualClock::new(START_MS), &store)).unwrap();
    assert!(matches!(rec.outcome, Outcome::Aborted { .. }));
    assert_eq!(runner.calls().len(), 1, "nothing runs after the stop");
    assert_eq!(types(&rec), ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "ExecutionAborted"]);
}

#[test]
fn the_history_limit_ends_a_stored_execution_and_resuming_it_changes_nothing() {
    let store = SqliteStore::in_memory().unwrap();
    let endless = r#"{"StartAt": "A", "States": {
      "A": {"Type": "Pass", "Next": "C"},
      "C": {"Type": "Choice", "Choices": [{"Variable": "$.stop", "IsPresent": true, "Next": "Done"}], "Default": "A"},
      "Done": {"Type": "Succeed"}}}"#;
    let machine = Arc::new(parse_definition(endless).unwrap());
    let info = execution_info("loop", "l");
    let nobody = Runner::new(|_| unreachable!("no tasks"));
    let rec = block_on(run_recorded(machine.clone(), info.clone(), json!({}), &nobody, &VirtualClock::new(START_MS), &store)).unwrap();
    assert!(matches!(&rec.outcome, Outcome::Failed { cause, .. } if cause.contains("25000 history events")), "{:?}", rec.outcome);
    let stored = store.history(&info.execution_arn).unwrap();
    assert_eq!(stored.len(), MAX_HISTORY_EVENTS);
    assert_eq!(store.execution(&info.execution_arn).unwrap().unwrap().status, ExecutionStatus::Failed);
    let again = block_on(resume_execution(machine, info.clone(), &nobody, &VirtualClock::new(START_MS), &store)).unwrap();
    assert_eq!((again.outcome, again.history.len()), (rec.outcome, MAX_HISTORY_EVENTS));
}

/// The approval flow with the example's notify module as the task that
/// sends the request: its Parameters carry the token.
const NOTIFY_AND_WAIT: &str = r#"{"StartAt": "Ask", "States": {
  "Ask": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:NotifyCustomerFunction.waitForTaskToken",
          "Parameters": {"kind": "order-confirmed", "orderId": "A-1", "customer": {"name": "Ada", "email": "ada@example.com"}, "amount": 5,
                         "token.$": "$$.Task.Token"},
          "HeartbeatSeconds": 600, "ResultPath": "$.approval", "Next": "Hold"},
  "Hold": {"Type": "Wait", "Seconds": 3600, "End": true}}}"#;

#[test]
fn serve_waits_for_a_token_across_a_kill_stop_ends_a_long_wait_and_a_redrive_finishes_it() {
    let site = Site::new("callbacks", "approval.asl.json", NOTIFY_AND_WAIT);
    let (def, store_arg, config_arg, cache_arg) = site.args();
    let store_path = &site.store_path;
    let (code, out, err) =
        stepwasm(&["start", def, "--store", store_arg, "--config", config_arg, "--name", "ask", "--input", r#"{"n": 1}"#]);
    assert_eq!(code, 0, "{out}{err}");
    let arn = out.trim().to_string();
    let serve = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_stepwasm"))
            .args([
                "serve",
                "--store",
                store_arg,
                "--config",
                config_arg,
                "--cache-dir",
                cache_arg,
                "--exit-when-idle",
                "--listen",
                "127.0.0.1:0",
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let store = SqliteStore::open(store_path).unwrap();
    let history_has = |ty: &str| store.history(&arn).unwrap().iter().any(|e| e.kind.type_name() == ty);

    let mut first = serve();
    wait_for("the task to be submitted", || history_has("TaskSubmitted"));
    first.kill().unwrap(); // SIGKILL while the task waits for its token
    first.wait().unwrap();
    // The token, as the module received it.
    let history = store.history(&arn).unwrap();
    let token = history
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::TaskScheduled { parameters, .. } => parameters["token"].as_str().map(str::to_string),
            _ => None,
        })
        .unwrap();
    let (code, _, err) = stepwasm(&["task", "heartbeat", "--store", store_arg, "--token", &token]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = stepwasm(&["task", "success", "--store", store_arg, "--token", "swt1234", "--output", "{}"]);
    assert_eq!(code, 2);
    assert!(err.contains("no task is waiting for token \"swt1234\""), "{err}");
    let (code, _, err) = stepwasm(&["task", "success", "--store", store_arg, "--token", &token, "--output", "{not json"]);
    assert_eq!(code, 2);
    assert!(err.contains("--output") && err.contains("not valid JSON"), "{err}");

    // A new serve picks the waiting task up; the answer arrives while it waits.
    let mut second = serve();
    std::thread::sleep(Duration::from_millis(300));
    let (code, _, err) = stepwasm(&["task", "success", "--store", store_arg, "--token", &token, "--output", r#"{"approvedBy": "Bo"}"#]);
    assert_eq!(code, 0, "{err}");
    wait_for("the Wait after the answer", || history_has("WaitStateEntered"));
    let history = store.history(&arn).unwrap();
    let started = history.iter().filter(|e| e.kind.type_name() == "TaskStarted").count();
    assert_eq!(started, 1, "the submitted task was not run again after the kill");
    let output = history.iter().find_map(|e| match &e.kind {
        EventKind::TaskSucceeded { output, .. } => Some((**output).clone()),
        _ => None,
    });
    assert_eq!(output, Some(json!({"approvedBy": "Bo"})));
    let (code, _, _) = stepwasm(&["task", "success", "--store", store_arg, "--token", &token, "--output", "{}"]);
    assert_eq!(code, 2, "a token is answered once");

    // The hour-long Wait is cut short by a stop; serve lets go and, idle, exits.
    let (code, out, err) =
        stepwasm(&["executions", "stop", "ask", "--store", store_arg, "--error", "Operator", "--cause", "done for today"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("ABORTED ask"), "{out}");
    let status = exit_within(&mut second, Duration::from_secs(30)).expect("serve lets the stopped execution go and exits");
    assert!(status.success());
    let mut printed = String::new();
    std::io::Read::read_to_string(&mut second.stdout.take().unwrap(), &mut printed).unwrap();
    assert!(printed.contains("ABORTED ask"), "{printed}");
    let (code, described, _) = stepwasm(&["executions", "describe", "ask", "--store", store_arg]);
    assert_eq!(code, 0);
    assert!(
        described.contains("status: ABORTED") && described.contains("error: Operator") && described.contains("cause: done for today"),
        "{described}"
    );
    let (code, _, err) = stepwasm(&["executions", "stop", "ask", "--store", store_arg]);
    assert_eq!(code, 2);
    assert!(err.contains("is ABORTED"), "{err}");
    let last: Value = serde_json::from_str(&stepwasm(&["executions", "history", "ask", "--store", store_arg, "--json"]).1).unwrap();
    let last = last["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["type"], json!("ExecutionAborted"));
    assert_eq!(last["executionAbortedEventDetails"], json!({"error": "Operator", "cause": "done for today"}));

    // Redriven from the command line: the Wait it was stopped in starts
    // again (the task before it does not), and `resume` finishes it.
    let (code, out, err) = stepwasm(&["executions", "redrive", "ask", "--store", store_arg]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("RUNNING ask (redrive 1) at "), "{out}");
    let (_, described, _) = stepwasm(&["executions", "describe", "ask", "--store", store_arg]);
    assert!(described.contains("status: RUNNING") && described.contains("redriven: 1 time(s), last at "), "{described}");
    let (code, out, err) = stepwasm(&["resume", "--store", store_arg, "--config", config_arg, "--cache-dir", cache_arg, "--no-wait"]);
    assert_eq!(code, 0, "{out}{err}");
    let history: Value = serde_json::from_str(&stepwasm(&["executions", "history", "ask", "--store", store_arg, "--json"]).1).unwrap();
    let types: Vec<&str> = history["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    let after_stop: Vec<&str> = types.iter().copied().skip_while(|t| *t != "ExecutionAborted").collect();
    assert_eq!(after_stop, ["ExecutionAborted", "ExecutionRedriven", "WaitStateEntered", "WaitStateExited", "ExecutionSucceeded"]);
    assert_eq!(types.iter().filter(|t| **t == "TaskStateEntered").count(), 1, "{types:?}");
    let (code, _, err) = stepwasm(&["executions", "redrive", "ask", "--store", store_arg]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot be redriven") && err.contains("SUCCEEDED"), "{err}");
}
