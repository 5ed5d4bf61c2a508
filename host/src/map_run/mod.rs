//! A Distributed Map's map run (`ProcessorConfig.Mode: DISTRIBUTED`): the
//! engine records `MapRunStarted` and hands the run over as a task
//! ([`crate::engine::map_run`]); [`run_map_run`](run::run_map_run) reads its items,
//! runs its child executions where [`children`] says and writes its results.
//! Buckets are directories the config maps (`[s3.buckets]`): [`buckets`]
//! resolves keys safely inside them, [`items`] is the `ItemReader`,
//! [`results`] the `ResultWriter`.

pub mod buckets;
pub mod children;
pub mod items;
pub mod results;
pub mod run;

use crate::engine::{TaskInvocation, TaskOutcome, TaskRunner};
use crate::runtime::config::S3Buckets;
use crate::store::Journal as _;
use crate::tasks::nested::NestedExecutions;
use futures_util::future::BoxFuture;
use std::sync::Arc;

/// Runs the map run `task` stands for: children kept in `serve`'s store
/// when `nested` reaches its API, else run in this process by `runner`
/// (refused for an execution journaled in a store without `serve`).
pub fn run<'a, R: TaskRunner + Sync + ?Sized>(
    task: &'a TaskInvocation,
    runner: &'a R,
    nested: Option<&'a NestedExecutions>,
    buckets: Option<&'a S3Buckets>,
) -> BoxFuture<'a, TaskOutcome> {
    Box::pin(async move {
        let Some(spec) = &task.map_run else {
            return TaskOutcome::Failed { error: crate::asl::errors::RUNTIME.into(), cause: "a map run without its settings".into() };
        };
        let definition = spec.0.processor_definition.to_string();
        let host_cap = crate::driver::max_concurrent_children();
        match nested {
            Some(nested) => {
                let api = Arc::clone(nested.api());
                let role_arn = match api.store.execution(&task.execution_id) {
                    Ok(Some(parent)) => parent.info.role_arn,
                    Ok(None) => crate::engine::arn::default_role_arn(&task.execution_id),
                    Err(e) => return TaskOutcome::StoreUnavailable { cause: format!("the map run's store: {e}") },
                };
                let children = children::StoredChildren::new(api, task.execution_id.clone(), role_arn, definition);
                run::run_map_run(task, &children, buckets, host_cap).await
            }
            // Journaled without `serve` (`run --store`, `resume`): children run
            // here would be kept nowhere, so a resumed parent would run them all
            // again, those `serve` ran included. The drive stops with nothing
            // recorded: the execution stays RUNNING for `serve` to drive.
            None if task.journaled => {
                let cause = format!(
                    "state {:?} is a Distributed Map, whose children only `stepwasm serve` keeps in the store: \
                     drive this execution with serve (it is left RUNNING), or run it without a store",
                    task.state_name
                );
                TaskOutcome::StoreUnavailable { cause }
            }
            None => {
                let machine = match crate::asl::parse_definition(&definition) {
                    Ok(machine) => Arc::new(machine),
                    Err(e) => {
                        let cause = format!("state {:?}: the item processor as a state machine: {e}", task.state_name);
                        return TaskOutcome::Failed { error: crate::asl::errors::RUNTIME.into(), cause };
                    }
                };
                let role_arn = crate::engine::arn::default_role_arn(&task.execution_id);
                let children = children::InProcessChildren { runner, machine, role_arn };
                run::run_map_run(task, &children, buckets, host_cap).await
            }
        }
    })
}
