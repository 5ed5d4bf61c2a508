//! The end-to-end tests, as one test binary: each module was a test binary of
//! its own, and each linked the whole host and wasmtime. They share `support`
//! (where things are, running the CLI and `serve`, a test HTTP server); the
//! data they read stays in the top-level `tests/` folder.
//!
//! One process now runs them all, so a test must leave process-wide state
//! alone: environment variables go to the commands a test starts
//! (`Command::env`), and what measures this process (RSS, environment) runs
//! in a child process of its own (`support::run_test_alone`).

mod support;

mod api_activities;
mod api_clients;
mod api_errors;
mod api_resources;
mod api_shapes;
mod api_test_state;
mod api_versions;
mod callbacks;
mod capabilities;
mod capacity;
mod concurrency;
mod conformance;
mod console;
mod crash_loop;
mod distributed_map;
mod durability;
mod fanout;
mod handler_projects;
mod hostile_compile;
mod hostile_connections;
mod hostile_corpus;
mod hostile_definitions;
mod hostile_evaluation;
mod hostile_modules;
mod hostile_serve;
mod js_handlers;
mod mocks;
mod nested_and_http;
mod no_panic;
mod order_example;
mod python_handlers;
mod run_cli;
mod store_faults;
mod store_integrity;
mod validate_cli;
mod wasi_http;
