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
//!
//! [uploads]               # what a resource registered through the API may have
//! enabled = true          # false: PutTaskResource is refused (AccessDeniedException)
//! fuel = 100_000_000      # ceilings: each defaults to the [defaults] value, so an
//! memory_mib = 64         #   upload gets at most what a default resource gets;
//! timeout_seconds = 10    #   an upload that asks for more is refused, naming the
//! max_input_kib = 256     #   field, the value asked and the ceiling; one that
//! max_output_kib = 256    #   asks for nothing gets min([defaults], ceiling)
//! max_table_elements = 10_000
//! max_instances = 32
//! max_log_lines = 100
//! max_log_kib = 64
//! max_http_calls = 10
//! http_allow = []         # URL prefixes an upload's http grant may name (none: no http)
//! http_timeout_seconds = 10       # ceiling of an upload's http.timeout_seconds
//! http_max_response_kib = 256     # ceiling of an upload's http.max_response_kib
//! kv = true               # an upload may ask for kv ("kv": true) in its own namespace
//!
//! [http_tasks."orders"]   # HTTP Tasks (arn:aws:states:::http:invoke) of state machine "orders"
//! allow = ["https://api.example.com/v1/"]   # timeout_seconds, max_response_kib as for http
//! [http_tasks."arn:aws:events:us-east-1:123456789012:connection/stripe/1a2b"]
//! allow = ["https://api.stripe.com/"]       # HTTP Tasks naming this ConnectionArn
//!
//! [s3.buckets]            # Distributed Map ItemReader/ResultWriter: bucket -> local directory
//! my-bucket = "data/"     #   relative to this file; names as S3 allows (3-63 of a-z 0-9 . -)
//! ```
//!
//! Capabilities are granted per resource and denied by default: `log` is
//! always there, `kv` and `http` only where named. A resource may also name a
//! module directly as `wasm:<name>`, which runs `<module_dir>/<name>.wasm`
//! under the defaults with no grants. Relative paths are relative to the
//! config file.
//!
//! Uploads ([`ResourceMap::entry_from_json`], the API's `PutTaskResource`)
//! come from callers the operator does not trust, so the `[uploads]` policy
//! bounds them: limits up to its ceilings, http only under `http_allow`, kv
//! only in the upload's own namespace `upload:<resource>` (derived, never
//! chosen: an entry naming `kv.namespace` is refused rather than silently
//! moved, so a caller expecting shared data learns it will not get it), and
//! a module only as uploaded bytes (`module`, a name or path on the host, is
//! refused before anything is looked up, so nothing tells whether a path
//! exists). Operator namespaces cannot contain `:`, so no upload's namespace
//! is ever one of theirs. A resource the config defines (or its
//! `.waitForTaskToken` form, or a `wasm:` short form) is the operator's:
//! see [`ResourceMap::operator_owned`].

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

/// The `[uploads]` table: ceilings (unset ones are the `[defaults]`
/// values), the http prefixes uploads may be granted, kv and on/off.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadSettingsFile {
    enabled: Option<bool>,
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
    #[serde(default)]
    http_allow: Vec<String>,
    http_timeout_seconds: Option<f64>,
    http_max_response_kib: Option<u64>,
    kv: Option<bool>,
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
    #[serde(default)]
    uploads: UploadSettingsFile,
    #[serde(default)]
    http_tasks: IndexMap<String, HttpGrantSettings>,
    #[serde(default)]
    s3: S3SettingsFile,
}

/// The `[s3]` table: `[s3.buckets]` maps an S3 bucket name to a directory.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct S3SettingsFile {
    #[serde(default)]
    buckets: IndexMap<String, PathBuf>,
}

/// The `[s3.buckets]` table resolved: the local directory standing in for
/// each S3 bucket a Distributed Map's ItemReader or ResultWriter may name.
#[derive(Debug, Clone, Default)]
pub struct S3Buckets {
    origin: PathBuf,
    dirs: IndexMap<String, PathBuf>,
}

impl S3Buckets {
    /// Buckets from `(name, directory)` pairs; relative directories are
    /// relative to `origin`'s directory. Names are checked as S3 checks them.
    pub fn new(origin: &Path, buckets: impl IntoIterator<Item = (String, PathBuf)>) -> Result<S3Buckets, String> {
        let base_dir = origin.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut dirs = IndexMap::new();
        for (name, dir) in buckets {
            if !valid_bucket_name(&name) {
                return Err(format!(
                    "s3.buckets.{name:?}: not an S3 bucket name (3 to 63 characters of lowercase letters, digits, '.' and '-', starting and ending with a letter or digit)"
                ));
            }
            if dir.as_os_str().is_empty() {
                return Err(format!("s3.buckets.{name:?}: the directory is empty"));
            }
            dirs.insert(name, base_dir.join(dir));
        }
        Ok(S3Buckets { origin: origin.to_path_buf(), dirs })
    }

    /// The directory standing in for `bucket`, if it is mapped.
    pub fn dir(&self, bucket: &str) -> Option<&Path> {
        self.dirs.get(bucket).map(PathBuf::as_path)
    }

    /// The mapped bucket names, in the config's order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.dirs.keys().map(String::as_str)
    }

    /// The config file they come from (for messages).
    pub fn origin(&self) -> &Path {
        &self.origin
    }
}

