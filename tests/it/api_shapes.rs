//! Every response of every action `serve` implements, and every history event
//! it records, checked against botocore's Step Functions model:
//! tests/api/api_shapes.py (raw HTTP, so no client library hides a member the
//! model lacks) validates each body with tests/api/botocore_shapes.py, a
//! strict validator over the model botocore ships (in target/pyenv, from
//! scripts/test-tools.sh).

use crate::support::{self, python, root, scratch, ApiServer};
use std::path::Path;
use std::time::Duration;

/// The Lambda ARNs the script calls, each mapped to a module: the order
/// example's three (the seed definition runs unchanged) and the hostile
/// module, which succeeds, fails or spins on demand (a 1 s limit, so `loop`
/// times out).
fn write_config(dir: &Path) -> std::path::PathBuf {
    let function = "arn:aws:lambda:us-east-1:123456789012:function";
    let config = format!(
        r#"module_dir = {modules:?}

[defaults]
fuel = 50_000_000
memory_mib = 32
timeout_seconds = 5

[resources."{function}:VerifyPaymentFunction"]
module = "payment"
http = {{ allow = ["http://127.0.0.1:9/"], timeout_seconds = 1 }}

[resources."{function}:UpdateInventoryFunction"]
module = "inventory"
kv = {{ namespace = "inventory" }}

[resources."{function}:NotifyCustomerFunction"]
module = "notify"

[resources."{function}:Hostile"]
module = "hostile"
fuel = 100_000_000_000
timeout_seconds = 1

[kv.seed.inventory]
"WIDGET-1" = 10
"GADGET-2" = 4
"#,
        modules = support::guest_dir().to_str().unwrap(),
    );
    let path = dir.join("stepwasm.toml");
    std::fs::write(&path, config).unwrap();
    path
}

/// Runs `script` (with the endpoint and the repository's root), failing
/// with its output and the server's unless it prints PASS and exits 0 in time.
fn run_python(script: &str, server: Option<&ApiServer>, dir: &Path, limit: Duration) {
    let output = python::run_python(script, dir, limit, server, |command| {
        command.arg(root().join(script));
        if let Some(server) = server {
            command.arg(&server.endpoint).arg(root());
        }
    });
    output.expect_line("PASS");
}

/// The validator finds each kind of problem it is for (an unknown member, a
/// missing required one, a wrong type, an enum value, a bound, a null, a
/// timestamp sent as text): one that found nothing would pass any server.
#[test]
fn the_validator_over_botocores_model_finds_what_it_is_for() {
    let dir = scratch("api-shapes-validator");
    run_python("tests/api/botocore_shapes.py", None, &dir, Duration::from_secs(60));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every implemented action (the server's own list) called with realistic
/// inputs, each raw response valid as its output shape; executions that
/// record every kind of event (direct Lambda ARNs, lambda:invoke, task
/// tokens answered, timed out and stopped, activities taken by a worker or
/// timed out, Parallel and Map succeeding and failing, retries, catches,
/// Wait, Choice, Pass with Assign, Succeed, Fail, an execution timeout, a
/// redrive), each event valid as a HistoryEvent with the details member of its type.
#[test]
fn every_response_and_history_event_matches_botocores_model() {
    let dir = scratch("api-shapes");
    let config = write_config(&dir);
    let server = ApiServer::start(&dir.join("store.sqlite"), &["--config", config.to_str().unwrap()]);
    run_python("tests/api/api_shapes.py", Some(&server), &dir, Duration::from_secs(300));
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
