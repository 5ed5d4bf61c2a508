//! Golden tests of the event format: `golden/events-v1.jsonl` holds, one
//! per line, the bytes version 1 keeps an event in, for every kind of event
//! (and every state type, and each optional field present and absent).
//! Today's encoder must write exactly those bytes, and they must read back
//! as the same events: a store's rows outlive the build that wrote them.
//!
//! A failure here means the stored format changed. Do not edit the golden
//! file to make it pass: make the change a new format version, with a golden
//! file of its own, and keep reading version 1's.

use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use stepwasm_engine::{ErrorCause, EventKind, HistoryEvent, Scope, StateType};
use stepwasm_store::event_format::{decode, encode, FORMAT_VERSION};

const GOLDEN_V1: &str = include_str!("golden/events-v1.jsonl");

fn golden_lines() -> Vec<&'static str> {
    GOLDEN_V1.lines().collect()
}

/// The events of the golden file, in its order: ids 1, 2, ... each after
/// the one before, at the top level unless a scope is given.
fn samples() -> Vec<HistoryEvent> {
    let resource = "arn:aws:states:local:000000000000:task:charge";
    let activity = "arn:aws:states:us-east-1:123456789012:activity:approve";
    let input = json!({"order": {"id": "o-1", "items": [1, 2.5, -3, null, true]}, "b": 1, "a": "z"});
    let payload = |value: Value| Arc::new(value);
    let retry = Some(ErrorCause { error: "States.BranchFailed".into(), cause: "branch 1 failed".into() });
    let mut assigned = serde_json::Map::new();
    assigned.insert("total".into(), json!(42));
    assigned.insert("customer".into(), json!({"name": "Zoë"}));
    let map_run = "arn:aws:states:local:000000000000:mapRun:sm/Each:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    let kinds: Vec<(Scope, EventKind)> = vec![
        (Scope::root(), EventKind::ExecutionStarted { input: input.clone().into() }),
        (Scope::root(), EventKind::StateEntered { state_type: StateType::Task, name: "Charge".into(), input: payload(input.clone()) }),
        (
            Scope::root(),
            EventKind::TaskScheduled {
                resource: resource.into(),
                parameters: payload(json!({"amount": 12.75})),
                timeout_seconds: Some(30),
                heartbeat_seconds: None,
            },
        ),
        (
            Scope::root(),
            EventKind::TaskScheduled {
                resource: resource.into(),
                parameters: payload(json!({})),
                timeout_seconds: None,
                heartbeat_seconds: Some(10),
            },
        ),
        (Scope::root(), EventKind::TaskStarted { resource: resource.into() }),
        (Scope::root(), EventKind::TaskSubmitted { resource: resource.into(), output: payload(json!({"token": "swt01"})) }),
        (Scope::root(), EventKind::TaskSucceeded { resource: resource.into(), output: payload(json!({"charged": true})) }),
        (
            Scope::root(),
            EventKind::TaskFailed { resource: resource.into(), error: "Card.Declined".into(), cause: "insufficient funds".into() },
        ),
        (Scope::root(), EventKind::TaskTimedOut { resource: resource.into(), error: "States.Timeout".into(), cause: "".into() }),
        (
            Scope::root(),
            EventKind::StateExited {
                state_type: StateType::Task,
                name: "Charge".into(),
                output: payload(json!({"charged": true})),
                assigned_variables: None,
                catch_next: None,
            },
        ),
        (Scope::root(), EventKind::StateEntered { state_type: StateType::Choice, name: "Route".into(), input: payload(json!(7)) }),
        (
            Scope::root(),
            EventKind::StateExited {
                state_type: StateType::Choice,
                name: "Route".into(),
                output: payload(json!(7)),
                assigned_variables: Some(assigned),
                catch_next: Some("Ship".into()),
            },
        ),
        (Scope::root(), EventKind::StateEntered { state_type: StateType::Pass, name: "Shape".into(), input: payload(json!("text")) }),
        (Scope::root(), EventKind::StateEntered { state_type: StateType::Wait, name: "Pause".into(), input: payload(json!([])) }),
        (Scope::root(), EventKind::StateEntered { state_type: StateType::Parallel, name: "Both".into(), input: payload(json!({})) }),
        (Scope::root(), EventKind::ParallelStateStarted { input: json!({"x": 1}), retry_after: None }),
        (Scope::root(), EventKind::ParallelStateStarted { input: json!({"x": 1}), retry_after: retry.clone() }),
        (Scope::root(), EventKind::ParallelStateSucceeded { output: json!([{"x": 1}, {"x": 2}]) }),
        (Scope::root(), EventKind::ParallelStateFailed { error: "States.BranchFailed".into(), cause: "branch 1 failed".into() }),
        (Scope::root(), EventKind::StateEntered { state_type: StateType::Map, name: "Each".into(), input: payload(json!([1, 2])) }),
        (Scope::root(), EventKind::MapStateStarted { items: vec![json!(1), json!(2)], retry_after: None }),
        (Scope::root(), EventKind::MapStateStarted { items: vec![], retry_after: retry }),
        (Scope(vec![0]), EventKind::MapIterationStarted { name: "Each".into(), index: 0 }),
        (Scope(vec![0]), EventKind::MapIterationSucceeded { name: "Each".into(), index: 0, output: json!(1) }),
        (
            Scope(vec![1, 4]),
            EventKind::MapIterationFailed { name: "Each".into(), index: 4, error: "States.TaskFailed".into(), cause: "boom".into() },
        ),
        (Scope::root(), EventKind::MapStateSucceeded { output: json!([1, 2]) }),
        (Scope::root(), EventKind::MapStateFailed { error: "States.ExceedToleratedFailureThreshold".into(), cause: "1 of 2".into() }),
        (Scope::root(), EventKind::StateEntered { state_type: StateType::Succeed, name: "Done".into(), input: payload(json!(null)) }),
        (Scope::root(), EventKind::StateEntered { state_type: StateType::Fail, name: "Broken".into(), input: payload(json!(false)) }),
        (
            Scope::root(),
            EventKind::ExecutionFailed { error: "States.Runtime".into(), cause: "line 1\nline \"2\"\ttabbed, é \u{1F600}".into() },
        ),
        (Scope::root(), EventKind::ExecutionTimedOut { error: "States.Timeout".into(), cause: "ran past TimeoutSeconds".into() }),
        (Scope::root(), EventKind::ExecutionAborted { error: "".into(), cause: "stopped by hand".into() }),
        (Scope::root(), EventKind::ExecutionRedriven { redrive_count: 1 }),
        (Scope::root(), EventKind::ExecutionSucceeded { output: json!({"done": true, "big": 9007199254740993u64}).into() }),
        // Kinds added after the first release: appended, so the lines above keep their ids.
        (Scope::root(), EventKind::ActivityStarted { resource: activity.into(), worker_name: Some("worker-1".into()) }),
        (Scope::root(), EventKind::ActivityStarted { resource: activity.into(), worker_name: None }),
        (Scope(vec![1]), EventKind::StateAborted { state_type: StateType::Wait, name: "Hold".into() }),
        (Scope::root(), EventKind::MapIterationAborted { name: "Each".into(), index: 3 }),
        (
            Scope::root(),
            EventKind::MapRunStarted {
                map_run_arn: map_run.into(),
                request: payload(json!({"MapRunArn": map_run, "StateMachineArn": "arn:aws:states:local:000000000000:stateMachine:sm/Each",
                    "Input": {"k": 1}, "EffectiveInput": {"k": 1}, "Context": null, "Items": [1, 2], "MaxConcurrency": 0})),
            },
        ),
        (Scope::root(), EventKind::MapRunSucceeded { output: payload(json!([1, 2])) }),
        (Scope::root(), EventKind::MapRunFailed { error: "States.ItemReaderFailed".into(), cause: "line 3: not JSON".into() }),
        (Scope::root(), EventKind::MapRunRedriven { map_run_arn: map_run.into(), redrive_count: 1 }),
    ];
    kinds
        .into_iter()
        .enumerate()
        .map(|(i, (scope, kind))| {
            let id = i as u64 + 1;
            HistoryEvent { id, previous_event_id: id - 1, timestamp_ms: 1_700_000_000_000 + 250 * id as i64, scope, kind }
        })
        .collect()
}

