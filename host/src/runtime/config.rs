//! The resource map (`stepwasm.toml`): which component file runs each Task
//! `Resource`, under which limits, with which capabilities granted.
//!
//! ```toml
//! module_dir = "../../target/guest/wasm32-wasip2/release"  # for `wasm:<name>`
//!
//! [defaults]              # every limit is optional; these are the built-in values
//! fuel = 100_000_000      # wasm instructions (roughly) per invocation
//! memory_mib = 64         # linear memory cap
//! timeout_seconds = 10    # wall clock, unless the state sets TimeoutSeconds
//! max_input_kib = 256     # like AWS's payload limit
//! max_output_kib = 256
//! max_table_elements = 10_000
//! max_instances = 32      # core and component instances one invocation may create
//! max_log_lines = 100     # per invocation
//! max_log_kib = 64        # per invocation, all lines together
//! max_http_calls = 10     # per invocation (with an http grant)
//!
//! [resources."arn:aws:lambda:us-east-1:123456789012:function:VerifyPaymentFunction"]
//! module = "payment"      # a name in module_dir, or a path to a .wasm file
//! fuel = 20_000_000
//! http = { allow = ["https://gateway.example.com/v1/"], timeout_seconds = 5, max_response_kib = 64 }
//!
//! [resources."arn:aws:lambda:us-east-1:123456789012:function:UpdateInventoryFunction"]
//! module = "inventory"
//! kv = { namespace = "inventory" }
//!
//! [kv]                    # the store behind every kv grant
//! path = "kv.sqlite"      # SQLite file (created on first use); in memory when absent
//! [kv.seed.inventory]     # namespace -> key -> value, written only where the key is absent
//! "sku-1" = 10
//! ```
//!
//! Capabilities are granted per resource and denied by default: `log` is
//! always there, `kv` and `http` only where named. A resource may also name a
//! module directly as `wasm:<name>`, which runs `<module_dir>/<name>.wasm`
//! under the defaults with no grants. Relative paths are relative to the
//! config file.

use super::http::HttpGrant;
use indexmap::IndexMap;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Prefix of the short resource form naming a module directly.
pub const SHORT_FORM_PREFIX: &str = "wasm:";

/// The limits one invocation runs under.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub fuel: u64,
    pub memory_bytes: usize,
    pub timeout: Duration,
    pub max_input_bytes: usize,
    pub max_output_bytes: usize,
    pub max_table_elements: usize,
    pub max_instances: usize,
    pub max_log_lines: usize,
    pub max_log_bytes: usize,
    pub max_http_calls: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: 100_000_000,
            memory_bytes: 64 << 20,
            timeout: Duration::from_secs(10),
            max_input_bytes: 256 << 10,
            max_output_bytes: 256 << 10,
            max_table_elements: 10_000,
            max_instances: 32,
            max_log_lines: 100,
            max_log_bytes: 64 << 10,
            max_http_calls: 10,
        }
    }
}

/// One table of the file: `[defaults]` or a `[resources."..."]` entry (which
/// alone names a `module`). Unset limits inherit.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitSettings {
    module: Option<String>,
    fuel: Option<u64>,
    memory_mib: Option<u64>,
    timeout_seconds: Option<f64>,
    max_input_kib: Option<u64>,
    max_output_kib: Option<u64>,
    max_table_elements: Option<u64>,
    max_instances: Option<u64>,
    max_log_lines: Option<u64>,
    max_log_kib: Option<u64>,
    max_http_calls: Option<u64>,
    kv: Option<KvGrantSettings>,
    http: Option<HttpGrantSettings>,
}

/// `kv = { namespace = "..." }` in a resource's table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct KvGrantSettings {
    namespace: String,
}

/// `http = { allow = [...], ... }` in a resource's table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpGrantSettings {
    allow: Vec<String>,
    timeout_seconds: Option<f64>,
    max_response_kib: Option<u64>,
}

/// The `[kv]` table: where the store lives and what it starts with.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct KvSettingsFile {
    path: Option<PathBuf>,
    #[serde(default)]
    seed: IndexMap<String, IndexMap<String, toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    module_dir: Option<PathBuf>,
    #[serde(default)]
    defaults: LimitSettings,
    #[serde(default)]
    resources: IndexMap<String, LimitSettings>,
    #[serde(default)]
    kv: KvSettingsFile,
}

/// A problem with the config file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The capabilities granted to a resource beyond `log`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grants {
    /// The kv namespace the module reads and writes, if granted.
    pub kv: Option<String>,
    pub http: Option<HttpGrant>,
}

