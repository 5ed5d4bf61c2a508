//! Mocked service integrations as AWS Step Functions Local reads them
//! (`tests/mocks/MockConfigFile.json`): a definition of DynamoDB, SQS and
//! SNS tasks that no module maps, run through `serve`'s API with
//! `stateMachineArn#TestCase` and through `stepwasm run --test-case`; Retry
//! and Catch on thrown errors, repeat ranges, an invocation past the mock,
//! an unknown test case, a bad file, a resumed execution picking the same
//! responses, `--wait-time-scale 0`, TestState's `mock` and `variables`,
//! and an SFN Local style boto3 suite (`tests/api/sfn_local_suite.py`)
//! run unchanged against `serve`.

use crate::support::python::run_python;
use crate::support::{root, scratch, stepwasm, wait_for, ApiServer};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const ROLE: &str = "arn:aws:iam::123456789012:role/stepwasm";
const ORDER: &str = r#"{"orderId": "o-1", "sku": "A-1"}"#;

fn mocks(file: &str) -> PathBuf {
    root().join("tests/mocks").join(file)
}

fn mock_config() -> String {
    mocks("MockConfigFile.json").to_str().unwrap().to_string()
}

/// Creates the state machine `name` from `tests/mocks/<name>.asl.json`; its ARN.
fn create(server: &ApiServer, name: &str) -> String {
    let definition = std::fs::read_to_string(mocks(&format!("{name}.asl.json"))).unwrap();
    let created = server.ok("AWSStepFunctions.CreateStateMachine", json!({"name": name, "definition": definition, "roleArn": ROLE}));
    created["stateMachineArn"].as_str().unwrap().to_string()
}

/// Runs `arn#test_case` to its end: (DescribeExecution, history events).
fn run_case(server: &ApiServer, arn: &str, test_case: &str, name: &str) -> (Value, Vec<Value>) {
    let execution = server.start_execution(&format!("{arn}#{test_case}"), name, ORDER);
    let described = server.wait_for_end(&execution);
    (described, history(server, &execution))
}

fn history(server: &ApiServer, execution: &str) -> Vec<Value> {
    let page = server.ok("AWSStepFunctions.GetExecutionHistory", json!({"executionArn": execution, "maxResults": 1000}));
    page["events"].as_array().unwrap().clone()
}

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

