//! AWS's optimized Lambda integration, `arn:aws:states:::lambda:invoke`, as a
//! definition written for AWS calls it: the task's parameters name the
//! function (`FunctionName`: a name, a full or partial ARN, with or without a
//! `:version` or `:alias` qualifier), which the config maps by its Lambda ARN
//! (`[resources."arn:aws:lambda:REGION:ACCOUNT:function:NAME"]`, the entry a
//! direct Lambda ARN uses too); the module runs on `Payload`, and its output
//! comes back inside Lambda's Invoke response (`Payload` parsed, `StatusCode`
//! 200, `ExecutedVersion`), so `OutputPath: "$.Payload"` gives what the
//! handler returned. A handler's error is the task's error, its cause the
//! function-error JSON Lambda reports (`errorType`, `errorMessage`).

use serde_json::{json, Value};
use stepwasm_asl::template::Template;
use stepwasm_asl::TaskState;

/// The resource of the integration (`.waitForTaskToken` may follow).
pub const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";

/// True for `lambda:invoke` and `lambda:invoke.waitForTaskToken`.
pub fn is_lambda_invoke(resource: &str) -> bool {
    resource.strip_suffix(stepwasm_asl::WAIT_FOR_TASK_TOKEN).unwrap_or(resource) == LAMBDA_INVOKE
}

/// A function as `FunctionName` or a config key names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionRef<'a> {
    pub name: &'a str,
    /// A version number or an alias.
    pub qualifier: Option<&'a str>,
    /// The full ARN's region and account, when it was one.
    pub region_account: Option<(&'a str, &'a str)>,
}

/// Reads `FunctionName` as Lambda's Invoke does: `name`, `name:qualifier`,
/// `account:function:name[:qualifier]` or
/// `arn:PARTITION:lambda:region:account:function:name[:qualifier]`.
pub fn parse_function(text: &str) -> Option<FunctionRef<'_>> {
    let parts: Vec<&str> = text.split(':').collect();
    let (name, qualifier, region_account) = match parts.as_slice() {
        [name] => (*name, None, None),
        [name, qualifier] => (*name, Some(*qualifier), None),
        [_, "function", name] => (*name, None, None),
        [_, "function", name, qualifier] => (*name, Some(*qualifier), None),
        ["arn", _, "lambda", region, account, "function", name] => (*name, None, Some((*region, *account))),
        ["arn", _, "lambda", region, account, "function", name, qualifier] => (*name, Some(*qualifier), Some((*region, *account))),
        _ => return None,
    };
    let valid_name = (1..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let valid_qualifier =
        qualifier.is_none_or(|q| (1..=128).contains(&q.len()) && q.chars().all(|c| c.is_ascii_alphanumeric() || "-_$".contains(c)));
    (valid_name && valid_qualifier).then_some(FunctionRef { name, qualifier, region_account })
}

/// The function a config key maps, when the key is a Lambda function ARN.
pub fn configured_function(key: &str) -> Option<FunctionRef<'_>> {
    parse_function(key).filter(|f| f.region_account.is_some())
}

/// Which of `keys` (config keys, or loaded resources) runs `function`: the
/// Lambda ARN with its name (and, when `function` is a full ARN, its region
/// and account, if several are mapped). Why none, or which ones, otherwise.
pub fn match_function<'k>(keys: impl Iterator<Item = &'k str>, function: &str) -> Result<&'k str, String> {
    let wanted = parse_function(function).ok_or_else(|| format!("FunctionName {function:?} is not a Lambda function name or ARN"))?;
    let named: Vec<&str> = keys.filter(|k| configured_function(k).is_some_and(|f| f.name == wanted.name)).collect();
    let exact: Vec<&str> = match wanted.region_account {
        Some(place) if named.len() > 1 => {
            named.iter().copied().filter(|k| configured_function(k).and_then(|f| f.region_account) == Some(place)).collect()
        }
        _ => named.clone(),
    };
    match exact.as_slice() {
        [one] => Ok(one),
        [] => Err(format!(
            "no Lambda function named {:?} is mapped: add [resources.\"arn:aws:lambda:REGION:ACCOUNT:function:{}\"] to the config",
            wanted.name, wanted.name
        )),
        several => Err(format!("FunctionName {function:?} matches several mapped functions ({}): give its full ARN", several.join(", "))),
    }
}