/// What a resource resolves to.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceSpec {
    pub module_path: PathBuf,
    pub limits: Limits,
    pub grants: Grants,
    /// The module came through the API (an upload), not from the operator:
    /// it is compiled in the limited worker process, never in the host.
    pub untrusted: bool,
}

/// The store behind kv grants: a SQLite file, or memory; and its seed values
/// (namespace, key, JSON text), written only where a key is absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KvSettings {
    pub path: Option<PathBuf>,
    pub seed: Vec<(String, String, String)>,
}

/// The parsed, validated resource map.
#[derive(Debug, Clone)]
pub struct ResourceMap {
    origin: PathBuf,
    module_dir: PathBuf,
    defaults: Limits,
    resources: IndexMap<String, ResourceSpec>,
    kv: KvSettings,
}

impl LimitSettings {
    fn apply(&self, base: &Limits, path: &Path, at: &str) -> Result<Limits, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid { path: path.to_path_buf(), message };
        let positive = |name: &str, v: Option<u64>| match v {
            Some(0) => Err(invalid(format!("{at}.{name} must be greater than 0"))),
            _ => Ok(v),
        };
        let mut limits = base.clone();
        if let Some(f) = positive("fuel", self.fuel)? {
            limits.fuel = f;
        }
        if let Some(m) = positive("memory_mib", self.memory_mib)? {
            if m > 4096 {
                return Err(invalid(format!("{at}.memory_mib must be at most 4096 (wasm32's 4 GiB)")));
            }
            limits.memory_bytes = (m as usize) << 20;
        }
        if let Some(t) = self.timeout_seconds {
            if !(t > 0.0 && t <= 31_536_000.0) {
                return Err(invalid(format!("{at}.timeout_seconds must be between 0 and one year, got {t}")));
            }
            limits.timeout = Duration::from_secs_f64(t);
        }
        if let Some(k) = positive("max_input_kib", self.max_input_kib)? {
            limits.max_input_bytes = (k as usize) << 10;
        }
        if let Some(k) = positive("max_output_kib", self.max_output_kib)? {
            limits.max_output_bytes = (k as usize) << 10;
        }
        if let Some(n) = positive("max_table_elements", self.max_table_elements)? {
            limits.max_table_elements = n as usize;
        }
        if let Some(n) = positive("max_instances", self.max_instances)? {
            limits.max_instances = n as usize;
        }
        if let Some(n) = positive("max_log_lines", self.max_log_lines)? {
            limits.max_log_lines = n as usize;
        }
        if let Some(k) = positive("max_log_kib", self.max_log_kib)? {
            limits.max_log_bytes = (k as usize) << 10;
        }
        if let Some(n) = self.max_http_calls {
            limits.max_http_calls = u32::try_from(n).map_err(|_| invalid(format!("{at}.max_http_calls is too large")))?;
        }
        Ok(limits)
    }

    fn grants(&self, path: &Path, at: &str) -> Result<Grants, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid { path: path.to_path_buf(), message };
        let kv = match &self.kv {
            None => None,
            Some(g) if valid_namespace(&g.namespace) => Some(g.namespace.clone()),
            Some(g) => {
                return Err(invalid(format!(
                    "{at}.kv.namespace {:?} must be 1-64 letters, digits, '-', '_' or '.'",
                    g.namespace
                )))
            }
        };
        let http = match &self.http {
            None => None,
            Some(g) => {
                let mut grant = HttpGrant::default();
                if g.allow.is_empty() {
                    return Err(invalid(format!("{at}.http.allow must list at least one URL prefix")));
                }
                for prefix in &g.allow {
                    grant.allow_prefix(prefix).map_err(|why| invalid(format!("{at}.http.allow: {why}")))?;
                }
                if let Some(t) = g.timeout_seconds {
                    if !(t > 0.0 && t <= 300.0) {
                        return Err(invalid(format!("{at}.http.timeout_seconds must be between 0 and 300, got {t}")));
                    }
                    grant.timeout = Duration::from_secs_f64(t);
                }
                match g.max_response_kib {
                    Some(0) => return Err(invalid(format!("{at}.http.max_response_kib must be greater than 0"))),
                    Some(k) => grant.max_response_bytes = (k as usize) << 10,
                    None => {}
                }
                Some(grant)
            }
        };
        Ok(Grants { kv, http })
    }
}

