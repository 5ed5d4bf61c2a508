//! The HTTP Task (`arn:aws:states:::http:invoke`): the request AWS builds
//! from the state's `Parameters` (`ApiEndpoint`, `Method`, `Headers`,
//! `QueryParameters`, `RequestBody`, `Transform`), sent through the runtime's
//! http client (`stepwasm_runtime::http::fetch`: timeout, response cap, no
//! redirects) and only to URLs the config grants (`[http_tasks."<state
//! machine name>"]` or `[http_tasks."<ConnectionArn>"]`); the response in
//! AWS's shape `{ResponseBody, StatusCode, StatusText, Headers}`, a non-2xx
//! status failing the task with `States.Http.StatusCode.<code>`.

use crate::engine::{TaskInvocation, TaskOutcome};
use crate::runtime::config::HttpTaskGrants;
use crate::runtime::http::{fetch, HttpGrant, OutgoingRequest};
use serde_json::{json, Map, Value};
use std::time::Duration;

/// The HTTP Task's resource.
pub fn is_http_invoke(resource: &str) -> bool {
    resource.strip_prefix("arn:").and_then(|r| r.split_once(":states:::")).is_some_and(|(_, rest)| rest == "http:invoke")
}

/// Error of a URL no grant allows (AWS's name for a task lacking permission).
const PERMISSIONS: &str = "States.Permissions";
/// Error of a request that could not be sent or answered in time.
const SOCKET: &str = "States.Http.Socket";

/// Headers a definition may not set (AWS's list for the HTTP Task).
fn forbidden_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    const NAMES: &[&str] = &[
        "a-im",
        "accept-charset",
        "accept-datetime",
        "accept-encoding",
        "authorization",
        "cache-control",
        "connection",
        "content-encoding",
        "content-length",
        "content-md5",
        "date",
        "expect",
        "forwarded",
        "from",
        "host",
        "http2-settings",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "if-range",
        "if-unmodified-since",
        "max-forwards",
        "origin",
        "pragma",
        "proxy-authorization",
        "referer",
        "server",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "via",
        "warning",
    ];
    ["x-forwarded", "x-amz", "x-amzn"].iter().any(|p| lower.starts_with(p)) || NAMES.contains(&lower.as_str())
}

/// A request read from the task's `Parameters`.
struct HttpCall {
    url: url::Url,
    method: String,
    connection_arn: Option<String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn runtime_failure(state: &str, why: String) -> TaskOutcome {
    TaskOutcome::Failed { error: crate::asl::errors::RUNTIME.into(), cause: format!("state {state:?}: HTTP Task: {why}") }
}

/// A scalar as text in a query string, header or form.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `RequestBody` as `application/x-www-form-urlencoded` (`Transform`:
/// `RequestBodyEncoding: URL_ENCODED`), arrays as `ArrayFormat` says.
fn form_body(body: &Value, array_format: &str) -> Result<String, String> {
    let Value::Object(fields) = body else {
        return Err("RequestBody must be an object to be URL_ENCODED".into());
    };
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in fields {
        match value {
            Value::Array(items) => match array_format {
                "COMMAS" => {
                    form.append_pair(key, &items.iter().map(scalar_text).collect::<Vec<_>>().join(","));
                }
                "REPEAT" => items.iter().for_each(|item| {
                    form.append_pair(key, &scalar_text(item));
                }),
                "BRACKETS" => items.iter().for_each(|item| {
                    form.append_pair(&format!("{key}[]"), &scalar_text(item));
                }),
                _ => items.iter().enumerate().for_each(|(i, item)| {
                    form.append_pair(&format!("{key}[{i}]"), &scalar_text(item));
                }),
            },
            other => {
                form.append_pair(key, &scalar_text(other));
            }
        }
    }
    Ok(form.finish())
}

/// Reads the request from `Parameters`, with AWS's field names.
fn read_call(parameters: &Value) -> Result<HttpCall, String> {
    let Value::Object(fields) = parameters else {
        return Err(format!("Parameters must be an object, not {parameters}"));
    };
    const KNOWN: [&str; 7] = ["ApiEndpoint", "Method", "Authentication", "Headers", "QueryParameters", "RequestBody", "Transform"];
    if let Some(unknown) = fields.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(format!("the field {unknown:?} is not supported (supported: {})", KNOWN.join(", ")));
    }
    let endpoint = fields.get("ApiEndpoint").and_then(Value::as_str).ok_or("ApiEndpoint (a URL string) is required")?;
    let mut url = url::Url::parse(endpoint).map_err(|e| format!("ApiEndpoint {endpoint:?} is not a URL: {e}"))?;
    let method = fields.get("Method").and_then(Value::as_str).ok_or("Method (a string) is required")?.to_ascii_uppercase();
    let connection_arn = match fields.get("Authentication") {
        None => None,
        Some(auth) => Some(
            auth.get("ConnectionArn")
                .and_then(Value::as_str)
                .ok_or("Authentication must be {\"ConnectionArn\": \"arn:aws:events:…:connection/…\"}")?
                .to_string(),
        ),
    };
    match fields.get("QueryParameters") {
        None | Some(Value::Null) => {}
        Some(Value::Object(query)) => {
            let mut pairs = url.query_pairs_mut();
            for (key, value) in query {
                match value {
                    Value::Array(items) => items.iter().for_each(|item| {
                        pairs.append_pair(key, &scalar_text(item));
                    }),
                    other => {
                        pairs.append_pair(key, &scalar_text(other));
                    }
                }
            }
        }
        Some(other) => return Err(format!("QueryParameters must be an object, not {other}")),
    }
    let mut headers = Vec::new();
    match fields.get("Headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(given)) => {
            for (name, value) in given {
                if forbidden_header(name) {
                    return Err(format!("the header {name:?} cannot be set in an HTTP Task"));
                }
                headers.push((name.clone(), scalar_text(value)));
            }
        }
        Some(other) => return Err(format!("Headers must be an object, not {other}")),
    }
    let transform = fields.get("Transform").cloned().unwrap_or(Value::Null);
    let encoding = transform.get("RequestBodyEncoding").and_then(Value::as_str).unwrap_or("NONE");
    let array_format = transform.pointer("/RequestEncodingOptions/ArrayFormat").and_then(Value::as_str).unwrap_or("INDICES");
    if !matches!(array_format, "BRACKETS" | "COMMAS" | "REPEAT" | "INDICES") {
        return Err(format!("Transform.RequestEncodingOptions.ArrayFormat {array_format:?}: BRACKETS, COMMAS, REPEAT or INDICES"));
    }
    let has_header = |headers: &[(String, String)], name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let body = match (fields.get("RequestBody"), encoding) {
        (None | Some(Value::Null), "NONE" | "URL_ENCODED") => Vec::new(),
        (Some(body), "URL_ENCODED") => {
            if !has_header(&headers, "content-type") {
                headers.push(("Content-Type".into(), "application/x-www-form-urlencoded".into()));
            }
            form_body(body, array_format)?.into_bytes()
        }
        (Some(Value::String(text)), "NONE") => text.clone().into_bytes(),
        (Some(body), "NONE") => {
            if !has_header(&headers, "content-type") {
                headers.push(("Content-Type".into(), "application/json; charset=UTF-8".into()));
            }
            body.to_string().into_bytes()
        }
        (_, other) => return Err(format!("Transform.RequestBodyEncoding {other:?}: NONE or URL_ENCODED")),
    };
    Ok(HttpCall { url, method, connection_arn, headers, body })
}

