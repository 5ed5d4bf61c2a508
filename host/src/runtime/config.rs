//! The resource map (`stepwasm.toml`): which component file runs each Task
//! `Resource`, and under which limits.
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
//!
//! [resources."arn:aws:lambda:us-east-1:123456789012:function:VerifyPaymentFunction"]
//! module = "payment"      # a name in module_dir, or a path to a .wasm file
//! fuel = 20_000_000
//! ```
//!
//! A resource may also name a module directly as `wasm:<name>`, which runs
//! `<module_dir>/<name>.wasm` under the defaults. Relative paths are relative
//! to the config file.

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
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: 100_000_000,
            memory_bytes: 64 << 20,
            timeout: Duration::from_secs(10),
            max_input_bytes: 256 << 10,
            max_output_bytes: 256 << 10,
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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    module_dir: Option<PathBuf>,
    #[serde(default)]
    defaults: LimitSettings,
    #[serde(default)]
    resources: IndexMap<String, LimitSettings>,
}

/// A problem with the config file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// What a resource resolves to.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceSpec {
    pub module_path: PathBuf,
    pub limits: Limits,
}

/// The parsed, validated resource map.
#[derive(Debug, Clone)]
pub struct ResourceMap {
    origin: PathBuf,
    module_dir: PathBuf,
    defaults: Limits,
    resources: IndexMap<String, ResourceSpec>,
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
        Ok(limits)
    }
}

impl ResourceMap {
    /// A map with no entries: only `wasm:<name>` resources, found in `module_dir`.
    pub fn with_module_dir(module_dir: impl Into<PathBuf>) -> ResourceMap {
        let module_dir = module_dir.into();
        ResourceMap { origin: module_dir.clone(), module_dir, defaults: Limits::default(), resources: IndexMap::new() }
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
        let defaults = file.defaults.apply(&Limits::default(), path, "defaults")?;
        let mut map = ResourceMap { origin: path.to_path_buf(), module_dir, defaults, resources: IndexMap::new() };
        for (resource, entry) in file.resources {
            let at = format!("resources.{resource:?}");
            let limits = entry.apply(&map.defaults, path, &at)?;
            let module = entry.module.ok_or_else(|| invalid(format!("{at}: missing required field module")))?;
            let module_path = map.module_path(&module, &base_dir).map_err(|message| invalid(format!("{at}.module: {message}")))?;
            map.resources.insert(resource, ResourceSpec { module_path, limits });
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

    /// Where this map came from (for messages).
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    /// The module and limits for `resource`, or why there are none.
    pub fn resolve(&self, resource: &str) -> Result<ResourceSpec, String> {
        if let Some(spec) = self.resources.get(resource) {
            return Ok(spec.clone());
        }
        if let Some(name) = resource.strip_prefix(SHORT_FORM_PREFIX) {
            if name.ends_with(".wasm") {
                return Err(format!("{resource:?}: the short form names a module, without .wasm"));
            }
            let module_path = self.module_path(name, &self.module_dir)?;
            return Ok(ResourceSpec { module_path, limits: self.defaults.clone() });
        }
        Err(format!(
            "no module is mapped to {resource:?} in {} (add a [resources.\"...\"] entry, or use the short form wasm:<module>)",
            self.origin.display()
        ))
    }
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
    }
}
