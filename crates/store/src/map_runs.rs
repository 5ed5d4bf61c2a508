//! The record of a Distributed Map's map run: one per Map state's run, its
//! child executions counted as DescribeMapRun shows them, and the settings
//! UpdateMapRun changes while it runs ([`Store::create_map_run`](crate::Store::create_map_run) and the
//! methods after it).

/// Where a map run stands, as DescribeMapRun names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapRunStatus {
    Running,
    Succeeded,
    Failed,
    Aborted,
}

impl MapRunStatus {
    /// The AWS name, e.g. `SUCCEEDED`.
    pub fn as_str(self) -> &'static str {
        match self {
            MapRunStatus::Running => "RUNNING",
            MapRunStatus::Succeeded => "SUCCEEDED",
            MapRunStatus::Failed => "FAILED",
            MapRunStatus::Aborted => "ABORTED",
        }
    }

    /// The status named `name` (as [`as_str`](Self::as_str) gives it).
    pub fn parse(name: &str) -> Option<MapRunStatus> {
        [Self::Running, Self::Succeeded, Self::Failed, Self::Aborted].into_iter().find(|s| s.as_str() == name)
    }
}

/// A map run's items or child executions by where they stand (AWS's
/// `MapRunItemCounts` / `MapRunExecutionCounts`).
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct MapRunCounts {
    pub pending: u64,
    pub running: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub timed_out: u64,
    pub aborted: u64,
    pub total: u64,
    pub results_written: u64,
}

/// One map run: who runs it, where it stands, its settings and its counts.
#[derive(Debug, Clone, PartialEq)]
pub struct MapRunRecord {
    pub map_run_arn: String,
    /// The execution whose Map state started it.
    pub execution_arn: String,
    /// The child state machine's ARN (`<parent ARN>/<label>`).
    pub state_machine_arn: String,
    pub status: MapRunStatus,
    /// Milliseconds since the Unix epoch.
    pub start_ms: i64,
    pub stop_ms: Option<i64>,
    /// 0: no limit.
    pub max_concurrency: u32,
    pub tolerated_failure_count: u64,
    pub tolerated_failure_percentage: f64,
    pub item_counts: MapRunCounts,
    pub execution_counts: MapRunCounts,
    /// How many times the run was redriven, and when last.
    pub redrive_count: u32,
    pub redrive_ms: Option<i64>,
}

/// The id of a map run: the last `:` part of its ARN (what its child
/// executions' names start with, followed by `-`).
pub fn map_run_id(map_run_arn: &str) -> &str {
    map_run_arn.rsplit(':').next().unwrap_or(map_run_arn)
}

/// The name of child `index` of a map run: its id and the index, so that
/// [`crate::Store::map_run_children`] finds the run's children by name.
pub fn map_run_child_name(map_run_arn: &str, index: usize) -> String {
    format!("{}-{index:06}", map_run_id(map_run_arn))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_back_and_the_id_is_the_last_part() {
        for status in [MapRunStatus::Running, MapRunStatus::Succeeded, MapRunStatus::Failed, MapRunStatus::Aborted] {
            assert_eq!(MapRunStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(MapRunStatus::parse("TIMED_OUT"), None);
        assert_eq!(map_run_id("arn:aws:states:us-east-1:123456789012:mapRun:orders/ProcessItems:abc-1"), "abc-1");
        assert_eq!(map_run_child_name("arn:aws:states:us-east-1:123456789012:mapRun:orders/ProcessItems:abc-1", 7), "abc-1-000007");
    }
}
