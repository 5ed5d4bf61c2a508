//! The hostile-module corpus (issue 4), in one place: every way a task module
//! can misbehave, each as a real component, each asserting the exact outcome.
//!
//! * At run time a misbehaving module becomes an ordinary ASL error on its
//!   Task (`States.TaskFailed`, `States.Timeout`, `States.DataLimitExceeded`)
//!   with a cause naming what happened, and the same runtime then runs a
//!   normal execution successfully.
//! * Modules that probe the sandbox (files, sockets, environment) get nothing,
//!   and say so in their output.
//! * Files that are not task components, or that import what they were not
//!   granted, are refused when loaded, with a message located at
//!   `States.<state>.Resource`; a runtime that refused one keeps working.
//! * 10,000 hostile invocations in a row do not grow the process's memory
//!   (measured in a child process, so other tests do not disturb it; the
//!   environment test's secret is set in a child process too).
//!
//! Behaviours Rust can express use the Rust guest `modules/hostile` (built by
//! scripts/build-guests.sh); the rest are components written by hand in the
//! WebAssembly text format in `tests/hostile/*.wat` (see echo.wat for the
//! canonical-ABI boilerplate), compiled here into a scratch directory.

use crate::support::{block_on, guest_dir, one_task_machine as machine, root, run_test_alone, scratch, task_failure};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use stepwasm::asl::StateMachine;
use stepwasm::driver::{execution_info, run_execution, ExecutionRecord, VirtualClock};
use stepwasm::engine::Outcome;
use stepwasm::runtime::{ResourceMap, WasmRuntime};

/// The hand-written components, compiled from tests/hostile/<name>.wat.
const WAT_COMPONENTS: &[&str] = &[
    "echo",
    "start_loop",
    "unreachable",
    "not_utf8",
    "out_of_bounds_output",
    "grow_memory",
    "socket",
    "core_module",
    "wrong_function",
    "wrong_interface",
    "wrong_version",
    "kv_get",
    "unknown_import",
];

/// Limits: small enough to hit quickly, with a "-slow" twin of each looping
/// module that only the wall clock can stop (fuel high enough for hours).
const CONFIG: &str = r#"
[defaults]
fuel = 20_000_000
memory_mib = 16
timeout_seconds = 5

[resources."hostile"]
module = "hostile"

[resources."hostile-slow"]
module = "hostile"
fuel = 1_000_000_000_000_000
timeout_seconds = 0.3

[resources."hostile-nostd"]
module = "hostile_nostd"
fuel = 1_000_000_000   # enough to fill and read back its allocations

[resources."echo"]
module = "echo.wasm"

[resources."start-loop"]
module = "start_loop.wasm"

[resources."start-loop-slow"]
module = "start_loop.wasm"
fuel = 1_000_000_000_000_000
timeout_seconds = 0.3

[resources."unreachable"]
module = "unreachable.wasm"

[resources."not-utf8"]
module = "not_utf8.wasm"

[resources."out-of-bounds"]
module = "out_of_bounds_output.wasm"

[resources."grow-memory"]
module = "grow_memory.wasm"

[resources."socket"]
module = "socket.wasm"
"#;

