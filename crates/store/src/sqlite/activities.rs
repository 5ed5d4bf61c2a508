//! The `activities` and `activity_tasks` tables: each activity, and the
//! tasks queued for its workers, each handed to one worker while its task
//! token still waits.

use crate::{ActivityRecord, ActivityTask, StoreError};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::collections::BTreeMap;

/// An activity's row, before its tags are parsed.
type ActivityRow = (String, String, i64, String);

fn activity_row(row: &rusqlite::Row) -> rusqlite::Result<ActivityRow> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

/// The activity of a row; tags that cannot be read are an error naming the
/// store at `location`.
fn record(location: &str, (arn, name, created_ms, tags): ActivityRow) -> Result<ActivityRecord, StoreError> {
    let tags = serde_json::from_str(&tags).map_err(|e| StoreError::Unreadable {
        path: location.to_string(),
        message: format!("activity {arn}: its tags are corrupt: {e}"),
    })?;
    Ok(ActivityRecord { arn, name, created_ms, tags })
}

fn tags_text(location: &str, tags: &BTreeMap<String, String>) -> Result<String, StoreError> {
    serde_json::to_string(tags).map_err(|e| StoreError::Unreadable { path: location.to_string(), message: e.to_string() })
}

/// Keeps an activity (again: nothing changes) and returns it.
pub(super) fn put(
    conn: &Connection,
    location: &str,
    arn: &str,
    name: &str,
    tags: &BTreeMap<String, String>,
    now_ms: i64,
) -> Result<ActivityRecord, StoreError> {
    conn.prepare_cached("INSERT OR IGNORE INTO activities (arn, name, created_ms, tags) VALUES (?1, ?2, ?3, ?4)")?.execute(params![
        arn,
        name,
        now_ms,
        tags_text(location, tags)?
    ])?;
    get(conn, location, arn)?
        .ok_or_else(|| StoreError::Unreadable { path: location.to_string(), message: format!("activity {arn} vanished") })
}

pub(super) fn get(conn: &Connection, location: &str, arn: &str) -> Result<Option<ActivityRecord>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT arn, name, created_ms, tags FROM activities WHERE arn = ?1")?;
    let row = stmt.query_row(params![arn], activity_row).optional()?;
    row.map(|row| record(location, row)).transpose()
}

/// Every activity, by name.
pub(super) fn list(conn: &Connection, location: &str) -> Result<Vec<ActivityRecord>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT arn, name, created_ms, tags FROM activities ORDER BY name, arn")?;
    let rows = stmt.query_map([], activity_row)?.collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(|row| record(location, row)).collect()
}

/// Replaces an activity's tags; false if there is no such activity.
pub(super) fn set_tags(conn: &Connection, location: &str, arn: &str, tags: &BTreeMap<String, String>) -> Result<bool, StoreError> {
    let text = tags_text(location, tags)?;
    Ok(conn.prepare_cached("UPDATE activities SET tags = ?2 WHERE arn = ?1")?.execute(params![arn, text])? > 0)
}

/// Forgets an activity and its queued tasks; false if there was none.
pub(super) fn delete(conn: &mut Connection, arn: &str) -> Result<bool, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let deleted = tx.prepare_cached("DELETE FROM activities WHERE arn = ?1")?.execute(params![arn])? > 0;
    tx.prepare_cached("DELETE FROM activity_tasks WHERE activity_arn = ?1")?.execute(params![arn])?;
    tx.commit()?;
    Ok(deleted)
}

/// Queues a task for the activity's workers (again: nothing changes).
pub(super) fn queue_task(conn: &Connection, task: &ActivityTask) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO activity_tasks (token, activity_arn, execution_arn, input, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![task.token, task.activity_arn, task.execution_arn, task.input.to_string(), task.created_ms])?;
    Ok(())
}

/// The worker that took the task of `token`, if one did and it is still queued.
pub(super) fn worker(conn: &Connection, token: &str) -> Result<Option<String>, StoreError> {
    let worker: Option<Option<String>> = conn
        .prepare_cached("SELECT worker FROM activity_tasks WHERE token = ?1")?
        .query_row(params![token], |row| row.get(0))
        .optional()?;
    Ok(worker.flatten())
}

