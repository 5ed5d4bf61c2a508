//! Loading Task resources: every resource of a state machine at once, with all
//! problems reported together before anything runs, or one at a time. Each
//! becomes a [`LoadedResource`]: its component, pre-instantiated with the
//! linker of its grants, and its limits.

use super::bindings::TaskPre;
use super::invocation::Invocation;
use super::{RuntimeError, WasmRuntime};
use crate::config::{Limits, ResourceMap, ResourceSpec, TaskResolveError};
use crate::http::HttpGrant;
use crate::kv::KvStore;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use stepwasm_asl::{StateMachine, ValidationError};

/// What loading a machine does with a Task resource nothing maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmapped {
    /// A load error, located, before anything runs (`run`, `validate`).
    Refuse,
    /// Accepted, as AWS accepts any resource; the task that reaches it
    /// fails, saying which config entry would map it (the API and `serve`).
    FailWhenRun,
}

/// A component ready to instantiate, with the limits and grants of the
/// resource using it.
pub(super) struct LoadedResource {
    pub(super) pre: TaskPre<Invocation>,
    pub(super) limits: Limits,
    pub(super) kv_namespace: Option<String>,
    pub(super) http: Option<Arc<HttpGrant>>,
    pub(super) module_path: PathBuf,
}

impl WasmRuntime {
    /// A runtime with every Task resource of `machine` loaded: all problems
    /// (unmapped resource, missing file, not a component, wrong world) are
    /// reported together, located at `States.<name>.Resource`, before anything runs.
    pub fn for_machine(machine: &StateMachine, map: &ResourceMap) -> Result<WasmRuntime, RuntimeError> {
        WasmRuntime::for_machine_cached(machine, map, None)
    }

    /// [`WasmRuntime::for_machine`], keeping compiled components in `cache_dir`.
    pub fn for_machine_cached(machine: &StateMachine, map: &ResourceMap, cache_dir: Option<&Path>) -> Result<WasmRuntime, RuntimeError> {
        WasmRuntime::for_machine_with(machine, map, cache_dir, Unmapped::Refuse)
    }

    /// [`WasmRuntime::for_machine_cached`], with `unmapped` saying what a
    /// resource nothing maps is: a load error, or (as AWS accepts any
    /// resource in a definition) a failure of the task that reaches it.
    pub fn for_machine_with(
        machine: &StateMachine,
        map: &ResourceMap,
        cache_dir: Option<&Path>,
        unmapped: Unmapped,
    ) -> Result<WasmRuntime, RuntimeError> {
        let mut specs = Vec::new();
        let mut problems = Vec::new();
        let mut left_unmapped = Vec::new();
        for (state, task) in machine.module_tasks() {
            match map.resolve_task(task) {
                Ok(resolved) => {
                    for (resource, spec) in resolved {
                        // Several states (or lambda:invoke and a direct ARN) may run one resource.
                        if !specs.iter().any(|(_, r, _)| *r == resource) {
                            specs.push((state.to_string(), resource, spec));
                        }
                    }
                }
                Err(TaskResolveError::Unmapped(why)) if unmapped == Unmapped::FailWhenRun => {
                    left_unmapped.push((task.resource.clone(), why))
                }
                Err(why) => problems.push(ValidationError::new(&format!("States.{state}.Resource"), why.to_string())),
            }
        }
        let max_memory = specs.iter().map(|(_, _, s)| s.limits.memory_bytes).max().unwrap_or(Limits::default().memory_bytes);
        let mut runtime = WasmRuntime::new(max_memory)?;
        if let Some(dir) = cache_dir {
            runtime.use_cache_dir(dir);
        }
        if specs.iter().any(|(_, _, s)| s.grants.kv.is_some()) {
            let kv_store = KvStore::open_or_memory(map.kv().path.as_ref())?;
            for (namespace, key, value) in &map.kv().seed {
                kv_store.seed(namespace, key, value)?;
            }
            runtime.kv_store = Some(Arc::new(kv_store));
        }
        for (state, resource, spec) in specs {
            if let Err(why) = runtime.add_resource(&resource, spec) {
                problems.push(ValidationError::new(&format!("States.{state}.Resource"), why));
            }
        }
        runtime.unmapped.extend(left_unmapped);
        if problems.is_empty() {
            Ok(runtime)
        } else {
            Err(RuntimeError::Resources(problems))
        }
    }

    /// Loads (or reuses) the component for `resource`.
    pub fn add_resource(&mut self, resource: &str, spec: ResourceSpec) -> Result<(), String> {
        if self.resources.contains_key(resource) {
            return Ok(());
        }
        let component = self.component_for(&spec)?;
        check_initial_memory(&component, &spec)?;
        let shown = spec.module_path.display();
        self.check_grants(&component, resource, &spec)?;
        let linker = self.linker(&spec.grants).map_err(|e| format!("cannot set up the capabilities: {e:#}"))?;
        let instance_pre = linker.instantiate_pre(&component).map_err(|e| format!("module {shown} cannot be linked: {e:#}"))?;
        let pre = TaskPre::new(instance_pre).map_err(|e| {
            format!("module {shown} does not implement the stepwasm:task world (export stepwasm:task/handler@0.1.0): {e:#}")
        })?;
        if spec.grants.kv.is_some() && self.kv_store.is_none() {
            self.kv_store = Some(Arc::new(KvStore::in_memory().map_err(|e| e.to_string())?));
        }
        self.resources.insert(
            resource.to_string(),
            LoadedResource {
                pre,
                limits: spec.limits,
                kv_namespace: spec.grants.kv,
                http: spec.grants.http.map(Arc::new),
                module_path: spec.module_path,
            },
        );
        Ok(())
    }
}

/// Bytes in a WebAssembly page.
const WASM_PAGE_BYTES: u64 = 64 << 10;

/// Refuses a component whose linear memory starts larger than its resource's
/// memory cap (every invocation would fail at instantiation), saying how much
/// it needs: an interpreter's component (componentize-py's CPython) starts
/// with its build-time snapshot in memory.
fn check_initial_memory(component: &wasmtime::component::Component, spec: &ResourceSpec) -> Result<(), String> {
    let Some(pages) = component.resources_required().and_then(|r| r.max_initial_memory_size) else {
        return Ok(());
    };
    let needed = pages.saturating_mul(WASM_PAGE_BYTES);
    let cap = spec.limits.memory_bytes as u64;
    if needed <= cap {
        return Ok(());
    }
    Err(format!(
        "module {} starts with a linear memory of {:.1} MiB, over its resource's memory cap of {:.1} MiB: set memory_mib = {} or more for it",
        spec.module_path.display(),
        needed as f64 / (1 << 20) as f64,
        cap as f64 / (1 << 20) as f64,
        needed.div_ceil(1 << 20)
    ))
}
