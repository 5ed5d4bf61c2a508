//! `stepwasm store check|prune`: the store file's own upkeep. `check` reads
//! every page (opening a store only checks its WAL, so that every CLI call
//! stays cheap); `prune` deletes the histories of executions that ended
//! long ago.
//!
//! Exit codes: 0 the store is sound (or pruned), 1 `check` found damage
//! (a damaged WAL or page, not a database; named, with the file), 2 any
//! other error (no such file, the store locked).

use crate::store::{retention_cutoff_ms, SqliteStore, StoreError};
use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Clone)]
pub struct ExistingStore {
    /// The store file (SQLite); it must exist.
    #[arg(long)]
    pub store: PathBuf,
}

impl ExistingStore {
    /// Refuses a path with no file: these commands never create a store.
    fn require(&self) -> Result<()> {
        if !self.store.is_file() {
            bail!("no store file at {}", self.store.display());
        }
        Ok(())
    }
}

#[derive(Subcommand)]
pub enum StoreCommand {
    /// Check a store file: its write-ahead log against what was committed,
    /// then every page (SQLite's quick_check). Exits 1 when it is damaged.
    Check {
        #[command(flatten)]
        store: ExistingStore,
        /// Also check indexes against their tables (integrity_check) and read
        /// back every stored history event: slower.
        #[arg(long)]
        full: bool,
    },
    /// Delete the executions that ended (succeeded, failed, timed out,
    /// stopped) more than --retain-days days ago, with their histories.
    /// Running executions are kept however old.
    Prune {
        #[command(flatten)]
        store: ExistingStore,
        /// Days a closed execution is kept (AWS keeps them 90).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        retain_days: u32,
    },
}

/// The `store` subcommands.
pub fn store(command: StoreCommand) -> Result<ExitCode> {
    match command {
        StoreCommand::Check { store, full } => {
            store.require()?;
            let checked = SqliteStore::open(&store.store).and_then(|opened| opened.check(full));
            match checked {
                Ok(()) => {
                    let what = if full { "integrity_check and every event read back" } else { "quick_check" };
                    println!("{}: ok (write-ahead log and pages; {what})", store.store.display());
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) if is_damage(&e) => {
                    println!("{e}");
                    Ok(ExitCode::from(1))
                }
                Err(e) => Err(e.into()),
            }
        }
        StoreCommand::Prune { store, retain_days } => {
            store.require()?;
            let opened = SqliteStore::open(&store.store)?;
            let cutoff = retention_cutoff_ms(retain_days, chrono::Utc::now().timestamp_millis());
            let deleted = opened.delete_closed_before(cutoff)?;
            println!("{}: deleted {deleted} execution(s) closed more than {retain_days} day(s) ago", store.store.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Whether a store error is damage found in the file (rather than, say, a lock).
fn is_damage(error: &StoreError) -> bool {
    use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
    match error {
        StoreError::Unreadable { .. } | StoreError::CorruptEvent { .. } => true,
        StoreError::Open { source, .. } | StoreError::Query(source) => {
            matches!(source.sqlite_error_code(), Some(DatabaseCorrupt | NotADatabase))
        }
        _ => false,
    }
}
