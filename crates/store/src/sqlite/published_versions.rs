//! The `published_versions` table (AWS's state machine versions) and what an
//! execution was started through (`executions.started_through`).
//!
//! A published version names the definition version (`state_machine_versions`)
//! it froze, with the role, logging and tracing it had (`details`, JSON).
//! Version numbers are never reused: a deleted version stays as a tombstone
//! row whose `definition_version` is [`DELETED`], so the next number is still
//! one past the highest ever published. Deleting the state machine forgets
//! them all (a state machine made again under its name starts at 1, as on AWS).

use super::{events, executions};
use crate::{PublishedVersion, StartedThrough, StateMachineDetails, StoreError, VersionDeletion};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::collections::HashMap;
use stepwasm_engine::{ExecutionInfo, HistoryEvent};

/// The `definition_version` of a deleted version's tombstone (definition
/// versions start at 1).
const DELETED: u32 = 0;

const COLUMNS: &str = "state_machine_arn, version, definition_version, description, created_ms, details";

/// A row before its details are parsed.
type Row = (String, u32, u32, Option<String>, i64, Option<String>);

fn row(row: &rusqlite::Row) -> rusqlite::Result<Row> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?))
}

fn corrupt(location: &str, what: String, e: serde_json::Error) -> StoreError {
    StoreError::Unreadable { path: location.to_string(), message: format!("{what}: corrupt JSON: {e}") }
}

fn record(
    location: &str,
    (state_machine_arn, version, definition_version, description, created_ms, details): Row,
) -> Result<PublishedVersion, StoreError> {
    let details = match details {
        Some(text) => serde_json::from_str(&text).map_err(|e| corrupt(location, format!("version {version} of {state_machine_arn}"), e))?,
        None => StateMachineDetails::default(),
    };
    Ok(PublishedVersion { state_machine_arn, version, definition_version, description, created_ms, details })
}

fn to_json<T: serde::Serialize>(location: &str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Unreadable { path: location.to_string(), message: e.to_string() })
}

/// Publishes `definition_version` as the state machine's next version.
pub(super) fn publish(
    conn: &mut Connection,
    location: &str,
    arn: &str,
    definition_version: u32,
    description: Option<&str>,
    details: &StateMachineDetails,
    now_ms: i64,
) -> Result<PublishedVersion, StoreError> {
    let details = StateMachineDetails { tags: Default::default(), ..details.clone() };
    let text = to_json(location, &details)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let highest: Option<u32> = tx
        .prepare_cached("SELECT max(version) FROM published_versions WHERE state_machine_arn = ?1")?
        .query_row(params![arn], |row| row.get(0))?;
    let version = highest.unwrap_or(0) + 1;
    tx.prepare_cached(&format!("INSERT INTO published_versions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"))?.execute(params![
        arn,
        version,
        definition_version,
        description,
        now_ms,
        text
    ])?;
    tx.commit()?;
    Ok(PublishedVersion {
        state_machine_arn: arn.to_string(),
        version,
        definition_version,
        description: description.map(str::to_string),
        created_ms: now_ms,
        details,
    })
}

/// A state machine's live versions, newest first.
pub(super) fn list(conn: &Connection, location: &str, arn: &str) -> Result<Vec<PublishedVersion>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM published_versions WHERE state_machine_arn = ?1 AND definition_version != {DELETED} ORDER BY version DESC"
    ))?;
    let rows = stmt.query_map(params![arn], row)?.collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(|r| record(location, r)).collect()
}

/// One live version.
pub(super) fn get(conn: &Connection, location: &str, arn: &str, version: u32) -> Result<Option<PublishedVersion>, StoreError> {
    let found = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM published_versions WHERE state_machine_arn = ?1 AND version = ?2 AND definition_version != {DELETED}"
        ))?
        .query_row(params![arn, version], row)
        .optional()?;
    found.map(|r| record(location, r)).transpose()
}