/// S3's general purpose bucket naming rules (the parts that apply to a name alone).
fn valid_bucket_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (3..=63).contains(&bytes.len())
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-'))
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && !name.contains("..")
}

/// A problem with the config file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// Why an uploaded resource entry (the API's PutTaskResource) is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EntryError {
    #[error("uploads are turned off on this host (the operator's config says [uploads] enabled = false)")]
    Disabled,
    /// Malformed, or asking for what uploads never get (a module path, a
    /// chosen kv namespace, http outside the allowed prefixes).
    #[error("{0}")]
    Invalid(String),
    /// A limit asked for over the operator's ceiling (never clamped).
    #[error("{at}.{field} = {asked} is over this host's ceiling for uploads, {ceiling} (the operator's [uploads] {setting})")]
    OverCeiling { at: String, field: &'static str, asked: String, ceiling: String, setting: &'static str },
}

/// What a resource registered through the API may have: the `[uploads]`
/// table, resolved (see the module doc).
#[derive(Debug, Clone, PartialEq)]
pub struct UploadPolicy {
    /// False: every upload is refused.
    pub enabled: bool,
    /// The most an upload may ask for, limit by limit; also the cap on what
    /// it gets without asking.
    pub ceiling: Limits,
    /// The URL prefixes an upload's http grant may name (as written, for
    /// messages); none: uploads get no http.
    pub http_allow: Vec<String>,
    /// `http_allow` parsed; its timeout and response size are the ceilings
    /// of an upload's http grant.
    http: HttpGrant,
    /// Whether an upload may have kv (always in its own namespace).
    pub kv: bool,
}

impl UploadPolicy {
    /// The policy of a config without `[uploads]`: the built-in limits as
    /// ceilings, kv in the upload's own namespace, no http.
    fn default_for(defaults: &Limits) -> UploadPolicy {
        UploadPolicy { enabled: true, ceiling: defaults.clone(), http_allow: Vec::new(), http: HttpGrant::default(), kv: true }
    }

    fn from_file(file: &UploadSettingsFile, defaults: &Limits, path: &Path) -> Result<UploadPolicy, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid { path: path.to_path_buf(), message };
        let as_limits = LimitSettings {
            fuel: file.fuel,
            memory_mib: file.memory_mib,
            timeout_seconds: file.timeout_seconds,
            max_input_kib: file.max_input_kib,
            max_output_kib: file.max_output_kib,
            max_table_elements: file.max_table_elements,
            max_instances: file.max_instances,
            max_log_lines: file.max_log_lines,
            max_log_kib: file.max_log_kib,
            max_http_calls: file.max_http_calls,
            ..LimitSettings::default()
        };
        let ceiling = as_limits.apply(defaults, path, "uploads")?;
        let mut http = HttpGrant::default();
        for prefix in &file.http_allow {
            http.allow_prefix(prefix).map_err(|why| invalid(format!("uploads.http_allow: {why}")))?;
        }
        if let Some(t) = file.http_timeout_seconds {
            if !(t > 0.0 && t <= 300.0) {
                return Err(invalid(format!("uploads.http_timeout_seconds must be between 0 and 300, got {t}")));
            }
            http.timeout = Duration::from_secs_f64(t);
        }
        match file.http_max_response_kib {
            Some(0) => return Err(invalid("uploads.http_max_response_kib must be greater than 0".into())),
            Some(k) => {
                http.max_response_bytes = k
                    .checked_mul(1024)
                    .and_then(|b| usize::try_from(b).ok())
                    .ok_or_else(|| invalid(format!("uploads.http_max_response_kib = {k} is too large")))?
            }
            None => {}
        }
        Ok(UploadPolicy {
            enabled: file.enabled.unwrap_or(true),
            ceiling,
            http_allow: file.http_allow.clone(),
            http,
            kv: file.kv.unwrap_or(true),
        })
    }

    /// Refuses a limit asked for over its ceiling, naming both.
    fn check_limits(&self, asked: &LimitSettings, at: &str) -> Result<(), EntryError> {
        let c = &self.ceiling;
        let counts: [(&'static str, Option<u64>, u64); 9] = [
            ("fuel", asked.fuel, c.fuel),
            ("memory_mib", asked.memory_mib, (c.memory_bytes >> 20) as u64),
            ("max_input_kib", asked.max_input_kib, (c.max_input_bytes >> 10) as u64),
            ("max_output_kib", asked.max_output_kib, (c.max_output_bytes >> 10) as u64),
            ("max_table_elements", asked.max_table_elements, c.max_table_elements as u64),
            ("max_instances", asked.max_instances, c.max_instances as u64),
            ("max_log_lines", asked.max_log_lines, c.max_log_lines as u64),
            ("max_log_kib", asked.max_log_kib, (c.max_log_bytes >> 10) as u64),
            ("max_http_calls", asked.max_http_calls, u64::from(c.max_http_calls)),
        ];
        for (field, asked, ceiling) in counts {
            match asked {
                Some(asked) if asked > ceiling => {
                    return Err(EntryError::OverCeiling {
                        at: at.to_string(),
                        field,
                        asked: asked.to_string(),
                        ceiling: ceiling.to_string(),
                        setting: field,
                    })
                }
                _ => {}
            }
        }
        match asked.timeout_seconds {
            // NaN is refused too, with the same message.
            Some(t) if t > c.timeout.as_secs_f64() || t.is_nan() => Err(EntryError::OverCeiling {
                at: at.to_string(),
                field: "timeout_seconds",
                asked: t.to_string(),
                ceiling: c.timeout.as_secs_f64().to_string(),
                setting: "timeout_seconds",
            }),
            _ => Ok(()),
        }
    }

    /// The http grant an upload asked for, if the policy allows it: every
    /// prefix under one of `http_allow`, timeout and response cap within the
    /// ceilings (unset, they are the ceilings' or the grant's default,
    /// whichever is lower).
    fn http_grant(&self, asked: &HttpGrantSettings, granted: HttpGrant, at: &str) -> Result<HttpGrant, EntryError> {
        for prefix in &asked.allow {
            if !self.http.covers(prefix).unwrap_or(false) {
                let allowed = if self.http_allow.is_empty() {
                    "uploads get no http on this host (the operator's [uploads] http_allow is empty)".to_string()
                } else {
                    format!("uploads may be granted only URLs under {} (the operator's [uploads] http_allow)", self.http_allow.join(", "))
                };
                return Err(EntryError::Invalid(format!("{at}.http.allow: {prefix:?} is refused: {allowed}")));
            }
        }
        let mut grant = granted;
        match asked.timeout_seconds {
            Some(t) if t > self.http.timeout.as_secs_f64() => {
                return Err(EntryError::OverCeiling {
                    at: at.to_string(),
                    field: "http.timeout_seconds",
                    asked: t.to_string(),
                    ceiling: self.http.timeout.as_secs_f64().to_string(),
                    setting: "http_timeout_seconds",
                })
            }
            Some(_) => {}
            None => grant.timeout = grant.timeout.min(self.http.timeout),
        }
        match asked.max_response_kib {
            Some(k) if k > (self.http.max_response_bytes >> 10) as u64 => {
                return Err(EntryError::OverCeiling {
                    at: at.to_string(),
                    field: "http.max_response_kib",
                    asked: k.to_string(),
                    ceiling: (self.http.max_response_bytes >> 10).to_string(),
                    setting: "http_max_response_kib",
                })
            }
            Some(_) => {}
            None => grant.max_response_bytes = grant.max_response_bytes.min(self.http.max_response_bytes),
        }
        Ok(grant)
    }
}

