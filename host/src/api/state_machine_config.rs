//! A state machine's `loggingConfiguration` and `tracingConfiguration`:
//! read from Create/UpdateStateMachine with AWS's rules, kept in its
//! details, shown back by DescribeStateMachine in AWS's shape. stepwasm
//! sends nothing to CloudWatch Logs or X-Ray; the settings round-trip so
//! that tools which set and check them (CloudFormation, CDK, Terraform)
//! work.
//!
//! AWS's rules: `level` is ALL, ERROR, FATAL or OFF (OFF when absent);
//! `includeExecutionData` a boolean (false when absent); `destinations` at
//! most one, each a `cloudWatchLogsLogGroup.logGroupArn` that is a CloudWatch
//! Logs log group ARN ending in `:*`; a level other than OFF needs a
//! destination.

use super::protocol::ApiError;
use crate::store::LoggingConfiguration;
use serde_json::{json, Value};

const LEVELS: [&str; 4] = ["ALL", "ERROR", "FATAL", "OFF"];

fn invalid_logging(message: impl std::fmt::Display) -> ApiError {
    ApiError::new("InvalidLoggingConfiguration", format!("Invalid Logging Configuration: {message}"))
}

fn wrong_type(field: &str, expected: &str) -> ApiError {
    ApiError::new("SerializationException", format!("'{field}' must be {expected}"))
}

/// `loggingConfiguration` as a request gives it (`None` when absent).
pub fn logging(given: Option<&Value>) -> Result<Option<LoggingConfiguration>, ApiError> {
    let Some(given) = given.filter(|v| !v.is_null()) else { return Ok(None) };
    let Some(fields) = given.as_object() else { return Err(wrong_type("loggingConfiguration", "an object")) };
    let level = match fields.get("level") {
        None | Some(Value::Null) => "OFF",
        Some(Value::String(level)) if LEVELS.contains(&level.as_str()) => level,
        Some(Value::String(level)) => {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{level}' at 'loggingConfiguration.level' failed to satisfy constraint: \
                 Member must satisfy enum value set: [{}]",
                LEVELS.join(", ")
            )))
        }
        Some(_) => return Err(wrong_type("loggingConfiguration.level", "a string")),
    };
    let include_execution_data = match fields.get("includeExecutionData") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(wrong_type("loggingConfiguration.includeExecutionData", "a boolean")),
    };
    let destinations = match fields.get("destinations") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().enumerate().map(|(i, item)| log_group_arn(i, item)).collect::<Result<_, _>>()?,
        Some(_) => return Err(wrong_type("loggingConfiguration.destinations", "a list")),
    };
    if destinations.len() > 1 {
        return Err(invalid_logging(format!("{} destinations given; a state machine logs to at most one", destinations.len())));
    }
    if level != "OFF" && destinations.is_empty() {
        return Err(invalid_logging(format!("level {level} needs a destination (a CloudWatch Logs log group ARN); only OFF logs nowhere")));
    }
    Ok(Some(LoggingConfiguration { level: level.to_string(), include_execution_data, destinations }))
}

/// `destinations[i].cloudWatchLogsLogGroup.logGroupArn`, checked.
fn log_group_arn(i: usize, destination: &Value) -> Result<String, ApiError> {
    let arn = destination.get("cloudWatchLogsLogGroup").and_then(|group| group.get("logGroupArn")).and_then(Value::as_str);
    let Some(arn) = arn else {
        return Err(invalid_logging(format!("destinations[{i}] has no cloudWatchLogsLogGroup.logGroupArn")));
    };
    if !is_log_group_arn(arn) {
        return Err(invalid_logging(format!(
            "destinations[{i}]: {arn:?} is not a CloudWatch Logs log group ARN (arn:aws:logs:<region>:<account>:log-group:<name>:*)"
        )));
    }
    Ok(arn.to_string())
}

