//! Activities: task queues that workers poll (GetActivityTask, a long poll
//! of up to 60 s) and answer with the task token (SendTaskSuccess/Failure/
//! Heartbeat). A Task whose resource is an activity's ARN runs no module:
//! the driver queues its input, records `ActivityStarted` (naming the
//! worker) once one takes it, then waits for the token, as for
//! `.waitForTaskToken`.

use super::actions::check_tag_count;
use super::pagination::{page, Order};
use super::protocol::{check_arn, check_name, date, ApiError, ArnKind, Params};
use super::Api;
use crate::driver::{Clock, SystemClock};
use crate::engine::arn::ArnScope;
use crate::store::{ActivityRecord, Store, StoreError};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// How long GetActivityTask waits for a task, as AWS does (clients should
/// allow their calls a little more).
const LONG_POLL: Duration = Duration::from_secs(60);

/// How often a waiting GetActivityTask looks at the queue for tasks queued
/// by another process (this process's drivers wake it at once).
const POLL_EVERY: Duration = Duration::from_secs(1);

fn listing(activity: &ActivityRecord) -> Value {
    json!({"activityArn": activity.arn, "name": activity.name, "creationDate": date(activity.created_ms)})
}

fn existing(api: &Api, params: &Params) -> Result<ActivityRecord, ApiError> {
    let arn = check_arn("activityArn", params.required_str("activityArn")?, ArnKind::Activity)?;
    api.store.activity(arn)?.ok_or_else(|| ApiError::new("ActivityDoesNotExist", format!("Activity Does Not Exist: '{arn}'")))
}

/// An activity in the region the client signs for (else the host's) and the host's account.
pub fn create(api: &Api, scope: &ArnScope, params: &Params) -> Result<Value, ApiError> {
    let name = params.required_str("name")?;
    check_name("activity", name)?;
    let tags = params.tags("tags")?.into_iter().collect();
    check_tag_count(&tags)?;
    let activity = api.store.put_activity(&scope.activity_arn(name), name, &tags, SystemClock.now_ms())?;
    Ok(json!({"activityArn": activity.arn, "creationDate": date(activity.created_ms)}))
}

pub fn describe(api: &Api, params: &Params) -> Result<Value, ApiError> {
    Ok(listing(&existing(api, params)?))
}

pub fn list(api: &Api, params: &Params) -> Result<Value, ApiError> {
    let size = params.page_size(100, 1000)?;
    let activities = api.store.activities()?;
    // Listed by name (the store's order).
    let (shown, next) = page(&activities, params.optional_str("nextToken")?, size, "ListActivities", Order::Ascending, |a| {
        format!("{}\n{}", a.name, a.arn)
    })?;
    let mut response = json!({"activities": shown.iter().map(listing).collect::<Vec<_>>()});
    if let Some(token) = next {
        response["nextToken"] = json!(token);
    }
    Ok(response)
}

pub fn delete(api: &Api, params: &Params) -> Result<Value, ApiError> {
    let arn = check_arn("activityArn", params.required_str("activityArn")?, ArnKind::Activity)?;
    api.store.delete_activity(arn)?;
    Ok(json!({}))
}

/// The oldest waiting task of the activity, handed to this worker; `{}`
/// when none came within the long poll.
pub async fn get_task(api: &Api, params: &Params) -> Result<Value, ApiError> {
    let activity = existing(api, params)?;
    let worker = params.optional_str("workerName")?.unwrap_or("");
    if worker.chars().count() > 80 {
        return Err(ApiError::validation("workerName: at most 80 characters"));
    }
    let deadline = Instant::now() + LONG_POLL;
    loop {
        // Registered before looking, so a task queued in between wakes us.
        let queued = api.store.activity_task_queued(&activity.arn);
        if let Some(task) = tokio::task::block_in_place(|| api.store.take_activity_task(&activity.arn, worker))? {
            // Taken is the task's first sign of life: its HeartbeatSeconds
            // count from here, not from its scheduling.
            // (A token that stopped waiting meanwhile answers the worker's call with TaskTimedOut.)
            match tokio::task::block_in_place(|| api.store.send_task_heartbeat(&task.token, SystemClock.now_ms())) {
                Ok(()) | Err(StoreError::TaskNotWaiting(_)) => {}
                Err(e) => return Err(e.into()),
            }
            return Ok(json!({"taskToken": task.token, "input": task.input.to_string()}));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(json!({}));
        }
        let _ = tokio::time::timeout(POLL_EVERY.min(deadline - now), queued).await;
    }
}
