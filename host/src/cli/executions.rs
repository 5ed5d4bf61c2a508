//! `stepwasm executions`: `list`, `describe` and `history` read what a store
//! holds, `stop` aborts an execution, `redrive` starts an unsuccessful one
//! again (for `serve` or `resume` to drive).

use super::store_flags::StoreArg;
use super::{check_error_and_cause, history_table};
use crate::driver::{Clock, SystemClock};
use crate::engine::Outcome;
use crate::store::{ExecutionStatus, ExecutionSummary, Journal, SqliteStore, Store};
use anyhow::{anyhow, bail, Result};
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum ExecutionsCommand {
    /// List executions, oldest first.
    List {
        #[command(flatten)]
        store: StoreArg,
        /// Only those with this status (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED).
        #[arg(long)]
        status: Option<String>,
    },
    /// One execution: its status, times, and its output or error.
    Describe {
        #[command(flatten)]
        store: StoreArg,
        /// The execution's name or ARN.
        execution: String,
    },
    /// An execution's history events.
    History {
        #[command(flatten)]
        store: StoreArg,
        /// The execution's name or ARN.
        execution: String,
        /// Print the events as GetExecutionHistory returns them (JSON).
        #[arg(long)]
        json: bool,
    },
    /// Stop a running execution: it ends ABORTED, whatever it was doing (a
    /// `serve` driving it lets go of it, abandoning a task in progress).
    Stop {
        #[command(flatten)]
        store: StoreArg,
        /// The execution's name or ARN.
        execution: String,
        /// An error name to record (up to 256 characters).
        #[arg(long, default_value = "")]
        error: String,
        /// Why it was stopped (up to 32,768 characters).
        #[arg(long, default_value = "")]
        cause: String,
    },
    /// Start a FAILED, TIMED_OUT or ABORTED execution again from the state it
    /// ended in, with the input that state had (RedriveExecution); a `serve`
    /// on the store, or `resume`, then drives it on.
    Redrive {
        #[command(flatten)]
        store: StoreArg,
        /// The execution's name or ARN.
        execution: String,
    },
}

/// The `executions` subcommands.
pub fn executions(command: ExecutionsCommand) -> Result<ExitCode> {
    match command {
        ExecutionsCommand::List { store, status } => {
            let status = match status {
                Some(name) => Some(
                    ExecutionStatus::parse(&name.to_ascii_uppercase())
                        .ok_or_else(|| anyhow!("--status {name:?}: expected RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED"))?,
                ),
                None => None,
            };
            println!("{:<10} {:<24} {:<24} NAME", "STATUS", "STARTED", "STOPPED");
            for e in store.open()?.executions(status)? {
                let stopped = e.stop_ms.map(crate::engine::history::rfc3339).unwrap_or_else(|| "-".into());
                println!("{:<10} {:<24} {:<24} {}", e.status.as_str(), crate::engine::history::rfc3339(e.start_ms), stopped, e.info.name);
            }
            Ok(ExitCode::SUCCESS)
        }
        ExecutionsCommand::Describe { store, execution } => {
            let store = store.open()?;
            let summary = find_execution(&store, &execution)?;
            let history = store.history(&summary.info.execution_arn)?;
            println!("execution: {}", summary.info.name);
            println!("arn: {}", summary.info.execution_arn);
            println!("state machine: {}", summary.info.state_machine_arn);
            if let Some((Some(version), _)) = store.execution_definition(&summary.info.execution_arn)? {
                println!("definition version: {version}");
            }
            println!("status: {}", summary.status.as_str());
            println!("started: {}", crate::engine::history::rfc3339(summary.start_ms));
            if let Some(redriven) = summary.redrive_ms {
                println!("redriven: {} time(s), last at {}", summary.redrive_count, crate::engine::history::rfc3339(redriven));
            }
            if let Some(stop) = summary.stop_ms {
                println!("stopped: {}", crate::engine::history::rfc3339(stop));
            }
            println!("events: {}", history.len());
            match history.last().and_then(|e| Outcome::ended_by(&e.kind)) {
                Some(Outcome::Succeeded { output }) => println!("output: {}", serde_json::to_string_pretty(&output)?),
                Some(Outcome::Failed { error, cause } | Outcome::TimedOut { error, cause } | Outcome::Aborted { error, cause }) => {
                    println!("error: {error}");
                    println!("cause: {cause}");
                }
                None => {}
            }
            Ok(ExitCode::SUCCESS)
        }
        ExecutionsCommand::Stop { store, execution, error, cause } => {
            check_error_and_cause(&error, &cause)?;
            let store = store.open()?;
            let summary = find_execution(&store, &execution)?;
            let event = store.stop_execution(&summary.info.execution_arn, &error, &cause, SystemClock.now_ms())?;
            println!("ABORTED {} at {}", summary.info.name, crate::engine::history::rfc3339(event.timestamp_ms));
            Ok(ExitCode::SUCCESS)
        }
        ExecutionsCommand::Redrive { store, execution } => {
            let store = store.open()?;
            let summary = find_execution(&store, &execution)?;
            let redrive = store.redrive_execution(&summary.info.execution_arn, None, SystemClock.now_ms())?;
            let at = crate::engine::history::rfc3339(redrive.redrive_ms);
            println!("RUNNING {} (redrive {}) at {at}", summary.info.name, redrive.redrive_count);
            Ok(ExitCode::SUCCESS)
        }
        ExecutionsCommand::History { store, execution, json } => {
            let store = store.open()?;
            let summary = find_execution(&store, &execution)?;
            let history = store.history(&summary.info.execution_arn)?;
            if json {
                let region = crate::engine::arn::region_of(&summary.info.execution_arn);
                let events: Vec<_> = history.iter().map(|e| e.to_aws_json(region)).collect();
                println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "events": events }))?);
            } else {
                print!("{}", history_table(&history));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// An execution by ARN, or by name when exactly one has it.
fn find_execution(store: &SqliteStore, name_or_arn: &str) -> Result<ExecutionSummary> {
    if name_or_arn.starts_with("arn:") {
        return store.execution(name_or_arn)?.ok_or_else(|| anyhow!("no execution {name_or_arn} in the store"));
    }
    let mut named: Vec<ExecutionSummary> = store.executions(None)?.into_iter().filter(|e| e.info.name == name_or_arn).collect();
    match named.len() {
        0 => bail!("no execution named {name_or_arn:?} in the store"),
        1 => Ok(named.remove(0)),
        _ => {
            let arns: Vec<&str> = named.iter().map(|e| e.info.execution_arn.as_str()).collect();
            bail!("{} executions are named {name_or_arn:?}; give one of their ARNs: {}", arns.len(), arns.join(", "))
        }
    }
}
