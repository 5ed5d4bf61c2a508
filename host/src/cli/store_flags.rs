//! The flags of the commands that use a store: `--store` ([`StoreArg`]),
//! and for those that drive its executions (`run --store`, `resume`,
//! `serve`), how they take its lock (`--wait-for-lock`, [`LockArg`]).
//! Those hold the store's lock while they run; the others read and write
//! beside them.

use crate::store::lock::{StoreLock, WhenHeld};
use crate::store::SqliteStore;
use anyhow::{anyhow, Result};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args, Clone)]
pub struct StoreArg {
    /// The store file (SQLite, created on first use).
    #[arg(long)]
    pub store: PathBuf,
}

impl StoreArg {
    /// Opens the store to read it or to add to it (`executions`, `start`,
    /// `task`): these work beside the process that drives it.
    pub fn open(&self) -> Result<SqliteStore> {
        SqliteStore::open(&self.store).map_err(|e| anyhow!(e))
    }

    /// Opens the store for a command that drives its executions (`serve`,
    /// `resume`), holding its lock for as long as the lock is kept (see
    /// [`lock_store`]).
    pub fn open_exclusive(&self, lock: &LockArg, command: &str) -> Result<(StoreLock, SqliteStore)> {
        let held = lock_store(&self.store, lock.wait_for_lock, command)?;
        Ok((held, self.open()?))
    }
}

/// How a command that drives a store's executions takes its lock.
#[derive(Args, Clone, Default)]
pub struct LockArg {
    /// When another process (`serve`, `resume`, `run --store`) drives the
    /// store, wait until it exits instead of exiting 2.
    #[arg(long)]
    pub wait_for_lock: bool,
}

/// Takes the lock of the store at `path` for this process, which runs
/// `command` (`stepwasm serve`): one process drives a store at a time (see
/// [`crate::store::lock`]). Held by another, it is an error naming that
/// process, or (`wait`) waited for, saying so on stderr.
pub fn lock_store(path: &Path, wait: bool, command: &str) -> Result<StoreLock> {
    let when_held = if wait { WhenHeld::Wait } else { WhenHeld::Refuse };
    let lock =
        StoreLock::acquire(path, command, when_held, |holder| eprintln!("waiting for store {}: it is in use by {holder}", path.display()))?;
    Ok(lock)
}
