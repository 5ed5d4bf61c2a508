//! Standard WASI HTTP (`wasi:http/outgoing-handler` and `wasi:http/types`,
//! what JavaScript's `fetch` and other languages' standard clients compile
//! to), served by wasmtime-wasi-http's hyper client under the resource's http
//! grant, the same as `stepwasm:task/http`'s: only allowed URL prefixes (the
//! URL as sent: see [`check_wasi_target`]), at most `max_http_calls` requests
//! per invocation (both interfaces counted together), each within the grant's
//! timeout (connect to last body byte) and the invocation's deadline, the
//! response body capped (a body over the cap ends in an error, never
//! buffered), request bodies capped like task payloads. Redirects are not
//! followed: the guest gets the 3xx response. A refused request is the
//! `HttpRequestDenied` error code, the reason added to the invocation's log.

use crate::http::{check_wasi_target, Checked, HttpGrant, IncomingResponse, OutgoingRequest, MAX_REQUEST_BODY_BYTES};
use crate::wasm::invocation::{HttpGate, Invocation};
use http_body_util::BodyExt;
use hyper::body::{Body, Bytes, Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::time::{Instant as TokioInstant, Sleep};
use wasmtime_wasi_http::{default_send_request, Error, RequestOptions, WasiBody, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

/// At most this many refusals of one invocation are logged.
const MAX_LOGGED_REFUSALS: usize = 16;
/// The methods `stepwasm:task/http` allows, allowed here too.
const METHODS: [&str; 6] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"];

impl WasiHttpView for Invocation {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.wasi_http, table: &mut self.table, hooks: &mut self.http }
    }
}

impl HttpGate {
    /// The message of the call limit (both interfaces').
    pub(in crate::wasm) fn limit_message(&self) -> String {
        format!("http call limit exceeded: more than {} requests in one invocation", self.max_calls)
    }

    fn refuse(&mut self, why: String, code: Error) -> Error {
        if self.refusals.len() < MAX_LOGGED_REFUSALS {
            self.refusals.push(why);
        }
        code
    }

    /// Counts the request and checks it against the grant: the grant and
    /// when the request must be over, or the error the guest gets.
    fn admit(&mut self, request: &hyper::Request<WasiBody>) -> Result<(Arc<HttpGrant>, Instant), Error> {
        let Some(grant) = self.grant.clone() else {
            return Err(self.refuse("no http grant".into(), Error::HttpRequestDenied));
        };
        if self.calls >= self.max_calls {
            let limit = self.limit_message();
            self.limit_hit.get_or_insert(limit.clone());
            return Err(self.refuse(limit, Error::HttpRequestDenied));
        }
        self.calls += 1;
        let uri = request.uri();
        let text = uri.to_string();
        let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
        if let Err(why) = check_wasi_target(&grant, &text, authority, uri.path()) {
            return Err(self.refuse(why, Error::HttpRequestDenied));
        }
        if !METHODS.contains(&request.method().as_str()) {
            let why = format!("method {} is not supported (use one of {})", request.method(), METHODS.join(", "));
            return Err(self.refuse(why, Error::HttpRequestMethodInvalid));
        }
        let timeout = grant.timeout.min(self.deadline.saturating_duration_since(Instant::now()));
        if timeout.is_zero() {
            return Err(self.refuse("no time left in this invocation for a request".into(), Error::ConnectionTimeout));
        }
        Ok((grant, Instant::now() + timeout))
    }
}

type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;