/// Compiles every tests/hostile/*.wat into `dir` as <name>.wasm.
fn compile_wat_components(dir: &Path) {
    for name in WAT_COMPONENTS {
        let src = root().join(format!("tests/hostile/{name}.wat"));
        let bytes = wat::parse_file(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
        std::fs::write(dir.join(format!("{name}.wasm")), bytes).unwrap();
    }
}

/// A scratch directory holding the compiled WAT components and a
/// stepwasm.toml whose `module_dir` is where the Rust guests are.
fn module_dir(name: &str, extra_config: &str) -> (PathBuf, ResourceMap) {
    let dir = scratch(name);
    compile_wat_components(&dir);
    let text = format!("module_dir = {:?}\n{CONFIG}\n{extra_config}", guest_dir().to_str().unwrap());
    let config = dir.join("stepwasm.toml");
    std::fs::write(&config, &text).unwrap();
    let map = ResourceMap::parse(&text, &config).unwrap();
    (dir, map)
}

/// One runtime with every resource of [`CONFIG`] loaded, shared by the tests
/// (they run in parallel: misbehaving invocations overlap on purpose).
struct Corpus {
    runtime: WasmRuntime,
    dir: PathBuf,
    machines: Mutex<HashMap<String, Arc<StateMachine>>>,
}

fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let (dir, map) = module_dir("corpus", "");
        let runtime = runtime_with(
            &map,
            &[
                "hostile",
                "hostile-slow",
                "hostile-nostd",
                "echo",
                "start-loop",
                "start-loop-slow",
                "unreachable",
                "not-utf8",
                "out-of-bounds",
                "grow-memory",
                "socket",
            ],
        );
        Corpus { runtime, dir, machines: Mutex::new(HashMap::new()) }
    })
}

/// A runtime for the first resource's machine, with the others added.
fn runtime_with(map: &ResourceMap, resources: &[&str]) -> WasmRuntime {
    let mut runtime = WasmRuntime::for_machine(&machine(resources[0]), map).unwrap_or_else(|e| panic!("{e}"));
    for r in &resources[1..] {
        runtime.add_resource(r, map.resolve(r).unwrap()).unwrap_or_else(|e| panic!("{r}: {e}"));
    }
    runtime
}

fn run_on(runtime: &WasmRuntime, machine: &Arc<StateMachine>, input: Value) -> ExecutionRecord {
    block_on(run_execution(machine.clone(), execution_info("corpus", "t"), input, runtime, &VirtualClock::new(0))).unwrap()
}

impl Corpus {
    fn run(&self, resource: &str, input: Value) -> ExecutionRecord {
        let machine = self.machines.lock().unwrap().entry(resource.to_string()).or_insert_with(|| machine(resource)).clone();
        run_on(&self.runtime, &machine, input)
    }
}

/// A normal execution on `runtime` succeeds: the Rust guest and a WAT one.
fn assert_healthy_runtime(runtime: &WasmRuntime) {
    let rec = run_on(runtime, &machine("hostile"), json!({"mode": "ok"}));
    assert_eq!(rec.outcome, Outcome::Succeeded { output: json!({"fine": true}) });
    let rec = run_on(runtime, &machine("echo"), json!({"still": ["working"]}));
    assert_eq!(rec.outcome, Outcome::Succeeded { output: json!({"still": ["working"]}) });
}

/// Runs `input` on `resource`: the Task fails with `event`/`error`, a cause
/// containing every one of `cause_parts`, the execution fails with the same
/// error; then the runtime runs a normal execution. Returns the cause.
fn assert_failure(resource: &str, input: Value, event: &str, error: &str, cause_parts: &[&str]) -> String {
    let corpus = corpus();
    let rec = corpus.run(resource, input.clone());
    let (got_event, got_error, cause) = task_failure(&rec);
    eprintln!("{resource} {input}: {got_event} {got_error}: {cause}");
    assert_eq!((got_event, got_error.as_str()), (event, error), "{resource} {input}: {cause}");
    for part in cause_parts {
        assert!(cause.contains(part), "{resource} {input}: cause {cause:?} should mention {part:?}");
    }
    assert!(matches!(&rec.outcome, Outcome::Failed { error: e, cause: c } if e == error && c == &cause), "{:?}", rec.outcome);
    assert_healthy_runtime(&corpus.runtime);
    cause
}

/// Runs `input` on `resource`, which must succeed; returns its output.
fn assert_success(resource: &str, input: Value) -> Value {
    let corpus = corpus();
    let rec = corpus.run(resource, input.clone());
    let Outcome::Succeeded { output } = rec.outcome else { panic!("{resource} {input}: {:?}", rec.outcome) };
    assert_healthy_runtime(&corpus.runtime);
    output
}

// ---------------------------------------------------------------------------
// Endless work: fuel, then the wall clock.

