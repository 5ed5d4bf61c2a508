//! `stepwasm serve`'s HTTP API: the AWS Step Functions API (AWS JSON 1.0:
//! `POST /` with `X-Amz-Target: AWSStepFunctions.<Action>`), so the AWS CLI
//! and SDKs work against it, and the web console (`GET /`) with the state
//! machine graphs it draws (`GET /graph.svg`); and stepwasm's own actions
//! (`X-Amz-Target: Stepwasm.<Action>`, see [`resources`]) to register Task
//! resources.
//!
//! Requests are bounded: 1 MiB of body; request headers within 5 s of the
//! connection opening or of the previous response (so an idle keep-alive
//! connection is closed after 5 s), the body within 10 s of its headers, a
//! response the client does not read cut after 10 s without progress; and
//! connections are admitted by [`connections`]' policy (per client address,
//! in total) right after they are accepted.
//! Every bad request gets a 4xx with AWS's error code; a 5xx means the host
//! itself failed (its store).

pub mod actions;
mod activities;
mod aliases;
pub mod connections;
pub mod console;
mod map_runs;
pub mod open_executions;
mod pagination;
mod protocol;
pub mod resolved;
pub mod resources;
mod sigv4;
mod state_machine_config;
mod test_state;
mod versions;
mod write_deadline;

/// For host integrations that call the actions in process (nested executions).
pub use protocol::Params;
pub use protocol::{ApiError, MAX_BODY_BYTES};
pub use sigv4::Access;

use crate::graph::{svg::svg, Diagram};
use crate::machines::StoredMachines;
use crate::store::{SqliteStore, Store};
use connections::{Admissions, Policy, Refusal, Ticket};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use protocol::{check_arn, ArnKind};
use std::sync::Arc;
use std::time::Duration;

/// How long a client may take to send a request's headers, counted from the
/// connection opening or the previous response: hyper's header timer starts
/// as soon as the connection waits for a request, so this is also how long
/// an idle keep-alive connection is kept.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a client may take to send a request's body after its headers.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a response may wait for a client that reads none of it.
pub const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(10);

/// What the API works with.
pub struct Api {
    pub store: Arc<SqliteStore>,
    pub machines: Arc<StoredMachines>,
    /// Wakes `serve`'s host when an execution was started or stopped, so it
    /// does not wait for its next poll.
    pub wake_host: Arc<tokio::sync::Notify>,
    pub access: Access,
    /// The region and account of the ARNs this API makes (`serve --region`,
    /// `--account`); a signed request's own region replaces the region.
    pub arns: crate::engine::arn::ArnScope,
    /// The host's open executions and their cap (`--max-open-executions`).
    pub open_executions: Arc<open_executions::OpenExecutions>,
    /// What starts name, resolved and kept (see [`resolved`]).
    pub resolved: resolved::ResolvedStarts,
}

/// Answers connections on `listener` until the process ends, each
/// connection a task of its own, admitted by `policy` (see [`connections`]).
/// Needs a multi-thread tokio runtime: actions that block (SQLite, compiling
/// a module) run in `block_in_place`.
pub async fn serve_api(listener: tokio::net::TcpListener, api: Arc<Api>, policy: Policy) {
    let admissions = Admissions::new(policy);
    loop {
        // Accept at once, always: admission is decided after, so a client
        // holding many connections cannot keep others in the listen backlog.
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of file descriptors and the like: wait, then go on.
            Err(e) => {
                crate::console_out::warn(format_args!("warning: api: accept failed: {e}"));
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let ticket = match admissions.admit(peer.ip()) {
            Ok(ticket) => ticket,
            Err(refusal) => {
                refuse(&stream, &refusal);
                continue;
            }
        };
        let api = Arc::clone(&api);
        tokio::spawn(async move {
            let ticket = Arc::new(ticket);
            let held = Arc::clone(&ticket);
            let service = hyper::service::service_fn(move |request| {
                let (api, ticket) = (Arc::clone(&api), Arc::clone(&held));
                async move { Ok::<_, std::convert::Infallible>(respond(&api, &ticket, request).await) }
            });
            let io = write_deadline::WriteDeadline::new(stream, WRITE_STALL_TIMEOUT);
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(hyper_util::rt::TokioIo::new(io), service);
            // A client that goes away mid-request is its own business; an
            // evicted connection is dropped (closed) where it stands.
            tokio::select! {
                _ = connection => {}
                _ = ticket.evicted() => {}
            }
        });
    }
}

/// Answers a connection the policy refused with `503 ThrottlingException`
/// (what the AWS SDKs back off and retry on) if the socket takes it at once,
/// and closes it.
fn refuse(stream: &tokio::net::TcpStream, refusal: &Refusal) {
    let body = serde_json::json!({"__type": "ThrottlingException", "message": refusal.to_string()}).to_string();
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/x-amz-json-1.0\r\nx-amzn-errortype: ThrottlingException\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    // A fresh socket's send buffer is empty: this does not block, and what
    // does not fit is dropped with the connection.
    let _ = stream.try_write(answer.as_bytes());
}

async fn respond(api: &Api, ticket: &Ticket, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let (method, path) = (request.method().clone(), request.uri().path().to_string());
    // A GET has no body to wait for: in service from here. A POST is once
    // its body arrived (see `call`): until then it may be evicted.
    let _in_service = (method != Method::POST).then(|| ticket.in_service());
    match (method, path.as_str()) {
        (Method::POST, "/") => match call(api, ticket, request).await {
            Ok(body) => json_response(StatusCode::OK, &body, None),
            Err(error) => error_response(&error),
        },
        (Method::GET, "/graph.svg") => match graph(api, &request) {
            Ok(svg) => response(StatusCode::OK, "image/svg+xml", svg.into_bytes()),
            Err(error) => error_response(&error),
        },
        (Method::GET, path) => match console::asset(path) {
            Some((content_type, bytes)) => response(StatusCode::OK, content_type, bytes.to_vec()),
            None => error_response(&ApiError::with_status(404, "NotFound", format!("no page {path:?}"))),
        },
        (method, path) => error_response(&ApiError::with_status(405, "MethodNotAllowed", format!("{method} {path}: the API takes POST /"))),
    }
}

/// A Step Functions call: body read within its limits, access checked,
/// action run.
async fn call(api: &Api, ticket: &Ticket, request: Request<Incoming>) -> Result<serde_json::Value, ApiError> {
    let (parts, body) = request.into_parts();
    let declared = parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let body = match tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, MAX_BODY_BYTES).collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => return Err(too_large()),
        Ok(Err(e)) => return Err(ApiError::new("SerializationException", format!("the request body could not be read: {e}"))),
        Err(_) => {
            return Err(ApiError::with_status(
                408,
                "RequestTimeout",
                format!("the request body did not arrive within {} s of its headers", BODY_TIMEOUT.as_secs()),
            ))
        }
    };
    let _in_service = ticket.in_service();
    let signed_for = check_access(api, &parts.method, &parts.uri, &parts.headers, &body)?;
    // ARNs carry the region the client signs for (the one it builds ARNs
    // from), else the host's; the account is always the host's.
    let scope = crate::engine::arn::ArnScope { region: signed_for.unwrap_or_else(|| api.arns.region.clone()), ..api.arns.clone() };
    let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
    if let Some(action) = target.strip_prefix("AWSStepFunctions.") {
        actions::dispatch_in(api, &scope, action, Params::parse(&body)?).await
    } else if let Some(action) = target.strip_prefix("Stepwasm.") {
        let params = Params::parse(&body)?;
        // Loads (and may compile) a module: blocking, as in actions::dispatch.
        tokio::task::block_in_place(|| {
            let answer = resources::dispatch(api, action, params);
            // A module put or deleted changes what a start loads.
            api.resolved.forget();
            answer
        })
    } else {
        Err(ApiError::new(
            "UnknownOperationException",
            format!(
                "X-Amz-Target is {target:?}; it must be AWSStepFunctions.<Action> (AWS JSON 1.0), or Stepwasm.<Action> for stepwasm's own"
            ),
        ))
    }
}

