//! The API table (`--api`): the workflow through `stepwasm serve`'s HTTP API,
//! as the AWS SDKs call it (AWS JSON 1.0, `POST /`), against the same
//! workflow run in this process.
//!
//! The `stepwasm` binary is started as a child process on a fresh store in a
//! temporary directory, listening on a free port of 127.0.0.1; the workflow
//! is created in it twice, as an EXPRESS and as a STANDARD state machine. Then
//! `clients` clients, each on one keep-alive HTTP/1.1 connection and all on one
//! thread of this process, call for a fixed time:
//! - StartSyncExecution (EXPRESS: run to its end in `serve`, nothing stored),
//!   every response's status and output checked against the in-process run of
//!   the same input;
//! - StartExecution (STANDARD: journaled, acknowledged once on disk, then run
//!   by `serve`'s host in the background); afterwards the bench waits until
//!   none is RUNNING, checks that none failed and that a sample ended with the
//!   in-process output, and reports the rate at which they were finished too.
//!
//! The clients and `serve` share the machine's cores, as a load generator on
//! the same host does.

use crate::measure::{micros, Stats};
use anyhow::{anyhow, bail, Context as _, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use stepwasm::engine::Outcome;
use stepwasm::store::ExecutionStatus;

/// What the API table runs.
pub(crate) struct ApiBench<'a> {
    /// The `stepwasm` binary.
    pub(crate) stepwasm: &'a Path,
    pub(crate) definition: &'a Path,
    pub(crate) config: Option<PathBuf>,
    /// Each input as JSON text, with the outcome of its in-process run.
    pub(crate) inputs: Vec<(String, Outcome)>,
    pub(crate) clients: usize,
    pub(crate) seconds: f64,
}

/// The rows of the table: StartSyncExecution, StartExecution accepted, and
/// the STANDARD executions finished.
pub(crate) struct ApiRows {
    pub(crate) sync: Stats,
    pub(crate) accepted: Stats,
    /// STANDARD executions started and how long from the first start until
    /// none was RUNNING.
    pub(crate) finished: (usize, Duration),
}

