//! Faults of the store a host drives, end to end with real processes, files
//! and a real full disk: one driving process per store (a second `serve`,
//! `resume` or `run --store` is refused naming the holder, a killed holder
//! leaves no lock, `--wait-for-lock` waits), a disk that fills up under a
//! running `serve` and is freed again (every execution finishes, without a
//! restart, each task's kv writes applied once), and a module file missing
//! until it is restored (`--exit-when-idle` exits 1 naming what it gave up).

use crate::support::{self, block_on, root, scratch, stepwasm, wait_for, Site};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use stepwasm::engine::EventKind;
use stepwasm::store::{ExecutionStatus, Journal, SqliteStore, Store};

/// A `serve` (or any stepwasm process) whose output lines are collected as they come.
struct Host {
    child: Child,
    out: Arc<Mutex<Vec<String>>>,
    err: Arc<Mutex<Vec<String>>>,
}

impl Host {
    fn spawn(args: &[&str]) -> Host {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stepwasm"))
            .args(args)
            .env_remove("STEPWASM_API_SECRET")
            .current_dir(root())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let collect = |stream: Box<dyn std::io::Read + Send>| {
            let lines = Arc::new(Mutex::new(Vec::new()));
            let sink = Arc::clone(&lines);
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stream).lines().map_while(Result::ok) {
                    sink.lock().unwrap().push(line);
                }
            });
            lines
        };
        let out = collect(Box::new(child.stdout.take().unwrap()));
        let err = collect(Box::new(child.stderr.take().unwrap()));
        Host { child, out, err }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn output(&self) -> String {
        format!("stdout:\n{}\nstderr:\n{}", self.out.lock().unwrap().join("\n"), self.err.lock().unwrap().join("\n"))
    }

    /// Waits (at most `within`) for a line of stdout or stderr that `matches`.
    fn wait_for_line(&mut self, what: &str, within: Duration, matches: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        loop {
            let found = [&self.out, &self.err].iter().find_map(|lines| lines.lock().unwrap().iter().find(|l| matches(l)).cloned());
            if let Some(line) = found {
                return line;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100)); // the readers' last lines
                if let Some(line) = [&self.out, &self.err].iter().find_map(|l| l.lock().unwrap().iter().find(|l| matches(l)).cloned()) {
                    return line;
                }
                panic!("the process ended ({status}) before {what}\n{}", self.output());
            }
            assert!(Instant::now() < deadline, "no line for {what} within {within:?}\n{}", self.output());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (at most `within`) for the process to exit; its exit code.
    fn wait_for_exit(&mut self, within: Duration) -> i32 {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100)); // the readers' last lines
                return status.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("still running after {within:?}\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The example's notify module as a task that waits for its token, then a
/// Wait of an hour (parked).
const NOTIFY_AND_WAIT: &str = r#"{"StartAt": "Ask", "States": {
  "Ask": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:NotifyCustomerFunction.waitForTaskToken",
          "Parameters": {"kind": "order-confirmed", "orderId": "A-1", "customer": {"name": "Ada", "email": "ada@example.com"}, "amount": 5,
                         "token.$": "$$.Task.Token"},
          "ResultPath": "$.approval", "Next": "Hold"},
  "Hold": {"Type": "Wait", "Seconds": 3600, "End": true}}}"#;

