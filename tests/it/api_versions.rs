//! State machine versions and aliases through boto3 (target/pyenv, from
//! scripts/test-tools.sh) against a real `stepwasm serve`: tests/api/versions_aliases.py
//! publishes, lists, describes and deletes versions, routes executions
//! through aliases by weight, finds the client's region and `--account` in
//! the ARNs, and checks the logging and tracing configuration.

use crate::support::python::run_python;
use crate::support::{root, scratch, ApiServer};
use std::time::Duration;

#[test]
fn versions_aliases_and_regions_through_boto3() {
    let dir = scratch("api-versions");
    let server = ApiServer::start(&dir.join("store.sqlite"), &["--account", "123456789012"]);
    let script = "tests/api/versions_aliases.py";
    let output = run_python(script, &dir, Duration::from_secs(300), Some(&server), |command| {
        command.arg(root().join(script)).arg(&server.endpoint);
    });
    output.expect_line("PASS");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