#[test]
fn infinite_loop_runs_out_of_fuel() {
    assert_failure(
        "hostile",
        json!({"mode": "loop"}),
        "TaskFailed",
        "States.TaskFailed",
        &["module hostile.wasm: fuel limit exhausted: used all 20000000 units of fuel"],
    );
}

#[test]
fn infinite_loop_without_a_fuel_limit_hits_the_wall_clock() {
    let started = std::time::Instant::now();
    assert_failure(
        "hostile-slow",
        json!({"mode": "loop"}),
        "TaskTimedOut",
        "States.Timeout",
        &["module hostile.wasm: wall-clock limit of 0.300 s exceeded"],
    );
    assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
}

#[test]
fn loop_in_the_start_function_runs_out_of_fuel() {
    // The start function runs while the component is instantiated, before
    // `handle` exists: the invocation's fuel already applies.
    assert_failure(
        "start-loop",
        json!({}),
        "TaskFailed",
        "States.TaskFailed",
        &["module start_loop.wasm: fuel limit exhausted: used all 20000000 units of fuel"],
    );
}

#[test]
fn loop_in_the_start_function_without_a_fuel_limit_hits_the_wall_clock() {
    let started = std::time::Instant::now();
    assert_failure(
        "start-loop-slow",
        json!({}),
        "TaskTimedOut",
        "States.Timeout",
        &["module start_loop.wasm: wall-clock limit of 0.300 s exceeded"],
    );
    assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
}

// ---------------------------------------------------------------------------
// Memory and stack.

#[test]
fn unbounded_allocation_hits_the_memory_cap() {
    assert_failure(
        "hostile",
        json!({"mode": "alloc"}),
        "TaskFailed",
        "States.TaskFailed",
        &["module hostile.wasm: memory limit exceeded", "cap of 16.0 MiB"],
    );
}

#[test]
fn unbounded_memory_grow_hits_the_memory_cap() {
    // Grows one page at a time: refused exactly when the next page would pass 16 MiB.
    assert_failure(
        "grow-memory",
        json!({}),
        "TaskFailed",
        "States.TaskFailed",
        &["module grow_memory.wasm: memory limit exceeded", "tried to grow to 16.1 MiB", "cap of 16.0 MiB"],
    );
}

#[test]
fn deep_recursion_is_a_stack_overflow() {
    assert_failure(
        "hostile",
        json!({"mode": "recurse"}),
        "TaskFailed",
        "States.TaskFailed",
        &["module hostile.wasm: stack overflow (call stack exhausted)"],
    );
}

// ---------------------------------------------------------------------------
// Traps and panics.

#[test]
fn trap_in_rust_is_task_failed() {
    assert_failure(
        "hostile",
        json!({"mode": "trap"}),
        "TaskFailed",
        "States.TaskFailed",
        &["module hostile.wasm trapped: wasm trap: wasm `unreachable` instruction executed"],
    );
}

#[test]
fn unreachable_instruction_is_task_failed() {
    assert_failure(
        "unreachable",
        json!({}),
        "TaskFailed",
        "States.TaskFailed",
        &["module unreachable.wasm trapped: wasm trap: wasm `unreachable` instruction executed"],
    );
}

#[test]
fn panic_quotes_the_guest_message() {
    assert_failure(
        "hostile",
        json!({"mode": "panic"}),
        "TaskFailed",
        "States.TaskFailed",
        &[
            "module hostile.wasm trapped: wasm trap: wasm `unreachable` instruction executed",
            "the module wrote:",
            "hostile module panicked on purpose",
        ],
    );
}

// ---------------------------------------------------------------------------
// The SDK's no_std runtime: what handlers are built with by default.

/// The names a component imports at its top level (not those of the core
/// modules and components nested in it), read with wasmparser.
fn component_imports(bytes: &[u8]) -> Vec<String> {
    use wasmparser::{Parser, Payload};
    let mut imports = Vec::new();
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.unwrap() {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 0 => {
                for import in reader {
                    imports.push(import.unwrap().name.name.to_string());
                }
            }
            _ => {}
        }
    }
    imports
}

