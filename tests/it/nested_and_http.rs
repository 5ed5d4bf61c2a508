//! Integrations the host performs itself, through a real `serve` and its API:
//! nested executions (`states:startExecution`, `.sync`, `.sync:2`,
//! `.waitForTaskToken`; a failing child caught; a parent killed while its
//! child runs finds that child again instead of starting a second), and the
//! HTTP Task (`http:invoke`) against a local server, through the config's
//! `[http_tasks]` allow-list; `stepwasm run` refusing nested executions clearly.

use crate::support::{scratch, stepwasm, wait_for, ApiServer, TestServer};
use serde_json::{json, Value};

const ROLE: &str = "arn:aws:iam::000000000000:role/r";

fn call(server: &ApiServer, action: &str, params: Value) -> Value {
    server.ok(&format!("AWSStepFunctions.{action}"), params)
}

fn create(server: &ApiServer, name: &str, definition: Value) -> String {
    let created = call(server, "CreateStateMachine", json!({"name": name, "definition": definition.to_string(), "roleArn": ROLE}));
    created["stateMachineArn"].as_str().unwrap().to_string()
}

fn output(described: &Value) -> Value {
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    serde_json::from_str(described["output"].as_str().unwrap()).unwrap()
}

fn executions_of(server: &ApiServer, machine: &str) -> Vec<Value> {
    call(server, "ListExecutions", json!({"stateMachineArn": machine}))["executions"].as_array().unwrap().clone()
}

fn is_epoch_ms(value: &Value) -> bool {
    value.as_i64().is_some_and(|ms| ms > 1_600_000_000_000)
}

#[test]
fn nested_executions_start_wait_and_fail_as_on_aws() {
    let dir = scratch("nested-executions");
    let server = ApiServer::start(&dir.join("store.sqlite"), &[]);
    let child = create(
        &server,
        "child",
        json!({"StartAt": "Double", "States": {"Double": {"Type": "Pass", "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)"}, "End": true}}}),
    );
    let failing = create(
        &server,
        "failing",
        json!({"StartAt": "Break", "States": {"Break": {"Type": "Fail", "Error": "ChildBroke", "Cause": "on purpose"}}}),
    );
    let parent = create(
        &server,
        "parent",
        json!({"StartAt": "Sync", "States": {
            "Sync": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync",
                     "Parameters": {"StateMachineArn": child, "Input": {"n.$": "$.n", "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"}},
                     "ResultPath": "$.sync", "Next": "Sync2"},
            "Sync2": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                      "Parameters": {"StateMachineArn": child, "Input": {"n": 5}, "Name": "named-child"},
                      "ResultPath": "$.sync2", "Next": "Plain"},
            "Plain": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
                      "Parameters": {"StateMachineArn": child, "Input": "{\"n\": 1}"}, "ResultPath": "$.plain", "Next": "Failing"},
            "Failing": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync",
                        "Parameters": {"StateMachineArn": failing},
                        "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.caught", "Next": "Done"}], "End": true},
            "Done": {"Type": "Pass", "End": true}}}),
    );
    let run = server.run_to_end(&parent, "p1", r#"{"n": 21}"#);
    let out = output(&run);

    // .sync: DescribeExecution's shape, Input and Output as JSON text.
    let sync = &out["sync"];
    assert_eq!(sync["Status"], "SUCCEEDED", "{sync}");
    assert_eq!(serde_json::from_str::<Value>(sync["Output"].as_str().unwrap()).unwrap(), json!({"doubled": 42}));
    let sync_input: Value = serde_json::from_str(sync["Input"].as_str().unwrap()).unwrap();
    assert_eq!(sync_input["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"], run["executionArn"], "the child's input names its parent");
    assert!(is_epoch_ms(&sync["StartDate"]) && is_epoch_ms(&sync["StopDate"]), "{sync}");
    assert_eq!((&sync["InputDetails"], &sync["OutputDetails"]), (&json!({"Included": true}), &json!({"Included": true})));
    assert_eq!(sync["StateMachineArn"], child.as_str());
    // The child is a real execution of the store, seen through the API.
    let described = call(&server, "DescribeExecution", json!({"executionArn": sync["ExecutionArn"]}));
    assert_eq!(described["status"], "SUCCEEDED");

    // .sync:2: Input and Output as JSON; the given Name.
    let sync2 = &out["sync2"];
    assert_eq!((&sync2["Output"], &sync2["Input"]), (&json!({"doubled": 10}), &json!({"n": 5})), "{sync2}");
    assert_eq!(sync2["Name"], "named-child");
    assert!(sync2["ExecutionArn"].as_str().unwrap().ends_with(":child:named-child"), "{sync2}");

    // Plain: started, answered at once with its ARN and start date.
    let plain = &out["plain"];
    assert_eq!(plain.as_object().unwrap().len(), 2, "{plain}");
    assert!(is_epoch_ms(&plain["StartDate"]), "{plain}");
    let plain_child = server.wait_for_end(plain["ExecutionArn"].as_str().unwrap());
    assert_eq!(output(&plain_child), json!({"doubled": 2}));

    // A failed child fails the task with States.TaskFailed, its description as the cause.
    let caught = &out["caught"];
    assert_eq!(caught["Error"], "States.TaskFailed", "{caught}");
    let cause: Value = serde_json::from_str(caught["Cause"].as_str().unwrap()).unwrap();
    assert_eq!(
        (&cause["Status"], &cause["Error"], &cause["Cause"]),
        (&json!("FAILED"), &json!("ChildBroke"), &json!("on purpose")),
        "{cause}"
    );
    assert_eq!(executions_of(&server, &child).len(), 3, "one child per task");

    // A missing state machine is the API's error, under the integration's name.
    let lost = create(
        &server,
        "lost-parent",
        json!({"StartAt": "Start", "States": {"Start": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
               "Parameters": {"StateMachineArn": child.replace(":child", ":nobody")}, "End": true}}}),
    );
    let failed = server.run_to_end(&lost, "l1", "{}");
    assert_eq!(failed["error"], "StepFunctions.StateMachineDoesNotExist", "{failed}");
}

