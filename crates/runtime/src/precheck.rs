//! A cheap structural check of an untrusted component before anything
//! compiles it: one pass of `wasmparser` over the bytes (nested modules and
//! components included, iteratively: the parser keeps its own stack, nothing
//! here recurses on the input's depth) that refuses "bombs" — a few KB whose
//! nested instantiations multiply out to millions of instances, components
//! nested thousands deep, functions with huge local counts — with a reason
//! naming the number and the cap.
//!
//! The flattened counts: wasmtime compiles a component by inlining every
//! nested component it instantiates, so the work (and the instances created
//! at instantiation) is the sum over instantiations, recursively. Each
//! component definition gets a [`Weight`] when its body ends (itself, its
//! core instantiations, its own items, plus the weight of each component it
//! instantiates); sums saturate and the check stops as soon as one is over its
//! cap. A component reached through an instance's export cannot be traced
//! without type checking, so it weighs as much as the heaviest definition
//! seen so far (an upper bound: every component value comes from some
//! definition in the file).
//!
//! Everything else (types, validity) is for wasmtime's validator, which runs
//! in the limited worker process (see [`super::compile_worker`]).

use wasmparser::{
    ComponentAlias, ComponentExternalKind, ComponentInstance, ComponentOuterAliasKind, ComponentTypeRef, Instance, Parser, Payload,
};

/// How deep modules and components may nest (the root component is depth 1,
/// a core module inside it depth 2). The guests wit-component builds are 2.
pub const MAX_NESTING_DEPTH: u64 = 16;
/// Core and component instances that instantiating the root creates, after
/// flattening nested instantiations (the guests: 5 or 6). Also the bound
/// the pooling allocator is given per component (see `wasm.rs`).
pub const MAX_INSTANCES: u64 = 200;
/// Component-level items (imports, exports, aliases, canonical functions,
/// instances, types) that compilation processes after flattening: the
/// inlining work (the guests: at most about 200).
pub const MAX_FLATTENED_ITEMS: u64 = 100_000;
/// Functions defined (core functions and canonical lifts/lowers), over
/// every module in the file (the guests: at most about 600).
pub const MAX_FUNCTIONS: u64 = 20_000;
/// Locals declared by one function (the guests: under 100).
pub const MAX_LOCALS_PER_FUNCTION: u64 = 2_000;
/// The body of one function, in bytes: compile time grows faster than
/// linearly with a function's size (the guests: under 8 KiB; one of
/// 256 KiB compiles in about a second and 200 MiB).
pub const MAX_FUNCTION_BYTES: u64 = 256 * 1024;
/// Code, over every module in the file, in bytes.
pub const MAX_CODE_BYTES: u64 = 8 * 1024 * 1024;
/// Type definitions (core and component), over the file.
pub const MAX_TYPES: u64 = 10_000;
/// Imports (core and component), over the file.
pub const MAX_IMPORTS: u64 = 10_000;
/// Exports (core and component), over the file.
pub const MAX_EXPORTS: u64 = 10_000;
/// Globals, tables, memories, tags, element and data segments, over the file.
pub const MAX_OTHER_ITEMS: u64 = 20_000;

/// Why a component was refused before compiling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrecheckError {
    #[error("modules and components nest {depth} deep (at byte {offset}), more than the cap of {cap}")]
    TooDeep { depth: u64, offset: usize, cap: u64 },
    #[error("instantiating it would create {count} core and component instances after flattening nested instantiations, more than the cap of {cap}")]
    TooManyInstances { count: u64, cap: u64 },
    #[error("compiling it would process {count} component items after flattening nested instantiations, more than the cap of {cap}")]
    TooManyFlattenedItems { count: u64, cap: u64 },
    #[error("function {function} of the module at byte {module_offset} declares {count} locals, more than the cap of {cap}")]
    TooManyLocals { function: u64, module_offset: usize, count: u64, cap: u64 },
    #[error("function {function} of the module at byte {module_offset} has a body of {bytes} bytes, more than the cap of {cap}")]
    FunctionTooLarge { function: u64, module_offset: usize, bytes: u64, cap: u64 },
    #[error("it has {count} {what}, more than the cap of {cap}")]
    TooMany { what: &'static str, count: u64, cap: u64 },
    #[error("it is not a well-formed component: {0}")]
    Malformed(String),
}

