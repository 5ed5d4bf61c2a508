//! Capacity: more tasks in flight than the instance pool holds wait for an
//! instance instead of failing (issue 14), and a saturated host refuses new
//! executions with a retryable `ThrottlingException`.
//!
//! Each task is the `probe` module making one http call to a local server
//! that holds every request until the test opens its gate, then for a
//! while: so the test knows how many tasks hold an instance (the requests
//! the server holds) while the others are queued, without timing anything.
//!
//! - 600 executions on the default pool of 256: the server holds exactly 256
//!   at once while all 600 are RUNNING, then all 600 succeed.
//! - `serve --instances 32`: 75 executions, the server never sees more than
//!   32 at once, all succeed.
//! - `serve --instances 1 --max-queued 2`: once two tasks wait for the one
//!   instance, StartExecution and StartSyncExecution answer 400
//!   `ThrottlingException`, and the refused execution does not exist; once
//!   the queue drains, executions are accepted again.

use crate::support::{guest_dir, scratch, ApiServer, TestServer};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// A server whose requests each hold until the gate opens, then for `hold`
/// more; it counts requests in progress, the most at once, and all.
struct SlowServer {
    server: TestServer,
    gate: Arc<(Mutex<bool>, Condvar)>,
    in_progress: Arc<AtomicUsize>,
    most_at_once: Arc<AtomicUsize>,
    arrived: Arc<AtomicUsize>,
}

impl SlowServer {
    fn start(hold: Duration) -> SlowServer {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let (in_progress, most_at_once, arrived) =
            (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let counters = (Arc::clone(&gate), Arc::clone(&in_progress), Arc::clone(&most_at_once), Arc::clone(&arrived));
        let server = TestServer::start(move |path, _| {
            let (gate, in_progress, most_at_once, arrived) = &counters;
            let now = in_progress.fetch_add(1, Ordering::SeqCst) + 1;
            most_at_once.fetch_max(now, Ordering::SeqCst);
            arrived.fetch_add(1, Ordering::SeqCst);
            let (open, opened) = &**gate;
            drop(opened.wait_while(open.lock().unwrap(), |open| !*open).unwrap());
            std::thread::sleep(hold);
            in_progress.fetch_sub(1, Ordering::SeqCst);
            (200, json!({ "path": path }).to_string())
        });
        SlowServer { server, gate, in_progress, most_at_once, arrived }
    }

    fn open_gate(&self) {
        let (open, opened) = &*self.gate;
        *open.lock().unwrap() = true;
        opened.notify_all();
    }

    /// Waits (at most 120 s) until `n` requests are held at once.
    fn wait_for_held(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.in_progress.load(Ordering::SeqCst) < n {
            assert!(Instant::now() < deadline, "only {} requests arrived, waiting for {n}", self.in_progress.load(Ordering::SeqCst));
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// `serve` whose `probe` resource may call `server`, with `extra` arguments.
fn serve(name: &str, server: &SlowServer, extra: &[&str]) -> ApiServer {
    let dir = scratch(name);
    let config = dir.join("stepwasm.toml");
    std::fs::write(
        &config,
        format!(
            "module_dir = {:?}\n[resources.\"probe\"]\nmodule = \"probe\"\nkv = {{ namespace = \"probe\" }}\n\
             timeout_seconds = 120\nhttp = {{ allow = [\"{}\"], timeout_seconds = 120 }}\n",
            guest_dir().to_str().unwrap(),
            server.server.url("/slow/")
        ),
    )
    .unwrap();
    let mut args = vec!["--config", config.to_str().unwrap()];
    args.extend_from_slice(extra);
    ApiServer::start(&dir.join("store.sqlite"), &args)
}

/// A state machine of one Task calling the probe; its ARN.
fn create_machine(serve: &ApiServer, name: &str, kind: &str) -> String {
    let definition = json!({"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": "probe", "End": true}}});
    let created = serve.ok(
        "AWSStepFunctions.CreateStateMachine",
        json!({"name": name, "definition": definition.to_string(), "roleArn": "arn:aws:iam::000000000000:role/r", "type": kind}),
    );
    created["stateMachineArn"].as_str().unwrap().to_string()
}

/// The probe's input: one http call to the slow server.
fn fetch_input(server: &SlowServer, i: usize) -> String {
    json!({"steps": [{"fetch": {"url": server.server.url(&format!("/slow/{i}"))}}]}).to_string()
}

/// Starts executions `0..count` from `clients` threads at once; their ARNs.
fn start_all(serve: &ApiServer, server: &SlowServer, machine: &str, count: usize, clients: usize) -> Vec<String> {
    let next = AtomicUsize::new(0);
    let arns = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..clients {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= count {
                    break;
                }
                let arn = serve.start_execution(machine, &format!("e{i}"), &fetch_input(server, i));
                arns.lock().unwrap().push(arn);
            });
        }
    });
    arns.into_inner().unwrap()
}

