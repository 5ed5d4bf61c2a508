//! What `stepwasm new` and `stepwasm build` carry inside the binary, so that
//! a handler project needs nothing of this repository: the guest SDKs for
//! Python and JavaScript, the WIT contract, the JavaScript build driver and
//! the versions of the tools that build components.

/// A file written out: its path relative to where it goes, and its text.
pub type EmbeddedFile = (&'static str, &'static str);

/// `guest-sdk/python/stepwasm_guest`, as the package directory `stepwasm_guest/`.
pub const PYTHON_SDK: &[EmbeddedFile] = &[
    ("stepwasm_guest/__init__.py", include_str!("../../../../guest-sdk/python/stepwasm_guest/__init__.py")),
    ("stepwasm_guest/_component.py", include_str!("../../../../guest-sdk/python/stepwasm_guest/_component.py")),
    ("stepwasm_guest/_task.py", include_str!("../../../../guest-sdk/python/stepwasm_guest/_task.py")),
    ("stepwasm_guest/entry.py", include_str!("../../../../guest-sdk/python/stepwasm_guest/entry.py")),
    ("stepwasm_guest/http.py", include_str!("../../../../guest-sdk/python/stepwasm_guest/http.py")),
    ("stepwasm_guest/kv.py", include_str!("../../../../guest-sdk/python/stepwasm_guest/kv.py")),
    ("stepwasm_guest/log.py", include_str!("../../../../guest-sdk/python/stepwasm_guest/log.py")),
];

/// `guest-sdk/js`, the `stepwasm-guest` package's files.
pub const JS_SDK: &[EmbeddedFile] = &[
    ("package.json", include_str!("../../../../guest-sdk/js/package.json")),
    ("index.js", include_str!("../../../../guest-sdk/js/index.js")),
    ("capabilities.js", include_str!("../../../../guest-sdk/js/capabilities.js")),
    ("entry.js", include_str!("../../../../guest-sdk/js/entry.js")),
    ("task.js", include_str!("../../../../guest-sdk/js/task.js")),
    ("log.js", include_str!("../../../../guest-sdk/js/log.js")),
    ("kv.js", include_str!("../../../../guest-sdk/js/kv.js")),
    ("http.js", include_str!("../../../../guest-sdk/js/http.js")),
];

/// `wit/task.wit`: package `stepwasm:task@0.1.0`, world `task`.
pub const TASK_WIT: EmbeddedFile = ("task.wit", include_str!("../../../../wit/task.wit"));

/// The JavaScript build driver (bundle with esbuild, then componentize).
pub const JS_BUILD_DRIVER: EmbeddedFile = ("js-guest-build.mjs", include_str!("../../../../scripts/js-guest-build.mjs"));

/// `guest-sdk/tool-versions.env`: `NAME=version` lines.
const TOOL_VERSIONS: &str = include_str!("../../../../guest-sdk/tool-versions.env");

/// The version the tool-versions file gives `name` (e.g. `ESBUILD_VERSION`).
pub fn tool_version(name: &str) -> &'static str {
    TOOL_VERSIONS
        .lines()
        .filter_map(|line| line.split_once('='))
        .find(|(key, _)| key.trim() == name)
        .map(|(_, version)| version.trim())
        .unwrap_or_else(|| panic!("guest-sdk/tool-versions.env names no {name}"))
}

/// Writes `files` under `dir`, creating their directories.
pub fn write_all(dir: &std::path::Path, files: &[EmbeddedFile]) -> std::io::Result<()> {
    for (path, text) in files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_a_version_and_every_sdk_file_is_embedded() {
        for name in ["COMPONENTIZE_PY_VERSION", "COMPONENTIZE_JS_VERSION", "ESBUILD_VERSION"] {
            assert!(tool_version(name).split('.').all(|part| part.parse::<u32>().is_ok()), "{name}");
        }
        // A file added to an SDK must be added here too.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let listed = |dir: &str, ext: &str| {
            let mut names: Vec<String> = std::fs::read_dir(root.join(dir))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(ext))
                .collect();
            names.sort();
            names
        };
        let mut python: Vec<String> = PYTHON_SDK.iter().map(|(p, _)| p.trim_start_matches("stepwasm_guest/").to_string()).collect();
        python.sort();
        assert_eq!(python, listed("guest-sdk/python/stepwasm_guest", ".py"));
        let mut js: Vec<String> = JS_SDK.iter().map(|(p, _)| p.to_string()).filter(|p| p.ends_with(".js")).collect();
        js.sort();
        assert_eq!(js, listed("guest-sdk/js", ".js"));
    }
}
