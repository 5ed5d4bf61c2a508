//! Parallel branches and Map iterations running at the same time, through
//! the engine's public API: a small concurrent driver here records what is
//! decided, finishes the work in flight in a pseudo-random order, and checks
//! at every step that the decisions it keeps from [`Execution::decide_after`]
//! are exactly those [`Execution::decide_all`] gives, and that the recorded
//! history, folded again, decides the same.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use stepwasm_asl::parse_definition;
use stepwasm_engine::{Decision, EventKind, Execution, ExecutionInfo, HistoryEvent, Outcome, Scope};

fn info() -> ExecutionInfo {
    ExecutionInfo {
        execution_arn: "arn:aws:states:local:000000000000:execution:m:e".into(),
        name: "e".into(),
        state_machine_arn: "arn:aws:states:local:000000000000:stateMachine:m".into(),
        state_machine_name: "m".into(),
        role_arn: "arn:aws:iam::000000000000:role/r".into(),
        test_case: None,
    }
}

/// A task's answer from its input: `{"fail": "X"}` fails it with error X,
/// anything else succeeds with `{"done": input}`.
fn answer(input: &Value) -> Result<Value, String> {
    match input.get("fail").and_then(Value::as_str) {
        Some(error) => Err(error.to_string()),
        None => Ok(json!({"done": input})),
    }
}

/// A run of the small concurrent driver.
struct Run {
    outcome: Outcome,
    history: Vec<HistoryEvent>,
    /// The most tasks, callbacks and waits in flight at once.
    most_in_flight: usize,
    /// The work in flight the first time nothing was left to record.
    first_in_flight: Vec<Decision>,
}

/// Drives `def` on `input` to its end with every piece of work in flight
/// at once, finishing them in an order picked by `seed`; time advances only
/// to the earliest timer. Asserts the incremental decisions after every event.
fn run(def: &Value, input: Value, seed: u64, max_children: usize) -> Run {
    let machine = Arc::new(parse_definition(&def.to_string()).unwrap());
    let mut execution = Execution::new(Arc::clone(&machine), info());
    execution.set_max_children(max_children);
    let mut history: Vec<HistoryEvent> = Vec::new();
    let mut now = 1_000_000i64;
    let mut pending: BTreeMap<Scope, Decision> = BTreeMap::new();
    let mut rng = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next_random = move |n: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n as u64) as usize
    };
    let mut most_in_flight = 0;
    let mut first_in_flight: Option<Vec<Decision>> = None;
    let mut record = |execution: &mut Execution, pending: &mut BTreeMap<Scope, Decision>, scope: Scope, kind: EventKind, now: i64| {
        let n = history.len() as u64;
        let event = HistoryEvent { id: n + 1, previous_event_id: n, timestamp_ms: now, scope, kind };
        execution.apply(&event).unwrap_or_else(|e| panic!("{e}"));
        let changed = Execution::changed_scope(&event);
        pending.retain(|scope, _| !(scope.0.starts_with(&changed.0) || changed.0.starts_with(&scope.0)));
        for decision in execution.decide_after(&changed) {
            pending.insert(decision.scope().clone(), decision);
        }
        history.push(event);
        // The variables held, counted as events come, are those a replay counts.
        let mut replayed = Execution::new(Arc::clone(&machine), info());
        history.iter().for_each(|e| replayed.apply(e).unwrap());
        assert_eq!(replayed.variable_bytes(), execution.variable_bytes(), "after event {}", history.len());
        // The incremental decisions are the whole ones.
        let all: BTreeMap<Scope, Decision> = execution.decide_all().into_iter().map(|d| (d.scope().clone(), d)).collect();
        assert_eq!(*pending, all, "after event {}", history.len());
    };
    record(&mut execution, &mut pending, Scope::root(), EventKind::ExecutionStarted { input: input.into() }, now);
    for _ in 0..100_000 {
        if let Some(outcome) = execution.outcome() {
            // Folded again, the history decides the same.
            let mut replayed = Execution::new(Arc::clone(&machine), info());
            history.iter().for_each(|e| replayed.apply(e).unwrap());
            assert_eq!(replayed.decide_all(), execution.decide_all());
            assert_eq!(replayed.variable_bytes(), execution.variable_bytes());
            return Run { outcome: outcome.clone(), history, most_in_flight, first_in_flight: first_in_flight.unwrap_or_default() };
        }
        let first_record = pending.iter().find(|(_, d)| matches!(d, Decision::Record { .. })).map(|(s, _)| s.clone());
        if let Some(scope) = first_record {
            let Some(Decision::Record { scope, event }) = pending.remove(&scope) else { unreachable!() };
            record(&mut execution, &mut pending, scope, event, now);
            continue;
        }
        most_in_flight = most_in_flight.max(pending.len());
        first_in_flight.get_or_insert_with(|| pending.values().cloned().collect());
        // Finish one piece of work: a task or callback at random, or the earliest timer.
        let earliest = pending
            .iter()
            .filter_map(|(s, d)| match d {
                Decision::RecordAt { not_before_ms, .. } => Some((*not_before_ms, s.clone())),
                _ => None,
            })
            .min();
        let busy: Vec<Scope> = pending
            .iter()
            .filter(|(_, d)| matches!(d, Decision::Invoke { .. } | Decision::AwaitCallback { .. }))
            .map(|(s, _)| s.clone())
            .collect();
        // Tasks and callbacks end at once; a timer fires when nothing else can happen first.
        let pick_timer = busy.is_empty() || earliest.as_ref().is_some_and(|(at, _)| *at <= now);
        if pick_timer {
            let (at, scope) = earliest.expect("something to do");
            now = now.max(at);
            let Some(Decision::RecordAt { scope, event, .. }) = pending.remove(&scope) else { unreachable!() };
            record(&mut execution, &mut pending, scope, event, now);
            continue;
        }
        let scope = busy[next_random(busy.len())].clone();
        match pending.remove(&scope) {
            Some(Decision::Invoke { scope, task }) => {
                let resource = task.resource.clone();
                record(&mut execution, &mut pending, scope.clone(), EventKind::TaskStarted { resource: resource.clone() }, now);
                let outcome = match (answer(&task.input), task.task_token.is_some()) {
                    (Ok(output), true) => EventKind::TaskSubmitted { resource, output: Arc::new(output) },
                    (Ok(output), false) => EventKind::TaskSucceeded { resource, output: Arc::new(output) },
                    (Err(error), _) => EventKind::TaskFailed { resource, error, cause: "asked to".into() },
                };
                record(&mut execution, &mut pending, scope, outcome, now);
            }
            Some(Decision::AwaitCallback { scope, callback }) => {
                let output = Arc::new(json!({"answered": callback.token.len() > 3}));
                record(&mut execution, &mut pending, scope, EventKind::TaskSucceeded { resource: callback.resource, output }, now);
            }
            other => panic!("not work in flight: {other:?}"),
        }
    }
    panic!("the execution did not end");
}