/// The executions of `machine` with `status` (every page).
fn count_with_status(serve: &ApiServer, machine: &str, status: &str) -> usize {
    let mut count = 0;
    let mut token: Option<String> = None;
    loop {
        let mut params = json!({"stateMachineArn": machine, "statusFilter": status, "maxResults": 1000});
        if let Some(t) = &token {
            params["nextToken"] = json!(t);
        }
        let page = serve.ok("AWSStepFunctions.ListExecutions", params);
        count += page["executions"].as_array().map_or(0, Vec::len);
        match page["nextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => return count,
        }
    }
}

/// Waits for every execution to end; asserts each SUCCEEDED with the
/// server's answer.
fn assert_all_succeed(serve: &ApiServer, arns: &[String]) {
    for arn in arns {
        let described = serve.wait_for_end(arn);
        assert_eq!(described["status"], "SUCCEEDED", "{described}");
        let output: Value = serde_json::from_str(described["output"].as_str().unwrap()).unwrap();
        assert_eq!(output["results"][0]["status"], 200, "{output}");
    }
}

#[test]
fn six_hundred_io_bound_tasks_on_a_pool_of_256_all_succeed() {
    let server = SlowServer::start(Duration::from_millis(500));
    let serve = serve("capacity-600", &server, &[]);
    let machine = create_machine(&serve, "io", "STANDARD");
    let began = Instant::now();
    let arns = start_all(&serve, &server, &machine, 600, 8);
    assert_eq!(arns.len(), 600);
    // The pool is full: 256 tasks hold an instance (their requests are held),
    // and all 600 executions are in flight, none failed.
    server.wait_for_held(256);
    assert_eq!(count_with_status(&serve, &machine, "RUNNING"), 600, "every execution is in flight while the pool is full");
    let held_at = began.elapsed();
    server.open_gate();
    assert_all_succeed(&serve, &arns);
    let took = began.elapsed();
    assert_eq!(server.arrived.load(Ordering::SeqCst), 600, "each task made its call once");
    assert_eq!(server.most_at_once.load(Ordering::SeqCst), 256, "never more tasks at once than the pool holds");
    assert_eq!(count_with_status(&serve, &machine, "FAILED"), 0);
    eprintln!(
        "600 tasks of 0.5 s on 256 instances: all started and 256 held after {:.1} s; the last ended {:.1} s after the gate opened",
        held_at.as_secs_f64(),
        (took - held_at).as_secs_f64()
    );
}

#[test]
fn instances_flag_sizes_the_pool_and_the_queue() {
    let server = SlowServer::start(Duration::from_millis(100));
    let serve = serve("capacity-32", &server, &["--instances", "32"]);
    let machine = create_machine(&serve, "io", "STANDARD");
    let arns = start_all(&serve, &server, &machine, 75, 4);
    server.wait_for_held(32);
    assert_eq!(count_with_status(&serve, &machine, "RUNNING"), 75);
    server.open_gate();
    assert_all_succeed(&serve, &arns);
    assert_eq!(server.arrived.load(Ordering::SeqCst), 75);
    assert_eq!(server.most_at_once.load(Ordering::SeqCst), 32, "--instances 32: 32 tasks at once");
}

