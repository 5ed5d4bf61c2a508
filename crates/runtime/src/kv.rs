//! The `kv` capability: a key-value store in SQLite, and the per-invocation
//! transaction that stages a module's writes.
//!
//! A module never writes the store directly. Its `set`/`delete` calls go into a
//! [`KvTransaction`] (which its own `get`s read through); the runtime commits
//! the transaction in one SQLite transaction only when the task succeeds, and
//! drops it otherwise, so a failed, timed-out or retried attempt applies
//! nothing and a retry never applies its writes twice.
//!
//! Concurrent invocations are isolated optimistically: a transaction
//! remembers what it read from the store, and its commit fails with
//! [`KvError::Conflict`] if any of it changed meanwhile (another invocation
//! committed first), so read-modify-write never loses an update. That read
//! set is capped while it grows ([`MAX_READS_PER_INVOCATION`] keys,
//! [`MAX_READ_BYTES`]); a read past it ends the invocation (see
//! [`KvCallError::Limit`]), as the staged writes are capped too. A
//! conflicted invocation is rerun holding the store's [`ExclusiveCommits`]
//! guard: no other commit lands until it has committed, so the rerun cannot
//! conflict again and contention can never starve an invocation.
//!
//! Exactly once across crashes: the commit of an invocation whose outcome is
//! journaled (see [`TaskInvocation::journaled`](stepwasm_engine::TaskInvocation))
//! also records the invocation's key and output, in the same SQLite
//! transaction. When a crash lost the history's record of that success, the
//! rerun of the same attempt finds the record and returns the output without
//! running the module: its writes are never applied twice.

use rusqlite::{params, Connection, OptionalExtension};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedRwLockWriteGuard, RwLock};

/// Held by a rerun after a conflict: until it is dropped, every other commit
/// into the store waits (asynchronously), so what the holder reads stays
/// current until its own commit.
pub type ExclusiveCommits = OwnedRwLockWriteGuard<()>;

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// Longest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 256 << 10;
/// Most distinct keys one invocation may write.
pub const MAX_WRITES_PER_INVOCATION: usize = 1000;
/// Most bytes (keys and values) one invocation may stage.
pub const MAX_STAGED_BYTES: usize = 4 << 20;
/// Most distinct keys one invocation may read from the store: each is
/// remembered, with the value seen, for the commit's conflict check.
pub const MAX_READS_PER_INVOCATION: usize = 10_000;
/// Most bytes (keys and the values seen) one invocation's read set may hold.
pub const MAX_READ_BYTES: usize = 16 << 20;

/// A store problem.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    #[error("kv store {path}: {source}")]
    Open { path: String, source: rusqlite::Error },
    #[error("kv store: {0}")]
    Query(#[from] rusqlite::Error),
    #[error("kv conflict: {key:?} was changed by another invocation after this one read it")]
    Conflict { key: String },
}

impl KvError {
    /// A cause that may pass (disk full, the file locked, an I/O error): the
    /// invocation's attempt left no trace and can be run again later.
    pub fn is_transient(&self) -> bool {
        match self {
            KvError::Open { source, .. } | KvError::Query(source) => stepwasm_sqlite::is_transient_sqlite(source),
            KvError::Conflict { .. } => false,
        }
    }
}

/// What a commit that records its invocation did ([`KvStore::commit_recorded`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Commit {
    /// The writes were applied (and the invocation recorded with them).
    Applied,
    /// The same invocation's commit was recorded already (another host ran
    /// the same attempt, or this one before a crash): nothing was applied,
    /// and the recorded output is the attempt's output.
    AlreadyRecorded { output: String },
}

/// Why a module's kv call was not answered with a value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KvCallError {
    /// The call is refused (a bad key, a store error): the module gets the
    /// message as the call's error and may go on.
    #[error("{0}")]
    Refused(String),
    /// The invocation went past one of its kv limits: it ends there, failed
    /// with this cause, like the log and http limits.
    #[error("{0}")]
    Limit(String),
}

/// The SQLite store shared by every kv grant (each grant sees one namespace).
pub struct KvStore {
    conn: Mutex<Connection>,
    location: String,
    /// Shared by ordinary commits, exclusive for a rerun after a conflict.
    commit_gate: Arc<RwLock<()>>,
}

