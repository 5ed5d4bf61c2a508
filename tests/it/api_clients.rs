//! The real AWS clients against `stepwasm serve`'s Step Functions API: boto3
//! and the AWS CLI (installed into target/pyenv by scripts/test-tools.sh, which
//! `make test` runs) play tests/api/aws_clients.py against a served store.

use crate::support::{self, root, scratch, ApiServer};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// target/pyenv's python, with boto3 and the AWS CLI; fails clearly if missing.
fn pyenv_python() -> PathBuf {
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

/// Runs tests/api/aws_clients.py against `server` with `extra` arguments;
/// panics with its output and the server's if it does not exit 0 within `limit`.
fn run_script(name: &str, server: &ApiServer, extra: &[&str], limit: Duration) {
    let python = pyenv_python();
    let dir = scratch(&format!("{name}-script"));
    let (out_path, err_path) = (dir.join("stdout"), dir.join("stderr"));
    let mut child = Command::new(&python)
        .arg(root().join("tests/api/aws_clients.py"))
        .arg(&server.endpoint)
        .arg(root())
        .args(extra)
        .current_dir(root())
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
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
    let report = format!(
        "--- aws_clients.py stdout ---\n{stdout}\n--- aws_clients.py stderr ---\n{stderr}\n--- stepwasm serve printed ---\n{}",
        server.lines().join("\n")
    );
    match status {
        None => panic!("tests/api/aws_clients.py took over {limit:?} and was killed\n{report}"),
        Some(status) => assert!(status.success(), "tests/api/aws_clients.py {extra:?} ended {status}\n{report}"),
    }
    assert!(stdout.lines().any(|l| l == "PASS"), "tests/api/aws_clients.py exited 0 without PASS\n{report}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The whole scenario (see the script): the order example's three inputs,
/// idempotent starts, history paging, listings, a task-token callback,
/// RedriveExecution, StopExecution, tags, validation, StartSyncExecution and AWS's error codes,
/// through boto3, plus a few calls through the AWS CLI.
#[test]
fn boto3_and_the_aws_cli_drive_the_api() {
    support::guest_dir();
    pyenv_python();
    let dir = scratch("api-clients");
    let config = root().join("examples/order/stepwasm.toml");
    let server = ApiServer::start(&dir.join("store.sqlite"), &["--config", config.to_str().unwrap()]);
    run_script("api-clients", &server, &[], Duration::from_secs(420));
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--api-secret KEY:SECRET`: boto3 and the CLI signing with that key work;
/// a wrong secret, an unknown key, no Authorization, a tampered body or an
/// hour-old signature are refused with AWS's 4xx codes; `Bearer <SECRET>` works.
#[test]
fn a_shared_secret_admits_only_requests_signed_with_it() {
    support::guest_dir();
    pyenv_python();
    let dir = scratch("api-clients-secret");
    let config = root().join("examples/order/stepwasm.toml");
    let server =
        ApiServer::start(&dir.join("store.sqlite"), &["--config", config.to_str().unwrap(), "--api-secret", "AKIDSTEPWASM:s3cret"]);
    run_script("api-clients-secret", &server, &["--secret", "AKIDSTEPWASM:s3cret"], Duration::from_secs(180));
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