impl ApiBench<'_> {
    /// Starts `serve`, creates the state machines and measures both actions.
    pub(crate) fn run(&self) -> Result<ApiRows> {
        let serve = Serve::start(self.stepwasm, self.config.as_deref())?;
        let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        tokio.block_on(async {
            let definition =
                std::fs::read_to_string(self.definition).with_context(|| format!("cannot read {}", self.definition.display()))?;
            let mut admin = connect(&serve.addr).await?;
            let express = create_machine(&mut admin, "bench-express", "EXPRESS", &definition).await?;
            let standard = create_machine(&mut admin, "bench-standard", "STANDARD", &definition).await?;

            let sync = |client: usize, n: usize| {
                let (input, _) = &self.inputs[n % self.inputs.len()];
                (json!({"stateMachineArn": express, "input": input, "name": format!("sync-{client}-{n}")}).to_string(), n)
            };
            self.phase(&serve.addr, Duration::from_millis(500), "StartSyncExecution", &sync, &|n, answer| self.check_sync(n, answer))
                .await?;
            let sync_stats = self
                .phase(&serve.addr, Duration::from_secs_f64(self.seconds), "StartSyncExecution", &sync, &|n, answer| {
                    self.check_sync(n, answer)
                })
                .await?;

            let start = |client: usize, n: usize| {
                let (input, _) = &self.inputs[n % self.inputs.len()];
                (json!({"stateMachineArn": standard, "input": input, "name": format!("std-{client}-{n}")}).to_string(), n)
            };
            let accepted_since = Instant::now();
            let accepted = self
                .phase(&serve.addr, Duration::from_secs_f64(self.seconds), "StartExecution", &start, &|_, answer| match answer
                    .get("executionArn")
                {
                    Some(Value::String(_)) => Ok(()),
                    _ => bail!("StartExecution answered without an executionArn: {answer}"),
                })
                .await?;
            // A connection of its own: `serve` closes one idle for longer
            // than its header timeout, as the admin connection has been.
            let finished = self.wait_finished(&serve.addr, &standard, accepted.executions, accepted_since).await?;
            Ok(ApiRows { sync: sync_stats, accepted, finished })
        })
    }

    /// Runs `self.clients` clients for `budget`, each calling `action` with
    /// the body `request(client, n)` makes (n counts that client's calls, from
    /// `client`, stepping by the number of clients) and checking each answer.
    async fn phase(
        &self,
        addr: &str,
        budget: Duration,
        action: &str,
        request: &dyn Fn(usize, usize) -> (String, usize),
        check: &dyn Fn(usize, &Value) -> Result<()>,
    ) -> Result<Stats> {
        let mut connections = Vec::new();
        for _ in 0..self.clients {
            connections.push(connect(addr).await?);
        }
        let start = Instant::now();
        let lanes = connections.into_iter().enumerate().map(|(client, mut sender)| async move {
            let mut latencies = Vec::new();
            let mut n = client;
            while start.elapsed() < budget {
                let (body, input) = request(client, n);
                let t = Instant::now();
                let answer = call(&mut sender, action, body).await?;
                latencies.push(t.elapsed());
                check(input, &answer)?;
                n += self.clients;
            }
            Ok::<_, anyhow::Error>(latencies)
        });
        let mut all = Vec::new();
        for lane in futures_util::future::join_all(lanes).await {
            all.extend(lane?);
        }
        let elapsed = start.elapsed();
        if all.is_empty() {
            bail!("no {action} call finished within {budget:?}");
        }
        Ok(Stats::from_latencies(all, elapsed))
    }

    /// A StartSyncExecution answer ended as the in-process run of its input.
    fn check_sync(&self, n: usize, answer: &Value) -> Result<()> {
        let (_, expected) = &self.inputs[n % self.inputs.len()];
        check_outcome(answer, expected).with_context(|| format!("StartSyncExecution of input {}", n % self.inputs.len()))
    }

    /// Waits until no STANDARD execution is RUNNING; checks none failed and a
    /// sample's outputs. Returns how many there were and how long from the
    /// first start.
    async fn wait_finished(&self, addr: &str, standard: &str, started: usize, since: Instant) -> Result<(usize, Duration)> {
        let admin = &mut connect(addr).await?;
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let running =
                call(admin, "ListExecutions", json!({"stateMachineArn": standard, "statusFilter": "RUNNING", "maxResults": 1}).to_string())
                    .await?;
            if running["executions"].as_array().is_some_and(|list| list.is_empty()) {
                break;
            }
            if Instant::now() > deadline {
                bail!("STANDARD executions still RUNNING 600 s after they were started");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let elapsed = since.elapsed();
        let expected_statuses: Vec<&str> = self.inputs.iter().map(|(_, o)| ExecutionStatus::of(o).as_str()).collect();
        for status in ["FAILED", "TIMED_OUT", "ABORTED"] {
            if expected_statuses.contains(&status) {
                continue;
            }
            let ended =
                call(admin, "ListExecutions", json!({"stateMachineArn": standard, "statusFilter": status, "maxResults": 1}).to_string())
                    .await?;
            if let Some(first) = ended["executions"].as_array().and_then(|list| list.first()) {
                bail!("a STANDARD execution ended {status}: {first}");
            }
        }
        // A sample, spread over the run: each ended as its input did in process.
        let listed = call(admin, "ListExecutions", json!({"stateMachineArn": standard, "maxResults": 1000}).to_string()).await?;
        let listed = listed["executions"].as_array().cloned().unwrap_or_default();
        for execution in listed.iter().step_by((listed.len() / 25).max(1)) {
            let arn = execution["executionArn"].as_str().ok_or_else(|| anyhow!("ListExecutions without an executionArn: {execution}"))?;
            let n: usize = arn.rsplit('-').next().and_then(|n| n.parse().ok()).ok_or_else(|| anyhow!("execution {arn} not the bench's"))?;
            let described = call(admin, "DescribeExecution", json!({"executionArn": arn}).to_string()).await?;
            let (_, expected) = &self.inputs[n % self.inputs.len()];
            check_outcome(&described, expected).with_context(|| format!("execution {arn}"))?;
        }
        Ok((started, elapsed))
    }
}

/// `answer` (StartSyncExecution's or DescribeExecution's) has `expected`'s
/// status and output (or error and cause).
fn check_outcome(answer: &Value, expected: &Outcome) -> Result<()> {
    let status = ExecutionStatus::of(expected).as_str();
    if answer["status"] != status {
        bail!("status {} where the in-process run {status}: {answer}", answer["status"]);
    }
    match expected {
        Outcome::Succeeded { output } => {
            let text = answer["output"].as_str().ok_or_else(|| anyhow!("no output: {answer}"))?;
            let got: Value = serde_json::from_str(text).with_context(|| format!("the output is not JSON: {text}"))?;
            if &got != output {
                bail!("output {got} where the in-process run gave {output}");
            }
        }
        Outcome::Failed { error, cause } | Outcome::TimedOut { error, cause } | Outcome::Aborted { error, cause } => {
            if answer["error"] != error.as_str() || answer["cause"] != cause.as_str() {
                bail!("error {} / cause {} where the in-process run failed with {error} / {cause}", answer["error"], answer["cause"]);
            }
        }
    }
    Ok(())
}