impl std::fmt::Debug for KvStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KvStore({})", self.location)
    }
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS kv (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kv_invocations (
    invocation TEXT PRIMARY KEY,
    output TEXT NOT NULL,
    committed_ms INTEGER NOT NULL
) WITHOUT ROWID;";

/// How long the record of a committed invocation is kept: a crashed host
/// restarted within this time never applies that invocation's writes twice.
const INVOCATION_RECORD_MS: i64 = 7 * 24 * 3600 * 1000;

/// An invocation whose commit is recorded with it (see the module doc).
#[derive(Debug, Clone, Copy)]
pub struct Committed<'a> {
    /// Names the execution, the state entry and the attempt.
    pub invocation: &'a str,
    /// The task's output, returned again if the attempt is run again.
    pub output: &'a str,
}

impl KvStore {
    /// Opens (creating on first use) the store file at `path`, as the
    /// execution store opens it (`store::connection`): its WAL checked first,
    /// every commit synced before it returns. A file that is not a SQLite
    /// database, not ours, or whose WAL lost committed transactions is an
    /// error here, before anything runs.
    pub fn open(path: &Path) -> Result<KvStore, KvError> {
        use stepwasm_sqlite::connection::{open_durable, OpenError};
        let shown = path.display().to_string();
        let wrap = |source| KvError::Open { path: shown.clone(), source };
        let conn = open_durable(path).map_err(|e| match e {
            OpenError::Sqlite(source) => wrap(source),
            other => {
                // A WAL that cannot be read may pass; a damaged one does not.
                let code = match other {
                    OpenError::Unchecked(_) => rusqlite::ffi::SQLITE_IOERR,
                    _ => rusqlite::ffi::SQLITE_CORRUPT,
                };
                wrap(rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), Some(other.to_string())))
            }
        })?;
        // Under the write lock: processes opening a new file at once.
        conn.execute_batch(&format!("BEGIN IMMEDIATE; {SCHEMA} COMMIT;")).map_err(wrap)?;
        // Reading the tables proves the file is a database with our layout.
        conn.query_row("SELECT (SELECT count(*) FROM kv LIMIT 1), (SELECT count(*) FROM kv_invocations LIMIT 1)", [], |_| Ok(()))
            .map_err(wrap)?;
        let cutoff = chrono::Utc::now().timestamp_millis() - INVOCATION_RECORD_MS;
        conn.execute("DELETE FROM kv_invocations WHERE committed_ms < ?1", params![cutoff]).map_err(wrap)?;
        Ok(KvStore { conn: Mutex::new(conn), location: shown, commit_gate: Arc::default() })
    }

    /// A store that lives as long as the process.
    pub fn in_memory() -> Result<KvStore, KvError> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(SCHEMA)?;
        Ok(KvStore { conn: Mutex::new(conn), location: ":memory:".into(), commit_gate: Arc::default() })
    }

    /// Opens `path`, or memory when there is none.
    pub fn open_or_memory(path: Option<&PathBuf>) -> Result<KvStore, KvError> {
        match path {
            Some(p) => KvStore::open(p),
            None => KvStore::in_memory(),
        }
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (it
        // rolls back an unfinished transaction), so the poison is not fatal.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The committed value of `key` in `namespace`.
    pub fn get(&self, namespace: &str, key: &str) -> Result<Option<String>, KvError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT value FROM kv WHERE namespace = ?1 AND key = ?2")?;
        Ok(stmt.query_row(params![namespace, key], |row| row.get(0)).optional()?)
    }

    /// Every committed entry of `namespace`, by key.
    pub fn entries(&self, namespace: &str) -> Result<Vec<(String, String)>, KvError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT key, value FROM kv WHERE namespace = ?1 ORDER BY key")?;
        let rows = stmt.query_map(params![namespace], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Writes `value` unless `key` already has one; true if it wrote.
    pub fn seed(&self, namespace: &str, key: &str, value: &str) -> Result<bool, KvError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("INSERT OR IGNORE INTO kv (namespace, key, value) VALUES (?1, ?2, ?3)")?;
        Ok(stmt.execute(params![namespace, key, value])? == 1)
    }

    /// Writes `value` under `key`, replacing any value (for operators and
    /// benchmarks; modules write through a [`KvTransaction`]).
    pub fn put(&self, namespace: &str, key: &str, value: &str) -> Result<(), KvError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "INSERT INTO kv (namespace, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value",
        )?;
        stmt.execute(params![namespace, key, value])?;
        Ok(())
    }

    /// The output of `invocation`, if its commit is recorded (see [`Committed`]).
    pub fn committed_output(&self, invocation: &str) -> Result<Option<String>, KvError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT output FROM kv_invocations WHERE invocation = ?1")?;
        Ok(stmt.query_row(params![invocation], |row| row.get(0)).optional()?)
    }

    /// Waits until no rerun holds the store exclusively, then [commits](Self::commit).
    pub async fn commit_shared(&self, tx: &KvTransaction) -> Result<(), KvError> {
        self.commit_shared_recorded(tx, None).await.map(drop)
    }

    /// [`commit_shared`](Self::commit_shared), recording `done` with the writes.
    pub async fn commit_shared_recorded(&self, tx: &KvTransaction, done: Option<Committed<'_>>) -> Result<Commit, KvError> {
        let _shared = self.commit_gate.read().await;
        self.commit_recorded(tx, done)
    }

    /// Waits for commits in progress and in line, then keeps every other
    /// [`commit_shared`](Self::commit_shared) waiting until the guard is
    /// dropped. The holder commits with [`commit`](Self::commit).
    pub async fn exclusive_commits(&self) -> ExclusiveCommits {
        Arc::clone(&self.commit_gate).write_owned().await
    }

    /// Applies a transaction's staged writes atomically, if nothing it read
    /// has changed since (else [`KvError::Conflict`], and nothing is written).
    pub fn commit(&self, tx: &KvTransaction) -> Result<(), KvError> {
        self.commit_recorded(tx, None).map(drop)
    }

    /// [`commit`](Self::commit), recording `done` in the same transaction.
    ///
    /// The record is checked first, inside that transaction: when the same
    /// invocation's commit is recorded already (another host drove the same
    /// attempt, or a conflict rerun raced one), nothing is applied and the
    /// recorded output is returned ([`Commit::AlreadyRecorded`]). Checked
    /// under SQLite's write lock, this holds across processes; the record is
    /// a plain INSERT, so a duplicate could only ever be an error, never an
    /// overwrite.
    pub fn commit_recorded(&self, tx: &KvTransaction, done: Option<Committed<'_>>) -> Result<Commit, KvError> {
        if tx.staged.is_empty() {
            // A read-only invocation saw a consistent snapshot per key; there
            // is nothing to apply, to conflict with, or to apply twice.
            return Ok(Commit::Applied);
        }
        let conn = self.conn();
        // BEGIN and COMMIT as cached statements: rusqlite's `transaction()`
        // parses them afresh on every call, a measurable share of a commit.
        // IMMEDIATE takes the write lock first (waiting for it), so a
        // transaction that has read is never refused its write because
        // another connection to the file (the execution store) wrote meanwhile.
        conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        let result = recorded_output(&conn, done).and_then(|recorded| match (recorded, done) {
            (Some(output), _) => Ok(Commit::AlreadyRecorded { output }),
            (None, done) => {
                apply_checked(&conn, tx)?;
                if let Some(done) = done {
                    let now = chrono::Utc::now().timestamp_millis();
                    conn.prepare_cached("INSERT INTO kv_invocations (invocation, output, committed_ms) VALUES (?1, ?2, ?3)")?
                        .execute(params![done.invocation, done.output, now])?;
                }
                conn.prepare_cached("COMMIT")?.execute([])?;
                Ok(Commit::Applied)
            }
        });
        if !conn.is_autocommit() {
            // Nothing of a refused, failed or already recorded transaction may
            // stay applied, and the connection must be free for the next one;
            // the first error is the one worth reporting.
            let _ = conn.execute_batch("ROLLBACK");
        }
        result
    }
}

