//! Names and ARNs in AWS's shape: a state machine's ARN from the region and
//! account it is made in, an execution's derived from its state machine's,
//! and qualified state machine ARNs (`…:stateMachine:name:2` names a
//! published version, `…:stateMachine:name:prod` an alias) taken apart.

use crate::ExecutionInfo;

/// The region ARNs carry when nobody named one (a request that is not
/// signed, `stepwasm run`).
pub const DEFAULT_REGION: &str = "local";

/// The account ARNs carry unless `serve --account` names another.
pub const DEFAULT_ACCOUNT: &str = "000000000000";

/// Where ARNs are made: a region and an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArnScope {
    pub region: String,
    pub account: String,
}

impl Default for ArnScope {
    fn default() -> ArnScope {
        ArnScope { region: DEFAULT_REGION.to_string(), account: DEFAULT_ACCOUNT.to_string() }
    }
}

impl ArnScope {
    /// A scope with `region` and `account` checked as AWS has them: a region
    /// of lowercase letters, digits and dashes (1 to 32), an account of 12 digits.
    pub fn new(region: &str, account: &str) -> Result<ArnScope, String> {
        if !is_region(region) {
            return Err(format!("region {region:?}: lowercase letters, digits and '-' (1 to 32 characters), e.g. us-east-1"));
        }
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("account {account:?}: 12 digits, e.g. 123456789012"));
        }
        Ok(ArnScope { region: region.to_string(), account: account.to_string() })
    }

    /// The ARN of the state machine `name` in this scope.
    pub fn state_machine_arn(&self, name: &str) -> String {
        format!("arn:aws:states:{}:{}:stateMachine:{name}", self.region, self.account)
    }

    /// The ARN of the activity `name` in this scope.
    pub fn activity_arn(&self, name: &str) -> String {
        format!("arn:aws:states:{}:{}:activity:{name}", self.region, self.account)
    }
}

/// Whether `region` can be a region in an ARN (what a SigV4 credential
/// scope names: `us-east-1`, `eu-west-1`, `local`).
pub fn is_region(region: &str) -> bool {
    (1..=32).contains(&region.len()) && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Execution names and ARNs in the AWS shape, for a state machine `name` in
/// the default scope (region `local`, account 000000000000).
pub fn execution_info(state_machine_name: &str, execution_name: &str) -> ExecutionInfo {
    let sm_arn = ArnScope::default().state_machine_arn(state_machine_name);
    execution_of(&sm_arn, execution_name).unwrap_or_else(|| ExecutionInfo {
        execution_arn: format!("arn:aws:states:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}:execution:{state_machine_name}:{execution_name}"),
        name: execution_name.to_string(),
        state_machine_arn: sm_arn.clone(),
        state_machine_name: state_machine_name.to_string(),
        role_arn: default_role_arn(&sm_arn),
        test_case: None,
    })
}

/// The execution `execution_name` of the (unqualified) state machine ARN
/// `state_machine_arn`: same partition, region and account, `execution`
/// instead of `stateMachine`. `None` when that is no unqualified state
/// machine ARN.
pub fn execution_of(state_machine_arn: &str, execution_name: &str) -> Option<ExecutionInfo> {
    let parsed = StateMachineArn::parse(state_machine_arn)?;
    if parsed.qualifier.is_some() {
        return None;
    }
    let prefix = parsed.base.strip_suffix(parsed.name)?.strip_suffix("stateMachine:")?;
    Some(ExecutionInfo {
        execution_arn: format!("{prefix}execution:{}:{execution_name}", parsed.name),
        name: execution_name.to_string(),
        state_machine_arn: state_machine_arn.to_string(),
        state_machine_name: parsed.name.to_string(),
        role_arn: default_role_arn(state_machine_arn),
        test_case: None,
    })
}

/// The name of the role an execution runs as when its state machine names
/// none (`stepwasm run`, a store's machine without a `roleArn`).
pub const DEFAULT_ROLE_NAME: &str = "stepwasm-execution";

/// `arn:<partition>:iam::<account>:role/stepwasm-execution`: the role
/// ([`DEFAULT_ROLE_NAME`]) in the partition and account of the state machine
/// ARN `state_machine_arn` (the default ones when it names none).
pub fn default_role_arn(state_machine_arn: &str) -> String {
    let mut parts = state_machine_arn.split(':');
    let partition = parts.nth(1).filter(|p| !p.is_empty()).unwrap_or("aws");
    let account = parts.nth(2).filter(|a| !a.is_empty()).unwrap_or(DEFAULT_ACCOUNT);
    format!("arn:{partition}:iam::{account}:role/{DEFAULT_ROLE_NAME}")
}

/// Whether `arn` is `arn:<partition>:iam::<12-digit account>:role/<path/>name`,
/// as AWS requires of a state machine's (and so an execution's) role.
pub fn is_iam_role_arn(arn: &str) -> bool {
    match arn.split(':').collect::<Vec<_>>().as_slice() {
        ["arn", partition, "iam", "", account, resource] => {
            !partition.is_empty()
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && resource.strip_prefix("role/").is_some_and(|name| !name.is_empty() && !name.ends_with('/'))
        }
        _ => false,
    }
}

/// The region an ARN names (`arn:PARTITION:SERVICE:REGION:…`), empty when it has none.
pub fn region_of(arn: &str) -> &str {
    arn.split(':').nth(3).unwrap_or("")
}

/// What follows a state machine's name in a qualified ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Qualifier<'a> {
    /// A published version: digits (`…:stateMachine:name:2`).
    Version(u32),
    /// An alias: a name with at least one letter, `_`, `-` or `.`.
    Alias(&'a str),
}

/// A state machine ARN taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateMachineArn<'a> {
    /// The unqualified ARN (`arn:…:stateMachine:name`).
    pub base: &'a str,
    pub name: &'a str,
    pub qualifier: Option<Qualifier<'a>>,
}

