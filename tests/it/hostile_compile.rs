//! Uploaded components are compiled in a limited worker process after a
//! structural pre-check (issue 13): compile bombs sent through
//! `Stepwasm.PutTaskResource` are refused quickly as `InvalidModule` with
//! the reason, a compile past the worker's deadline or memory limit is
//! refused without the host growing, the worker never outlives its
//! compilation (no zombie, no orphan, even when `serve` is killed), and a
//! legitimate upload still runs.
//!
//! The worker's limits are lowered for some tests with the test variables
//! `STEPWASM_COMPILE_DEADLINE_MS` and `STEPWASM_COMPILE_MEMORY_BYTES`, set
//! on the `serve` process only.

use crate::support::bombs::{fan_out_bomb, leb, nesting_bomb, status_kib};
use crate::support::{self, guest_dir, scratch, ApiServer};
use base64::Engine as _;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const NOTIFY: &str = "arn:aws:lambda:us-east-1:123456789012:function:Hello";

fn encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `bytes` with a custom section holding `nonce` appended: a component that
/// compiles the same but is new to every cache.
fn unique(bytes: &[u8], nonce: &str) -> Vec<u8> {
    let name = b"stepwasm-test-nonce";
    let mut payload = vec![name.len() as u8];
    payload.extend_from_slice(name);
    payload.extend_from_slice(nonce.as_bytes());
    let mut out = bytes.to_vec();
    out.push(0); // a custom section
    leb(&mut out, payload.len());
    out.extend_from_slice(&payload);
    out
}

/// A component whose core module has `functions` functions of `ops`
/// additions each: it passes the pre-check and takes a while to compile.
fn heavy_component(functions: usize, ops: usize) -> Vec<u8> {
    let body = "local.get 0 i32.add ".repeat(ops);
    let funcs: String = (0..functions).map(|_| format!("(func (param i32) (result i32) local.get 0 {body})")).collect();
    wat::parse_str(format!("(component (core module {funcs}))")).unwrap()
}

/// The processes whose parent is `pid` (zombies included).
fn children_of(pid: u32) -> Vec<u32> {
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // pid (comm) state ppid ...: comm may hold spaces and parentheses.
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else { continue };
        if after.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok()) == Some(pid) {
            children.push(child);
        }
    }
    children
}

fn is_worker(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).map(|c| String::from_utf8_lossy(&c).contains("__compile-worker")).unwrap_or(false)
}

/// Uploads `bytes` as `resource`; (status, error code, message, seconds taken).
fn put(server: &ApiServer, resource: &str, bytes: &[u8]) -> (u16, String, String, Duration) {
    let started = Instant::now();
    let (status, body) = server.call("Stepwasm.PutTaskResource", &json!({"resource": resource, "moduleBytes": encode(bytes)}));
    let text = |k: &str| body[k].as_str().unwrap_or_default().to_string();
    (status, text("__type"), text("message"), started.elapsed())
}

fn serve(name: &str, env: &[(&str, &str)]) -> (ApiServer, std::path::PathBuf) {
    let dir = scratch(name);
    let cache = dir.join("cache");
    let server = ApiServer::start_with_env(&dir.join("store.sqlite"), &["--cache-dir", cache.to_str().unwrap()], env);
    (server, dir)
}

/// The server still answers, and has no child process left.
fn still_serving(server: &ApiServer) {
    server.ok("Stepwasm.ListTaskResources", json!({}));
    assert_eq!(children_of(server.pid()), Vec::<u32>::new(), "serve has a child process left (a zombie or a running worker)");
}

/// Starts an execution and waits for its end; its DescribeExecution.
fn run(server: &ApiServer, machine_arn: &str, name: &str, input: Value) -> Value {
    server.run_to_end(machine_arn, name, &input.to_string())
}