/// Leaves a tombstone for a live version no alias routes to.
pub(super) fn delete(conn: &mut Connection, arn: &str, version: u32) -> Result<VersionDeletion, StoreError> {
    let version_arn = format!("{arn}:{version}");
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let routing: Option<String> = tx
        .prepare_cached(
            "SELECT a.arn FROM aliases a, json_each(a.routing) r
             WHERE a.state_machine_arn = ?1 AND json_extract(r.value, '$.stateMachineVersionArn') = ?2
             ORDER BY a.name LIMIT 1",
        )?
        .query_row(params![arn, version_arn], |row| row.get(0))
        .optional()?;
    if let Some(alias) = routing {
        return Ok(VersionDeletion::RoutedBy(alias));
    }
    let changed = tx
        .prepare_cached(&format!(
            "UPDATE published_versions SET definition_version = {DELETED}, details = NULL, description = NULL
             WHERE state_machine_arn = ?1 AND version = ?2 AND definition_version != {DELETED}"
        ))?
        .execute(params![arn, version])?;
    tx.commit()?;
    Ok(if changed > 0 { VersionDeletion::Deleted } else { VersionDeletion::NotFound })
}

/// The text of definition version `definition_version`.
pub(super) fn definition_at(conn: &Connection, arn: &str, definition_version: u32) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT definition FROM state_machine_versions WHERE arn = ?1 AND version = ?2")?
        .query_row(params![arn, definition_version], |row| row.get(0))
        .optional()?)
}

/// Forgets a state machine's versions (tombstones too) and aliases.
pub(super) fn delete_all(conn: &mut Connection, arn: &str) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.prepare_cached("DELETE FROM published_versions WHERE state_machine_arn = ?1")?.execute(params![arn])?;
    tx.prepare_cached("DELETE FROM aliases WHERE state_machine_arn = ?1")?.execute(params![arn])?;
    tx.commit()?;
    Ok(())
}

/// Creates an execution of a published version with its first events, in one transaction.
pub(super) fn start_through(
    conn: &mut Connection,
    location: &str,
    info: &ExecutionInfo,
    start_ms: i64,
    first_events: &[HistoryEvent],
    definition_version: u32,
    through: &StartedThrough,
) -> Result<(), StoreError> {
    let prepared = events::prepare(&info.execution_arn, first_events)?;
    let text = to_json(location, through)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    executions::insert(&tx, info, start_ms)?;
    tx.prepare_cached("UPDATE executions SET definition_version = ?2, started_through = ?3 WHERE arn = ?1")?.execute(params![
        info.execution_arn,
        definition_version,
        text
    ])?;
    events::append_prepared(&tx, &info.execution_arn, &prepared)?;
    tx.commit()?;
    Ok(())
}

fn started_through_of(location: &str, execution_arn: &str, text: &str) -> Result<StartedThrough, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(location, format!("execution {execution_arn}: started_through"), e))
}

/// What an execution was started through.
pub(super) fn started_through(conn: &Connection, location: &str, execution_arn: &str) -> Result<Option<StartedThrough>, StoreError> {
    let text: Option<Option<String>> = conn
        .prepare_cached("SELECT started_through FROM executions WHERE arn = ?1")?
        .query_row(params![execution_arn], |row| row.get(0))
        .optional()?;
    text.flatten().map(|text| started_through_of(location, execution_arn, &text)).transpose()
}

