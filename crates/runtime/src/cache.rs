//! An on-disk cache of compiled components, so a second process start does
//! not compile again (compiling a 55 KB guest takes about 100 ms,
//! loading the compiled artefact about 0.3 ms).
//!
//! An entry is keyed by the SHA-256 of the component's bytes and by the
//! engine's compatibility hash (wasmtime version and every setting that
//! changes code generation), so a rebuilt module or a new engine never meets
//! a stale artefact. wasmtime runs a compiled artefact as trusted code, so
//! only artefacts we wrote are loaded, and each file carries the SHA-256 of
//! its artefact: a file that was truncated or altered is detected, reported,
//! recompiled and replaced, never executed. The cache is an optimisation: a
//! directory that cannot be written only costs the compile time. Uploaded
//! components are compiled by the compile worker and stored the same way,
//! keyed by their own bytes ([`CompileCache::load_or_compile_artefact`]).

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::component::Component;
use wasmtime::Engine;

/// Bytes of the SHA-256 digest at the start of every cache file.
const DIGEST_BYTES: usize = 32;

/// What the cache did for one component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded a compiled artefact from disk.
    Hit,
    /// Compiled, and stored the artefact for next time.
    Stored,
    /// Compiled; the artefact could not be stored (the reason).
    NotStored(String),
    /// A cache file failed its integrity check; compiled again and replaced it.
    Replaced(String),
}

/// A directory of compiled components for one engine configuration.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
    engine_key: String,
}

impl CompileCache {
    /// A cache in `dir` (created on first store) for components compiled by `engine`.
    pub fn new(dir: impl Into<PathBuf>, engine: &Engine) -> CompileCache {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        CompileCache { dir: dir.into(), engine_key: format!("{:016x}", hasher.finish()) }
    }

    /// The default place: `$STEPWASM_CACHE_DIR`, else `$XDG_CACHE_HOME/stepwasm`,
    /// else `~/.cache/stepwasm`.
    pub fn default_dir() -> Option<PathBuf> {
        let from_env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        from_env("STEPWASM_CACHE_DIR")
            .or_else(|| from_env("XDG_CACHE_HOME").map(|d| d.join("stepwasm")))
            .or_else(|| from_env("HOME").map(|d| d.join(".cache").join("stepwasm")))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file an artefact of `bytes` lives in.
    fn entry(&self, bytes: &[u8]) -> PathBuf {
        let content: String = Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join(format!("{content}-{}.cwasm", self.engine_key))
    }

    /// The compiled component for `bytes`: from the cache when a sound entry
    /// exists, else compiled (and stored). `compile` turns bytes into a
    /// component; its error is returned as is.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
        compile: impl FnOnce(&[u8]) -> Result<Component, String>,
    ) -> Result<(Component, CacheOutcome), String> {
        let path = self.entry(bytes);
        let damaged = match self.lookup(engine, &path) {
            Ok(component) => return Ok((component, CacheOutcome::Hit)),
            Err(damaged) => damaged,
        };
        let component = compile(bytes)?;
        let stored = component
            .serialize()
            .map_err(|e| format!("cannot serialise the compiled component: {e:#}"))
            .and_then(|artefact| self.store(&path, &artefact));
        Ok((component, outcome(stored, damaged)))
    }

    /// [`CompileCache::load_or_compile`] for a compiler that produces the
    /// artefact (the compile worker): `compile` must return bytes of
    /// `Engine::precompile_component` for an engine of this cache's
    /// compatibility hash, never bytes from elsewhere. The entry is keyed by
    /// `bytes`, the component itself, so nothing an uploader says about its
    /// module chooses what is loaded.
    pub fn load_or_compile_artefact(
        &self,
        engine: &Engine,
        bytes: &[u8],
        compile: impl FnOnce(&[u8]) -> Result<Vec<u8>, String>,
    ) -> Result<(Component, CacheOutcome), String> {
        let path = self.entry(bytes);
        let damaged = match self.lookup(engine, &path) {
            Ok(component) => return Ok((component, CacheOutcome::Hit)),
            Err(damaged) => damaged,
        };
        let artefact = compile(bytes)?;
        // SAFETY: per this function's contract, the artefact is what our own
        // compile worker produced with this engine's settings.
        let component =
            unsafe { Component::deserialize(engine, &artefact) }.map_err(|e| format!("cannot load the compiled component: {e:#}"))?;
        Ok((component, outcome(self.store(&path, &artefact), damaged)))
    }

    /// The component of a sound cache entry at `path`, else why it was
    /// damaged (`None`: no entry).
    fn lookup(&self, engine: &Engine, path: &Path) -> Result<Component, Option<String>> {
        let Ok(file) = std::fs::read(path) else { return Err(None) };
        match verified_artefact(&file) {
            Some(artefact) => {
                // SAFETY: the artefact is one this cache wrote with
                // `Engine::precompile_component` for an engine of the same
                // compatibility hash, and its digest was just verified.
                if let Ok(component) = unsafe { Component::deserialize(engine, artefact) } {
                    return Ok(component);
                }
                Err(Some(format!("cache file {} was rejected by the engine", path.display())))
            }
            None => Err(Some(format!("cache file {} failed its integrity check", path.display()))),
        }
    }

