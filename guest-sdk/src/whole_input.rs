//! A handler that passes the whole state along: its input read as a typed
//! request while the whole JSON object is kept, so the handler returns that
//! object with its own result added under a key. This is the data flow of a
//! definition whose Task states have no `Parameters` or `ResultPath` (each
//! state's output becomes the next one's input, as in the classic order
//! workflow: payment, then inventory, then the notification, each adding to
//! the order).
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use stepwasm_guest::{Context, TaskError, WholeInput};
//!
//! #[derive(Deserialize)]
//! pub struct Order { amount: f64 }
//!
//! #[derive(Serialize)]
//! pub struct Verdict { approved: bool }
//!
//! pub fn verify(order: WholeInput<Order>, _ctx: &Context) -> Result<Box<serde_json::value::RawValue>, TaskError> {
//!     let verdict = Verdict { approved: order.request.amount <= 1000.0 };
//!     order.with_result("paymentResult", &verdict)
//! }
//!
//! let out = stepwasm_guest::call(verify, r#"{"orderId": "A-1", "amount": 12.5}"#, &Context::default()).unwrap();
//! assert_eq!(out, r#"{"orderId": "A-1", "amount": 12.5,"paymentResult":{"approved":true}}"#);
//! ```

use crate::{TaskError, INVALID_OUTPUT};
use alloc::{boxed::Box, format, string::String};
use core::fmt;
use serde::de::{DeserializeOwned, DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// The input as the typed `request` the handler reads, and as the whole JSON
/// object it came in (its text, untouched), which [`WholeInput::with_result`]
/// returns with the handler's result added. An input that is not a JSON
/// object, or that does not read as `T`, is the task error `InvalidTaskInput`.
pub struct WholeInput<T> {
    /// The fields the handler needs, read as its own type.
    pub request: T,
    input: Box<RawValue>,
}

impl<T> WholeInput<T> {
    /// The whole input object's JSON text, as it came.
    pub fn input_text(&self) -> &str {
        self.input.get()
    }

    /// The input object with `result` added under `key`: what the handler
    /// returns. The input's fields keep their order and their text, the
    /// result comes last; a field already named `key` is replaced.
    pub fn with_result<R: Serialize>(self, key: &str, result: &R) -> Result<Box<RawValue>, TaskError> {
        let cannot = |e: serde_json::Error| TaskError::new(INVALID_OUTPUT, format!("cannot serialise the handler's result: {e}"));
        let text = self.input.get();
        let has_key = has_member(text, key).map_err(cannot)?;
        let output = if has_key {
            // Rare (a step run again on its own output): rebuilt as a value.
            let mut object: Map<String, Value> = serde_json::from_str(text).map_err(cannot)?;
            object.insert(key.into(), serde_json::to_value(result).map_err(cannot)?);
            serde_json::to_string(&object).map_err(cannot)?
        } else {
            // The object's text without its closing brace, then the new field.
            let open = text.trim_end().strip_suffix('}').ok_or_else(|| TaskError::new(INVALID_OUTPUT, "the input is not a JSON object"))?;
            let separator = if open.trim_end().ends_with('{') { "" } else { "," };
            let key = serde_json::to_string(key).map_err(cannot)?;
            let value = serde_json::to_string(result).map_err(cannot)?;
            format!("{open}{separator}{key}:{value}}}")
        };
        RawValue::from_string(output).map_err(cannot)
    }
}

/// Whether the JSON object `text` has a member named `key`: one pass that
/// keeps nothing (no key or value is copied).
fn has_member(text: &str, key: &str) -> Result<bool, serde_json::Error> {
    /// Reads an object, telling whether one of its keys is `.0`.
    struct Members<'k>(&'k str);
    /// Reads one key, telling whether it is `.0`.
    struct KeyIs<'k>(&'k str);

    impl<'de> Visitor<'de> for Members<'_> {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
            let mut found = false;
            while let Some(is_key) = map.next_key_seed(KeyIs(self.0))? {
                found |= is_key;
                map.next_value::<IgnoredAny>()?;
            }
            Ok(found)
        }
    }
    impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
        type Value = bool;
        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
            deserializer.deserialize_str(self)
        }
    }
    impl<'de> Visitor<'de> for KeyIs<'_> {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a member name")
        }
        fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<bool, E> {
            Ok(key == self.0)
        }
    }
    serde_json::Deserializer::from_str(text).deserialize_map(Members(key))
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for WholeInput<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let input = Box::<RawValue>::deserialize(deserializer)?;
        let text = input.get().trim_start();
        if !text.starts_with('{') {
            let kind = match text.as_bytes().first() {
                Some(b'[') => "an array",
                Some(b'"') => "a string",
                Some(b'n') => "null",
                Some(b't' | b'f') => "a boolean",
                _ => "a number",
            };
            return Err(D::Error::custom(format!("the input must be a JSON object, not {kind}")));
        }
        let request = serde_json::from_str(input.get()).map_err(D::Error::custom)?;
        Ok(WholeInput { request, input })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{call, Context, INVALID_INPUT};

    #[derive(Deserialize)]
    struct Needs {
        n: i64,
    }

    fn add_double(input: WholeInput<Needs>, _: &Context) -> Result<Box<RawValue>, TaskError> {
        let doubled = input.request.n * 2;
        input.with_result("doubled", &doubled)
    }

    #[test]
    fn the_result_is_added_to_the_whole_input_in_its_order() {
        let out = call(add_double, r#"{"z": [1], "n": 4, "a": {"b": null}}"#, &Context::default()).unwrap();
        assert_eq!(out, r#"{"z": [1], "n": 4, "a": {"b": null},"doubled":8}"#);
    }

    #[test]
    fn a_field_of_the_results_name_is_replaced() {
        let out = call(add_double, r#"{"n": 1, "doubled": "old"}"#, &Context::default()).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), serde_json::json!({"n": 1, "doubled": 2}));
    }

    #[test]
    fn an_empty_object_gains_just_the_result() {
        fn add(input: WholeInput<Map<String, Value>>, _: &Context) -> Result<Box<RawValue>, TaskError> {
            input.with_result("r", &true)
        }
        assert_eq!(call(add, " { } ", &Context::default()).unwrap(), r#"{ "r":true}"#);
    }

    #[test]
    fn an_input_that_is_not_an_object_or_lacks_a_field_is_invalid() {
        for (input, says) in [("[1]", "must be a JSON object, not an array"), (r#"{"m": 1}"#, "missing field `n`")] {
            let err = call(add_double, input, &Context::default()).unwrap_err();
            assert_eq!(err.error, INVALID_INPUT);
            assert!(err.cause.contains(says), "{input}: {}", err.cause);
        }
    }
}