/// What the check counted (for the tests and for measuring real guests).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub max_depth: u64,
    pub instances: u64,
    pub flattened_items: u64,
    pub functions: u64,
    pub max_locals: u64,
    pub max_function_bytes: u64,
    pub code_bytes: u64,
    pub types: u64,
    pub imports: u64,
    pub exports: u64,
    pub other_items: u64,
}

/// The flattened cost of instantiating one component definition.
#[derive(Debug, Clone, Copy, Default)]
struct Weight {
    instances: u64,
    items: u64,
}

impl Weight {
    fn add(&mut self, other: Weight) {
        self.instances = self.instances.saturating_add(other.instances);
        self.items = self.items.saturating_add(other.items);
    }

    fn check(&self) -> Result<(), PrecheckError> {
        if self.instances > MAX_INSTANCES {
            return Err(PrecheckError::TooManyInstances { count: self.instances, cap: MAX_INSTANCES });
        }
        if self.items > MAX_FLATTENED_ITEMS {
            return Err(PrecheckError::TooManyFlattenedItems { count: self.items, cap: MAX_FLATTENED_ITEMS });
        }
        Ok(())
    }
}

/// One component being read: the weights of its component index space and
/// the cost of instantiating it so far.
struct ComponentFrame {
    components: Vec<Weight>,
    weight: Weight,
}

impl ComponentFrame {
    fn new() -> ComponentFrame {
        // The component itself is one instance.
        ComponentFrame { components: Vec::new(), weight: Weight { instances: 1, items: 0 } }
    }
}

/// What is being read: a component (its frame) or a core module.
enum Level {
    Component(ComponentFrame),
    Module { offset: usize, functions: u64 },
}

/// The running totals over the whole file.
struct Walk {
    levels: Vec<Level>,
    summary: Summary,
    /// The heaviest component definition seen so far.
    heaviest: Weight,
}

/// Checks `bytes` (a component) against the caps above; its counts if it passes.
pub fn precheck(bytes: &[u8]) -> Result<Summary, PrecheckError> {
    let mut walk = Walk { levels: Vec::new(), summary: Summary::default(), heaviest: Weight::default() };
    let mut pending_nested: Option<(bool, usize)> = None;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| PrecheckError::Malformed(e.to_string()))?;
        match payload {
            Payload::Version { range, encoding, .. } => {
                let is_component = matches!(encoding, wasmparser::Encoding::Component);
                let (nested_component, offset) = pending_nested.take().unwrap_or((is_component, range.start));
                if nested_component != is_component {
                    return Err(PrecheckError::Malformed(format!("the item at byte {offset} has the wrong header")));
                }
                walk.enter(is_component, offset)?;
            }
            Payload::ModuleSection { unchecked_range, .. } => pending_nested = Some((false, unchecked_range.start)),
            Payload::ComponentSection { unchecked_range, .. } => pending_nested = Some((true, unchecked_range.start)),
            Payload::End(_) => walk.leave()?,
            other => walk.section(other)?,
        }
    }
    if walk.levels.is_empty() {
        Ok(walk.summary)
    } else {
        Err(PrecheckError::Malformed("the component ends in the middle of a nested item".into()))
    }
}

fn malformed(e: wasmparser::BinaryReaderError) -> PrecheckError {
    PrecheckError::Malformed(e.to_string())
}

/// Adds `n` to `*total` and refuses past `cap`.
fn count(total: &mut u64, n: u64, what: &'static str, cap: u64) -> Result<(), PrecheckError> {
    *total = total.saturating_add(n);
    if *total > cap {
        return Err(PrecheckError::TooMany { what, count: *total, cap });
    }
    Ok(())
}

impl Walk {
    fn enter(&mut self, is_component: bool, offset: usize) -> Result<(), PrecheckError> {
        let depth = self.levels.len() as u64 + 1;
        if depth > MAX_NESTING_DEPTH {
            return Err(PrecheckError::TooDeep { depth, offset, cap: MAX_NESTING_DEPTH });
        }
        self.summary.max_depth = self.summary.max_depth.max(depth);
        if !is_component && self.levels.is_empty() {
            return Err(PrecheckError::Malformed("it is a core module, not a component".into()));
        }
        self.levels.push(if is_component { Level::Component(ComponentFrame::new()) } else { Level::Module { offset, functions: 0 } });
        Ok(())
    }