impl<'a> StateMachineArn<'a> {
    /// `arn:<partition>:states:<region>:<account>:stateMachine:<name>[:<version or alias>]`;
    /// `None` for anything else (a Distributed Map's label `name/label` included).
    pub fn parse(arn: &'a str) -> Option<StateMachineArn<'a>> {
        let parts: Vec<&str> = arn.split(':').collect();
        let shaped = (7..=8).contains(&parts.len())
            && parts[0] == "arn"
            && !parts[1].is_empty()
            && parts[2] == "states"
            && parts[5] == "stateMachine"
            && parts[6..].iter().all(|part| !part.is_empty() && !part.contains('/'));
        if !shaped {
            return None;
        }
        let name = parts[6];
        let qualifier = match parts.get(7) {
            None => None,
            Some(q) if q.bytes().all(|b| b.is_ascii_digit()) => Some(Qualifier::Version(q.parse().ok().filter(|&v| v > 0)?)),
            Some(q) if is_alias_name(q) => Some(Qualifier::Alias(q)),
            Some(_) => return None,
        };
        let base_len = arn.len() - parts.get(7).map_or(0, |q| q.len() + 1);
        Some(StateMachineArn { base: &arn[..base_len], name, qualifier })
    }
}

/// An alias name as AWS allows it: 1 to 80 of `[a-zA-Z0-9_.-]`, at least one
/// of them not a digit (so that it cannot be read as a version number).
pub fn is_alias_name(name: &str) -> bool {
    (1..=80).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
        && name.bytes().any(|b| !b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_arns_follow_their_state_machines_region_and_account() {
        let scope = ArnScope::new("eu-west-1", "123456789012").unwrap();
        let sm = scope.state_machine_arn("order");
        assert_eq!(sm, "arn:aws:states:eu-west-1:123456789012:stateMachine:order");
        let info = execution_of(&sm, "e1").unwrap();
        assert_eq!(info.execution_arn, "arn:aws:states:eu-west-1:123456789012:execution:order:e1");
        assert_eq!((info.state_machine_name.as_str(), info.state_machine_arn.as_str()), ("order", sm.as_str()));
        assert_eq!(execution_info("sm", "a").execution_arn, "arn:aws:states:local:000000000000:execution:sm:a");
        assert_eq!(info.role_arn, "arn:aws:iam::123456789012:role/stepwasm-execution");
        assert_eq!(execution_info("sm", "a").role_arn, "arn:aws:iam::000000000000:role/stepwasm-execution");
        assert_eq!(execution_of(&format!("{sm}:1"), "e"), None, "a version is no state machine to name executions after");
        assert!(ArnScope::new("EU", "123456789012").is_err());
        assert!(ArnScope::new("us-east-1", "1234").is_err());
    }

    #[test]
    fn qualified_arns_name_a_version_or_an_alias() {
        let base = "arn:aws:states:us-east-1:123456789012:stateMachine:order";
        let plain = StateMachineArn::parse(base).unwrap();
        assert_eq!((plain.base, plain.name, plain.qualifier), (base, "order", None));
        let version = format!("{base}:12");
        assert_eq!(StateMachineArn::parse(&version).unwrap().qualifier, Some(Qualifier::Version(12)));
        assert_eq!(StateMachineArn::parse(&version).unwrap().base, base);
        let alias = format!("{base}:PROD-1");
        assert_eq!(StateMachineArn::parse(&alias).unwrap().qualifier, Some(Qualifier::Alias("PROD-1")));
        for bad in [
            "order".to_string(),
            format!("{base}:0"),
            format!("{base}:a:b"),
            format!("{base}/label"),
            format!("{base}:bad!"),
            "arn:aws:lambda:us-east-1:1:stateMachine:x".into(),
        ] {
            assert_eq!(StateMachineArn::parse(&bad), None, "{bad}");
        }
        assert!(is_alias_name("v1.0") && !is_alias_name("123") && !is_alias_name(""));
    }
}