#[test]
fn one_process_drives_a_store_and_a_killed_one_leaves_no_lock() {
    let site = Site::new("store-lock", "approval.asl.json", NOTIFY_AND_WAIT);
    let (def, store_arg, config_arg, cache_arg) = site.args();
    let (dir, store_path) = (&site.dir, &site.store_path);
    let (code, out, err) = stepwasm(&["start", def, "--store", store_arg, "--config", config_arg, "--name", "ask"]);
    assert_eq!(code, 0, "{out}{err}");
    let arn = out.trim().to_string();
    let serve_args = |extra: &[&'static str]| {
        let mut args = vec!["serve", "--store", store_arg, "--config", config_arg, "--cache-dir", cache_arg, "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        args
    };
    let store = SqliteStore::open(store_path).unwrap();
    let history_has = |ty: &str| store.history(&arn).unwrap().iter().any(|e| e.kind.type_name() == ty);

    let mut first = Host::spawn(&serve_args(&[]));
    wait_for("the task to be submitted", || history_has("TaskSubmitted"));
    let in_use = format!("store {store_arg} is in use by pid {} (stepwasm serve)", first.pid());
    // A second serve, resume or run --store on the same store: refused, exit 2, naming the holder.
    for (command, args) in [
        ("serve", serve_args(&[])),
        ("resume", vec!["resume", "--store", store_arg, "--config", config_arg, "--cache-dir", cache_arg]),
        ("run --store", vec!["run", def, "--store", store_arg, "--config", config_arg, "--cache-dir", cache_arg]),
    ] {
        let (code, out, err) = stepwasm(&args);
        assert_eq!(code, 2, "{command}: {out}{err}");
        assert!(err.contains(&in_use), "{command}: {err}");
    }
    // Readers and writers of the store work beside it.
    let (code, listed, err) = stepwasm(&["executions", "list", "--store", store_arg]);
    assert!(code == 0 && listed.contains("RUNNING") && listed.contains("ask"), "{listed}{err}");
    let token = store
        .history(&arn)
        .unwrap()
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::TaskScheduled { parameters, .. } => parameters["token"].as_str().map(str::to_string),
            _ => None,
        })
        .unwrap();
    let (code, _, err) = stepwasm(&["task", "success", "--store", store_arg, "--token", &token, "--output", r#"{"approvedBy": "Bo"}"#]);
    assert_eq!(code, 0, "{err}");
    wait_for("serve to record the answer and park in the Wait", || history_has("WaitStateEntered"));

    // Killed, the holder leaves no lock behind: a new serve starts at once.
    first.kill();
    let mut second = Host::spawn(&serve_args(&[]));
    second.wait_for_line("the second serve's API", Duration::from_secs(60), |l| l.starts_with("api listening on "));
    // One that may wait does, saying for whom, and goes on once the holder is gone.
    let mut third = Host::spawn(&serve_args(&["--wait-for-lock", "--exit-when-idle"]));
    let waiting = format!("waiting for store {store_arg}: it is in use by pid {} (stepwasm serve)", second.pid());
    third.wait_for_line("the third serve to wait", Duration::from_secs(60), |l| l == waiting);
    assert!(third.out.lock().unwrap().is_empty(), "it waited before anything else: {}", third.output());
    second.kill();
    third.wait_for_line("the third serve's API", Duration::from_secs(60), |l| l.starts_with("api listening on "));
    // It drives the store: the stopped execution is let go, and idle, it exits 0.
    let (code, out, err) = stepwasm(&["executions", "stop", "ask", "--store", store_arg]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(third.wait_for_exit(Duration::from_secs(60)), 0, "{}", third.output());
    assert!(third.output().contains("ABORTED ask"), "{}", third.output());
    std::fs::remove_dir_all(dir).unwrap();
}

/// A tmpfs of `size` mounted at a directory for the life of the value.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// Mounts it, or fails the test saying why: the disk-full test needs
    /// root (or CAP_SYS_ADMIN) and does not pass without running.
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(dir).output();
        match out {
            Ok(out) if out.status.success() => Tmpfs { dir: dir.to_path_buf() },
            Ok(out) => panic!(
                "THIS TEST NEEDS ROOT: it fills a small tmpfs to make the disk full, and `mount -t tmpfs` failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(e) => panic!("THIS TEST NEEDS ROOT and the mount command: it fills a small tmpfs, and `mount` could not run: {e}"),
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount").arg(&self.dir).status().is_ok_and(|s| s.success());
        if !unmounted {
            // Busy (a process still holds a file): detached now, gone when released.
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

/// Writes `path` until the file system has no room left; the bytes written.
fn fill(path: &Path) -> u64 {
    use std::io::Write;
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0x5a_u8; 64 << 10];
    let mut written = 0;
    loop {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.raw_os_error() == Some(libc_enospc()) => break,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
    // The last partial pages too.
    while let Ok(n) = file.write(&chunk[..512]) {
        if n == 0 {
            break;
        }
        written += n as u64;
    }
    written
}

/// ENOSPC on Linux.
fn libc_enospc() -> i32 {
    28
}

/// `ROUNDS` times: count in kv (the probe's `incr`, once per round), write
/// a padding value under a new key (kv pages that grow the file), then a
/// one-second Wait (short: driven in memory, not parked).
const ROUNDS: u64 = 12;
const COUNT_AND_WAIT: &str = r#"{"StartAt": "Count", "States": {
  "Count": {"Type": "Task", "Resource": "probe", "ResultPath": "$.last",
            "Parameters": {"steps": [{"incr.$": "States.Format('count-{}', $.id)"},
                                     {"set.$": "States.Array(States.Format('pad-{}-{}', $.id, $.n), 'PADDING')"}]},
            "Next": "Add"},
  "Add": {"Type": "Pass", "Parameters": {"id.$": "$.id", "last.$": "$.last", "n.$": "States.MathAdd($.n, 1)"}, "Next": "More"},
  "More": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericLessThan": ROUNDS, "Next": "Pause"}], "Default": "Done"},
  "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Count"},
  "Done": {"Type": "Succeed"}}}"#;

#[test]
fn a_disk_that_fills_up_under_serve_and_is_freed_again_finishes_every_execution_without_a_restart() {
    const N: usize = 40;
    let dir = scratch("disk-full");
    let disk = Tmpfs::mount(&dir.join("disk"), "24m");
    let config = dir.join("stepwasm.toml");
    std::fs::write(&config, format!("module_dir = {:?}\n{}", support::guest_dir(), support::PROBE_RESOURCES)).unwrap();
    let store_path = disk.dir.join("store.sqlite");
    let cache = dir.join("cache");
    let (store_arg, config_arg, cache_arg) = (store_path.to_str().unwrap(), config.to_str().unwrap(), cache.to_str().unwrap());

    let definition = COUNT_AND_WAIT.replace("ROUNDS", &ROUNDS.to_string()).replace("PADDING", &"p".repeat(4000));
    let store = SqliteStore::open(&store_path).unwrap();
    let machine = Arc::new(stepwasm::asl::parse_definition(&definition).unwrap());
    let infos: Vec<_> = (0..N).map(|i| stepwasm::driver::execution_info("counting", &format!("c{i}"))).collect();
    store.put_state_machine(&infos[0].state_machine_arn, "counting", &definition).unwrap();
    for (i, info) in infos.iter().enumerate() {
        let input = serde_json::json!({ "id": i, "n": 0 });
        block_on(stepwasm::driver::start_execution(machine.clone(), info.clone(), input, &stepwasm::driver::SystemClock, &store)).unwrap();
    }
    let rounds_done = |info: &stepwasm::engine::ExecutionInfo| {
        store.history(&info.execution_arn).unwrap().iter().filter(|e| e.kind.type_name() == "TaskSucceeded").count() as u64
    };

    let mut serve = Host::spawn(&[
        "serve",
        "--store",
        store_arg,
        "--config",
        config_arg,
        "--cache-dir",
        cache_arg,
        "--listen",
        "127.0.0.1:0",
        "--exit-when-idle",
    ]);
    // Under way: every execution has counted once.
    wait_for("every execution's first round", || infos.iter().all(|i| rounds_done(i) >= 1));
    let filler = disk.dir.join("filler");
    let filled = fill(&filler);
    // Full: serve's writes fail (its appends, its kv commits), and it says
    // so, once for each execution it will drive again.
    let full = |l: &str| l.starts_with("error: execution ") && l.contains("disk is full");
    let line = serve.wait_for_line("serve to meet the full disk", Duration::from_secs(60), full);
    wait_for("half the executions to fail a drive", || {
        let err = serve.err.lock().unwrap();
        infos.iter().filter(|i| err.iter().any(|l| full(l) && l.contains(&i.execution_arn))).count() >= N / 2
    });
    let stalled_at: u64 = infos.iter().map(rounds_done).sum();
    assert!(stalled_at < N as u64 * ROUNDS, "the executions ended before the disk filled up");
    // Fill again what SQLite may have freed meanwhile, then give the space back.
    let _ = fill(&disk.dir.join("filler-2"));
    std::fs::remove_file(&filler).unwrap();
    let _ = std::fs::remove_file(disk.dir.join("filler-2"));

    // The same serve finishes every execution, and only then exits 0.
    let code = serve.wait_for_exit(Duration::from_secs(300));
    let printed = serve.output();
    assert_eq!(code, 0, "{printed}");
    assert!(printed.contains("goes on after"), "the failed drives were driven again: {printed}");
    for (i, info) in infos.iter().enumerate() {
        let arn = &info.execution_arn;
        assert_eq!(store.execution(arn).unwrap().unwrap().status, ExecutionStatus::Succeeded, "{arn}\n{printed}");
        let history = store.history(arn).unwrap();
        assert!(history.iter().enumerate().all(|(k, e)| e.id == k as u64 + 1), "{arn}: gaps or duplicates");
        assert_eq!(rounds_done(info), ROUNDS, "{arn}: one recorded success per round");
        let Some(EventKind::ExecutionSucceeded { output }) = history.last().map(|e| &e.kind) else { panic!("{arn}: no end") };
        assert_eq!(output["n"], serde_json::json!(ROUNDS), "{arn}");
        // Each round's count was applied once: its output is the round's number.
        assert_eq!(output["last"]["results"][0], serde_json::json!(ROUNDS), "{arn}: {output}");
        assert_eq!(output["id"], serde_json::json!(i));
    }
    let kv = stepwasm::runtime::KvStore::open(&store_path).unwrap().entries("probe").unwrap();
    let counts: Vec<&(String, String)> = kv.iter().filter(|(key, _)| key.starts_with("count-")).collect();
    assert_eq!(counts.len(), N);
    let wrong: Vec<_> = counts.iter().filter(|(_, count)| *count != ROUNDS.to_string()).collect();
    assert!(wrong.is_empty(), "counts not applied exactly once per round: {wrong:?}");
    let count = |what: &str| printed.lines().filter(|l| l.contains(what)).count();
    eprintln!(
        "disk full: filler of {filled} bytes; {stalled_at} of {} rounds done when serve first said {line:?}; \
         {} failure lines ({} of kv commits), {} executions went on after failed drives",
        N as u64 * ROUNDS,
        count("disk is full"),
        count("kv write(s) could not be committed"),
        count("goes on after")
    );
    drop(store);
    drop(disk);
    std::fs::remove_dir_all(&dir).unwrap();
}

const ONE_PROBE_TASK: &str = r#"{"StartAt": "Count", "States": {
  "Count": {"Type": "Task", "Resource": "probe", "Parameters": {"steps": [{"incr": "restored"}]}, "End": true}}}"#;

