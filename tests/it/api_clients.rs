//! The real AWS clients against `stepwasm serve`'s Step Functions API: boto3
//! and the AWS CLI (installed into target/pyenv by scripts/test-tools.sh, which
//! `make test` runs) play tests/api/aws_clients.py against a served store.

use crate::support::python::{pyenv_python, run_python};
use crate::support::{self, root, scratch, ApiServer};
use std::time::Duration;

/// Runs tests/api/aws_clients.py against `server` with `extra` arguments;
/// panics with its output and the server's if it does not exit 0 within `limit`.
fn run_script(name: &str, server: &ApiServer, extra: &[&str], limit: Duration) {
    let dir = scratch(&format!("{name}-script"));
    let script = "tests/api/aws_clients.py";
    let output = run_python(script, &dir, limit, Some(server), |command| {
        command.arg(root().join(script)).arg(&server.endpoint).arg(root()).args(extra);
    });
    output.expect_line("PASS");
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
