//! The `stepwasm` command line: one file per command (`run`, `validate`,
//! `graph`, `executions`, `start`, `resume`, `task`, `store`; `new` and
//! `build` in [`handler_project`]; `serve` is a
//! module of its own; the benchmark is the `stepwasm-bench` crate), and what
//! they share: [`inputs`] (definitions, configs, JSON arguments) and
//! [`store_flags`] (`--store`, the store's lock).
//!
//! Exit codes: 0 the execution succeeded (or the definition is valid), 1 the
//! execution failed, timed out or was stopped, 2 a bad definition, input,
//! config, module, store or task token.

mod executions;
mod graph;
mod handler_project;
pub mod inputs;
mod resume;
mod run;
mod start;
mod store;
pub mod store_flags;
mod task;
mod validate;

pub use inputs::{
    check_error_and_cause, command_runtime, find_config, generated_name, load_definition, load_resource_map, load_runtime, parse_input,
    parse_json_arg, state_machine_name, CacheArg, ConfigArg, CONFIG_FILE_NAME,
};
pub use run::{history_table, print_record};

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "stepwasm", version, about = "Run Amazon States Language workflows whose tasks are WebAssembly components")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one execution of a state machine and print its status and output.
    Run(run::RunArgs),
    /// Check a definition (and, with a config, its resources) and list every problem.
    Validate(validate::ValidateArgs),
    /// Read the executions a store holds.
    #[command(subcommand)]
    Executions(executions::ExecutionsCommand),
    /// Continue every execution a store holds as running (after a crash).
    Resume(resume::ResumeArgs),
    /// Add an execution to a store without running it (`serve` runs it).
    Start(start::StartArgs),
    /// Drive every running execution of a store, and those started later.
    Serve(crate::serve::ServeArgs),
    /// Answer a task that waits for its token (`.waitForTaskToken`).
    #[command(subcommand)]
    Task(task::TaskCommand),
    /// Check a store file's integrity, or prune its old executions.
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// Draw a definition: states, transitions, branches (SVG, DOT or Mermaid).
    Graph(graph::GraphArgs),
    /// Create a handler project (Python or JavaScript) in a directory of its own.
    New(handler_project::scaffold::NewArgs),
    /// Build a handler project into a component and check that it loads.
    Build(handler_project::build::BuildArgs),
    /// Internal: compile the component on stdin in a limited process (see
    /// runtime::compile_worker); what `serve` runs for uploaded modules.
    #[command(name = "__compile-worker", hide = true)]
    CompileWorker,
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    crate::runtime::compile_worker::mark_binary_as_worker();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Validate(args) => validate::validate(args),
        Command::Executions(command) => executions::executions(command),
        Command::Resume(args) => resume::resume(args),
        Command::Start(args) => start::start(args),
        Command::Serve(args) => crate::serve::serve(args),
        Command::Task(command) => task::task(command),
        Command::Store(command) => store::store(command),
        Command::Graph(args) => graph::graph(args),
        Command::New(args) => handler_project::scaffold::new(args),
        Command::Build(args) => handler_project::build::build(args),
        Command::CompileWorker => return crate::runtime::compile_worker::worker_main(),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
