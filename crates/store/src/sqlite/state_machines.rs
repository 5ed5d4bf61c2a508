//! The `state_machines` and `state_machine_versions` tables: each state
//! machine's latest definition and details, and every version of its
//! definition, which its executions keep running after it changes or goes.

use crate::{StateMachineDetails, StateMachineRecord, StoreError};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

/// A state machine with its latest version.
const STATE_MACHINE_QUERY: &str = "SELECT m.arn, m.name, m.definition, m.created_ms, m.details,
        (SELECT max(version) FROM state_machine_versions v WHERE v.arn = m.arn)
     FROM state_machines m";

/// A row of [`STATE_MACHINE_QUERY`], before its details are parsed.
struct StateMachineRow {
    arn: String,
    name: String,
    definition: String,
    created_ms: Option<i64>,
    details: Option<String>,
    version: Option<u32>,
}

fn state_machine_row(row: &rusqlite::Row) -> rusqlite::Result<StateMachineRow> {
    Ok(StateMachineRow {
        arn: row.get(0)?,
        name: row.get(1)?,
        definition: row.get(2)?,
        created_ms: row.get(3)?,
        details: row.get(4)?,
        version: row.get(5)?,
    })
}

impl StateMachineRow {
    fn into_record(self, location: &str) -> Result<StateMachineRecord, StoreError> {
        let details = match &self.details {
            Some(text) => serde_json::from_str(text).map_err(|e| StoreError::Unreadable {
                path: location.to_string(),
                message: format!("state machine {}: its details are corrupt: {e}", self.arn),
            })?,
            None => StateMachineDetails { kind: "STANDARD".into(), ..StateMachineDetails::default() },
        };
        Ok(StateMachineRecord {
            arn: self.arn,
            name: self.name,
            definition: self.definition,
            version: self.version.unwrap_or(1),
            created_ms: self.created_ms,
            details,
        })
    }
}

/// Keeps `definition` under `arn` and returns its version: the latest one
/// when the text is unchanged, else a new one.
pub(super) fn put(conn: &mut Connection, arn: &str, name: &str, definition: &str) -> Result<u32, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let latest: Option<(u32, String)> = tx
        .prepare_cached("SELECT version, definition FROM state_machine_versions WHERE arn = ?1 ORDER BY version DESC LIMIT 1")?
        .query_row(params![arn], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    let version = match latest {
        Some((version, text)) if text == definition => version,
        latest => {
            let version = latest.map_or(1, |(v, _)| v + 1);
            tx.prepare_cached("INSERT INTO state_machine_versions (arn, version, definition) VALUES (?1, ?2, ?3)")?
                .execute(params![arn, version, definition])?;
            version
        }
    };
    tx.prepare_cached(
        "INSERT INTO state_machines (arn, name, definition, created_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (arn) DO UPDATE SET name = excluded.name, definition = excluded.definition",
    )?
    .execute(params![arn, name, definition, chrono::Utc::now().timestamp_millis()])?;
    tx.commit()?;
    Ok(version)
}

/// The latest definition text of a state machine.
pub(super) fn definition(conn: &Connection, arn: &str) -> Result<Option<String>, StoreError> {
    Ok(conn.prepare_cached("SELECT definition FROM state_machines WHERE arn = ?1")?.query_row(params![arn], |row| row.get(0)).optional()?)
}

/// The definition an execution runs, with its version (`None` for one
/// created before versions were kept).
pub(super) fn of_execution(conn: &Connection, execution_arn: &str) -> Result<Option<(Option<u32>, String)>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT e.definition_version, coalesce(v.definition, m.definition)
             FROM executions e
             LEFT JOIN state_machine_versions v ON v.arn = e.state_machine_arn AND v.version = e.definition_version
             LEFT JOIN state_machines m ON m.arn = e.state_machine_arn
             WHERE e.arn = ?1",
        )?
        .query_row(params![execution_arn], |row| Ok((row.get(0)?, row.get::<_, Option<String>>(1)?)))
        .optional()?
        .and_then(|(version, text)| text.map(|t| (version, t))))
}

/// A state machine with its latest definition and details.
pub(super) fn describe(conn: &Connection, location: &str, arn: &str) -> Result<Option<StateMachineRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("{STATE_MACHINE_QUERY} WHERE m.arn = ?1"))?;
    let found = stmt.query_row(params![arn], state_machine_row).optional()?;
    found.map(|row| row.into_record(location)).transpose()
}