impl WasiHttpHooks for HttpGate {
    fn send_request(
        &mut self,
        request: hyper::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> Box<dyn Future<Output = Result<(hyper::Response<WasiBody>, IoFuture), Error>> + Send> {
        let admitted = self.admit(&request);
        Box::new(async move {
            let (grant, until) = admitted?;
            let until = TokioInstant::from_std(until);
            let left = until.saturating_duration_since(TokioInstant::now());
            // The grant's timeout bounds each phase, and the whole request
            // (the sleep below, and the body's).
            let options = RequestOptions { connect_timeout: Some(left), first_byte_timeout: Some(left), between_bytes_timeout: Some(left) };
            let request = request.map(|body| Capped::new(body, MAX_REQUEST_BODY_BYTES, None).boxed_unsync());
            let (response, io) = tokio::time::timeout_at(until, default_send_request(request, Some(options)))
                .await
                .map_err(|_| Error::ConnectionReadTimeout)??;
            let cap = grant.max_response_bytes;
            let declared = response.headers().get(hyper::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
            if declared.is_some_and(|n| n > cap as u64) {
                return Err(Error::HttpResponseBodySize(declared));
            }
            let response = response.map(|body| Capped::new(body.boxed_unsync(), cap, Some(until)).boxed_unsync());
            Ok((response, Box::new(io) as IoFuture))
        })
    }
}

/// A body that errs once more than `cap` bytes went through it, or at
/// `until` (the request's deadline).
struct Capped {
    inner: WasiBody,
    cap: usize,
    seen: usize,
    until: Option<Pin<Box<Sleep>>>,
    /// Whether it limits a request body (else a response's).
    request: bool,
}

impl Capped {
    fn new(inner: WasiBody, cap: usize, until: Option<TokioInstant>) -> Capped {
        Capped { inner, cap, seen: 0, request: until.is_none(), until: until.map(|t| Box::pin(tokio::time::sleep_until(t))) }
    }
}

impl Body for Capped {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.seen += data.len();
                    if this.seen > this.cap {
                        let size = Some(this.seen as u64);
                        return Poll::Ready(Some(Err(if this.request {
                            Error::HttpRequestBodySize(size)
                        } else {
                            Error::HttpResponseBodySize(size)
                        })));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                let timed_out = this.until.as_mut().is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready());
                if timed_out {
                    Poll::Ready(Some(Err(Error::HttpResponseTimeout)))
                } else {
                    Poll::Pending
                }
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Sends a `stepwasm:task/http` request (checked) with the client `wasi:http`
/// uses, reading the whole response within the timeout and the cap; the
/// error is the message the module receives.
pub(super) async fn send(checked: Checked, request: &OutgoingRequest, cap: usize) -> Result<IncomingResponse, String> {
    let Checked { url, method, timeout } = checked;
    let mut builder = hyper::Request::builder().method(method.as_str()).uri(url.as_str());
    let host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    };
    builder = builder.header(hyper::header::HOST, host);
    for (name, value) in &request.headers {
        if !name.eq_ignore_ascii_case("host") {
            builder = builder.header(name.as_str(), value.as_str());
        }
    }
    let body = http_body_util::Full::new(Bytes::from(request.body.clone())).map_err(|never| match never {}).boxed_unsync();
    let http_request = builder.body(body).map_err(|e| format!("invalid request: {e}"))?;
    let options =
        RequestOptions { connect_timeout: Some(timeout), first_byte_timeout: Some(timeout), between_bytes_timeout: Some(timeout) };
    let describe = |e: Error| match e {
        Error::HttpResponseBodySize(_) => format!("response body from {} is over the limit of {cap} bytes", request.url),
        Error::ConnectionTimeout | Error::ConnectionReadTimeout | Error::HttpResponseTimeout => {
            format!("request timed out after {:.3} s", timeout.as_secs_f64())
        }
        other => format!("request failed: {other}"),
    };
    let exchange = async {
        let (response, io) = default_send_request(http_request, Some(options)).await.map_err(&describe)?;
        let status = response.status().as_u16();
        let headers =
            response.headers().iter().map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect();
        let mut body = Capped::new(response.into_body().boxed_unsync(), cap, None);
        body.request = false;
        let collect = async move {
            let mut bytes = Vec::new();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(&describe)?;
                if let Ok(data) = frame.into_data() {
                    bytes.extend_from_slice(&data);
                }
            }
            Ok::<_, String>(bytes)
        };
        // The connection is driven beside the body; a closed connection
        // after the body is complete is no error of the request's.
        let io = async move {
            let _ = Box::pin(io).await;
            std::future::pending::<()>().await
        };
        let body = tokio::select! {
            body = collect => body?,
            _ = io => unreachable!("pending"),
        };
        Ok(IncomingResponse { status, headers, body })
    };
    tokio::time::timeout(timeout, exchange).await.unwrap_or_else(|_| Err(format!("request timed out after {:.3} s", timeout.as_secs_f64())))
}