#[test]
fn a_child_waits_with_its_parents_token_and_a_killed_parent_finds_its_child() {
    let dir = scratch("nested-token-and-crash");
    let store = dir.join("store.sqlite");
    let server = ApiServer::start(&store, &[]);
    let activity = call(&server, "CreateActivity", json!({"name": "approve"}))["activityArn"].as_str().unwrap().to_string();
    // The child answers nothing itself: its input carries the parent's token.
    let child = create(&server, "holder", json!({"StartAt": "Hold", "States": {"Hold": {"Type": "Pass", "End": true}}}));
    let parent = create(
        &server,
        "waiting-parent",
        json!({"StartAt": "Start", "States": {"Start": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.waitForTaskToken",
               "Parameters": {"StateMachineArn": child, "Input": {"token.$": "$$.Task.Token"}}, "End": true}}}),
    );
    let waiting = server.start_execution(&parent, "w1", "{}");
    wait_for("the child to start", || !executions_of(&server, &child).is_empty());
    let child_arn = executions_of(&server, &child)[0]["executionArn"].clone();
    let child_run = server.wait_for_end(child_arn.as_str().unwrap());
    let token: Value = serde_json::from_str(child_run["input"].as_str().unwrap()).unwrap();
    call(&server, "SendTaskSuccess", json!({"taskToken": token["token"], "output": "{\"approved\": true}"}));
    assert_eq!(output(&server.wait_for_end(&waiting)), json!({"approved": true}));

    // A .sync child held by an activity; serve killed while the parent waits.
    let slow = create(
        &server,
        "slow-child",
        json!({"StartAt": "Approve", "States": {"Approve": {"Type": "Task", "Resource": activity, "End": true}}}),
    );
    let patient = create(
        &server,
        "patient-parent",
        json!({"StartAt": "Run", "States": {"Run": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
               "Parameters": {"StateMachineArn": slow, "Input": {"order": 7}}, "OutputPath": "$.Output", "End": true}}}),
    );
    let parent_arn = server.start_execution(&patient, "crashy", "{}");
    wait_for("the slow child to start", || !executions_of(&server, &slow).is_empty());
    drop(server); // kill -9
    let server = ApiServer::start(&store, &[]);
    let task = call(&server, "GetActivityTask", json!({"activityArn": activity}));
    assert_eq!(serde_json::from_str::<Value>(task["input"].as_str().unwrap()).unwrap(), json!({"order": 7}));
    call(&server, "SendTaskSuccess", json!({"taskToken": task["taskToken"], "output": "{\"shipped\": 7}"}));
    assert_eq!(output(&server.wait_for_end(&parent_arn)), json!({"shipped": 7}));
    assert_eq!(executions_of(&server, &slow).len(), 1, "the replayed parent found its child instead of starting another");
}

