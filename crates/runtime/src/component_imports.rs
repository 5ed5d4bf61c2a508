//! What a component imports, by name (`stepwasm:task/kv@0.1.0`,
//! `wasi:cli/environment@0.2.0`, ...): the top-level import section only,
//! read in one `wasmparser` pass without validating anything, for
//! `stepwasm build` to show what a handler it built will ask of the host.

/// The names a component imports at its top level, in order; an error when
/// the bytes are not a component.
pub fn imported_names(bytes: &[u8]) -> Result<Vec<String>, String> {
    use wasmparser::{Encoding, Parser, Payload};
    let mut names = Vec::new();
    // Nested modules and components are flattened into the payloads; only
    // the outermost level's imports are the component's.
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(|e| format!("not a readable component: {e}"))? {
            Payload::Version { encoding, .. } if depth == 0 && names.is_empty() && encoding != Encoding::Component => {
                return Err("a core WebAssembly module, not a component".into());
            }
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 0 => {
                for import in reader {
                    names.push(import.map_err(|e| format!("an unreadable import: {e}"))?.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_top_level_imports_of_a_component_are_named_and_a_core_module_is_refused() {
        let component = wat::parse_str(
            r#"(component
                 (import "stepwasm:task/log@0.1.0" (instance))
                 (core module $m (import "env" "f" (func)))
                 (import "wasi:cli/environment@0.2.0" (instance)))"#,
        )
        .unwrap();
        assert_eq!(imported_names(&component).unwrap(), ["stepwasm:task/log@0.1.0", "wasi:cli/environment@0.2.0"]);
        let core = wat::parse_str("(module)").unwrap();
        assert!(imported_names(&core).unwrap_err().contains("core WebAssembly module"));
        assert!(imported_names(b"nope").is_err());
    }
}
