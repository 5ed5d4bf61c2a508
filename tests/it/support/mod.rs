//! Helpers shared by the end-to-end tests: where things are, and running the CLI.
#![allow(dead_code)]

pub mod bombs;
pub mod order_handlers;
pub mod python;
mod site;

pub use site::Site;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Where scripts/build-guests.sh puts the components; fails clearly if unbuilt.
pub fn guest_dir() -> PathBuf {
    let dir = root().join("target/guest/wasm32-wasip2/release");
    for m in ["payment", "inventory", "notify", "hostile", "hostile_nostd", "probe"] {
        assert!(
            dir.join(format!("{m}.wasm")).is_file(),
            "{m}.wasm is missing from {}: run scripts/build-guests.sh (make test does)",
            dir.display()
        );
    }
    dir
}

/// A fresh scratch directory for one test. Every test of the binary shares
/// this process's id, so a name may be claimed once only.
pub fn scratch(name: &str) -> PathBuf {
    static CLAIMED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut claimed = CLAIMED.lock().unwrap_or_else(|e| e.into_inner());
    assert!(!claimed.iter().any(|c| c == name), "two tests use the scratch directory {name:?}: give each its own name");
    claimed.push(name.to_string());
    drop(claimed);
    let dir = std::env::temp_dir().join(format!("stepwasm-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs a future of the async library (the driver, the WASM runtime) to its
/// end on the tests' shared tokio runtime, as the CLI runs them on its own.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("the tests' tokio runtime")
        })
        .block_on(future)
}

/// Waits (up to a minute, looking every 20 ms) for `done` to hold; a test
/// failure naming `what` when it does not.
pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// `stepwasm serve --listen 127.0.0.1:0` with `args`, its output discarded
/// (for tests that kill and restart it and read the store themselves).
pub fn spawn_serve(args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_stepwasm"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// Kill -9s `serve` once per goal: each round starts it with `start()`,
/// waits (at most a minute) until `progress()` reaches the goal or `running()`
/// turns false, and kills it. Returns how many kills landed while `running()`
/// still held: a test asserts enough of them fell mid-work.
pub fn kill_at_goals(
    mut start: impl FnMut() -> std::process::Child,
    goals: impl IntoIterator<Item = usize>,
    progress: impl Fn() -> usize,
    running: impl Fn() -> bool,
) -> usize {
    let mut mid_run_kills = 0;
    for goal in goals {
        let mut child = start();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while running() && progress() < goal {
            assert!(child.try_wait().unwrap().is_none(), "serve ended by itself");
            assert!(std::time::Instant::now() < deadline, "never reached {goal}: {} done", progress());
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        if running() {
            mid_run_kills += 1;
        }
    }
    mid_run_kills
}

/// Waits up to `limit` (looking every 20 ms) for `child` to exit: its
/// status, or None once it has been killed for taking longer.
pub fn exit_within(child: &mut std::process::Child, limit: std::time::Duration) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            return Some(status);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Runs the stepwasm binary; returns (exit code, stdout, stderr).
pub fn stepwasm(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stepwasm")).args(args).current_dir(root()).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Runs the `#[ignore]`d test `name` of module `module` (its `module_path!()`)
/// alone in a child process of this test binary, with `env` added to its
/// environment; returns its stdout (the test's own output: it runs with
/// `--nocapture`) and fails if the test failed. For what measures or changes
/// the process itself (RSS, environment variables), which the other tests
/// running in this process would disturb or see.
pub fn run_test_alone(module: &str, name: &str, env: &[(&str, &str)]) -> String {
    // module_path!() starts with the crate's name; test names do not.
    let path = match module.split_once("::") {
        Some((_crate, path)) => format!("{path}::{name}"),
        None => name.to_string(),
    };
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", &path, "--ignored", "--nocapture", "--test-threads=1"])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{path} failed in its child process:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "{path} did not run in its child process:\n{stdout}\n{stderr}");
    stdout
}

/// A tiny HTTP/1.1 server on 127.0.0.1 for the http capability's tests: each
/// request is answered by `respond(path, body) -> (status, body)` on a thread
/// of its own, and every path that arrived is recorded.
pub struct TestServer {
    pub port: u16,
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl TestServer {
    pub fn start(respond: impl Fn(&str, &str) -> (u16, String) + Send + Sync + 'static) -> TestServer {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = std::sync::Arc::clone(&seen);
        let respond = std::sync::Arc::new(respond);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (log, respond) = (std::sync::Arc::clone(&log), std::sync::Arc::clone(&respond));
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() {
                        return;
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                    let mut length = 0;
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                            break;
                        }
                        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; length];
                    let _ = reader.read_exact(&mut body);
                    log.lock().unwrap().push(path.clone());
                    let (status, reply) = respond(&path, &String::from_utf8_lossy(&body));
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                        reply.len()
                    );
                });
            }
        });
        TestServer { port, seen }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The paths requested so far, in arrival order.
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// A machine of one Task state, `Run`, on `resource`.
pub fn one_task_machine(resource: &str) -> std::sync::Arc<stepwasm::asl::StateMachine> {
    let def = serde_json::json!({"StartAt": "Run", "States": {"Run": {"Type": "Task", "Resource": resource, "End": true}}});
    std::sync::Arc::new(stepwasm::asl::parse_definition(&def.to_string()).unwrap())
}