#[test]
fn a_saturated_host_answers_throttling_exception() {
    let server = SlowServer::start(Duration::ZERO);
    let serve = serve("capacity-throttle", &server, &["--instances", "1", "--max-queued", "2"]);
    let machine = create_machine(&serve, "io", "STANDARD");
    let express = create_machine(&serve, "io-sync", "EXPRESS");
    // One task holds the only instance (its request is held); the next ones
    // queue. Executions are accepted until two tasks wait, then refused.
    let mut accepted = Vec::new();
    let refused = loop {
        assert!(accepted.len() < 50, "{} executions accepted and none refused", accepted.len());
        let name = format!("e{}", accepted.len());
        let (status, body) = serve.call(
            "AWSStepFunctions.StartExecution",
            &json!({"stateMachineArn": machine, "name": name, "input": fetch_input(&server, accepted.len())}),
        );
        match status {
            200 => accepted.push(body["executionArn"].as_str().unwrap().to_string()),
            _ => break (name, status, body),
        }
        // Let serve take it in and reach its task before the next one.
        std::thread::sleep(Duration::from_millis(100));
    };
    let (name, status, body) = refused;
    assert_eq!((status, body["__type"].as_str()), (400, Some("ThrottlingException")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("Rate exceeded"), "{body}");
    assert!(accepted.len() >= 3, "refused only once two tasks wait beside the running one: {} accepted", accepted.len());
    let arn = accepted[0].replace(":e0", &format!(":{name}"));
    let (status, missing) = serve.call("AWSStepFunctions.DescribeExecution", &json!({"executionArn": arn}));
    assert_eq!((status, missing["__type"].as_str()), (400, Some("ExecutionDoesNotExist")), "a refused execution is not kept");
    let (status, body) =
        serve.call("AWSStepFunctions.StartSyncExecution", &json!({"stateMachineArn": express, "input": fetch_input(&server, 999)}));
    assert_eq!((status, body["__type"].as_str()), (400, Some("ThrottlingException")), "{body}");
    assert_eq!(server.most_at_once.load(Ordering::SeqCst), 1);

    server.open_gate();
    assert_all_succeed(&serve, &accepted);
    let again = serve.run_to_end(&machine, &name, &fetch_input(&server, 1000));
    assert_eq!(again["status"], "SUCCEEDED", "accepted again once the queue drained: {again}");
    let synced = serve.ok("AWSStepFunctions.StartSyncExecution", json!({"stateMachineArn": express, "input": fetch_input(&server, 1001)}));
    assert_eq!(synced["status"], "SUCCEEDED", "{synced}");
}

/// `serve --max-active 1` with a backlog: each drive that ends makes room for
/// the next at once. The poll is set to ten minutes, so a backlog that moved
/// only at polls (as it once did) would keep serve from exiting for hours;
/// the limit here is a hang's, not a speed's.
#[test]
fn a_backlog_moves_as_drives_end_not_at_the_next_poll() {
    use crate::support::{block_on, exit_within};
    const N: usize = 30;
    let dir = scratch("capacity-backlog");
    let store_path = dir.join("store.sqlite");
    let definition = r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#;
    {
        let store = stepwasm::store::SqliteStore::open(&store_path).unwrap();
        let machine = Arc::new(stepwasm::asl::parse_definition(definition).unwrap());
        let infos: Vec<_> = (0..N).map(|i| stepwasm::driver::execution_info("backlog", &format!("e{i}"))).collect();
        stepwasm::store::Store::put_state_machine(&store, &infos[0].state_machine_arn, "backlog", definition).unwrap();
        for (i, info) in infos.iter().enumerate() {
            let started = stepwasm::driver::start_execution(
                Arc::clone(&machine),
                info.clone(),
                json!({"i": i}),
                &stepwasm::driver::SystemClock,
                &store,
            );
            block_on(started).unwrap();
        }
    }
    let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_stepwasm"))
        .args(["serve", "--store", store_path.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .args(["--max-active", "1", "--poll-ms", "600000", "--exit-when-idle"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let status =
        exit_within(&mut serve, Duration::from_secs(60)).expect("serve drives its backlog of 30 to the end without waiting for polls");
    assert!(status.success(), "{status:?}");
    let store = stepwasm::store::SqliteStore::open(&store_path).unwrap();
    let succeeded = stepwasm::store::Store::executions(&store, Some(stepwasm::store::ExecutionStatus::Succeeded)).unwrap();
    assert_eq!(succeeded.len(), N);
    let _ = std::fs::remove_dir_all(&dir);
}