/// The state machine an execution ARN names (`…:execution:<machine>:<name>`).
fn state_machine_name(execution_arn: &str) -> &str {
    let name = execution_arn.split(':').nth(6).unwrap_or_default();
    // A Distributed Map's child (`<machine>/<label>`) has its machine's grants.
    name.split_once('/').map_or(name, |(machine, _)| machine)
}

/// The grant that allows `call` for `task`, or why none does (naming the
/// config keys that would).
fn granted<'g>(grants: &'g HttpTaskGrants, task: &TaskInvocation, call: &HttpCall) -> Result<(&'g str, &'g HttpGrant), String> {
    let machine = state_machine_name(&task.execution_id);
    let candidates = grants.for_task(machine, call.connection_arn.as_deref());
    if let Some(found) = candidates.iter().find(|(_, grant)| grant.covers(call.url.as_str()).unwrap_or(false)) {
        return Ok(*found);
    }
    let keys = match &call.connection_arn {
        Some(arn) => format!("[http_tasks.{machine:?}] or [http_tasks.{arn:?}]"),
        None => format!("[http_tasks.{machine:?}]"),
    };
    let present = if candidates.is_empty() {
        "neither is there".to_string()
    } else {
        format!("{} does not allow it", candidates.iter().map(|(k, _)| format!("[http_tasks.{k:?}]")).collect::<Vec<_>>().join(" and "))
    };
    Err(format!(
        "{} is outside the HTTP Task allow-list: add a prefix of it to `allow` of {keys} in {} ({present})",
        call.url,
        grants.origin().display()
    ))
}

/// The response in AWS's shape: the body parsed when it is JSON.
fn response_shape(status: u16, headers: Vec<(String, String)>, body: Vec<u8>) -> Value {
    let mut grouped: Map<String, Value> = Map::new();
    let mut is_json = false;
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("content-type") {
            let media = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
            is_json = media == "application/json" || media.ends_with("+json");
        }
        if let Value::Array(values) = grouped.entry(name).or_insert_with(|| json!([])) {
            values.push(Value::String(value));
        }
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    let response_body = match is_json.then(|| serde_json::from_str::<Value>(&text)) {
        Some(Ok(parsed)) => parsed,
        _ => Value::String(text),
    };
    let status_text = hyper::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
    json!({"Headers": grouped, "ResponseBody": response_body, "StatusCode": status, "StatusText": status_text})
}