/// Hands the oldest queued task of an activity whose token still waits to
/// `worker`, in one transaction.
pub(super) fn take_task(
    conn: &mut Connection,
    location: &str,
    activity_arn: &str,
    worker: &str,
) -> Result<Option<ActivityTask>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Tasks whose token no longer waits (answered, timed out, stopped) go.
    tx.prepare_cached(
        "DELETE FROM activity_tasks WHERE activity_arn = ?1
         AND token NOT IN (SELECT token FROM task_tokens WHERE status = 'WAITING')",
    )?
    .execute(params![activity_arn])?;
    let next = tx
        .prepare_cached(
            "SELECT token, execution_arn, input, created_ms FROM activity_tasks
             WHERE activity_arn = ?1 AND worker IS NULL ORDER BY created_ms, rowid LIMIT 1",
        )?
        .query_row(params![activity_arn], |row| Ok((row.get::<_, String>(0)?, row.get(1)?, row.get::<_, String>(2)?, row.get(3)?)))
        .optional()?;
    let Some((token, execution_arn, input, created_ms)) = next else { return Ok(None) };
    tx.prepare_cached("UPDATE activity_tasks SET worker = ?2 WHERE token = ?1")?.execute(params![token, worker])?;
    tx.commit()?;
    let input = serde_json::from_str(&input).map_err(|e| StoreError::Unreadable {
        path: location.to_string(),
        message: format!("activity task {token}: its input is corrupt: {e}"),
    })?;
    Ok(Some(ActivityTask { token, activity_arn: activity_arn.to_string(), execution_arn, input, created_ms }))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::info;
    use super::super::SqliteStore;
    use crate::{ActivityTask, Journal, Store, TaskResult};

    #[test]
    fn a_task_queued_through_the_store_wakes_a_worker_waiting_on_its_activity() {
        let store = SqliteStore::in_memory().unwrap();
        let (approve, ship) = ("arn:aws:states:local:000000000000:activity:approve", "arn:aws:states:local:000000000000:activity:ship");
        let a = info("a");
        store.create_execution(&a, 0).unwrap();
        let queue = |token: &str, activity: &str| {
            store.open_task_token(token, &a.execution_arn, 0).unwrap();
            let task = ActivityTask {
                token: token.into(),
                activity_arn: activity.into(),
                execution_arn: a.execution_arn.clone(),
                input: serde_json::json!({}),
                created_ms: 1,
            };
            store.queue_activity_task(&task).unwrap();
        };
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        let mut first = store.activity_task_queued(approve);
        let mut second = store.activity_task_queued(approve);
        let mut shipping = store.activity_task_queued(ship);
        assert!(first.as_mut().poll(&mut context).is_pending());
        assert!(second.as_mut().poll(&mut context).is_pending());
        queue("swt01", approve);
        let woken = [first.as_mut().poll(&mut context).is_ready(), second.as_mut().poll(&mut context).is_ready()];
        assert_eq!(woken.iter().filter(|w| **w).count(), 1, "one task wakes one worker: {woken:?}");
        assert!(shipping.as_mut().poll(&mut context).is_pending(), "another activity's worker is not woken");
        // Queued before the other worker polled again: the wake-up is kept.
        queue("swt02", approve);
        let still_waiting = if woken[0] { &mut second } else { &mut first };
        assert!(still_waiting.as_mut().poll(&mut context).is_ready());
    }

    #[test]
    fn activity_tasks_go_to_one_worker_each_while_their_token_waits() {
        let store = SqliteStore::in_memory().unwrap();
        let arn = "arn:aws:states:local:000000000000:activity:approve";
        let made = store.put_activity(arn, "approve", &Default::default(), 5).unwrap();
        assert_eq!(store.put_activity(arn, "approve", &Default::default(), 9).unwrap(), made, "again: unchanged");
        let a = info("a");
        store.create_execution(&a, 0).unwrap();
        let task = |token: &str, at: i64| ActivityTask {
            token: token.into(),
            activity_arn: arn.into(),
            execution_arn: a.execution_arn.clone(),
            input: serde_json::json!({"at": at}),
            created_ms: at,
        };
        for (token, at) in [("swt01", 1), ("swt02", 2), ("swt03", 3)] {
            store.open_task_token(token, &a.execution_arn, 0).unwrap();
            store.queue_activity_task(&task(token, at)).unwrap();
        }
        store.queue_activity_task(&task("swt01", 1)).unwrap();
        store.send_task_result("swt01", &TaskResult::Success(serde_json::json!(1))).unwrap();
        assert_eq!(store.activity_task_worker("swt02").unwrap(), None, "not taken yet");
        let taken = store.take_activity_task(arn, "w1").unwrap().unwrap();
        assert_eq!(taken, task("swt02", 2), "the oldest whose token still waits");
        assert_eq!(store.activity_task_worker("swt02").unwrap().as_deref(), Some("w1"), "the driver learns who took it");
        assert_eq!(store.take_activity_task(arn, "w2").unwrap().unwrap().token, "swt03");
        assert_eq!(store.take_activity_task(arn, "w3").unwrap(), None, "each is handed out once");
        assert!(store.delete_activity(arn).unwrap());
        assert_eq!(store.activity(arn).unwrap(), None);
    }
}
