//! The capabilities a resource can be granted (kv, http, log) and their
//! limits, exercised through the `probe` test module (modules/probe), which
//! does exactly what its input script says.
//!
//! - kv: writes are committed only when the task succeeds (a failed, retried,
//!   timed-out or out-of-fuel attempt leaves nothing), reads see the
//!   invocation's own writes, namespaces are separate, a SQLite file keeps
//!   them between runtimes, and a corrupt file is refused at load.
//! - http: only granted URL prefixes are reached (a real server on 127.0.0.1
//!   counts what arrives), under the grant's timeout and response cap, and at
//!   most `max_http_calls` times per invocation.
//! - A module importing a capability its resource was not granted is refused
//!   at load, naming the import and the grant.

use crate::support::{self, block_on, guest_dir, run_test_alone, scratch, TestServer, PROBE_RESOURCES};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use stepwasm::asl::{parse_definition, StateMachine};
use stepwasm::driver::{execution_info, run_execution, ExecutionRecord, VirtualClock};
use stepwasm::engine::{EventKind, Outcome};
use stepwasm::runtime::{ResourceMap, WasmRuntime};

/// A task running `resource`, retried on `NotYet` (the virtual clock makes
/// the interval instant).
fn machine(resource: &str, timeout_seconds: Option<u64>) -> Arc<StateMachine> {
    let mut task = json!({
        "Type": "Task", "Resource": resource, "End": true,
        "Retry": [{"ErrorEquals": ["NotYet"], "IntervalSeconds": 1, "MaxAttempts": 3}]
    });
    if let Some(t) = timeout_seconds {
        task["TimeoutSeconds"] = json!(t);
    }
    let def = json!({"StartAt": "Probe", "States": {"Probe": task}});
    Arc::new(parse_definition(&def.to_string()).unwrap())
}

fn config(body: &str) -> ResourceMap {
    let dir = guest_dir();
    let text = format!("module_dir = {:?}\n{body}", dir.to_str().unwrap());
    ResourceMap::parse(&text, &dir.join("capabilities-test.toml")).unwrap()
}

fn runtime(machine: &StateMachine, map: &ResourceMap) -> WasmRuntime {
    WasmRuntime::for_machine(machine, map).unwrap_or_else(|e| panic!("{e}"))
}

fn run(machine: &Arc<StateMachine>, runtime: &WasmRuntime, steps: Value) -> ExecutionRecord {
    let input = json!({ "steps": steps });
    block_on(run_execution(machine.clone(), execution_info("probe", "t"), input, runtime, &VirtualClock::new(0))).unwrap()
}

fn output(rec: &ExecutionRecord) -> Value {
    match &rec.outcome {
        Outcome::Succeeded { output } => output["results"].clone(),
        other => panic!("expected success, got {other:?}"),
    }
}

