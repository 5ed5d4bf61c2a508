//! Running Task resources as WebAssembly components: the resource map
//! ([`config`]), the wasmtime runtime ([`wasm`]), the on-disk cache of
//! compiled components ([`cache`]) and the mapping from traps and limits to
//! ASL errors ([`limits`]).

pub mod cache;
pub mod config;
pub mod limits;
pub mod wasm;

pub use cache::{CacheOutcome, CompileCache};
pub use config::{Limits, ResourceMap, ResourceSpec};
pub use wasm::{LogLine, RuntimeError, WasmRuntime};
