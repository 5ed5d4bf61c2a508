//! `stepwasm build [dir]`: a handler project (Python `app.py` or JavaScript
//! `app.js`) built into a component for a world of `stepwasm:task` with the
//! capabilities its resource is granted (in the project's `stepwasm.toml`,
//! or `--imports`): Python with componentize-py, JavaScript bundled by
//! esbuild and built with componentize-js, each in a scratch directory with
//! the SDK inside this binary. The component is written where the project's
//! resource map looks for it, what it imports is printed, and it is loaded
//! as its resources are (compiled into the cache, its imports checked
//! against their grants), so a refusal comes now, not at the first run.

use super::embedded::{write_all, JS_BUILD_DRIVER, JS_SDK, PYTHON_SDK, TASK_WIT};
use super::{tools, Language};
use crate::cli::CacheArg;
use crate::runtime::{ResourceMap, Unmapped};
use anyhow::{anyhow, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// A capability of the `stepwasm:task` world a component may import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Capability {
    Log,
    Kv,
    Http,
}

impl Capability {
    fn interface(self) -> &'static str {
        match self {
            Capability::Log => "log",
            Capability::Kv => "kv",
            Capability::Http => "http",
        }
    }
}

#[derive(clap::Args)]
pub struct BuildArgs {
    /// The project's directory (with app.py or app.js).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Where to write the component (default: where the project's
    /// stepwasm.toml looks for it, else <dir>/target/<dir name>.wasm).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The capabilities to import, comma-separated (default: log, and kv and
    /// http where stepwasm.toml grants them to the project's resources).
    #[arg(long, value_enum, value_delimiter = ',')]
    imports: Option<Vec<Capability>>,
    /// Where the build tools are installed on first use (default:
    /// $STEPWASM_TOOLS_DIR, else ~/.cache/stepwasm/tools).
    #[arg(long)]
    tools_dir: Option<PathBuf>,
    #[command(flatten)]
    cache: CacheArg,
}

