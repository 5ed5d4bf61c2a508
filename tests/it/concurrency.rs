//! Executions as futures on tokio: a module that computes for a long time
//! yields its thread at every epoch tick, so other executions on the same
//! thread finish meanwhile; its own wall-clock limit still ends it.

use crate::support::{guest_dir, PROBE_RESOURCES};
use serde_json::json;
use std::sync::{Arc, Mutex};
use stepwasm::asl::{parse_definition, StateMachine};
use stepwasm::driver::{execution_info, run_execution, VirtualClock};
use stepwasm::engine::Outcome;
use stepwasm::runtime::{ResourceMap, WasmRuntime};

fn machine(resource: &str, timeout_seconds: u64) -> Arc<StateMachine> {
    let def = json!({"StartAt": "Probe", "States": {"Probe": {
        "Type": "Task", "Resource": resource, "TimeoutSeconds": timeout_seconds, "End": true
    }}});
    Arc::new(parse_definition(&def.to_string()).unwrap())
}

#[test]
fn a_spinning_module_does_not_hold_up_other_executions_on_its_thread() {
    let dir = guest_dir();
    let map = ResourceMap::parse(&format!("module_dir = {:?}\n{PROBE_RESOURCES}", dir.to_str().unwrap()), &dir.join("c.toml")).unwrap();
    let fast = machine("probe", 5);
    let slow = machine("probe-slow", 1);
    let mut runtime = WasmRuntime::for_machine(&fast, &map).unwrap();
    runtime.add_resource("probe-slow", map.resolve("probe-slow").unwrap()).unwrap();
    let runtime = Arc::new(runtime);
    let clock = Arc::new(VirtualClock::new(0));
    let finished: Arc<Mutex<Vec<String>>> = Arc::default();

    // One thread for everything: without yielding, the spinning module would
    // keep it for its whole second and every fast execution would wait.
    let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let outcomes = tokio.block_on(async {
        let mut tasks = Vec::new();
        let spin = json!({"steps": [{"spin": true}]});
        tasks.push(tokio::spawn(run("slow".into(), slow, spin, runtime.clone(), clock.clone(), finished.clone())));
        // Let the slow execution start spinning first.
        tokio::task::yield_now().await;
        for i in 0..10 {
            let input = json!({"steps": [{"get": "k"}]});
            tasks.push(tokio::spawn(run(format!("fast-{i}"), fast.clone(), input, runtime.clone(), clock.clone(), finished.clone())));
        }
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap());
        }
        outcomes
    });

    match &outcomes[0] {
        Outcome::Failed { error, cause } => {
            assert_eq!(error, "States.Timeout");
            assert!(cause.contains("wall-clock limit of 1.000 s exceeded"), "{cause}");
        }
        other => panic!("the spinning execution should time out, got {other:?}"),
    }
    for o in &outcomes[1..] {
        assert_eq!(o, &Outcome::Succeeded { output: json!({"results": [{"value": null}]}) });
    }
    let order = finished.lock().unwrap().clone();
    assert_eq!(order.len(), 11);
    assert_eq!(order.last().map(String::as_str), Some("slow"), "every fast execution finished first: {order:?}");
}

async fn run(
    name: String,
    machine: Arc<StateMachine>,
    input: serde_json::Value,
    runtime: Arc<WasmRuntime>,
    clock: Arc<VirtualClock>,
    finished: Arc<Mutex<Vec<String>>>,
) -> Outcome {
    let rec = run_execution(machine, execution_info("c", &name), input, &*runtime, &*clock).await.unwrap();
    finished.lock().unwrap().push(name);
    rec.outcome
}
