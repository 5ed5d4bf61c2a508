//! The whole hostile corpus fired at one running `serve` through its API
//! (issue 13), while a well-behaved tenant works beside it: compile bombs,
//! definitions that grow values without bound, CPU-heavy evaluations and
//! TestState calls, uploads that try to escape their grants, a module that
//! reads kv keys without end or claims a `States.` error, and floods of idle
//! and slowloris connections from other addresses. Every attack gets its
//! exact outcome; the tenant's API calls and executions stay prompt
//! (bounds loose enough for a loaded 2-core machine); the host never dies and
//! its peak resident memory stays under [`PEAK_RSS_BOUND_KIB`].

use crate::support::bombs::{fan_out_bomb, nesting_bomb, status_kib};
use crate::support::{guest_dir, root, scratch, ApiServer};
use serde_json::{json, Value};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const ROLE: &str = "arn:aws:iam::000000000000:role/stepwasm";
const NOTIFY: &str = "arn:aws:lambda:us-east-1:123456789012:function:Notify";
const HOSTILE: &str = "arn:aws:lambda:us-east-1:123456789012:function:Hostile";
const READER: &str = "arn:aws:lambda:us-east-1:123456789012:function:Reader";

/// The README's documented bound on `serve`'s peak RSS under this corpus.
const PEAK_RSS_BOUND_KIB: u64 = 1 << 20;
/// The slowest a tenant's API call may be answered during the attacks.
const CALL_BOUND: Duration = Duration::from_secs(2);
/// The slowest a tenant's execution (start to SUCCEEDED) may be.
const EXECUTION_BOUND: Duration = Duration::from_secs(5);

/// What the well-behaved tenant saw.
#[derive(Default)]
struct Tenant {
    executions: usize,
    slowest_call: (Duration, String),
    slowest_execution: Duration,
}

impl Tenant {
    fn call(&mut self, server: &ApiServer, target: &str, params: Value) -> Value {
        let started = Instant::now();
        let answer = server.ok(target, params);
        let took = started.elapsed();
        if took > self.slowest_call.0 {
            self.slowest_call = (took, target.to_string());
        }
        answer
    }

    /// One order-like execution: a Pass, a real module, an end.
    fn run_one(&mut self, server: &ApiServer, machine: &str, n: usize) {
        let started = Instant::now();
        let input = json!({"kind": "order-confirmed", "orderId": format!("T-{n}"), "customer": {"name": "Ada", "email": "ada@example.com"}, "amount": n});
        let arn = self.call(
            server,
            "AWSStepFunctions.StartExecution",
            json!({"stateMachineArn": machine, "name": format!("tenant-{n}"), "input": input.to_string()}),
        )["executionArn"]
            .as_str()
            .unwrap()
            .to_string();
        loop {
            let described = self.call(server, "AWSStepFunctions.DescribeExecution", json!({"executionArn": arn}));
            match described["status"].as_str() {
                Some("RUNNING") => std::thread::sleep(Duration::from_millis(20)),
                Some("SUCCEEDED") => break,
                _ => panic!("the tenant's execution did not succeed: {described}"),
            }
        }
        self.slowest_execution = self.slowest_execution.max(started.elapsed());
        self.executions += 1;
        self.call(server, "AWSStepFunctions.ListStateMachines", json!({}));
    }
}

/// Ends the tenant's loop when dropped, so a failed assertion among the
/// attacks ends the test instead of leaving the tenant running.
struct StopWhenDropped<'a>(&'a AtomicBool);

impl Drop for StopWhenDropped<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

fn create(server: &ApiServer, name: &str, definition: &Value) -> String {
    let created =
        server.ok("AWSStepFunctions.CreateStateMachine", json!({"name": name, "definition": definition.to_string(), "roleArn": ROLE}));
    created["stateMachineArn"].as_str().unwrap().to_string()
}

fn start(server: &ApiServer, machine: &str, name: &str, input: &Value) -> String {
    server.start_execution(machine, name, &input.to_string())
}