/// The function name a `lambda:invoke` task's parameters give as written
/// (`FunctionName` a literal string); `None` when it is computed at run time.
pub fn static_function_name(task: &TaskState) -> Option<&str> {
    match task.io.parameters.as_ref()? {
        Template::Literal(Value::Object(fields)) => fields.get("FunctionName")?.as_str(),
        Template::Object(fields) => match fields.iter().find(|(k, _)| k == "FunctionName") {
            Some((_, Template::Literal(Value::String(name)))) => Some(name.as_str()),
            _ => None,
        },
        _ => None,
    }
}

/// Lambda's Invoke response around the handler's output, as the optimized
/// integration returns it.
pub fn invoke_response(payload: Value, function: &FunctionRef) -> Value {
    let version = function.qualifier.filter(|q| q.chars().all(|c| c.is_ascii_digit())).unwrap_or("$LATEST");
    json!({
        "ExecutedVersion": version,
        "Payload": payload,
        "SdkHttpMetadata": {"HttpHeaders": {"Content-Type": "application/json", "X-Amz-Executed-Version": version}, "HttpStatusCode": 200},
        "SdkResponseMetadata": {},
        "StatusCode": 200,
    })
}

/// The cause of a handler's error as Lambda reports a function error.
pub fn function_error_cause(error: &str, cause: &str) -> String {
    json!({"errorMessage": cause, "errorType": error, "trace": []}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_function_name_is_read() {
        let f = |name, qualifier, place| Some(FunctionRef { name, qualifier, region_account: place });
        assert_eq!(parse_function("Verify"), f("Verify", None, None));
        assert_eq!(parse_function("Verify:prod"), f("Verify", Some("prod"), None));
        assert_eq!(parse_function("123456789012:function:Verify"), f("Verify", None, None));
        assert_eq!(parse_function("123456789012:function:Verify:7"), f("Verify", Some("7"), None));
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:Verify";
        assert_eq!(parse_function(arn), f("Verify", None, Some(("us-east-1", "123456789012"))));
        assert_eq!(parse_function(&format!("{arn}:$LATEST")), f("Verify", Some("$LATEST"), Some(("us-east-1", "123456789012"))));
        for bad in ["", "a b", "arn:aws:s3:::bucket", "x:y:z", "Verify:"] {
            assert_eq!(parse_function(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_function_is_matched_by_name_and_by_place_when_several_have_it() {
        let keys = [
            "arn:aws:lambda:us-east-1:1:function:A",
            "arn:aws:lambda:eu-west-1:2:function:A",
            "arn:aws:lambda:us-east-1:1:function:B",
            "wasm:A",
        ];
        assert_eq!(match_function(keys.into_iter(), "B:prod"), Ok(keys[2]));
        assert_eq!(match_function(keys.into_iter(), "arn:aws:lambda:eu-west-1:2:function:A:3"), Ok(keys[1]));
        assert!(match_function(keys.into_iter(), "A").unwrap_err().contains("several"));
        assert!(match_function(keys.into_iter(), "C").unwrap_err().contains("function:C\"]"));
    }

    #[test]
    fn the_response_wraps_the_payload_as_lambda_does() {
        let v = invoke_response(json!({"ok": true}), &parse_function("F:4").unwrap());
        assert_eq!(
            (v["Payload"]["ok"].as_bool(), v["StatusCode"].as_i64(), v["ExecutedVersion"].as_str()),
            (Some(true), Some(200), Some("4"))
        );
        assert_eq!(invoke_response(json!(1), &parse_function("F:prod").unwrap())["ExecutedVersion"], "$LATEST");
    }
}
