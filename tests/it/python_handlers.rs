//! Handlers written in Python (issue 20): the order example's three handlers
//! in `examples/order-python/`, built with componentize-py and the
//! `stepwasm_guest` SDK (`guest-sdk/python/`) by scripts/build-python-examples.sh
//! into target/guest-python, give through `stepwasm run` the same outputs,
//! errors and log lines as the Rust ones on the same inputs; and a hostile
//! Python handler (tests/hostile/python/hostile) is stopped by the same limits
//! with the same ASL errors as the Rust one (tests/it/hostile_modules.rs).

use crate::support::order_handlers::{config_for_gateway, run_cli};
use crate::support::{block_on, guest_dir, one_task_machine as machine, root, scratch, task_failure, TestServer};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use stepwasm::asl::StateMachine;
use stepwasm::driver::{execution_info, run_execution, ExecutionRecord, VirtualClock};
use stepwasm::engine::Outcome;
use stepwasm::runtime::{ResourceMap, WasmRuntime};

/// Where scripts/build-python-examples.sh puts the Python components; fails
/// clearly if they are not built. The first call compiles them all into
/// [`cache_dir`], once, while the other tests wait: an 18 MiB CPython
/// component takes seconds of both cores to compile, and each test (and each
/// `stepwasm run` it starts) would otherwise compile the same ones at once.
fn python_dir() -> PathBuf {
    static COMPILED: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let dir = root().join("target/guest-python");
    for m in ["payment", "inventory", "notify", "hostile_py"] {
        assert!(
            dir.join(format!("{m}.wasm")).is_file(),
            "{m}.wasm is missing from {}: run scripts/build-python-examples.sh (make test does)",
            dir.display()
        );
    }
    let mut compiled = COMPILED.lock().unwrap_or_else(|e| e.into_inner());
    if !*compiled {
        let config = format!(
            "module_dir = {:?}\n\
             [resources.p]\nmodule = \"payment\"\nhttp = {{ allow = [\"http://127.0.0.1:9/\"] }}\n\
             [resources.i]\nmodule = \"inventory\"\nkv = {{ namespace = \"i\" }}\n\
             [resources.n]\nmodule = \"notify\"\n\
             [resources.h]\nmodule = \"hostile_py\"\n",
            dir.to_str().unwrap()
        );
        let map = ResourceMap::parse(&config, &dir.join("test.toml")).unwrap();
        let all = json!({"StartAt": "P", "States": {
            "P": {"Type": "Task", "Resource": "p", "Next": "I"}, "I": {"Type": "Task", "Resource": "i", "Next": "N"},
            "N": {"Type": "Task", "Resource": "n", "Next": "H"}, "H": {"Type": "Task", "Resource": "h", "End": true}}});
        let all = stepwasm::asl::parse_definition(&all.to_string()).unwrap();
        if let Err(e) = WasmRuntime::for_machine_cached(&all, &map, Some(cache_dir())) {
            panic!("the Python components do not load: {e}");
        }
        *compiled = true;
    }
    dir
}

/// The compile cache of this module's tests, kept in target/ from run to run:
/// an 18 MiB CPython component takes seconds to compile, a cached one
/// milliseconds to load (the cache's own tests are elsewhere).
fn cache_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| root().join("target/guest-python/compile-cache"))
}

