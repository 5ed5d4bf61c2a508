//! Names and ARNs in AWS's shape.

use crate::ExecutionInfo;

/// Execution names and ARNs in the AWS shape, for a state machine `name`.
pub fn execution_info(state_machine_name: &str, execution_name: &str) -> ExecutionInfo {
    let sm_arn = format!("arn:aws:states:local:000000000000:stateMachine:{state_machine_name}");
    ExecutionInfo {
        execution_arn: format!("arn:aws:states:local:000000000000:execution:{state_machine_name}:{execution_name}"),
        name: execution_name.to_string(),
        state_machine_arn: sm_arn,
        state_machine_name: state_machine_name.to_string(),
    }
}

/// The region an ARN names (`arn:PARTITION:SERVICE:REGION:…`), empty when it has none.
pub fn region_of(arn: &str) -> &str {
    arn.split(':').nth(3).unwrap_or("")
}
