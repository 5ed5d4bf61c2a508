//! stepwasm: an Amazon States Language host that runs every Task state's
//! resource as a sandboxed WebAssembly component.
//!
//! Layers, each depending only on those after it:
//! `cli` → [`driver`] → [`engine`] → [`asl`]; [`driver`] → [`runtime`].
//! See ARCHITECTURE.md for the map.

// The language and the engine are crates of their own (crates/); their old
// module paths stay valid inside the host.
pub use stepwasm_asl as asl;
pub use stepwasm_asl::graph;
pub use stepwasm_engine as engine;
pub use stepwasm_jsonata as jsonata;
pub use stepwasm_jsonata::evaluation_budget;

pub mod api;
pub mod bench;
pub mod callbacks;
pub mod cli;
pub mod console_out;
pub mod driver;
pub mod evaluation_pool;
pub mod executions;
pub mod machines;
pub mod runtime;
pub mod serve;
pub mod store;
pub mod store_cli;
