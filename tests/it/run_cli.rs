//! `stepwasm run`'s flags that shape the execution itself (not its output):
//! the role it runs as.

use crate::support::{scratch, stepwasm};
use serde_json::Value;

/// `$$.Execution.RoleArn` is the role given with `--role-arn`, or the
/// documented default; a role that is not an IAM role ARN is refused before
/// anything runs.
#[test]
fn run_takes_the_role_the_execution_runs_as() {
    let dir = scratch("run-role-arn");
    let definition = dir.join("role.asl.json");
    std::fs::write(
        &definition,
        r#"{"StartAt": "Who", "States": {"Who": {"Type": "Pass", "Parameters": {"role.$": "$$.Execution.RoleArn"}, "End": true}}}"#,
    )
    .unwrap();
    let path = definition.to_str().unwrap();
    let role_of = |extra: &[&str]| {
        let mut args = vec!["run", path, "--output", "json"];
        args.extend_from_slice(extra);
        let (code, out, err) = stepwasm(&args);
        assert_eq!(code, 0, "{out}{err}");
        let record: Value = serde_json::from_str(&out).unwrap();
        record["output"]["role"].as_str().unwrap().to_string()
    };
    assert_eq!(role_of(&[]), "arn:aws:iam::000000000000:role/stepwasm-execution");
    assert_eq!(role_of(&["--role-arn", "arn:aws:iam::123456789012:role/orders"]), "arn:aws:iam::123456789012:role/orders");
    let (code, _, err) = stepwasm(&["run", path, "--role-arn", "orders"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--role-arn \"orders\" is not an IAM role ARN"), "{err}");
}