#[test]
fn the_python_order_handlers_give_the_rust_ones_outputs_errors_and_logs() {
    guest_dir();
    python_dir();
    let cache = cache_dir();
    let rust = root().join("examples/order/stepwasm.toml");
    let python = root().join("examples/order-python/stepwasm.toml");
    // What each input must end in (the Rust handlers' behaviour, checked by
    // order_example.rs), so that both cannot agree on something broken.
    let declined = "payment rejected: card ending 0002 was declined by the issuer";
    let short = "insufficient stock for GADGET-2: requested 5, available 4";
    let paid = ("paid-order.json", 0, "status: SUCCEEDED", "composed order-confirmed message for order ORD-1001");
    let expected = [
        ("examples/order/order.asl.json", ("declined-payment.json", 0, "status: SUCCEEDED", declined)),
        ("examples/order/order.asl.json", ("stock-shortage.json", 1, "error: InventoryUpdateFailed", short)),
        ("examples/order/order.asl.json", paid),
        ("examples/order/seed.asl.json", ("declined-payment.json", 1, "error: PaymentVerificationFailed", declined)),
        ("examples/order/seed.asl.json", ("stock-shortage.json", 1, "error: InventoryUpdateFailed", short)),
        ("examples/order/seed.asl.json", paid),
    ];
    for (definition, (name, code, status, log)) in expected {
        let input = root().join("examples/order/inputs").join(name);
        let (rust_code, rust_out) = run_cli(definition, &rust, &input, cache);
        let (py_code, py_out) = run_cli(definition, &python, &input, cache);
        assert_eq!(rust_code, code, "{definition} {name} with Rust: {rust_out}");
        assert!(rust_out.contains(status) && rust_out.contains(log), "{definition} {name} with Rust: {rust_out}");
        assert_eq!((py_code, py_out.as_str()), (rust_code, rust_out.as_str()), "{definition} {name}: Python vs Rust");
    }
    // The Python handlers import only what they are granted (built per
    // handler for a narrower world), so the config grants notify nothing.
    let config = std::fs::read_to_string(&python).unwrap();
    let notify = config.split("function:NotifyCustomerFunction\"]").nth(1).unwrap().split("\n[").next().unwrap();
    assert!(!notify.contains("kv") && !notify.contains("http"), "{notify}");
}

#[test]
fn the_python_payment_handler_asks_the_gateway_as_the_rust_one_does() {
    guest_dir();
    python_dir();
    let dir = scratch("python-gateway");
    let bodies = Arc::new(Mutex::new(Vec::<Value>::new()));
    let seen = Arc::clone(&bodies);
    let gateway = TestServer::start(move |path, body| {
        let order: Value = serde_json::from_str(body).unwrap_or_default();
        seen.lock().unwrap().push(json!({"path": path, "body": order.clone()}));
        match path {
            "/approve" => {
                (200, json!({"approved": true, "authorization": format!("GW-{}", order["orderId"].as_str().unwrap_or("?"))}).to_string())
            }
            "/decline" => (200, json!({"approved": false, "reason": "over the gateway's limit"}).to_string()),
            "/garbled" => (200, "<html>".to_string()),
            _ => (503, "{}".to_string()),
        }
    });
    let allow = gateway.url("/");
    let rust = config_for_gateway("examples/order/stepwasm.toml", &dir, &allow, "rust.toml");
    let python = config_for_gateway("examples/order-python/stepwasm.toml", &dir, &allow, "python.toml");
    let mut order: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("examples/order/inputs/paid-order.json")).unwrap()).unwrap();
    let cases = [
        ("/approve", "GW-ORD-1001"),
        ("/decline", "declined by the payment gateway: over the gateway's limit"),
        ("/down", "answered HTTP 503"),
        ("/garbled", "with an unreadable body"),
    ];
    for (path, needle) in cases {
        order["gateway"] = json!(gateway.url(path));
        let input = dir.join(format!("order{}.json", path.replace('/', "-")));
        std::fs::write(&input, order.to_string()).unwrap();
        bodies.lock().unwrap().clear();
        let (rust_code, rust_out) = run_cli("examples/order/order.asl.json", &rust, &input, cache_dir());
        let (py_code, py_out) = run_cli("examples/order/order.asl.json", &python, &input, cache_dir());
        assert!(rust_out.contains(needle), "{path} with Rust: {rust_out}");
        if path == "/garbled" {
            // The cause quotes the JSON parser's message, which differs
            // between serde and Python; the rest is the same.
            let cut = |s: &str| s.lines().map(|l| l.split(" with an unreadable body").next().unwrap().to_string()).collect::<Vec<_>>();
            assert_eq!((py_code, cut(&py_out)), (rust_code, cut(&rust_out)), "{path}: Python vs Rust");
            assert!(py_out.contains("error: PaymentGatewayUnavailable"), "{py_out}");
        } else {
            assert_eq!((py_code, py_out.as_str()), (rust_code, rust_out.as_str()), "{path}: Python vs Rust");
        }
        // Both sent the gateway the same request.
        let sent = bodies.lock().unwrap().clone();
        assert_eq!(sent.len(), 2, "{path}: {sent:?}");
        assert_eq!(sent[0], sent[1], "{path}: the Rust and the Python request");
        assert_eq!(sent[0]["body"], json!({"orderId": "ORD-1001", "amount": 64.97, "currency": "USD", "cardLast4": "1111"}));
    }
}

