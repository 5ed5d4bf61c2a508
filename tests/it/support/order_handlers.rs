//! What the tests of the order example's handlers in other languages
//! (python_handlers.rs, js_handlers.rs) share: a run of `stepwasm run` as the
//! comparison with the Rust handlers reads it, and a copy of an example
//! config whose payment resource may reach a test gateway.

use super::{root, stepwasm};
use std::path::{Path, PathBuf};

/// `stepwasm run <definition> --config <config> --input @<input> --logs
/// --cache-dir <cache>`: (exit code, stdout without its first line, which
/// names the execution, followed by stderr).
pub fn run_cli(definition: &str, config: &Path, input: &Path, cache: &Path) -> (i32, String) {
    let (code, out, err) = stepwasm(&[
        "run",
        definition,
        "--config",
        config.to_str().unwrap(),
        "--input",
        &format!("@{}", input.display()),
        "--logs",
        "--cache-dir",
        cache.to_str().unwrap(),
    ]);
    assert!(out.starts_with("execution: "), "{definition} {}: {out}{err}", input.display());
    let rest = out.split_once('\n').map(|(_, rest)| rest.to_string()).unwrap_or_default();
    (code, format!("{rest}{err}"))
}

/// A copy of `config` (relative to the repository) written as `dir/out`,
/// whose module_dir is absolute and whose payment resource may reach
/// `gateway` instead of the example's local port.
pub fn config_for_gateway(config: &str, dir: &Path, gateway: &str, out: &str) -> PathBuf {
    let text = std::fs::read_to_string(root().join(config)).unwrap();
    let module_dir = text.lines().find_map(|l| l.strip_prefix("module_dir = ")).unwrap().trim_matches('"');
    let absolute = root().join(Path::new(config).parent().unwrap()).join(module_dir);
    let text = text
        .replace(&format!("module_dir = \"{module_dir}\""), &format!("module_dir = {:?}", absolute.to_str().unwrap()))
        .replace("http://127.0.0.1:8099/", gateway);
    assert!(text.contains(gateway), "{config} grants the payment gateway");
    std::fs::write(dir.join(out), text).unwrap();
    dir.join(out)
}