/// A PutTaskResource that must be refused: (error code, message).
fn refused_upload(server: &ApiServer, params: Value) -> (String, String) {
    let (status, body) = server.call("Stepwasm.PutTaskResource", &params);
    assert_eq!(status, 400, "{params:.200}: {body}");
    (body["__type"].as_str().unwrap().to_string(), body["message"].as_str().unwrap().to_string())
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Opens `count` connections from `source` to `to`; each sends `first`
/// (nothing: an idle flood; the start of a request: a slowloris). Refused or
/// cut connections are simply not kept.
async fn flood(source: Ipv4Addr, to: SocketAddr, count: usize, first: &'static [u8]) -> Vec<tokio::net::TcpStream> {
    use tokio::io::AsyncWriteExt;
    let mut held = Vec::new();
    for _ in 0..count {
        let Ok(socket) = tokio::net::TcpSocket::new_v4() else { break };
        if socket.bind(SocketAddr::from((source, 0))).is_err() {
            break;
        }
        if let Ok(Ok(mut stream)) = tokio::time::timeout(Duration::from_secs(2), socket.connect(to)).await {
            if stream.write_all(first).await.is_ok() {
                held.push(stream);
            }
        }
    }
    held
}

fn raise_own_fd_limit() {
    // SAFETY: plain getrlimit/setrlimit on this process.
    unsafe {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// The hostile definitions of tests/hostile/definitions/ (each with its
/// expected outcome), started at once; their ARNs and expectations.
fn start_hostile_definitions(server: &ApiServer) -> Vec<(String, String, Value)> {
    let mut started = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(root().join("tests/hostile/definitions")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 8, "the hostile definitions are missing: {files:?}");
    for file in files {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let machine = create(server, &name, &case["definition"]);
        started.push((name.clone(), start(server, &machine, &name, &case["input"]), case["expect"].clone()));
    }
    started
}

/// CPU-heavy evaluations: a Choice of quadratic StringMatches cases over a
/// 200 KB text, and a JSONata state over its budget (also through TestState).
fn heavy_jsonata_state() -> Value {
    let fields: serde_json::Map<String, Value> =
        (0..100).map(|i| (format!("f{i}"), json!(format!("{{% $reduce([1..100000], function($a, $b) {{ $a + $b + {i} }}) %}}")))).collect();
    json!({"Type": "Pass", "QueryLanguage": "JSONata", "Output": fields, "End": true})
}

#[test]
fn the_hostile_corpus_neither_kills_nor_starves_the_host() {
    raise_own_fd_limit();
    let guests = guest_dir();
    let dir = scratch("hostile-serve");
    let config = dir.join("stepwasm.toml");
    std::fs::write(
        &config,
        format!(
            "module_dir = {:?}\n[resources.{NOTIFY:?}]\nmodule = \"notify\"\n[resources.{HOSTILE:?}]\nmodule = \"hostile\"\nfuel = 20_000_000\n",
            guests.to_str().unwrap()
        ),
    )
    .unwrap();
    let server = ApiServer::start(
        &dir.join("store.sqlite"),
        &["--config", config.to_str().unwrap(), "--cache-dir", dir.join("cache").to_str().unwrap()],
    );
    let address: SocketAddr = server.endpoint.trim_start_matches("http://").parse().unwrap();
    let tenant_machine = create(
        &server,
        "tenant",
        &json!({"StartAt": "Prepare", "States": {
            "Prepare": {"Type": "Pass", "Next": "Notify"},
            "Notify": {"Type": "Task", "Resource": NOTIFY, "End": true}}}),
    );

    let attacking = AtomicBool::new(true);
    let tenant = Mutex::new(Tenant::default());
    std::thread::scope(|s| {
        // The well-behaved tenant, all along.
        s.spawn(|| {
            let mut n = 0;
            while attacking.load(Ordering::Relaxed) {
                let mut seen = tenant.lock().unwrap();
                seen.run_one(&server, &tenant_machine, n);
                drop(seen);
                n += 1;
            }
        });

        let _stop_tenant = StopWhenDropped(&attacking);

        // Connection floods from two other addresses, held while the rest goes on.
        let io = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let idle = io.block_on(flood(Ipv4Addr::new(127, 0, 0, 2), address, 1_100, b""));
        let slow = io.block_on(flood(
            Ipv4Addr::new(127, 0, 0, 3),
            address,
            1_030,
            b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AWSStepFunctions.ListStateMachines\r\n",
        ));
        assert!(idle.len() + slow.len() > 0, "the floods opened nothing");

        // Compile bombs: refused by the pre-check, quickly.
        for (what, bytes) in [("fan-out", fan_out_bomb(6, 10)), ("nesting", nesting_bomb(5_000))] {
            let started = Instant::now();
            let (code, message) = refused_upload(&server, json!({"resource": format!("arn:bomb:{what}"), "moduleBytes": base64(&bytes)}));
            assert_eq!(code, "InvalidModule", "{what}: {message}");
            assert!(started.elapsed() < Duration::from_secs(10), "{what} took {:?}", started.elapsed());
        }

        // Uploads that try to escape their grants.
        let notify_bytes = base64(&std::fs::read(guests.join("notify.wasm")).unwrap());
        for (what, config) in [
            ("a host path", json!({"module": "/etc/passwd"})),
            ("another tenant's kv", json!({"kv": {"namespace": "inventory"}})),
            ("http anywhere", json!({"http": {"allow": [format!("{}/", server.endpoint)]}})),
            ("unbounded fuel", json!({"fuel": u64::MAX})),
            ("a year of time", json!({"timeout_seconds": 31_536_000})),
        ] {
            let mut params = json!({"resource": format!("arn:escape:{}", what.replace(' ', "-")), "config": config});
            if config.get("module").is_none() {
                params["moduleBytes"] = json!(notify_bytes);
            }
            let (code, message) = refused_upload(&server, params);
            assert_eq!(code, "ValidationException", "{what}: {message}");
        }
        let (_, message) = refused_upload(&server, json!({"resource": NOTIFY, "moduleBytes": notify_bytes}));
        assert!(message.contains("config"), "replacing the operator's resource: {message}");

        // Definitions whose values grow without bound, and heavy evaluations.
        let grown = start_hostile_definitions(&server);
        let text = json!({"text": "a".repeat(200_000)});
        let run = "a".repeat(2_000);
        let rules: Vec<Value> =
            (0..20).map(|i| json!({"Variable": "$.text", "StringMatches": format!("*{run}b{i}"), "Next": "Done"})).collect();
        let matching = create(
            &server,
            "matching",
            &json!({"StartAt": "Match", "States": {"Match": {"Type": "Choice", "Choices": rules}, "Done": {"Type": "Succeed"}}}),
        );
        let heavy_state = heavy_jsonata_state();
        let jsonata =
            create(&server, "jsonata", &json!({"QueryLanguage": "JSONata", "StartAt": "Heavy", "States": {"Heavy": heavy_state}}));
        let heavy: Vec<(String, &str)> = (0..2)
            .flat_map(|i| {
                [
                    (start(&server, &matching, &format!("matching-{i}"), &text), "States.NoChoiceMatched"),
                    (start(&server, &jsonata, &format!("jsonata-{i}"), &json!({})), "States.QueryEvaluationError"),
                ]
            })
            .collect();
        let tested: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    server.ok(
                        "AWSStepFunctions.TestState",
                        json!({"definition": heavy_jsonata_state().to_string(), "roleArn": ROLE, "input": "{}"}),
                    )
                })
            })
            .collect();

        // A module reading kv keys without end, and one claiming States.Runtime.
        let reader = wat::parse_file(root().join("tests/hostile/kv_read_many.wat")).unwrap();
        let put =
            server.ok("Stepwasm.PutTaskResource", json!({"resource": READER, "config": {"kv": true}, "moduleBytes": base64(&reader)}));
        assert!(put.to_string().contains("upload:"), "an upload's kv namespace is its own: {put}");
        let reading =
            create(&server, "reading", &json!({"StartAt": "Read", "States": {"Read": {"Type": "Task", "Resource": READER, "End": true}}}));
        let reading = start(&server, &reading, "reading", &json!({}));
        let pretending = create(
            &server,
            "pretending",
            &json!({"StartAt": "Run", "States": {
                "Run": {"Type": "Task", "Resource": HOSTILE, "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Caught"}], "End": true},
                "Caught": {"Type": "Succeed"}}}),
        );
        let pretending = start(&server, &pretending, "pretending", &json!({"mode": "fail", "error": "States.Runtime", "cause": "pretend"}));

        // Every attack ends with its own outcome.
        for (name, arn, expect) in grown {
            let described = server.wait_for_end(&arn);
            assert_eq!(described["status"], expect["status"], "{name}: {described}");
            assert_eq!(described["error"], expect["error"], "{name}: {described}");
            let cause = described["cause"].as_str().unwrap_or_default();
            assert!(cause.contains(expect["causeContains"].as_str().unwrap()), "{name}: {cause}");
        }
        for (arn, error) in heavy {
            let described = server.wait_for_end(&arn);
            assert_eq!((described["status"].as_str(), described["error"].as_str()), (Some("FAILED"), Some(error)), "{described}");
        }
        for answer in tested {
            let answer = answer.join().unwrap();
            assert_eq!(answer["error"], "States.QueryEvaluationError", "{answer}");
        }
        let described = server.wait_for_end(&reading);
        assert_eq!(described["status"], "FAILED", "{described}");
        assert!(described["cause"].as_str().unwrap().contains("kv read limit exceeded"), "{described}");
        let described = server.wait_for_end(&pretending);
        assert_eq!(described["status"], "SUCCEEDED", "a States.TaskFailed a Catch can take: {described}");

        // The floods held on all along; now let go.
        drop((idle, slow));
    });

    let seen = tenant.into_inner().unwrap();
    assert!(seen.executions >= 3, "the tenant ran only {} executions", seen.executions);
    assert!(seen.slowest_call.0 < CALL_BOUND, "the tenant's slowest call, {}, took {:?}", seen.slowest_call.1, seen.slowest_call.0);
    assert!(seen.slowest_execution < EXECUTION_BOUND, "the tenant's slowest execution took {:?}", seen.slowest_execution);
    server.ok("AWSStepFunctions.ListStateMachines", json!({}));
    let peak = status_kib(server.pid(), "VmHWM:");
    eprintln!(
        "tenant: {} executions, slowest call {:?} ({}), slowest execution {:?}; serve's peak RSS {} MiB",
        seen.executions,
        seen.slowest_call.0,
        seen.slowest_call.1,
        seen.slowest_execution,
        peak / 1024
    );
    assert!(peak < PEAK_RSS_BOUND_KIB, "serve's peak RSS was {} MiB", peak / 1024);
}
