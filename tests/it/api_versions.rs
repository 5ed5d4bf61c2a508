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

/// Starts resolve their state machine once and keep it (host/src/api/resolved.rs):
/// what the API changes is still seen by the very next start. Each start
/// here comes right after the change, well inside the time an entry is kept.
#[test]
fn a_start_right_after_a_change_runs_what_the_change_left() {
    let dir = scratch("api-resolved-starts");
    let server = ApiServer::start(&dir.join("store.sqlite"), &[]);
    let pass = |result: &str| serde_json::json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": result, "End": true}}});
    let role = "arn:aws:iam::000000000000:role/r";
    let arn = server.create_machine("kept", &pass("one"), role);
    let output = |execution: &str| server.wait_for_end(execution)["output"].as_str().unwrap_or_default().to_string();
    // Each start comes before the previous one is awaited, so that the next
    // comes well inside the time an entry is kept.
    let first = server.start_execution(&arn, "first", "{}");
    let published = server
        .action("UpdateStateMachine", serde_json::json!({"stateMachineArn": arn, "definition": pass("two").to_string(), "publish": true}));
    let after_update = server.start_execution(&arn, "after-update", "{}");
    assert_eq!(output(&first), "\"one\"");
    assert_eq!(output(&after_update), "\"two\"", "a start right after UpdateStateMachine runs the new definition");
    // StartSyncExecution runs the resolved definition itself.
    let express = server.action(
        "CreateStateMachine",
        serde_json::json!({"name": "kept-sync", "definition": pass("one").to_string(), "roleArn": role, "type": "EXPRESS"}),
    )["stateMachineArn"]
        .as_str()
        .unwrap()
        .to_string();
    let sync_output = || server.action("StartSyncExecution", serde_json::json!({"stateMachineArn": express}))["output"].clone();
    assert_eq!(sync_output(), "\"one\"");
    server.action("UpdateStateMachine", serde_json::json!({"stateMachineArn": express, "definition": pass("two").to_string()}));
    assert_eq!(sync_output(), "\"two\"", "a synchronous start right after UpdateStateMachine runs the new definition");
    let version = published["stateMachineVersionArn"].as_str().unwrap().to_string();
    assert_eq!(server.start_execution(&version, "through-version", "{}").rsplit(':').next(), Some("through-version"));
    server.action("DeleteStateMachineVersion", serde_json::json!({"stateMachineVersionArn": version}));
    let (status, refused) =
        server.call("AWSStepFunctions.StartExecution", &serde_json::json!({"stateMachineArn": version, "name": "deleted-version"}));
    assert_eq!((status, refused["__type"].as_str()), (400, Some("StateMachineDoesNotExist")), "{refused}");
    server.action("DeleteStateMachine", serde_json::json!({"stateMachineArn": arn}));
    let (status, refused) = server.call("AWSStepFunctions.StartExecution", &serde_json::json!({"stateMachineArn": arn, "name": "deleted"}));
    assert_eq!((status, refused["__type"].as_str()), (400, Some("StateMachineDoesNotExist")), "{refused}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
