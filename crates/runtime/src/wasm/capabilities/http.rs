//! The `http` capability: outgoing requests to the granted URL prefixes,
//! limited in number per invocation and never outliving its deadline; sent
//! by the hyper client that serves standard `wasi:http` too.

use super::limit_trap;
use super::wasi_http::send;
use crate::http::{self, OutgoingRequest};
use crate::wasm::bindings::stepwasm::task::http::{Host, Request as WitRequest, Response as WitResponse};
use crate::wasm::invocation::Invocation;
use std::time::Instant;

impl Host for Invocation {
    async fn fetch(&mut self, req: WitRequest) -> wasmtime::Result<Result<WitResponse, String>> {
        let Some(grant) = self.http.grant.clone() else {
            return Err(wasmtime::Error::msg("http called without an http grant"));
        };
        if self.http.calls >= self.http.max_calls {
            return Err(limit_trap(&mut self.limiter, self.http.limit_message()));
        }
        self.http.calls += 1;
        // A request may not outlive the invocation's own deadline.
        let left = self.deadline.saturating_duration_since(Instant::now());
        let request = OutgoingRequest { method: req.method, url: req.url, headers: req.headers, body: req.body };
        // Async, on the same hyper client as wasi:http: no blocking thread,
        // and dropped (the connection closed) when the invocation is.
        let response = match http::check_module_request(&grant, &request, left) {
            Ok(checked) => send(checked, &request, grant.max_response_bytes).await,
            Err(e) => Err(e),
        };
        Ok(response.map(|r| WitResponse { status: r.status, headers: r.headers, body: r.body }))
    }
}