#[test]
fn no_std_components_import_nothing_of_wasi() {
    for module in ["payment", "inventory", "notify", "hostile_nostd"] {
        let path = guest_dir().join(format!("{module}.wasm"));
        let imports = component_imports(&std::fs::read(&path).unwrap());
        assert!(imports.iter().any(|i| i.starts_with("stepwasm:task/log@")), "{module}: {imports:?}");
        let others: Vec<&String> = imports.iter().filter(|i| !i.starts_with("stepwasm:task/")).collect();
        assert!(others.is_empty(), "{module} imports more than stepwasm:task: {others:?}");
    }
}

#[test]
fn no_std_panic_quotes_the_message_it_logged() {
    assert_failure(
        "hostile-nostd",
        json!({"mode": "panic", "bytes": 7}),
        "TaskFailed",
        "States.TaskFailed",
        &[
            "module hostile_nostd.wasm trapped: wasm trap: wasm `unreachable` instruction executed",
            "; the module wrote: panicked at hostile-nostd/src/lib.rs:",
            "hostile no_std module panicked on purpose (7 bytes)",
        ],
    );
}

#[test]
fn no_std_allocator_grows_memory_past_the_initial_pages() {
    // 4 MiB and a bit: 65 blocks, block k filled with k % 251 + 1, the last
    // one 1,000 bytes long; overlapping blocks would change the sum.
    let bytes: u64 = 64 * 65536 + 1000;
    let expected: u64 = (1..=64u64).map(|k| 65536 * k).sum::<u64>() + 1000 * 65;
    let output = assert_success("hostile-nostd", json!({"mode": "alloc", "bytes": bytes}));
    assert_eq!(output, json!({"blocks": 65, "checksum": expected}));
}

#[test]
fn no_std_allocation_past_the_cap_is_the_memory_limit() {
    assert_failure(
        "hostile-nostd",
        json!({"mode": "alloc", "bytes": 64u64 << 20}),
        "TaskFailed",
        "States.TaskFailed",
        &["module hostile_nostd.wasm: memory limit exceeded", "cap of 16.0 MiB"],
    );
}

// ---------------------------------------------------------------------------
// Bad output.

#[test]
fn huge_output_exceeds_the_data_limit() {
    assert_failure(
        "hostile",
        json!({"mode": "huge", "bytes": 300_000}),
        "TaskFailed",
        "States.DataLimitExceeded",
        &["task output is 300002 bytes, over the limit of 262144 bytes"],
    );
}

#[test]
fn output_that_is_not_json() {
    assert_failure(
        "hostile",
        json!({"mode": "not-json"}),
        "TaskFailed",
        "States.TaskFailed",
        &["module output is not valid JSON", "this is { not json"],
    );
}

#[test]
fn output_that_is_not_utf8_is_refused_by_the_canonical_abi() {
    assert_failure(
        "not-utf8",
        json!({}),
        "TaskFailed",
        "States.TaskFailed",
        &["module not_utf8.wasm failed: invalid utf-8 sequence of 1 bytes from index 1"],
    );
}

#[test]
fn output_pointing_outside_memory_is_refused_by_the_canonical_abi() {
    assert_failure(
        "out-of-bounds",
        json!({}),
        "TaskFailed",
        "States.TaskFailed",
        &["module out_of_bounds_output.wasm failed: string pointer/length out of bounds of memory"],
    );
}

// ---------------------------------------------------------------------------
// Probing the sandbox: the module runs, and finds nothing.

#[test]
fn reading_a_file_finds_no_filesystem() {
    let out = assert_success("hostile", json!({"mode": "read-file"}));
    // No directory is preopened: wasi-libc finds no capability for any path.
    let refused = "Capabilities insufficient (os error 76)";
    assert_eq!(out, json!({"read": false, "read_error": refused, "listed": false, "list_error": refused}));
    // Not even a file the test itself just wrote, named by its absolute path.
    let own = corpus().dir.join("stepwasm.toml");
    let out = assert_success("hostile", json!({"mode": "read-file", "path": own.to_str().unwrap()}));
    assert_eq!(out["read"], false, "{out}");
}

