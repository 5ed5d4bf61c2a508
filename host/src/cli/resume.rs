//! `stepwasm resume`: every execution a crash left running (or a redrive
//! started again) continued from its history, one after another, holding
//! the store's lock.

use super::store_flags::{LockArg, StoreArg};
use super::{print_record, CacheArg, ConfigArg};
use crate::driver::{resume_execution, Clock, SystemClock, VirtualClock};
use crate::engine::Outcome;
use crate::store::{CrashGuard, DriveStart, ExecutionStatus, Store, CRASH_LIMIT};
use crate::tasks::HostTasks;
use anyhow::Result;
use clap::Args;
use std::process::ExitCode;

#[derive(Args)]
pub struct ResumeArgs {
    #[command(flatten)]
    store: StoreArg,
    #[command(flatten)]
    lock: LockArg,
    /// Resource map of the stored state machines (default: `wasm:<name>`
    /// resources are looked up in the current directory).
    #[command(flatten)]
    config: ConfigArg,
    /// Complete Wait states and retry backoffs instantly instead of really waiting.
    #[arg(long)]
    no_wait: bool,
    #[command(flatten)]
    cache: CacheArg,
    /// Crash-loop guard: an execution whose task was running each time this
    /// command stopped (crashed, was killed) this many times in a row, with
    /// no progress in between, is failed (`States.Runtime`) instead of being
    /// resumed again; 0 turns the guard off.
    #[arg(long, default_value_t = CRASH_LIMIT)]
    crash_limit: u32,
    #[command(flatten)]
    fanout: crate::cli::inputs::FanoutArg,
}

/// The `resume` subcommand: every RUNNING execution in the store, continued
/// to its end one after another. Exit 0 when all of them succeed, 1 when
/// one fails, 2 when one cannot be resumed (the others still are).
pub fn resume(args: ResumeArgs) -> Result<ExitCode> {
    args.fanout.apply();
    let (_lock, store) = args.store.open_exclusive(&args.lock, "stepwasm resume")?;
    let machines = crate::machines::StoredMachines::new(args.config.machine_settings(&args.cache)?, &args.store.store);
    machines.map_registered(&store)?;
    let clock: Box<dyn Clock> = if args.no_wait { Box::new(VirtualClock::starting_now()) } else { Box::new(SystemClock) };
    let running = store.executions(Some(ExecutionStatus::Running))?;
    let tokio = crate::cli::command_runtime()?;
    println!("{} running execution(s) in {}", running.len(), args.store.store.display());
    let mut code = ExitCode::SUCCESS;
    for execution in running {
        let loaded = match machines.get(&store, &execution.info) {
            Ok(loaded) => loaded,
            Err(e) => {
                eprintln!("error: cannot resume {}: {e:#}", execution.info.execution_arn);
                code = ExitCode::from(2);
                continue;
            }
        };
        let test_case = match machines.test_case_of(&execution.info) {
            Ok(test_case) => test_case,
            Err(e) => {
                eprintln!("error: cannot resume {}: {e:#}", execution.info.execution_arn);
                code = ExitCode::from(2);
                continue;
            }
        };
        // Noted before anything of it is evaluated (the crash-loop guard).
        if args.crash_limit > 0 {
            // `resume` does not park: any wait may be where it was stopped
            // (Ctrl-C), so only stops during a task are counted.
            let guard = CrashGuard { limit: args.crash_limit, waits_up_to_ms: i64::MAX };
            match store.begin_drive(&execution.info.execution_arn, guard, SystemClock.now_ms()) {
                Ok(DriveStart::Go { .. }) => {}
                Ok(DriveStart::Failed { error, cause }) => {
                    println!("execution: {}\nstatus: FAILED\nerror: {error}\ncause: {cause}", execution.info.name);
                    if code == ExitCode::SUCCESS {
                        code = ExitCode::from(1);
                    }
                    continue;
                }
                Err(e) => {
                    eprintln!("error: cannot resume {}: {e}", execution.info.execution_arn);
                    code = ExitCode::from(2);
                    continue;
                }
            }
        }
        let (machine, runtime) = &*loaded;
        let tasks = HostTasks::wasm_only(runtime)
            .with_mock(test_case.as_deref())
            .with_http_tasks(machines.http_tasks())
            .with_s3_buckets(machines.s3_buckets());
        let outcome = tokio.block_on(resume_execution(machine.clone(), execution.info.clone(), &tasks, clock.as_ref(), &store));
        match outcome {
            Ok(record) => {
                print_record(&record);
                if !matches!(record.outcome, Outcome::Succeeded { .. }) && code == ExitCode::SUCCESS {
                    code = ExitCode::from(1);
                }
            }
            Err(e) => {
                eprintln!("error: cannot resume {}: {e}", execution.info.execution_arn);
                // This command did not die resuming it: no crash is counted.
                if let Err(e) = store.end_drive(&execution.info.execution_arn) {
                    eprintln!("error: {}: {e}", execution.info.execution_arn);
                }
                code = ExitCode::from(2);
            }
        }
    }
    Ok(code)
}