/// The errors of the `TaskFailed` events, in order.
fn task_errors(events: &[Value]) -> Vec<(String, String)> {
    of_type(events, "TaskFailed")
        .iter()
        .map(|e| {
            let details = &e["taskFailedEventDetails"];
            (details["error"].as_str().unwrap_or_default().to_string(), details["cause"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

/// The names of the states entered, in order.
fn entered(events: &[Value]) -> Vec<String> {
    events.iter().filter_map(|e| e["stateEnteredEventDetails"]["name"].as_str()).map(str::to_string).collect()
}

fn output(described: &Value) -> Value {
    serde_json::from_str(described["output"].as_str().unwrap_or_else(|| panic!("no output: {described}"))).unwrap()
}

const THROTTLED: &str = "DynamoDB.ProvisionedThroughputExceededException";

#[test]
fn a_mock_config_drives_dynamodb_sqs_and_sns_tasks_through_the_api() {
    let dir = scratch("mocks-api");
    let server = ApiServer::start(&dir.join("store.sqlite"), &["--mock-config", &mock_config(), "--wait-time-scale", "0"]);
    let arn = create(&server, "OrderFulfilment");

    // Every Task mocked; the hour-long Wait ends at once (scale 0).
    let (described, events) = run_case(&server, &arn, "HappyPath", "happy");
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    let out = output(&described);
    assert_eq!(out["saved"], json!({"SdkHttpMetadata": {"HttpStatusCode": 200}}), "Return is the task's result: {out}");
    assert_eq!(out["stock"], json!({"remaining": "41"}), "ResultSelector applies to it: {out}");
    assert_eq!((&out["shipment"]["messageId"], &out["notified"]["messageId"]), (&json!("sqs-message-1"), &json!("sns-message-1")));
    let at = |kind: &str| of_type(&events, kind)[0]["timestamp"].as_f64().unwrap();
    let waited = at("WaitStateExited") - at("WaitStateEntered");
    assert!((0.0..60.0).contains(&waited), "a 3600 s Wait took {waited} s under --wait-time-scale 0");
    assert!(task_errors(&events).is_empty());

    // "0-1" throws twice: Retry takes both, "2" returns.
    let (described, events) = run_case(&server, &arn, "ThrottledThenReserved", "throttled");
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    assert_eq!(output(&described)["stock"], json!({"remaining": "7"}));
    let errors = task_errors(&events);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors.iter().all(|(error, _)| error == THROTTLED), "{errors:?}");
    assert_eq!(of_type(&events, "TaskScheduled").len(), 6, "SaveOrder, ReserveStock 3 times, QueueShipment, NotifyCustomer");

    // "0-2" throws three times: Retry's 2 attempts, then Catch to NotifyFailure.
    let (described, events) = run_case(&server, &arn, "OutOfStock", "out-of-stock");
    assert_eq!((described["status"].as_str(), described["error"].as_str()), (Some("FAILED"), Some("OrderFailed")), "{described}");
    assert_eq!(task_errors(&events).len(), 3);
    assert_eq!(entered(&events), ["SaveOrder", "ReserveStock", "NotifyFailure", "OrderFailed"]);
    let failure_input: Value = serde_json::from_str(
        events.iter().find(|e| e["stateEnteredEventDetails"]["name"] == "NotifyFailure").unwrap()["stateEnteredEventDetails"]["input"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(failure_input["error"]["Error"], THROTTLED, "the catcher's ResultPath: {failure_input}");

    // A retry past the mock's last key fails the execution, which no Catch takes.
    let (described, _) = run_case(&server, &arn, "ThrottledPastTheMock", "past");
    assert_eq!(described["error"], "States.Runtime", "{described}");
    let cause = described["cause"].as_str().unwrap();
    assert!(cause.contains("state \"ReserveStock\" is run for the 2nd time") && cause.contains("answers invocations 0 only"), "{cause}");

    // A state neither mapped nor mocked fails when reached, naming itself and the key.
    let (described, events) = run_case(&server, &arn, "OnlySaveMocked", "unmapped");
    let (_, cause) = &task_errors(&events)[0];
    assert!(
        cause.contains("state \"ReserveStock\": no module is mapped to \"arn:aws:states:::dynamodb:updateItem\"")
            && cause.contains("[resources.\"arn:aws:states:::dynamodb:updateItem\"]"),
        "{cause}"
    );
    assert_eq!(described["status"], "FAILED", "caught, then NotifyFailure is not mapped either: {described}");
    assert!(described["cause"].as_str().unwrap().contains("state \"NotifyFailure\""), "{described}");

    // Without `#TestCase` nothing is mocked.
    let plain = server.run_to_end(&arn, "plain", ORDER);
    assert!(plain["cause"].as_str().unwrap().contains("state \"SaveOrder\": no module is mapped"), "{plain}");

    // An unknown test case is refused at StartExecution, naming what there is.
    let (status, body) = server
        .call("AWSStepFunctions.StartExecution", &json!({"stateMachineArn": format!("{arn}#SadPath"), "name": "sad", "input": ORDER}));
    assert_eq!((status, body["__type"].as_str()), (400, Some("ValidationException")), "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("no test case \"SadPath\"") && message.contains("\"HappyPath\""), "{message}");
    let (status, _) =
        server.call("AWSStepFunctions.DescribeExecution", &json!({"executionArn": arn.replace(":stateMachine:", ":execution:") + ":sad"}));
    assert_eq!(status, 400, "nothing was started");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_restarted_host_resumes_a_mocked_execution_with_the_same_responses() {
    let dir = scratch("mocks-resume");
    let store = dir.join("store.sqlite");
    let server = ApiServer::start(&store, &["--mock-config", &mock_config()]);
    let arn = create(&server, "StockPoller");
    let execution = server.start_execution(&format!("{arn}#ReadyOnThirdLook"), "poll", r#"{"sku": "A-1"}"#);
    // The first look throws; its retry is an hour away, so the execution parks.
    wait_for("the first mocked failure", || !task_errors(&history(&server, &execution)).is_empty());
    drop(server);
    // The test case is kept with the execution: `resume` reads it back and
    // goes on from the invocation count its history gives.
    let (code, out, err) = stepwasm(&["resume", "--store", store.to_str().unwrap(), "--mock-config", &mock_config(), "--no-wait"]);
    assert_eq!(code, 0, "{out}{err}");
    let server = ApiServer::start(&store, &[]);
    let described = server.wait_for_end(&execution);
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    assert_eq!(output(&described)["Item"]["stock"], json!({"N": "3"}));
    let causes: Vec<String> = task_errors(&history(&server, &execution)).into_iter().map(|(_, cause)| cause).collect();
    assert_eq!(causes, ["first look", "second look"], "each response once, in order, across the restart");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn run_takes_a_mock_config_and_a_test_case() {
    let definition = mocks("OrderFulfilment.asl.json");
    let run = |test_case: &str| {
        let (code, out, err) = stepwasm(&[
            "run",
            definition.to_str().unwrap(),
            "--input",
            ORDER,
            "--no-wait",
            "--output",
            "json",
            "--mock-config",
            &mock_config(),
            "--test-case",
            test_case,
        ]);
        (code, serde_json::from_str::<Value>(&out).unwrap_or(Value::Null), err)
    };
    let (code, happy, err) = run("HappyPath");
    assert_eq!((code, happy["status"].as_str()), (0, Some("SUCCEEDED")), "{happy} {err}");
    assert_eq!(happy["output"]["stock"], json!({"remaining": "41"}), "{happy}");
    let (code, out_of_stock, _) = run("OutOfStock");
    assert_eq!((code, out_of_stock["error"].as_str()), (1, Some("OrderFailed")), "{out_of_stock}");

    let (code, _, err) = run("SadPath");
    assert_ne!(code, 0);
    assert!(err.contains("--test-case SadPath") && err.contains("no test case \"SadPath\""), "{err}");
    let (code, _, err) = stepwasm(&["run", definition.to_str().unwrap(), "--input", ORDER, "--test-case", "HappyPath"]);
    assert_ne!(code, 0);
    assert!(err.contains("no mock config was given"), "{err}");
}

#[test]
fn a_bad_mock_config_is_refused_where_it_is_wrong() {
    let dir = scratch("mocks-bad");
    let bad = dir.join("MockConfigFile.json");
    std::fs::write(
        &bad,
        r#"{"StateMachines": {"OrderFulfilment": {"TestCases": {"T": {"SaveOrder": "Missing"}}}}, "MockedResponses": {}}"#,
    )
    .unwrap();
    let expected =
        "StateMachines.OrderFulfilment.TestCases.T.SaveOrder: names the mocked response \"Missing\", which MockedResponses does not define";
    let definition = mocks("OrderFulfilment.asl.json");
    let (code, _, err) = stepwasm(&["run", definition.to_str().unwrap(), "--mock-config", bad.to_str().unwrap(), "--test-case", "T"]);
    assert_ne!(code, 0);
    assert!(err.contains(&format!("mock config {}: {expected}", bad.display())), "{err}");
    // serve refuses to start with it, through the flag or SFN Local's variable.
    let store = dir.join("store.sqlite");
    let (code, _, err) =
        stepwasm(&["serve", "--store", store.to_str().unwrap(), "--listen", "127.0.0.1:0", "--mock-config", bad.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains(expected), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_stepwasm"))
        .args(["serve", "--store", store.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .env("SFN_MOCK_CONFIG", &bad)
        .output()
        .unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains(expected), "{out:?}");
    std::fs::write(&bad, r#"{"StateMachines": {}, "MockedResponses": {"R": {"0": {"Return": 1}, "2": {"Return": 2}}}}"#).unwrap();
    let (_, _, err) = stepwasm(&["run", definition.to_str().unwrap(), "--mock-config", bad.to_str().unwrap(), "--test-case", "T"]);
    assert!(err.contains("MockedResponses.R: no response for invocation 1"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn test_state_takes_a_mock_variables_and_an_inspection_level() {
    let dir = scratch("mocks-test-state");
    let server = ApiServer::start(&dir.join("store.sqlite"), &[]);
    let state = json!({"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
        "Parameters": {"QueueUrl": "q", "MessageBody.$": "$order"}, "ResultSelector": {"id.$": "$.MessageId"},
        "ResultPath": "$.sent", "Retry": [{"ErrorEquals": ["SQS.Throttled"], "IntervalSeconds": 5}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}], "Next": "Done"});
    let test = |extra: Value| {
        let mut params =
            json!({"definition": state.to_string(), "roleArn": ROLE, "input": r#"{"n": 1}"#, "variables": r#"{"order": "o-9"}"#});
        params.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        server.ok("AWSStepFunctions.TestState", params)
    };
    let info = test(json!({"mock": {"result": r#"{"MessageId": "m-1"}"#}}));
    assert_eq!((info["status"].as_str(), info["nextState"].as_str()), (Some("SUCCEEDED"), Some("Done")), "{info}");
    assert_eq!(serde_json::from_str::<Value>(info["output"].as_str().unwrap()).unwrap(), json!({"n": 1, "sent": {"id": "m-1"}}));
    assert!(info.get("inspectionData").is_none(), "INFO: no inspectionData: {info}");

    let debug = test(json!({"mock": {"result": r#"{"MessageId": "m-1"}"#, "fieldValidationMode": "NONE"}, "inspectionLevel": "DEBUG"}));
    let data = &debug["inspectionData"];
    let parsed =
        |field: &str| serde_json::from_str::<Value>(data[field].as_str().unwrap_or_else(|| panic!("no {field}: {debug}"))).unwrap();
    assert_eq!(parsed("afterParameters"), json!({"QueueUrl": "q", "MessageBody": "o-9"}), "the variable was set");
    assert_eq!(parsed("result"), json!({"MessageId": "m-1"}));
    assert_eq!(parsed("afterResultSelector"), json!({"id": "m-1"}));
    assert_eq!(parsed("afterResultPath"), json!({"n": 1, "sent": {"id": "m-1"}}));
    assert_eq!(parsed("variables"), json!({"order": "o-9"}));

    let retriable = test(json!({"mock": {"errorOutput": {"error": "SQS.Throttled", "cause": "slow down"}}, "inspectionLevel": "TRACE"}));
    assert_eq!((retriable["status"].as_str(), retriable["cause"].as_str()), (Some("RETRIABLE"), Some("slow down")), "{retriable}");
    assert_eq!(retriable["inspectionData"]["errorDetails"], json!({"retryIndex": 0, "retryBackoffIntervalSeconds": 5}));
    let caught = test(json!({"mock": {"errorOutput": {"error": "SQS.Gone", "cause": "no queue"}}, "inspectionLevel": "DEBUG"}));
    assert_eq!((caught["status"].as_str(), caught["nextState"].as_str()), (Some("CAUGHT_ERROR"), Some("Failed")), "{caught}");
    assert_eq!(caught["inspectionData"]["errorDetails"], json!({"catchIndex": 0}));

    for (extra, expected) in [
        (json!({"mock": {"result": "{"}}), "mock.result is not JSON"),
        (json!({"mock": {}}), "mock has a result"),
        (json!({"inspectionLevel": "LOUD"}), "inspectionLevel is INFO, DEBUG or TRACE"),
        (json!({"variables": "[1]"}), "variables is a JSON object"),
    ] {
        let mut params = json!({"definition": state.to_string(), "roleArn": ROLE, "input": "{}"});
        params.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let (status, body) = server.call("AWSStepFunctions.TestState", &params);
        assert_eq!((status, body["__type"].as_str()), (400, Some("ValidationException")), "{extra}: {body}");
        assert!(body["message"].as_str().unwrap().contains(expected), "{extra}: {body}");
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// An SFN Local test suite in the style of AWS's sam-sfn-local samples,
/// unchanged: it creates its state machine, starts `arn#TestCase`
/// executions with boto3 and asserts on their history. `serve` is set up as
/// SFN Local is: `SFN_MOCK_CONFIG` and `WAIT_TIME_SCALE` in its environment.
#[test]
fn an_sfn_local_test_suite_runs_unchanged_against_serve() {
    let dir = scratch("mocks-sfn-local-suite");
    let server =
        ApiServer::start_with_env(&dir.join("store.sqlite"), &[], &[("SFN_MOCK_CONFIG", &mock_config()), ("WAIT_TIME_SCALE", "0")]);
    let output = run_python("the SFN Local suite", &dir, Duration::from_secs(300), Some(&server), |command| {
        command
            .args(["-m", "unittest", "-v", "sfn_local_suite"])
            .current_dir(root().join("tests/api"))
            .env("STEP_FUNCTIONS_ENDPOINT", &server.endpoint)
            .env("MOCKS_DIR", root().join("tests/mocks"));
    });
    // unittest reports on stderr; "OK" ends a run in which every test passed.
    assert!(output.stderr.contains("\nOK"), "{}", output.report);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A mocked `.waitForTaskToken` task answers at once, as in SFN Local: its
/// `Return` is the task's result and no token is waited for (the state's
/// `TimeoutSeconds` would fail it if one were); so does a mocked activity,
/// with no worker, its history in AWS's Activity events.
#[test]
fn a_mocked_task_that_waits_for_its_token_or_a_worker_answers_at_once() {
    let dir = scratch("mocks-token");
    let definition = dir.join("Approval.asl.json");
    std::fs::write(
        &definition,
        r#"{"StartAt": "AskApproval", "States": {"AskApproval": {
            "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "TimeoutSeconds": 5,
            "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/approvals",
                           "MessageBody": {"token.$": "$$.Task.Token"}},
            "ResultPath": "$.approval", "Next": "Ship"},
          "Ship": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:shipping",
            "TimeoutSeconds": 5, "ResultPath": "$.shipping", "End": true}}}"#,
    )
    .unwrap();
    let config = dir.join("MockConfigFile.json");
    std::fs::write(
        &config,
        r#"{"StateMachines": {"Approval": {"TestCases": {"Approved": {"AskApproval": "ApprovedResponse", "Ship": "Shipped"}}}},
            "MockedResponses": {"ApprovedResponse": {"0": {"Return": {"approved": true}}},
                                "Shipped": {"0": {"Return": {"parcel": "P-1"}}}}}"#,
    )
    .unwrap();
    let store = dir.join("s.sqlite");
    let (code, out, err) = stepwasm(&[
        "run",
        definition.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "--mock-config",
        config.to_str().unwrap(),
        "--test-case",
        "Approved",
        "--history",
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let record: Value = serde_json::from_str(&out).unwrap();
    let output = json!({"approval": {"approved": true}, "shipping": {"parcel": "P-1"}});
    assert_eq!((record["status"].as_str(), &record["output"]), (Some("SUCCEEDED"), &output), "{record}");
    let types: Vec<&str> = record["events"].as_array().unwrap().iter().filter_map(|e| e["type"].as_str()).collect();
    assert!(types.contains(&"TaskSucceeded") && !types.contains(&"TaskSubmitted"), "{types:?}");
    let activity: Vec<&str> = types.iter().copied().filter(|t| t.starts_with("Activity")).collect();
    assert_eq!(activity, ["ActivityScheduled", "ActivityStarted", "ActivitySucceeded"], "{types:?}");
}
