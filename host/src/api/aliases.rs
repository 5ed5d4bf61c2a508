//! State machine aliases as AWS has them: Create/Describe/Update/List/
//! DeleteStateMachineAlias. An alias (`…:stateMachine:<name>:<alias>`)
//! routes each execution started through it to one of one or two published
//! versions of its state machine, chosen at random by weight (the weights
//! sum to 100; [`pick`]).

use super::pagination::{number_key, page, Order};
use super::protocol::{date, ApiError, Params};
use super::versions::{parse_arn, unqualified};
use super::Api;
use crate::engine::arn::{is_alias_name, Qualifier, StateMachineArn};
use crate::store::{AliasRecord, RoutingEntry, Store};
use serde_json::{json, Value};

/// AWS's limit of aliases per state machine.
const MAX_ALIASES: usize = 100;

/// The version an execution started through `alias` runs, for `roll`, a
/// number from 0 to 99 drawn uniformly: each version gets the share of rolls
/// its weight says.
pub fn pick(alias: &AliasRecord, roll: u32) -> &str {
    let mut below = 0;
    for entry in &alias.routing {
        below += entry.weight;
        if roll < below {
            return &entry.version_arn;
        }
    }
    // Weights sum to 100 (checked when the alias was written).
    alias.routing.last().map_or("", |entry| entry.version_arn.as_str())
}

/// A uniform draw from 0 to 99 for [`pick`].
pub fn roll() -> u32 {
    (uuid::Uuid::new_v4().as_u128() % 100) as u32
}

fn invalid_routing(message: impl std::fmt::Display) -> ApiError {
    ApiError::validation(format!("Invalid routingConfiguration: {message}"))
}

fn not_found(what: &str, arn: &str) -> ApiError {
    ApiError::new("ResourceNotFound", format!("Resource Not Found: {what} '{arn}'"))
}

/// `routingConfiguration` checked as AWS checks it: one or two entries, each
/// a version ARN of one and the same state machine, distinct, weights 0 to
/// 100 summing to 100. Returns the entries and that state machine's ARN.
fn routing(given: &Value) -> Result<(Vec<RoutingEntry>, String), ApiError> {
    let Some(items) = given.as_array() else {
        return Err(ApiError::new("SerializationException", "'routingConfiguration' must be a list"));
    };
    if !(1..=2).contains(&items.len()) {
        return Err(invalid_routing(format!("{} entries; an alias routes to one or two versions", items.len())));
    }
    let mut entries = Vec::new();
    let mut machine: Option<String> = None;
    for (i, item) in items.iter().enumerate() {
        let version_arn = item.get("stateMachineVersionArn").and_then(Value::as_str);
        let weight = item.get("weight").and_then(Value::as_u64);
        let (Some(version_arn), Some(weight)) = (version_arn, weight) else {
            return Err(invalid_routing(format!(
                "routingConfiguration[{i}] needs stateMachineVersionArn (a string) and weight (0 to 100)"
            )));
        };
        if weight > 100 {
            return Err(invalid_routing(format!("routingConfiguration[{i}]: weight {weight} is over 100")));
        }
        let parsed = parse_arn(&format!("routingConfiguration[{i}].stateMachineVersionArn"), version_arn)?;
        if !matches!(parsed.qualifier, Some(Qualifier::Version(_))) {
            return Err(invalid_routing(format!(
                "routingConfiguration[{i}]: {version_arn:?} is not a version ARN (…:stateMachine:<name>:<number>)"
            )));
        }
        match &machine {
            Some(base) if base != parsed.base => {
                return Err(invalid_routing("the versions of an alias belong to one state machine"));
            }
            _ => machine = Some(parsed.base.to_string()),
        }
        if entries.iter().any(|e: &RoutingEntry| e.version_arn == version_arn) {
            return Err(invalid_routing(format!("{version_arn} is named twice")));
        }
        entries.push(RoutingEntry { version_arn: version_arn.to_string(), weight: weight as u32 });
    }
    let total: u32 = entries.iter().map(|e| e.weight).sum();
    if total != 100 {
        return Err(invalid_routing(format!("the weights sum to {total}; they must sum to 100")));
    }
    Ok((entries, machine.unwrap_or_default()))
}

fn description(params: &Params) -> Result<Option<String>, ApiError> {
    let description = params.optional_str("description")?;
    if description.is_some_and(|d| d.chars().count() > 256) {
        return Err(ApiError::validation(
            "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 256",
        ));
    }
    Ok(description.map(str::to_string))
}