/// (error, cause) of a failed execution.
fn failure(rec: &ExecutionRecord) -> (String, String) {
    match &rec.outcome {
        Outcome::Failed { error, cause } | Outcome::TimedOut { error, cause } => (error.clone(), cause.clone()),
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn committed(runtime: &WasmRuntime, namespace: &str) -> Vec<(String, String)> {
    runtime.kv_store().expect("a kv grant opens the store").entries(namespace).unwrap()
}

/// The probe's two resources (see [`PROBE_RESOURCES`]).
const KV: &str = PROBE_RESOURCES;

#[test]
fn a_journaled_attempt_run_again_after_a_crash_keeps_its_output_and_applies_its_writes_once() {
    use stepwasm::driver::TaskOutcome;
    let m = machine("probe", None);
    let rt = runtime(&m, &config(KV));
    let attempt = |entered_event_id: u64, journaled: bool| stepwasm::engine::TaskInvocation {
        resource: "probe".into(),
        input: Arc::new(json!({"steps": [{"incr": "n"}]})),
        execution_id: "arn:aws:states:local:000000000000:execution:probe:t".into(),
        state_name: "Probe".into(),
        attempt: 1,
        invocation: 0,
        timeout_seconds: None,
        task_token: None,
        entered_event_id,
        journaled,
        map_run: None,
    };
    let counted = |n: u64| TaskOutcome::Succeeded(json!({"results": [n]}));
    // A resumed driver runs the attempt again when a crash lost its recorded
    // success: the commit's record gives back the output; nothing is redone.
    assert_eq!(block_on(rt.invoke(&attempt(2, true))), counted(1));
    assert_eq!(block_on(rt.invoke(&attempt(2, true))), counted(1));
    assert_eq!(committed(&rt, "probe"), [("n".to_string(), "1".to_string())]);
    // Another entry into the state is another invocation.
    assert_eq!(block_on(rt.invoke(&attempt(9, true))), counted(2));
    // Without a journal nothing is recorded: each run applies its writes.
    assert_eq!(block_on(rt.invoke(&attempt(2, false))), counted(3));
    assert_eq!(block_on(rt.invoke(&attempt(2, false))), counted(4));
}

#[test]
fn a_retried_task_applies_its_writes_once() {
    let m = machine("probe", None);
    let rt = runtime(&m, &config(KV));
    // Attempt 1 increments, then fails: its write is discarded. Attempt 2
    // increments from the committed value and succeeds.
    let rec = run(&m, &rt, json!([{"incr": "count"}, {"fail_before_attempt": 2}]));
    assert_eq!(output(&rec), json!([1, 2]));
    let attempts = rec.history.iter().filter(|e| matches!(e.kind, EventKind::TaskStarted { .. })).count();
    assert_eq!(attempts, 2);
    assert_eq!(committed(&rt, "probe"), vec![("count".to_string(), "1".to_string())]);
}

#[test]
fn failed_timed_out_and_exhausted_attempts_leave_nothing() {
    let m = machine("probe", None);
    let map = config(KV);
    let mut rt = runtime(&m, &map);
    let (error, _) = failure(&run(&m, &rt, json!([{"set": ["a", "1"]}, {"fail": "Boom"}])));
    assert_eq!(error, "Boom");
    let (error, cause) = failure(&run(&m, &rt, json!([{"set": ["b", "1"]}, {"spin": true}])));
    assert_eq!(error, "States.TaskFailed");
    assert!(cause.contains("fuel limit exhausted"), "{cause}");
    let slow = machine("probe-slow", Some(1));
    rt.add_resource("probe-slow", map.resolve("probe-slow").unwrap()).unwrap();
    let (error, cause) = failure(&run(&slow, &rt, json!([{"set": ["c", "1"]}, {"spin": true}])));
    assert_eq!(error, "States.Timeout", "{cause}");
    // Output that is not accepted discards the writes too: none of a, b, c.
    assert_eq!(committed(&rt, "probe"), vec![]);
    // And the same runtime commits the next successful attempt.
    assert_eq!(output(&run(&m, &rt, json!([{"set": ["d", "4"]}]))), json!(["ok"]));
    assert_eq!(committed(&rt, "probe"), vec![("d".to_string(), "4".to_string())]);
}

#[test]
fn reads_see_own_writes_and_namespaces_are_separate() {
    let m = machine("probe", None);
    let map = config(&format!(
        "{KV}\n[resources.\"other\"]\nmodule = \"probe\"\nkv = {{ namespace = \"other\" }}\n\
         http = {{ allow = [\"http://127.0.0.1:9/unused/\"] }}\n\n[kv.seed.probe]\n\"seeded\" = {{ units = 3 }}\n"
    ));
    let mut rt = runtime(&m, &map);
    rt.add_resource("other", map.resolve("other").unwrap()).unwrap();
    let rec = run(
        &m,
        &rt,
        json!([
            {"get": "seeded"}, {"set": ["k", "v1"]}, {"get": "k"}, {"delete": "seeded"}, {"get": "seeded"},
            {"set": ["", "x"]}
        ]),
    );
    assert_eq!(
        output(&rec),
        json!([{"value": "{\"units\":3}"}, "ok", {"value": "v1"}, "ok", {"value": null}, {"error": "the empty key is not allowed"}])
    );
    let other = machine("other", None);
    assert_eq!(output(&run(&other, &rt, json!([{"get": "k"}]))), json!([{"value": null}]));
    assert_eq!(committed(&rt, "probe"), vec![("k".to_string(), "v1".to_string())]);
}

#[test]
fn a_kv_file_keeps_writes_between_runtimes_and_a_corrupt_one_is_refused() {
    let dir = scratch("kv-file");
    let m = machine("probe", None);
    let body = format!("{KV}\n[kv]\npath = {:?}\n[kv.seed.probe]\ncount = 10\n", dir.join("kv.sqlite").to_str().unwrap());
    {
        let rt = runtime(&m, &config(&body));
        assert_eq!(output(&run(&m, &rt, json!([{"incr": "count"}]))), json!([11]));
    }
    // A second runtime (a restart) sees the committed value; the seed does
    // not overwrite it.
    let rt = runtime(&m, &config(&body));
    assert_eq!(output(&run(&m, &rt, json!([{"incr": "count"}]))), json!([12]));
    drop(rt);

    let junk = dir.join("junk.sqlite");
    std::fs::write(&junk, vec![0x5a; 8192]).unwrap();
    let body = format!("{KV}\n[kv]\npath = {:?}\n", junk.to_str().unwrap());
    let err = WasmRuntime::for_machine(&m, &config(&body)).err().expect("a corrupt store is refused").to_string();
    assert!(err.contains("junk.sqlite") && err.contains("not a database"), "{err}");
    assert_eq!(std::fs::read(&junk).unwrap(), vec![0x5a; 8192], "the file is left untouched");
}

#[test]
fn an_ungranted_import_is_refused_at_load_naming_the_import_and_the_grant() {
    let m = machine("probe", None);
    let err = WasmRuntime::for_machine(&m, &config("[resources.\"probe\"]\nmodule = \"probe\"\n"))
        .err()
        .expect("probe imports kv and http")
        .to_string();
    assert!(err.contains("States.Probe.Resource"), "{err}");
    assert!(err.contains("imports stepwasm:task/kv@0.1.0"), "{err}");
    assert!(err.contains("not granted kv") && err.contains("kv = { namespace"), "{err}");
    assert!(err.contains("imports stepwasm:task/http@0.1.0") && err.contains("http = { allow"), "{err}");

    let kv_only = "[resources.\"probe\"]\nmodule = \"probe\"\nkv = { namespace = \"p\" }\n";
    let err = WasmRuntime::for_machine(&m, &config(kv_only)).err().expect("probe imports http too").to_string();
    assert!(err.contains("imports stepwasm:task/http@0.1.0") && !err.contains("not granted kv"), "{err}");

    // The short form has no grants at all; the message says how to give some.
    let short = machine("wasm:probe", None);
    let err = WasmRuntime::for_machine(&short, &config("")).err().unwrap().to_string();
    assert!(err.contains("map the resource in stepwasm.toml"), "{err}");
}

/// The gateway of these tests: `/ok/...` echoes the path and body as JSON,
/// `/big/...` answers a 64 KiB body, `/slow/...` waits 3 s first.
fn gateway() -> TestServer {
    TestServer::start(|path, body| {
        if path.starts_with("/slow/") {
            std::thread::sleep(std::time::Duration::from_secs(3));
            (200, "late".into())
        } else if path.starts_with("/big/") {
            (200, "x".repeat(64 << 10))
        } else {
            (200, json!({"path": path, "echo": body}).to_string())
        }
    })
}

fn http_config(gw: &TestServer, extra: &str) -> ResourceMap {
    config(&format!(
        "[resources.\"probe\"]\nmodule = \"probe\"\nkv = {{ namespace = \"probe\" }}\n\
         http = {{ allow = [\"{}\", \"{}\", \"{}\"], timeout_seconds = 1, max_response_kib = 16 }}\n{extra}",
        gw.url("/ok/"),
        gw.url("/big/"),
        gw.url("/slow/")
    ))
}

#[test]
fn http_reaches_only_granted_prefixes() {
    let gw = gateway();
    let m = machine("probe", None);
    let rt = runtime(&m, &http_config(&gw, ""));
    let results = output(&run(
        &m,
        &rt,
        json!([
            {"fetch": {"url": gw.url("/ok/charge"), "method": "POST", "body": "{\"amount\":5}"}},
            {"fetch": {"url": gw.url("/admin/")}},
            {"fetch": {"url": gw.url("/okay")}},
            {"fetch": {"url": format!("http://localhost:{}/ok/", gw.port)}},
            {"fetch": {"url": format!("http://127.0.0.1:{}@127.0.0.1:{}/ok/", gw.port, gw.port)}},
            {"fetch": {"url": "file:///etc/passwd"}}
        ]),
    ));
    assert_eq!(results[0]["status"], 200);
    let body: Value = serde_json::from_str(results[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body, json!({"path": "/ok/charge", "echo": "{\"amount\":5}"}));
    for (i, word) in [
        (1, "not in this resource's http grant"),
        (2, "not in this resource's http grant"),
        (3, "not in this resource's http grant"),
        (4, "user name"),
        (5, "only http"),
    ] {
        let err = results[i]["error"].as_str().unwrap_or_else(|| panic!("step {i}: {}", results[i]));
        assert!(err.contains(word), "step {i}: {err}");
    }
    assert_eq!(gw.seen(), vec!["/ok/charge".to_string()], "refused requests never left the host");
}

#[test]
fn http_timeout_response_cap_and_call_limit() {
    let gw = gateway();
    let m = machine("probe", None);
    let rt = runtime(&m, &http_config(&gw, "max_http_calls = 3\n"));
    let results = output(&run(
        &m,
        &rt,
        json!([
            {"fetch": {"url": gw.url("/big/")}},
            {"fetch": {"url": gw.url("/slow/")}},
        ]),
    ));
    assert!(results[0]["error"].as_str().unwrap().contains("over the limit of 16384 bytes"), "{}", results[0]);
    assert!(results[1]["error"].as_str().unwrap().contains("timed out after 1.000 s"), "{}", results[1]);

    let ok = json!({"fetch": {"url": gw.url("/ok/")}});
    let (error, cause) = failure(&run(&m, &rt, json!([ok, ok, ok, ok])));
    assert_eq!(error, "States.TaskFailed");
    assert!(cause.contains("http call limit exceeded: more than 3 requests"), "{cause}");
    assert_eq!(output(&run(&m, &rt, json!([ok])))[0]["status"], 200, "the next invocation works");
}

#[test]
fn log_volume_is_limited() {
    let gw = gateway();
    let m = machine("probe", None);
    let rt = runtime(&m, &http_config(&gw, "max_log_lines = 10\n"));
    assert_eq!(output(&run(&m, &rt, json!([{"log": 10}]))), json!([10]));
    assert_eq!(rt.take_logs().len(), 10);
    let (error, cause) = failure(&run(&m, &rt, json!([{"set": ["x", "1"]}, {"log": 11}])));
    assert_eq!(error, "States.TaskFailed");
    assert!(cause.contains("log limit exceeded: more than 10 lines"), "{cause}");
    assert_eq!(committed(&rt, "probe"), vec![], "the failed attempt's write was discarded");
    assert_eq!(output(&run(&m, &rt, json!([{"log": 1}]))), json!([1]));
}

#[test]
fn many_invocations_share_one_store_safely() {
    // Four threads increment one shared counter, and one each, through the
    // same runtime: a commit whose read went stale conflicts and the run is
    // repeated exclusively, so no increment is lost, none is applied twice,
    // and no invocation starves however often it loses the race.
    let gw = gateway();
    let m = machine("probe", None);
    let rt = Arc::new(runtime(&m, &http_config(&gw, "")));
    let done = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (rt, m, done) = (Arc::clone(&rt), m.clone(), Arc::clone(&done));
            std::thread::spawn(move || {
                for _ in 0..50 {
                    let rec = run(&m, &rt, json!([{"incr": "shared"}, {"incr": format!("t{t}")}]));
                    assert!(matches!(rec.outcome, Outcome::Succeeded { .. }), "{:?}", rec.outcome);
                    done.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(done.load(Ordering::SeqCst), 200);
    let mut expected = vec![("shared".to_string(), "200".to_string())];
    expected.extend((0..4).map(|t| (format!("t{t}"), "50".to_string())));
    assert_eq!(committed(&rt, "probe"), expected);
}

#[test]
fn the_wall_clock_is_readable_to_the_millisecond_only() {
    let m = machine("probe", None);
    let rt = runtime(&m, &config(KV));
    let steps: Vec<Value> = (0..20).map(|_| json!({"clock": true})).collect();
    for reading in output(&run(&m, &rt, json!(steps))).as_array().unwrap() {
        assert_eq!(reading["subsec_nanos"].as_u64().unwrap() % 1_000_000, 0, "{reading}");
        assert!(reading["unix_seconds"].as_u64().unwrap() > 1_700_000_000, "{reading}");
    }
}

#[test]
fn table_and_instance_caps_are_clean_task_failures() {
    let m = machine("probe", None);
    let map = config(&format!(
        "{KV}\n[resources.\"few-instances\"]\nmodule = \"probe\"\nkv = {{ namespace = \"p\" }}\n\
         http = {{ allow = [\"http://127.0.0.1:9/unused/\"] }}\nmax_instances = 1\n\
         [resources.\"small-tables\"]\nmodule = \"probe\"\nkv = {{ namespace = \"p\" }}\n\
         http = {{ allow = [\"http://127.0.0.1:9/unused/\"] }}\nmax_table_elements = 1\n"
    ));
    let mut rt = runtime(&m, &map);
    for (resource, words) in
        [("few-instances", "instance limit exceeded: it creates more than 1 instances"), ("small-tables", "table limit exceeded")]
    {
        rt.add_resource(resource, map.resolve(resource).unwrap()).unwrap();
        let (error, cause) = failure(&run(&machine(resource, None), &rt, json!([])));
        assert_eq!(error, "States.TaskFailed", "{resource}");
        assert!(cause.contains(words), "{resource}: {cause}");
    }
    assert_eq!(output(&run(&m, &rt, json!([{"get": "k"}]))), json!([{"value": null}]), "the default limits still work");
}

/// Peak and current resident set size of this process, in KiB.
fn peak_and_rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name} in /proc/self/status"));
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Far above the capped read set (10,000 keys of 1 KiB, about 11 MiB with
/// the map's overhead), far below what the uncapped one reached (1.6 GiB).
const READ_SET_RSS_BOUND_KIB: u64 = 256 << 10;

#[test]
fn reading_many_distinct_keys_ends_at_the_read_set_cap_in_bounded_memory() {
    // It measures this process's peak RSS, which the other tests of the
    // binary would raise: a child process runs it alone.
    run_test_alone(module_path!(), "read_set_child", &[]);
}

/// Runs in a child process (see above) so that no other test shares its heap.
#[test]
#[ignore = "run by reading_many_distinct_keys_ends_at_the_read_set_cap_in_bounded_memory, in a child process"]
fn read_set_child() {
    // tests/hostile/kv_read_many.wat reads distinct 1 KiB keys in a loop
    // until its fuel (the default) runs out: uncapped, every key stayed in
    // the read set.
    let dir = scratch("kv-read-many");
    std::fs::write(dir.join("kv_read_many.wasm"), wat::parse_file(support::root().join("tests/hostile/kv_read_many.wat")).unwrap())
        .unwrap();
    let map = ResourceMap::parse(
        "[resources.\"reader\"]\nmodule = \"kv_read_many.wasm\"\nkv = { namespace = \"many\" }\n",
        &dir.join("stepwasm.toml"),
    )
    .unwrap();
    let m = machine("reader", None);
    let rt = runtime(&m, &map);
    // Resets this process's peak RSS (VmHWM) to its current RSS.
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let (_, before) = peak_and_rss_kib();
    let (error, cause) = failure(&run(&m, &rt, json!([])));
    let (peak, _) = peak_and_rss_kib();
    assert_eq!(error, "States.TaskFailed");
    assert_eq!(cause, "module kv_read_many.wasm: kv read limit exceeded: more than 10,000 distinct keys read in one invocation");
    assert!(
        peak.saturating_sub(before) < READ_SET_RSS_BOUND_KIB,
        "peak RSS grew by {} KiB during the invocation (bound {READ_SET_RSS_BOUND_KIB} KiB)",
        peak.saturating_sub(before)
    );
    assert!(committed(&rt, "many").is_empty(), "a failed invocation commits nothing");
}
