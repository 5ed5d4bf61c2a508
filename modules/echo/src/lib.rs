//! The trivial handler of the peer benchmark (`examples/peer/`): returns its
//! input, read as JSON and written back, as an echo Lambda function does.
//! What a task costs beyond the handler's own work is what this one costs.
//!
//! Built for wasm32 the crate is `no_std` (with `alloc`): its component
//! imports nothing of WASI, only `stepwasm:task`.

#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

use serde_json::Value;
use stepwasm_guest::{Context, TaskError};

/// The input, unchanged.
pub fn echo(input: Value, _ctx: &Context) -> Result<Value, TaskError> {
    Ok(input)
}

stepwasm_guest::handler!(echo);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_input_comes_back_unchanged() {
        let input = r#"{"name":"world","items":[1,2,3],"nested":{"n":1.5,"s":"é"}}"#;
        let out = stepwasm_guest::call(echo, input, &Context::default()).unwrap();
        let (a, b): (Value, Value) = (serde_json::from_str(input).unwrap(), serde_json::from_str(&out).unwrap());
        assert_eq!(a, b);
    }
}