/// Inside an open SQLite transaction: the output recorded for `done`'s
/// invocation, if its commit is recorded.
fn recorded_output(conn: &Connection, done: Option<Committed<'_>>) -> Result<Option<String>, KvError> {
    let Some(done) = done else { return Ok(None) };
    let mut stmt = conn.prepare_cached("SELECT output FROM kv_invocations WHERE invocation = ?1")?;
    Ok(stmt.query_row(params![done.invocation], |row| row.get(0)).optional()?)
}

/// Inside an open SQLite transaction: checks that nothing `tx` read has
/// changed, then writes its staged values.
fn apply_checked(conn: &Connection, tx: &KvTransaction) -> Result<(), KvError> {
    let mut read = conn.prepare_cached("SELECT value FROM kv WHERE namespace = ?1 AND key = ?2")?;
    for (key, seen) in &tx.reads {
        let now: Option<String> = read.query_row(params![tx.namespace, key], |row| row.get(0)).optional()?;
        if &now != seen {
            return Err(KvError::Conflict { key: key.clone() });
        }
    }
    let mut put = conn.prepare_cached(
        "INSERT INTO kv (namespace, key, value) VALUES (?1, ?2, ?3)
         ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value",
    )?;
    let mut del = conn.prepare_cached("DELETE FROM kv WHERE namespace = ?1 AND key = ?2")?;
    for (key, value) in &tx.staged {
        match value {
            Some(v) => put.execute(params![tx.namespace, key, v])?,
            None => del.execute(params![tx.namespace, key])?,
        };
    }
    Ok(())
}