#[test]
fn nested_executions_outside_serve_fail_saying_why() {
    let dir = scratch("nested-run");
    let definition = dir.join("nested.asl.json");
    let text = json!({"StartAt": "Start", "States": {"Start": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync",
                      "Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:000000000000:stateMachine:child"}, "End": true}}});
    std::fs::write(&definition, text.to_string()).unwrap();
    let (code, out, err) = stepwasm(&["run", definition.to_str().unwrap()]);
    assert_ne!(code, 0, "{out}{err}");
    assert!(format!("{out}{err}").contains("runs only under `stepwasm serve`"), "{out}{err}");
}

#[test]
fn http_tasks_call_allowed_urls_with_awss_request_and_response_shape() {
    let http = TestServer::start(|path, body| match path {
        p if p.starts_with("/items") => (200, json!({"path": p}).to_string()),
        "/orders" => (201, json!({"received": serde_json::from_str::<Value>(body).unwrap_or(Value::Null)}).to_string()),
        _ => (404, json!({"message": "no such thing"}).to_string()),
    });
    let dir = scratch("http-tasks");
    let connection = "arn:aws:events:us-east-1:000000000000:connection/local/1";
    let config = dir.join("stepwasm.toml");
    std::fs::write(
        &config,
        format!(
            "[http_tasks.\"http-calls\"]\nallow = [\"{}\"]\n\n[http_tasks.\"{connection}\"]\nallow = [\"{}\", \"{}\"]\ntimeout_seconds = 5\n",
            http.url("/items"),
            http.url("/orders"),
            http.url("/missing")
        ),
    )
    .unwrap();
    let server = ApiServer::start(&dir.join("store.sqlite"), &["--config", config.to_str().unwrap()]);
    let task = |method: &str, path: &str, extra: Value| {
        let mut parameters = json!({"ApiEndpoint": http.url(path), "Method": method, "Authentication": {"ConnectionArn": connection}});
        parameters.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        json!({"Type": "Task", "Resource": "arn:aws:states:::http:invoke", "Parameters": parameters})
    };
    let mut get = task("GET", "/items", json!({"QueryParameters": {"q": "widgets", "limit": 2}}));
    get["ResultPath"] = json!("$.get");
    get["Next"] = json!("Post");
    let mut post = task("POST", "/orders", json!({"RequestBody": {"sku.$": "$.sku", "qty": 3}}));
    post["ResultPath"] = json!("$.post");
    let mut post_alone = post.clone();
    post_alone["End"] = json!(true);
    post["Next"] = json!("Missing");
    let mut missing = task("GET", "/missing", json!({}));
    missing["Catch"] = json!([{"ErrorEquals": ["States.Http.StatusCode.404"], "ResultPath": "$.missing", "Next": "Outside"}]);
    missing["Next"] = json!("Outside");
    let mut outside = task("GET", "/secret", json!({}));
    outside["Catch"] = json!([{"ErrorEquals": ["States.Permissions"], "ResultPath": "$.outside", "Next": "Done"}]);
    outside["End"] = json!(true);
    let machine = create(
        &server,
        "http-calls",
        json!({"StartAt": "Get", "States": {"Get": get, "Post": post, "Missing": missing, "Outside": outside, "Done": {"Type": "Pass", "End": true}}}),
    );
    let out = output(&server.run_to_end(&machine, "h1", r#"{"sku": "A-1"}"#));

    // GET with its query, granted through the state machine's name.
    let got = &out["get"];
    assert_eq!((&got["StatusCode"], &got["StatusText"]), (&json!(200), &json!("OK")), "{got}");
    let path = got["ResponseBody"]["path"].as_str().unwrap();
    assert!(path.starts_with("/items?") && path.contains("q=widgets") && path.contains("limit=2"), "{path}");
    assert_eq!(got["Headers"]["content-type"], json!(["application/json"]), "{got}");
    // POST with a JSON body, granted through the connection.
    assert_eq!(out["post"]["StatusCode"], 201);
    assert_eq!(out["post"]["ResponseBody"], json!({"received": {"sku": "A-1", "qty": 3}}));
    // A 404 is States.Http.StatusCode.404, the response as its cause.
    assert_eq!(out["missing"]["Error"], "States.Http.StatusCode.404", "{out}");
    let cause: Value = serde_json::from_str(out["missing"]["Cause"].as_str().unwrap()).unwrap();
    assert_eq!((&cause["StatusCode"], &cause["ResponseBody"]), (&json!(404), &json!({"message": "no such thing"})), "{cause}");
    // Outside the allow-list: refused before any traffic, naming the config keys.
    let refusal = out["outside"]["Cause"].as_str().unwrap();
    assert_eq!(out["outside"]["Error"], "States.Permissions");
    assert!(refusal.contains(&http.url("/secret")) && refusal.contains("[http_tasks.\"http-calls\"]"), "{refusal}");
    assert!(refusal.contains(&format!("[http_tasks.\"{connection}\"]")), "{refusal}");
    assert!(!http.seen().iter().any(|p| p.starts_with("/secret")), "{:?}", http.seen());

    // TestState and a synchronous (EXPRESS) execution call under the same grants.
    let tested = call(&server, "TestState", json!({"definition": post_alone.to_string(), "roleArn": ROLE, "input": r#"{"sku": "B-2"}"#}));
    assert_eq!(tested["status"], "SUCCEEDED", "{tested}");
    let tested: Value = serde_json::from_str(tested["output"].as_str().unwrap()).unwrap();
    assert_eq!(tested["post"]["ResponseBody"], json!({"received": {"sku": "B-2", "qty": 3}}), "{tested}");
    let express = call(
        &server,
        "CreateStateMachine",
        json!({"name": "http-express", "type": "EXPRESS", "roleArn": ROLE,
            "definition": json!({"StartAt": "Post", "States": {"Post": post_alone}}).to_string()}),
    );
    let synced = call(&server, "StartSyncExecution", json!({"stateMachineArn": express["stateMachineArn"], "input": r#"{"sku": "C-3"}"#}));
    let synced = output(&synced);
    assert_eq!(synced["post"]["ResponseBody"], json!({"received": {"sku": "C-3", "qty": 3}}), "{synced}");
}

/// A definition that starts two executions of itself and ends would double
/// its open executions each generation, without end. Under
/// `--max-open-executions 16` the starts past the cap are refused with
/// `ExecutionLimitExceeded` (the task fails with
/// `StepFunctions.ExecutionLimitExceeded`), so the cascade ends after a
/// bounded number of executions and `serve` goes on answering.
#[test]
fn a_definition_starting_itself_without_end_stops_at_the_open_executions_cap() {
    let dir = scratch("nested-fork-bomb");
    let server = ApiServer::start(&dir.join("store.sqlite"), &["--max-open-executions", "16"]);
    let again = |name: &str| {
        json!({"StartAt": name, "States": {name: {
            "Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
            "Parameters": {"StateMachineArn.$": "$$.StateMachine.Id", "Input": {}}, "End": true}}})
    };
    let bomb = create(
        &server,
        "bomb",
        json!({"StartAt": "Fork", "States": {"Fork": {"Type": "Parallel", "Branches": [again("Left"), again("Right")], "End": true}}}),
    );
    call(&server, "StartExecution", json!({"stateMachineArn": bomb, "name": "first"}));
    let all = || {
        let listed = call(&server, "ListExecutions", json!({"stateMachineArn": bomb, "maxResults": 1000}));
        listed["executions"].as_array().unwrap().clone()
    };
    wait_for("the cascade to end", || {
        let executions = all();
        executions.len() > 1 && executions.iter().all(|e| e["status"] != "RUNNING")
    });
    let executions = all();
    // Each generation is at most the cap (plus what arrives between two of
    // the host's passes); without the cap the count doubles without end.
    assert!(executions.len() < 500, "{} executions", executions.len());
    let refused = executions.iter().filter(|e| e["status"] == "FAILED").find_map(|e| {
        let described = call(&server, "DescribeExecution", json!({"executionArn": e["executionArn"]}));
        described["cause"].as_str().filter(|c| c.contains("ExecutionLimitExceeded")).map(str::to_string)
    });
    assert!(refused.is_some(), "no execution failed on the cap: {executions:?}");
    // And the host takes work again once it has counted the ended ones
    // (at its next pass, within its poll interval).
    let after = create(&server, "after", json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}));
    wait_for("a start to be taken again", || {
        let (status, answer) = server.call("AWSStepFunctions.StartExecution", &json!({"stateMachineArn": after, "name": "still-served"}));
        assert!(status == 200 || answer["__type"] == "ExecutionLimitExceeded", "{status} {answer}");
        status == 200
    });
}
