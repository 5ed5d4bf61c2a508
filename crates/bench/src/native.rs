//! The example handlers compiled natively, the baseline of the WASM rows:
//! a [`TaskRunner`] that calls the handler crate of the module each resource
//! maps to, with kv in the SDK's per-thread map or on the host's store
//! ([`HostKv`]), read, staged and committed as for a component.

use anyhow::{anyhow, Result};
use std::collections::HashMap;
use std::sync::Arc;
use stepwasm::driver::{TaskOutcome, TaskRunner};
use stepwasm::engine::TaskInvocation;
use stepwasm::runtime::kv::{KvError, KvStore, KvTransaction};
use stepwasm::runtime::{ResourceMap, ResourceSpec};
use stepwasm_guest::kv::{with_native_backend, NativeKv};
use stepwasm_guest::{Context, TaskError};

pub(crate) type NativeHandler = fn(&str, &Context) -> Result<String, TaskError>;

/// The example modules, compiled natively: the baseline for the WASM path.
pub(crate) fn native_handler(module: &str) -> Option<NativeHandler> {
    Some(match module {
        "payment" => |i, c| stepwasm_guest::call(payment::verify, i, c),
        "inventory" => |i, c| stepwasm_guest::call(inventory::reserve, i, c),
        "notify" => |i, c| stepwasm_guest::call(notify::compose, i, c),
        "echo" => |i, c| stepwasm_guest::call(echo::echo, i, c),
        _ => return None,
    })
}

/// Runs tasks by calling the native handler of the module each resource maps to.
pub(crate) struct NativeRunner {
    handlers: HashMap<String, NativeHandler>,
    /// With a store: the kv namespace of each resource granted kv, whose
    /// handler's kv calls then go to the store as a component's would.
    kv: Option<(Arc<KvStore>, HashMap<String, String>)>,
}

impl NativeRunner {
    /// A runner whose kv calls go to the SDK's native per-thread map, or with
    /// `kv`, to that store (read, staged, committed if the task succeeds).
    pub(crate) fn for_resources<'a>(
        resources: impl Iterator<Item = &'a str>,
        map: &ResourceMap,
        kv: Option<Arc<KvStore>>,
    ) -> Result<NativeRunner> {
        let mut handlers = HashMap::new();
        let mut namespaces = HashMap::new();
        for resource in resources {
            let spec = map.resolve(resource).map_err(|e| anyhow!(e))?;
            let module = module_of(&spec);
            let handler = native_handler(&module)
                .ok_or_else(|| anyhow!("no native build of module {module:?} (resource {resource:?}) to compare with"))?;
            handlers.insert(resource.to_string(), handler);
            if let Some(namespace) = spec.grants.kv {
                namespaces.insert(resource.to_string(), namespace);
            }
        }
        Ok(NativeRunner { handlers, kv: kv.map(|store| (store, namespaces)) })
    }
}

/// A native handler's kv calls on the host's store: reads and staged writes
/// of one invocation, as the host keeps them for a component.
pub(crate) struct HostKv {
    store: Arc<KvStore>,
    tx: KvTransaction,
}

impl NativeKv for HostKv {
    fn get(&mut self, key: &str) -> Result<Option<String>, String> {
        self.tx.get(&self.store, key)
    }
    fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        self.tx.set(key.to_string(), value.to_string())
    }
    fn delete(&mut self, key: &str) -> Result<(), String> {
        self.tx.delete(key.to_string())
    }
}

/// How often a native handler's invocation is run again when its kv commit
/// conflicts with another thread's (a component's is rerun once, exclusively).
pub(crate) const NATIVE_KV_TRIES: usize = 10;

impl TaskRunner for NativeRunner {
    /// The handler runs to its end when asked, as a Lambda would.
    fn run_task<'a>(&'a self, task: &'a TaskInvocation) -> impl std::future::Future<Output = TaskOutcome> + Send + 'a {
        std::future::ready(self.run_now(task))
    }
}

impl NativeRunner {
    pub(crate) fn run_now(&self, task: &TaskInvocation) -> TaskOutcome {
        let ctx = Context {
            execution_id: task.execution_id.clone(),
            state_name: task.state_name.clone(),
            attempt: task.attempt,
            task_token: None,
        };
        let handler = self.handlers[&task.resource];
        let input = task.input.to_string();
        let store_and_namespace = self.kv.as_ref().and_then(|(store, namespaces)| Some((store, namespaces.get(&task.resource)?)));
        let result = match store_and_namespace {
            None => handler(&input, &ctx),
            Some((store, namespace)) => {
                let mut tries = 0;
                loop {
                    let kv = HostKv { store: Arc::clone(store), tx: KvTransaction::new(namespace.as_str()) };
                    let (result, kv) = with_native_backend(kv, || handler(&input, &ctx));
                    if result.is_err() {
                        break result;
                    }
                    tries += 1;
                    match store.commit(&kv.tx) {
                        Ok(()) => break result,
                        Err(KvError::Conflict { .. }) if tries < NATIVE_KV_TRIES => continue,
                        Err(e) => return TaskOutcome::Failed { error: "States.TaskFailed".into(), cause: format!("kv commit: {e}") },
                    }
                }
            }
        };
        match result {
            Ok(text) => match serde_json::from_str(&text) {
                Ok(v) => TaskOutcome::Succeeded(v),
                Err(e) => TaskOutcome::Failed { error: "States.TaskFailed".into(), cause: e.to_string() },
            },
            Err(e) => TaskOutcome::Failed { error: e.error, cause: e.cause },
        }
    }
}

/// The module a resource runs, by file name without `.wasm`.
pub(crate) fn module_of(spec: &ResourceSpec) -> String {
    spec.module_path.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}
