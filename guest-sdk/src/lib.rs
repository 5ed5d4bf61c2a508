//! `stepwasm-guest`: write a stepwasm task handler as a plain Rust function.
//!
//! A handler takes its input as any `serde` type and a [`Context`], and returns
//! any `serde` type or a [`TaskError`]. One [`handler!`] line turns it into the
//! component export the host calls (`stepwasm:task/handler.handle`, see
//! `wit/task.wit`); the SDK does the JSON (de)serialisation.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use stepwasm_guest::{Context, TaskError};
//!
//! #[derive(Deserialize)]
//! pub struct Order { amount: f64 }
//!
//! #[derive(Serialize)]
//! pub struct Verdict { approved: bool }
//!
//! pub fn verify(order: Order, _ctx: &Context) -> Result<Verdict, TaskError> {
//!     if order.amount > 1000.0 {
//!         return Err(TaskError::new("PaymentVerificationFailed", "amount over limit"));
//!     }
//!     Ok(Verdict { approved: true })
//! }
//!
//! stepwasm_guest::handler!(verify);
//!
//! // The same function can be called natively, as the host's benchmark does:
//! let out = stepwasm_guest::call(verify, r#"{"amount": 12.5}"#, &Context::default()).unwrap();
//! assert_eq!(out, r#"{"approved":true}"#);
//! let err = stepwasm_guest::call(verify, r#"{"amount": 5000}"#, &Context::default()).unwrap_err();
//! assert_eq!(err.error, "PaymentVerificationFailed");
//! ```
//!
//! Built for `wasm32-wasip2`, [`handler!`] emits the component export; on any
//! other target it emits nothing, so handler crates also link natively.
//!
//! ## Host capabilities
//! - [`log`]: log lines attached to the execution (always granted).
//! - [`kv`]: a key-value store in the namespace the resource is granted; writes
//!   are committed only if the task succeeds. A [`kv::KvError`] converts into
//!   the task error `KvFailed`.
//! - [`http`]: outgoing requests to the URL prefixes the resource is granted.
//!   An [`http::HttpError`] converts into the task error `HttpFailed`.
//!
//! `kv` and `http` must be granted to the resource in `stepwasm.toml`. A
//! component imports only the capabilities its code actually calls, so a
//! handler that never touches `kv` or `http` needs no grant. Natively, `log`
//! and `kv` are per-thread in-memory stand-ins (a host that runs handlers
//! natively can send `kv` to its own store: [`kv::with_native_backend`]) and
//! `http` always fails.
//!
//! ## No WASI: `no_std` components (the default)
//! Built for wasm32 without the `std` feature, the SDK is `#![no_std]` with
//! `alloc`: it brings its own allocator (`dlmalloc`, growing linear memory
//! directly) and its own panic handler, so the component imports nothing but
//! `stepwasm:task` (no `wasi:cli`, `wasi:io`, `wasi:clocks`,
//! `wasi:filesystem`). That makes every invocation much cheaper to
//! instantiate. A handler crate for this route is itself
//! `#![cfg_attr(target_arch = "wasm32", no_std)]` with `extern crate alloc;`,
//! takes `String`, `Vec`, `format!`, `BTreeMap`, ... from `alloc`, and uses
//! `serde`/`serde_json` with `default-features = false, features = ["alloc"]`
//! (`serde` also with `"derive"`). Natively (unit tests, the host's benchmark)
//! the same crate links std as usual.
//!
//! A panic in such a component is written to the host's `log` at level
//! `error` (`panicked at <file>:<line>:<col>: <message>`, at most 1 KiB),
//! then the component traps: the task fails with `States.TaskFailed` and the
//! message is among the invocation's log lines.
//!
//! Enable the **`std` feature** when the handler, or any crate it depends on,
//! needs Rust's std (`HashMap`, `std::time`, files, the environment): the SDK
//! then links std, and the component imports WASI too (with nothing granted:
//! no files, no environment, no sockets; a panic's message goes to stderr,
//! which the host quotes in the task's cause). A crate that links std
//! without the feature fails to build with "found duplicate lang item
//! `panic_impl`".

#![cfg_attr(all(target_arch = "wasm32", not(feature = "std")), no_std)]

extern crate alloc;

use alloc::{format, string::String};
use serde::{de::DeserializeOwned, Serialize};

pub mod http;
pub mod kv;
pub mod log;
mod whole_input;

pub use whole_input::WholeInput;
#[cfg(all(target_arch = "wasm32", not(feature = "std")))]
mod no_std_rt;

/// Bindings generated from `wit/task.wit`. Used by [`handler!`]; handler
/// authors do not need them.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "task",
        pub_export_macro: true,
        export_macro_name: "__export_task_handler",
        default_bindings_module: "stepwasm_guest::bindings",
    });
}

