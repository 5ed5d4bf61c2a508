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
    let text = serde_json::to_string(value).map_err(|e| KvError::new(format!("cannot serialise the value for key {key:?}: {e}")))?;
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
    use super::{KvError, NativeKv};
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    thread_local! {
        pub static STORE: RefCell<BTreeMap<String, String>> = const { RefCell::new(BTreeMap::new()) };
        pub static BACKEND: RefCell<Option<Box<dyn NativeKv>>> = const { RefCell::new(None) };
    }

    /// `call` on this thread's installed backend, if there is one.
    fn on_backend<T>(call: impl FnOnce(&mut dyn NativeKv) -> Result<T, String>) -> Option<Result<T, KvError>> {
        BACKEND.with(|b| b.borrow_mut().as_deref_mut().map(|backend| call(backend).map_err(KvError::new)))
    }

    pub fn get(key: &str) -> Result<Option<String>, KvError> {
        on_backend(|b| b.get(key)).unwrap_or_else(|| Ok(STORE.with(|s| s.borrow().get(key).cloned())))
    }

    pub fn set(key: &str, value: &str) -> Result<(), KvError> {
        on_backend(|b| b.set(key, value)).unwrap_or_else(|| {
            STORE.with(|s| s.borrow_mut().insert(key.to_owned(), value.to_owned()));
            Ok(())
        })
    }

    pub fn delete(key: &str) -> Result<(), KvError> {
        on_backend(|b| b.delete(key)).unwrap_or_else(|| {
            STORE.with(|s| s.borrow_mut().remove(key));
            Ok(())
        })
    }
}

/// Natively, what a thread's kv calls can reach instead of the in-memory map:
/// a host that runs handlers natively supplies its own store (the host's
/// benchmark does, to compare native handlers with components on the same
/// transactional store). Not available in a component.
#[cfg(not(target_arch = "wasm32"))]
pub trait NativeKv: std::any::Any {
    fn get(&mut self, key: &str) -> Result<Option<String>, String>;
    fn set(&mut self, key: &str, value: &str) -> Result<(), String>;
    fn delete(&mut self, key: &str) -> Result<(), String>;
}

/// Sends this thread's kv calls to `backend` while `f` runs, then hands the
/// backend back with `f`'s result (so the caller can commit what it staged).
/// Nests; if `f` panics, the previous backend is put back all the same.
#[cfg(not(target_arch = "wasm32"))]
pub fn with_native_backend<B: NativeKv, R>(backend: B, f: impl FnOnce() -> R) -> (R, B) {
    /// Puts the previous backend back when dropped, also while unwinding.
    struct Restore(Option<Option<Box<dyn NativeKv>>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(previous) = self.0.take() {
                imp::BACKEND.with(|b| *b.borrow_mut() = previous);
            }
        }
    }
    let previous = imp::BACKEND.with(|b| b.borrow_mut().replace(Box::new(backend)));
    let restore = Restore(Some(previous));
    let result = f();
    // Nested calls have put back what they replaced: this is ours.
    let mine = imp::BACKEND.with(|b| b.borrow_mut().take());
    drop(restore);
    let mine: Box<dyn std::any::Any> = mine.expect("the backend installed above is still installed");
    let mine = mine.downcast::<B>().unwrap_or_else(|_| unreachable!("the backend installed above has type B"));
    (result, *mine)
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

    /// Counts calls and keeps values in its own map.
    #[derive(Default)]
    struct Counting {
        calls: usize,
        values: std::collections::BTreeMap<String, String>,
    }

    impl NativeKv for Counting {
        fn get(&mut self, key: &str) -> Result<Option<String>, String> {
            self.calls += 1;
            Ok(self.values.get(key).cloned())
        }
        fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
            self.calls += 1;
            if key == "refused" {
                return Err("no such key allowed".into());
            }
            self.values.insert(key.into(), value.into());
            Ok(())
        }
        fn delete(&mut self, key: &str) -> Result<(), String> {
            self.calls += 1;
            self.values.remove(key);
            Ok(())
        }
    }

    #[test]
    fn a_native_backend_takes_the_calls_while_installed() {
        clear_native();
        set("outside", "1").unwrap();
        let (seen, backend) = with_native_backend(Counting::default(), || {
            set("inside", "2").unwrap();
            let refused = set("refused", "x").unwrap_err();
            let (inner, nested) = with_native_backend(Counting::default(), || get("inside").unwrap());
            (get("outside").unwrap(), get("inside").unwrap(), refused.message().to_string(), inner, nested.calls)
        });
        assert_eq!(seen, (None, Some("2".into()), "no such key allowed".into(), None, 1));
        assert_eq!(backend.calls, 4);
        assert_eq!(backend.values.get("inside").map(String::as_str), Some("2"));
        // Uninstalled: the thread's map again, untouched by the backend.
        assert_eq!(get("outside").unwrap().as_deref(), Some("1"));
        assert_eq!(get("inside").unwrap(), None);
        // A panic inside still uninstalls it.
        let caught = std::panic::catch_unwind(|| with_native_backend(Counting::default(), || panic!("inside")));
        assert!(caught.is_err());
        assert_eq!(get("outside").unwrap().as_deref(), Some("1"));
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
