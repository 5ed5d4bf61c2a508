//! The stored state machines as `serve` (its executions and its API) and
//! `resume` run them: each definition version parsed and its modules loaded
//! once, with Task resources mapped by the config file and, on top, by the
//! resources registered through the HTTP API (kept in the store, uploaded
//! modules included, so a restarted `serve` maps them again).

use crate::asl::{parse_definition, StateMachine};
use crate::cli::{load_runtime, CacheArg, ConfigArg};
use crate::engine::ExecutionInfo;
use crate::runtime::{ResourceMap, ResourceSpec, WasmRuntime};
use crate::store::{SqliteStore, Store, StoreError, TaskResourceRecord};
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
    cache: CacheArg,
    /// Where uploaded modules are written (`<store file>.modules/<sha256>.wasm`)
    /// for wasmtime to load; the store keeps the bytes.
    upload_dir: PathBuf,
    /// By state machine ARN and definition version. Loading happens under
    /// the lock, so a version is never compiled twice at once.
    loaded: Mutex<HashMap<(String, Option<u32>), Loaded>>,
}

/// Why a resource was not registered.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The entry (limits, grants, module reference) is not valid.
    #[error("{0}")]
    Entry(String),
    /// The module cannot run as this resource: not a component, wrong
    /// world, or it imports a capability the entry does not grant.
    #[error("{0}")]
    Module(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot keep the uploaded module: {0}")]
    Upload(std::io::Error),
}

impl StoredMachines {
    /// Resources come from `config`, else `wasm:<name>` resources are looked
    /// up in the current directory; kv data lives in `store` unless the
    /// config names a kv file.
    pub fn new(config: &ConfigArg, cache: CacheArg, store: &Path) -> Result<StoredMachines> {
        let mut map = match &config.config {
            Some(path) => ResourceMap::load(path)?,
            None => ResourceMap::with_module_dir(Path::new(".")),
        };
        map.keep_kv_in(store);
        let upload_dir = PathBuf::from(format!("{}.modules", store.display()));
        Ok(StoredMachines { map: RwLock::new(map.clone()), configured: map, cache, upload_dir, loaded: Mutex::new(HashMap::new()) })
    }

    /// Maps the resources registered in `store` (on start). One that no
    /// longer loads is reported and left out; the others still are mapped.
    pub fn map_registered(&self, store: &dyn Store) -> Result<()> {
        let mut map = self.configured.clone();
        for record in store.task_resources()? {
            match self.spec_of(store, &record, &map) {
                Ok(spec) => map.insert(&record.resource, spec),
                Err(e) => eprintln!("warning: registered resource {:?} is left unmapped: {e:#}", record.resource),
            }
        }
        *self.map.write().unwrap_or_else(|e| e.into_inner()) = map;
        self.forget_loaded();
        Ok(())
    }

    fn spec_of(&self, store: &dyn Store, record: &TaskResourceRecord, map: &ResourceMap) -> Result<ResourceSpec> {
        let uploaded = match &record.module_sha256 {
            Some(sha256) => {
                let path = self.upload_path(sha256);
                if !path.is_file() {
                    let bytes = store.module(sha256)?.ok_or_else(|| anyhow!("its module {sha256} is not in the store"))?;
                    self.write_upload(&path, &bytes)?;
                }
                Some(path)
            }
            None => None,
        };
        map.entry_from_json(&record.resource, &record.config, uploaded).map_err(|e| anyhow!(e))
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
    /// `[resources."…"]` table) and, if given, the module's bytes: checked
    /// by loading it as that resource (a component of the stepwasm:task
    /// world importing only what the entry grants), kept in the store,
    /// mapped from now on. State machines loaded before keep their mapping
    /// until they are loaded again.
    pub fn register(&self, store: &dyn Store, resource: &str, entry: &Value, module: Option<&[u8]>, now_ms: i64) -> Result<ResourceSpec, RegisterError> {
        let sha256 = module.map(|bytes| Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect::<String>());
        let mut written = None;
        if let (Some(sha256), Some(bytes)) = (&sha256, module) {
            let path = self.upload_path(sha256);
            if !path.is_file() {
                self.write_upload(&path, bytes).map_err(RegisterError::Upload)?;
                written = Some(path.clone());
            }
        }
        let checked = self.check_entry(resource, entry, sha256.as_deref().map(|sha256| self.upload_path(sha256)));
        let spec = match checked {
            Ok(spec) => spec,
            Err(refused) => {
                // A refused upload leaves no file behind.
                if let Some(path) = written {
                    let _ = std::fs::remove_file(path);
                }
                return Err(refused);
            }
        };
        let record = TaskResourceRecord { resource: resource.to_string(), config: entry.clone(), module_sha256: sha256, registered_ms: now_ms };
        store.put_task_resource(&record, module)?;
        self.map.write().unwrap_or_else(|e| e.into_inner()).insert(resource, spec.clone());
        self.forget_loaded();
        Ok(spec)
    }

    /// The entry as a resource, its module loaded as that resource.
    fn check_entry(&self, resource: &str, entry: &Value, uploaded: Option<PathBuf>) -> Result<ResourceSpec, RegisterError> {
        let spec = self.read_map().entry_from_json(resource, entry, uploaded).map_err(RegisterError::Entry)?;
        let mut runtime = WasmRuntime::new(spec.limits.memory_bytes).map_err(|e| RegisterError::Module(e.to_string()))?;
        if let Some(dir) = self.cache.dir() {
            runtime.use_cache_dir(dir);
        }
        runtime.add_resource(resource, spec.clone()).map_err(RegisterError::Module)?;
        Ok(spec)
    }

    /// Forgets a registered resource (the config's mapping of it, if any,
    /// applies again); false if it was not registered.
    pub fn unregister(&self, store: &dyn Store, resource: &str) -> Result<bool> {
        if !store.delete_task_resource(resource)? {
            return Ok(false);
        }
        self.map_registered(store)?;
        Ok(true)
    }

    fn read_map(&self) -> std::sync::RwLockReadGuard<'_, ResourceMap> {
        self.map.read().unwrap_or_else(|e| e.into_inner())
    }

    fn forget_loaded(&self) {
        self.loaded.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Whether every Task resource of `machine` is mapped to a module.
    pub fn check_resources(&self, machine: &StateMachine) -> Result<()> {
        let map = self.read_map();
        for (state, resource) in machine.module_resources() {
            map.resolve(resource).map_err(|e| anyhow!("state {state:?}: {e}"))?;
        }
        Ok(())
    }

    /// `machine`'s modules, loaded for one use (TestState) and not kept.
    pub fn load_uncached(&self, machine: &StateMachine) -> Result<WasmRuntime> {
        load_runtime(machine, &self.read_map(), &self.cache)
    }

    /// The definition `execution` runs (its state machine, at the version
    /// it started with), loaded once per version.
    pub fn get(&self, store: &SqliteStore, execution: &ExecutionInfo) -> Result<Loaded> {
        let arn = &execution.state_machine_arn;
        let (version, text) = store
            .execution_definition(&execution.execution_arn)?
            .ok_or_else(|| anyhow!("the store has no definition of {arn}"))?;
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
        let runtime = load_runtime(&machine, &self.read_map(), &self.cache).with_context(|| format!("loading the modules of {shown}"))?;
        let loaded = Arc::new((machine, runtime));
        loaded_versions.insert(key, Arc::clone(&loaded));
        Ok(loaded)
    }
}
