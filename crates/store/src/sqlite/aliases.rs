//! The `aliases` table: state machine aliases, each routing executions to
//! one or two published versions (`routing`: AWS's routingConfiguration as
//! JSON). An alias is written in one transaction with the check that the
//! versions it routes to are live, so a version deleted meanwhile is never
//! routed to.

use crate::{AliasRecord, RoutingEntry, StoreError};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

const COLUMNS: &str = "arn, state_machine_arn, name, description, routing, created_ms, updated_ms";

type Row = (String, String, String, Option<String>, String, i64, i64);

fn row(row: &rusqlite::Row) -> rusqlite::Result<Row> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?))
}

fn record(
    location: &str,
    (arn, state_machine_arn, name, description, routing, created_ms, updated_ms): Row,
) -> Result<AliasRecord, StoreError> {
    let routing: Vec<RoutingEntry> = serde_json::from_str(&routing).map_err(|e| StoreError::Unreadable {
        path: location.to_string(),
        message: format!("alias {arn}: its routing is corrupt JSON: {e}"),
    })?;
    Ok(AliasRecord { arn, state_machine_arn, name, description, routing, created_ms, updated_ms })
}

/// Creates or replaces `alias`; `Ok(Err(version ARN))` when a version it
/// routes to is not a live version of its state machine.
pub(super) fn put(conn: &mut Connection, location: &str, alias: &AliasRecord) -> Result<Result<(), String>, StoreError> {
    let routing =
        serde_json::to_string(&alias.routing).map_err(|e| StoreError::Unreadable { path: location.to_string(), message: e.to_string() })?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for entry in &alias.routing {
        let live: Option<i64> = tx
            .prepare_cached(
                "SELECT 1 FROM published_versions
                 WHERE state_machine_arn = ?1 AND state_machine_arn || ':' || version = ?2 AND definition_version != 0",
            )?
            .query_row(params![alias.state_machine_arn, entry.version_arn], |row| row.get(0))
            .optional()?;
        if live.is_none() {
            return Ok(Err(entry.version_arn.clone()));
        }
    }
    tx.prepare_cached(&format!(
        "INSERT INTO aliases ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (arn) DO UPDATE SET description = excluded.description, routing = excluded.routing, updated_ms = excluded.updated_ms"
    ))?
    .execute(params![
        alias.arn,
        alias.state_machine_arn,
        alias.name,
        alias.description,
        routing,
        alias.created_ms,
        alias.updated_ms
    ])?;
    tx.commit()?;
    Ok(Ok(()))
}

pub(super) fn get(conn: &Connection, location: &str, arn: &str) -> Result<Option<AliasRecord>, StoreError> {
    let found = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM aliases WHERE arn = ?1"))?.query_row(params![arn], row).optional()?;
    found.map(|r| record(location, r)).transpose()
}

/// A state machine's aliases, newest first.
pub(super) fn list(conn: &Connection, location: &str, state_machine_arn: &str) -> Result<Vec<AliasRecord>, StoreError> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM aliases WHERE state_machine_arn = ?1 ORDER BY created_ms DESC, name DESC"))?;
    let rows = stmt.query_map(params![state_machine_arn], row)?.collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(|r| record(location, r)).collect()
}

pub(super) fn delete(conn: &Connection, arn: &str) -> Result<bool, StoreError> {
    Ok(conn.prepare_cached("DELETE FROM aliases WHERE arn = ?1")?.execute(params![arn])? > 0)
}
