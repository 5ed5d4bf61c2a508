//! Activities through the HTTP API: a Task on an activity's ARN queues its
//! input; workers take each task once (GetActivityTask) and answer with its
//! token; a stopped execution's task is never handed out.

mod support;

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::{scratch, ApiServer};

const SFN: &str = "AWSStepFunctions.";

fn call(server: &ApiServer, action: &str, params: Value) -> Value {
    server.ok(&format!("{SFN}{action}"), params)
}

fn refused(server: &ApiServer, action: &str, params: Value) -> String {
    let (status, body) = server.call(&format!("{SFN}{action}"), &params);
    assert_eq!(status, 400, "{action}: {body}");
    body["__type"].as_str().unwrap().to_string()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn history_types(server: &ApiServer, arn: &str) -> Vec<String> {
    let events = call(server, "GetExecutionHistory", json!({"executionArn": arn, "maxResults": 1000}));
    events["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap().to_string()).collect()
}

/// Starts an execution and waits until its task is queued for a worker.
fn start_queued(server: &ApiServer, machine: &str, name: &str, order: u32) -> String {
    let started = call(server, "StartExecution", json!({"stateMachineArn": machine, "name": name, "input": json!({"order": order}).to_string()}));
    let arn = started["executionArn"].as_str().unwrap().to_string();
    wait_for(&format!("{name}'s task to be queued"), || history_types(server, &arn).iter().any(|t| t == "TaskSubmitted"));
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
