//! The set-up of the tests that drive a store through the CLI: a scratch
//! directory holding one definition, a store file and a compile cache,
//! run with the order example's resource map.

use super::{root, scratch};
use std::path::PathBuf;

/// One test's definition, store, config and cache, with their paths as the
/// command-line arguments they are passed as.
pub struct Site {
    /// The scratch directory everything lives in.
    pub dir: PathBuf,
    /// The store file (created by the first command that uses it).
    pub store_path: PathBuf,
    definition: String,
    store: String,
    config: String,
    cache: String,
}

impl Site {
    /// A fresh scratch directory `name` with `definition` written to
    /// `file_name` in it, for the example's modules (checked built).
    pub fn new(name: &str, file_name: &str, definition: &str) -> Site {
        super::guest_dir();
        let dir = scratch(name);
        let definition_path = dir.join(file_name);
        std::fs::write(&definition_path, definition).unwrap();
        let store_path = dir.join("store.sqlite");
        let text = |p: PathBuf| p.to_str().unwrap().to_string();
        Site {
            definition: text(definition_path),
            store: text(store_path.clone()),
            config: text(root().join("examples/order/stepwasm.toml")),
            cache: text(dir.join("cache")),
            dir,
            store_path,
        }
    }

    /// The definition, store, config and cache paths as arguments.
    pub fn args(&self) -> (&str, &str, &str, &str) {
        (&self.definition, &self.store, &self.config, &self.cache)
    }
}
