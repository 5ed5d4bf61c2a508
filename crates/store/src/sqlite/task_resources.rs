//! The `task_resources` and `modules` tables: the Task resources
//! registered through the HTTP API, and their uploaded modules, kept by
//! SHA-256 for as long as a resource uses them.

use crate::{StoreError, TaskResourceRecord};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

/// Registers (or replaces) a resource, with its module's bytes, in one transaction.
pub(super) fn put(conn: &mut Connection, record: &TaskResourceRecord, module: Option<&[u8]>) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if let (Some(sha256), Some(bytes)) = (&record.module_sha256, module) {
        tx.prepare_cached("INSERT OR IGNORE INTO modules (sha256, bytes) VALUES (?1, ?2)")?.execute(params![sha256, bytes])?;
    }
    tx.prepare_cached(
        "INSERT INTO task_resources (resource, config, module_sha256, registered_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (resource) DO UPDATE SET config = excluded.config, module_sha256 = excluded.module_sha256,
             registered_ms = excluded.registered_ms",
    )?
    .execute(params![record.resource, record.config.to_string(), record.module_sha256, record.registered_ms])?;
    forget_unused_modules(&tx)?;
    tx.commit()?;
    Ok(())
}

/// Every registered resource, by resource; a config that cannot be read is
/// an error naming the store at `location`.
pub(super) fn list(conn: &Connection, location: &str) -> Result<Vec<TaskResourceRecord>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT resource, config, module_sha256, registered_ms FROM task_resources ORDER BY resource")?;
    let rows = stmt.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get(2)?, row.get(3)?)))?;
    let mut records = Vec::new();
    for row in rows {
        let (resource, config, module_sha256, registered_ms) = row?;
        let config = serde_json::from_str(&config).map_err(|e| StoreError::Unreadable {
            path: location.to_string(),
            message: format!("task resource {resource:?}: its config is corrupt: {e}"),
        })?;
        records.push(TaskResourceRecord { resource, config, module_sha256, registered_ms });
    }
    Ok(records)
}

/// Forgets a resource (and its module, unless another uses it); false if there was none.
pub(super) fn delete(conn: &mut Connection, resource: &str) -> Result<bool, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let deleted = tx.prepare_cached("DELETE FROM task_resources WHERE resource = ?1")?.execute(params![resource])? > 0;
    forget_unused_modules(&tx)?;
    tx.commit()?;
    Ok(deleted)
}

/// An uploaded module's bytes, by SHA-256.
pub(super) fn module(conn: &Connection, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(conn.prepare_cached("SELECT bytes FROM modules WHERE sha256 = ?1")?.query_row(params![sha256], |row| row.get(0)).optional()?)
}

/// Deletes the uploaded modules no registered resource uses any more.
fn forget_unused_modules(tx: &rusqlite::Transaction) -> Result<(), StoreError> {
    tx.prepare_cached(
        "DELETE FROM modules WHERE sha256 NOT IN (SELECT module_sha256 FROM task_resources WHERE module_sha256 IS NOT NULL)",
    )?
    .execute([])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::SqliteStore;
    use crate::{Store, TaskResourceRecord};

    #[test]
    fn registered_resources_keep_their_modules_until_no_resource_uses_them() {
        let store = SqliteStore::in_memory().unwrap();
        let record = |resource: &str, sha: Option<&str>| TaskResourceRecord {
            resource: resource.into(),
            config: serde_json::json!({"fuel": 5}),
            module_sha256: sha.map(str::to_string),
            registered_ms: 7,
        };
        store.put_task_resource(&record("arn:a", Some("aa")), Some(b"module a")).unwrap();
        store.put_task_resource(&record("arn:b", Some("aa")), Some(b"module a")).unwrap();
        store.put_task_resource(&record("arn:c", None), None).unwrap();
        assert_eq!(store.task_resources().unwrap(), vec![record("arn:a", Some("aa")), record("arn:b", Some("aa")), record("arn:c", None)]);
        assert!(store.delete_task_resource("arn:a").unwrap());
        assert!(!store.delete_task_resource("arn:a").unwrap());
        assert_eq!(store.module("aa").unwrap().as_deref(), Some(&b"module a"[..]), "arn:b still uses it");
        store.put_task_resource(&record("arn:b", Some("bb")), Some(b"module b")).unwrap();
        assert_eq!(store.module("aa").unwrap(), None, "replaced, so no longer used");
        assert_eq!(store.module("bb").unwrap().as_deref(), Some(&b"module b"[..]));
    }
}