/// An alias ARN (`…:stateMachine:<name>:<alias>`), or `InvalidArn`.
fn alias_arn<'a>(field: &str, arn: &'a str) -> Result<StateMachineArn<'a>, ApiError> {
    let parsed = parse_arn(field, arn)?;
    if !matches!(parsed.qualifier, Some(Qualifier::Alias(_))) {
        return Err(ApiError::new(
            "InvalidArn",
            format!("Invalid Arn: '{field}' is {arn:?}, not an alias ARN (…:stateMachine:<name>:<alias>)"),
        ));
    }
    Ok(parsed)
}

/// Writes `alias`, refusing a version that is not (any longer) there.
fn save(api: &Api, alias: &AliasRecord) -> Result<(), ApiError> {
    api.store.put_alias(alias)?.map_err(|missing| not_found("state machine version", &missing))
}

/// CreateStateMachineAlias: on the state machine its versions belong to;
/// the same name, description and routing again is the same alias.
pub fn create(api: &Api, params: &Params) -> Result<Value, ApiError> {
    let name = params.required_str("name")?;
    if !is_alias_name(name) {
        return Err(ApiError::new(
            "InvalidName",
            format!("Invalid Name: alias name {name:?}: 1 to 80 of letters, digits, '_', '-' and '.', not only digits"),
        ));
    }
    let description = description(params)?;
    let given = params.required_list("routingConfiguration")?;
    let (routing, machine_arn) = routing(&given)?;
    if api.store.describe_state_machine(&machine_arn)?.is_none() {
        return Err(not_found("state machine", &machine_arn));
    }
    let arn = format!("{machine_arn}:{name}");
    if let Some(existing) = api.store.alias(&arn)? {
        if existing.description == description && existing.routing == routing {
            return Ok(json!({"stateMachineAliasArn": arn, "creationDate": date(existing.created_ms)}));
        }
        return Err(ApiError::new("ConflictException", format!("Alias '{arn}' exists with another description or routing")));
    }
    if api.store.aliases(&machine_arn)?.len() >= MAX_ALIASES {
        return Err(ApiError::new(
            "ServiceQuotaExceededException",
            format!("'{machine_arn}' has {MAX_ALIASES} aliases, the most AWS allows"),
        ));
    }
    let now_ms = chrono::Utc::now().timestamp_millis();
    let alias = AliasRecord {
        arn: arn.clone(),
        state_machine_arn: machine_arn,
        name: name.to_string(),
        description,
        routing,
        created_ms: now_ms,
        updated_ms: now_ms,
    };
    save(api, &alias)?;
    Ok(json!({"stateMachineAliasArn": arn, "creationDate": date(now_ms)}))
}

fn existing(api: &Api, params: &Params) -> Result<AliasRecord, ApiError> {
    let arn = params.required_str("stateMachineAliasArn")?;
    alias_arn("stateMachineAliasArn", arn)?;
    api.store.alias(arn)?.ok_or_else(|| not_found("state machine alias", arn))
}

/// DescribeStateMachineAlias.
pub fn describe(api: &Api, params: &Params) -> Result<Value, ApiError> {
    let alias = existing(api, params)?;
    let mut response = json!({
        "stateMachineAliasArn": alias.arn,
        "name": alias.name,
        "routingConfiguration": alias.routing,
        "creationDate": date(alias.created_ms),
        "updateDate": date(alias.updated_ms),
    });
    if let Some(description) = &alias.description {
        response["description"] = json!(description);
    }
    Ok(response)
}

/// UpdateStateMachineAlias: its description, its routing, or both.
pub fn update(api: &Api, params: &Params) -> Result<Value, ApiError> {
    let mut alias = existing(api, params)?;
    let description = description(params)?;
    let given = params.optional_list("routingConfiguration")?;
    if description.is_none() && given.is_none() {
        return Err(ApiError::validation("give a description or a routingConfiguration (or both) to update an alias"));
    }
    if let Some(given) = given {
        let (routing, machine_arn) = routing(&given)?;
        if machine_arn != alias.state_machine_arn {
            return Err(invalid_routing(format!("the versions must be of the alias's state machine '{}'", alias.state_machine_arn)));
        }
        alias.routing = routing;
    }
    if description.is_some() {
        alias.description = description;
    }
    alias.updated_ms = chrono::Utc::now().timestamp_millis();
    save(api, &alias)?;
    Ok(json!({"updateDate": date(alias.updated_ms)}))
}

