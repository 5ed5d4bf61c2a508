//! A resource's component, compiled once per module file: in this process for
//! the operator's modules, in the limited compile worker for uploads (after
//! the structural pre-check), through the on-disk cache when there is one;
//! with messages that tell apart the ways a module file can be wrong.

use super::WasmRuntime;
use crate::compile_worker::{self, CompileError};
use crate::config::ResourceSpec;
use crate::precheck;
use std::path::Path;
use wasmtime::component::Component;
use wasmtime::Engine;

impl WasmRuntime {
    /// The compiled component of `spec`'s module file, compiled on its first use.
    pub(super) fn component_for(&mut self, spec: &ResourceSpec) -> Result<Component, String> {
        if let Some(c) = self.compiled.get(&spec.module_path) {
            return Ok(c.clone());
        }
        let bytes = read_module(&spec.module_path)?;
        let c = match (&self.cache, spec.untrusted) {
            (None, false) => compile(&self.engine, &spec.module_path, &bytes)?,
            (Some(cache), false) => {
                let (c, outcome) = cache.load_or_compile(&self.engine, &bytes, |b| compile(&self.engine, &spec.module_path, b))?;
                self.cache_report.push((spec.module_path.clone(), outcome));
                c
            }
            // An upload: pre-checked (on a cache hit too: the caps
            // may have tightened since), then compiled in the limited
            // worker process, never here (see compile_worker).
            (cache, true) => {
                precheck_upload(&spec.module_path, &bytes)?;
                let in_worker =
                    |b: &[u8]| compile_worker::compile_in_worker(b, compile_worker::limits()).map_err(|e| refused(&spec.module_path, e));
                match cache {
                    Some(cache) => {
                        let (c, outcome) = cache.load_or_compile_artefact(&self.engine, &bytes, in_worker)?;
                        self.cache_report.push((spec.module_path.clone(), outcome));
                        c
                    }
                    // SAFETY: the artefact is what our own compile
                    // worker produced, with this engine's settings.
                    None => unsafe { Component::deserialize(&self.engine, &in_worker(&bytes)?) }
                        .map_err(|e| format!("module file {} cannot be loaded once compiled: {e:#}", spec.module_path.display()))?,
                }
            }
        };
        self.compiled.insert(spec.module_path.clone(), c.clone());
        Ok(c)
    }
}

/// Reads a module file, with a message that says what to do when it is missing.
fn read_module(path: &Path) -> Result<Vec<u8>, String> {
    let shown = path.display();
    std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("module file {shown} not found (build the guests with scripts/build-guests.sh)"),
        _ => format!("cannot read module file {shown}: {e}"),
    })
}

/// Compiles a component's bytes, telling apart the usual ways they can be wrong.
fn compile(engine: &Engine, path: &Path, bytes: &[u8]) -> Result<Component, String> {
    check_header(path, bytes)?;
    Component::new(engine, bytes).map_err(|e| format!("module file {} is not a valid component: {e:#}", path.display()))
}

/// Refuses bytes that are not WebAssembly, or a core module, by name.
fn check_header(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let shown = path.display();
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(format!("module file {shown} is not WebAssembly"));
    }
    // Bytes 4..8 are version 1, layer 0 for a core module (components have
    // version 0x0d, layer 1); anything else is for the compiler to refuse.
    if bytes[4..8] == [1, 0, 0, 0] {
        return Err(format!("module file {shown} is a core WebAssembly module, not a component (build it for wasm32-wasip2)"));
    }
    Ok(())
}

/// Refuses an uploaded component's bytes that are not a component, or that
/// fail the structural pre-check, before any compiler sees them.
fn precheck_upload(path: &Path, bytes: &[u8]) -> Result<(), String> {
    check_header(path, bytes)?;
    precheck::precheck(bytes).map(drop).map_err(|e| refused(path, CompileError::from(e)))
}

fn refused(path: &Path, e: CompileError) -> String {
    let shown = path.display();
    match e {
        CompileError::Invalid(why) => format!("module file {shown} is not a valid component: {why}"),
        CompileError::Precheck(why) => format!("module file {shown} is refused before compiling: {why}"),
        other => format!("module file {shown} cannot be compiled: {other}"),
    }
}