#[test]
fn opening_a_socket_is_refused_and_nothing_connects() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let out = assert_success("socket", json!(port));
    // wasi:sockets' error-code 1 is `access-denied`: no socket is even created.
    assert_eq!(out, json!({"created": false, "error": 1}), "error-code 1 = access-denied");
    std::thread::sleep(std::time::Duration::from_millis(100));
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the listener saw a connection attempt: {other:?}"),
    }
}

#[test]
fn environment_variables_do_not_leak_in() {
    // The host process holds a secret; changing this process's environment
    // would change every test's, so a child process of this binary has it.
    run_test_alone(module_path!(), "environment_child", &[("STEPWASM_CORPUS_SECRET", "hunter2")]);
}

/// Runs in a child process whose environment holds the secret (see above).
#[test]
#[ignore = "run by environment_variables_do_not_leak_in, in a child process"]
fn environment_child() {
    assert_eq!(std::env::var("STEPWASM_CORPUS_SECRET").as_deref(), Ok("hunter2"), "run by environment_variables_do_not_leak_in");
    assert!(std::env::var("PATH").is_ok());
    // A module must not see it, nor HOME or PATH.
    let (_dir, map) = module_dir("environment", "");
    let runtime = runtime_with(&map, &["hostile", "echo"]);
    let rec = run_on(&runtime, &machine("hostile"), json!({"mode": "env", "var": "STEPWASM_CORPUS_SECRET"}));
    let Outcome::Succeeded { output } = rec.outcome else { panic!("{:?}", rec.outcome) };
    assert_eq!(output, json!({"count": 0, "vars": [], "home": null, "path": null, "secret": null, "args": 0}));
    assert_healthy_runtime(&runtime);
}

// ---------------------------------------------------------------------------
// Refused at load time.

/// Loads `file` (bytes) as `wasm:<name>`: refused with a message located at
/// the state's Resource containing every one of `expected`; then a runtime
/// asked to add it as well refuses it and goes on running normal executions.
fn assert_refused(name: &str, bytes: &[u8], expected: &[&str]) -> String {
    let (dir, map) = module_dir(&format!("refused-{name}"), "");
    std::fs::write(dir.join(format!("{name}.wasm")), bytes).unwrap();
    let err = WasmRuntime::for_machine(&machine(&format!("wasm:{name}")), &ResourceMap::with_module_dir(&dir))
        .err()
        .unwrap_or_else(|| panic!("{name} loaded"))
        .to_string();
    eprintln!("{name}: {err}");
    assert!(err.contains("cannot load the task modules: 1 problem(s)"), "{name}: {err}");
    assert!(err.contains("\n  States.Run.Resource: "), "{name}: {err}");
    assert!(err.contains(&format!("{name}.wasm")), "{name}: {err}");
    for part in expected {
        assert!(err.contains(part), "{name}: {err:?} should mention {part:?}");
    }
    let mut runtime = runtime_with(&map, &["hostile", "echo"]);
    let spec = ResourceMap::with_module_dir(&dir).resolve(&format!("wasm:{name}")).unwrap();
    let again = runtime.add_resource("refused", spec).expect_err("added");
    for part in expected {
        assert!(again.contains(part), "{name}: {again:?} should mention {part:?}");
    }
    assert_healthy_runtime(&runtime);
    err
}

fn wat_bytes(name: &str) -> Vec<u8> {
    wat::parse_file(root().join(format!("tests/hostile/{name}.wat"))).unwrap()
}

#[test]
fn not_wasm_at_all_is_refused() {
    assert_refused("text", b"hello, I am not wasm", &["is not WebAssembly"]);
    assert_refused("empty", b"", &["is not WebAssembly"]);
    // A native executable: this very test binary.
    let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    assert_refused("elf", &exe[..4096.min(exe.len())], &["is not WebAssembly"]);
}