/// The task's failure event: (event type, error, cause).
pub fn task_failure(rec: &stepwasm::driver::ExecutionRecord) -> (&'static str, String, String) {
    use stepwasm::engine::EventKind;
    rec.history
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::TaskFailed { error, cause, .. } | EventKind::TaskTimedOut { error, cause, .. } => {
                Some((e.kind.type_name(), error.clone(), cause.clone()))
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no task failure in {:#?}", rec.history))
}

/// The probe test module (modules/probe) as two resources: `probe` and
/// `probe-slow` (unlimited fuel: only the wall clock stops it). The probe
/// imports kv and http, so both are granted; port 9 (discard) is never called.
pub const PROBE_RESOURCES: &str = r#"
[resources."probe"]
module = "probe"
kv = { namespace = "probe" }
http = { allow = ["http://127.0.0.1:9/unused/"] }
fuel = 50_000_000

[resources."probe-slow"]
module = "probe"
kv = { namespace = "probe" }
http = { allow = ["http://127.0.0.1:9/unused/"] }
fuel = 1_000_000_000_000_000
"#;

/// `stepwasm serve` with its HTTP API on a free port of 127.0.0.1, killed
/// when dropped. Its stdout after the API line is drained into `lines`.
pub struct ApiServer {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    child: std::process::Child,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ApiServer {
    /// Serves `store` (created on first use) with `extra_args` (e.g.
    /// `--config`, `--api-secret`); waits until the API listens.
    pub fn start(store: &Path, extra_args: &[&str]) -> ApiServer {
        ApiServer::start_with_env(store, extra_args, &[])
    }

    /// [`ApiServer::start`] with environment variables set for `serve`.
    pub fn start_with_env(store: &Path, extra_args: &[&str], env: &[(&str, &str)]) -> ApiServer {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_stepwasm"))
            .args(["serve", "--store", store.to_str().unwrap(), "--listen", "127.0.0.1:0"])
            .args(extra_args)
            .envs(env.iter().copied())
            // The tests choose the access rule themselves.
            .env_remove("STEPWASM_API_SECRET")
            .current_dir(root())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut endpoint = None;
        let mut line = String::new();
        while endpoint.is_none() {
            line.clear();
            if stdout.read_line(&mut line).unwrap() == 0 {
                let status = child.wait().unwrap();
                panic!("stepwasm serve ended ({status}) before its API listened");
            }
            endpoint = line.trim().strip_prefix("api listening on ").map(str::to_string);
        }
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        ApiServer { endpoint: endpoint.unwrap(), child, lines }
    }

    /// One API call: `target` is the whole `X-Amz-Target` (e.g.
    /// `AWSStepFunctions.ListStateMachines`); returns (HTTP status, JSON body).
    pub fn call(&self, target: &str, params: &serde_json::Value) -> (u16, serde_json::Value) {
        let config =
            ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(std::time::Duration::from_secs(60))).build();
        let mut answer = ureq::Agent::new_with_config(config)
            .post(&format!("{}/", self.endpoint))
            .header("X-Amz-Target", target)
            .header("Content-Type", "application/x-amz-json-1.0")
            .send(params.to_string())
            .unwrap_or_else(|e| panic!("{target}: {e}"));
        let status = answer.status().as_u16();
        let text = answer.body_mut().read_to_string().unwrap();
        let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{target} answered {status} with non-JSON ({e}): {text}"));
        (status, body)
    }

    /// A call that must succeed; its body.
    pub fn ok(&self, target: &str, params: serde_json::Value) -> serde_json::Value {
        let (status, body) = self.call(target, &params);
        assert_eq!(status, 200, "{target} {params}: {body}");
        body
    }

    /// A Step Functions action that must succeed (`action` without the
    /// `AWSStepFunctions.` prefix); its body.
    pub fn action(&self, action: &str, params: serde_json::Value) -> serde_json::Value {
        self.ok(&format!("AWSStepFunctions.{action}"), params)
    }

    /// Creates state machine `name` with `definition`, running as `role_arn`; its ARN.
    pub fn create_machine(&self, name: &str, definition: &serde_json::Value, role_arn: &str) -> String {
        let params = serde_json::json!({"name": name, "definition": definition.to_string(), "roleArn": role_arn});
        self.action("CreateStateMachine", params)["stateMachineArn"].as_str().unwrap().to_string()
    }

    /// Starts an execution of `machine_arn` named `name` with `input` (JSON
    /// text); its ARN.
    pub fn start_execution(&self, machine_arn: &str, name: &str, input: &str) -> String {
        let started =
            self.ok("AWSStepFunctions.StartExecution", serde_json::json!({"stateMachineArn": machine_arn, "name": name, "input": input}));
        started["executionArn"].as_str().unwrap().to_string()
    }

    /// Waits (at most 120 s) for execution `arn` to end; its DescribeExecution.
    pub fn wait_for_end(&self, arn: &str) -> serde_json::Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let described = self.ok("AWSStepFunctions.DescribeExecution", serde_json::json!({"executionArn": arn}));
            if described["status"] != "RUNNING" {
                return described;
            }
            assert!(std::time::Instant::now() < deadline, "still running after 120 s: {described}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Starts an execution and waits for its end; its DescribeExecution.
    pub fn run_to_end(&self, machine_arn: &str, name: &str, input: &str) -> serde_json::Value {
        let arn = self.start_execution(machine_arn, name, input);
        self.wait_for_end(&arn)
    }

    /// The process id of `serve`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What serve has printed since its API line (e.g. `SUCCEEDED <name>`).
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