fn types(history: &[HistoryEvent]) -> Vec<(Vec<u32>, &'static str)> {
    history.iter().map(|e| (e.scope.0.clone(), e.kind.type_name())).collect()
}

fn task(input: Value) -> Value {
    json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": input, "End": true})
}

#[test]
fn two_wait_for_task_token_branches_have_both_tokens_out_at_once() {
    let approval = |who: &str| {
        let ask = format!("Ask {who}");
        json!({"StartAt": ask, "States": {ask: {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"who": who, "token.$": "$$.Task.Token"}, "End": true}}})
    };
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [approval("a"), approval("b")]}}});
    for seed in 0..5 {
        let run = run(&def, json!({}), seed, 1000);
        assert!(matches!(run.outcome, Outcome::Succeeded { .. }), "{:?}", run.outcome);
        let tokens: Vec<String> = run
            .first_in_flight
            .iter()
            .filter_map(|d| match d {
                Decision::Invoke { task, .. } => task.task_token.clone(),
                _ => None,
            })
            .collect();
        assert_eq!(tokens.len(), 2, "both tasks start at once, each with its token: {:?}", run.first_in_flight);
        assert_ne!(tokens[0], tokens[1]);
    }
}

#[test]
fn two_two_second_waits_in_parallel_take_two_seconds() {
    let wait = |name: &str| json!({"StartAt": name, "States": {name: {"Type": "Wait", "Seconds": 2, "End": true}}});
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [wait("W1"), wait("W2")]}}});
    let run = run(&def, json!({}), 1, 1000);
    assert!(matches!(run.outcome, Outcome::Succeeded { .. }));
    let took = run.history.last().unwrap().timestamp_ms - run.history[0].timestamp_ms;
    assert_eq!(took, 2000, "the waits overlap");
}

#[test]
fn max_concurrency_two_never_has_more_than_two_iterations_running() {
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "MaxConcurrency": 2, "End": true,
        "ItemProcessor": {"StartAt": "T", "States": {"T": task(json!({"n.$": "$"}))}}}}});
    let items: Vec<Value> = (0..10).map(|i| json!(i)).collect();
    for seed in 0..5 {
        let run = run(&def, Value::Array(items.clone()), seed, 1000);
        let Outcome::Succeeded { output } = &run.outcome else { panic!("{:?}", run.outcome) };
        let expected: Vec<Value> = (0..10).map(|i| json!({"done": {"n": i}})).collect();
        assert_eq!(output, &Value::Array(expected), "results in item order");
        let (mut running, mut most) = (0i32, 0);
        for event in &run.history {
            match event.kind.type_name() {
                "MapIterationStarted" => running += 1,
                "MapIterationSucceeded" | "MapIterationFailed" | "MapIterationAborted" => running -= 1,
                _ => {}
            }
            most = most.max(running);
        }
        assert_eq!(most, 2, "{:?}", types(&run.history));
    }
    // MaxConcurrency 0: the host's cap.
    let mut unbounded = def.clone();
    unbounded["States"]["M"]["MaxConcurrency"] = json!(0);
    let run = run(&unbounded, Value::Array(items.clone()), 3, 4);
    assert!(run.most_in_flight <= 4 && run.most_in_flight >= 2, "{}", run.most_in_flight);
}

