//! `stepwasm validate`: broken definitions give every problem with its
//! location (exit 2); valid ones pass (exit 0); with a config, resources are
//! checked too.

mod support;

use support::{guest_dir, scratch, stepwasm};

/// (definition, the located problems the output must contain)
const INVALID: &[(&str, &[&str])] = &[
    (
        r#"{"StartAt": "VerifyPayment", "States": {
            "VerifyPayment": {"Type": "Task", "Resource": "wasm:payment", "Next": "UpdateInventry"},
            "UpdateInventory": {"Type": "Succeed"}}}"#,
        &[r#"States.VerifyPayment.Next: no state named "UpdateInventry""#, "States.UpdateInventory: state is not reachable from StartAt"],
    ),
    (r#"{"States": {"A": {"Type": "Succeed"}}}"#, &["(definition): missing required field StartAt"]),
    (r#"{"StartAt": "A"}"#, &["(definition): missing required field States"]),
    (r#"{"StartAt": "A", "States": {}}"#, &["States: States must contain at least one state"]),
    (r#"{"StartAt": "A", "States": {"A": {"Type": "Pass"}}}"#, &[r#"States.A: missing Next or "End": true"#]),
    (r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": false}}}"#, &["States.A.End: End must be true when present"]),
    (r#"{"StartAt": "A", "States": {"A": {"Type": "Task", "End": true}}}"#, &["States.A: missing required field Resource"]),
    (r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Foo": 1}}}"#, &[r#"States.A.Foo: field "Foo" is not allowed in a Pass state"#]),
    (r#"{"StartAt": "A", "States": {"A": {"Type": "Fail", "Next": "A"}}}"#, &[r#"States.A.Next: field "Next" is not allowed in a Fail state"#]),
    (r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "InputPath": "a.b"}}}"#, &["States.A.InputPath: invalid path \"a.b\""]),
    (r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "ResultPath": "$.a[*]"}}}"#, &["States.A.ResultPath: invalid path \"$.a[*]\": a reference path must select a single node"]),
    (r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Parameters": {"x.$": "nope"}}}}"#, &["States.A.Parameters.x.$: invalid path \"nope\""]),
    (
        r#"{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": true,
            "Catch": [{"ErrorEquals": ["States.ALL", "X"], "Next": "A"}, {"ErrorEquals": [], "Next": "Z"}]}}}"#,
        &[
            "States.A.Catch[0].ErrorEquals: States.ALL must appear alone in ErrorEquals",
            "States.A.Catch[0].ErrorEquals: a rule with States.ALL must be the last one",
            "States.A.Catch[1].ErrorEquals: ErrorEquals must be a non-empty array of error names",
            r#"States.A.Catch[1].Next: no state named "Z""#,
        ],
    ),
    (
        r#"{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": true,
            "Retry": [{"ErrorEquals": ["X"], "BackoffRate": 0.5, "MaxAttempts": -1, "JitterStrategy": "SOME"}]}}}"#,
        &[
            "States.A.Retry[0].BackoffRate: BackoffRate must be a number of at least 1.0",
            "States.A.Retry[0].MaxAttempts: MaxAttempts must be an integer of at least 0, got -1",
            "States.A.Retry[0].JitterStrategy: JitterStrategy must be FULL or NONE",
        ],
    ),
    (
        r#"{"StartAt": "C", "States": {"C": {"Type": "Choice", "Default": "Nowhere",
            "Choices": [{"Variable": "$.x", "NumericEquals": "1", "Next": "C"}, {"Not": {"Variable": "$.x", "IsNull": true}}]}}}"#,
        &[
            "States.C.Choices[0].NumericEquals: NumericEquals takes a number value",
            "States.C.Choices[1]: a top-level choice rule needs Next",
            r#"States.C.Default: no state named "Nowhere""#,
        ],
    ),
    (r#"{"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true}}}"#, &["States.P: missing required field Branches"]),
    (r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": true}}}"#, &["States.W: a Wait state needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath (found 2)"]),
    (r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Timestamp": "2026-13-01T00:00:00Z", "End": true}}}"#, &[r#"States.W.Timestamp: "2026-13-01T00:00:00Z" is not an RFC 3339 timestamp"#]),
    (r#"{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}}}"#, &["States.F: Error and ErrorPath cannot both be set"]),
    (r#"{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": true, "TimeoutSeconds": 5, "HeartbeatSeconds": 9}}}"#, &["States.A.HeartbeatSeconds: HeartbeatSeconds must be smaller than TimeoutSeconds"]),
    ("{\"StartAt\": \"A\",\n \"States\": {\n", &["line 3 column 0: not valid JSON"]),
    ("[1, 2]", &["(definition): a state machine definition must be a JSON object"]),
];

const VALID: &[&str] = &[
    r#"{"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}"#,
    r#"{"Comment": "c", "Version": "1.0", "TimeoutSeconds": 60, "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Result": {"x": 1}, "ResultPath": "$.r", "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"And": [{"Variable": "$.r.x", "NumericEquals": 1}, {"Variable": "$.r", "IsPresent": true}], "Next": "T"}], "Default": "F"},
        "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:F", "InputPath": "$.r", "Parameters": {"x.$": "$.x", "id.$": "$$.Execution.Id"},
              "ResultSelector": {"y.$": "$.y"}, "ResultPath": null, "OutputPath": "$",
              "Retry": [{"ErrorEquals": ["States.Timeout"], "MaxAttempts": 0}, {"ErrorEquals": ["States.ALL"], "JitterStrategy": "FULL", "MaxDelaySeconds": 5}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}], "TimeoutSeconds": 30, "End": true},
        "F": {"Type": "Fail", "Error": "E", "Cause": "c"}}}"#,
];

#[test]
fn invalid_definitions_report_every_problem_located() {
    let dir = scratch("validate-invalid");
    for (i, (def, expected)) in INVALID.iter().enumerate() {
        let path = dir.join(format!("invalid-{i}.json"));
        std::fs::write(&path, def).unwrap();
        let (code, out, err) = stepwasm(&["validate", path.to_str().unwrap()]);
        assert_eq!(code, 2, "case {i} should be invalid:\n{out}{err}");
        for line in *expected {
            assert!(out.contains(line), "case {i}: expected {line:?} in:\n{out}");
        }
    }
}

#[test]
fn valid_definitions_pass() {
    let dir = scratch("validate-valid");
    for (i, def) in VALID.iter().enumerate() {
        let path = dir.join(format!("valid-{i}.json"));
        std::fs::write(&path, def).unwrap();
        let (code, out, err) = stepwasm(&["validate", path.to_str().unwrap()]);
        assert_eq!(code, 0, "case {i}:\n{out}{err}");
        assert!(out.contains("valid:") && out.contains("resources not checked"), "{out}");
    }
}

#[test]
fn order_example_validates_with_its_resources() {
    guest_dir();
    let (code, out, err) = stepwasm(&["validate", "examples/order/order.asl.json"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("valid: 5 states, 4 task(s); resources checked against"), "{out}");
}

#[test]
fn a_bad_config_is_a_clear_error() {
    let dir = scratch("validate-config");
    std::fs::write(dir.join("def.json"), VALID[0]).unwrap();
    std::fs::write(dir.join("stepwasm.toml"), "[defaults]\nmemory_mib = 0\n").unwrap();
    let (code, _, err) = stepwasm(&["validate", dir.join("def.json").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("stepwasm.toml: defaults.memory_mib must be greater than 0"), "{err}");
}
