//! Group commit: the appends of many executions share one SQLite
//! transaction. Drivers on tokio hand their batches to one committer thread
//! per store and wait (without holding a thread) for its answer; while it
//! commits one group, the next gathers. Each batch still stands alone: it is
//! applied inside a savepoint of its own, so one refused batch (a gap, a
//! stopped execution) leaves the others of its group committed.
//!
//! For a store file, a second thread checkpoints the WAL in the background
//! (PASSIVE, every [`CHECKPOINT_EVERY`]), so the committer seldom meets the
//! automatic checkpoint and its fsyncs on the commit path. Readers that
//! overlap one another (CLI calls, the API) can keep a PASSIVE checkpoint
//! from ever reaching the end of the WAL, which then grows without bound:
//! once the WAL file is over [`WAL_SIZE_LIMIT`], the checkpointer runs a
//! TRUNCATE checkpoint instead, which takes the write lock, waits (up to
//! [`FORCED_CHECKPOINT_WAIT`]) for the readers of older snapshots to finish
//! while new ones read the database file, and empties the WAL. A reader
//! delays it; only a single read transaction kept open longer than the wait,
//! again and again, could defeat it.

use super::events::{append_prepared, PreparedEvent};
use super::executions;
use crate::StoreError;
use rusqlite::{Connection, TransactionBehavior};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;
use stepwasm_sqlite::connection::WAL_SIZE_LIMIT;
use tokio::sync::oneshot;

/// One execution's batch of events, waiting for its group.
pub(super) struct Request {
    pub arn: String,
    /// A new execution to register before its first events.
    pub create: Option<(stepwasm_engine::ExecutionInfo, i64)>,
    pub events: Vec<PreparedEvent>,
    pub reply: oneshot::Sender<Result<(), StoreError>>,
}

#[derive(Default)]
struct Queue {
    requests: Vec<Request>,
    closed: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
}

/// The committer of one store: started with the first request, stopped when
/// the store is dropped (after committing what was handed to it).
pub(super) struct GroupCommit {
    shared: Arc<Shared>,
    conn: Arc<Mutex<Connection>>,
    /// The store file, checkpointed in the background; none in memory.
    file: Option<PathBuf>,
    started: OnceLock<()>,
}

/// How often the background checkpointer runs.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// How long a forced (TRUNCATE) checkpoint waits for readers and writers;
/// writers wait for it meanwhile.
pub const FORCED_CHECKPOINT_WAIT: Duration = Duration::from_secs(1);

impl GroupCommit {
    pub fn new(conn: Arc<Mutex<Connection>>, file: Option<PathBuf>) -> GroupCommit {
        GroupCommit { shared: Arc::new(Shared { queue: Mutex::default(), wake: Condvar::new() }), conn, file, started: OnceLock::new() }
    }