/// The writes one invocation has made so far, in one namespace.
#[derive(Debug)]
pub struct KvTransaction {
    namespace: String,
    /// key → new value, or `None` for a deletion.
    staged: BTreeMap<String, Option<String>>,
    staged_bytes: usize,
    /// key → the committed value this invocation saw (checked at commit);
    /// capped at [`MAX_READS_PER_INVOCATION`] keys and [`MAX_READ_BYTES`].
    reads: BTreeMap<String, Option<String>>,
    read_bytes: usize,
}

impl KvTransaction {
    pub fn new(namespace: impl Into<String>) -> KvTransaction {
        KvTransaction { namespace: namespace.into(), staged: BTreeMap::new(), staged_bytes: 0, reads: BTreeMap::new(), read_bytes: 0 }
    }

    /// Number of keys written or deleted.
    pub fn len(&self) -> usize {
        self.staged.len()
    }

    pub fn is_empty(&self) -> bool {
        self.staged.is_empty()
    }

    /// Reads through the staged writes to the store (a limit is an error
    /// message too, for callers that do not tell them apart).
    pub fn get(&mut self, store: &KvStore, key: &str) -> Result<Option<String>, String> {
        self.get_checked(store, key).map_err(|e| e.to_string())
    }

    /// Reads through the staged writes to the store. A key read from the
    /// store for the first time joins the read set, which is capped while it
    /// grows: past [`MAX_READS_PER_INVOCATION`] keys or [`MAX_READ_BYTES`] the
    /// read is [`KvCallError::Limit`] and nothing more is remembered.
    pub fn get_checked(&mut self, store: &KvStore, key: &str) -> Result<Option<String>, KvCallError> {
        check_key(key).map_err(KvCallError::Refused)?;
        if let Some(staged) = self.staged.get(key) {
            return Ok(staged.clone());
        }
        let first_read = !self.reads.contains_key(key);
        if first_read && self.reads.len() >= MAX_READS_PER_INVOCATION {
            return Err(KvCallError::Limit(format!(
                "kv read limit exceeded: more than {} distinct keys read in one invocation",
                thousands(MAX_READS_PER_INVOCATION)
            )));
        }
        let value = store.get(&self.namespace, key).map_err(|e| KvCallError::Refused(e.to_string()))?;
        // The first read is what the commit checks; a later read of a key
        // that changed meanwhile will conflict at commit anyway.
        if first_read {
            let bytes = key.len() + value.as_ref().map_or(0, String::len);
            if self.read_bytes + bytes > MAX_READ_BYTES {
                return Err(KvCallError::Limit(format!(
                    "kv read limit exceeded: more than {} MiB of keys and values read in one invocation",
                    MAX_READ_BYTES >> 20
                )));
            }
            self.read_bytes += bytes;
            self.reads.insert(key.to_string(), value.clone());
        }
        Ok(value)
    }