async fn create_machine(admin: &mut SendRequest<Full<Bytes>>, name: &str, kind: &str, definition: &str) -> Result<String> {
    let created = call(
        admin,
        "CreateStateMachine",
        json!({"name": name, "type": kind, "definition": definition, "roleArn": "arn:aws:iam::123456789012:role/bench"}).to_string(),
    )
    .await?;
    created["stateMachineArn"].as_str().map(str::to_string).ok_or_else(|| anyhow!("CreateStateMachine answered {created}"))
}

/// One keep-alive HTTP/1.1 connection to `addr`.
async fn connect(addr: &str) -> Result<SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(addr).await.with_context(|| format!("cannot connect to serve at {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

/// Calls `action` with `body` and returns the answer; anything but 200 is an error.
async fn call(sender: &mut SendRequest<Full<Bytes>>, action: &str, body: String) -> Result<Value> {
    let request = hyper::Request::post("/")
        .header("host", "127.0.0.1")
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", format!("AWSStepFunctions.{action}"))
        .body(Full::new(Bytes::from(body)))?;
    sender.ready().await.with_context(|| format!("{action}: the connection closed"))?;
    let response = sender.send_request(request).await.with_context(|| format!("{action}: no answer"))?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    let answer: Value = serde_json::from_slice(&bytes).with_context(|| format!("{action}: the answer is not JSON"))?;
    if status != hyper::StatusCode::OK {
        bail!("{action} answered {status}: {answer}");
    }
    Ok(answer)
}

/// `stepwasm serve` on a fresh store, killed (and its directory removed) when dropped.
struct Serve {
    child: Child,
    addr: String,
    dir: PathBuf,
}

impl Serve {
    fn start(stepwasm: &Path, config: Option<&Path>) -> Result<Serve> {
        if !stepwasm.is_file() {
            bail!("{} not found: build it first (cargo build --release -p stepwasm), or name it with --stepwasm", stepwasm.display());
        }
        let dir = std::env::temp_dir().join(format!("stepwasm-bench-api-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let mut command = Command::new(stepwasm);
        command.arg("serve").arg("--store").arg(dir.join("store.sqlite")).args(["--listen", "127.0.0.1:0"]);
        if let Some(config) = config {
            command.arg("--config").arg(config);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {}", stepwasm.display()))?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("serve's stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let mut serve = Serve { child, addr: String::new(), dir };
        for line in lines.by_ref() {
            let line = line?;
            if let Some(addr) = line.split("api listening on http://").nth(1) {
                serve.addr = addr.trim().to_string();
                break;
            }
        }
        if serve.addr.is_empty() {
            bail!("serve ended without listening (its errors are above)");
        }
        // Keep reading, so that serve never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Ok(serve)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Prints the table: the in-process rates first, then the API's against them.
pub(crate) fn print_table(rows: &ApiRows, clients: usize, in_memory: &[(String, Stats)], durable: &(String, Stats)) {
    println!("| path | driven by | executions/s | p50 latency | p99 latency |");
    println!("|---|---|---:|---:|---:|");
    for (driven_by, stats) in in_memory.iter().chain([durable]) {
        println!(
            "| in process (`run_execution`) | {driven_by} | {:.0} | {} | {} |",
            stats.per_second(),
            micros(stats.p50),
            micros(stats.p99)
        );
    }
    let row = |path: &str, stats: &Stats| {
        println!("| {path} | {clients} keep-alive clients | {:.0} | {} | {} |", stats.per_second(), micros(stats.p50), micros(stats.p99))
    };
    row("HTTP StartSyncExecution (EXPRESS)", &rows.sync);
    row("HTTP StartExecution accepted (STANDARD, on disk)", &rows.accepted);
    let (started, took) = rows.finished;
    let finished = started as f64 / took.as_secs_f64();
    println!("| STANDARD executions finished by serve (from the first start) | serve's host | {finished:.0} | — | — |");
    println!();
    for (driven_by, stats) in in_memory {
        println!(
            "StartSyncExecution over HTTP is {:.0} % of the in-process rate ({driven_by})",
            100.0 * rows.sync.per_second() / stats.per_second()
        );
    }
    let (driven_by, stats) = durable;
    println!(
        "STANDARD executions through the API finished at {:.0} % of the in-process rate ({driven_by})",
        100.0 * finished / stats.per_second()
    );
}
