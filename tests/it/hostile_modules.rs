//! Misbehaving modules: each limit and failure becomes an ordinary ASL error on
//! the Task with a cause naming what happened, and the host goes on to run the
//! next execution. Also: files that are not valid task components are refused
//! at load time with a clear message.

use crate::support::{block_on, guest_dir, one_task_machine as machine, scratch, task_failure};
use serde_json::{json, Value};
use std::sync::Arc;
use stepwasm::asl::{parse_definition, StateMachine};
use stepwasm::driver::{execution_info, run_execution, ExecutionRecord, VirtualClock};
use stepwasm::engine::Outcome;
use stepwasm::runtime::{ResourceMap, WasmRuntime};

const CONFIG: &str = r#"
[defaults]
fuel = 20_000_000
memory_mib = 16
timeout_seconds = 5

[resources."hostile"]
module = "hostile"

# Unlimited fuel, short deadline: only the wall clock can stop it.
[resources."hostile-slow"]
module = "hostile"
fuel = 1_000_000_000_000_000
timeout_seconds = 0.3
"#;

struct Host {
    runtime: WasmRuntime,
    fast: Arc<StateMachine>,
    slow: Arc<StateMachine>,
}

fn host() -> Host {
    let dir = guest_dir();
    let map = ResourceMap::parse(&format!("module_dir = {:?}\n{CONFIG}", dir.to_str().unwrap()), &dir.join("test.toml")).unwrap();
    let fast = machine("hostile");
    let slow = machine("hostile-slow");
    let mut runtime = WasmRuntime::for_machine(&fast, &map).unwrap();
    runtime.add_resource("hostile-slow", map.resolve("hostile-slow").unwrap()).unwrap();
    Host { runtime, fast, slow }
}

fn run(machine: &Arc<StateMachine>, runtime: &WasmRuntime, input: Value) -> ExecutionRecord {
    block_on(run_execution(machine.clone(), execution_info("hostile", "t"), input, runtime, &VirtualClock::new(0))).unwrap()
}

/// After any misbehaviour, the same runtime runs a good invocation.
fn assert_healthy(host: &Host) {
    let rec = run(&host.fast, &host.runtime, json!({"mode": "ok"}));
    assert_eq!(rec.outcome, Outcome::Succeeded { output: json!({"fine": true}) });
}

fn assert_failure(host: &Host, mode: Value, event: &str, error: &str, cause_parts: &[&str]) {
    let machine = if mode["slow"] == true { &host.slow } else { &host.fast };
    let rec = run(machine, &host.runtime, mode.clone());
    let (got_event, got_error, cause) = task_failure(&rec);
    assert_eq!((got_event, got_error.as_str()), (event, error), "{mode}: {cause}");
    for part in cause_parts {
        assert!(cause.contains(part), "{mode}: cause {cause:?} should mention {part:?}");
    }
    assert!(matches!(&rec.outcome, Outcome::Failed { error: e, .. } if e == error), "{:?}", rec.outcome);
    assert_healthy(host);
}

#[test]
fn trap_is_task_failed() {
    assert_failure(&host(), json!({"mode": "trap"}), "TaskFailed", "States.TaskFailed", &["hostile.wasm trapped", "unreachable"]);
}

#[test]
fn panic_quotes_the_guest_message() {
    assert_failure(&host(), json!({"mode": "panic"}), "TaskFailed", "States.TaskFailed", &["hostile module panicked on purpose"]);
}

#[test]
fn endless_loop_runs_out_of_fuel() {
    assert_failure(&host(), json!({"mode": "loop"}), "TaskFailed", "States.TaskFailed", &["fuel limit exhausted", "20000000"]);
}

#[test]
fn endless_loop_without_fuel_limit_hits_the_wall_clock() {
    let started = std::time::Instant::now();
    assert_failure(
        &host(),
        json!({"mode": "loop", "slow": true}),
        "TaskTimedOut",
        "States.Timeout",
        &["wall-clock limit of 0.300 s exceeded"],
    );
    // Sanity, not a benchmark: the deadline cut it off rather than fuel.
    assert!(started.elapsed().as_secs() < 5);
}

#[test]
fn unbounded_allocation_hits_the_memory_cap() {
    assert_failure(&host(), json!({"mode": "alloc"}), "TaskFailed", "States.TaskFailed", &["memory limit exceeded", "cap of 16.0 MiB"]);
}