const HOSTILE_CONFIG: &str = r#"
[defaults]
fuel = 50_000_000
memory_mib = 32
timeout_seconds = 5

[resources."hostile"]
module = "hostile_py"

# Unlimited fuel, short deadline: only the wall clock (or memory) can stop it.
[resources."hostile-slow"]
module = "hostile_py"
fuel = 1_000_000_000_000_000
timeout_seconds = 0.5
"#;

struct Host {
    runtime: WasmRuntime,
    fast: Arc<StateMachine>,
    slow: Arc<StateMachine>,
}

fn host() -> Host {
    let dir = python_dir();
    let map = ResourceMap::parse(&format!("module_dir = {:?}\n{HOSTILE_CONFIG}", dir.to_str().unwrap()), &dir.join("test.toml")).unwrap();
    let fast = machine("hostile");
    let slow = machine("hostile-slow");
    let mut runtime = WasmRuntime::for_machine_cached(&fast, &map, Some(cache_dir())).unwrap();
    runtime.add_resource("hostile-slow", map.resolve("hostile-slow").unwrap()).unwrap();
    Host { runtime, fast, slow }
}

fn run(machine: &Arc<StateMachine>, runtime: &WasmRuntime, input: Value) -> ExecutionRecord {
    block_on(run_execution(machine.clone(), execution_info("hostile-py", "t"), input, runtime, &VirtualClock::new(0))).unwrap()
}

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

/// The hostile corpus of hostile_modules.rs, in Python, on one runtime: each
/// misbehaviour ends as the Rust one's does, and the host runs the next.
#[test]
fn hostile_python_handlers_are_stopped_like_rust_ones() {
    let host = host();
    assert_healthy(&host);
    // The limits: the same ASL errors and causes as a Rust module's.
    assert_failure(&host, json!({"mode": "loop"}), "TaskFailed", "States.TaskFailed", &["fuel limit exhausted", "50000000"]);
    assert_failure(
        &host,
        json!({"mode": "loop", "slow": true}),
        "TaskTimedOut",
        "States.Timeout",
        &["wall-clock limit of 0.500 s exceeded"],
    );
    assert_failure(&host, json!({"mode": "alloc"}), "TaskFailed", "States.TaskFailed", &["memory limit exceeded", "cap of 32.0 MiB"]);
    assert_failure(
        &host,
        json!({"mode": "huge", "bytes": 300_000}),
        "TaskFailed",
        "States.DataLimitExceeded",
        &["300002 bytes", "limit of 262144 bytes"],
    );
    // Recursion: CPython's own limit raises RecursionError, a handler error
    // named after its class as on AWS Lambda; lifted, the recursion grows the
    // interpreter's frames in linear memory until the memory cap stops it
    // (CPython keeps Python frames off the wasm stack, so there is no stack
    // overflow to hit).
    assert_failure(&host, json!({"mode": "recurse"}), "TaskFailed", "RecursionError", &["maximum recursion depth exceeded"]);
    assert_failure(
        &host,
        json!({"mode": "recurse-deep", "slow": true}),
        "TaskFailed",
        "States.TaskFailed",
        &["memory limit exceeded", "cap of 32.0 MiB"],
    );
    // C recursion (the JSON encoder's, on a result nested 2,000 deep) does
    // reach the wasm stack: a stack overflow, as for a Rust module.
    assert_failure(&host, json!({"mode": "deep-json"}), "TaskFailed", "States.TaskFailed", &["stack overflow"]);
    // Errors: the exception's class (or a TaskError's name) is the error; a
    // reserved name is refused as for a Rust module.
    assert_failure(&host, json!({"mode": "raise"}), "TaskFailed", "ZeroDivisionError", &["division by zero"]);
    let logs = host.runtime.take_logs();
    assert!(
        logs.iter().any(|l| l.message.contains("Traceback") && l.message.contains("ZeroDivisionError")),
        "the unexpected exception's traceback is logged: {logs:?}"
    );
    assert_failure(&host, json!({"mode": "fail", "error": "PaymentDeclined", "cause": "card"}), "TaskFailed", "PaymentDeclined", &["card"]);
    assert_failure(
        &host,
        json!({"mode": "fail", "error": "States.Runtime", "cause": "pretending"}),
        "TaskFailed",
        "States.TaskFailed",
        &["reserved error name \"States.Runtime\"", "pretending"],
    );
    // Capabilities the component was built without (it imports log alone, so
    // its resource needs no grant): the SDK's errors say what to do.
    assert_failure(&host, json!({"mode": "kv"}), "TaskFailed", "KvFailed", &["built without the kv capability", "log,kv"]);
    assert_failure(&host, json!({"mode": "http"}), "TaskFailed", "HttpFailed", &["built without the http capability", "log,http"]);
    // The sandbox: no files, no environment; printing goes nowhere, harmlessly.
    let rec = run(&host.fast, &host.runtime, json!({"mode": "sandbox"}));
    let Outcome::Succeeded { output } = rec.outcome else { panic!("{:?}", rec.outcome) };
    assert_eq!((&output["read"], &output["listed"], &output["env"]), (&Value::Null, &Value::Null, &json!([])), "{output}");
    let rec = run(&host.fast, &host.runtime, json!({"mode": "print"}));
    assert_eq!(rec.outcome, Outcome::Succeeded { output: json!({"printed": true}) });
    // Many in a row leave the host working.
    for i in 0..10 {
        let mode = ["alloc", "loop", "raise", "recurse", "huge"][i % 5];
        let rec = run(&host.fast, &host.runtime, json!({"mode": mode}));
        assert!(matches!(rec.outcome, Outcome::Failed { .. }), "{mode}");
    }
    assert_healthy(&host);
}

