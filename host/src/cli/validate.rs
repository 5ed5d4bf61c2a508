//! `stepwasm validate`: every problem of a definition, located; with a
//! resource map, its modules loaded as they would be to run.

use super::inputs::{find_config, load_runtime, CacheArg, ConfigArg, CONFIG_FILE_NAME};
use crate::asl::parse_definition;
use crate::runtime::ResourceMap;
use anyhow::{Context as _, Result};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct ValidateArgs {
    /// The state machine definition (ASL JSON).
    definition: PathBuf,
    #[command(flatten)]
    config: ConfigArg,
    #[command(flatten)]
    cache: CacheArg,
}

/// The `validate` subcommand.
pub fn validate(args: ValidateArgs) -> Result<ExitCode> {
    let text =
        std::fs::read_to_string(&args.definition).with_context(|| format!("cannot read definition {}", args.definition.display()))?;
    let machine = match parse_definition(&text) {
        Ok(m) => m,
        Err(e) => {
            print!("{}: {e}", args.definition.display());
            return Ok(ExitCode::from(2));
        }
    };
    let resources = match find_config(&args.config, &args.definition) {
        Some(path) => {
            let map = ResourceMap::load(&path)?;
            if let Err(e) = load_runtime(&machine, &map, &args.cache) {
                println!("{}: {e}", args.definition.display());
                return Ok(ExitCode::from(2));
            }
            format!("resources checked against {}", path.display())
        }
        None => format!("resources not checked (no {CONFIG_FILE_NAME} given or beside the definition)"),
    };
    let tasks = machine.task_resources().len();
    println!("{}: valid: {} states, {tasks} task(s); {resources}", args.definition.display(), machine.root.all_states().len());
    Ok(ExitCode::SUCCESS)
}
