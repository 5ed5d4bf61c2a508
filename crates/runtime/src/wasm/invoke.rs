//! Running one task: a module run on a fresh instance once the task has an
//! instance slot, its outcome told apart (output, handled error, trap, limit),
//! and its kv writes committed only when it succeeded, rerun exclusively once
//! when the commit conflicts. [`WasmRuntime`] is the engine's [`TaskRunner`]
//! this way.

use super::bindings::stepwasm::task::types::{Context as WitContext, TaskError as WitTaskError};
use super::invocation::Invocation;
use super::loading::LoadedResource;
use super::{LogLine, WasmRuntime};
use crate::instance_slots::InstanceSlots;
use crate::kv::{Commit, Committed, ExclusiveCommits, KvError, KvStore, KvTransaction};
use crate::limits::{self, LimitHit};
use std::sync::Arc;
use std::time::Duration;
use stepwasm_engine::{TaskInvocation, TaskOutcome, TaskRunner};
use wasmtime::{PoolConcurrencyLimitError, Store as WasmStore};

/// The error of a task whose kv commit conflicted and could not be rerun.
pub const KV_CONFLICT: &str = "Stepwasm.KvConflict";

impl WasmRuntime {
    /// Runs one task under the resource's limits. While the module computes,
    /// the future yields at every epoch tick, so other invocations on the
    /// same thread go on.
    ///
    /// When its kv commit conflicts with another invocation's, the attempt
    /// left no trace, so it is run again from scratch, this time holding the
    /// kv store's exclusive commit guard so that the rerun cannot conflict
    /// (other invocations keep running; only their commits wait for it). A
    /// run that made http calls is not repeated, since their effects would
    /// be; that task fails with [`KV_CONFLICT`], which a Retry can match.
    pub async fn invoke(&self, task: &TaskInvocation) -> TaskOutcome {
        if crate::lambda::is_lambda_invoke(&task.resource) {
            return self.invoke_lambda(task).await;
        }
        self.invoke_module(task).await
    }

    /// [`WasmRuntime::invoke`] of a resource that is a module of its own.
    pub(super) async fn invoke_module(&self, task: &TaskInvocation) -> TaskOutcome {
        let Some(loaded) = self.resources.get(&task.resource) else {
            let cause = match self.unmapped.get(&task.resource) {
                Some(why) => format!("state {:?}: {why}", task.state_name),
                None => format!("resource {:?} was not loaded", task.resource),
            };
            return TaskOutcome::Failed { error: stepwasm_asl::errors::TASK_FAILED.into(), cause };
        };
        let limits = &loaded.limits;
        let input = task.input.to_string();
        if input.len() > limits.max_input_bytes {
            return TaskOutcome::Failed {
                error: stepwasm_asl::errors::DATA_LIMIT_EXCEEDED.into(),
                cause: format!("task input is {} bytes, over the limit of {} bytes", input.len(), limits.max_input_bytes),
            };
        }
        // A journaled attempt whose kv commit is recorded already ran to
        // success before a crash: its output stands, its writes are not redone.
        let attempt_key = match (&loaded.kv_namespace, &self.kv_store) {
            (Some(_), Some(kv_store)) if task.journaled => {
                let key = task.attempt_key();
                match kv_store.committed_output(&key).map(|text| text.map(|t| serde_json::from_str(&t))) {
                    Ok(Some(Ok(output))) => return TaskOutcome::Succeeded(output),
                    Ok(None) => Some(key),
                    Ok(Some(Err(e))) => return limits::internal_failure("reading a recorded output", e.into()),
                    Err(e) if e.is_transient() => return TaskOutcome::StoreUnavailable { cause: format!("reading the kv store: {e}") },
                    Err(e) => return limits::internal_failure("reading the kv store", e.into()),
                }
            }
            _ => None,
        };
        let mut exclusive: Option<ExclusiveCommits> = None;
        loop {
            let (outcome, kv, http_calls) = self.run_once(task, loaded, &input).await;
            // kv writes take effect only with a successful result; anything
            // else (a handled error, a trap, a limit, bad output) discards them.
            let (TaskOutcome::Succeeded(output), Some((kv_store, tx))) = (&outcome, kv) else {
                return outcome;
            };
            let output_text = attempt_key.as_ref().map(|_| output.to_string());
            let done = attempt_key.as_deref().zip(output_text.as_deref()).map(|(invocation, output)| Committed { invocation, output });
            let committed = match exclusive {
                Some(_) => kv_store.commit_recorded(&tx, done),
                None => kv_store.commit_shared_recorded(&tx, done).await,
            };
            match committed {
                Ok(Commit::Applied) => return outcome,
                // Another host committed this very attempt first: its output stands.
                Ok(Commit::AlreadyRecorded { output }) => {
                    return serde_json::from_str(&output)
                        .map(TaskOutcome::Succeeded)
                        .unwrap_or_else(|e| limits::internal_failure("reading a recorded output", e.into()))
                }
                Err(KvError::Conflict { .. }) if http_calls == 0 && exclusive.is_none() => {
                    exclusive = Some(kv_store.exclusive_commits().await);
                }
                Err(e @ KvError::Conflict { .. }) => {
                    let why = if http_calls > 0 { "not rerun: it made http calls" } else { "even when rerun exclusively" };
                    return TaskOutcome::Failed { error: KV_CONFLICT.into(), cause: format!("{e} ({why})") };
                }
                Err(e) if e.is_transient() => {
                    return TaskOutcome::StoreUnavailable { cause: format!("its {} kv write(s) could not be committed: {e}", tx.len()) }
                }
                Err(e) => {
                    return TaskOutcome::Failed {
                        error: stepwasm_asl::errors::TASK_FAILED.into(),
                        cause: format!("the task succeeded but its {} kv write(s) could not be committed: {e}", tx.len()),
                    }
                }
            }
        }
    }