/// The variant names serde knows for `T` (an enum), from its refusal of an
/// unknown one: every variant, with none to list by hand.
fn serde_variants<T: serde::de::DeserializeOwned + std::fmt::Debug>(unknown: &str) -> BTreeSet<String> {
    let err = serde_json::from_str::<T>(unknown).expect_err("no such variant").to_string();
    let listed = err.split_once("expected").map_or("", |(_, list)| list);
    listed.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

/// The name of the single key (or the string) that `value` is.
fn tag(value: Value) -> String {
    match value {
        Value::Object(map) => map.keys().next().cloned().unwrap_or_default(),
        Value::String(name) => name,
        other => panic!("not an enum's serialisation: {other}"),
    }
}

#[test]
fn todays_format_is_version_one() {
    assert_eq!(FORMAT_VERSION, 1, "a new version needs golden/events-v{FORMAT_VERSION}.jsonl; version 1's must still decode");
}

#[test]
fn todays_encoder_writes_exactly_the_golden_bytes() {
    let lines = golden_lines();
    let samples = samples();
    assert_eq!(lines.len(), samples.len(), "one golden line per sample event");
    for (line, event) in lines.iter().zip(&samples) {
        assert_eq!(encode(event).unwrap(), *line, "event {} ({})", event.id, event.kind.type_name());
    }
}

#[test]
fn the_golden_bytes_read_back_as_the_events() {
    let samples = samples();
    for (line, event) in golden_lines().iter().zip(&samples) {
        assert_eq!(&decode(line.as_bytes()).unwrap(), event, "{line}");
    }
}

#[test]
fn every_kind_of_event_and_every_state_type_has_a_golden_line() {
    let events: Vec<HistoryEvent> = golden_lines().iter().map(|line| decode(line.as_bytes()).unwrap()).collect();
    let kinds: BTreeSet<String> = events.iter().map(|e| tag(serde_json::to_value(&e.kind).unwrap())).collect();
    let all_kinds = serde_variants::<EventKind>(r#"{"NoSuchEvent": {}}"#);
    assert!(all_kinds.len() >= 23, "serde's list of event kinds was not understood: {all_kinds:?}");
    let missing: Vec<_> = all_kinds.difference(&kinds).collect();
    assert!(missing.is_empty(), "event kinds without a golden line (add one to golden/events-v1.jsonl and samples()): {missing:?}");

    let state_types: BTreeSet<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::StateEntered { state_type, .. } | EventKind::StateExited { state_type, .. } => Some(*state_type),
            _ => None,
        })
        .map(|t| tag(serde_json::to_value(t).unwrap()))
        .collect();
    let all_types = serde_variants::<StateType>(r#""NoSuchState""#);
    assert!(all_types.len() >= 8, "serde's list of state types was not understood: {all_types:?}");
    let missing: Vec<_> = all_types.difference(&state_types).collect();
    assert!(missing.is_empty(), "state types without a golden line: {missing:?}");
}