/// `arn:<partition>:logs:<region>:<account>:log-group:<name>:*`, at most 256 characters.
fn is_log_group_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.split(':').collect();
    arn.len() <= 256
        && parts.len() == 8
        && parts[0] == "arn"
        && !parts[1].is_empty()
        && parts[2] == "logs"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5] == "log-group"
        && !parts[6].is_empty()
        && parts[7] == "*"
}

/// `tracingConfiguration` as a request gives it: its `enabled` (`None` when absent).
pub fn tracing(given: Option<&Value>) -> Result<Option<bool>, ApiError> {
    let Some(given) = given.filter(|v| !v.is_null()) else { return Ok(None) };
    let Some(fields) = given.as_object() else { return Err(wrong_type("tracingConfiguration", "an object")) };
    match fields.get("enabled") {
        None | Some(Value::Null) => Ok(Some(false)),
        Some(Value::Bool(enabled)) => Ok(Some(*enabled)),
        Some(_) => Err(wrong_type("tracingConfiguration.enabled", "a boolean")),
    }
}

/// The loggingConfiguration DescribeStateMachine shows (level OFF when never set).
pub fn logging_json(logging: Option<&LoggingConfiguration>) -> Value {
    let default = LoggingConfiguration { level: "OFF".into(), ..LoggingConfiguration::default() };
    let logging = logging.unwrap_or(&default);
    let mut shown = json!({"level": logging.level, "includeExecutionData": logging.include_execution_data});
    if !logging.destinations.is_empty() {
        let destinations: Vec<Value> =
            logging.destinations.iter().map(|arn| json!({"cloudWatchLogsLogGroup": {"logGroupArn": arn}})).collect();
        shown["destinations"] = json!(destinations);
    }
    shown
}

/// The tracingConfiguration DescribeStateMachine shows.
pub fn tracing_json(enabled: bool) -> Value {
    json!({"enabled": enabled})
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUP: &str = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/states/order:*";

    #[test]
    fn logging_follows_aws_rules() {
        assert_eq!(logging(None).unwrap(), None);
        let off = logging(Some(&json!({}))).unwrap().unwrap();
        assert_eq!((off.level.as_str(), off.include_execution_data, off.destinations.len()), ("OFF", false, 0));
        let all =
            json!({"level": "ALL", "includeExecutionData": true, "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": GROUP}}]});
        let kept = logging(Some(&all)).unwrap().unwrap();
        assert_eq!(logging_json(Some(&kept)), all, "shown back as given");
        assert_eq!(logging_json(None), json!({"level": "OFF", "includeExecutionData": false}));
        for (bad, code) in [
            (json!({"level": "ERROR"}), "InvalidLoggingConfiguration"),
            (json!({"level": "ALL", "destinations": []}), "InvalidLoggingConfiguration"),
            (
                json!({"level": "ALL", "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": "arn:aws:logs:us-east-1:123456789012:log-group:x"}}]}),
                "InvalidLoggingConfiguration",
            ),
            (json!({"level": "OFF", "destinations": [{"cloudWatchLogsLogGroup": {}}]}), "InvalidLoggingConfiguration"),
            (
                json!({"level": "ALL", "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": GROUP}}, {"cloudWatchLogsLogGroup": {"logGroupArn": GROUP}}]}),
                "InvalidLoggingConfiguration",
            ),
            (json!({"level": "VERBOSE"}), "ValidationException"),
            (json!({"level": 1}), "SerializationException"),
            (json!({"includeExecutionData": "yes"}), "SerializationException"),
        ] {
            assert_eq!(logging(Some(&bad)).unwrap_err().code, code, "{bad}");
        }
    }

    #[test]
    fn tracing_is_a_boolean() {
        assert_eq!(tracing(None).unwrap(), None);
        assert_eq!(tracing(Some(&json!({"enabled": true}))).unwrap(), Some(true));
        assert_eq!(tracing(Some(&json!({}))).unwrap(), Some(false));
        assert_eq!(tracing(Some(&json!({"enabled": "on"}))).unwrap_err().code, "SerializationException");
        assert_eq!(tracing_json(true), json!({"enabled": true}));
    }
}
