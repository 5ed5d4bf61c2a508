//! Malformed requests against `stepwasm serve`'s Step Functions API, sent as
//! raw HTTP/1.1 over a TcpStream: each gets a 4xx (never a 5xx) whose JSON
//! body names AWS's error code in `__type` (and `x-amzn-ErrorType` says the
//! same), and the server answers the next request as if nothing happened.

use crate::support::{root, scratch, stepwasm, ApiServer};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One HTTP response.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("HTTP {}: the body is not JSON ({e}): {:?}", self.status, self.text()))
    }
}

/// A tiny HTTP/1.1 client: sends `head` (request line and headers, without
/// the blank line; `Content-Length` or chunking is the caller's) and `body`,
/// reads the whole response (the request says `Connection: close`). The body
/// is written from a thread of its own while the response is read, so a
/// server that answers before reading all of it (413) is heard.
fn exchange(endpoint: &str, head: &str, body: Vec<u8>) -> Result<Reply, String> {
    let addr = endpoint.strip_prefix("http://").unwrap_or(endpoint).trim_end_matches('/');
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    stream.set_write_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let head = format!("{head}\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let sender = std::thread::spawn(move || -> std::io::Result<()> {
        writer.write_all(head.as_bytes())?;
        writer.write_all(&body)?;
        writer.flush()
    });
    let mut raw = Vec::new();
    let read = stream.read_to_end(&mut raw);
    let sent = sender.join().unwrap();
    if raw.is_empty() {
        return Err(format!("no response (read: {read:?}; write: {sent:?})"));
    }
    let split =
        raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| format!("no end of headers in {:?}", String::from_utf8_lossy(&raw)))?;
    let head_text = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head_text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 =
        status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    let mut body = raw[split + 4..].to_vec();
    let header = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        body = dechunk(&body)?;
    } else if let Some(length) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        if body.len() < length {
            return Err(format!("a body of {} bytes, Content-Length said {length} (read: {read:?})", body.len()));
        }
        body.truncate(length);
    }
    Ok(Reply { status, headers, body })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let end = data.windows(2).position(|w| w == b"\r\n").ok_or("a chunk without its size line")?;
        let size_text = String::from_utf8_lossy(&data[..end]);
        let size =
            usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).map_err(|e| format!("chunk size {size_text:?}: {e}"))?;
        data = &data[end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            return Err("a truncated chunk".into());
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// `POST /` with `X-Amz-Target: <target>` (none if `None`) and a JSON 1.0 body.
fn post(server: &ApiServer, target: Option<&str>, body: impl Into<Vec<u8>>) -> Reply {
    let body = body.into();
    let mut head = format!("POST / HTTP/1.1\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}", body.len());
    if let Some(target) = target {
        head.push_str(&format!("\r\nX-Amz-Target: {target}"));
    }
    exchange(&server.endpoint, &head, body).unwrap_or_else(|e| panic!("POST {target:?}: {e}"))
}

fn action(server: &ApiServer, name: &str, body: impl Into<Vec<u8>>) -> Reply {
    post(server, Some(&format!("AWSStepFunctions.{name}")), body)
}

/// `reply` is a 4xx whose `__type` is one of `codes`, said again by
/// `x-amzn-ErrorType`, with a message; and the server still answers.
#[track_caller]
fn assert_refused(server: &ApiServer, what: &str, reply: &Reply, codes: &[&str]) -> String {
    assert!((400..500).contains(&reply.status), "{what}: HTTP {}, expected a 4xx; body {:?}", reply.status, reply.text());
    let body = reply.json();
    let code = body["__type"].as_str().unwrap_or_else(|| panic!("{what}: no __type in {body}")).to_string();
    // AWS's __type may carry a namespace prefix (`com.amazonaws.states#InvalidArn`).
    let bare = code.rsplit('#').next().unwrap().to_string();
    assert!(codes.contains(&bare.as_str()), "{what}: __type {code:?} (HTTP {}), expected one of {codes:?}; body {body}", reply.status);
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: no message in {body}");
    let header = reply.header("x-amzn-ErrorType").unwrap_or_else(|| panic!("{what}: no x-amzn-ErrorType header in {:?}", reply.headers));
    assert!(header.starts_with(&bare), "{what}: x-amzn-ErrorType {header:?} is not the __type {code:?}");
    assert!(reply.header("content-type").is_some_and(|t| t.contains("json")), "{what}: content-type {:?}", reply.header("content-type"));
    assert_alive(server, what);
    bare
}

#[track_caller]
fn assert_alive(server: &ApiServer, after: &str) {
    let reply = exchange(
        &server.endpoint,
        "POST / HTTP/1.1\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: AWSStepFunctions.ListStateMachines\r\nContent-Length: 2",
        b"{}".to_vec(),
    )
    .unwrap_or_else(|e| panic!("after {after}: ListStateMachines got no answer: {e}"));
    assert_eq!(reply.status, 200, "after {after}: ListStateMachines answered HTTP {}: {}", reply.status, reply.text());
    assert!(reply.json()["stateMachines"].is_array(), "after {after}: ListStateMachines answered {}", reply.text());
}

fn start(name: &str) -> (ApiServer, std::path::PathBuf) {
    let dir = scratch(name);
    let config = root().join("examples/order/stepwasm.toml");
    (ApiServer::start(&dir.join("store.sqlite"), &["--config", config.to_str().unwrap()]), dir)
}

const PASS: &str = r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#;
const ROLE: &str = "arn:aws:iam::000000000000:role/stepwasm";

fn create_pass_machine(server: &ApiServer, name: &str) -> String {
    let reply = action(server, "CreateStateMachine", json!({"name": name, "definition": PASS, "roleArn": ROLE}).to_string());
    assert_eq!(reply.status, 200, "CreateStateMachine {name}: {}", reply.text());
    reply.json()["stateMachineArn"].as_str().unwrap().to_string()
}

/// CreateStateMachine as AWS documents it: idempotent on name, definition
/// and type (another role or tags change nothing), a conflict with another
/// definition; the role must be an IAM role's ARN.
#[test]
fn create_is_idempotent_whatever_the_role_and_refuses_a_role_that_is_not_one() {
    let (server, dir) = start("api-errors-create");
    let create = |role: &str, definition: &str| {
        action(&server, "CreateStateMachine", json!({"name": "same", "definition": definition, "roleArn": role}).to_string())
    };
    let first = create(ROLE, PASS);
    assert_eq!(first.status, 200, "{}", first.text());
    let again = create("arn:aws:iam::123456789012:role/service-role/another", PASS);
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(again.json()["stateMachineArn"], first.json()["stateMachineArn"]);
    let arn = first.json()["stateMachineArn"].as_str().unwrap().to_string();
    let described = action(&server, "DescribeStateMachine", json!({"stateMachineArn": arn}).to_string()).json();
    assert_eq!(described["roleArn"], ROLE, "the role is not updated: {described}");
    let other = PASS.replace("\"P\"", "\"Q\"");
    let conflict = create(ROLE, &other);
    assert_eq!((conflict.status, conflict.json()["__type"].as_str()), (400, Some("StateMachineAlreadyExists")), "{}", conflict.text());
    for role in [
        "arn:aws:iam::000000000000:user/alice",
        "arn:aws:s3:::bucket",
        "arn:aws:iam::12:role/r",
        "role/r",
        "arn:aws:iam::000000000000:role/",
    ] {
        let refused = action(&server, "CreateStateMachine", json!({"name": "roles", "definition": PASS, "roleArn": role}).to_string());
        assert_eq!((refused.status, refused.json()["__type"].as_str()), (400, Some("InvalidArn")), "{role}: {}", refused.text());
    }
    drop(server);
    std::fs::remove_dir_all(dir).unwrap();
}

/// A definition whose tasks call services stepwasm does not map is accepted,
/// as AWS accepts it; an execution that reaches such a task fails there,
/// naming the state and the config entry that would map it, and one that
/// does not reach it runs.
#[test]
fn an_unmapped_resource_is_accepted_and_fails_only_the_execution_that_reaches_it() {
    let (server, dir) = start("api-errors-unmapped");
    let definition = json!({"StartAt": "Route", "States": {
        "Route": {"Type": "Choice", "Choices": [{"Variable": "$.save", "BooleanEquals": true, "Next": "Save"}], "Default": "Done"},
        "Save": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
                 "Parameters": {"TableName": "orders", "Item": {"id": {"S.$": "$.id"}}}, "End": true},
        "Done": {"Type": "Pass", "End": true}}});
    let created =
        action(&server, "CreateStateMachine", json!({"name": "partly", "definition": definition.to_string(), "roleArn": ROLE}).to_string());
    assert_eq!(created.status, 200, "{}", created.text());
    let machine = created.json()["stateMachineArn"].as_str().unwrap().to_string();
    let skipped = server.run_to_end(&machine, "skips-it", r#"{"save": false, "id": "1"}"#);
    assert_eq!(skipped["status"], "SUCCEEDED", "{skipped}");
    let reached = server.run_to_end(&machine, "reaches-it", r#"{"save": true, "id": "2"}"#);
    assert_eq!((reached["status"].as_str(), reached["error"].as_str()), (Some("FAILED"), Some("States.TaskFailed")), "{reached}");
    let cause = reached["cause"].as_str().unwrap();
    assert!(
        cause.contains("state \"Save\"") && cause.contains("arn:aws:states:::dynamodb:putItem") && cause.contains("[resources."),
        "{cause}"
    );
    // `run` and `validate` still refuse it before anything runs.
    let file = dir.join("partly.asl.json");
    std::fs::write(&file, definition.to_string()).unwrap();
    let config = root().join("examples/order/stepwasm.toml");
    let (code, out, err) = stepwasm(&["run", file.to_str().unwrap(), "--config", config.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("States.Save.Resource"), "{err}");
    drop(server);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Page tokens are keyset: an execution started between two pages of
/// ListExecutions shows on neither twice, and a token works only for the
/// operation that gave it.
#[test]
fn pages_stay_stable_when_executions_start_between_them() {
    let (server, dir) = start("api-errors-pages");
    let machine = create_pass_machine(&server, "paged");
    for name in ["e1", "e2", "e3"] {
        server.run_to_end(&machine, name, "{}");
        // Distinct start dates, as the listing orders by them.
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let list = |token: Option<&str>| {
        let mut params = json!({"stateMachineArn": machine, "maxResults": 2});
        if let Some(token) = token {
            params["nextToken"] = json!(token);
        }
        let reply = action(&server, "ListExecutions", params.to_string());
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json()
    };
    let names =
        |page: &Value| page["executions"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    let first = list(None);
    assert_eq!(names(&first), ["e3", "e2"]);
    server.run_to_end(&machine, "e4", "{}");
    let second = list(first["nextToken"].as_str());
    assert_eq!(names(&second), ["e1"], "{second}");
    assert!(second.get("nextToken").is_none(), "{second}");
    let execution = first["executions"][0]["executionArn"].as_str().unwrap();
    let misused = action(&server, "GetExecutionHistory", json!({"executionArn": execution, "nextToken": first["nextToken"]}).to_string());
    assert_eq!((misused.status, misused.json()["__type"].as_str()), (400, Some("InvalidToken")), "{}", misused.text());
    drop(server);
    std::fs::remove_dir_all(dir).unwrap();
}

/// The success shape the AWS SDKs parse: 200, AWS JSON 1.0, dates as epoch
/// seconds (numbers), a request id.
#[test]
fn a_good_request_gets_the_aws_json_shape() {
    let (server, dir) = start("api-errors-shape");
    let reply = action(&server, "CreateStateMachine", json!({"name": "shape", "definition": PASS, "roleArn": ROLE}).to_string());
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.header("content-type").is_some_and(|t| t.starts_with("application/x-amz-json-1.0")), "{:?}", reply.headers);
    assert!(reply.header("x-amzn-RequestId").is_some_and(|v| !v.is_empty()), "no x-amzn-RequestId in {:?}", reply.headers);
    let body = reply.json();
    let arn = body["stateMachineArn"].as_str().unwrap();
    assert!(arn.starts_with("arn:aws:states:") && arn.ends_with(":stateMachine:shape"), "{body}");
    let created = body["creationDate"].as_f64().unwrap_or_else(|| panic!("creationDate is not a number of epoch seconds: {body}"));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    assert!((now - created).abs() < 300.0, "creationDate {created} is not now ({now}) in epoch seconds");
    let described = action(&server, "DescribeStateMachine", json!({"stateMachineArn": arn}).to_string());
    assert_eq!(described.status, 200, "{}", described.text());
    let described = described.json();
    assert_eq!(described["definition"], json!(PASS));
    assert!(described["creationDate"].is_number(), "{described}");
    // A body of only whitespace, or none, is an empty request.
    let reply = exchange(
        &server.endpoint,
        "POST / HTTP/1.1\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: AWSStepFunctions.ListStateMachines\r\nContent-Length: 0",
        Vec::new(),
    )
    .unwrap();
    assert_eq!(reply.status, 200, "ListStateMachines with no body: {}", reply.text());
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// Bodies that are not a JSON object of the right fields.
#[test]
fn bodies_that_are_not_the_request_are_refused() {
    let (server, dir) = start("api-errors-bodies");
    let ser = &["SerializationException"];
    let ser_or_val = &["SerializationException", "ValidationException"];
    assert_refused(&server, "a body that is not JSON", &action(&server, "ListStateMachines", r#"{"maxResults": "#), ser);
    assert_refused(&server, "a JSON array body", &action(&server, "ListStateMachines", "[1, 2]"), ser);
    assert_refused(&server, "a JSON string body", &action(&server, "ListStateMachines", r#""hello""#), ser);
    assert_refused(
        &server,
        "a body that is not UTF-8",
        &action(&server, "ListStateMachines", b"{\"nextToken\": \"\xff\xfe\"}".to_vec()),
        ser,
    );
    let deep = format!("{{\"a\": {}{}}}", "[".repeat(200_000), "]".repeat(200_000));
    assert_refused(&server, "a body nested 200,000 deep", &action(&server, "ListStateMachines", deep), ser_or_val);
    assert_refused(
        &server,
        "StartExecution without stateMachineArn",
        &action(&server, "StartExecution", r#"{"input": "{}"}"#),
        &["ValidationException"],
    );
    assert_refused(
        &server,
        "CreateStateMachine without a definition",
        &action(&server, "CreateStateMachine", json!({"name": "x", "roleArn": ROLE}).to_string()),
        &["ValidationException"],
    );
    assert_refused(&server, "maxResults: \"x\"", &action(&server, "ListStateMachines", r#"{"maxResults": "x"}"#), ser_or_val);
    assert_refused(&server, "maxResults: 1.5", &action(&server, "ListStateMachines", r#"{"maxResults": 1.5}"#), ser_or_val);
    assert_refused(&server, "maxResults: -1", &action(&server, "ListStateMachines", r#"{"maxResults": -1}"#), &["ValidationException"]);
    assert_refused(&server, "maxResults: 1001", &action(&server, "ListStateMachines", r#"{"maxResults": 1001}"#), &["ValidationException"]);
    assert_refused(&server, "stateMachineArn: 5", &action(&server, "DescribeStateMachine", r#"{"stateMachineArn": 5}"#), ser_or_val);
    assert_refused(
        &server,
        "tags: \"x\"",
        &action(
            &server,
            "TagResource",
            json!({"resourceArn": "arn:aws:states:local:000000000000:stateMachine:x", "tags": "x"}).to_string(),
        ),
        ser_or_val,
    );
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// X-Amz-Target must name a Step Functions action.
#[test]
fn unknown_or_missing_actions_are_refused() {
    let (server, dir) = start("api-errors-actions");
    let unknown = &["UnknownOperationException"];
    assert_refused(&server, "AWSStepFunctions.Frobnicate", &action(&server, "Frobnicate", "{}"), unknown);
    assert_refused(&server, "no X-Amz-Target", &post(&server, None, "{}"), unknown);
    for garbled in [
        "nonsense",
        "AWSStepFunctions.",
        "AWSStepFunctions",
        "DynamoDB_20120810.ListTables",
        "AWSStepFunctions.ListStateMachines.Extra",
        "AWSStepFunctions.liststatemachines",
        "awsstepfunctions.ListStateMachines",
    ] {
        assert_refused(&server, &format!("X-Amz-Target: {garbled}"), &post(&server, Some(garbled), "{}"), unknown);
    }
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// ARNs that are not ARNs, or of the wrong kind.
#[test]
fn bad_arns_are_invalid_arn() {
    let (server, dir) = start("api-errors-arns");
    let machine = create_pass_machine(&server, "arns");
    let invalid = &["InvalidArn"];
    assert_refused(
        &server,
        "stateMachineArn: garbage",
        &action(&server, "DescribeStateMachine", r#"{"stateMachineArn": "garbage"}"#),
        invalid,
    );
    assert_refused(
        &server,
        "stateMachineArn: \"\"",
        &action(&server, "DescribeStateMachine", r#"{"stateMachineArn": ""}"#),
        &["InvalidArn", "ValidationException"],
    );
    assert_refused(&server, "executionArn: garbage", &action(&server, "DescribeExecution", r#"{"executionArn": "garbage"}"#), invalid);
    assert_refused(
        &server,
        "a state machine's ARN as an executionArn",
        &action(&server, "DescribeExecution", json!({"executionArn": machine}).to_string()),
        invalid,
    );
    let execution = machine.replace(":stateMachine:", ":execution:") + ":e1";
    assert_refused(
        &server,
        "an execution's ARN as a stateMachineArn",
        &action(&server, "DescribeStateMachine", json!({"stateMachineArn": execution}).to_string()),
        invalid,
    );
    assert_refused(
        &server,
        "StartExecution of garbage",
        &action(&server, "StartExecution", r#"{"stateMachineArn": "arn:aws:states"}"#),
        invalid,
    );
    assert_refused(&server, "ListExecutions of garbage", &action(&server, "ListExecutions", r#"{"stateMachineArn": "arn:nope"}"#), invalid);
    assert_refused(
        &server,
        "GetExecutionHistory of garbage",
        &action(&server, "GetExecutionHistory", r#"{"executionArn": "x:y:z"}"#),
        invalid,
    );
    assert_refused(
        &server,
        "TagResource of garbage",
        &action(&server, "TagResource", r#"{"resourceArn": "garbage", "tags": []}"#),
        invalid,
    );
    // Well-formed but unknown: not InvalidArn.
    assert_refused(
        &server,
        "an unknown execution",
        &action(&server, "DescribeExecution", json!({"executionArn": execution}).to_string()),
        &["ExecutionDoesNotExist"],
    );
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// Requests over 1 MiB (AWS: "Maximum request size: 1 MB"), declared by
/// Content-Length or chunked; a definition over 1 MiB; none of them stops
/// the server.
#[test]
fn oversized_requests_are_refused_and_the_server_goes_on() {
    let (server, dir) = start("api-errors-size");
    let machine = create_pass_machine(&server, "big");
    let too_large = &["RequestEntityTooLargeException", "RequestEntityTooLarge", "ValidationException", "SerializationException"];
    let big_input = json!({"blob": "x".repeat(1_536 * 1024)}).to_string();
    let body = json!({"stateMachineArn": machine, "name": "big", "input": big_input}).to_string();
    let reply = action(&server, "StartExecution", body.clone());
    assert!(matches!(reply.status, 400 | 413), "a 1.5 MiB body: HTTP {} (expected 413 or 400): {}", reply.status, reply.text());
    assert_refused(&server, "a 1.5 MiB body", &reply, too_large);

    // The same body chunked, no Content-Length: the limit holds while reading.
    let mut chunked = Vec::new();
    for piece in body.as_bytes().chunks(64 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let reply = exchange(
        &server.endpoint,
        "POST / HTTP/1.1\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: AWSStepFunctions.StartExecution\r\nTransfer-Encoding: chunked",
        chunked,
    )
    .unwrap_or_else(|e| panic!("a chunked 1.5 MiB body: {e}"));
    assert!(matches!(reply.status, 400 | 413), "a chunked 1.5 MiB body: HTTP {}: {}", reply.status, reply.text());
    assert_refused(&server, "a chunked 1.5 MiB body", &reply, too_large);
    let listed = action(&server, "ListExecutions", json!({"stateMachineArn": machine}).to_string());
    assert_eq!(listed.json()["executions"], json!([]), "an oversized StartExecution started an execution");

    // A definition over 1 MiB (AWS's limit for a definition): as the request
    // is then over the request limit too, 413 is as right as InvalidDefinition.
    let padding: Vec<String> = (0..20_000).map(|i| format!("\"S{i}\": {{\"Type\": \"Pass\", \"Next\": \"S{}\"}}", i + 1)).collect();
    let huge = format!(
        "{{\"Comment\": \"{}\", \"StartAt\": \"S0\", \"States\": {{{}, \"S20000\": {{\"Type\": \"Succeed\"}}}}}}",
        "c".repeat(300 * 1024),
        padding.join(", ")
    );
    assert!(huge.len() > 1 << 20, "the big definition is only {} bytes", huge.len());
    let reply = action(&server, "CreateStateMachine", json!({"name": "huge", "definition": huge, "roleArn": ROLE}).to_string());
    assert_refused(
        &server,
        "a definition over 1 MiB",
        &reply,
        &["InvalidDefinition", "ValidationException", "RequestEntityTooLargeException"],
    );
    let reply = action(&server, "ValidateStateMachineDefinition", json!({"definition": huge}).to_string());
    assert_refused(
        &server,
        "validating a definition over 1 MiB",
        &reply,
        &["ValidationException", "InvalidDefinition", "RequestEntityTooLargeException"],
    );

    // Under the request limit but nested past any parser's stack: refused, not a crash.
    let deep = format!(
        "{{\"StartAt\": \"P\", \"States\": {{\"P\": {{\"Type\": \"Pass\", \"Result\": {}{}, \"End\": true}}}}}}",
        "[".repeat(300_000),
        "]".repeat(300_000)
    );
    let reply = action(&server, "CreateStateMachine", json!({"name": "deep", "definition": deep, "roleArn": ROLE}).to_string());
    assert_refused(&server, "a definition nested 300,000 deep", &reply, &["InvalidDefinition"]);
    let deep_input = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let reply = action(&server, "StartExecution", json!({"stateMachineArn": machine, "input": deep_input}).to_string());
    assert_refused(&server, "an input nested 100,000 deep (200 kB, under the 256 KiB input limit)", &reply, &["InvalidExecutionInput"]);
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}
