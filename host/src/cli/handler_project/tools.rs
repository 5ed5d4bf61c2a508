//! The tools that build Python and JavaScript handlers, installed on first
//! use into a tools directory (`--tools-dir`, else `$STEPWASM_TOOLS_DIR`,
//! else `~/.cache/stepwasm/tools`), each at the version
//! `guest-sdk/tool-versions.env` pins: componentize-py in a virtualenv
//! (`pyguest/`), componentize-js and esbuild from npm (`jsguest/`). The
//! layout is the one the repository's scripts use under `target/`, so
//! `--tools-dir target` reuses what `make test` installed.

use super::embedded::tool_version;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The tools directory: `explicit`, else `$STEPWASM_TOOLS_DIR`, else `~/.cache/stepwasm/tools`.
pub fn tools_dir(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(dir) = explicit {
        return Ok(dir.to_path_buf());
    }
    if let Some(dir) = std::env::var_os("STEPWASM_TOOLS_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let cache =
        std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from).or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    Ok(cache.context("no tools directory: set --tools-dir or STEPWASM_TOOLS_DIR (HOME is not set)")?.join("stepwasm/tools"))
}

/// Runs `command` (a tool, or one that installs one), its output kept; an
/// error quoting the output when it fails.
pub fn run(command: &mut Command, what: &str) -> Result<()> {
    let output = command.output().with_context(|| format!("cannot run {what} ({:?})", command.get_program()))?;
    if !output.status.success() {
        bail!("{what} failed ({}):\n{}{}", output.status, String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    }
    Ok(())
}

/// `componentize-py` at the pinned version under `tools`, installed when missing.
pub fn componentize_py(tools: &Path) -> Result<PathBuf> {
    let version = tool_version("COMPONENTIZE_PY_VERSION");
    let venv = tools.join("pyguest");
    let tool = venv.join("bin/componentize-py");
    let installed = || {
        Command::new(&tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == format!("componentize-py {version}"))
    };
    if installed() {
        return Ok(tool);
    }
    eprintln!("installing componentize-py {version} into {} (once)", venv.display());
    if !venv.join("bin/python").is_file() {
        std::fs::create_dir_all(tools).with_context(|| format!("cannot create {}", tools.display()))?;
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv), "python3 -m venv (Debian: apt-get install python3-venv)")?;
    }
    run(
        Command::new(venv.join("bin/python"))
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
            .arg(format!("componentize-py=={version}")),
        "pip install componentize-py",
    )?;
    if !installed() {
        bail!("componentize-py was installed into {} but does not say version {version}", venv.display());
    }
    Ok(tool)
}

/// The directory holding componentize-js and esbuild (its `node_modules`)
/// under `tools`, installed when missing; node must be on the PATH.
pub fn js_tools(tools: &Path) -> Result<PathBuf> {
    let (componentize, esbuild) = (tool_version("COMPONENTIZE_JS_VERSION"), tool_version("ESBUILD_VERSION"));
    // The marker scripts/install-js-guest.sh writes too.
    let wanted = format!("componentize-js {componentize}, esbuild {esbuild}");
    let dir = tools.join("jsguest");
    let marker = dir.join("installed");
    if std::fs::read_to_string(&marker).is_ok_and(|m| m.trim() == wanted) && dir.join("node_modules/esbuild/package.json").is_file() {
        return Ok(dir);
    }
    eprintln!("installing {wanted} into {} (once)", dir.display());
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let package = serde_json::json!({
        "name": "stepwasm-js-guest-tools",
        "private": true,
        "dependencies": {"@bytecodealliance/componentize-js": componentize, "esbuild": esbuild},
    });
    std::fs::write(dir.join("package.json"), package.to_string())?;
    run(
        Command::new("npm").args(["install", "--no-audit", "--no-fund", "--loglevel=error"]).current_dir(&dir),
        "npm install (Node 18 or newer and npm are needed: Debian's nodejs and npm)",
    )?;
    std::fs::write(&marker, format!("{wanted}\n"))?;
    Ok(dir)
}
