//! `stepwasm start`: an execution recorded in a store, not run: whoever
//! drives the store (`serve`) runs it.

use super::store_flags::StoreArg;
use super::ConfigArg;
use crate::driver::SystemClock;
use crate::store::Store;
use anyhow::{anyhow, Result};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct StartArgs {
    /// The state machine definition (ASL JSON).
    definition: PathBuf,
    /// The execution input: JSON text, or @path to a JSON file.
    #[arg(long, default_value = "{}")]
    input: String,
    /// Execution name (default: generated); unique in the store.
    #[arg(long)]
    name: Option<String>,
    /// Resources are checked against this map (default: stepwasm.toml beside
    /// the definition, if present).
    #[command(flatten)]
    config: ConfigArg,
    #[command(flatten)]
    store: StoreArg,
}

/// The `start` subcommand: the definition is checked (its resources too),
/// kept in the store, and the execution recorded as started; it prints the
/// execution's ARN.
pub fn start(args: StartArgs) -> Result<ExitCode> {
    let machine = crate::cli::load_definition(&args.definition)?;
    let input = crate::cli::parse_input(&args.input)?;
    let map = crate::cli::load_resource_map(&args.config, &args.definition)?;
    // As CreateStateMachine: a resource nothing maps fails when reached.
    map.check_mapped_tasks(&machine).map_err(|e| anyhow!(e))?;
    let store = args.store.open()?;
    let info = crate::driver::execution_info(
        &crate::cli::state_machine_name(&args.definition),
        &args.name.unwrap_or_else(crate::cli::generated_name),
    );
    store.put_state_machine(&info.state_machine_arn, &info.state_machine_name, &std::fs::read_to_string(&args.definition)?)?;
    crate::cli::command_runtime()?.block_on(crate::driver::start_execution(machine, info.clone(), input, &SystemClock, &store))?;
    println!("{}", info.execution_arn);
    Ok(ExitCode::SUCCESS)
}
