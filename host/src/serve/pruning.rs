//! `serve --retain-days N`: closed executions older than N days are deleted
//! with their histories (AWS keeps them 90 days), at start and then hourly,
//! on a blocking thread, in the store's small batches so that drivers are
//! never held up for long.

use crate::console_out;
use crate::store::{retention_cutoff_ms, SqliteStore};
use std::sync::Arc;
use std::time::Duration;

/// How often the store is pruned after the first time.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Prunes `store` now and every [`PRUNE_EVERY`] for as long as serve runs.
pub fn spawn_pruner(store: Arc<SqliteStore>, retain_days: u32) {
    tokio::spawn(async move {
        loop {
            let store = Arc::clone(&store);
            let cutoff = retention_cutoff_ms(retain_days, chrono::Utc::now().timestamp_millis());
            match tokio::task::spawn_blocking(move || store.delete_closed_before(cutoff)).await {
                Ok(Ok(0)) => {}
                Ok(Ok(deleted)) => {
                    console_out::say(format_args!("pruned {deleted} execution(s) closed more than {retain_days} day(s) ago"))
                }
                // A full disk or a locked store: the next round tries again.
                Ok(Err(e)) => console_out::warn(format_args!("error: pruning closed executions: {e}")),
                Err(e) => console_out::warn(format_args!("error: pruning closed executions: {e}")),
            }
            tokio::time::sleep(PRUNE_EVERY).await;
        }
    });
}