/// Every state machine, by name.
pub(super) fn list(conn: &Connection, location: &str) -> Result<Vec<StateMachineRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("{STATE_MACHINE_QUERY} ORDER BY m.name, m.arn"))?;
    let rows = stmt.query_map([], state_machine_row)?.collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(|row| row.into_record(location)).collect()
}

/// Replaces a state machine's details; false if there is no such machine.
pub(super) fn set_details(conn: &Connection, location: &str, arn: &str, details: &StateMachineDetails) -> Result<bool, StoreError> {
    let text = serde_json::to_string(details).map_err(|e| StoreError::Unreadable { path: location.to_string(), message: e.to_string() })?;
    let changed = conn.prepare_cached("UPDATE state_machines SET details = ?2 WHERE arn = ?1")?.execute(params![arn, text])?;
    Ok(changed > 0)
}

/// Forgets a state machine (its versions stay); false if there was none.
pub(super) fn delete(conn: &Connection, arn: &str) -> Result<bool, StoreError> {
    Ok(conn.prepare_cached("DELETE FROM state_machines WHERE arn = ?1")?.execute(params![arn])? > 0)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::info;
    use super::super::SqliteStore;
    use crate::{Journal, StateMachineDetails, Store};

    #[test]
    fn each_execution_runs_the_definition_version_it_started_with() {
        let store = SqliteStore::in_memory().unwrap();
        let (v1, v2) = (r#"{"v": 1}"#, r#"{"v": 2}"#);
        let (a, b) = (info("a"), info("b"));
        assert_eq!(store.put_state_machine(&a.state_machine_arn, "sm", v1).unwrap(), 1);
        assert_eq!(store.put_state_machine(&a.state_machine_arn, "sm", v1).unwrap(), 1, "unchanged text, same version");
        store.create_execution(&a, 0).unwrap();
        assert_eq!(store.put_state_machine(&a.state_machine_arn, "sm", v2).unwrap(), 2);
        store.create_execution(&b, 0).unwrap();
        assert_eq!(store.execution_definition(&a.execution_arn).unwrap(), Some((Some(1), v1.to_string())));
        assert_eq!(store.execution_definition(&b.execution_arn).unwrap(), Some((Some(2), v2.to_string())));
        assert_eq!(store.state_machine(&a.state_machine_arn).unwrap().as_deref(), Some(v2));
        assert_eq!(store.execution_definition("arn:none").unwrap(), None);
    }

    #[test]
    fn state_machines_keep_details_and_a_deleted_ones_executions_keep_their_definition() {
        let store = SqliteStore::in_memory().unwrap();
        let a = info("a");
        let arn = &a.state_machine_arn;
        assert!(!store.set_state_machine_details(arn, &StateMachineDetails::default()).unwrap(), "no such machine yet");
        store.put_state_machine(arn, "sm", r#"{"v": 1}"#).unwrap();
        let fresh = store.describe_state_machine(arn).unwrap().unwrap();
        assert_eq!((fresh.name.as_str(), fresh.version, fresh.details.kind.as_str()), ("sm", 1, "STANDARD"));
        assert!(fresh.created_ms.is_some());
        let details = StateMachineDetails {
            kind: "EXPRESS".into(),
            role_arn: "arn:aws:iam::1:role/r".into(),
            tags: [("team".to_string(), "orders".to_string())].into(),
            ..StateMachineDetails::default()
        };
        assert!(store.set_state_machine_details(arn, &details).unwrap());
        store.put_state_machine(arn, "sm", r#"{"v": 2}"#).unwrap();
        let updated = store.describe_state_machine(arn).unwrap().unwrap();
        assert_eq!((updated.version, &updated.details, updated.created_ms), (2, &details, fresh.created_ms));
        assert_eq!(store.state_machines().unwrap(), vec![updated]);
        store.create_execution(&a, 0).unwrap();
        assert!(store.delete_state_machine(arn).unwrap());
        assert!(!store.delete_state_machine(arn).unwrap());
        assert_eq!(store.describe_state_machine(arn).unwrap(), None);
        assert_eq!(store.execution_definition(&a.execution_arn).unwrap(), Some((Some(2), r#"{"v": 2}"#.to_string())));
    }
}