#[test]
fn deep_recursion_is_a_stack_overflow() {
    assert_failure(&host(), json!({"mode": "recurse"}), "TaskFailed", "States.TaskFailed", &["stack overflow"]);
}

#[test]
fn output_that_is_not_json() {
    assert_failure(&host(), json!({"mode": "not-json"}), "TaskFailed", "States.TaskFailed", &["not valid JSON", "this is { not json"]);
}

#[test]
fn oversized_output_exceeds_the_data_limit() {
    assert_failure(
        &host(),
        json!({"mode": "huge", "bytes": 300_000}),
        "TaskFailed",
        "States.DataLimitExceeded",
        &["300002 bytes", "limit of 262144 bytes"],
    );
}

/// `hostile` in a Task whose Catch takes `States.TaskFailed` into `$.error`.
fn catching_task_failures() -> Arc<StateMachine> {
    let def = json!({"StartAt": "Run", "States": {
        "Run": {"Type": "Task", "Resource": "hostile",
                "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Recovered"}],
                "End": true},
        "Recovered": {"Type": "Pass", "End": true}}});
    Arc::new(parse_definition(&def.to_string()).unwrap())
}

#[test]
fn limit_errors_are_catchable_like_any_task_error() {
    let host = host();
    let machine = catching_task_failures();
    let rec = run(&machine, &host.runtime, json!({"mode": "alloc"}));
    let Outcome::Succeeded { output } = rec.outcome else { panic!("{:?}", rec.outcome) };
    assert_eq!(output["error"]["Error"], "States.TaskFailed");
    assert!(output["error"]["Cause"].as_str().unwrap().contains("memory limit exceeded"));
}

#[test]
fn a_reserved_error_name_is_refused_and_caught_as_a_task_failure() {
    let host = host();
    // A module's own error names pass through as they are.
    let rec = run(&host.fast, &host.runtime, json!({"mode": "fail", "error": "PaymentDeclined", "cause": "card"}));
    assert_eq!(task_failure(&rec), ("TaskFailed", "PaymentDeclined".to_string(), "card".to_string()));
    // States.Runtime cannot be caught by a Catch; from a module it becomes
    // States.TaskFailed, which can, and the cause says what was tried.
    let machine = catching_task_failures();
    for name in ["States.Runtime", "States.Timeout", "States.ALL"] {
        let rec = run(&machine, &host.runtime, json!({"mode": "fail", "error": name, "cause": "pretending"}));
        let Outcome::Succeeded { output } = &rec.outcome else { panic!("{name}: {:?}", rec.outcome) };
        assert_eq!(output["error"]["Error"], "States.TaskFailed", "{name}");
        let cause = output["error"]["Cause"].as_str().unwrap();
        assert!(cause.contains(&format!("reserved error name \"{name}\"")) && cause.ends_with("pretending"), "{cause}");
    }
}

#[test]
fn many_hostile_invocations_in_a_row_leave_the_host_working() {
    let host = host();
    for i in 0..30 {
        let mode = ["trap", "alloc", "loop", "recurse", "panic"][i % 5];
        let rec = run(&host.fast, &host.runtime, json!({"mode": mode}));
        assert!(matches!(rec.outcome, Outcome::Failed { .. }), "{mode}");
    }
    assert_healthy(&host);
}

#[test]
fn files_that_are_not_task_components_are_refused_at_load() {
    let dir = scratch("bad-modules");
    let payment = std::fs::read(guest_dir().join("payment.wasm")).unwrap();
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("text", b"hello, I am not wasm".to_vec(), "is not WebAssembly"),
        ("core", b"\0asm\x01\0\0\0".to_vec(), "core WebAssembly module, not a component"),
        ("truncated", payment[..payment.len() / 2].to_vec(), "is not a valid component"),
        // An empty component (version 0x0d, layer 1): valid, but exports no handler.
        ("empty", b"\0asm\x0d\0\x01\0".to_vec(), "does not implement the stepwasm:task world"),
    ];
    for (name, bytes, expected) in cases {
        std::fs::write(dir.join(format!("{name}.wasm")), bytes).unwrap();
        let map = ResourceMap::with_module_dir(&dir);
        let def = machine(&format!("wasm:{name}"));
        let err = WasmRuntime::for_machine(&def, &map).err().unwrap_or_else(|| panic!("{name} loaded")).to_string();
        assert!(err.contains("States.Run.Resource: module file") || err.contains("States.Run.Resource: module "), "{err}");
        assert!(err.contains(expected), "{name}: {err}");
    }
}
