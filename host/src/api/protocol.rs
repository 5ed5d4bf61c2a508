//! The AWS JSON 1.0 protocol as Step Functions speaks it: the error shape
//! (`__type` + `message`, HTTP 4xx), request fields read with AWS's error
//! codes, names and ARNs checked, dates (page tokens: [`super::pagination`]).

use serde_json::{json, Map, Value};

/// The largest request body (and definition) the API takes: 1 MiB.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// An error answer: its HTTP status, AWS error code and message.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    /// A client error (400) with AWS error `code`.
    pub fn new(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status: 400, code, message: message.into() }
    }

    pub fn with_status(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into() }
    }

    pub fn validation(message: impl Into<String>) -> ApiError {
        ApiError::new("ValidationException", message)
    }

    /// A problem of the host, not of the request (a store error).
    pub fn internal(message: impl std::fmt::Display) -> ApiError {
        ApiError::with_status(500, "InternalServerError", message.to_string())
    }

    /// The response body.
    pub fn body(&self) -> Value {
        json!({"__type": self.code, "message": self.message})
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> ApiError {
        ApiError::internal(e)
    }
}

/// A request's parameters: the JSON object of its body.
pub struct Params(Map<String, Value>);

impl Params {
    /// Parses a body; an empty one is `{}`.
    pub fn parse(body: &[u8]) -> Result<Params, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Params(Map::new()));
        }
        match serde_json::from_slice(body) {
            Ok(Value::Object(map)) => Ok(Params(map)),
            Ok(other) => {
                Err(ApiError::new("SerializationException", format!("the request body must be a JSON object, not {}", kind(&other))))
            }
            Err(e) => Err(ApiError::new("SerializationException", format!("the request body is not valid JSON: {e}"))),
        }
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    /// A string field that must be there.
    pub fn required_str(&self, name: &str) -> Result<&str, ApiError> {
        self.optional_str(name)?.ok_or_else(|| missing(name))
    }

    pub fn optional_str(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(wrong_type(name, "a string", other)),
        }
    }

    pub fn optional_object(&self, name: &str) -> Result<Option<Value>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(object @ Value::Object(_)) => Ok(Some(object.clone())),
            Some(other) => Err(wrong_type(name, "an object", other)),
        }
    }

    pub fn optional_list(&self, name: &str) -> Result<Option<Value>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(list @ Value::Array(_)) => Ok(Some(list.clone())),
            Some(other) => Err(wrong_type(name, "a list", other)),
        }
    }

    /// A list field that must be there.
    pub fn required_list(&self, name: &str) -> Result<Value, ApiError> {
        self.optional_list(name)?.ok_or_else(|| missing(name))
    }

    pub fn optional_bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(wrong_type(name, "a boolean", other)),
        }
    }

    /// A number field (its range is the caller's to check).
    pub fn optional_number(&self, name: &str) -> Result<Option<&serde_json::Number>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(Some(n)),
            Some(other) => Err(wrong_type(name, "a number", other)),
        }
    }

    /// `maxResults`: 0 or absent means `default`; above `limit` is refused.
    pub fn page_size(&self, default: usize, limit: usize) -> Result<usize, ApiError> {
        match self.get("maxResults") {
            None => Ok(default),
            Some(Value::Number(n)) if n.as_u64().is_none() && n.as_i64().is_none() => Err(ApiError::new("SerializationException", format!("'maxResults' must be an integer, not {n}"))),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(0) => Ok(default),
                Some(n) if n as usize <= limit => Ok(n as usize),
                _ => Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to {limit} and greater than or equal to 0"
                ))),
            },
            Some(other) => Err(wrong_type("maxResults", "an integer", other)),
        }
    }

    /// A list field of `{"key": …, "value": …}` objects (tags).
    pub fn tags(&self, name: &str) -> Result<Vec<(String, String)>, ApiError> {
        let Some(value) = self.get(name) else { return Ok(Vec::new()) };
        let Value::Array(items) = value else { return Err(wrong_type(name, "a list", value)) };
        let mut tags = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let key = item.get("key").and_then(Value::as_str);
            let value = item.get("value").and_then(Value::as_str).unwrap_or("");
            match key {
                Some(key) if (1..=128).contains(&key.chars().count()) && value.chars().count() <= 256 => {
                    tags.push((key.to_string(), value.to_string()))
                }
                _ => {
                    return Err(ApiError::validation(format!(
                        "{name}[{i}]: a tag is {{\"key\": 1 to 128 characters, \"value\": up to 256}}"
                    )))
                }
            }
        }
        Ok(tags)
    }

    /// A list of strings (tag keys).
    pub fn strings(&self, name: &str) -> Result<Vec<String>, ApiError> {
        let Some(value) = self.get(name) else { return Err(missing(name)) };
        match value {
            Value::Array(items) if items.iter().all(Value::is_string) => {
                Ok(items.iter().filter_map(Value::as_str).map(str::to_string).collect())
            }
            other => Err(wrong_type(name, "a list of strings", other)),
        }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn missing(name: &str) -> ApiError {
    ApiError::validation(format!(
        "1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"
    ))
}

fn wrong_type(name: &str, expected: &str, got: &Value) -> ApiError {
    ApiError::new("SerializationException", format!("'{name}' must be {expected}, not {}", kind(got)))
}

/// Checks a state machine or execution name as AWS does: 1 to 80
/// characters, none of whitespace, brackets, wildcards, control characters
/// or `"#%\^|~`$&,;:/` (a name becomes part of an ARN).
pub fn check_name(what: &str, name: &str) -> Result<(), ApiError> {
    let bad = |c: char| c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c);
    let length = name.chars().count();
    if !(1..=80).contains(&length) {
        return Err(ApiError::new("InvalidName", format!("{what} name {name:?} is {length} characters long; it must be 1 to 80")));
    }
    if let Some(c) = name.chars().find(|&c| bad(c)) {
        return Err(ApiError::new("InvalidName", format!("{what} name {name:?} contains {c:?}, which names cannot contain")));
    }
    Ok(())
}

