//! stepwasm: an Amazon States Language host that runs every Task state's
//! resource as a sandboxed WebAssembly component.
//!
//! Layers, each depending only on those after it:
//! `cli` → [`driver`] → [`engine`] → [`asl`]; [`driver`] → [`runtime`].
//! See ARCHITECTURE.md for the map.

pub mod api;
pub mod asl;
pub mod bench;
pub mod callbacks;
pub mod cli;
pub mod console_out;
pub mod driver;
pub mod engine;
pub mod evaluation_budget;
pub mod evaluation_pool;
pub mod executions;
pub mod graph;
pub mod jsonata;
pub mod machines;
pub mod runtime;
pub mod serve;
pub mod store;
pub mod store_cli;