    /// Writes digest + artefact to a temporary file, then renames it into
    /// place, so a reader never sees a half-written entry.
    fn store(&self, path: &Path, artefact: &[u8]) -> Result<(), String> {
        std::fs::create_dir_all(&self.dir).map_err(|e| format!("cannot create cache directory {}: {e}", self.dir.display()))?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let mut file = Vec::with_capacity(DIGEST_BYTES + artefact.len());
        file.extend_from_slice(&Sha256::digest(artefact));
        file.extend_from_slice(artefact);
        std::fs::write(&tmp, &file).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("cannot move the cache entry into place at {}: {e}", path.display())
        })
    }
}

/// What storing did, given whether an entry was damaged.
fn outcome(stored: Result<(), String>, damaged: Option<String>) -> CacheOutcome {
    match (stored, damaged) {
        (Ok(()), Some(why)) => CacheOutcome::Replaced(why),
        (Ok(()), None) => CacheOutcome::Stored,
        (Err(why), _) => CacheOutcome::NotStored(why),
    }
}

/// The artefact of a cache file whose digest matches, else `None`.
fn verified_artefact(file: &[u8]) -> Option<&[u8]> {
    if file.len() <= DIGEST_BYTES {
        return None;
    }
    let (digest, artefact) = file.split_at(DIGEST_BYTES);
    (Sha256::digest(artefact).as_slice() == digest).then_some(artefact)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest component there is: an empty one (magic, version 0x0d, layer 1).
    const TINY: &[u8] = &[0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

    fn engine() -> Engine {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        Engine::new(&config).unwrap()
    }

    fn compile(engine: &Engine) -> impl Fn(&[u8]) -> Result<Component, String> + '_ {
        |bytes| Component::new(engine, bytes).map_err(|e| e.to_string())
    }

    #[test]
    fn stores_then_hits_and_replaces_damaged_entries() {
        let dir = std::env::temp_dir().join(format!("stepwasm-cache-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let engine = engine();
        let bytes = TINY.to_vec();
        let cache = CompileCache::new(&dir, &engine);
        let (_, first) = cache.load_or_compile(&engine, &bytes, compile(&engine)).unwrap();
        assert_eq!(first, CacheOutcome::Stored);
        let (_, second) = cache.load_or_compile(&engine, &bytes, compile(&engine)).unwrap();
        assert_eq!(second, CacheOutcome::Hit);

        // Flip one byte of the artefact: detected, recompiled, replaced.
        let entry = cache.entry(&bytes);
        let mut file = std::fs::read(&entry).unwrap();
        let last = file.len() - 1;
        file[last] ^= 0xff;
        std::fs::write(&entry, &file).unwrap();
        let (_, third) = cache.load_or_compile(&engine, &bytes, compile(&engine)).unwrap();
        assert!(matches!(third, CacheOutcome::Replaced(ref why) if why.contains("integrity")), "{third:?}");
        assert_eq!(cache.load_or_compile(&engine, &bytes, compile(&engine)).unwrap().1, CacheOutcome::Hit);

        // A truncated file too.
        std::fs::write(&entry, &file[..10]).unwrap();
        assert!(matches!(cache.load_or_compile(&engine, &bytes, compile(&engine)).unwrap().1, CacheOutcome::Replaced(_)));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn artefacts_from_a_compiler_are_stored_and_hit() {
        let dir = std::env::temp_dir().join(format!("stepwasm-cache-artefact-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let engine = engine();
        let cache = CompileCache::new(&dir, &engine);
        let precompile = |b: &[u8]| engine.precompile_component(b).map_err(|e| e.to_string());
        let (_, first) = cache.load_or_compile_artefact(&engine, TINY, precompile).unwrap();
        assert_eq!(first, CacheOutcome::Stored);
        let (_, second) = cache.load_or_compile_artefact(&engine, TINY, |_| panic!("compiled again")).unwrap();
        assert_eq!(second, CacheOutcome::Hit);
        // An artefact the engine refuses is an error, and is not stored.
        let other = [TINY, &[0x00, 0x00]].concat();
        let err = cache.load_or_compile_artefact(&engine, &other, |_| Ok(b"not an artefact".to_vec())).unwrap_err();
        assert!(err.contains("cannot load the compiled component"), "{err}");
        assert!(!cache.entry(&other).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unwritable_directory_only_costs_the_compile() {
        let engine = engine();
        let bytes = TINY.to_vec();
        // A path under a regular file can never be created.
        let file = std::env::temp_dir().join(format!("stepwasm-cache-file-{}", std::process::id()));
        std::fs::write(&file, b"x").unwrap();
        let cache = CompileCache::new(file.join("sub"), &engine);
        let (_, outcome) = cache.load_or_compile(&engine, &bytes, compile(&engine)).unwrap();
        assert!(matches!(outcome, CacheOutcome::NotStored(_)), "{outcome:?}");
        let _ = std::fs::remove_file(&file);
    }

    #[test]
    fn compile_errors_pass_through() {
        let engine = engine();
        let dir = std::env::temp_dir().join(format!("stepwasm-cache-err-{}", std::process::id()));
        let cache = CompileCache::new(&dir, &engine);
        let err = cache.load_or_compile(&engine, b"\0asm garbage", compile(&engine)).unwrap_err();
        assert!(!err.is_empty());
        assert!(!cache.entry(b"\0asm garbage").exists());
    }
}