/// A memory cap below what a CPython component starts with (its snapshot,
/// about 13 MiB) is refused when the module loads, saying how much it needs,
/// rather than failing every invocation; the cap it names is enough.
#[test]
fn a_memory_cap_below_the_interpreters_snapshot_is_refused_at_load() {
    let dir = python_dir();
    // memory_mib 0: none set, the built-in default.
    let load = |memory_mib: u64| {
        let limit = if memory_mib == 0 { String::new() } else { format!("memory_mib = {memory_mib}\n") };
        let config = format!("module_dir = {:?}\n[resources.\"hostile\"]\nmodule = \"hostile_py\"\n{limit}", dir.to_str().unwrap());
        let map = ResourceMap::parse(&config, &dir.join("test.toml")).unwrap();
        WasmRuntime::for_machine_cached(&machine("hostile"), &map, Some(cache_dir())).map_err(|e| e.to_string())
    };
    let refused = load(8).err().expect("a Python component loaded with memory_mib = 8");
    assert!(refused.contains("hostile_py.wasm starts with a linear memory of 1"), "{refused}");
    assert!(refused.contains("over its resource's memory cap of 8.0 MiB: set memory_mib = "), "{refused}");
    let needed: u64 = refused.rsplit("set memory_mib = ").next().unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!((10..=32).contains(&needed), "{refused}");
    let below = load(needed - 1).err().expect("one MiB less is refused too");
    assert!(below.contains(&format!("set memory_mib = {needed} or more")), "{below}");
    let runtime = load(needed).unwrap_or_else(|e| panic!("memory_mib = {needed}, as the refusal said: {e}"));
    let rec = run(&machine("hostile"), &runtime, json!({"mode": "ok"}));
    assert_eq!(rec.outcome, Outcome::Succeeded { output: json!({"fine": true}) });
    // With no limits set (the built-in defaults), it runs without tuning.
    let runtime = load(0).unwrap_or_else(|e| panic!("with the default limits: {e}"));
    let rec = run(&machine("hostile"), &runtime, json!({"mode": "ok"}));
    assert_eq!(rec.outcome, Outcome::Succeeded { output: json!({"fine": true}) });
}