#[test]
fn a_module_missing_until_restored_is_retried_and_exit_when_idle_names_what_it_gave_up() {
    let dir = scratch("module-missing");
    let modules = dir.join("modules");
    std::fs::create_dir_all(&modules).unwrap();
    let module = modules.join("probe.wasm");
    std::fs::copy(support::guest_dir().join("probe.wasm"), &module).unwrap();
    let config = dir.join("stepwasm.toml");
    std::fs::write(&config, format!("module_dir = {modules:?}\n{}", support::PROBE_RESOURCES)).unwrap();
    let definition = dir.join("once.asl.json");
    std::fs::write(&definition, ONE_PROBE_TASK).unwrap();
    let store_path = dir.join("store.sqlite");
    let cache = dir.join("cache");
    let (def, store_arg, config_arg, cache_arg) =
        (definition.to_str().unwrap(), store_path.to_str().unwrap(), config.to_str().unwrap(), cache.to_str().unwrap());
    let (code, out, err) = stepwasm(&["start", def, "--store", store_arg, "--config", config_arg, "--name", "once"]);
    assert_eq!(code, 0, "{out}{err}");
    let arn = out.trim().to_string();
    std::fs::rename(&module, dir.join("probe.wasm.away")).unwrap();
    let serve = |extra: &[&str]| {
        let mut args = vec!["serve", "--store", store_arg, "--config", config_arg, "--cache-dir", cache_arg, "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        Host::spawn(&args)
    };

    // Given up after a second of failed loads: exit 1, naming it, still RUNNING.
    let mut impatient = serve(&["--exit-when-idle", "--give-up-after", "1"]);
    assert_eq!(impatient.wait_for_exit(Duration::from_secs(60)), 1, "{}", impatient.output());
    let printed = impatient.output();
    assert!(printed.contains("1 execution(s) left RUNNING that this serve could not drive"), "{printed}");
    assert!(printed.contains(&format!("{arn}: cannot load its state machine")) && printed.contains("given up after"), "{printed}");
    let store = SqliteStore::open(&store_path).unwrap();
    assert_eq!(store.execution(&arn).unwrap().unwrap().status, ExecutionStatus::Running);

    // Retried while it runs: restored, the module loads and the execution ends, without a restart.
    let mut patient = serve(&["--exit-when-idle"]);
    patient.wait_for_line("a failed load", Duration::from_secs(60), |l| l.contains(&arn) && l.contains("cannot load its state machine"));
    std::fs::rename(dir.join("probe.wasm.away"), &module).unwrap();
    assert_eq!(patient.wait_for_exit(Duration::from_secs(120)), 0, "{}", patient.output());
    assert!(patient.output().contains("SUCCEEDED once"), "{}", patient.output());
    assert_eq!(store.execution(&arn).unwrap().unwrap().status, ExecutionStatus::Succeeded);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn serve_with_retain_days_deletes_closed_executions_and_keeps_running_ones() {
    let dir = scratch("retain-days");
    let pass = dir.join("pass.asl.json");
    std::fs::write(&pass, r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#).unwrap();
    // Parked while serve prunes (a wait over 2 s), then it ends.
    let waits = dir.join("waits.asl.json");
    std::fs::write(&waits, r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3, "End": true}}}"#).unwrap();
    let store_path = dir.join("store.sqlite");
    let store_arg = store_path.to_str().unwrap();
    for name in ["old-1", "old-2"] {
        let (code, out, err) = stepwasm(&["run", pass.to_str().unwrap(), "--store", store_arg, "--name", name]);
        assert_eq!(code, 0, "{out}{err}");
    }
    let (code, out, err) = stepwasm(&["start", waits.to_str().unwrap(), "--store", store_arg, "--name", "waiting"]);
    assert_eq!(code, 0, "{out}{err}");
    std::thread::sleep(Duration::from_millis(20)); // closed strictly before serve's cutoff

    let mut host = Host::spawn(&["serve", "--store", store_arg, "--listen", "127.0.0.1:0", "--retain-days", "0", "--exit-when-idle"]);
    host.wait_for_line("the pruning", Duration::from_secs(30), |l| l.contains("pruned 2 execution(s) closed more than 0 day(s) ago"));
    assert_eq!(host.wait_for_exit(Duration::from_secs(60)), 0, "{}", host.output());
    let store = SqliteStore::open(&store_path).unwrap();
    let left: Vec<_> = store.executions(None).unwrap().into_iter().map(|e| (e.info.name, e.status)).collect();
    assert_eq!(
        left,
        [("waiting".to_string(), ExecutionStatus::Succeeded)],
        "the closed ones and their histories went; the running one ran on"
    );
    for old in ["old-1", "old-2"] {
        let (code, _, err) = stepwasm(&["executions", "history", old, "--store", store_arg]);
        assert_ne!(code, 0, "{old} is gone: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