#[test]
fn truncated_binaries_are_refused() {
    let hostile = std::fs::read(guest_dir().join("hostile.wasm")).unwrap();
    assert_refused("half", &hostile[..hostile.len() / 2], &["is not a valid component"]);
    // The 8-byte header alone would be a valid, empty component: one byte more.
    assert_refused("header-and-a-byte", &hostile[..9], &["is not a valid component"]);
    let echo = wat_bytes("echo");
    assert_refused("one-byte-short", &echo[..echo.len() - 1], &["is not a valid component"]);
}

#[test]
fn a_core_module_instead_of_a_component_is_refused() {
    assert_refused("core_module", &wat_bytes("core_module"), &["core WebAssembly module, not a component"]);
}

#[test]
fn a_component_with_the_wrong_world_is_refused() {
    let world = "does not implement the stepwasm:task world (export stepwasm:task/handler@0.1.0)";
    // `process` instead of `handle`, in the right interface.
    assert_refused("wrong_function", &wat_bytes("wrong_function"), &[world, "handle"]);
    // The right handler under another interface name, or another version.
    assert_refused("wrong_interface", &wat_bytes("wrong_interface"), &[world]);
    assert_refused("wrong_version", &wat_bytes("wrong_version"), &[world]);
    // A valid, empty component (version 0x0d, layer 1).
    assert_refused("empty_component", b"\0asm\x0d\0\x01\0", &[world]);
}

#[test]
fn an_ungranted_import_is_refused_naming_the_grant() {
    // kv exists, but a `wasm:<name>` resource has no grants.
    assert_refused("kv_get", &wat_bytes("kv_get"), &["stepwasm:task/kv@0.1.0", "is not granted kv", "kv ="]);
    // The same component with a kv grant loads and reads its namespace: what
    // was refused above is the missing grant, not a broken component.
    let extra = r#"
[resources."kv-granted"]
module = "kv_get.wasm"
kv = { namespace = "corpus" }

[kv.seed.corpus]
secret = "granted"
"#;
    let (_dir, map) = module_dir("kv-granted", extra);
    let machine = machine("kv-granted");
    let runtime = WasmRuntime::for_machine(&machine, &map).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(run_on(&runtime, &machine, json!({})).outcome, Outcome::Succeeded { output: json!("granted") });
}

#[test]
fn an_import_no_host_provides_is_refused() {
    assert_refused("unknown_import", &wat_bytes("unknown_import"), &["acme:backdoor/door@1.0.0"]);
}

// ---------------------------------------------------------------------------
// No leaks: 10,000 hostile invocations on one runtime.

const LEAK_WARM_UP: usize = 1_000;
const LEAK_TOTAL: usize = 10_000;
/// The bound on RSS growth between the end of the warm-up and the end: 4 MiB
/// over 9,000 invocations catches any leak of about 470 bytes or more per
/// invocation (a leaked Store, instance, WASI context, stderr buffer or output
/// string is each far larger). Nothing an invocation allocates legitimately
/// outlives it: guest memories, tables and stacks are pool slots reused (and
/// decommitted) between invocations, and the largest transient host buffers
/// (the 4 KiB stderr capture, the outputs) are freed before the next one, so
/// allocator noise stays well under the bound. Measured growth: 0 KiB.
const LEAK_BOUND_KIB: u64 = 4 << 10;

