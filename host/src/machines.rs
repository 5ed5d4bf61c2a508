//! The stored state machines as `serve` (its executions and its API) and
//! `resume` run them: each definition version parsed and its modules loaded
//! once, with Task resources mapped by the config file and, on top, by the
//! resources registered through the HTTP API (kept in the store, uploaded
//! modules included, so a restarted `serve` maps them again).
//!
//! Registration goes through the config's `[uploads]` policy
//! ([`ResourceMap::entry_from_json`]), never replaces or deletes a resource
//! the config defines ([`ResourceMap::operator_owned`]), and tells a caller
//! nothing about the host's files: its module is only ever the bytes it
//! sent, and load errors name "the uploaded module", not the file the host
//! wrote. At restart the policy in force applies again: a stored
//! registration it refuses now (or one the config has since taken over) is
//! left unmapped with a warning, its record kept for the operator to see.

use crate::asl::{parse_definition, StateMachine};
use crate::engine::ExecutionInfo;
use crate::runtime::config::{EntryError, HttpTaskGrants};
use crate::runtime::{CacheOutcome, ResourceMap, ResourceSpec, Unmapped, WasmRuntime};
use crate::store::{SqliteStore, Store, StoreError, TaskResourceRecord};
use crate::tasks::mocks::{MockConfig, TestCase};
use anyhow::{anyhow, Context as _, Result};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

/// A state machine ready to run: its definition and its loaded modules.
pub type Loaded = Arc<(Arc<StateMachine>, WasmRuntime)>;

/// The store's state machines and the resource map they run with.
pub struct StoredMachines {
    /// The config file's map.
    configured: ResourceMap,
    /// The map in force: the config's, with the registered resources on top.
    map: RwLock<ResourceMap>,
    /// Where compiled modules are cached; `None` compiles afresh.
    cache_dir: Option<PathBuf>,
    /// Where uploaded modules are written (`<store file>.modules/<sha256>.wasm`)
    /// for wasmtime to load; the store keeps the bytes.
    upload_dir: PathBuf,
    /// By state machine ARN and definition version. Loading happens under
    /// the lock, so a version is never compiled twice at once.
    loaded: Mutex<HashMap<(String, Option<u32>), Loaded>>,
    /// SFN Local's mock config: the test cases executions may run.
    mocks: Option<Arc<MockConfig>>,
}

/// What [`StoredMachines`] runs with, whoever chose it (command-line flags,
/// a test): the resource map of the config, and the compile cache's directory.
pub struct MachineSettings {
    /// The config's map, or `wasm:<name>` modules in the current directory.
    pub resources: ResourceMap,
    /// Where compiled modules are kept between runs; `None` compiles afresh.
    pub cache_dir: Option<PathBuf>,
    /// SFN Local's mock config (`--mock-config`), if any.
    pub mocks: Option<Arc<MockConfig>>,
}

/// Loads the machine's modules, through the compile cache when there is one,
/// a resource nothing maps refused or left to fail when run (`unmapped`); a
/// damaged cache entry or one that could not be written is worth a warning.
pub fn load_runtime(machine: &StateMachine, map: &ResourceMap, cache_dir: Option<&Path>, unmapped: Unmapped) -> Result<WasmRuntime> {
    let runtime = WasmRuntime::for_machine_with(machine, map, cache_dir, unmapped)?;
    for (module, outcome) in runtime.cache_report() {
        match outcome {
            CacheOutcome::Replaced(why) => crate::console_out::warn(format_args!("warning: {why}; recompiled {}", module.display())),
            CacheOutcome::NotStored(why) => {
                crate::console_out::warn(format_args!("warning: compiled {} but cannot cache it: {why}", module.display()))
            }
            CacheOutcome::Hit | CacheOutcome::Stored => {}
        }
    }
    Ok(runtime)
}

