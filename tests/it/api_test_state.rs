//! TestState through the HTTP API: one state of the order example, and
//! states of every outcome, run on their own against the example's modules.

use crate::support::{guest_dir, root, scratch, ApiServer};
use serde_json::{json, Value};

fn test_state(server: &ApiServer, state: &Value, input: &str) -> Value {
    server.ok(
        "AWSStepFunctions.TestState",
        // DEBUG: with inspectionData (the task's result); INFO has none.
        json!({"definition": state.to_string(), "roleArn": "arn:aws:iam::000000000000:role/r", "input": input, "inspectionLevel": "DEBUG"}),
    )
}

fn output(answer: &Value) -> Value {
    serde_json::from_str(answer["output"].as_str().unwrap_or_else(|| panic!("no output: {answer}"))).unwrap()
}

#[test]
fn each_outcome_of_a_state_tested_alone() {
    guest_dir();
    let dir = scratch("api-test-state");
    let config = root().join("examples/order/stepwasm.toml");
    let server = ApiServer::start(&dir.join("store.sqlite"), &["--config", config.to_str().unwrap()]);
    let order: Value = serde_json::from_str(&std::fs::read_to_string(root().join("examples/order/order.asl.json")).unwrap()).unwrap();
    let verify = &order["States"]["VerifyPayment"];
    let input = |name: &str| std::fs::read_to_string(root().join(format!("examples/order/inputs/{name}.json"))).unwrap();

    let paid = test_state(&server, verify, &input("paid-order"));
    assert_eq!((paid["status"].as_str(), paid["nextState"].as_str()), (Some("SUCCEEDED"), verify["Next"].as_str()), "{paid}");
    assert_eq!(output(&paid)["paymentResult"]["approved"], true);
    let result: Value = serde_json::from_str(paid["inspectionData"]["result"].as_str().unwrap()).unwrap();
    assert_eq!(result["paymentResult"]["cardLast4"], "1111", "the task's own result");

    let declined = test_state(&server, verify, &input("declined-payment"));
    assert_eq!(declined["status"], "CAUGHT_ERROR", "{declined}");
    assert_eq!(declined["nextState"], verify["Catch"][0]["Next"]);
    assert_eq!(declined["error"], "PaymentVerificationFailed");
    assert!(declined["cause"].as_str().unwrap().contains("declined"), "{declined}");

    let mut retried = verify.clone();
    retried["Retry"] = json!([{"ErrorEquals": ["PaymentVerificationFailed"], "MaxAttempts": 3}]);
    retried.as_object_mut().unwrap().remove("Catch");
    let retriable = test_state(&server, &retried, &input("declined-payment"));
    assert_eq!(
        (retriable["status"].as_str(), retriable["error"].as_str()),
        (Some("RETRIABLE"), Some("PaymentVerificationFailed")),
        "{retriable}"
    );
    retried.as_object_mut().unwrap().remove("Retry");
    let failed = test_state(&server, &retried, &input("declined-payment"));
    assert_eq!(failed["status"], "FAILED", "{failed}");

    let choice = json!({"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": 1, "Next": "One"}], "Default": "Other"});
    let chosen = test_state(&server, &choice, r#"{"x": 1}"#);
    assert_eq!((chosen["status"].as_str(), chosen["nextState"].as_str()), (Some("SUCCEEDED"), Some("One")), "{chosen}");
    assert_eq!(test_state(&server, &choice, r#"{"x": 2}"#)["nextState"], "Other");

    let pass = json!({"Type": "Pass", "Result": {"a": 1}, "ResultPath": "$.r", "End": true});
    let passed = test_state(&server, &pass, r#"{"b": 2}"#);
    assert_eq!(output(&passed), json!({"b": 2, "r": {"a": 1}}));
    assert!(passed.get("nextState").is_none(), "{passed}");

    // A day-long Wait answers at once.
    let waited = test_state(&server, &json!({"Type": "Wait", "Seconds": 86400, "Next": "After"}), "{}");
    assert_eq!((waited["status"].as_str(), waited["nextState"].as_str()), (Some("SUCCEEDED"), Some("After")));

    let fail = test_state(&server, &json!({"Type": "Fail", "Error": "Nope", "Cause": "said no"}), "{}");
    assert_eq!((fail["status"].as_str(), fail["error"].as_str(), fail["cause"].as_str()), (Some("FAILED"), Some("Nope"), Some("said no")));

    for (state, says) in [(json!([1]), "one state"), (json!({"Type": "Pass", "Next": 5}), "Next")] {
        let (status, body) =
            server.call("AWSStepFunctions.TestState", &json!({"definition": state.to_string(), "roleArn": "arn:aws:iam::0:role/r"}));
        assert_eq!((status, body["__type"].as_str()), (400, Some("InvalidDefinition")), "{state}: {body}");
        assert!(body["message"].as_str().unwrap().contains(says), "{state}: {body}");
    }
    // A resource nothing maps is accepted, as AWS accepts it, and fails when run.
    let unmapped =
        test_state(&server, &json!({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:Unmapped", "End": true}), "{}");
    assert_eq!((unmapped["status"].as_str(), unmapped["error"].as_str()), (Some("FAILED"), Some("States.TaskFailed")), "{unmapped}");
    assert!(unmapped["cause"].as_str().unwrap().contains("no module is mapped"), "{unmapped}");
}
