//! Activities through the HTTP API: a Task on an activity's ARN queues its
//! input; workers take each task once (GetActivityTask) and answer with its
//! token; a stopped execution's task is never handed out; a failed execution
//! is redriven (RedriveExecution) from the state that failed, and a failed
//! Parallel state runs again only the branch that failed.

use crate::support::{scratch, wait_for, ApiServer};
use serde_json::{json, Value};

const SFN: &str = "AWSStepFunctions.";

fn call(server: &ApiServer, action: &str, params: Value) -> Value {
    server.ok(&format!("{SFN}{action}"), params)
}

fn refused(server: &ApiServer, action: &str, params: Value) -> String {
    let (status, body) = server.call(&format!("{SFN}{action}"), &params);
    assert_eq!(status, 400, "{action}: {body}");
    body["__type"].as_str().unwrap().to_string()
}

fn history_types(server: &ApiServer, arn: &str) -> Vec<String> {
    let events = call(server, "GetExecutionHistory", json!({"executionArn": arn, "maxResults": 1000}));
    events["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap().to_string()).collect()
}

/// Starts an execution and waits until its task is queued for a worker.
fn start_queued(server: &ApiServer, machine: &str, name: &str, order: u32) -> String {
    let started =
        call(server, "StartExecution", json!({"stateMachineArn": machine, "name": name, "input": json!({"order": order}).to_string()}));
    let arn = started["executionArn"].as_str().unwrap().to_string();
    wait_for(&format!("{name}'s task to be queued"), || history_types(server, &arn).iter().any(|t| t == "ActivityScheduled"));
    arn
}

fn finished(server: &ApiServer, arn: &str) -> Value {
    let mut described = Value::Null;
    wait_for(&format!("{arn} to end"), || {
        described = call(server, "DescribeExecution", json!({"executionArn": arn}));
        described["status"] != "RUNNING"
    });
    described
}

#[test]
fn workers_take_activity_tasks_and_answer_with_their_tokens() {
    let dir = scratch("api-activities");
    let server = ApiServer::start(&dir.join("store.sqlite"), &[]);

    let created = call(&server, "CreateActivity", json!({"name": "approve", "tags": [{"key": "team", "value": "orders"}]}));
    let activity = created["activityArn"].as_str().unwrap().to_string();
    assert!(activity.ends_with(":activity:approve"), "{activity}");
    assert_eq!(call(&server, "CreateActivity", json!({"name": "approve"})), created, "creating it again changes nothing");
    assert_eq!(call(&server, "DescribeActivity", json!({"activityArn": activity}))["name"], "approve");
    assert_eq!(call(&server, "ListActivities", json!({}))["activities"][0]["activityArn"], activity.as_str());
    let tags = call(&server, "ListTagsForResource", json!({"resourceArn": activity}));
    assert_eq!(tags["tags"], json!([{"key": "team", "value": "orders"}]));

    let definition = |resource: &str| {
        json!({"StartAt": "Approve", "States": {
            "Approve": {"Type": "Task", "Resource": resource, "Parameters": {"order.$": "$.order"}, "HeartbeatSeconds": 60,
                        "ResultPath": "$.approval", "Catch": [{"ErrorEquals": ["Rejected"], "Next": "Rejected"}], "End": true},
            "Rejected": {"Type": "Pass", "Result": "rejected", "End": true}}})
        .to_string()
    };
    let role = "arn:aws:iam::000000000000:role/r";
    let missing = activity.replace("approve", "nobody");
    let code = refused(&server, "CreateStateMachine", json!({"name": "m", "definition": definition(&missing), "roleArn": role}));
    assert_eq!(code, "InvalidDefinition");
    let machine = call(&server, "CreateStateMachine", json!({"name": "approvals", "definition": definition(&activity), "roleArn": role}));
    let machine = machine["stateMachineArn"].as_str().unwrap();

    // A stopped execution's task is never handed out.
    let stopped = start_queued(&server, machine, "stopped", 1);
    call(&server, "StopExecution", json!({"executionArn": stopped}));
    let approved = start_queued(&server, machine, "approved", 2);
    let rejected = start_queued(&server, machine, "rejected", 3);

    let first = call(&server, "GetActivityTask", json!({"activityArn": activity, "workerName": "w1"}));
    assert_eq!(first["input"].as_str().map(|i| serde_json::from_str::<Value>(i).unwrap()), Some(json!({"order": 2})), "{first}");
    let second = call(&server, "GetActivityTask", json!({"activityArn": activity, "workerName": "w2"}));
    assert_eq!(serde_json::from_str::<Value>(second["input"].as_str().unwrap()).unwrap(), json!({"order": 3}));

    let (first_token, second_token) = (first["taskToken"].as_str().unwrap(), second["taskToken"].as_str().unwrap());
    call(&server, "SendTaskHeartbeat", json!({"taskToken": first_token}));
    call(&server, "SendTaskSuccess", json!({"taskToken": first_token, "output": r#"{"ok": true}"#}));
    call(&server, "SendTaskFailure", json!({"taskToken": second_token, "error": "Rejected", "cause": "too big"}));

    let done = finished(&server, &approved);
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(serde_json::from_str::<Value>(done["output"].as_str().unwrap()).unwrap(), json!({"order": 2, "approval": {"ok": true}}));
    let done = finished(&server, &rejected);
    assert_eq!((done["status"].as_str(), done["output"].as_str()), (Some("SUCCEEDED"), Some("\"rejected\"")), "caught: {done}");
    assert_eq!(finished(&server, &stopped)["status"], "ABORTED");
    assert_eq!(refused(&server, "SendTaskSuccess", json!({"taskToken": first_token, "output": "{}"})), "TaskTimedOut", "answered already");

    call(&server, "DeleteActivity", json!({"activityArn": activity}));
    assert_eq!(refused(&server, "DescribeActivity", json!({"activityArn": activity})), "ActivityDoesNotExist");
    assert_eq!(refused(&server, "GetActivityTask", json!({"activityArn": activity})), "ActivityDoesNotExist");
    assert_eq!(refused(&server, "DescribeActivity", json!({"activityArn": machine})), "InvalidArn");
}

#[test]
fn a_failed_execution_is_redriven_from_the_state_that_failed() {
    let dir = scratch("api-redrive");
    let server = ApiServer::start(&dir.join("store.sqlite"), &[]);
    let activity = call(&server, "CreateActivity", json!({"name": "review"}))["activityArn"].as_str().unwrap().to_string();
    let definition = json!({"StartAt": "Prepare", "States": {
        "Prepare": {"Type": "Pass", "Result": "prepared", "ResultPath": "$.step", "Next": "Review"},
        "Review": {"Type": "Task", "Resource": activity, "ResultPath": "$.review", "End": true}}});
    let machine = call(
        &server,
        "CreateStateMachine",
        json!({"name": "reviews", "definition": definition.to_string(), "roleArn": "arn:aws:iam::000000000000:role/r"}),
    );
    let machine = machine["stateMachineArn"].as_str().unwrap();
    let other = start_queued(&server, machine, "untouched", 1);
    let arn = start_queued(&server, machine, "redriven", 9);
    assert_eq!(refused(&server, "RedriveExecution", json!({"executionArn": arn})), "ExecutionNotRedrivable", "still running");

    // The worker for order 9 turns it down: the execution fails.
    let take = |order: u32| loop {
        let task = call(&server, "GetActivityTask", json!({"activityArn": activity}));
        let input: Value = serde_json::from_str(task["input"].as_str().unwrap()).unwrap();
        if input["order"] == order {
            assert_eq!(input, json!({"order": order, "step": "prepared"}));
            return task["taskToken"].as_str().unwrap().to_string();
        }
    };
    let first_token = take(9);
    call(&server, "SendTaskFailure", json!({"taskToken": first_token, "error": "Rejected", "cause": "not yet"}));
    let failed = finished(&server, &arn);
    assert_eq!((failed["status"].as_str(), failed["error"].as_str()), (Some("FAILED"), Some("Rejected")), "{failed}");
    assert_eq!((failed["redriveCount"].as_u64(), failed["redriveStatus"].as_str()), (Some(0), Some("REDRIVABLE")), "{failed}");

    // Redriven: Review runs again (a new task, a new token), Prepare does not.
    let redriven = call(&server, "RedriveExecution", json!({"executionArn": arn, "clientToken": "again-1"}));
    assert!(redriven["redriveDate"].as_f64().is_some(), "{redriven}");
    let retried = call(&server, "RedriveExecution", json!({"executionArn": arn, "clientToken": "again-1"}));
    assert_eq!(retried, redriven, "a retried request (the same clientToken) is the same redrive");
    let second_token = take(9);
    assert_ne!(second_token, first_token);
    call(&server, "SendTaskSuccess", json!({"taskToken": second_token, "output": r#""approved""#}));
    let done = finished(&server, &arn);
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let output: Value = serde_json::from_str(done["output"].as_str().unwrap()).unwrap();
    assert_eq!(output, json!({"order": 9, "step": "prepared", "review": "approved"}));
    assert_eq!(done["redriveCount"], 1);
    assert_eq!(done["redriveDate"], redriven["redriveDate"]);
    assert_eq!(
        (done["redriveStatus"].as_str(), done["redriveStatusReason"].as_str()),
        (Some("NOT_REDRIVABLE"), Some("Execution is SUCCEEDED and cannot be redriven"))
    );

    let types = history_types(&server, &arn);
    let after_failure: Vec<&str> = types.iter().map(String::as_str).skip_while(|t| *t != "ExecutionFailed").collect();
    assert_eq!(
        after_failure,
        [
            "ExecutionFailed",
            "ExecutionRedriven",
            "TaskStateEntered",
            "ActivityScheduled",
            "ActivityStarted",
            "ActivitySucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
    assert_eq!(types.iter().filter(|t| *t == "PassStateEntered").count(), 1, "{types:?}");
    let events = call(&server, "GetExecutionHistory", json!({"executionArn": arn, "maxResults": 1000}));
    let redrive_event = events["events"].as_array().unwrap().iter().find(|e| e["type"] == "ExecutionRedriven").unwrap().clone();
    assert_eq!(redrive_event["executionRedrivenEventDetails"], json!({"redriveCount": 1}));

    let listed = |filter: &str| -> Vec<String> {
        let page = call(&server, "ListExecutions", json!({"stateMachineArn": machine, "redriveFilter": filter}));
        page["executions"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(listed("REDRIVEN"), ["redriven"]);
    assert_eq!(listed("NOT_REDRIVEN"), ["untouched"]);
    let code = refused(&server, "ListExecutions", json!({"stateMachineArn": machine, "redriveFilter": "SOMETIMES"}));
    assert_eq!(code, "ValidationException");
    assert_eq!(refused(&server, "RedriveExecution", json!({"executionArn": arn})), "ExecutionNotRedrivable", "succeeded");
    let missing = arn.replace("redriven", "nobody");
    assert_eq!(refused(&server, "RedriveExecution", json!({"executionArn": missing})), "ExecutionDoesNotExist");
    call(&server, "StopExecution", json!({"executionArn": other}));
}

/// A Parallel state whose second branch fails, redriven through the API:
/// only that branch runs again. The first branch's module task, which
/// counts its invocations in the kv store, is not invoked again: the count
/// stays 1, the history schedules it once, and its output is kept in the
/// state's result, in branch order.
#[test]
fn a_redriven_parallel_runs_again_only_the_branch_that_failed() {
    let dir = scratch("api-redrive-parallel");
    let config = dir.join("stepwasm.toml");
    let modules = crate::support::guest_dir();
    std::fs::write(&config, format!("module_dir = {modules:?}\n{}", crate::support::PROBE_RESOURCES)).unwrap();
    let store = dir.join("store.sqlite");
    let server = ApiServer::start(&store, &["--config", config.to_str().unwrap()]);
    let activity = call(&server, "CreateActivity", json!({"name": "sign"}))["activityArn"].as_str().unwrap().to_string();
    let definition = json!({"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "Count", "States": {"Count": {"Type": "Task", "Resource": "probe",
            "Parameters": {"steps": [{"incr": "counted"}]}, "End": true}}},
        {"StartAt": "Sign", "States": {"Sign": {"Type": "Task", "Resource": activity, "End": true}}}]}}});
    let machine = call(
        &server,
        "CreateStateMachine",
        json!({"name": "both", "definition": definition.to_string(), "roleArn": "arn:aws:iam::000000000000:role/r"}),
    );
    let machine = machine["stateMachineArn"].as_str().unwrap();
    let arn = start_queued(&server, machine, "both-1", 1);
    let token =
        |server: &ApiServer| call(server, "GetActivityTask", json!({"activityArn": activity}))["taskToken"].as_str().unwrap().to_string();
    call(&server, "SendTaskFailure", json!({"taskToken": token(&server), "error": "Unsigned", "cause": "not yet"}));
    let failed = finished(&server, &arn);
    assert_eq!((failed["status"].as_str(), failed["error"].as_str()), (Some("FAILED"), Some("Unsigned")), "{failed}");

    call(&server, "RedriveExecution", json!({"executionArn": arn}));
    wait_for("the redriven branch's task to be queued", || {
        history_types(&server, &arn).iter().filter(|t| *t == "ActivityScheduled").count() == 2
    });
    call(&server, "SendTaskSuccess", json!({"taskToken": token(&server), "output": r#""signed""#}));
    let done = finished(&server, &arn);
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let output: Value = serde_json::from_str(done["output"].as_str().unwrap()).unwrap();
    assert_eq!(output, json!([{"results": [1]}, "signed"]), "the first branch's output kept, in branch order");

    let types = history_types(&server, &arn);
    assert_eq!(types.iter().filter(|t| *t == "TaskScheduled").count(), 1, "the module's task is scheduled once: {types:?}");
    let after_redrive: Vec<&str> = types.iter().map(String::as_str).skip_while(|t| *t != "ExecutionRedriven").collect();
    assert_eq!(
        after_redrive,
        [
            "ExecutionRedriven",
            "TaskStateEntered",
            "ActivityScheduled",
            "ActivityStarted",
            "ActivitySucceeded",
            "TaskStateExited",
            "ParallelStateSucceeded",
            "ParallelStateExited",
            "ExecutionSucceeded"
        ]
    );
    drop(server);
    let counted = stepwasm::runtime::KvStore::open(&store).unwrap().entries("probe").unwrap();
    assert!(counted.iter().any(|(k, v)| k == "counted" && v == "1"), "invoked once: {counted:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