/// The kv namespace an upload for `resource` gets: its own, derived from
/// the resource (`.waitForTaskToken` and the plain form share it). The `:`
/// keeps it apart from every operator namespace, which cannot contain one.
pub fn upload_namespace(resource: &str) -> String {
    let base = resource.strip_suffix(stepwasm_asl::WAIT_FOR_TASK_TOKEN).unwrap_or(resource);
    format!("upload:{base}")
}

/// Each limit of `a`, at most `b`'s.
fn lower_limits(a: &Limits, b: &Limits) -> Limits {
    Limits {
        fuel: a.fuel.min(b.fuel),
        memory_bytes: a.memory_bytes.min(b.memory_bytes),
        timeout: a.timeout.min(b.timeout),
        max_input_bytes: a.max_input_bytes.min(b.max_input_bytes),
        max_output_bytes: a.max_output_bytes.min(b.max_output_bytes),
        max_table_elements: a.max_table_elements.min(b.max_table_elements),
        max_instances: a.max_instances.min(b.max_instances),
        max_log_lines: a.max_log_lines.min(b.max_log_lines),
        max_log_bytes: a.max_log_bytes.min(b.max_log_bytes),
        max_http_calls: a.max_http_calls.min(b.max_http_calls),
    }
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
    uploads: UploadPolicy,
    http_tasks: HttpTaskGrants,
    s3_buckets: S3Buckets,
}

/// The `[http_tasks."…"]` grants: where the HTTP Task (`arn:aws:states:::http:invoke`)
/// may go, keyed by state machine name or by EventBridge connection ARN.
#[derive(Debug, Clone, Default)]
pub struct HttpTaskGrants {
    origin: PathBuf,
    grants: IndexMap<String, HttpGrant>,
}

impl HttpTaskGrants {
    /// The grants that apply to an HTTP Task of state machine `state_machine`
    /// naming `connection_arn`, with their keys: the connection's first.
    pub fn for_task(&self, state_machine: &str, connection_arn: Option<&str>) -> Vec<(&str, &HttpGrant)> {
        connection_arn
            .into_iter()
            .chain([state_machine])
            .filter_map(|key| self.grants.get_key_value(key).map(|(k, g)| (k.as_str(), g)))
            .collect()
    }

    /// The config file they come from (for messages).
    pub fn origin(&self) -> &Path {
        &self.origin
    }
}

/// Task resources the host runs itself, never a module: nested executions
/// (`arn:aws:states:::states:startExecution…`) and the HTTP Task.
pub fn runs_on_host(resource: &str) -> bool {
    let Some(rest) = resource.strip_prefix("arn:").and_then(|r| r.split_once(":states:::")).map(|(_, rest)| rest) else {
        return false;
    };
    rest == "http:invoke"
        || rest.strip_prefix("states:startExecution").is_some_and(|s| matches!(s, "" | ".sync" | ".sync:2" | ".waitForTaskToken"))
}