fn valid_namespace(ns: &str) -> bool {
    (1..=64).contains(&ns.len()) && ns.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl ResourceMap {
    /// A map with no entries: only `wasm:<name>` resources, found in `module_dir`.
    pub fn with_module_dir(module_dir: impl Into<PathBuf>) -> ResourceMap {
        let module_dir = module_dir.into();
        ResourceMap {
            origin: module_dir.clone(),
            module_dir,
            defaults: Limits::default(),
            resources: IndexMap::new(),
            kv: KvSettings::default(),
        }
    }

    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<ResourceMap, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Self::parse(&text, path)
    }

    /// Parses config text; `path` locates errors and anchors relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<ResourceMap, ConfigError> {
        let file: ConfigFile =
            toml::from_str(text).map_err(|e| ConfigError::Invalid { path: path.to_path_buf(), message: e.to_string() })?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let module_dir = base_dir.join(file.module_dir.unwrap_or_default());
        let invalid = |message: String| ConfigError::Invalid { path: path.to_path_buf(), message };
        if file.defaults.module.is_some() {
            return Err(invalid("defaults.module: a module is named per resource, not in [defaults]".into()));
        }
        if file.defaults.kv.is_some() || file.defaults.http.is_some() {
            return Err(invalid("defaults: capabilities (kv, http) are granted per resource, not in [defaults]".into()));
        }
        let defaults = file.defaults.apply(&Limits::default(), path, "defaults")?;
        let kv = KvSettings { path: file.kv.path.map(|p| base_dir.join(p)), seed: seed_values(&file.kv.seed, path)? };
        let mut map = ResourceMap { origin: path.to_path_buf(), module_dir, defaults, resources: IndexMap::new(), kv };
        for (resource, entry) in file.resources {
            let at = format!("resources.{resource:?}");
            let limits = entry.apply(&map.defaults, path, &at)?;
            let grants = entry.grants(path, &at)?;
            let module = entry.module.ok_or_else(|| invalid(format!("{at}: missing required field module")))?;
            let module_path = map.module_path(&module, &base_dir).map_err(|message| invalid(format!("{at}.module: {message}")))?;
            map.resources.insert(resource, ResourceSpec { module_path, limits, grants, untrusted: false });
        }
        Ok(map)
    }

    /// A module reference is either a bare name (in `module_dir`) or a path to
    /// a `.wasm` file (relative to `base_dir`).
    fn module_path(&self, module: &str, base_dir: &Path) -> Result<PathBuf, String> {
        if module.ends_with(".wasm") {
            return Ok(base_dir.join(module));
        }
        if module.is_empty() || !module.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(format!("{module:?} is neither a module name (letters, digits, - and _) nor a path ending in .wasm"));
        }
        Ok(self.module_dir.join(format!("{module}.wasm")))
    }

    /// Where `wasm:<name>` modules are looked up.
    pub fn module_dir(&self) -> &Path {
        &self.module_dir
    }

    /// The kv store settings (`[kv]`).
    pub fn kv(&self) -> &KvSettings {
        &self.kv
    }

    /// Keeps kv data in `store` (the execution store's file) unless `[kv]`
    /// names a file of its own: durable executions get durable kv data, in
    /// the same file as their histories.
    pub fn keep_kv_in(&mut self, store: &Path) {
        if self.kv.path.is_none() {
            self.kv.path = Some(store.to_path_buf());
        }
    }

    /// A resource entry given as JSON, with the keys of a
    /// `[resources."…"]` table (the HTTP API's PutTaskResource): limits
    /// inherit this map's defaults. The module is `uploaded` (a file the
    /// caller wrote) or the entry's `module`, as in the config file (a name
    /// in `module_dir`, or a `.wasm` path relative to the config's folder).
    pub fn entry_from_json(&self, resource: &str, entry: &serde_json::Value, uploaded: Option<PathBuf>) -> Result<ResourceSpec, String> {
        let at = format!("resources.{resource:?}");
        let settings: LimitSettings = serde_json::from_value(entry.clone()).map_err(|e| format!("{at}: {e}"))?;
        let limits = settings.apply(&self.defaults, &self.origin, &at).map_err(|e| e.to_string())?;
        let grants = settings.grants(&self.origin, &at).map_err(|e| e.to_string())?;
        let untrusted = uploaded.is_some();
        let module_path = match (uploaded, &settings.module) {
            (Some(_), Some(_)) => return Err(format!("{at}: give the module's bytes or its module name/path, not both")),
            (Some(path), None) => path,
            (None, Some(module)) => {
                let base_dir = self.origin.parent().map(Path::to_path_buf).unwrap_or_default();
                self.module_path(module, &base_dir).map_err(|message| format!("{at}.module: {message}"))?
            }
            (None, None) => return Err(format!("{at}: no module (upload its bytes, or name it with module)")),
        };
        Ok(ResourceSpec { module_path, limits, grants, untrusted })
    }

    /// Maps `resource` to `spec`, replacing what it was mapped to.
    pub fn insert(&mut self, resource: &str, spec: ResourceSpec) {
        self.resources.insert(resource.to_string(), spec);
    }

    /// Where this map came from (for messages).
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    /// The module and limits for `resource`, or why there are none. A
    /// `.waitForTaskToken` resource runs the module of the resource without
    /// the suffix, unless the map names it with the suffix.
    pub fn resolve(&self, resource: &str) -> Result<ResourceSpec, String> {
        if let Some(spec) = self.resources.get(resource) {
            return Ok(spec.clone());
        }
        if let Some(base) = resource.strip_suffix(crate::asl::WAIT_FOR_TASK_TOKEN) {
            return self.resolve(base);
        }
        if let Some(name) = resource.strip_prefix(SHORT_FORM_PREFIX) {
            if name.ends_with(".wasm") {
                return Err(format!("{resource:?}: the short form names a module, without .wasm"));
            }
            let module_path = self.module_path(name, &self.module_dir)?;
            return Ok(ResourceSpec { module_path, limits: self.defaults.clone(), grants: Grants::default(), untrusted: false });
        }
        Err(format!(
            "no module is mapped to {resource:?} in {} (add a [resources.\"...\"] entry, or use the short form wasm:<module>)",
            self.origin.display()
        ))
    }
}