#[test]
fn compile_bombs_are_refused_quickly_and_a_real_upload_still_runs() {
    let (server, _dir) = serve("compile-bombs", &[]);
    let locals = " i32".repeat(100_000);
    let bombs: Vec<(&str, Vec<u8>, &str)> = vec![
        ("fan-out", fan_out_bomb(6, 10), "core and component instances after flattening nested instantiations, more than the cap of"),
        ("nesting", nesting_bomb(5_000), "nest 17 deep"),
        ("locals", wat::parse_str(format!("(component (core module (func (local{locals}))))")).unwrap(), "locals, more than the cap of"),
        (
            "functions",
            wat::parse_str(format!("(component (core module {}))", "(func)".repeat(50_000))).unwrap(),
            "50000 functions, more than the cap of",
        ),
    ];
    for (name, bytes, reason) in &bombs {
        let (status, code, message, took) = put(&server, &format!("arn:bomb:{name}"), bytes);
        assert_eq!((status, code.as_str()), (400, "InvalidModule"), "{name}: {message}");
        assert!(message.contains("refused before compiling") && message.contains(reason), "{name}: {message}");
        // Loose: the pre-check takes milliseconds; this only catches a hang.
        assert!(took < Duration::from_secs(10), "{name} took {took:?}");
        still_serving(&server);
    }
    let listed = server.ok("Stepwasm.ListTaskResources", json!({}));
    assert_eq!(listed["resources"].as_array().map(Vec::len), Some(0), "{listed}");

    // A real guest, new to the cache, is compiled by the worker and runs.
    let notify = unique(&std::fs::read(guest_dir().join("notify.wasm")).unwrap(), "bombs");
    let (status, _, message, _) = put(&server, NOTIFY, &notify);
    assert_eq!(status, 200, "{message}");
    still_serving(&server);
    let definition = json!({"StartAt": "Tell", "States": {"Tell": {"Type": "Task", "Resource": NOTIFY, "End": true}}}).to_string();
    let created = server.ok(
        "AWSStepFunctions.CreateStateMachine",
        json!({"name": "hello", "definition": definition, "roleArn": "arn:aws:iam::000000000000:role/r"}),
    );
    let input = json!({"kind": "order-confirmed", "orderId": "A-7", "customer": {"name": "Ada", "email": "ada@example.com"}, "amount": 5});
    let described = run(&server, created["stateMachineArn"].as_str().unwrap(), "uploaded", input);
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    let output: Value = serde_json::from_str(described["output"].as_str().unwrap()).unwrap();
    assert_eq!(output["notification"]["subject"], "Order A-7 confirmed");
    still_serving(&server);
}