/// Runs one HTTP Task under `grants` (none: this command was given no
/// config's `[http_tasks]`, and the task fails saying so).
pub async fn invoke(grants: Option<&HttpTaskGrants>, task: &TaskInvocation) -> TaskOutcome {
    let call = match read_call(&task.input) {
        Ok(call) => call,
        Err(why) => return runtime_failure(&task.state_name, why),
    };
    let Some(grants) = grants else {
        let cause = format!(
            "state {:?}: the HTTP Task to {} runs under `stepwasm serve`, whose config grants it with [http_tasks.\"…\"]; this command has no such grants",
            task.state_name, call.url
        );
        return TaskOutcome::Failed { error: PERMISSIONS.into(), cause };
    };
    let grant = match granted(grants, task, &call) {
        Ok((_, grant)) => grant.clone(),
        Err(why) => return TaskOutcome::Failed { error: PERMISSIONS.into(), cause: format!("state {:?}: {why}", task.state_name) },
    };
    let time_left = task.timeout_seconds.map_or(grant.timeout, |t| Duration::from_secs(t).min(grant.timeout));
    let request = OutgoingRequest { method: call.method, url: call.url.to_string(), headers: call.headers, body: call.body };
    let sent = tokio::task::spawn_blocking(move || fetch(&grant, &request, time_left)).await;
    let response = match sent {
        Ok(Ok(response)) => response,
        Ok(Err(why)) if why.contains("over the limit") => {
            return TaskOutcome::Failed { error: crate::asl::errors::DATA_LIMIT_EXCEEDED.into(), cause: why }
        }
        Ok(Err(why)) if why.contains("is not supported") || why.contains("not a valid URL") || why.contains("only http") => {
            return runtime_failure(&task.state_name, why)
        }
        Ok(Err(why)) => return TaskOutcome::Failed { error: SOCKET.into(), cause: why },
        Err(e) => return runtime_failure(&task.state_name, format!("the request's thread failed: {e}")),
    };
    let status = response.status;
    let shaped = response_shape(status, response.headers, response.body);
    if (200..300).contains(&status) {
        TaskOutcome::Succeeded(shaped)
    } else {
        TaskOutcome::Failed { error: format!("States.Http.StatusCode.{status}"), cause: shaped.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_distributed_maps_child_has_its_machines_grants() {
        assert_eq!(state_machine_name("arn:aws:states:eu-west-1:123456789012:execution:orders:run-1"), "orders");
        assert_eq!(state_machine_name("arn:aws:states:eu-west-1:123456789012:execution:orders/Rows:0f1e-000003"), "orders");
    }

    #[test]
    fn parameters_become_the_request_aws_sends() {
        let call = read_call(&json!({
            "ApiEndpoint": "http://127.0.0.1:1/items",
            "Method": "post",
            "QueryParameters": {"q": "a b", "n": 2, "tag": ["x", "y"]},
            "Headers": {"X-Custom": "1"},
            "RequestBody": {"name": "widget", "sizes": [1, 2]},
            "Transform": {"RequestBodyEncoding": "URL_ENCODED", "RequestEncodingOptions": {"ArrayFormat": "BRACKETS"}},
        }))
        .unwrap();
        assert_eq!(call.method, "POST");
        assert_eq!(call.url.as_str(), "http://127.0.0.1:1/items?q=a+b&n=2&tag=x&tag=y");
        assert_eq!(String::from_utf8(call.body).unwrap(), "name=widget&sizes%5B%5D=1&sizes%5B%5D=2");
        assert!(call.headers.contains(&("Content-Type".into(), "application/x-www-form-urlencoded".into())));
        let json_body = read_call(&json!({"ApiEndpoint": "http://h/", "Method": "PUT", "RequestBody": {"a": 1}})).unwrap();
        assert_eq!(json_body.body, br#"{"a":1}"#);
    }

    #[test]
    fn bad_parameters_are_named() {
        let err = |p: Value| read_call(&p).err().unwrap();
        assert!(err(json!({"Method": "GET"})).contains("ApiEndpoint"));
        assert!(err(json!({"ApiEndpoint": "http://h/", "Method": "GET", "Headers": {"Host": "x"}})).contains("\"Host\""));
        assert!(err(json!({"ApiEndpoint": "http://h/", "Method": "GET", "Url": 1})).contains("\"Url\""));
        assert!(err(json!({"ApiEndpoint": "http://h/", "Method": "GET", "Transform": {"RequestBodyEncoding": "XML"}, "RequestBody": {}}))
            .contains("XML"));
    }

    #[test]
    fn responses_are_shaped_as_aws_shapes_them() {
        let shaped = response_shape(404, vec![("content-type".into(), "application/json".into())], br#"{"e":1}"#.to_vec());
        assert_eq!(
            shaped,
            json!({"Headers": {"content-type": ["application/json"]}, "ResponseBody": {"e": 1}, "StatusCode": 404, "StatusText": "Not Found"})
        );
        assert_eq!(response_shape(200, vec![], b"plain".to_vec())["ResponseBody"], "plain");
    }
}
