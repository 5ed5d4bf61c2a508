//! Outgoing HTTP requests through the host's `http` capability.
//!
//! [`fetch`] sends a [`Request`] and waits for the whole [`Response`]. The host
//! only lets a request through to the URL prefixes in the resource's grant in
//! `stepwasm.toml`, under the grant's per-request timeout and response size
//! cap; anything else is an [`HttpError`] carrying the host's message. A module
//! may import `http` only when its resource is granted it: a module that uses
//! this module without the grant is refused when it is loaded.
//!
//! A response with any status (404, 500, ...) is an `Ok`: check
//! [`Response::is_success`] or [`Response::status`] yourself.
//!
//! **Natively** (unit tests, the host's benchmark) there is no network:
//! [`fetch`] always returns an [`HttpError`] saying that http is only available
//! inside a component.
//!
//! ```
//! use serde::Deserialize;
//! use stepwasm_guest::{http, TaskError};
//!
//! #[derive(Deserialize)]
//! struct Rate { eur: f64 }
//!
//! fn rate() -> Result<f64, TaskError> {
//!     let req = http::Request::get("https://rates.example.com/usd").header("accept", "application/json");
//!     let resp = http::fetch(&req)?; // an HttpError becomes the ASL error "HttpFailed"
//!     if !resp.is_success() {
//!         return Err(TaskError::new("RateUnavailable", format!("HTTP {}", resp.status)));
//!     }
//!     Ok(resp.json::<Rate>()?.eur)
//! }
//!
//! // Natively there is no network:
//! assert_eq!(rate().unwrap_err().error, "HttpFailed");
//!
//! let post = http::Request::post_json("https://api.example.com/orders", &serde_json::json!({"id": 7})).unwrap();
//! assert_eq!(post.method, "POST");
//! assert_eq!(post.body, br#"{"id":7}"#);
//! ```

use crate::TaskError;
use alloc::{format, string::String, vec::Vec};
use serde::{de::DeserializeOwned, Serialize};

/// The ASL error name an [`HttpError`] becomes when it is turned into a
/// [`TaskError`] (with `?` in a handler).
pub const HTTP_FAILED: &str = "HttpFailed";

/// Why no usable response came: the host's message (refused by the grant, a
/// limit, a network failure), or, for the JSON helpers, why a body could not
/// be (de)serialised. It displays as the bare message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    message: String,
}

impl HttpError {
    /// An http error with the given message.
    pub fn new(message: impl Into<String>) -> Self {
        HttpError { message: message.into() }
    }

    /// The message, as the host (or the JSON helper) gave it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl core::fmt::Display for HttpError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message)
    }
}

impl core::error::Error for HttpError {}

/// An http failure is the ASL error `HttpFailed` (see [`HTTP_FAILED`]), with
/// the message as its cause, so a definition can Retry or Catch it.
impl From<HttpError> for TaskError {
    fn from(e: HttpError) -> Self {
        TaskError::new(HTTP_FAILED, e.message)
    }
}

/// An outgoing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// GET, POST, PUT, DELETE, PATCH or HEAD.
    pub method: String,
    /// An absolute http:// or https:// URL.
    pub url: String,
    /// Header names and values, in order; a name may repeat.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// A request with the given method and URL, no headers and no body.
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        Request { method: method.into(), url: url.into(), headers: Vec::new(), body: Vec::new() }
    }

    /// A GET request.
    pub fn get(url: impl Into<String>) -> Self {
        Request::new("GET", url)
    }

    /// A POST request whose body is `body` as JSON, with
    /// `content-type: application/json`.
    pub fn post_json<T: Serialize + ?Sized>(url: impl Into<String>, body: &T) -> Result<Self, HttpError> {
        let body = serde_json::to_vec(body).map_err(|e| HttpError::new(format!("cannot serialise the request body: {e}")))?;
        Ok(Request { body, ..Request::new("POST", url) }.header("content-type", "application/json"))
    }

    /// Adds a header (builder style).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Replaces the body (builder style).
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
}

/// A whole response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Header names and values as the host passed them on.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first value of header `name` (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON into `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body).map_err(|e| HttpError::new(format!("the response body is not the expected JSON: {e}")))
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<&str, HttpError> {
        core::str::from_utf8(&self.body).map_err(|e| HttpError::new(format!("the response body is not UTF-8: {e}")))
    }
}

/// Sends `req` and waits for the whole response. Natively this always fails:
/// http is only available inside a component.
pub fn fetch(req: &Request) -> Result<Response, HttpError> {
    imp::fetch(req)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::{HttpError, Request, Response};
    use crate::bindings::stepwasm::task::http as wit;

    pub fn fetch(req: &Request) -> Result<Response, HttpError> {
        let req = wit::Request { method: req.method.clone(), url: req.url.clone(), headers: req.headers.clone(), body: req.body.clone() };
        let resp = wit::fetch(&req).map_err(HttpError::new)?;
        Ok(Response { status: resp.status, headers: resp.headers, body: resp.body })
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::{HttpError, Request, Response};
    use alloc::format;

    pub fn fetch(req: &Request) -> Result<Response, HttpError> {
        Err(HttpError::new(format!("{} {}: http is only available inside a component (this handler runs natively)", req.method, req.url)))
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn builders_and_response_helpers() {
        let req = Request::post_json("https://x.test/a", &serde_json::json!({"a": 1})).unwrap().header("x-id", "7");
        assert_eq!(req.method, "POST");
        assert_eq!(req.headers, vec![("content-type".into(), "application/json".into()), ("x-id".into(), "7".into())]);
        assert_eq!(req.body, br#"{"a":1}"#);
        assert_eq!(Request::get("https://x.test/").method, "GET");

        let resp =
            Response { status: 201, headers: vec![("Content-Type".into(), "application/json".into())], body: br#"{"ok":true}"#.to_vec() };
        assert!(resp.is_success());
        assert_eq!(resp.header("content-type"), Some("application/json"));
        assert_eq!(resp.json::<serde_json::Value>().unwrap(), serde_json::json!({"ok": true}));
        assert_eq!(resp.text().unwrap(), r#"{"ok":true}"#);
        assert!(resp.json::<Vec<u8>>().is_err());
        assert!(!Response { status: 404, headers: vec![], body: vec![] }.is_success());
    }

    #[test]
    fn native_fetch_fails_as_http_failed() {
        let err = fetch(&Request::get("https://x.test/")).unwrap_err();
        assert!(err.message().contains("only available inside a component"), "{err}");
        assert_eq!(TaskError::from(err).error, "HttpFailed");
    }
}