/// Those of a state machine's executions started through a version or alias.
pub(super) fn executions_through(
    conn: &Connection,
    location: &str,
    state_machine_arn: &str,
) -> Result<HashMap<String, StartedThrough>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT arn, started_through FROM executions WHERE state_machine_arn = ?1 AND started_through IS NOT NULL")?;
    let rows = stmt.query_map(params![state_machine_arn], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))?;
    let mut through = HashMap::new();
    for found in rows {
        let (arn, text) = found?;
        let parsed = started_through_of(location, &arn, &text)?;
        through.insert(arn, parsed);
    }
    Ok(through)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::info;
    use super::super::SqliteStore;
    use crate::{AliasRecord, Journal, RoutingEntry, StartedThrough, StateMachineDetails, Store, VersionDeletion};
    use serde_json::json;
    use stepwasm_engine::{EventKind, HistoryEvent, Scope};

    #[test]
    fn version_numbers_are_never_reused_and_a_routed_version_stays() {
        let store = SqliteStore::in_memory().unwrap();
        let arn = &info("a").state_machine_arn;
        store.put_state_machine(arn, "sm", r#"{"v": 1}"#).unwrap();
        let details = StateMachineDetails { role_arn: "arn:aws:iam::123456789012:role/r".into(), ..Default::default() };
        let v1 = store.publish_version(arn, 1, Some("first"), &details, 10).unwrap();
        let v2 = store.publish_version(arn, 1, None, &details, 20).unwrap();
        assert_eq!((v1.version, v2.version, v1.arn()), (1, 2, format!("{arn}:1")));
        assert_eq!(store.published_versions(arn).unwrap(), vec![v2.clone(), v1.clone()]);
        let alias = AliasRecord {
            arn: format!("{arn}:live"),
            state_machine_arn: arn.clone(),
            name: "live".into(),
            description: None,
            routing: vec![RoutingEntry { version_arn: v2.arn(), weight: 100 }],
            created_ms: 30,
            updated_ms: 30,
        };
        assert_eq!(store.put_alias(&alias).unwrap(), Ok(()));
        assert_eq!(store.delete_published_version(arn, 2).unwrap(), VersionDeletion::RoutedBy(alias.arn.clone()));
        assert_eq!(store.delete_published_version(arn, 1).unwrap(), VersionDeletion::Deleted);
        assert_eq!(store.delete_published_version(arn, 1).unwrap(), VersionDeletion::NotFound);
        let gone = AliasRecord { routing: vec![RoutingEntry { version_arn: v1.arn(), weight: 100 }], ..alias.clone() };
        assert_eq!(store.put_alias(&gone).unwrap(), Err(v1.arn()), "an alias cannot route to a deleted version");
        assert!(store.delete_alias(&alias.arn).unwrap());
        assert_eq!(store.delete_published_version(arn, 2).unwrap(), VersionDeletion::Deleted);
        assert_eq!(store.publish_version(arn, 1, None, &details, 40).unwrap().version, 3, "numbers go on after deletions");
        store.delete_versions_and_aliases(arn).unwrap();
        assert_eq!(store.publish_version(arn, 1, None, &details, 50).unwrap().version, 1, "a machine made again starts over");
    }

    #[test]
    fn an_execution_through_a_version_runs_that_definition() {
        let store = SqliteStore::in_memory().unwrap();
        let (a, b) = (info("a"), info("b"));
        let arn = &a.state_machine_arn;
        store.put_state_machine(arn, "sm", r#"{"v": 1}"#).unwrap();
        store.put_state_machine(arn, "sm", r#"{"v": 2}"#).unwrap();
        let started = HistoryEvent {
            id: 1,
            previous_event_id: 0,
            timestamp_ms: 5,
            scope: Scope::root(),
            kind: EventKind::ExecutionStarted { input: json!({}).into() },
        };
        let through = StartedThrough { version_arn: format!("{arn}:1"), alias_arn: Some(format!("{arn}:live")) };
        store.start_execution_through(&a, 5, std::slice::from_ref(&started), 1, &through).unwrap();
        store.create_execution(&b, 6).unwrap();
        assert_eq!(store.execution_definition(&a.execution_arn).unwrap(), Some((Some(1), r#"{"v": 1}"#.to_string())));
        assert_eq!(store.history(&a.execution_arn).unwrap(), std::slice::from_ref(&started));
        assert_eq!(store.started_through(&a.execution_arn).unwrap(), Some(through.clone()));
        assert_eq!(store.started_through(&b.execution_arn).unwrap(), None);
        let listed = store.executions_started_through(arn).unwrap();
        assert_eq!((listed.len(), listed.get(&a.execution_arn)), (1, Some(&through)));
        assert!(store.start_execution_through(&a, 7, std::slice::from_ref(&started), 1, &through).is_err(), "names are unique");
        assert_eq!(store.definition_at(arn, 2).unwrap().as_deref(), Some(r#"{"v": 2}"#));
        assert_eq!(store.definition_at(arn, 3).unwrap(), None);
    }
}