/// The process's resident set size, from /proc/self/status.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS in /proc/self/status");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Runs in a child process (see below) so that no other test shares its heap.
#[test]
#[ignore = "run by ten_thousand_hostile_invocations_leak_no_memory, in a child process"]
fn leak_measurement_child() {
    let before = rss_kib();
    let (_dir, map) = module_dir(
        "leak",
        r#"
[resources."hostile-low-fuel"]
module = "hostile"
fuel = 200_000

[resources."hostile-small-memory"]
module = "hostile"
memory_mib = 2

[resources."grow-memory-small"]
module = "grow_memory.wasm"
memory_mib = 2

[resources."start-loop-low-fuel"]
module = "start_loop.wasm"
fuel = 200_000

[resources."hostile-nostd-small-memory"]
module = "hostile_nostd"
memory_mib = 2
"#,
    );
    let runtime = runtime_with(
        &map,
        &[
            "hostile",
            "hostile-low-fuel",
            "hostile-small-memory",
            "start-loop-low-fuel",
            "not-utf8",
            "grow-memory-small",
            "hostile-nostd",
            "hostile-nostd-small-memory",
            "echo",
        ],
    );
    // (machine, input, what the cause must contain), taken in turn.
    let mix: [(Arc<StateMachine>, Value, &str); 10] = [
        (machine("hostile"), json!({"mode": "trap"}), "`unreachable` instruction executed"),
        (machine("hostile-low-fuel"), json!({"mode": "loop"}), "fuel limit exhausted: used all 200000 units"),
        (machine("hostile-small-memory"), json!({"mode": "alloc"}), "memory limit exceeded"),
        (machine("hostile"), json!({"mode": "panic"}), "hostile module panicked on purpose"),
        (machine("not-utf8"), json!({}), "invalid utf-8 sequence"),
        (machine("hostile"), json!({"mode": "recurse"}), "stack overflow"),
        (machine("grow-memory-small"), json!({}), "memory limit exceeded"),
        (machine("start-loop-low-fuel"), json!({}), "fuel limit exhausted: used all 200000 units"),
        (machine("hostile-nostd"), json!({"mode": "panic"}), "hostile no_std module panicked on purpose"),
        (machine("hostile-nostd-small-memory"), json!({"mode": "alloc", "bytes": 8u64 << 20}), "memory limit exceeded"),
    ];
    let started = std::time::Instant::now();
    let mut spent = [std::time::Duration::ZERO; 10];
    let mut warm = 0;
    for i in 0..LEAK_TOTAL {
        if i == LEAK_WARM_UP {
            warm = rss_kib();
        }
        let (machine, input, expected) = &mix[i % mix.len()];
        let t = std::time::Instant::now();
        let rec = run_on(&runtime, machine, input.clone());
        spent[i % mix.len()] += t.elapsed();
        match &rec.outcome {
            Outcome::Failed { error, cause } if error == "States.TaskFailed" && cause.contains(expected) => {}
            other => panic!("invocation {i} ({input}): {other:?}"),
        }
    }
    let end = rss_kib();
    assert_healthy_runtime(&runtime);
    println!(
        "LEAK-CHECK before={before} warm-up={warm} end={end} invocations={LEAK_TOTAL} seconds={:.1} per-kind-ms={:?}",
        started.elapsed().as_secs_f64(),
        spent.map(|d| d.as_millis())
    );
}

#[test]
fn ten_thousand_hostile_invocations_leak_no_memory() {
    let stdout = run_test_alone(module_path!(), "leak_measurement_child", &[]);
    // (The harness prints the test's name on the same line, before it.)
    let line = stdout.lines().find_map(|l| l.find("LEAK-CHECK").map(|at| &l[at..])).unwrap_or_else(|| panic!("no result in:\n{stdout}"));
    let field = |name: &str| -> u64 { line.split_whitespace().find_map(|w| w.strip_prefix(&format!("{name}="))).unwrap().parse().unwrap() };
    let (warm, end) = (field("warm-up"), field("end"));
    println!(
        "RSS after {LEAK_WARM_UP} hostile invocations: {warm} KiB; after {LEAK_TOTAL}: {end} KiB; growth {} KiB ({line})",
        end as i64 - warm as i64
    );
    assert!(end < warm + LEAK_BOUND_KIB, "RSS grew from {warm} KiB to {end} KiB over {} invocations", LEAK_TOTAL - LEAK_WARM_UP);
}