    fn leave(&mut self) -> Result<(), PrecheckError> {
        match self.levels.pop() {
            Some(Level::Component(frame)) => {
                frame.weight.check()?;
                if self.heaviest.instances < frame.weight.instances || self.heaviest.items < frame.weight.items {
                    self.heaviest = Weight {
                        instances: self.heaviest.instances.max(frame.weight.instances),
                        items: self.heaviest.items.max(frame.weight.items),
                    };
                }
                match self.levels.last_mut() {
                    Some(Level::Component(parent)) => parent.components.push(frame.weight),
                    Some(Level::Module { .. }) => return Err(PrecheckError::Malformed("a component inside a core module".into())),
                    None => {
                        self.summary.instances = frame.weight.instances;
                        self.summary.flattened_items = frame.weight.items;
                    }
                }
            }
            Some(Level::Module { .. }) => {}
            None => return Err(PrecheckError::Malformed("an end without a beginning".into())),
        }
        Ok(())
    }

    /// The innermost component, for its component-level sections.
    fn component(&mut self) -> Result<&mut ComponentFrame, PrecheckError> {
        match self.levels.last_mut() {
            Some(Level::Component(frame)) => Ok(frame),
            _ => Err(PrecheckError::Malformed("a component section outside a component".into())),
        }
    }

    /// Counts `n` component-level items of the innermost component.
    fn items(&mut self, n: u64) -> Result<(), PrecheckError> {
        let frame = self.component()?;
        frame.weight.add(Weight { instances: 0, items: n });
        frame.weight.check()
    }

    /// The weight of component `index` of the component `outward` levels out.
    fn component_weight(&self, outward: u32, index: u32) -> Weight {
        let frames: Vec<&ComponentFrame> = self
            .levels
            .iter()
            .rev()
            .filter_map(|l| match l {
                Level::Component(f) => Some(f),
                Level::Module { .. } => None,
            })
            .collect();
        frames
            .get(outward as usize)
            .and_then(|f| f.components.get(index as usize))
            .copied()
            // An index the validator will refuse: count it as heavily as anything.
            .unwrap_or(self.heaviest)
    }

