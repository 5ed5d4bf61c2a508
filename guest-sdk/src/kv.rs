//! A key-value store through the host's `kv` capability.
//!
//! Keys and values are strings; [`get_json`] and [`set_json`] store any
//! `serde` type as JSON text. The store is scoped to the namespace named in the
//! resource's grant in `stepwasm.toml`, so two resources only share data when
//! their grants name the same namespace. A module may import `kv` only when its
//! resource is granted it: a module that uses this module without the grant is
//! refused when it is loaded.
//!
//! **Transactions.** In a component, writes ([`set`], [`delete`]) are staged by
//! the host for the duration of the invocation and committed together only if
//! the task succeeds; a failed, retried or timed-out attempt leaves no trace.
//! Reads see the invocation's own staged writes.
//!
//! **Natively** (unit tests, the host's benchmark) the store is a plain
//! per-thread in-memory map with no transactional semantics: every write is
//! visible immediately and stays even if the handler then fails.
//! [`clear_native`] empties it.
//!
//! ```
//! use stepwasm_guest::{kv, TaskError};
//!
//! fn bump(key: &str) -> Result<u64, TaskError> {
//!     let n: u64 = kv::get_json(key)?.unwrap_or(0);
//!     kv::set_json(key, &(n + 1))?; // a KvError becomes the ASL error "KvFailed"
//!     Ok(n + 1)
//! }
//!
//! assert_eq!(bump("visits").unwrap(), 1);
//! assert_eq!(bump("visits").unwrap(), 2);
//! assert_eq!(kv::get("visits").unwrap().as_deref(), Some("2"));
//! kv::delete("visits").unwrap();
//! assert_eq!(kv::get("visits").unwrap(), None);
//! ```

use crate::TaskError;
use alloc::{format, string::String};
use serde::{de::DeserializeOwned, Serialize};

/// The ASL error name a [`KvError`] becomes when it is turned into a
/// [`TaskError`] (with `?` in a handler).
pub const KV_FAILED: &str = "KvFailed";

/// Why a kv call failed: the host's message (a limit, a store failure), or,
/// for the JSON helpers, why the value could not be (de)serialised. It
/// displays as the bare message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvError {
    message: String,
}

impl KvError {
    /// A kv error with the given message.
    pub fn new(message: impl Into<String>) -> Self {
        KvError { message: message.into() }
    }

    /// The message, as the host (or the JSON helper) gave it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl core::fmt::Display for KvError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message)
    }
}

impl core::error::Error for KvError {}

/// A kv failure is the ASL error `KvFailed` (see [`KV_FAILED`]), with the
/// message as its cause, so a definition can Retry or Catch it.
impl From<KvError> for TaskError {
    fn from(e: KvError) -> Self {
        TaskError::new(KV_FAILED, e.message)
    }
}

/// The value stored under `key`, or `None` when there is none.
pub fn get(key: &str) -> Result<Option<String>, KvError> {
    imp::get(key)
}

/// Stores `value` under `key` (staged until the task succeeds, in a component).
pub fn set(key: &str, value: &str) -> Result<(), KvError> {
    imp::set(key, value)
}

/// Removes `key` (staged until the task succeeds, in a component). Removing a
/// key that is not there is not an error.
pub fn delete(key: &str) -> Result<(), KvError> {
    imp::delete(key)
}

/// The value under `key` parsed as JSON into `T`, or `None` when there is none.
/// A value that is not JSON of type `T` is a [`KvError`] naming the key.
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>, KvError> {
    match get(key)? {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| KvError::new(format!("the value under key {key:?} is not the expected JSON: {e}"))),
    }
}

/// Stores `value` under `key` as JSON text.
pub fn set_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<(), KvError> {
    let text = serde_json::to_string(value)
        .map_err(|e| KvError::new(format!("cannot serialise the value for key {key:?}: {e}")))?;
    set(key, &text)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::KvError;
    use crate::bindings::stepwasm::task::kv as wit;
    use alloc::string::String;

    pub fn get(key: &str) -> Result<Option<String>, KvError> {
        wit::get(key).map_err(KvError::new)
    }

    pub fn set(key: &str, value: &str) -> Result<(), KvError> {
        wit::set(key, value).map_err(KvError::new)
    }

    pub fn delete(key: &str) -> Result<(), KvError> {
        wit::delete(key).map_err(KvError::new)
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::KvError;
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    thread_local! {
        pub static STORE: RefCell<BTreeMap<String, String>> = const { RefCell::new(BTreeMap::new()) };
    }

    pub fn get(key: &str) -> Result<Option<String>, KvError> {
        Ok(STORE.with(|s| s.borrow().get(key).cloned()))
    }

    pub fn set(key: &str, value: &str) -> Result<(), KvError> {
        STORE.with(|s| s.borrow_mut().insert(key.to_owned(), value.to_owned()));
        Ok(())
    }

    pub fn delete(key: &str) -> Result<(), KvError> {
        STORE.with(|s| s.borrow_mut().remove(key));
        Ok(())
    }
}

/// Empties this thread's native store (not available in a component).
#[cfg(not(target_arch = "wasm32"))]
pub fn clear_native() {
    imp::STORE.with(|s| s.borrow_mut().clear())
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn native_store_round_trips() {
        clear_native();
        assert_eq!(get("a").unwrap(), None);
        set("a", "1").unwrap();
        set_json("b", &vec![1, 2]).unwrap();
        assert_eq!(get("a").unwrap().as_deref(), Some("1"));
        assert_eq!(get_json::<Vec<u8>>("b").unwrap(), Some(vec![1, 2]));
        delete("a").unwrap();
        delete("missing").unwrap();
        assert_eq!(get("a").unwrap(), None);
        clear_native();
        assert_eq!(get("b").unwrap(), None);
    }

    #[test]
    fn bad_json_and_error_conversion() {
        clear_native();
        set("n", "not json").unwrap();
        let err = get_json::<u64>("n").unwrap_err();
        assert!(err.message().contains("\"n\""), "{err}");
        let task: TaskError = err.into();
        assert_eq!(task.error, "KvFailed");
    }
}
