//! The capabilities a component is linked with: a linker per combination of
//! grants (WASI and `log` always, `kv` and `http` only when granted; `http`
//! is `stepwasm:task/http` and standard `wasi:http`), and the
//! refusal of a component that imports a capability it was not granted.

use super::bindings::stepwasm::task as wit;
use super::invocation::Invocation;
use super::WasmRuntime;
use crate::config::{Grants, ResourceSpec, SHORT_FORM_PREFIX};
use wasmtime::component::{Component, HasSelf, Linker};

/// The component import names of the granted capabilities.
const KV_IMPORT: &str = "stepwasm:task/kv@";
const HTTP_IMPORT: &str = "stepwasm:task/http@";
/// Standard WASI HTTP, served with the same http grant.
const WASI_HTTP_IMPORT: &str = "wasi:http/";

impl WasmRuntime {
    /// Refuses a component that imports a capability its resource was not
    /// granted, naming the import and the grant that would allow it.
    pub(super) fn check_grants(&self, component: &Component, resource: &str, spec: &ResourceSpec) -> Result<(), String> {
        let shown = spec.module_path.display();
        let how = |grant: &str| {
            if resource.starts_with(SHORT_FORM_PREFIX) {
                format!("map the resource in stepwasm.toml to grant it: [resources.\"{resource}\"] with module = ... and {grant}")
            } else {
                format!("add {grant} to [resources.\"{resource}\"] in the config")
            }
        };
        let mut missing = Vec::new();
        for (name, _) in component.component_type().imports(&self.engine) {
            if name.starts_with(KV_IMPORT) && spec.grants.kv.is_none() {
                missing
                    .push(format!("imports {name}, but resource {resource:?} is not granted kv ({})", how("kv = { namespace = \"...\" }")));
            }
            if (name.starts_with(HTTP_IMPORT) || name.starts_with(WASI_HTTP_IMPORT)) && spec.grants.http.is_none() {
                missing.push(format!(
                    "imports {name}, but resource {resource:?} is not granted http ({})",
                    how("http = { allow = [\"https://host/prefix/\"] }")
                ));
            }
        }
        if !missing.is_empty() {
            return Err(format!("module {shown} {}", missing.join("; and it ")));
        }
        Ok(())
    }

    /// The linker for a combination of grants: WASI (with an empty context)
    /// and `log` always, `kv` only when granted, `http` (both
    /// `stepwasm:task/http` and standard `wasi:http`) only when granted.
    pub(super) fn linker(&mut self, grants: &Grants) -> wasmtime::Result<&Linker<Invocation>> {
        let key = (grants.kv.is_some(), grants.http.is_some());
        if !self.linkers.contains_key(&key) {
            let mut linker = Linker::new(&self.engine);
            wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
            wit::types::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
            wit::log::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
            if key.0 {
                wit::kv::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
            }
            if key.1 {
                wit::http::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
                wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
            }
            self.linkers.insert(key, linker);
        }
        Ok(&self.linkers[&key])
    }
}