    fn section(&mut self, payload: Payload<'_>) -> Result<(), PrecheckError> {
        let s = &mut self.summary;
        match payload {
            // Core module sections.
            Payload::TypeSection(r) => count(&mut s.types, r.count().into(), "type definitions", MAX_TYPES)?,
            Payload::ImportSection(r) => {
                for import in r.into_imports() {
                    import.map_err(malformed)?;
                    count(&mut s.imports, 1, "imports", MAX_IMPORTS)?;
                }
            }
            Payload::ExportSection(r) => count(&mut s.exports, r.count().into(), "exports", MAX_EXPORTS)?,
            Payload::TableSection(r) => {
                count(&mut s.other_items, r.count().into(), "globals, tables, memories, tags and segments", MAX_OTHER_ITEMS)?
            }
            Payload::MemorySection(r) => {
                count(&mut s.other_items, r.count().into(), "globals, tables, memories, tags and segments", MAX_OTHER_ITEMS)?
            }
            Payload::TagSection(r) => {
                count(&mut s.other_items, r.count().into(), "globals, tables, memories, tags and segments", MAX_OTHER_ITEMS)?
            }
            Payload::GlobalSection(r) => {
                count(&mut s.other_items, r.count().into(), "globals, tables, memories, tags and segments", MAX_OTHER_ITEMS)?
            }
            Payload::ElementSection(r) => {
                count(&mut s.other_items, r.count().into(), "globals, tables, memories, tags and segments", MAX_OTHER_ITEMS)?
            }
            Payload::DataSection(r) => {
                count(&mut s.other_items, r.count().into(), "globals, tables, memories, tags and segments", MAX_OTHER_ITEMS)?
            }
            Payload::FunctionSection(r) => count(&mut s.functions, r.count().into(), "functions", MAX_FUNCTIONS)?,
            Payload::CodeSectionStart { size, .. } => count(&mut s.code_bytes, size.into(), "bytes of code", MAX_CODE_BYTES)?,
            Payload::CodeSectionEntry(body) => {
                let Some(Level::Module { offset, functions }) = self.levels.last_mut() else {
                    return Err(PrecheckError::Malformed("code outside a core module".into()));
                };
                let (module_offset, function) = (*offset, *functions);
                *functions += 1;
                let bytes = body.range().len() as u64;
                s.max_function_bytes = s.max_function_bytes.max(bytes);
                if bytes > MAX_FUNCTION_BYTES {
                    return Err(PrecheckError::FunctionTooLarge { function, module_offset, bytes, cap: MAX_FUNCTION_BYTES });
                }
                let mut locals = body.get_locals_reader().map_err(malformed)?;
                let mut declared: u64 = 0;
                for _ in 0..locals.get_count() {
                    let (n, _) = locals.read().map_err(malformed)?;
                    declared = declared.saturating_add(n.into());
                    if declared > MAX_LOCALS_PER_FUNCTION {
                        return Err(PrecheckError::TooManyLocals {
                            function,
                            module_offset,
                            count: declared,
                            cap: MAX_LOCALS_PER_FUNCTION,
                        });
                    }
                }
                s.max_locals = s.max_locals.max(declared);
            }
            // Component sections.
            Payload::CoreTypeSection(r) => {
                count(&mut s.types, r.count().into(), "type definitions", MAX_TYPES)?;
                self.items(r.count().into())?;
            }
            Payload::ComponentTypeSection(r) => {
                count(&mut s.types, r.count().into(), "type definitions", MAX_TYPES)?;
                self.items(r.count().into())?;
            }
            Payload::ComponentImportSection(r) => {
                count(&mut s.imports, r.count().into(), "imports", MAX_IMPORTS)?;
                self.items(r.count().into())?;
                for import in r {
                    if let ComponentTypeRef::Component(_) = import.map_err(malformed)?.ty {
                        // Supplied by the host (which supplies none): one instance at most.
                        self.component()?.components.push(Weight { instances: 1, items: 1 });
                    }
                }
            }
            Payload::ComponentExportSection(r) => {
                count(&mut s.exports, r.count().into(), "exports", MAX_EXPORTS)?;
                self.items(r.count().into())?;
                for export in r {
                    let export = export.map_err(malformed)?;
                    // Exporting a component adds it to the component index space again.
                    if export.kind == ComponentExternalKind::Component {
                        let weight = self.component_weight(0, export.index);
                        self.component()?.components.push(weight);
                    }
                }
            }
            Payload::ComponentCanonicalSection(r) => {
                count(&mut s.functions, r.count().into(), "functions", MAX_FUNCTIONS)?;
                self.items(r.count().into())?;
            }
            Payload::ComponentAliasSection(r) => {
                self.items(r.count().into())?;
                for alias in r {
                    let weight = match alias.map_err(malformed)? {
                        ComponentAlias::InstanceExport { kind: ComponentExternalKind::Component, .. } => self.heaviest,
                        ComponentAlias::Outer { kind: ComponentOuterAliasKind::Component, count, index } => {
                            self.component_weight(count, index)
                        }
                        _ => continue,
                    };
                    self.component()?.components.push(weight);
                }
            }
            Payload::InstanceSection(r) => {
                self.items(r.count().into())?;
                for instance in r {
                    if let Instance::Instantiate { .. } = instance.map_err(malformed)? {
                        let frame = self.component()?;
                        frame.weight.add(Weight { instances: 1, items: 0 });
                        frame.weight.check()?;
                    }
                }
            }
            Payload::ComponentInstanceSection(r) => {
                self.items(r.count().into())?;
                for instance in r {
                    if let ComponentInstance::Instantiate { component_index, .. } = instance.map_err(malformed)? {
                        let weight = self.component_weight(0, component_index);
                        let frame = self.component()?;
                        frame.weight.add(weight);
                        frame.weight.check()?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    fn guest_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/guest/wasm32-wasip2/release")
    }

    /// Checks `bytes`, which must be refused within a second.
    fn refused(bytes: &[u8]) -> PrecheckError {
        let started = Instant::now();
        let err = precheck(bytes).expect_err("a bomb passed the pre-check");
        assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
        err
    }

    #[test]
    fn real_guests_pass_comfortably() {
        let mut seen = 0;
        for name in ["payment", "inventory", "notify", "hostile", "hostile_nostd", "probe"] {
            let path = guest_dir().join(format!("{name}.wasm"));
            let Ok(bytes) = std::fs::read(&path) else { continue };
            seen += 1;
            let s = precheck(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            println!("{name}: {s:?}");
            // Comfortably: at most half of every cap.
            assert!(s.max_depth * 2 <= MAX_NESTING_DEPTH, "{name}: {s:?}");
            assert!(s.instances * 2 <= MAX_INSTANCES, "{name}: {s:?}");
            assert!(s.flattened_items * 2 <= MAX_FLATTENED_ITEMS, "{name}: {s:?}");
            assert!(s.functions * 2 <= MAX_FUNCTIONS, "{name}: {s:?}");
            assert!(s.max_locals * 2 <= MAX_LOCALS_PER_FUNCTION, "{name}: {s:?}");
            assert!(s.max_function_bytes * 2 <= MAX_FUNCTION_BYTES, "{name}: {s:?}");
            assert!(s.code_bytes * 2 <= MAX_CODE_BYTES, "{name}: {s:?}");
            assert!(s.types * 2 <= MAX_TYPES && s.imports * 2 <= MAX_IMPORTS && s.exports * 2 <= MAX_EXPORTS, "{name}: {s:?}");
            assert!(s.other_items * 2 <= MAX_OTHER_ITEMS, "{name}: {s:?}");
            assert!(s.instances >= 2 && s.functions > 10, "{name}: {s:?}");
        }
        assert!(seen >= 4, "build the guests with scripts/build-guests.sh");
    }

    #[test]
    fn the_hostile_corpus_echo_passes() {
        let text = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/hostile/echo.wat")).unwrap();
        let s = precheck(&wat::parse_str(&text).unwrap()).unwrap();
        assert_eq!(s.max_depth, 2, "{s:?}");
    }

    /// Ten instantiations of the previous level, six levels deep: 10^6
    /// instances from a few hundred bytes. Each level's component is nested
    /// in the next and instantiated ten times there.
    pub(crate) fn fan_out_bomb(levels: usize, fan_out: usize) -> Vec<u8> {
        let mut inner = "(component (core module $m) (core instance (instantiate $m)))".to_string();
        for _ in 0..levels {
            let instances: String = (0..fan_out).map(|_| "(instance (instantiate $c))").collect();
            inner = format!("(component {} {instances})", inner.replacen("(component", "(component $c", 1));
        }
        wat::parse_str(&inner).unwrap()
    }

    #[test]
    fn a_fan_out_of_nested_instantiations_is_refused() {
        let bytes = fan_out_bomb(6, 10);
        assert!(bytes.len() < 2_000, "{} bytes", bytes.len());
        let err = refused(&bytes);
        assert!(matches!(err, PrecheckError::TooManyInstances { cap: MAX_INSTANCES, .. }), "{err}");
        assert!(err.to_string().contains(&format!("more than the cap of {MAX_INSTANCES}")), "{err}");
        // A small fan-out of the same shape passes and is counted exactly:
        // 2 levels of 3: 1 + 3 * (1 + 3 * (1 + 1)) instances.
        let s = precheck(&fan_out_bomb(2, 3)).unwrap();
        assert_eq!(s.instances, 1 + 3 * (1 + 3 * 2));
    }

    #[test]
    fn outer_aliases_and_re_exports_carry_their_weight() {
        // The heavy component is defined once at the top and reached from
        // inside the nested ones through outer aliases.
        let mut text =
            String::from("(component (component $leaf (core module $m) (core instance (instantiate $m)) (core instance (instantiate $m)))");
        let instances: String = (0..150).map(|_| "(instance (instantiate $a))").collect();
        text.push_str(&format!("(component $mid (alias outer 1 $leaf (component $a)) {instances})"));
        text.push_str("(instance (instantiate $mid)))");
        let err = refused(&wat::parse_str(&text).unwrap());
        assert!(matches!(err, PrecheckError::TooManyInstances { .. }), "{err}");
    }

    /// Components nested `depth` deep, built by hand (the text parser
    /// would recurse as deep).
    pub(crate) fn nesting_bomb(depth: usize) -> Vec<u8> {
        const HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
        let mut bytes = HEADER.to_vec();
        for _ in 1..depth {
            let mut outer = HEADER.to_vec();
            outer.push(0x04); // a component section
            let mut len = bytes.len();
            loop {
                let byte = (len & 0x7f) as u8;
                len >>= 7;
                outer.push(if len == 0 { byte } else { byte | 0x80 });
                if len == 0 {
                    break;
                }
            }
            outer.extend_from_slice(&bytes);
            bytes = outer;
        }
        bytes
    }

    #[test]
    fn deep_nesting_is_refused() {
        assert_eq!(precheck(&nesting_bomb(3)).unwrap().max_depth, 3);
        let err = refused(&nesting_bomb(5_000));
        assert!(matches!(err, PrecheckError::TooDeep { depth, cap: MAX_NESTING_DEPTH, .. } if depth == MAX_NESTING_DEPTH + 1), "{err}");
        assert!(err.to_string().contains("nest 17 deep") && err.to_string().contains("cap of 16"), "{err}");
    }

    #[test]
    fn a_function_with_many_locals_is_refused() {
        let text = "(component (core module (func (local i32) (local i64) (local (; many ;) i32)) (func (local i32))))";
        assert_eq!(precheck(&wat::parse_str(text).unwrap()).unwrap().max_locals, 3);
        let locals = " i32".repeat(100_000);
        let text = format!("(component (core module (func) (func (local{locals}))))");
        let err = refused(&wat::parse_str(&text).unwrap());
        assert!(matches!(err, PrecheckError::TooManyLocals { function: 1, .. }), "{err}");
        assert!(err.to_string().contains(&format!("more than the cap of {MAX_LOCALS_PER_FUNCTION}")), "{err}");
    }

    #[test]
    fn many_functions_are_refused() {
        let funcs = "(func)".repeat(30_000);
        let err = refused(&wat::parse_str(format!("(component (core module {funcs}))")).unwrap());
        assert_eq!(err, PrecheckError::TooMany { what: "functions", count: 30_000, cap: MAX_FUNCTIONS });
        assert!(err.to_string().contains("30000 functions, more than the cap of"), "{err}");
    }

    #[test]
    fn a_huge_function_body_is_refused() {
        let body = "(drop (i32.const 1))".repeat(100_000);
        let err = refused(&wat::parse_str(format!("(component (core module (func {body})))")).unwrap());
        assert!(matches!(err, PrecheckError::FunctionTooLarge { function: 0, .. }), "{err}");
    }

    #[test]
    fn many_types_imports_and_exports_are_refused() {
        let types = "(type (func))".repeat(20_000);
        let err = refused(&wat::parse_str(format!("(component (core module {types}))")).unwrap());
        assert!(matches!(err, PrecheckError::TooMany { what: "type definitions", .. }), "{err}");
        let imports: String = (0..20_000).map(|i| format!("(import \"m\" \"f{i}\" (func))")).collect();
        let err = refused(&wat::parse_str(format!("(component (core module {imports}))")).unwrap());
        assert!(matches!(err, PrecheckError::TooMany { what: "imports", .. }), "{err}");
        let exports: String = (0..20_000).map(|i| format!("(export \"f{i}\" (func 0))")).collect();
        let err = refused(&wat::parse_str(format!("(component (core module (func) {exports}))")).unwrap());
        assert!(matches!(err, PrecheckError::TooMany { what: "exports", .. }), "{err}");
    }

    #[test]
    fn malformed_bytes_and_core_modules_are_refused() {
        assert!(matches!(precheck(b"\0asm\x0d\0\x01\0\x07garbage"), Err(PrecheckError::Malformed(_))));
        let core = wat::parse_str("(module)").unwrap();
        assert!(matches!(precheck(&core), Err(PrecheckError::Malformed(m)) if m.contains("core module")));
        // Truncated in the middle of a nested module.
        let whole = wat::parse_str("(component (core module (func)))").unwrap();
        assert!(precheck(&whole[..whole.len() - 3]).is_err());
    }
}