/// ListStateMachineAliases: of a state machine, or of the aliases routing
/// to one of its versions; newest first.
pub fn list(api: &Api, params: &Params) -> Result<Value, ApiError> {
    let size = params.page_size(100, 1000)?;
    let given = params.required_str("stateMachineArn")?;
    let parsed = parse_arn("stateMachineArn", given)?;
    if api.store.describe_state_machine(parsed.base)?.is_none() {
        return Err(ApiError::new("StateMachineDoesNotExist", format!("State Machine Does Not Exist: '{}'", parsed.base)));
    }
    let mut aliases = api.store.aliases(parsed.base)?;
    match parsed.qualifier {
        None => {}
        Some(Qualifier::Version(n)) => {
            if api.store.published_version(parsed.base, n)?.is_none() {
                return Err(not_found("state machine version", given));
            }
            aliases.retain(|alias| alias.routing.iter().any(|entry| entry.version_arn == given));
        }
        Some(Qualifier::Alias(_)) => {
            unqualified("stateMachineArn", given)?;
        }
    }
    let operation = format!("ListStateMachineAliases {given}");
    let key = |alias: &AliasRecord| format!("{}\n{}", number_key(alias.created_ms), alias.name);
    let (shown, next) = page(&aliases, params.optional_str("nextToken")?, size, &operation, Order::Descending, key)?;
    let listed: Vec<Value> =
        shown.iter().map(|alias| json!({"stateMachineAliasArn": alias.arn, "creationDate": date(alias.created_ms)})).collect();
    let mut response = json!({"stateMachineAliases": listed});
    if let Some(token) = next {
        response["nextToken"] = json!(token);
    }
    Ok(response)
}

/// DeleteStateMachineAlias: its versions stay.
pub fn delete(api: &Api, params: &Params) -> Result<Value, ApiError> {
    let arn = params.required_str("stateMachineAliasArn")?;
    alias_arn("stateMachineAliasArn", arn)?;
    if !api.store.delete_alias(arn)? {
        return Err(not_found("state machine alias", arn));
    }
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alias(weights: &[u32]) -> AliasRecord {
        AliasRecord {
            arn: "arn:aws:states:r:123456789012:stateMachine:m:a".into(),
            state_machine_arn: "arn:aws:states:r:123456789012:stateMachine:m".into(),
            name: "a".into(),
            description: None,
            routing: weights.iter().enumerate().map(|(i, &weight)| RoutingEntry { version_arn: format!("v{}", i + 1), weight }).collect(),
            created_ms: 0,
            updated_ms: 0,
        }
    }

    #[test]
    fn each_version_gets_its_weight_of_the_rolls() {
        let split = alias(&[30, 70]);
        let firsts = (0..100).filter(|&roll| pick(&split, roll) == "v1").count();
        assert_eq!(firsts, 30);
        let all = alias(&[100, 0]);
        assert!((0..100).all(|roll| pick(&all, roll) == "v1"));
        assert!((0..1000).map(|_| roll()).all(|r| r < 100));
    }

    #[test]
    fn routing_is_checked_as_aws_checks_it() {
        let v = |n: u32| format!("arn:aws:states:r:123456789012:stateMachine:m:{n}");
        let ok = json!([{"stateMachineVersionArn": v(1), "weight": 50}, {"stateMachineVersionArn": v(2), "weight": 50}]);
        let (entries, machine) = routing(&ok).unwrap();
        assert_eq!((entries.len(), machine.as_str()), (2, "arn:aws:states:r:123456789012:stateMachine:m"));
        for bad in [
            json!([]),
            json!([{"stateMachineVersionArn": v(1), "weight": 60}]),
            json!([{"stateMachineVersionArn": v(1), "weight": 50}, {"stateMachineVersionArn": v(1), "weight": 50}]),
            json!([{"stateMachineVersionArn": v(1), "weight": 50}, {"stateMachineVersionArn": "arn:aws:states:r:123456789012:stateMachine:n:1", "weight": 50}]),
            json!([{"stateMachineVersionArn": "arn:aws:states:r:123456789012:stateMachine:m:prod", "weight": 100}]),
            json!([{"stateMachineVersionArn": v(1), "weight": 101}]),
            json!([{"stateMachineVersionArn": v(1), "weight": 40}, {"stateMachineVersionArn": v(2), "weight": 40}, {"stateMachineVersionArn": v(3), "weight": 20}]),
        ] {
            assert_eq!(routing(&bad).unwrap_err().code, "ValidationException", "{bad}");
        }
    }
}
