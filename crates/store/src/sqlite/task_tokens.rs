//! The `task_tokens` table: the token of each task that waits for its
//! result to be sent back (`.waitForTaskToken`, activities), where it stands
//! (waiting, completed with a result, closed), and its heartbeat.

use crate::{StoreError, TaskResult, TokenState};
use rusqlite::{params, Connection, OptionalExtension};

/// Token statuses in `task_tokens.status`.
const WAITING: &str = "WAITING";
const COMPLETED: &str = "COMPLETED";
const CLOSED: &str = "CLOSED";

/// Closes the tokens an ended execution's tasks still wait for.
pub(super) fn close_for_execution(conn: &Connection, execution_arn: &str) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE task_tokens SET status = 'CLOSED' WHERE execution_arn = ?1 AND status = 'WAITING'")?
        .execute(params![execution_arn])?;
    Ok(())
}

/// Issues `token` for a task of `execution_arn` (again: nothing changes).
pub(super) fn open(conn: &Connection, token: &str, execution_arn: &str, now_ms: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO task_tokens (token, execution_arn, status, heartbeat_ms) VALUES (?1, ?2, 'WAITING', ?3)
         ON CONFLICT (token) DO NOTHING",
    )?
    .execute(params![token, execution_arn, now_ms])?;
    Ok(())
}

/// The state of `token`, if it was ever issued; a row that cannot be read
/// is an error naming the store at `location`.
pub(super) fn get(conn: &Connection, location: &str, token: &str) -> Result<Option<TokenState>, StoreError> {
    let row: Option<(String, i64, Option<String>)> = conn
        .prepare_cached("SELECT status, heartbeat_ms, result FROM task_tokens WHERE token = ?1")?
        .query_row(params![token], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .optional()?;
    let Some((status, heartbeat_ms, result)) = row else { return Ok(None) };
    let corrupt =
        |message: String| StoreError::Unreadable { path: location.to_string(), message: format!("task token {token:?}: {message}") };
    Ok(Some(match (status.as_str(), result) {
        (WAITING, _) => TokenState::Waiting { heartbeat_ms },
        (COMPLETED, Some(text)) => TokenState::Completed(serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?),
        (CLOSED, _) => TokenState::Closed,
        (other, _) => return Err(corrupt(format!("unknown status {other:?}"))),
    }))
}

/// Completes a waiting token with `result`.
pub(super) fn send_result(conn: &Connection, location: &str, token: &str, result: &TaskResult) -> Result<(), StoreError> {
    let text = serde_json::to_string(result).map_err(|e| StoreError::Unreadable { path: location.to_string(), message: e.to_string() })?;
    update_waiting(conn, "UPDATE task_tokens SET status = 'COMPLETED', result = ?2 WHERE token = ?1 AND status = 'WAITING'", token, text)
}

/// A waiting token's task is alive at `now_ms`.
pub(super) fn heartbeat(conn: &Connection, token: &str, now_ms: i64) -> Result<(), StoreError> {
    update_waiting(
        conn,
        "UPDATE task_tokens SET heartbeat_ms = max(heartbeat_ms, ?2) WHERE token = ?1 AND status = 'WAITING'",
        token,
        now_ms,
    )
}

/// Closes a waiting token (`None`), or returns the result that came first.
pub(super) fn close(conn: &Connection, location: &str, token: &str) -> Result<Option<TaskResult>, StoreError> {
    let updated =
        conn.prepare_cached("UPDATE task_tokens SET status = 'CLOSED' WHERE token = ?1 AND status = 'WAITING'")?.execute(params![token])?;
    if updated > 0 {
        return Ok(None);
    }
    Ok(match get(conn, location, token)? {
        Some(TokenState::Completed(result)) => Some(result),
        _ => None,
    })
}

/// Runs `update` (`?1` the token, `?2` the value) on a waiting token;
/// when no row changed, says whether the token is unknown or not waiting.
fn update_waiting(conn: &Connection, update: &str, token: &str, value: impl rusqlite::ToSql) -> Result<(), StoreError> {
    if conn.prepare_cached(update)?.execute(params![token, value])? > 0 {
        return Ok(());
    }
    let known = conn.prepare_cached("SELECT 1 FROM task_tokens WHERE token = ?1")?.exists(params![token])?;
    Err(if known { StoreError::TaskNotWaiting(token.into()) } else { StoreError::InvalidToken(token.into()) })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::info;
    use super::super::SqliteStore;
    use crate::{Journal, Store, TaskResult};

    #[test]
    fn a_result_sent_through_the_store_wakes_the_driver_waiting_on_its_token() {
        let store = SqliteStore::in_memory().unwrap();
        let a = info("a");
        store.create_execution(&a, 0).unwrap();
        store.open_task_token("swt01", &a.execution_arn, 0).unwrap();
        store.open_task_token("swt02", &a.execution_arn, 0).unwrap();
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        let mut first = store.token_answered("swt01");
        let mut second = store.token_answered("swt02");
        assert!(first.as_mut().poll(&mut context).is_pending());
        store.send_task_result("swt01", &TaskResult::Success(serde_json::json!(1))).unwrap();
        assert!(first.as_mut().poll(&mut context).is_ready(), "answered");
        assert!(second.as_mut().poll(&mut context).is_pending(), "another token is not woken");
        // Answered before anyone polled the wait: the wake-up is kept.
        store.send_task_result("swt02", &TaskResult::Success(serde_json::json!(2))).unwrap();
        assert!(second.as_mut().poll(&mut context).is_ready());
    }
}
