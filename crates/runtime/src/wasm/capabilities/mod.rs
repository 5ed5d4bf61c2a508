//! The host sides of the interfaces a module imports, each implemented on the
//! invocation's store data ([`Invocation`]): WASI with nothing granted
//! ([`wasi`]), `log` ([`log`]), and, when granted, `kv` ([`kv`]) and `http`
//! ([`http`], and standard `wasi:http` with the same grant: [`wasi_http`]). Which of them a module is linked with is
//! [`linking`](super::linking)'s business.

mod http;
mod kv;
mod log;
mod wasi;
mod wasi_http;

use super::bindings::stepwasm::task::types;
use super::invocation::Invocation;
use crate::limits::Limiter;

/// A limit a host function enforces: recorded (so the cause names it) and
/// returned as the trap that ends the call.
fn limit_trap(limiter: &mut Limiter, what: String) -> wasmtime::Error {
    limiter.record(what.clone());
    wasmtime::Error::msg(what)
}

// `types` only declares the records the other interfaces use: nothing to implement.
impl types::Host for Invocation {}