    pub fn set(&mut self, key: String, value: String) -> Result<(), String> {
        check_key(&key)?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(format!("value for {key:?} is {} bytes, over the limit of {MAX_VALUE_BYTES}", value.len()));
        }
        self.stage(key, Some(value))
    }

    pub fn delete(&mut self, key: String) -> Result<(), String> {
        check_key(&key)?;
        self.stage(key, None)
    }

    fn stage(&mut self, key: String, value: Option<String>) -> Result<(), String> {
        if !self.staged.contains_key(&key) && self.staged.len() >= MAX_WRITES_PER_INVOCATION {
            return Err(format!("more than {MAX_WRITES_PER_INVOCATION} keys written in one invocation"));
        }
        // Counts every write, even one that replaces a staged value: a bound
        // on the work a module can make the host do, not on the final size.
        self.staged_bytes += key.len() + value.as_ref().map_or(0, String::len);
        if self.staged_bytes > MAX_STAGED_BYTES {
            return Err(format!("more than {MAX_STAGED_BYTES} bytes written in one invocation"));
        }
        self.staged.insert(key, value);
        Ok(())
    }
}

/// `n` with a comma between each group of three digits (10,000).
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("the empty key is not allowed".into());
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(format!("key is {} bytes, over the limit of {MAX_KEY_BYTES}", key.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_writes_are_visible_to_their_invocation_only_until_committed() {
        let store = KvStore::in_memory().unwrap();
        assert!(store.seed("inv", "a", "5").unwrap());
        assert!(!store.seed("inv", "a", "7").unwrap(), "seed never overwrites");
        let mut tx = KvTransaction::new("inv");
        tx.set("a".into(), "4".into()).unwrap();
        tx.set("b".into(), "1".into()).unwrap();
        tx.delete("b".into()).unwrap();
        assert_eq!(tx.get(&store, "a").unwrap().as_deref(), Some("4"));
        assert_eq!(tx.get(&store, "b").unwrap(), None);
        assert_eq!(store.get("inv", "a").unwrap().as_deref(), Some("5"), "not committed yet");
        store.commit(&tx).unwrap();
        assert_eq!(store.entries("inv").unwrap(), vec![("a".to_string(), "4".to_string())]);
        assert_eq!(store.get("other", "a").unwrap(), None, "namespaces are separate");
    }

    #[test]
    fn a_commit_fails_if_what_it_read_changed() {
        let store = KvStore::in_memory().unwrap();
        store.seed("inv", "stock", "10").unwrap();
        let mut first = KvTransaction::new("inv");
        let mut second = KvTransaction::new("inv");
        assert_eq!(first.get(&store, "stock").unwrap().as_deref(), Some("10"));
        assert_eq!(second.get(&store, "stock").unwrap().as_deref(), Some("10"));
        first.set("stock".into(), "7".into()).unwrap();
        second.set("stock".into(), "8".into()).unwrap();
        store.commit(&first).unwrap();
        let err = store.commit(&second).unwrap_err();
        assert!(matches!(&err, KvError::Conflict { key } if key == "stock"), "{err}");
        assert_eq!(store.get("inv", "stock").unwrap().as_deref(), Some("7"), "the loser wrote nothing");
        let mut retry = KvTransaction::new("inv");
        assert_eq!(retry.get(&store, "stock").unwrap().as_deref(), Some("7"));
        retry.set("stock".into(), "6".into()).unwrap();
        store.commit(&retry).expect("a refused commit leaves no transaction open");
        assert_eq!(store.get("inv", "stock").unwrap().as_deref(), Some("6"));
    }

    #[test]
    fn an_exclusive_holder_keeps_other_commits_waiting_until_it_is_done() {
        use std::future::Future;
        use std::task::{Context, Poll, Waker};
        let store = KvStore::in_memory().unwrap();
        let mut other = KvTransaction::new("n");
        other.get(&store, "k").unwrap();
        other.set("k".into(), "other".into()).unwrap();
        let mut cx = Context::from_waker(Waker::noop());
        let mut take = std::pin::pin!(store.exclusive_commits());
        let Poll::Ready(guard) = take.as_mut().poll(&mut cx) else { panic!("nobody else holds the gate") };
        let mut waiting = std::pin::pin!(store.commit_shared(&other));
        assert!(waiting.as_mut().poll(&mut cx).is_pending(), "a shared commit waits for the holder");
        let mut mine = KvTransaction::new("n");
        assert_eq!(mine.get(&store, "k").unwrap(), None);
        mine.set("k".into(), "mine".into()).unwrap();
        store.commit(&mine).unwrap();
        drop(guard);
        let Poll::Ready(result) = waiting.as_mut().poll(&mut cx) else { panic!("released, the commit goes ahead") };
        assert!(matches!(result, Err(KvError::Conflict { .. })), "it read before the holder wrote: {result:?}");
        assert_eq!(store.get("n", "k").unwrap().as_deref(), Some("mine"));
    }

    #[test]
    fn limits_refuse_writes() {
        let mut tx = KvTransaction::new("n");
        assert!(tx.set(String::new(), "x".into()).unwrap_err().contains("empty key"));
        assert!(tx.set("k".repeat(MAX_KEY_BYTES + 1), "x".into()).unwrap_err().contains("key is"));
        assert!(tx.set("k".into(), "v".repeat(MAX_VALUE_BYTES + 1)).unwrap_err().contains("value for"));
        for i in 0..MAX_WRITES_PER_INVOCATION {
            tx.set(format!("k{i}"), "v".into()).unwrap();
        }
        assert!(tx.set("one-more".into(), "v".into()).unwrap_err().contains("keys written"));
        tx.set("k0".into(), "again".into()).unwrap();
    }

    #[test]
    fn the_read_set_is_capped_in_keys_and_bytes_while_it_grows() {
        let store = KvStore::in_memory().unwrap();
        let mut tx = KvTransaction::new("n");
        for i in 0..MAX_READS_PER_INVOCATION {
            assert_eq!(tx.get_checked(&store, &format!("k{i}")).unwrap(), None);
        }
        let over = tx.get_checked(&store, "one-more").unwrap_err();
        assert_eq!(over, KvCallError::Limit("kv read limit exceeded: more than 10,000 distinct keys read in one invocation".into()));
        assert_eq!(tx.reads.len(), MAX_READS_PER_INVOCATION, "the refused key is not remembered");
        // Keys already read, and keys the invocation wrote, are read again freely.
        assert_eq!(tx.get_checked(&store, "k0").unwrap(), None);
        tx.set("staged".into(), "1".into()).unwrap();
        assert_eq!(tx.get_checked(&store, "staged").unwrap().as_deref(), Some("1"));
        // A bad key is still the module's error to handle, not a limit.
        assert!(matches!(tx.get_checked(&store, ""), Err(KvCallError::Refused(_))));

        let big = "v".repeat(MAX_VALUE_BYTES);
        let fit = MAX_READ_BYTES / (MAX_VALUE_BYTES + 2);
        for i in 0..=fit {
            store.put("big", &format!("{i:02}"), &big).unwrap();
        }
        let mut tx = KvTransaction::new("big");
        for i in 0..fit {
            assert_eq!(tx.get_checked(&store, &format!("{i:02}")).unwrap().map(|v| v.len()), Some(MAX_VALUE_BYTES));
        }
        let over = tx.get_checked(&store, &format!("{fit:02}")).unwrap_err();
        assert!(matches!(&over, KvCallError::Limit(m) if m.contains("more than 16 MiB of keys and values")), "{over}");
        assert!(tx.read_bytes <= MAX_READ_BYTES);
        assert_eq!(tx.get(&store, &format!("{fit:02}")).unwrap_err(), over.to_string(), "get says the same, as a message");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
    }

    /// A store file in a fresh directory, and that directory.
    fn store_file(name: &str) -> (PathBuf, PathBuf) {
        let dir = std::env::temp_dir().join(format!("stepwasm-kv-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        (dir.join("kv.sqlite"), dir)
    }

    #[test]
    fn an_attempt_committed_by_another_host_applies_nothing_and_returns_the_recorded_output() {
        let (path, dir) = store_file("recorded");
        // Two connections to one file: two hosts driving the same attempt.
        let (first, second) = (KvStore::open(&path).unwrap(), KvStore::open(&path).unwrap());
        let attempt = |output| Some(Committed { invocation: "exec/3/1", output });
        let mut mine = KvTransaction::new("n");
        let mut theirs = KvTransaction::new("n");
        for tx in [&mut mine, &mut theirs] {
            assert_eq!(tx.get(&first, "count").unwrap(), None);
            tx.set("count".into(), "1".into()).unwrap();
        }
        assert_eq!(first.commit_recorded(&mine, attempt("{\"n\":1}")).unwrap(), Commit::Applied);
        // Checked before the read set: not a conflict, the attempt is done.
        let again = second.commit_recorded(&theirs, attempt("{\"n\":2}")).unwrap();
        assert_eq!(again, Commit::AlreadyRecorded { output: "{\"n\":1}".into() });
        // A blind write of the same attempt (nothing read, nothing to conflict) applies nothing either.
        let mut blind = KvTransaction::new("n");
        blind.set("other".into(), "x".into()).unwrap();
        assert!(matches!(second.commit_recorded(&blind, attempt("{}")).unwrap(), Commit::AlreadyRecorded { .. }));
        assert_eq!(second.entries("n").unwrap(), vec![("count".to_string(), "1".to_string())]);
        assert_eq!(second.committed_output("exec/3/1").unwrap().as_deref(), Some("{\"n\":1}"), "the record is not overwritten");
        // The connection is free for the next transaction.
        second.commit(&blind).unwrap();
        assert_eq!(first.get("n", "other").unwrap().as_deref(), Some("x"));
        drop((first, second));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn hosts_racing_the_same_attempts_apply_each_once() {
        const HOSTS: usize = 4;
        const ATTEMPTS: usize = 40;
        let (path, dir) = store_file("race");
        let start = Arc::new(std::sync::Barrier::new(HOSTS));
        let hosts: Vec<_> = (0..HOSTS)
            .map(|_| {
                let (path, start) = (path.clone(), Arc::clone(&start));
                std::thread::spawn(move || {
                    let store = KvStore::open(&path).unwrap();
                    let mut applied = 0;
                    for attempt in 0..ATTEMPTS {
                        start.wait();
                        let invocation = format!("exec/{attempt}/1");
                        // As the runtime does: run, commit, rerun on a conflict.
                        loop {
                            let mut tx = KvTransaction::new("n");
                            let n: u64 = tx.get(&store, "count").unwrap().map_or(0, |v| v.parse().unwrap());
                            tx.set("count".into(), (n + 1).to_string()).unwrap();
                            let output = (n + 1).to_string();
                            match store.commit_recorded(&tx, Some(Committed { invocation: &invocation, output: &output })) {
                                Ok(Commit::Applied) => applied += 1,
                                Ok(Commit::AlreadyRecorded { .. }) => {}
                                Err(KvError::Conflict { .. }) => continue,
                                Err(e) => panic!("{e}"),
                            }
                            break;
                        }
                    }
                    applied
                })
            })
            .collect();
        let applied: usize = hosts.into_iter().map(|h| h.join().unwrap()).sum();
        let store = KvStore::open(&path).unwrap();
        assert_eq!(store.get("n", "count").unwrap(), Some(ATTEMPTS.to_string()), "each attempt's writes applied once");
        assert_eq!(applied, ATTEMPTS);
        for attempt in 0..ATTEMPTS {
            assert!(store.committed_output(&format!("exec/{attempt}/1")).unwrap().is_some());
        }
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused_and_kept() {
        let dir = std::env::temp_dir().join(format!("stepwasm-kv-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("junk.sqlite");
        std::fs::write(&path, b"this is not a database, and it is longer than a header would be....").unwrap();
        let err = KvStore::open(&path).unwrap_err().to_string();
        assert!(err.contains("junk.sqlite") && err.contains("not a database"), "{err}");
        assert!(std::fs::read(&path).unwrap().starts_with(b"this is not"), "the file is left as it was");
        let good = dir.join("good.sqlite");
        let store = KvStore::open(&good).unwrap();
        store.seed("n", "k", "1").unwrap();
        drop(store);
        assert_eq!(KvStore::open(&good).unwrap().get("n", "k").unwrap().as_deref(), Some("1"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
