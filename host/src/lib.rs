//! stepwasm: an Amazon States Language host that runs every Task state's
//! resource as a sandboxed WebAssembly component.
//!
//! Layers, each depending only on those after it:
//! `cli` → [`driver`] → [`engine`] → [`asl`]; [`driver`] → [`runtime`].
//! See ARCHITECTURE.md for the map.

// The layers below are crates of their own (crates/); their old module
// paths stay valid inside the host.
pub use stepwasm_asl as asl;
pub use stepwasm_asl::graph;
pub use stepwasm_driver as driver;
pub use stepwasm_driver::evaluation_pool;
pub use stepwasm_engine as engine;
pub use stepwasm_jsonata as jsonata;
pub use stepwasm_jsonata::evaluation_budget;
pub use stepwasm_runtime as runtime;
pub use stepwasm_store as store;

pub mod api;
pub mod cli;
pub mod console_out;
pub mod machines;
pub mod map_run;
pub mod serve;
pub mod tasks;
