//! What a start names, resolved once and kept: StartExecution and
//! StartSyncExecution of a state machine ARN or a version ARN find the
//! state machine, the definition version it runs and its parsed definition
//! with loaded modules here, without reading the store per request.
//!
//! Kept right: any API action that can change a state machine, a version, an
//! alias or a task resource empties the cache ([`ResolvedStarts::forget`],
//! called by the dispatcher for every action but reads and starts); an entry
//! resolved while such a change was under way is not kept (a generation
//! count). What another process changes in the same store (the CLI's
//! `start`, a map run's children) is seen once an entry is older than
//! [`KEPT_FOR`], as AWS's own updates are eventually consistent. An alias
//! picks its version per start, so a start through an alias resolves afresh.

use super::protocol::ApiError;
use super::versions::{self, Target};
use super::Api;
use crate::machines::Loaded;
use crate::store::StartedThrough;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long an entry is used before the store is read again.
pub const KEPT_FOR: Duration = Duration::from_secs(1);

/// At most this many entries; when full, the cache starts over.
const MAX_ENTRIES: usize = 4096;

/// A start's target, ready to run.
pub struct Resolved {
    /// The state machine's stored ARN (its name decides an execution's ARN).
    pub machine_arn: String,
    /// Its role, empty when it has none.
    pub role_arn: String,
    /// `STANDARD` or `EXPRESS`.
    pub kind: String,
    pub definition_version: u32,
    /// The version (and alias) it is started through; `None`: the latest.
    pub through: Option<StartedThrough>,
    pub loaded: Loaded,
}

#[derive(Default)]
struct Entries {
    /// Counts [`ResolvedStarts::forget`]s: an entry resolved across one is stale.
    generation: u64,
    by_arn: HashMap<String, (Instant, Arc<Resolved>)>,
}

/// The cache of resolved starts (see the module doc).
#[derive(Default)]
pub struct ResolvedStarts {
    entries: Mutex<Entries>,
}

impl ResolvedStarts {
    /// What a start of `arn` (a state machine, version or alias ARN) runs;
    /// `field` names it in errors.
    pub fn resolve(&self, api: &Api, field: &str, arn: &str) -> Result<Arc<Resolved>, ApiError> {
        let generation = {
            let entries = self.lock();
            if let Some((at, resolved)) = entries.by_arn.get(arn) {
                if at.elapsed() < KEPT_FOR {
                    return Ok(Arc::clone(resolved));
                }
            }
            entries.generation
        };
        let target = versions::resolve(api, field, arn)?;
        let through_alias = matches!(target, Target::Alias(..));
        let resolved = Arc::new(resolve_target(api, &target)?);
        if !through_alias {
            let mut entries = self.lock();
            if entries.generation == generation {
                if entries.by_arn.len() >= MAX_ENTRIES {
                    entries.by_arn.clear();
                }
                entries.by_arn.insert(arn.to_string(), (Instant::now(), Arc::clone(&resolved)));
            }
        }
        Ok(resolved)
    }

    /// Drops every entry: something they were resolved from may have changed.
    pub fn forget(&self) {
        let mut entries = self.lock();
        entries.generation += 1;
        entries.by_arn.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // Nothing is left half-done under this lock: a poisoned one is usable.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `target`'s definition (an alias picks its version by weight), loaded.
fn resolve_target(api: &Api, target: &Target) -> Result<Resolved, ApiError> {
    let chosen = versions::chosen(api, target, super::aliases::roll())?;
    let machine = target.machine();
    let loaded = api
        .machines
        .load(&machine.arn, Some(chosen.definition_version), &chosen.definition)
        .map_err(|e| ApiError::new("InvalidDefinition", format!("{e:#}")))?;
    Ok(Resolved {
        machine_arn: machine.arn.clone(),
        role_arn: machine.details.role_arn.clone(),
        kind: machine.details.kind.clone(),
        definition_version: chosen.definition_version,
        through: chosen.through,
        loaded,
    })
}