/// What the host tells a handler about the invocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// The execution's id.
    pub execution_id: String,
    /// The name of the Task state being run.
    pub state_name: String,
    /// 1 for the first attempt, 2 for the first retry, and so on.
    pub attempt: u32,
    /// The task token, when the state's resource asks for one.
    pub task_token: Option<String>,
}

/// A handled failure: `error` is the ASL error name Retry and Catch match on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskError {
    /// ASL error name, e.g. `PaymentVerificationFailed`.
    pub error: String,
    /// Human-readable explanation.
    pub cause: String,
}

impl TaskError {
    /// A task error with the given ASL error name and cause.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        TaskError { error: error.into(), cause: cause.into() }
    }
}

impl core::fmt::Display for TaskError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}: {}", self.error, self.cause)
    }
}

impl core::error::Error for TaskError {}

/// Error name used when the input does not deserialise into the handler's type.
pub const INVALID_INPUT: &str = "InvalidTaskInput";
/// Error name used when the handler's output cannot be serialised.
pub const INVALID_OUTPUT: &str = "InvalidTaskOutput";

/// Runs `handler` on JSON `input`: deserialise, call, serialise.
///
/// This is what the component export does; it is public so hosts and tests can
/// run the same handler natively.
pub fn call<I, O, F>(handler: F, input: &str, ctx: &Context) -> Result<String, TaskError>
where
    I: DeserializeOwned,
    O: Serialize,
    F: FnOnce(I, &Context) -> Result<O, TaskError>,
{
    let parsed: I = serde_json::from_str(input)
        .map_err(|e| TaskError::new(INVALID_INPUT, format!("input does not match the handler's input type: {e}")))?;
    let output = handler(parsed, ctx)?;
    serde_json::to_string(&output).map_err(|e| TaskError::new(INVALID_OUTPUT, format!("cannot serialise the handler's output: {e}")))
}

/// Exports `handler` (a `fn(I, &Context) -> Result<O, TaskError>`) as the
/// component's `stepwasm:task/handler` when built for wasm32. One per crate.
#[macro_export]
// rustfmt would pull the export line out of its block (it cannot format it).
#[rustfmt::skip]
macro_rules! handler {
    ($handler:path) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct StepwasmHandler;
            impl $crate::bindings::exports::stepwasm::task::handler::Guest for StepwasmHandler {
                fn handle(
                    input: $crate::__private::String,
                    ctx: $crate::bindings::stepwasm::task::types::Context,
                ) -> ::core::result::Result<$crate::__private::String, $crate::bindings::stepwasm::task::types::TaskError> {
                    $crate::__private::dispatch($handler, &input, ctx)
                }
            }
            $crate::bindings::__export_task_handler!(StepwasmHandler with_types_in $crate::bindings);
        };
    };
}

#[doc(hidden)]
pub mod __private {
    use super::*;
    use crate::bindings::stepwasm::task::types as wit;
    pub use alloc::string::String;

    /// Converts the WIT context, runs the handler, converts the error back.
    pub fn dispatch<I: DeserializeOwned, O: Serialize>(
        handler: impl FnOnce(I, &Context) -> Result<O, TaskError>,
        input: &str,
        ctx: wit::Context,
    ) -> Result<String, wit::TaskError> {
        let ctx = Context { execution_id: ctx.execution_id, state_name: ctx.state_name, attempt: ctx.attempt, task_token: ctx.task_token };
        call(handler, input, &ctx).map_err(|e| wit::TaskError { error: e.error, cause: e.cause })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct In {
        n: i64,
    }

    fn double(input: In, ctx: &Context) -> Result<serde_json::Value, TaskError> {
        if input.n < 0 {
            return Err(TaskError::new("Negative", format!("{} in {}", input.n, ctx.state_name)));
        }
        Ok(serde_json::json!({ "doubled": input.n * 2, "attempt": ctx.attempt }))
    }

    #[test]
    fn call_round_trips_json() {
        let ctx = Context { attempt: 2, ..Context::default() };
        let out: serde_json::Value = serde_json::from_str(&call(double, r#"{"n":21}"#, &ctx).unwrap()).unwrap();
        assert_eq!(out, serde_json::json!({"doubled": 42, "attempt": 2}));
    }

    #[test]
    fn handler_errors_pass_through() {
        let ctx = Context { state_name: "Double".into(), ..Context::default() };
        let err = call(double, r#"{"n":-1}"#, &ctx).unwrap_err();
        assert_eq!(err, TaskError::new("Negative", "-1 in Double"));
    }

    #[test]
    fn bad_input_is_a_named_error() {
        let err = call(double, r#"{"m":1}"#, &Context::default()).unwrap_err();
        assert_eq!(err.error, INVALID_INPUT);
        assert!(err.cause.contains("missing field `n`"), "{}", err.cause);
    }
}
