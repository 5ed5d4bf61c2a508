//! Running Task resources as WebAssembly components: the resource map and
//! grants ([`config`]), the wasmtime runtime ([`wasm`]), the on-disk cache of
//! compiled components ([`cache`]), the structural pre-check of uploaded
//! components ([`precheck`]) and the limited process that compiles them
//! ([`compile_worker`]), the mapping from traps and limits to ASL
//! errors ([`limits`]), and the capabilities' host sides: the kv store and its
//! per-invocation transactions ([`kv`]), allow-listed outgoing HTTP ([`http`]),
//! the admission of invocations to the instance pool ([`instance_slots`]),
//! and the millisecond clocks modules see ([`clocks`]).

pub mod cache;
pub mod clocks;
pub mod compile_worker;
pub mod component_imports;
pub mod config;
pub mod http;
pub mod instance_slots;
pub mod kv;
pub mod lambda;
pub mod limits;
pub mod precheck;
pub mod wasm;

pub use cache::{CacheOutcome, CompileCache};
pub use config::{Grants, Limits, ResourceMap, ResourceSpec};
pub use kv::KvStore;
pub use wasm::{LogLine, RuntimeError, Unmapped, WasmRuntime};