fn too_large() -> ApiError {
    ApiError::with_status(413, "RequestEntityTooLargeException", format!("the request body is over the limit of {MAX_BODY_BYTES} bytes"))
}

/// Checks the request's access and returns the region it is signed for, if it is.
fn check_access(api: &Api, method: &Method, uri: &hyper::Uri, headers: &hyper::HeaderMap, body: &[u8]) -> Result<Option<String>, ApiError> {
    let headers =
        headers.iter().map(|(name, value)| (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned())).collect();
    let request = sigv4::SignedRequest {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        headers,
        body,
        now_ms: chrono::Utc::now().timestamp_millis(),
    };
    sigv4::check(&api.access, &request)?;
    Ok(sigv4::signing_region(&request))
}

/// `/graph.svg?stateMachineArn=…` (its latest definition) or
/// `?executionArn=…` (the definition that execution runs).
fn graph(api: &Api, request: &Request<Incoming>) -> Result<String, ApiError> {
    check_access(api, request.method(), request.uri(), request.headers(), b"")?;
    let query: Vec<(String, String)> = url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes()).into_owned().collect();
    let find = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let (title, definition) = if let Some(arn) = find("executionArn") {
        check_arn("executionArn", arn, ArnKind::Execution)?;
        let (_, text) = api
            .store
            .execution_definition(arn)?
            .ok_or_else(|| ApiError::with_status(404, "ExecutionDoesNotExist", format!("Execution Does Not Exist: '{arn}'")))?;
        (arn.rsplit(':').next().unwrap_or(arn).to_string(), text)
    } else if let Some(arn) = find("stateMachineArn") {
        check_arn("stateMachineArn", arn, ArnKind::StateMachine)?;
        let text = api
            .store
            .state_machine(arn)?
            .ok_or_else(|| ApiError::with_status(404, "StateMachineDoesNotExist", format!("State Machine Does Not Exist: '{arn}'")))?;
        (arn.rsplit(':').next().unwrap_or(arn).to_string(), text)
    } else {
        return Err(ApiError::validation("/graph.svg needs ?stateMachineArn=… or ?executionArn=…"));
    };
    let machine = crate::asl::parse_definition(&definition).map_err(|e| ApiError::new("InvalidDefinition", e.to_string()))?;
    Ok(svg(&Diagram::of(&machine), &title))
}

fn json_response(status: StatusCode, body: &serde_json::Value, error_code: Option<&str>) -> Response<Full<Bytes>> {
    let mut answer = response(status, "application/x-amz-json-1.0", body.to_string().into_bytes());
    let headers = answer.headers_mut();
    headers.insert("x-amzn-requestid", HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).expect("a UUID is a valid header"));
    if let Some(code) = error_code.and_then(|code| HeaderValue::from_str(code).ok()) {
        headers.insert("x-amzn-errortype", code);
    }
    answer
}

fn error_response(error: &ApiError) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    json_response(status, &error.body(), Some(error.code))
}

fn response(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut answer = Response::new(Full::new(Bytes::from(body)));
    *answer.status_mut() = status;
    answer.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    answer
}