#[test]
fn a_compile_past_the_deadline_is_stopped_and_reaped() {
    let (server, _dir) = serve("compile-deadline", &[("STEPWASM_COMPILE_DEADLINE_MS", "50")]);
    let rss_before = status_kib(server.pid(), "VmRSS");
    let payment = unique(&std::fs::read(guest_dir().join("payment.wasm")).unwrap(), "deadline");
    let (status, code, message, took) = put(&server, "arn:slow", &payment);
    assert_eq!((status, code.as_str()), (400, "InvalidModule"), "{message}");
    assert!(message.contains("compiling the module took more than 0.05 s"), "{message}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    still_serving(&server);
    let rss_after = status_kib(server.pid(), "VmRSS");
    assert!(rss_after < rss_before + 32 * 1024, "serve grew from {rss_before} KiB to {rss_after} KiB");
}

/// The CPU limit (whole seconds) cannot be reached through the API's 1 MiB
/// bodies within the pre-check's caps, so the worker is run directly.
#[test]
fn a_compile_over_the_cpu_limit_is_refused() {
    use stepwasm::runtime::compile_worker::{self, CompileError, WorkerLimits};
    compile_worker::set_worker_program(env!("CARGO_BIN_EXE_stepwasm"));
    // Twelve functions of 80,000 additions: about 3.5 s of CPU to compile.
    let limits = WorkerLimits { cpu_seconds: 1, ..WorkerLimits::default() };
    let err = compile_worker::compile_in_worker(&heavy_component(12, 80_000), &limits).unwrap_err();
    assert!(matches!(err, CompileError::CpuTime(1)), "{err}");
    assert!(err.to_string().contains("compiling the module used more than 1 s of CPU time"), "{err}");
}

#[test]
fn a_compile_over_the_memory_limit_is_refused_without_growing_the_host() {
    // The real guests compile within about 110 MiB of address space; one
    // function of 85,000 additions (255 KB, under the pre-check's cap) needs
    // about 200 MiB.
    let limit: u64 = 140 << 20;
    let (server, _dir) = serve("compile-memory", &[("STEPWASM_COMPILE_MEMORY_BYTES", &limit.to_string())]);
    // Within the limit, a real guest still compiles.
    let notify = unique(&std::fs::read(guest_dir().join("notify.wasm")).unwrap(), "memory");
    let (status, _, message, _) = put(&server, NOTIFY, &notify);
    assert_eq!(status, 200, "{message}");
    let hwm_before = status_kib(server.pid(), "VmHWM");
    let heavy = heavy_component(1, 85_000);
    let (status, code, message, _) = put(&server, "arn:heavy", &heavy);
    assert_eq!((status, code.as_str()), (400, "InvalidModule"), "{message}");
    assert!(message.contains(&format!("used more than {} MiB of memory", limit >> 20)), "{message}");
    still_serving(&server);
    let hwm_after = status_kib(server.pid(), "VmHWM");
    assert!(hwm_after < hwm_before + 32 * 1024, "serve's peak grew from {hwm_before} KiB to {hwm_after} KiB");
}

#[test]
fn the_worker_dies_with_a_killed_serve() {
    let (server, _dir) = serve("compile-orphan", &[]);
    let pid = server.pid();
    let heavy = heavy_component(24, 8_000);
    let endpoint = server.endpoint.clone();
    let upload = std::thread::spawn(move || {
        // Ends with a connection error once serve is killed.
        let _ = ureq::post(&format!("{endpoint}/"))
            .header("X-Amz-Target", "Stepwasm.PutTaskResource")
            .send(json!({"resource": "arn:heavy", "moduleBytes": encode(&heavy)}).to_string());
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let worker = loop {
        if let Some(worker) = children_of(pid).into_iter().find(|c| is_worker(*c)) {
            break worker;
        }
        assert!(Instant::now() < deadline, "no compile worker appeared");
        std::thread::sleep(Duration::from_millis(5));
    };
    // SAFETY: signals a process this test started.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while is_worker(worker) {
        assert!(Instant::now() < deadline, "the compile worker {worker} outlived serve");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(server);
    let _ = upload.join();
}

/// The artefact the worker compiles loads into the host's engine and runs;
/// prints the time of compiling payment.wasm in-process and in the worker.
#[test]
fn worker_artefacts_run_and_cost_one_process_start() {
    use stepwasm::runtime::http::HttpGrant;
    use stepwasm::runtime::{compile_worker, Grants, Limits, ResourceSpec, WasmRuntime};
    compile_worker::set_worker_program(env!("CARGO_BIN_EXE_stepwasm"));
    let dir = scratch("compile-lib");
    let payment = dir.join("payment.wasm");
    std::fs::copy(guest_dir().join("payment.wasm"), &payment).unwrap();
    let spec = |untrusted: bool| ResourceSpec {
        module_path: payment.clone(),
        limits: Limits::default(),
        // It may call a payment gateway; the paid order names none.
        grants: Grants { kv: None, http: Some(HttpGrant::default()) },
        untrusted,
    };
    let order: Value =
        serde_json::from_str(&std::fs::read_to_string(support::root().join("examples/order/inputs/paid-order.json")).unwrap()).unwrap();
    let mut timings = Vec::new();
    for untrusted in [false, true, false, true] {
        let mut runtime = WasmRuntime::new(Limits::default().memory_bytes).unwrap();
        let started = Instant::now();
        runtime.add_resource("pay", spec(untrusted)).unwrap();
        timings.push((untrusted, started.elapsed()));
        let task = stepwasm::engine::TaskInvocation {
            resource: "pay".into(),
            input: std::sync::Arc::new(order.clone()),
            execution_id: "arn:aws:states:local:000000000000:execution:pay:t".into(),
            state_name: "Pay".into(),
            attempt: 1,
            invocation: 0,
            timeout_seconds: None,
            task_token: None,
            entered_event_id: 2,
            journaled: false,
            map_run: None,
        };
        let outcome = crate::support::block_on(runtime.invoke(&task));
        assert!(matches!(outcome, stepwasm::driver::TaskOutcome::Succeeded(_)), "untrusted={untrusted}: {outcome:?}");
    }
    for (untrusted, took) in &timings {
        println!("payment.wasm compiled {}: {took:?}", if *untrusted { "in the worker" } else { "in-process" });
    }

    // Through the cache: the worker's artefact is stored, then hit.
    let cache = dir.join("cache");
    for expected in ["Stored", "Hit"] {
        let mut runtime = WasmRuntime::new(Limits::default().memory_bytes).unwrap();
        runtime.use_cache_dir(&cache);
        runtime.add_resource("pay", spec(true)).unwrap();
        assert_eq!(format!("{:?}", runtime.cache_report()[0].1), expected);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
