//! Running the Python scripts of tests/api/ (boto3, the AWS CLI and
//! botocore's model, installed into target/pyenv by scripts/test-tools.sh)
//! under a time limit. Their output goes to files, so a chatty script never
//! blocks on a full pipe; a script that fails, or outlives its limit and is
//! killed, fails the test with its output and the server's.

use super::{root, ApiServer};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// target/pyenv's python, with boto3 and the AWS CLI; fails clearly if missing.
pub fn pyenv_python() -> PathBuf {
    let python = root().join("target/pyenv/bin/python");
    let aws = root().join("target/pyenv/bin/aws");
    assert!(
        python.is_file() && aws.is_file(),
        "{} (boto3) or {} is missing: `make test` installs them via scripts/test-tools.sh (run it once by hand: scripts/test-tools.sh)",
        python.display(),
        aws.display()
    );
    python
}

/// What a script printed, once it exited 0.
pub struct ScriptOutput {
    pub stdout: String,
    pub stderr: String,
    /// Both, and what `server` printed: for an assertion's message.
    pub report: String,
}

impl ScriptOutput {
    /// Fails the test unless stdout has the line `line` (e.g. `PASS`): a
    /// script that exited 0 without finishing its checks has not passed.
    pub fn expect_line(&self, line: &str) {
        assert!(self.stdout.lines().any(|l| l == line), "the script exited 0 without printing {line}\n{}", self.report);
    }
}

/// Runs target/pyenv's python in the repository's root, with what `setup`
/// adds (arguments, environment, another directory), keeping its output in
/// `dir`; fails the test with everything printed unless it exits 0 within
/// `limit`. `label` names the script in messages.
pub fn run_python(label: &str, dir: &Path, limit: Duration, server: Option<&ApiServer>, setup: impl FnOnce(&mut Command)) -> ScriptOutput {
    let file = label.replace(|c: char| !c.is_ascii_alphanumeric(), "_");
    let (out_path, err_path) = (dir.join(format!("{file}.stdout")), dir.join(format!("{file}.stderr")));
    let mut command = Command::new(pyenv_python());
    command
        .current_dir(root())
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    setup(&mut command);
    let mut child = command.spawn().unwrap();
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let served = server.map(|s| s.lines().join("\n")).unwrap_or_default();
    let report = format!("--- {label} stdout ---\n{stdout}\n--- {label} stderr ---\n{stderr}\n--- stepwasm serve printed ---\n{served}");
    match status {
        None => panic!("{label} took over {limit:?} and was killed\n{report}"),
        Some(status) => assert!(status.success(), "{label} ended {status}\n{report}"),
    }
    ScriptOutput { stdout, stderr, report }
}