/// `[kv.seed.<namespace>]` tables as (namespace, key, JSON text).
fn seed_values(
    seed: &IndexMap<String, IndexMap<String, toml::Value>>,
    path: &Path,
) -> Result<Vec<(String, String, String)>, ConfigError> {
    let mut out = Vec::new();
    for (namespace, values) in seed {
        if !valid_namespace(namespace) {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                message: format!("kv.seed.{namespace:?}: a namespace is 1-64 letters, digits, '-', '_' or '.'"),
            });
        }
        for (key, value) in values {
            let json = serde_json::to_string(value).map_err(|e| ConfigError::Invalid {
                path: path.to_path_buf(),
                message: format!("kv.seed.{namespace}.{key:?}: {e}"),
            })?;
            out.push((namespace.clone(), key.clone(), json));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_entries_short_forms_and_inherits_limits() {
        let map = ResourceMap::parse(
            r#"
            module_dir = "mods"
            [defaults]
            fuel = 1000
            [resources."arn:x"]
            module = "payment"
            memory_mib = 8
            [resources."arn:y"]
            module = "../elsewhere/y.wasm"
            "#,
            Path::new("/cfg/stepwasm.toml"),
        )
        .unwrap();
        let x = map.resolve("arn:x").unwrap();
        assert_eq!(x.module_path, PathBuf::from("/cfg/mods/payment.wasm"));
        assert_eq!((x.limits.fuel, x.limits.memory_bytes), (1000, 8 << 20));
        assert_eq!(map.resolve("arn:y").unwrap().module_path, PathBuf::from("/cfg/../elsewhere/y.wasm"));
        assert_eq!(map.resolve("wasm:notify").unwrap().module_path, PathBuf::from("/cfg/mods/notify.wasm"));
        assert!(map.resolve("arn:z").unwrap_err().contains("no module is mapped to \"arn:z\""));
        assert!(map.resolve("wasm:../../etc/passwd").is_err());
        assert_eq!(map.resolve("wasm:notify.waitForTaskToken").unwrap().module_path, PathBuf::from("/cfg/mods/notify.wasm"));
        assert_eq!(map.resolve("arn:x.waitForTaskToken").unwrap().module_path, x.module_path);
    }

    #[test]
    fn entries_given_as_json_inherit_defaults_and_replace_mappings() {
        let mut map = ResourceMap::parse("module_dir = \"mods\"\n[defaults]\nfuel = 1000\n", Path::new("/cfg/stepwasm.toml")).unwrap();
        let entry = serde_json::json!({"module": "notify", "memory_mib": 8, "kv": {"namespace": "n"}});
        let spec = map.entry_from_json("arn:n", &entry, None).unwrap();
        assert_eq!((spec.module_path.as_path(), spec.limits.fuel, spec.grants.kv.as_deref()), (Path::new("/cfg/mods/notify.wasm"), 1000, Some("n")));
        map.insert("arn:n", spec);
        assert_eq!(map.resolve("arn:n.waitForTaskToken").unwrap().limits.memory_bytes, 8 << 20);
        let uploaded = map.entry_from_json("arn:u", &serde_json::json!({}), Some("/up/abc.wasm".into())).unwrap();
        assert_eq!(uploaded.module_path, PathBuf::from("/up/abc.wasm"));
        for (entry, says) in [
            (serde_json::json!({"module": "a", "fuell": 1}), "fuell"),
            (serde_json::json!({"fuel": 0, "module": "a"}), "fuel must be greater than 0"),
            (serde_json::json!({}), "no module"),
            (serde_json::json!({"module": "../x"}), "neither a module name"),
        ] {
            let err = map.entry_from_json("arn:bad", &entry, None).unwrap_err();
            assert!(err.contains(says) && err.contains("resources.\"arn:bad\""), "{err}");
        }
        assert!(map.entry_from_json("arn:bad", &serde_json::json!({"module": "a"}), Some("/up/x.wasm".into())).unwrap_err().contains("not both"));
    }

    #[test]
    fn bad_configs_say_where() {
        let p = Path::new("c.toml");
        let err = ResourceMap::parse("[defaults]\nfuel = 0\n", p).unwrap_err().to_string();
        assert!(err.contains("defaults.fuel must be greater than 0"), "{err}");
        let err = ResourceMap::parse("[resources.\"a\"]\nmodule = \"x\"\nfuell = 3\n", p).unwrap_err().to_string();
        assert!(err.contains("fuell") && err.contains("line"), "{err}");
        let err = ResourceMap::parse("[resources.\"a\"]\nfuel = 3\n", p).unwrap_err().to_string();
        assert!(err.contains("resources.\"a\": missing required field module"), "{err}");
        let err = ResourceMap::parse("[defaults]\nmodule = \"x\"\n", p).unwrap_err().to_string();
        assert!(err.contains("defaults.module"), "{err}");
        let err = ResourceMap::parse("[resources.\"a\"]\nmodule = \"a b\"\n", p).unwrap_err().to_string();
        assert!(err.contains("resources.\"a\".module"), "{err}");
        let err = ResourceMap::parse("[defaults]\nkv = { namespace = \"x\" }\n", p).unwrap_err().to_string();
        assert!(err.contains("granted per resource"), "{err}");
        let err = ResourceMap::parse("[resources.\"a\"]\nmodule = \"x\"\nkv = { namespace = \"a/b\" }\n", p).unwrap_err().to_string();
        assert!(err.contains("resources.\"a\".kv.namespace"), "{err}");
        let err = ResourceMap::parse("[resources.\"a\"]\nmodule = \"x\"\nhttp = { allow = [] }\n", p).unwrap_err().to_string();
        assert!(err.contains("resources.\"a\".http.allow must list"), "{err}");
        let err = ResourceMap::parse("[resources.\"a\"]\nmodule = \"x\"\nhttp = { allow = [\"ftp://x/\"] }\n", p).unwrap_err().to_string();
        assert!(err.contains("resources.\"a\".http.allow") && err.contains("ftp"), "{err}");
    }

    #[test]
    fn grants_limits_and_kv_settings() {
        let map = ResourceMap::parse(
            r#"
            [defaults]
            max_log_lines = 5
            [resources."arn:inv"]
            module = "inventory"
            kv = { namespace = "inventory" }
            max_http_calls = 0
            [resources."arn:pay"]
            module = "payment"
            http = { allow = ["http://127.0.0.1:8099/pay/"], timeout_seconds = 2, max_response_kib = 8 }
            [kv]
            path = "kv.sqlite"
            [kv.seed.inventory]
            "sku-1" = 10
            "sku-2" = { units = 3 }
            "#,
            Path::new("/cfg/stepwasm.toml"),
        )
        .unwrap();
        let inv = map.resolve("arn:inv").unwrap();
        assert_eq!(inv.grants.kv.as_deref(), Some("inventory"));
        assert!(inv.grants.http.is_none());
        assert_eq!((inv.limits.max_log_lines, inv.limits.max_http_calls), (5, 0));
        let pay = map.resolve("arn:pay").unwrap();
        let http = pay.grants.http.unwrap();
        assert_eq!((http.timeout, http.max_response_bytes), (Duration::from_secs(2), 8 << 10));
        assert!(pay.grants.kv.is_none());
        assert_eq!(map.resolve("wasm:notify").unwrap().grants, Grants::default());
        assert_eq!(map.kv().path.as_deref(), Some(Path::new("/cfg/kv.sqlite")));
        assert_eq!(
            map.kv().seed,
            vec![
                ("inventory".into(), "sku-1".into(), "10".into()),
                ("inventory".into(), "sku-2".into(), r#"{"units":3}"#.into())
            ]
        );
    }
}