    /// Queues `request`; its reply comes once its group has been committed.
    pub fn submit(&self, request: Request) -> Result<(), StoreError> {
        let mut start_error = None;
        self.started.get_or_init(|| {
            let (shared, conn) = (Arc::clone(&self.shared), Arc::clone(&self.conn));
            let location = self.file.as_ref().map_or_else(|| ":memory:".to_string(), |f| f.display().to_string());
            let committer = move || commit_groups(&shared, &conn, &location);
            if let Err(e) = std::thread::Builder::new().name("stepwasm-store-commit".into()).spawn(committer) {
                start_error = Some(e);
            }
            if let Some(file) = self.file.clone() {
                let shared = Arc::clone(&self.shared);
                // Without it the automatic checkpoint still runs: not fatal.
                let _ = std::thread::Builder::new().name("stepwasm-store-checkpoint".into()).spawn(move || checkpoint(&shared, &file));
            }
        });
        if let Some(e) = start_error {
            return Err(StoreError::GroupCommit(format!("cannot start the committer thread: {e}")));
        }
        lock(&self.shared.queue).requests.push(request);
        // The checkpointer waits on the same condition variable.
        self.shared.wake.notify_all();
        Ok(())
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        lock(&self.shared.queue).closed = true;
        self.shared.wake.notify_all();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // SQLite rolls back what a panic interrupted; the queue stays consistent.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The checkpointer thread: a PASSIVE checkpoint now and then, a TRUNCATE
/// one when the WAL is over its limit, on a connection of its own, until the
/// store is dropped.
fn checkpoint(shared: &Shared, file: &std::path::Path) {
    let Ok(conn) = Connection::open(file) else { return };
    let _ = conn.busy_timeout(FORCED_CHECKPOINT_WAIT);
    let wal = stepwasm_sqlite::wal_check::wal_path(file);
    let mut queue = lock(&shared.queue);
    while !queue.closed {
        queue = shared.wake.wait_timeout(queue, CHECKPOINT_EVERY).map(|(q, _)| q).unwrap_or_else(|e| e.into_inner().0);
        if queue.closed {
            break;
        }
        drop(queue);
        let over = std::fs::metadata(&wal).is_ok_and(|m| m.len() > WAL_SIZE_LIMIT);
        let pragma = if over { "PRAGMA wal_checkpoint(TRUNCATE)" } else { "PRAGMA wal_checkpoint(PASSIVE)" };
        // Busy (a reader held on past the wait): tried again next time.
        let _ = conn.query_row(pragma, [], |_| Ok(()));
        queue = lock(&shared.queue);
    }
}

/// The committer thread: takes everything queued, commits it as one group, repeats.
fn commit_groups(shared: &Shared, conn: &Mutex<Connection>, location: &str) {
    loop {
        let group = {
            let mut queue = lock(&shared.queue);
            while queue.requests.is_empty() && !queue.closed {
                queue = shared.wake.wait(queue).unwrap_or_else(|e| e.into_inner());
            }
            if queue.requests.is_empty() {
                return;
            }
            std::mem::take(&mut queue.requests)
        };
        commit_group(&mut lock(conn), group, location);
    }
}

fn commit_group(conn: &mut Connection, group: Vec<Request>, location: &str) {
    let failed_all = |group: Vec<Request>, why: String| {
        for request in group {
            let _ = request.reply.send(Err(StoreError::GroupCommit(format!("{location}: {why}"))));
        }
    };
    let mut tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => return failed_all(group, e.to_string()),
    };
    let mut answered = Vec::with_capacity(group.len());
    for request in group {
        let result = tx.savepoint().map_err(StoreError::from).and_then(|sp| {
            if let Some((info, start_ms)) = &request.create {
                executions::insert(&sp, info, *start_ms)?;
            }
            append_prepared(&sp, &request.arn, &request.events)?;
            sp.commit().map_err(StoreError::from)
        });
        let result = result.map_err(|e| match e {
            StoreError::Query(source) => StoreError::Open { path: location.to_string(), source },
            other => other,
        });
        answered.push((request, result));
    }
    match tx.commit() {
        Ok(()) => {
            for (request, result) in answered {
                let _ = request.reply.send(result);
            }
        }
        Err(e) => failed_all(answered.into_iter().map(|(request, _)| request).collect(), e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{event, info};
    use super::super::SqliteStore;
    use crate::{Journal, StoreError};
    use serde_json::json;
    use std::path::Path;
    use stepwasm_engine::{EventKind, ExecutionInfo};

    #[test]
    fn grouped_appends_are_each_kept_or_refused_on_their_own() {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let block_on = |appending| runtime.block_on(appending);
        let store = SqliteStore::in_memory().unwrap();
        let infos: Vec<ExecutionInfo> = (0..12).map(|i| info(&format!("g{i}"))).collect();
        let started = [event(1, EventKind::ExecutionStarted { input: json!({}).into() })];
        let next = [event(2, EventKind::TaskStarted { resource: "r".into() })];
        let gap = [event(5, EventKind::TaskStarted { resource: "r".into() })];
        // Everything is handed over before the first answer is awaited, so
        // the committer takes several batches in one group.
        let first: Vec<_> = infos.iter().map(|i| store.start_execution_async(i, 0, &started)).collect();
        let taken = store.start_execution_async(&infos[0], 0, &started);
        assert!(first.into_iter().all(|f| block_on(f).is_ok()));
        assert!(matches!(block_on(taken), Err(StoreError::ExecutionExists(_))));
        let seconds: Vec<_> = infos
            .iter()
            .enumerate()
            .map(|(i, info)| store.append_all_async(&info.execution_arn, if i == 3 { &gap } else { &next }))
            .collect();
        let results: Vec<_> = seconds.into_iter().map(block_on).collect();
        for (i, result) in results.iter().enumerate() {
            let history = store.history(&infos[i].execution_arn).unwrap();
            if i == 3 {
                assert!(matches!(result, Err(StoreError::OutOfOrder { last: 1, got: 5, .. })), "{result:?}");
                assert_eq!(history.len(), 1, "the refused batch left nothing");
            } else {
                assert!(result.is_ok(), "{result:?}");
                assert_eq!(history.len(), 2);
            }
        }
    }

    /// The mark's salts and committed frames (see `stepwasm_sqlite::wal_check`).
    fn mark(store: &Path) -> ([u8; 8], u32) {
        let bytes = std::fs::read(stepwasm_sqlite::wal_check::mark_path(store)).unwrap();
        (bytes[4..12].try_into().unwrap(), u32::from_be_bytes(bytes[12..16].try_into().unwrap()))
    }

    #[test]
    fn grouped_appends_to_a_file_are_in_its_wal_mark_once_answered() {
        let dir = std::env::temp_dir().join(format!("stepwasm-group-sync-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = std::fs::canonicalize(&dir).unwrap().join("s.sqlite");
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let store = SqliteStore::open(&path).unwrap();
        let (_, before) = mark(&path);
        let infos: Vec<ExecutionInfo> = (0..40).map(|i| info(&format!("f{i}"))).collect();
        let started = [event(1, EventKind::ExecutionStarted { input: json!({"pad": "x".repeat(2000)}).into() })];
        let appends: Vec<_> = infos.iter().map(|i| store.start_execution_async(i, 0, &started)).collect();
        for append in appends {
            runtime.block_on(append).unwrap();
        }
        // Every acknowledged group is in the mark (so a WAL cut below it is
        // refused at open), and the mark is the WAL's.
        let (salts, frames) = mark(&path);
        let wal = std::fs::read(stepwasm_sqlite::wal_check::wal_path(&path)).unwrap();
        let page_size = u32::from_be_bytes(wal[8..12].try_into().unwrap()) as usize;
        assert!(frames > before, "{frames} > {before}");
        assert_eq!(salts, wal[16..24], "the mark counts this WAL");
        assert!(wal.len() >= 32 + frames as usize * (24 + page_size), "the WAL holds what the mark counts");
        drop(store);
        let reopened = SqliteStore::open(&path).unwrap();
        assert!(infos.iter().all(|i| reopened.history(&i.execution_arn).unwrap().len() == 1));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