impl HttpGrantSettings {
    /// The grant these settings describe; `at` locates errors.
    fn grant(&self, path: &Path, at: &str) -> Result<HttpGrant, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid { path: path.to_path_buf(), message };
        let mut grant = HttpGrant::default();
        if self.allow.is_empty() {
            return Err(invalid(format!("{at}.allow must list at least one URL prefix")));
        }
        for prefix in &self.allow {
            grant.allow_prefix(prefix).map_err(|why| invalid(format!("{at}.allow: {why}")))?;
        }
        if let Some(t) = self.timeout_seconds {
            if !(t > 0.0 && t <= 300.0) {
                return Err(invalid(format!("{at}.timeout_seconds must be between 0 and 300, got {t}")));
            }
            grant.timeout = Duration::from_secs_f64(t);
        }
        match self.max_response_kib {
            Some(0) => return Err(invalid(format!("{at}.max_response_kib must be greater than 0"))),
            Some(k) => {
                grant.max_response_bytes = k
                    .checked_mul(1024)
                    .and_then(|b| usize::try_from(b).ok())
                    .ok_or_else(|| invalid(format!("{at}.max_response_kib = {k} is too large")))?
            }
            None => {}
        }
        Ok(grant)
    }
}

impl LimitSettings {
    fn apply(&self, base: &Limits, path: &Path, at: &str) -> Result<Limits, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid { path: path.to_path_buf(), message };
        let positive = |name: &str, v: Option<u64>| match v {
            Some(0) => Err(invalid(format!("{at}.{name} must be greater than 0"))),
            _ => Ok(v),
        };
        // KiB → bytes, refusing what does not fit (a shift would wrap silently).
        let kib = |name: &str, k: u64| {
            k.checked_mul(1024).and_then(|b| usize::try_from(b).ok()).ok_or_else(|| invalid(format!("{at}.{name} = {k} is too large")))
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
            limits.max_input_bytes = kib("max_input_kib", k)?;
        }
        if let Some(k) = positive("max_output_kib", self.max_output_kib)? {
            limits.max_output_bytes = kib("max_output_kib", k)?;
        }
        let count = |name: &str, n: u64| usize::try_from(n).map_err(|_| invalid(format!("{at}.{name} = {n} is too large")));
        if let Some(n) = positive("max_table_elements", self.max_table_elements)? {
            limits.max_table_elements = count("max_table_elements", n)?;
        }
        if let Some(n) = positive("max_instances", self.max_instances)? {
            limits.max_instances = count("max_instances", n)?;
        }
        if let Some(n) = positive("max_log_lines", self.max_log_lines)? {
            limits.max_log_lines = count("max_log_lines", n)?;
        }
        if let Some(k) = positive("max_log_kib", self.max_log_kib)? {
            limits.max_log_bytes = kib("max_log_kib", k)?;
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
            Some(g) => return Err(invalid(format!("{at}.kv.namespace {:?} must be 1-64 letters, digits, '-', '_' or '.'", g.namespace))),
        };
        let http = match &self.http {
            None => None,
            Some(g) => Some(g.grant(path, &format!("{at}.http"))?),
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
            uploads: UploadPolicy::default_for(&Limits::default()),
            http_tasks: HttpTaskGrants::default(),
            s3_buckets: S3Buckets::default(),
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
        let uploads = UploadPolicy::from_file(&file.uploads, &defaults, path)?;
        let mut http_tasks = HttpTaskGrants { origin: path.to_path_buf(), grants: IndexMap::new() };
        for (key, settings) in &file.http_tasks {
            http_tasks.grants.insert(key.clone(), settings.grant(path, &format!("http_tasks.{key:?}"))?);
        }
        let s3_buckets = S3Buckets::new(path, file.s3.buckets).map_err(invalid)?;
        let mut map = ResourceMap {
            origin: path.to_path_buf(),
            module_dir,
            defaults,
            resources: IndexMap::new(),
            kv,
            uploads,
            http_tasks,
            s3_buckets,
        };
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

    /// The `[resources."…"]` entries, in the file's order.
    pub fn resources(&self) -> impl Iterator<Item = (&str, &ResourceSpec)> {
        self.resources.iter().map(|(name, spec)| (name.as_str(), spec))
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

    /// The upload policy (`[uploads]`).
    pub fn uploads(&self) -> &UploadPolicy {
        &self.uploads
    }

    /// The HTTP Tasks' grants (`[http_tasks."…"]`).
    pub fn http_tasks(&self) -> &HttpTaskGrants {
        &self.http_tasks
    }

    /// The local directories standing in for S3 buckets (`[s3.buckets]`).
    pub fn s3_buckets(&self) -> &S3Buckets {
        &self.s3_buckets
    }

    /// Why `resource` belongs to the operator, if it does: the config
    /// defines it (or the resource without `.waitForTaskToken`, which it
    /// resolves to), or it is a `wasm:<name>` short form (a module of the
    /// operator's `module_dir`). The API may neither replace nor delete it.
    pub fn operator_owned(&self, resource: &str) -> Option<String> {
        if resource.starts_with(SHORT_FORM_PREFIX) {
            return Some(format!("resource {resource:?} is a wasm:<name> short form, which names a module the operator installed"));
        }
        let base = resource.strip_suffix(stepwasm_asl::WAIT_FOR_TASK_TOKEN).unwrap_or(resource);
        [resource, base]
            .iter()
            .any(|r| self.resources.contains_key(*r))
            .then(|| format!("resource {resource:?} is defined by the operator's config"))
    }

    /// An uploaded resource entry (the HTTP API's PutTaskResource), given
    /// as JSON with the keys of a `[resources."…"]` table, checked against
    /// the `[uploads]` policy: limits inherit `[defaults]` (each at most its
    /// ceiling) and may ask up to the ceilings; `kv` is `true` (the upload's
    /// own namespace, see [`upload_namespace`]) or absent; `http` prefixes
    /// must lie under `http_allow`. The module is `uploaded`, a file the host
    /// wrote from the caller's bytes; `module` is refused (nothing on the
    /// host is looked up for a caller).
    pub fn entry_from_json(
        &self,
        resource: &str,
        entry: &serde_json::Value,
        uploaded: Option<PathBuf>,
    ) -> Result<ResourceSpec, EntryError> {
        let policy = &self.uploads;
        if !policy.enabled {
            return Err(EntryError::Disabled);
        }
        let at = format!("resources.{resource:?}");
        let invalid = |message: String| EntryError::Invalid(message);
        let serde_json::Value::Object(fields) = entry else {
            return Err(invalid(format!("{at}: the config must be an object")));
        };
        let mut fields = fields.clone();
        let kv = fields.remove("kv");
        let settings: LimitSettings =
            serde_json::from_value(serde_json::Value::Object(fields)).map_err(|e| invalid(format!("{at}: {e}")))?;
        if settings.module.is_some() {
            return Err(invalid(format!(
                "{at}.module: through the API a module is given as its bytes (moduleBytes), never as a name or path on the host"
            )));
        }
        let module_path = uploaded.ok_or_else(|| invalid(format!("{at}: no module (upload its bytes as moduleBytes)")))?;
        // The config file's path is the operator's business, not the caller's.
        let unlocated = |e: ConfigError| match e {
            ConfigError::Invalid { message, .. } => EntryError::Invalid(message),
            other => EntryError::Invalid(other.to_string()),
        };
        policy.check_limits(&settings, &at)?;
        let limits = settings.apply(&lower_limits(&self.defaults, &policy.ceiling), &self.origin, &at).map_err(unlocated)?;
        let http = match (&settings.http, settings.grants(&self.origin, &at).map_err(unlocated)?.http) {
            (Some(asked), Some(granted)) => Some(policy.http_grant(asked, granted, &at)?),
            _ => None,
        };
        let kv = match kv {
            None | Some(serde_json::Value::Null | serde_json::Value::Bool(false)) => None,
            Some(serde_json::Value::Bool(true)) => Some(upload_namespace(resource)),
            Some(serde_json::Value::Object(o)) if o.is_empty() => Some(upload_namespace(resource)),
            Some(serde_json::Value::Object(o)) if o.contains_key("namespace") => {
                return Err(invalid(format!(
                    "{at}.kv.namespace: an upload cannot choose its kv namespace; it gets its own, {:?} (ask for it with \"kv\": true)",
                    upload_namespace(resource)
                )))
            }
            Some(_) => return Err(invalid(format!("{at}.kv: true (kv in the upload's own namespace) or false"))),
        };
        if kv.is_some() && !policy.kv {
            return Err(invalid(format!("{at}.kv: uploads get no kv on this host (the operator's [uploads] kv = false)")));
        }
        Ok(ResourceSpec { module_path, limits, grants: Grants { kv, http }, untrusted: true })
    }

    /// Maps `resource` to `spec`, replacing what it was mapped to.
    pub fn insert(&mut self, resource: &str, spec: ResourceSpec) {
        self.resources.insert(resource.to_string(), spec);
    }

    /// Where this map came from (for messages).
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    /// What a Task state runs: its resource's module, or for
    /// `lambda:invoke` the function its `FunctionName` names (every mapped
    /// Lambda function when the name is computed at run time), as (resource
    /// to load, its module and limits); or why it cannot run, telling a
    /// resource nothing maps (which AWS would accept) from a broken entry.
    pub fn resolve_task(&self, task: &stepwasm_asl::TaskState) -> Result<Vec<(String, ResourceSpec)>, TaskResolveError> {
        let resource = task.resource.as_str();
        if runs_on_host(resource) {
            return Ok(Vec::new());
        }
        if !crate::lambda::is_lambda_invoke(resource) {
            let spec = self.lookup(resource).ok_or_else(|| TaskResolveError::Unmapped(self.unmapped(resource)))?;
            return Ok(vec![(task.resource.clone(), spec.map_err(TaskResolveError::Invalid)?)]);
        }
        let keys = match crate::lambda::static_function_name(task) {
            Some(function) => vec![crate::lambda::match_function(self.resources.keys().map(String::as_str), function)
                .map_err(TaskResolveError::Unmapped)?
                .to_string()],
            None => {
                let all: Vec<String> = self.resources.keys().filter(|k| crate::lambda::configured_function(k).is_some()).cloned().collect();
                if all.is_empty() {
                    return Err(TaskResolveError::Unmapped(format!(
                        "{resource}: its FunctionName is computed at run time, and no Lambda function is mapped in {}",
                        self.origin.display()
                    )));
                }
                all
            }
        };
        keys.into_iter().map(|key| Ok((key.clone(), self.resolve(&key).map_err(TaskResolveError::Invalid)?))).collect()
    }

    /// Checks that every Task state of `machine` the config maps can run
    /// (`Unmapped::FailWhenRun`'s check at create: a resource nothing maps
    /// is accepted, as AWS accepts any resource). The error names the state.
    pub fn check_mapped_tasks(&self, machine: &stepwasm_asl::StateMachine) -> Result<(), String> {
        for (state, task) in machine.module_tasks() {
            match self.resolve_task(task) {
                Ok(_) | Err(TaskResolveError::Unmapped(_)) => {}
                Err(TaskResolveError::Invalid(why)) => return Err(format!("state {state:?}: {why}")),
            }
        }
        Ok(())
    }

    /// The module and limits for `resource`, or why there are none. A
    /// `.waitForTaskToken` resource runs the module of the resource without
    /// the suffix, unless the map names it with the suffix.
    pub fn resolve(&self, resource: &str) -> Result<ResourceSpec, String> {
        self.lookup(resource).unwrap_or_else(|| Err(self.unmapped(resource)))
    }

    /// [`ResourceMap::resolve`], `None` when nothing maps `resource`.
    fn lookup(&self, resource: &str) -> Option<Result<ResourceSpec, String>> {
        if let Some(spec) = self.resources.get(resource) {
            return Some(Ok(spec.clone()));
        }
        if let Some(base) = resource.strip_suffix(stepwasm_asl::WAIT_FOR_TASK_TOKEN) {
            return self.lookup(base);
        }
        let name = resource.strip_prefix(SHORT_FORM_PREFIX)?;
        if name.ends_with(".wasm") {
            return Some(Err(format!("{resource:?}: the short form names a module, without .wasm")));
        }
        Some(self.module_path(name, &self.module_dir).map(|module_path| ResourceSpec {
            module_path,
            limits: self.defaults.clone(),
            grants: Grants::default(),
            untrusted: false,
        }))
    }

    /// Why nothing runs `resource`: the entry that would map it.
    fn unmapped(&self, resource: &str) -> String {
        let mut base = resource;
        while let Some(shorter) = base.strip_suffix(stepwasm_asl::WAIT_FOR_TASK_TOKEN) {
            base = shorter;
        }
        format!(
            "no module is mapped to {base:?} in {} (add [resources.{base:?}] to it, use the short form wasm:<module>, or mock the state in a --mock-config test case)",
            self.origin.display()
        )
    }
}

/// Why a Task state cannot run ([`ResourceMap::resolve_task`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskResolveError {
    /// Nothing maps its resource or its `lambda:invoke` function: AWS would
    /// accept the definition (see `Unmapped`).
    #[error("{0}")]
    Unmapped(String),
    /// Its entry cannot be used (a bad short form, a missing module file).
    #[error("{0}")]
    Invalid(String),
}

/// `[kv.seed.<namespace>]` tables as (namespace, key, JSON text).
fn seed_values(seed: &IndexMap<String, IndexMap<String, toml::Value>>, path: &Path) -> Result<Vec<(String, String, String)>, ConfigError> {
    let mut out = Vec::new();
    for (namespace, values) in seed {
        if !valid_namespace(namespace) {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                message: format!("kv.seed.{namespace:?}: a namespace is 1-64 letters, digits, '-', '_' or '.'"),
            });
        }
        for (key, value) in values {
            let json = serde_json::to_string(value)
                .map_err(|e| ConfigError::Invalid { path: path.to_path_buf(), message: format!("kv.seed.{namespace}.{key:?}: {e}") })?;
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
    fn uploaded_entries_inherit_defaults_and_replace_mappings() {
        let mut map = ResourceMap::parse("module_dir = \"mods\"\n[defaults]\nfuel = 1000\n", Path::new("/cfg/stepwasm.toml")).unwrap();
        let entry = serde_json::json!({"memory_mib": 8, "kv": true});
        let spec = map.entry_from_json("arn:n", &entry, Some("/up/abc.wasm".into())).unwrap();
        assert_eq!(
            (spec.module_path.as_path(), spec.limits.fuel, spec.grants.kv.as_deref(), spec.untrusted),
            (Path::new("/up/abc.wasm"), 1000, Some("upload:arn:n"), true)
        );
        map.insert("arn:n", spec);
        assert_eq!(map.resolve("arn:n.waitForTaskToken").unwrap().limits.memory_bytes, 8 << 20);
        assert_eq!(upload_namespace("arn:n.waitForTaskToken"), "upload:arn:n");
        for (entry, says) in [
            (serde_json::json!({"fuell": 1}), "fuell"),
            (serde_json::json!({"fuel": 0}), "fuel must be greater than 0"),
            (serde_json::json!({"kv": 3}), "kv: true"),
        ] {
            let err = map.entry_from_json("arn:bad", &entry, Some("/up/x.wasm".into())).unwrap_err().to_string();
            assert!(err.contains(says) && err.contains("resources.\"arn:bad\""), "{err}");
            assert!(!err.contains("/cfg"), "the config's path is not shown to callers: {err}");
        }
        let err = map.entry_from_json("arn:bad", &serde_json::json!({}), None).unwrap_err().to_string();
        assert!(err.contains("no module (upload its bytes as moduleBytes)"), "{err}");
    }

    #[test]
    fn uploads_get_no_module_path_no_foreign_namespace_and_no_http_by_default() {
        let map =
            ResourceMap::parse("[resources.\"arn:op\"]\nmodule = \"x\"\nkv = { namespace = \"op\" }\n", Path::new("/cfg/s.toml")).unwrap();
        let up = || Some(PathBuf::from("/up/x.wasm"));
        // A module named or pathed is refused alike, whatever the path, before any lookup.
        let refusals: Vec<String> = ["notify", "/etc/passwd.wasm", "/cfg/s.toml", "../x.wasm"]
            .iter()
            .map(|m| map.entry_from_json("arn:u", &serde_json::json!({"module": m}), up()).unwrap_err().to_string())
            .collect();
        assert!(refusals.iter().all(|r| r == &refusals[0]), "{refusals:?}");
        assert!(refusals[0].contains("resources.\"arn:u\".module: through the API a module is given as its bytes"), "{}", refusals[0]);
        assert_eq!(map.entry_from_json("arn:u", &serde_json::json!({"module": "notify"}), None).unwrap_err().to_string(), refusals[0]);

        let err = map.entry_from_json("arn:u", &serde_json::json!({"kv": {"namespace": "op"}}), up()).unwrap_err().to_string();
        assert!(err.contains("resources.\"arn:u\".kv.namespace: an upload cannot choose") && err.contains("\"upload:arn:u\""), "{err}");
        let err = map
            .entry_from_json("arn:u", &serde_json::json!({"http": {"allow": ["http://127.0.0.1:8083/"]}}), up())
            .unwrap_err()
            .to_string();
        assert!(err.contains("resources.\"arn:u\".http.allow: \"http://127.0.0.1:8083/\" is refused: uploads get no http"), "{err}");

        assert!(map.operator_owned("arn:op").unwrap().contains("defined by the operator's config"));
        assert!(map.operator_owned("arn:op.waitForTaskToken").is_some());
        assert!(map.operator_owned("wasm:notify").unwrap().contains("short form"));
        assert_eq!(map.operator_owned("arn:u"), None);
        assert_eq!(map.operator_owned("arn:u.waitForTaskToken"), None);
    }

    #[test]
    fn the_upload_policy_caps_limits_and_http_and_can_turn_uploads_off() {
        let map = ResourceMap::parse(
            r#"
            [defaults]
            fuel = 5000
            [uploads]
            fuel = 2000
            memory_mib = 16
            http_allow = ["http://127.0.0.1:9000/ok/"]
            http_timeout_seconds = 2
            "#,
            Path::new("/cfg/s.toml"),
        )
        .unwrap();
        let up = || Some(PathBuf::from("/up/x.wasm"));
        // Unasked, a limit is the lower of [defaults] and the ceiling.
        let spec = map.entry_from_json("arn:u", &serde_json::json!({}), up()).unwrap();
        assert_eq!((spec.limits.fuel, spec.limits.memory_bytes, spec.limits.timeout), (2000, 16 << 20, Duration::from_secs(10)));
        assert_eq!(spec.grants, Grants::default());
        for (entry, says) in [
            (serde_json::json!({"fuel": u64::MAX}), "resources.\"arn:u\".fuel = 18446744073709551615 is over this host's ceiling for uploads, 2000 (the operator's [uploads] fuel)"),
            (serde_json::json!({"memory_mib": 4096}), ".memory_mib = 4096 is over this host's ceiling for uploads, 16"),
            (serde_json::json!({"timeout_seconds": 31_536_000}), ".timeout_seconds = 31536000 is over this host's ceiling for uploads, 10"),
            (serde_json::json!({"max_http_calls": 11}), ".max_http_calls = 11 is over"),
            (serde_json::json!({"max_input_kib": 18014398509481984u64}), ".max_input_kib = 18014398509481984 is over"),
            (serde_json::json!({"http": {"allow": ["http://127.0.0.1:9000/ok/"], "timeout_seconds": 3}}), ".http.timeout_seconds = 3 is over this host's ceiling for uploads, 2 (the operator's [uploads] http_timeout_seconds)"),
            (serde_json::json!({"http": {"allow": ["http://127.0.0.1:9000/okay/"]}}), "may be granted only URLs under http://127.0.0.1:9000/ok/"),
            (serde_json::json!({"http": {"allow": ["http://127.0.0.1:9000/ok/../admin/"]}}), "is refused"),
            (serde_json::json!({"http": {"allow": ["http://127.0.0.1:9001/ok/"]}}), "is refused"),
        ] {
            let err = map.entry_from_json("arn:u", &entry, up()).unwrap_err().to_string();
            assert!(err.contains(says), "{entry}: {err}");
        }
        let spec = map
            .entry_from_json("arn:u", &serde_json::json!({"fuel": 2000, "http": {"allow": ["http://127.0.0.1:9000/ok/v1"]}}), up())
            .unwrap();
        let http = spec.grants.http.unwrap();
        assert_eq!(http.timeout, Duration::from_secs(2), "an unasked http timeout is capped by the ceiling");
        assert!(http.covers("http://127.0.0.1:9000/ok/v1/x").unwrap() && !http.covers("http://127.0.0.1:9000/ok/v2").unwrap());

        let off = ResourceMap::parse("[uploads]\nenabled = false\n", Path::new("/cfg/s.toml")).unwrap();
        assert_eq!(off.entry_from_json("arn:u", &serde_json::json!({}), up()), Err(EntryError::Disabled));
        let no_kv = ResourceMap::parse("[uploads]\nkv = false\n", Path::new("/cfg/s.toml")).unwrap();
        assert!(no_kv
            .entry_from_json("arn:u", &serde_json::json!({"kv": true}), up())
            .unwrap_err()
            .to_string()
            .contains("uploads get no kv"));
        let err = ResourceMap::parse("[uploads]\nhttp_allow = [\"ftp://x/\"]\n", Path::new("c.toml")).unwrap_err().to_string();
        assert!(err.contains("uploads.http_allow") && err.contains("ftp"), "{err}");
        let err = ResourceMap::parse("[uploads]\nfuel = 0\n", Path::new("c.toml")).unwrap_err().to_string();
        assert!(err.contains("uploads.fuel must be greater than 0"), "{err}");
        let err = ResourceMap::parse("[uploads]\nnamespace = \"x\"\n", Path::new("c.toml")).unwrap_err().to_string();
        assert!(err.contains("namespace"), "{err}");
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
            vec![("inventory".into(), "sku-1".into(), "10".into()), ("inventory".into(), "sku-2".into(), r#"{"units":3}"#.into())]
        );
    }

    #[test]
    fn http_task_grants_are_keyed_by_machine_or_connection_and_host_integrations_need_no_module() {
        let conn = "arn:aws:events:us-east-1:1:connection/c/1";
        let map = ResourceMap::parse(
            &format!(
                "[http_tasks.\"orders\"]\nallow = [\"http://127.0.0.1:1/a/\"]\n[http_tasks.\"{conn}\"]\nallow = [\"http://127.0.0.1:1/b/\"]\ntimeout_seconds = 2\n"
            ),
            Path::new("/cfg/stepwasm.toml"),
        )
        .unwrap();
        let keys = |machine: &str, c: Option<&str>| {
            map.http_tasks().for_task(machine, c).into_iter().map(|(k, _)| k.to_string()).collect::<Vec<_>>()
        };
        assert_eq!(keys("orders", Some(conn)), [conn, "orders"]);
        assert_eq!(keys("other", None), Vec::<String>::new());
        assert_eq!(map.http_tasks().for_task("x", Some(conn))[0].1.timeout, Duration::from_secs(2));
        let err = ResourceMap::parse("[http_tasks.\"m\"]\nallow = []\n", Path::new("/c.toml")).unwrap_err().to_string();
        assert!(err.contains("http_tasks.\"m\".allow must list"), "{err}");
        assert!(runs_on_host("arn:aws:states:::http:invoke") && runs_on_host("arn:aws:states:::states:startExecution.sync:2"));
        assert!(!runs_on_host("arn:aws:states:::states:startExecution.sync:3") && !runs_on_host("arn:aws:states:::lambda:invoke"));
    }
    #[test]
    fn s3_buckets_map_names_to_config_relative_dirs_and_refuse_bad_names() {
        let map = ResourceMap::parse(
            "[s3.buckets]\nmy-bucket = \"data/\"\n\"logs.example-1\" = \"/abs/logs\"\n",
            Path::new("/cfg/stepwasm.toml"),
        )
        .unwrap();
        let b = map.s3_buckets();
        assert_eq!(b.dir("my-bucket"), Some(Path::new("/cfg/data/")));
        assert_eq!(b.dir("logs.example-1"), Some(Path::new("/abs/logs")));
        assert_eq!(b.dir("other"), None);
        assert_eq!(b.names().collect::<Vec<_>>(), ["my-bucket", "logs.example-1"]);
        assert_eq!(b.origin(), Path::new("/cfg/stepwasm.toml"));
        assert!(ResourceMap::parse("", Path::new("/c.toml")).unwrap().s3_buckets().names().next().is_none());
        for bad in ["ab", "My-Bucket", "a_b", "-abc", "abc-", "a..b", &"a".repeat(64)] {
            let text = format!("[s3.buckets]\n\"{bad}\" = \"d\"\n");
            let err = ResourceMap::parse(&text, Path::new("/c.toml")).unwrap_err().to_string();
            assert!(err.contains(&format!("s3.buckets.{bad:?}")) && err.contains("/c.toml"), "{err}");
        }
        let err = ResourceMap::parse("[s3]\nbucket = 1\n", Path::new("/c.toml")).unwrap_err().to_string();
        assert!(err.contains("bucket"), "{err}");
    }
}
