//! Handlers written in JavaScript (issue 20): the order example's three
//! handlers in `examples/order-js/`, bundled with the `stepwasm-guest` SDK
//! (`guest-sdk/js/`) and built with componentize-js by
//! scripts/build-js-examples.sh into target/guest-js, give through
//! `stepwasm run` the same outputs, errors and log lines as the Rust ones on
//! the same inputs; and a hostile JavaScript handler
//! (tests/hostile/js/hostile) is stopped by the same limits with the same ASL
//! errors as the Rust one (tests/it/hostile_modules.rs).

use crate::support::order_handlers::{config_for_gateway, run_cli};
use crate::support::{block_on, guest_dir, one_task_machine as machine, root, scratch, task_failure, TestServer};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use stepwasm::asl::StateMachine;
use stepwasm::driver::{execution_info, run_execution, ExecutionRecord, VirtualClock};
use stepwasm::engine::Outcome;
use stepwasm::runtime::{ResourceMap, WasmRuntime};

/// Where scripts/build-js-examples.sh puts the JavaScript components; fails
/// clearly if they are not built.
fn js_dir() -> PathBuf {
    let dir = root().join("target/guest-js");
    for m in ["payment", "inventory", "notify", "hostile_js"] {
        assert!(
            dir.join(format!("{m}.wasm")).is_file(),
            "{m}.wasm is missing from {}: run scripts/build-js-examples.sh (make test does)",
            dir.display()
        );
    }
    dir
}

/// The compile cache of this module's tests, kept in target/ from run to run:
/// a 12 MiB StarlingMonkey component takes seconds to compile, a cached one
/// milliseconds to load.
fn cache_dir() -> PathBuf {
    root().join("target/guest-js/compile-cache")
}

/// JavaScript has one number type: a whole number the input wrote as `5.00`
/// comes back from `JSON.stringify` as `5`, where serde writes `5.0` (as AWS
/// Lambda's Node runtime does too; where a state passes its input on unread,
/// the host keeps `5.0`). The only difference allowed; applied to both sides'
/// text: a `.0` ending a number that stands as a JSON value
/// (after `: `, `[` or `, `, before `,`, a line end, `}` or `]`).
fn whole_numbers_as_js_writes_them(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'.' && bytes.get(i + 1) == Some(&b'0') {
            let digits = bytes[..i].iter().rev().take_while(|b| b.is_ascii_digit() || **b == b'-').count();
            let before = (i - digits).checked_sub(1).map(|at| bytes[at]);
            let after = bytes.get(i + 2).copied();
            if digits > 0 && matches!(before, Some(b' ' | b'[')) && matches!(after, None | Some(b',' | b'\n' | b'}' | b']')) {
                i += 2;
                continue;
            }
        }
        let ch = text[i..].chars().next().unwrap();
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

#[test]
fn the_js_order_handlers_give_the_rust_ones_outputs_errors_and_logs() {
    guest_dir();
    js_dir();
    let rust = root().join("examples/order/stepwasm.toml");
    let js = root().join("examples/order-js/stepwasm.toml");
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
        ("examples/order/seed.asl.json", paid),
    ];
    for (definition, (name, code, status, log)) in expected {
        let input = root().join("examples/order/inputs").join(name);
        let (rust_code, rust_out) = run_cli(definition, &rust, &input, &cache_dir());
        let (js_code, js_out) = run_cli(definition, &js, &input, &cache_dir());
        assert_eq!(rust_code, code, "{definition} {name} with Rust: {rust_out}");
        assert!(rust_out.contains(status) && rust_out.contains(log), "{definition} {name} with Rust: {rust_out}");
        let (rust_out, js_out) = (whole_numbers_as_js_writes_them(&rust_out), whole_numbers_as_js_writes_them(&js_out));
        assert_eq!((js_code, js_out.as_str()), (rust_code, rust_out.as_str()), "{definition} {name}: JavaScript vs Rust");
    }
}

#[test]
fn the_js_payment_handler_asks_the_gateway_as_the_rust_one_does() {
    guest_dir();
    js_dir();
    let dir = scratch("js-gateway");
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
            _ => (503, "{}".to_string()),
        }
    });
    let allow = gateway.url("/");
    let rust = config_for_gateway("examples/order/stepwasm.toml", &dir, &allow, "rust.toml");
    let js = config_for_gateway("examples/order-js/stepwasm.toml", &dir, &allow, "js.toml");
    let mut order: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("examples/order/inputs/paid-order.json")).unwrap()).unwrap();
    let cases = [
        ("/approve", "GW-ORD-1001"),
        ("/decline", "declined by the payment gateway: over the gateway's limit"),
        ("/down", "answered HTTP 503"),
    ];
    for (path, needle) in cases {
        order["gateway"] = json!(gateway.url(path));
        let input = dir.join(format!("order{}.json", path.replace('/', "-")));
        std::fs::write(&input, order.to_string()).unwrap();
        bodies.lock().unwrap().clear();
        let (rust_code, rust_out) = run_cli("examples/order/order.asl.json", &rust, &input, &cache_dir());
        let (js_code, js_out) = run_cli("examples/order/order.asl.json", &js, &input, &cache_dir());
        assert!(rust_out.contains(needle), "{path} with Rust: {rust_out}");
        let (rust_out, js_out) = (whole_numbers_as_js_writes_them(&rust_out), whole_numbers_as_js_writes_them(&js_out));
        assert_eq!((js_code, js_out.as_str()), (rust_code, rust_out.as_str()), "{path}: JavaScript vs Rust");
        // Both sent the gateway the same request.
        let sent = bodies.lock().unwrap().clone();
        assert_eq!(sent.len(), 2, "{path}: {sent:?}");
        assert_eq!(sent[0], sent[1], "{path}: the Rust and the JavaScript request");
        assert_eq!(sent[0]["body"], json!({"orderId": "ORD-1001", "amount": 64.97, "currency": "USD", "cardLast4": "1111"}));
    }
}