/// Builds the project, prints what the component imports, checks it loads.
pub fn build(args: BuildArgs) -> Result<ExitCode> {
    let dir = std::fs::canonicalize(&args.dir).with_context(|| format!("no project directory {}", args.dir.display()))?;
    let lang = Language::of_project(&dir).ok_or_else(|| {
        anyhow!(
            "{} holds no handler: app.py (Python) or app.js (JavaScript); `stepwasm new <name> --lang python|js` makes one",
            dir.display()
        )
    })?;
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("handler").to_string();
    let config = dir.join(crate::cli::CONFIG_FILE_NAME);
    let map = config.is_file().then(|| ResourceMap::load(&config)).transpose().with_context(|| format!("{}", config.display()))?;
    // The project's resources: those whose module is <name>.wasm.
    let resources: Vec<(String, PathBuf, Vec<Capability>)> = map
        .iter()
        .flat_map(|map| map.resources())
        .filter(|(_, spec)| spec.module_path.file_name().is_some_and(|f| f == format!("{name}.wasm").as_str()))
        .map(|(arn, spec)| {
            let mut granted = vec![Capability::Log];
            granted.extend(spec.grants.kv.as_ref().map(|_| Capability::Kv));
            granted.extend(spec.grants.http.as_ref().map(|_| Capability::Http));
            (arn.to_string(), spec.module_path.clone(), granted)
        })
        .collect();
    let mut imports = match args.imports {
        Some(imports) => imports,
        None => resources.iter().flat_map(|(_, _, granted)| granted.iter().copied()).chain([Capability::Log]).collect(),
    };
    imports.sort();
    imports.dedup();
    let out = match (&args.out, resources.first()) {
        (Some(out), _) => out.clone(),
        (None, Some((_, module_path, _))) => module_path.clone(),
        (None, None) => dir.join("target").join(format!("{name}.wasm")),
    };
    let tools = tools::tools_dir(args.tools_dir.as_deref())?;
    let started = std::time::Instant::now();
    let work = Scratch::new()?;
    write_wit(&work.0, &imports)?;
    let built = work.0.join("out.wasm");
    match lang {
        Language::Python => build_python(&dir, &work.0, &imports, &built, &tools)?,
        Language::Js => build_js(&dir, &work.0, &imports, &built, &tools)?,
    }
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::copy(&built, &out).with_context(|| format!("cannot write {}", out.display()))?;
    let bytes = std::fs::read(&out)?;
    println!("built {} ({} KiB, {:?}) in {:.1} s", out.display(), bytes.len() / 1024, lang, started.elapsed().as_secs_f64());
    let imported = crate::runtime::component_imports::imported_names(&bytes).map_err(|e| anyhow!("{}: {e}", out.display()))?;
    println!("imports: {}", imported.join(", "));
    // Loaded as `stepwasm run` loads it: compiled (into the cache) and its
    // imports checked against each resource's grants.
    let Some(map) = map else { return Ok(ExitCode::SUCCESS) };
    for (arn, module_path, _) in &resources {
        if *module_path != out {
            continue;
        }
        let definition = serde_json::json!({"StartAt": "Run", "States": {"Run": {"Type": "Task", "Resource": arn, "End": true}}});
        let machine = crate::asl::parse_definition(&definition.to_string()).map_err(|e| anyhow!("{e}"))?;
        crate::machines::load_runtime(&machine, &map, args.cache.dir().as_deref(), Unmapped::Refuse)
            .with_context(|| format!("{} does not load as {arn} (stepwasm.toml)", out.display()))?;
        println!("checked: loads as {arn} with the grants of {}", config.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("stepwasm-build-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The world's name for these imports (`handler-log-kv`), as the repository's scripts name it.
fn world_name(imports: &[Capability]) -> String {
    imports.iter().fold("handler".to_string(), |world, c| format!("{world}-{}", c.interface()))
}

/// `wit/` in the scratch directory: the contract, plus a world in its
/// package with the handler export and just these imports.
fn write_wit(work: &Path, imports: &[Capability]) -> Result<()> {
    let wit = work.join("wit");
    write_all(&wit, &[TASK_WIT])?;
    let lines: String = imports.iter().map(|c| format!("    import {};\n", c.interface())).collect();
    let world = format!("package stepwasm:task@0.1.0;\n\nworld {} {{\n{lines}    export handler;\n}}\n", world_name(imports));
    std::fs::write(wit.join("zz-project-world.wit"), world)?;
    Ok(())
}

fn build_python(dir: &Path, work: &Path, imports: &[Capability], out: &Path, tools: &Path) -> Result<()> {
    let componentize = tools::componentize_py(tools)?;
    let sdk = work.join("sdk");
    write_all(&sdk, PYTHON_SDK)?;
    // The SDK inside this binary first on the path: a vendored copy in the
    // project (for its native tests) does not shadow it.
    tools::run(
        Command::new(componentize)
            .env_remove("VIRTUAL_ENV")
            .current_dir(dir)
            .arg("-q")
            .arg("-d")
            .arg(work.join("wit"))
            .args(["-w", &world_name(imports), "componentize", "stepwasm_guest.entry", "-p"])
            .arg(&sdk)
            .args(["-p", ".", "-o"])
            .arg(out),
        "componentize-py",
    )
}

fn build_js(dir: &Path, work: &Path, imports: &[Capability], out: &Path, tools: &Path) -> Result<()> {
    let js_tools = tools::js_tools(tools)?;
    let sdk = work.join("sdk");
    write_all(&sdk, JS_SDK)?;
    std::fs::write(sdk.join("capabilities.js"), capabilities_module(imports))?;
    let app = dir.join("app.js");
    let app = app.to_str().ok_or_else(|| anyhow!("{} is not a UTF-8 path", app.display()))?;
    let entry = format!(
        "import * as app from {app:?};\nimport {{ handlerExport }} from './sdk/entry.js';\nexport const handler = handlerExport(app.handler, {app:?});\n"
    );
    std::fs::write(work.join("entry.js"), entry)?;
    // The driver runs from the tools' directory, where its packages resolve.
    write_all(&js_tools, &[JS_BUILD_DRIVER])?;
    // With http granted, the global fetch() too (standard wasi:http, served
    // under the same grant).
    let wasi_http = if imports.contains(&Capability::Http) { "1" } else { "0" };
    tools::run(
        Command::new("node")
            .env("STEPWASM_JS_WASI_HTTP", wasi_http)
            .arg(js_tools.join(JS_BUILD_DRIVER.0))
            .arg(work)
            .arg(work.join("entry.js"))
            .arg(world_name(imports))
            .arg(out),
        "node (esbuild and componentize-js)",
    )
}

/// The SDK's view of the imports (guest-sdk/js/capabilities.js in a component).
fn capabilities_module(imports: &[Capability]) -> String {
    let has = |c| imports.contains(&c);
    let mut text = String::from("export const inComponent = true;\n");
    text += if has(Capability::Log) { "export { log } from 'stepwasm:task/log@0.1.0';\n" } else { "export const log = null;\n" };
    text += if has(Capability::Kv) {
        "import { get, set, delete as remove } from 'stepwasm:task/kv@0.1.0';\nexport const kv = { get, set, delete: remove };\n"
    } else {
        "export const kv = null;\n"
    };
    text += if has(Capability::Http) {
        "import { fetch } from 'stepwasm:task/http@0.1.0';\nexport const http = { fetch };\n"
    } else {
        "export const http = null;\n"
    };
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_world_and_the_sdk_see_the_same_imports() {
        assert_eq!(world_name(&[Capability::Log]), "handler-log");
        assert_eq!(world_name(&[Capability::Log, Capability::Kv, Capability::Http]), "handler-log-kv-http");
        let kv_only = capabilities_module(&[Capability::Log, Capability::Kv]);
        assert!(kv_only.contains("from 'stepwasm:task/kv@0.1.0'") && kv_only.contains("export const http = null;"), "{kv_only}");
        assert!(!kv_only.contains("stepwasm:task/http"), "{kv_only}");
    }
}
