//! What runs a Task state's resource on this host ([`HostTasks`], the
//! driver's `TaskRunner` for `serve`, `run`, `resume` and TestState).
//!
//! In order: a mocked response when the execution runs a mock test case and
//! the state is mocked (SFN Local's mock config); a nested execution
//! (`arn:aws:states:::states:startExecution…`); a Distributed Map's map run
//! ([`crate::map_run`]); the HTTP Task
//! (`arn:aws:states:::http:invoke`); otherwise the WASM runtime (modules,
//! `lambda:invoke`, and the clear failure of a resource nothing maps).

pub mod http_task;
pub mod mocks;
pub mod nested;

use crate::engine::map_run::MAP_RUN_RESOURCE;
use crate::engine::{TaskInvocation, TaskOutcome, TaskRunner};
use crate::runtime::config::{HttpTaskGrants, S3Buckets};
use crate::runtime::WasmRuntime;
use std::future::Future;

/// The task runner of one execution on this host.
pub struct HostTasks<'a> {
    /// The state machine's modules.
    pub wasm: &'a WasmRuntime,
    /// Where nested executions start (`serve`'s API); none: they fail, saying why.
    pub nested: Option<&'a nested::NestedExecutions>,
    /// The config's `[http_tasks]` grants; none: HTTP Tasks fail, saying why.
    pub http_tasks: Option<&'a HttpTaskGrants>,
    /// The mock test case the execution runs: the states it mocks answer
    /// from it before anything else runs.
    pub mock: Option<&'a mocks::TestCase>,
    /// The config's `[s3.buckets]`: where a Distributed Map's ItemReader
    /// reads and its ResultWriter writes; none: they fail, saying why.
    pub s3_buckets: Option<&'a S3Buckets>,
}

impl<'a> HostTasks<'a> {
    /// Tasks run by `wasm` alone (no mocks, no nested executions, no HTTP Task).
    pub fn wasm_only(wasm: &'a WasmRuntime) -> HostTasks<'a> {
        HostTasks { wasm, nested: None, http_tasks: None, mock: None, s3_buckets: None }
    }

    /// Nested executions started through `nested` (`serve`'s API).
    pub fn with_nested(self, nested: &'a nested::NestedExecutions) -> HostTasks<'a> {
        HostTasks { nested: Some(nested), ..self }
    }

    /// HTTP Tasks allowed by `grants` (the config's `[http_tasks]`).
    pub fn with_http_tasks(self, grants: &'a HttpTaskGrants) -> HostTasks<'a> {
        HostTasks { http_tasks: Some(grants), ..self }
    }

    /// Distributed Maps read and write the buckets of `buckets` (the config's `[s3.buckets]`).
    pub fn with_s3_buckets(self, buckets: &'a S3Buckets) -> HostTasks<'a> {
        HostTasks { s3_buckets: Some(buckets), ..self }
    }

    /// The states `test_case` mocks answer from it (none: as without).
    pub fn with_mock(self, test_case: Option<&'a mocks::TestCase>) -> HostTasks<'a> {
        HostTasks { mock: test_case, ..self }
    }

    async fn run(&self, task: &TaskInvocation) -> TaskOutcome {
        if let Some(outcome) = self.mocked(task) {
            return outcome;
        }
        if task.map_run.is_some() && task.resource == MAP_RUN_RESOURCE {
            return crate::map_run::run(task, self, self.nested, self.s3_buckets).await;
        }
        if let Some(pattern) = nested::pattern_of(&task.resource) {
            return match self.nested {
                Some(nested) => nested.invoke(pattern, task).await,
                None => nested::unavailable(task),
            };
        }
        if http_task::is_http_invoke(&task.resource) {
            return http_task::invoke(self.http_tasks, task).await;
        }
        self.wasm.invoke(task).await
    }
}

impl TaskRunner for HostTasks<'_> {
    fn run_task<'a>(&'a self, task: &'a TaskInvocation) -> impl Future<Output = TaskOutcome> + Send + 'a {
        self.run(task)
    }

    fn mocked(&self, task: &TaskInvocation) -> Option<TaskOutcome> {
        self.mock.and_then(|m| m.answer(&task.state_name, task.invocation))
    }

    fn runs_map_runs(&self) -> bool {
        true
    }
}