const HOSTILE_CONFIG: &str = r#"
[defaults]
fuel = 50_000_000
memory_mib = 32
timeout_seconds = 5

[resources."hostile"]
module = "hostile_js"

# Unlimited fuel, short deadline: only the wall clock (or memory) can stop it.
[resources."hostile-slow"]
module = "hostile_js"
fuel = 1_000_000_000_000_000
timeout_seconds = 0.5
"#;

struct Host {
    runtime: WasmRuntime,
    fast: Arc<StateMachine>,
    slow: Arc<StateMachine>,
}

fn host() -> Host {
    let dir = js_dir();
    let map = ResourceMap::parse(&format!("module_dir = {:?}\n{HOSTILE_CONFIG}", dir.to_str().unwrap()), &dir.join("test.toml")).unwrap();
    let fast = machine("hostile");
    let slow = machine("hostile-slow");
    let mut runtime = WasmRuntime::for_machine_cached(&fast, &map, Some(&cache_dir())).unwrap();
    runtime.add_resource("hostile-slow", map.resolve("hostile-slow").unwrap()).unwrap();
    Host { runtime, fast, slow }
}

fn run(machine: &Arc<StateMachine>, runtime: &WasmRuntime, input: Value) -> ExecutionRecord {
    block_on(run_execution(machine.clone(), execution_info("hostile-js", "t"), input, runtime, &VirtualClock::new(0))).unwrap()
}

fn assert_healthy(host: &Host) {
    let rec = run(&host.fast, &host.runtime, json!({"mode": "ok"}));
    assert_eq!(rec.outcome, Outcome::Succeeded { output: json!({"fine": true}) });
}

fn assert_failure(host: &Host, mode: Value, error: &str, cause_parts: &[&str]) {
    let machine = if mode["slow"] == true { &host.slow } else { &host.fast };
    let rec = run(machine, &host.runtime, mode.clone());
    let (_, got_error, cause) = task_failure(&rec);
    assert_eq!(got_error.as_str(), error, "{mode}: {cause}");
    for part in cause_parts {
        assert!(cause.contains(part), "{mode}: cause {cause:?} should mention {part:?}");
    }
    assert!(matches!(&rec.outcome, Outcome::Failed { error: e, .. } if e == error), "{:?}", rec.outcome);
    assert_healthy(host);
}

/// The hostile corpus of hostile_modules.rs, in JavaScript, on one runtime:
/// each misbehaviour ends as the Rust one's does, and the host runs the next.
#[test]
fn hostile_js_handlers_are_stopped_like_rust_ones() {
    let host = host();
    assert_healthy(&host);
    assert_failure(&host, json!({"mode": "loop"}), "States.TaskFailed", &["fuel limit exhausted", "50000000"]);
    assert_failure(&host, json!({"mode": "loop", "slow": true}), "States.Timeout", &["wall-clock limit of 0.500 s exceeded"]);
    // SpiderMonkey turns the refused growth into an "out of memory" exception
    // the SDK catches; the host reports the cap that caused it.
    assert_failure(
        &host,
        json!({"mode": "alloc"}),
        "States.TaskFailed",
        &["module hostile_js.wasm: memory limit exceeded", "cap of 32.0 MiB", "the handler then failed with"],
    );
    // (Building 300 KB of string in SpiderMonkey's interpreter takes more
    // fuel than 50 million units: on the resource without a fuel cap.)
    assert_failure(
        &host,
        json!({"mode": "huge", "bytes": 300_000, "slow": true}),
        "States.DataLimitExceeded",
        &["300002 bytes", "limit of 262144 bytes"],
    );
    // A promise that never settles: the engine's event loop gives up (a trap).
    assert_failure(&host, json!({"mode": "never"}), "States.TaskFailed", &["trapped"]);
    // Errors: the thrown value's class (or a TaskError's name) is the error;
    // a reserved name is refused as for a Rust module.
    assert_failure(&host, json!({"mode": "raise"}), "TypeError", &["null"]);
    let logs = host.runtime.take_logs();
    assert!(logs.iter().any(|l| l.level == "error" && l.message.contains("TypeError")), "the unexpected error's stack is logged: {logs:?}");
    assert_failure(&host, json!({"mode": "fail", "error": "PaymentDeclined", "cause": "card"}), "PaymentDeclined", &["card"]);
    assert_failure(
        &host,
        json!({"mode": "fail", "error": "States.Runtime", "cause": "pretending"}),
        "States.TaskFailed",
        &["reserved error name \"States.Runtime\"", "pretending"],
    );
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

#[test]
fn whole_numbers_are_compared_as_javascript_writes_them() {
    let rust = "{\"price\": 5.0,\n \"x\": 64.97, \"y\": [10.05, 100.0], \"url\": \"http://127.0.0.1:9/\", \"v\": \"v 1.0\"}";
    let js = "{\"price\": 5,\n \"x\": 64.97, \"y\": [10.05, 100], \"url\": \"http://127.0.0.1:9/\", \"v\": \"v 1.0\"}";
    assert_eq!(whole_numbers_as_js_writes_them(rust), js);
}
