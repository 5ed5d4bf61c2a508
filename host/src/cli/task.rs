//! `stepwasm task success|failure|heartbeat`: answers a `.waitForTaskToken`
//! task through the store its execution is kept in. The driver running the
//! execution (`serve`, `run --store`) picks the answer up; the result is
//! checked here, before anything is stored.

use crate::cli::check_error_and_cause;
use crate::cli::store_flags::StoreArg;
use crate::driver::{Clock, SystemClock};
use crate::store::{Store, TaskResult};
use anyhow::Result;
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum TaskCommand {
    /// The task succeeded: its output becomes the task's result.
    Success {
        #[command(flatten)]
        store: StoreArg,
        /// The task token (`$$.Task.Token`, as the task's module received it).
        #[arg(long)]
        token: String,
        /// The task's output: JSON text, or @path to a JSON file (up to 256 KiB).
        #[arg(long)]
        output: String,
    },
    /// The task failed with this error (Retry and Catch see it).
    Failure {
        #[command(flatten)]
        store: StoreArg,
        #[arg(long)]
        token: String,
        /// The error name (up to 256 characters).
        #[arg(long, default_value = "")]
        error: String,
        /// What went wrong (up to 32,768 characters).
        #[arg(long, default_value = "")]
        cause: String,
    },
    /// The task is still at work: its HeartbeatSeconds start over.
    Heartbeat {
        #[command(flatten)]
        store: StoreArg,
        #[arg(long)]
        token: String,
    },
}

/// The `task` subcommands. A token no task was given, or whose task no
/// longer waits, is an error (exit 2) naming which of the two it is.
pub fn task(command: TaskCommand) -> Result<ExitCode> {
    match command {
        TaskCommand::Success { store, token, output } => {
            let output = crate::cli::parse_json_arg(&output, "--output", "output")?;
            store.open()?.send_task_result(&token, &TaskResult::Success(output))?;
        }
        TaskCommand::Failure { store, token, error, cause } => {
            check_error_and_cause(&error, &cause)?;
            store.open()?.send_task_result(&token, &TaskResult::Failure { error, cause })?;
        }
        TaskCommand::Heartbeat { store, token } => store.open()?.send_task_heartbeat(&token, SystemClock.now_ms())?,
    }
    Ok(ExitCode::SUCCESS)
}