/// Why a resource was not registered (or deleted).
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The entry (limits, grants, module) is not valid, or not within the
    /// upload policy.
    #[error(transparent)]
    Entry(#[from] EntryError),
    /// The resource is the operator's (see [`ResourceMap::operator_owned`]):
    /// it cannot be replaced or deleted through the API.
    #[error("{0}; it cannot be replaced or deleted through the API")]
    OperatorOwned(String),
    /// The module cannot run as this resource: not a component, wrong
    /// world, or it imports a capability the entry does not grant.
    #[error("{0}")]
    Module(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot keep the uploaded module: {0}")]
    Upload(std::io::Error),
    #[error("cannot map the registered resources again: {0:#}")]
    Remap(anyhow::Error),
}

/// A resource registered: what it runs as, and its module's digest.
#[derive(Debug, Clone)]
pub struct Registered {
    pub spec: ResourceSpec,
    pub module_sha256: String,
}

impl StoredMachines {
    /// The machines of the store file `store`, run with `settings`; kv data
    /// lives in `store` unless the config names a kv file.
    pub fn new(settings: MachineSettings, store: &Path) -> StoredMachines {
        let MachineSettings { resources: mut map, cache_dir, mocks } = settings;
        map.keep_kv_in(store);
        let upload_dir = PathBuf::from(format!("{}.modules", store.display()));
        StoredMachines { map: RwLock::new(map.clone()), configured: map, cache_dir, upload_dir, loaded: Mutex::new(HashMap::new()), mocks }
    }

    /// The mock test case `name` of the state machine `machine_name`, or
    /// why it cannot be run (no mock config, or none of that name).
    pub fn test_case(&self, machine_name: &str, name: &str) -> Result<Arc<TestCase>, String> {
        match &self.mocks {
            Some(mocks) => mocks.test_case(machine_name, name),
            None => Err(format!(
                "test case {name:?} was asked for, but no mock config is loaded (serve --mock-config FILE, or SFN_MOCK_CONFIG)"
            )),
        }
    }

    /// The mock test case `execution` runs, if it runs one.
    pub fn test_case_of(&self, execution: &ExecutionInfo) -> Result<Option<Arc<TestCase>>> {
        let Some(name) = &execution.test_case else { return Ok(None) };
        self.test_case(&execution.state_machine_name, name)
            .map(Some)
            .map_err(|why| anyhow!("execution {} runs mock test case {name:?}: {why}", execution.execution_arn))
    }

    /// Maps the resources registered in `store` (on start), under the
    /// upload policy in force. One the policy now refuses, one the config
    /// now defines, or one that no longer loads is reported and left out;
    /// the others still are mapped.
    pub fn map_registered(&self, store: &dyn Store) -> Result<()> {
        let mut map = self.configured.clone();
        for record in store.task_resources()? {
            if let Some(why) = self.configured.operator_owned(&record.resource) {
                crate::console_out::warn(format_args!(
                    "warning: registered resource {:?} is left unmapped: {why}, which takes precedence",
                    record.resource
                ));
                continue;
            }
            match self.spec_of(store, &record) {
                Ok(spec) => map.insert(&record.resource, spec),
                Err(e) => {
                    crate::console_out::warn(format_args!("warning: registered resource {:?} is left unmapped: {e:#}", record.resource))
                }
            }
        }
        *self.map.write().unwrap_or_else(|e| e.into_inner()) = map;
        self.forget_loaded();
        Ok(())
    }

    /// A stored registration as a resource, checked against the policy
    /// before its module file is written again from the store.
    fn spec_of(&self, store: &dyn Store, record: &TaskResourceRecord) -> Result<ResourceSpec> {
        let uploaded = record.module_sha256.as_deref().map(|sha256| self.upload_path(sha256));
        let spec = self.configured.entry_from_json(&record.resource, &record.config, uploaded)?;
        if let Some(sha256) = &record.module_sha256 {
            if !spec.module_path.is_file() {
                let bytes = store.module(sha256)?.ok_or_else(|| anyhow!("its module {sha256} is not in the store"))?;
                self.write_upload(&spec.module_path, &bytes)?;
            }
        }
        Ok(spec)
    }

    fn upload_path(&self, sha256: &str) -> PathBuf {
        self.upload_dir.join(format!("{sha256}.wasm"))
    }

    /// Writes a module file whole or not at all (a temporary file renamed).
    fn write_upload(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.upload_dir)?;
        let partial = path.with_extension(format!("partial-{}", std::process::id()));
        std::fs::write(&partial, bytes)?;
        std::fs::rename(&partial, path)
    }

    /// Registers `resource` with its `entry` (the keys of a config
    /// `[resources."…"]` table, within the `[uploads]` policy) and the
    /// module's bytes: checked by loading it as that resource (a component
    /// of the stepwasm:task world importing only what the entry grants),
    /// kept in the store, mapped from now on. State machines loaded before
    /// keep their mapping until they are loaded again.
    pub fn register(
        &self,
        store: &dyn Store,
        resource: &str,
        entry: &Value,
        module: Option<&[u8]>,
        now_ms: i64,
    ) -> Result<Registered, RegisterError> {
        if let Some(why) = self.configured.operator_owned(resource) {
            return Err(RegisterError::OperatorOwned(why));
        }
        let sha256 = module.map(|bytes| Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect::<String>());
        // The policy first: nothing is written for an entry it refuses.
        let spec = self.configured.entry_from_json(resource, entry, sha256.as_deref().map(|sha256| self.upload_path(sha256)))?;
        let (Some(sha256), Some(bytes)) = (sha256, module) else {
            // entry_from_json has refused this already; said again, not assumed.
            return Err(EntryError::Invalid(format!("resources.{resource:?}: no module (upload its bytes as moduleBytes)")).into());
        };
        let mut written = None;
        if !spec.module_path.is_file() {
            self.write_upload(&spec.module_path, bytes).map_err(RegisterError::Upload)?;
            written = Some(spec.module_path.clone());
        }
        if let Err(refused) = self.check_loads(resource, &spec) {
            // A refused upload leaves no file behind.
            if let Some(path) = written {
                let _ = std::fs::remove_file(path);
            }
            return Err(refused);
        }
        let record = TaskResourceRecord {
            resource: resource.to_string(),
            config: entry.clone(),
            module_sha256: Some(sha256.clone()),
            registered_ms: now_ms,
        };
        store.put_task_resource(&record, Some(bytes))?;
        self.map.write().unwrap_or_else(|e| e.into_inner()).insert(resource, spec.clone());
        self.forget_loaded();
        Ok(Registered { spec, module_sha256: sha256 })
    }

    /// Loads the module as its resource. The reason it does not load names
    /// "the uploaded module", never the host's file for it.
    fn check_loads(&self, resource: &str, spec: &ResourceSpec) -> Result<(), RegisterError> {
        let file = spec.module_path.display().to_string();
        let hide = |message: String| {
            message
                .replace(&format!("module file {file}"), "the uploaded module")
                .replace(&format!("module {file}"), "the uploaded module")
                .replace(&file, "the uploaded module")
                .replace(&self.upload_dir.display().to_string(), "<uploads>")
                // The runtime's hints are for the config file; an upload asks otherwise.
                .replace(
                    &format!("add kv = {{ namespace = \"...\" }} to [resources.\"{resource}\"] in the config"),
                    "give \"kv\": true in the upload's config",
                )
                .replace(
                    &format!("add http = {{ allow = [\"https://host/prefix/\"] }} to [resources.\"{resource}\"] in the config"),
                    "give \"http\": {\"allow\": [...]} in the upload's config, under the operator's [uploads] http_allow",
                )
        };
        let mut runtime = WasmRuntime::new(spec.limits.memory_bytes).map_err(|e| RegisterError::Module(hide(e.to_string())))?;
        if let Some(dir) = &self.cache_dir {
            runtime.use_cache_dir(dir.clone());
        }
        runtime.add_resource(resource, spec.clone()).map_err(|e| RegisterError::Module(hide(e)))
    }

    /// Forgets a registered resource; false if it was not registered. A
    /// resource the config defines is refused ([`RegisterError::OperatorOwned`]).
    pub fn unregister(&self, store: &dyn Store, resource: &str) -> Result<bool, RegisterError> {
        if let Some(why) = self.configured.operator_owned(resource) {
            return Err(RegisterError::OperatorOwned(why));
        }
        if !store.delete_task_resource(resource)? {
            return Ok(false);
        }
        self.map_registered(store).map_err(RegisterError::Remap)?;
        Ok(true)
    }

    /// The HTTP Tasks' grants: the config's `[http_tasks]` (never registered
    /// through the API).
    pub fn http_tasks(&self) -> &HttpTaskGrants {
        self.configured.http_tasks()
    }

    /// The config's `[s3.buckets]` (a Distributed Map's ItemReader and ResultWriter).
    pub fn s3_buckets(&self) -> &crate::runtime::config::S3Buckets {
        self.configured.s3_buckets()
    }

    fn read_map(&self) -> std::sync::RwLockReadGuard<'_, ResourceMap> {
        self.map.read().unwrap_or_else(|e| e.into_inner())
    }

    fn forget_loaded(&self) {
        self.loaded.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Whether every Task resource of `machine` that the config maps
    /// resolves to a module; one nothing maps is accepted, as AWS accepts
    /// any resource (its task fails when an execution reaches it).
    pub fn check_resources(&self, machine: &StateMachine) -> Result<()> {
        self.read_map().check_mapped_tasks(machine).map_err(|e| anyhow!(e))
    }

    /// `machine`'s modules, loaded for one use (TestState) and not kept.
    pub fn load_uncached(&self, machine: &StateMachine) -> Result<WasmRuntime> {
        load_runtime(machine, &self.read_map(), self.cache_dir.as_deref(), Unmapped::FailWhenRun)
    }

    /// The definition `execution` runs (its state machine, at the version
    /// it started with), loaded once per version.
    pub fn get(&self, store: &SqliteStore, execution: &ExecutionInfo) -> Result<Loaded> {
        let arn = &execution.state_machine_arn;
        let (version, text) =
            store.execution_definition(&execution.execution_arn)?.ok_or_else(|| anyhow!("the store has no definition of {arn}"))?;
        self.load(arn, version, &text)
    }

    /// State machine `arn` at `version`, whose text is `text`, loaded once.
    pub fn load(&self, arn: &str, version: Option<u32>, text: &str) -> Result<Loaded> {
        let key = (arn.to_string(), version);
        let mut loaded_versions = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(loaded) = loaded_versions.get(&key) {
            return Ok(Arc::clone(loaded));
        }
        let shown = match version {
            Some(v) => format!("{arn} (version {v})"),
            None => arn.to_string(),
        };
        let machine = Arc::new(parse_definition(text).map_err(|e| anyhow!("the stored definition of {shown}: {e}"))?);
        let runtime = load_runtime(&machine, &self.read_map(), self.cache_dir.as_deref(), Unmapped::FailWhenRun)
            .with_context(|| format!("loading the modules of {shown}"))?;
        let loaded = Arc::new((machine, runtime));
        loaded_versions.insert(key, Arc::clone(&loaded));
        Ok(loaded)
    }
}
