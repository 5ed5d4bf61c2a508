//! Helpers shared by the end-to-end tests: where things are, and running the CLI.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Where scripts/build-guests.sh puts the components; fails clearly if unbuilt.
pub fn guest_dir() -> PathBuf {
    let dir = root().join("target/guest/wasm32-wasip2/release");
    for m in ["payment", "inventory", "notify", "hostile"] {
        assert!(
            dir.join(format!("{m}.wasm")).is_file(),
            "{m}.wasm is missing from {}: run scripts/build-guests.sh (make test does)",
            dir.display()
        );
    }
    dir
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stepwasm-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the stepwasm binary; returns (exit code, stdout, stderr).
pub fn stepwasm(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stepwasm")).args(args).current_dir(root()).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