#[test]
fn a_failing_branch_stops_its_siblings() {
    let waiting = json!({"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 60, "End": true}}});
    let working = json!({"StartAt": "Work", "States": {"Work": task(json!({"slow": true}))}});
    let failing = json!({"StartAt": "Bad", "States": {"Bad": task(json!({"fail": "Broken"}))}});
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [waiting, failing, working]}}});
    for seed in 0..8 {
        let run = run(&def, json!({}), seed, 1000);
        let Outcome::Failed { error, .. } = &run.outcome else { panic!("{:?}", run.outcome) };
        assert_eq!(error, "Broken");
        let seen = types(&run.history);
        let failed_at = seen.iter().position(|(_, t)| *t == "ParallelStateFailed").unwrap();
        let aborted = seen.iter().position(|(s, t)| s == &[0] && *t == "WaitStateAborted").expect("the Wait is stopped");
        assert!(aborted < failed_at, "{seen:?}");
        assert!(!seen.iter().any(|(_, t)| *t == "WaitStateExited"), "{seen:?}");
        // The 60-s wait did not hold the failure up.
        assert!(run.history.last().unwrap().timestamp_ms - run.history[0].timestamp_ms < 60_000);
        // The working branch either finished before the failure or was stopped.
        let work_ended = seen.iter().any(|(s, t)| s == &[2] && (*t == "TaskStateExited" || *t == "TaskStateAborted"));
        assert!(work_ended, "{seen:?}");
    }
}

#[test]
fn a_failing_map_iteration_stops_the_running_ones() {
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
        "ItemProcessor": {"StartAt": "T", "States": {"T": task(json!({"fail.$": "$.fail"}))}}}}});
    let items = json!([{"fail": null}, {"fail": "Broken"}, {"fail": null}, {"fail": null}]);
    let mut seen_aborted = false;
    for seed in 0..10 {
        let run = run(&def, items.clone(), seed, 1000);
        let Outcome::Failed { error, .. } = &run.outcome else { panic!("{:?}", run.outcome) };
        assert_eq!(error, "Broken");
        let seen = types(&run.history);
        let failed_at = seen.iter().position(|(_, t)| *t == "MapStateFailed").unwrap();
        let started = seen.iter().filter(|(_, t)| *t == "MapIterationStarted").count();
        let ended = seen[..failed_at]
            .iter()
            .filter(|(_, t)| matches!(*t, "MapIterationSucceeded" | "MapIterationFailed" | "MapIterationAborted"))
            .count();
        assert_eq!(started, ended, "every started iteration ended or was stopped before the state failed: {seen:?}");
        seen_aborted |= seen.iter().any(|(_, t)| *t == "MapIterationAborted");
    }
    assert!(seen_aborted, "some order leaves iterations running when one fails");
}

#[test]
fn nested_fan_outs_decide_incrementally_as_a_whole_decision_would() {
    // A Map of Parallels with waits, retries and a caught failure: the
    // driver's per-event checks (incremental == whole, replay == live) do the asserting.
    let inner = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.w", "Next": "T"}, "T": task(json!({"x.$": "$.w"}))}},
        {"StartAt": "R", "States": {"R": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"fail.$": "$.f"}, "Retry": [{"ErrorEquals": ["Flaky"], "MaxAttempts": 1, "IntervalSeconds": 1}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": true},
            "Caught": {"Type": "Pass", "Assign": {"caught.$": "$"}, "End": true}}}
    ]}}});
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "MaxConcurrency": 3, "ItemsPath": "$.items", "End": true,
        "ItemProcessor": inner}}});
    let items: Vec<Value> = (0..7).map(|i| json!({"w": i % 3, "f": if i % 2 == 0 { Value::Null } else { json!("Flaky") }})).collect();
    for seed in 0..6 {
        let run = run(&def, json!({"items": items}), seed, 1000);
        let Outcome::Succeeded { output } = &run.outcome else { panic!("{:?}", run.outcome) };
        assert_eq!(output.as_array().map(Vec::len), Some(7));
        assert_eq!(output[1][1]["Error"], "Flaky", "a failure caught after its retry");
    }
}