/// The kinds of ARN the API takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArnKind {
    StateMachine,
    Execution,
    Activity,
}

/// Checks that `arn` is a Step Functions ARN of `kind`
/// (`arn:<partition>:states:<region>:<account>:stateMachine:<name>` or
/// `…:execution:<state machine>:<name>`).
pub fn check_arn<'a>(field: &str, arn: &'a str, kind: ArnKind) -> Result<&'a str, ApiError> {
    let parts: Vec<&str> = arn.split(':').collect();
    let (resource, names) = match kind {
        ArnKind::StateMachine => ("stateMachine", 1),
        ArnKind::Execution => ("execution", 2),
        ArnKind::Activity => ("activity", 1),
    };
    let well_formed = parts.len() == 6 + names
        && parts[0] == "arn"
        && !parts[1].is_empty()
        && parts[2] == "states"
        && parts[5] == resource
        && parts[6..].iter().all(|name| !name.is_empty());
    if well_formed {
        Ok(arn)
    } else {
        let shape = match kind {
            ArnKind::StateMachine => "arn:aws:states:<region>:<account>:stateMachine:<name>",
            ArnKind::Execution => "arn:aws:states:<region>:<account>:execution:<state machine>:<name>",
            ArnKind::Activity => "arn:aws:states:<region>:<account>:activity:<name>",
        };
        Err(ApiError::new("InvalidArn", format!("Invalid Arn: '{field}' is {arn:?}, expected {shape}")))
    }
}

/// A date as the JSON protocol gives it: seconds since the Unix epoch.
pub fn date(ms: i64) -> Value {
    json!(ms as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_json_objects_and_fields_have_their_types() {
        assert_eq!(Params::parse(b"").unwrap().optional_str("name").unwrap(), None);
        assert_eq!(Params::parse(b"{oops").err().unwrap().code, "SerializationException");
        assert_eq!(Params::parse(b"[1]").err().unwrap().code, "SerializationException");
        let params =
            Params::parse(br#"{"name": 5, "maxResults": 2000, "ok": "x", "tags": [{"key": "a", "value": "b"}, {"value": "c"}]}"#).unwrap();
        assert_eq!(params.required_str("name").unwrap_err().code, "SerializationException");
        assert_eq!(params.required_str("absent").unwrap_err().code, "ValidationException");
        assert_eq!(params.required_str("ok").unwrap(), "x");
        assert_eq!(params.page_size(100, 1000).unwrap_err().code, "ValidationException");
        assert!(params.tags("tags").unwrap_err().message.contains("tags[1]"));
    }

    #[test]
    fn names_and_arns_are_checked_as_aws_checks_them() {
        assert!(check_name("execution", "order-1_x.y").is_ok());
        for bad in ["", "a b", "a:b", "a/b", &"x".repeat(81)] {
            assert_eq!(check_name("execution", bad).unwrap_err().code, "InvalidName", "{bad:?}");
        }
        let sm = "arn:aws:states:local:000000000000:stateMachine:order";
        assert!(check_arn("stateMachineArn", sm, ArnKind::StateMachine).is_ok());
        assert_eq!(check_arn("executionArn", sm, ArnKind::Execution).unwrap_err().code, "InvalidArn");
        assert!(check_arn("executionArn", "arn:aws:states:local:0:execution:order:e1", ArnKind::Execution).is_ok());
        for bad in ["order", "arn:aws:lambda:x:0:stateMachine:a", "arn:aws:states:x:0:stateMachine:", "arn:aws:states:x:0:stateMachine:a:b"]
        {
            assert_eq!(check_arn("stateMachineArn", bad, ArnKind::StateMachine).unwrap_err().code, "InvalidArn", "{bad}");
        }
    }
}