    /// One run of the module: the outcome, the kv transaction to commit if it
    /// succeeded, and how many http calls it made.
    async fn run_once(
        &self,
        task: &TaskInvocation,
        loaded: &LoadedResource,
        input: &str,
    ) -> (TaskOutcome, Option<(Arc<KvStore>, KvTransaction)>, u32) {
        let limits = &loaded.limits;
        let timeout = task.timeout_seconds.map(Duration::from_secs).unwrap_or(limits.timeout);
        // Held until the wasmtime store is dropped, below; the wait for it is
        // not part of the task's time: its deadline is set after.
        let slots = InstanceSlots::global();
        let mut slot = slots.acquire().await;
        let (wasm_store, result) = loop {
            let mut wasm_store = match self.new_wasm_store(task, loaded, timeout) {
                Ok(wasm_store) => wasm_store,
                Err(e) => return (limits::internal_failure("setting fuel", e), None, 0),
            };
            let result = call_handler(&mut wasm_store, loaded, task, input).await;
            match result {
                // The pool had no room although we had a slot: this component
                // needs more than its share (memories, tables, core
                // instances). No guest code ran; wait for one more slot (one
                // instance fewer can start) and try again on a fresh store.
                Err(e) if e.is::<PoolConcurrencyLimitError>() => {
                    drop(wasm_store);
                    if !slot.widen(slots).await {
                        let cause = format!("the instance pool cannot hold this module even with every slot ({}): {e:#}", slot.places());
                        return (TaskOutcome::Failed { error: stepwasm_asl::errors::TASK_FAILED.into(), cause }, None, 0);
                    }
                }
                result => break (wasm_store, result),
            }
        };
        let fuel_left = wasm_store.get_fuel().unwrap_or(0);
        let mut data = wasm_store.into_data();
        drop(slot);
        // A wasi:http request over the call limit was refused; the
        // invocation fails with the limit whatever the guest made of it.
        let result = match data.http.limit_hit.take() {
            Some(limit) => {
                data.limiter.record(limit.clone());
                Err(wasmtime::Error::msg(limit))
            }
            None => result,
        };
        for refusal in data.http.refusals.drain(..) {
            data.logs.push(LogLine { state: data.state.clone(), level: "warn", message: format!("wasi:http request refused: {refusal}") });
        }
        let hit = LimitHit { limit: data.limiter.hit().map(str::to_string), fuel_exhausted: fuel_left == 0 };
        let outcome = match result {
            Ok(Ok(output)) => limits::check_output(output, limits),
            Ok(Err(e)) => match data.limiter.memory_refused() {
                Some(refused) => limits::error_after_memory_refused(&loaded.module_path, refused, &e.error, &e.cause),
                None => limits::module_error(e.error, e.cause),
            },
            Err(err) => {
                // What the module said before it trapped: a std guest's panic
                // is on stderr; the SDK's no_std panic handler logs it as an
                // error instead.
                let stderr = data.stderr.contents();
                let said = match data.logs.iter().rev().find(|l| l.level == "error") {
                    Some(line) if stderr.is_empty() => line.message.as_bytes(),
                    _ => &stderr,
                };
                limits::classify_trap(&err, &hit, limits, timeout, said, &loaded.module_path)
            }
        };
        self.logs.keep(data.logs);
        (outcome, data.kv, data.http.calls)
    }
}

impl TaskRunner for WasmRuntime {
    fn run_task<'a>(&'a self, task: &'a TaskInvocation) -> impl std::future::Future<Output = TaskOutcome> + Send + 'a {
        self.invoke(task)
    }
}

/// Instantiates the component in `wasm_store` and calls its handler.
pub(super) async fn call_handler(
    wasm_store: &mut WasmStore<Invocation>,
    loaded: &LoadedResource,
    task: &TaskInvocation,
    input: &str,
) -> wasmtime::Result<Result<String, WitTaskError>> {
    let ctx = WitContext {
        execution_id: task.execution_id.clone(),
        state_name: task.state_name.clone(),
        attempt: task.attempt,
        task_token: task.task_token.clone(),
    };
    let instance = loaded.pre.instantiate_async(&mut *wasm_store).await?;
    instance.stepwasm_task_handler().call_handle(&mut *wasm_store, input, &ctx).await
}
