//! stepwasm's own actions (`X-Amz-Target: Stepwasm.<Action>`): Task
//! resources registered through the API, so a client can deploy a module
//! without touching the host's config file.
//!
//! - `PutTaskResource {resource, config?, moduleBytes}`: the module is
//!   uploaded (`moduleBytes`, base64; a `config.module` name or path is
//!   refused); `config` has the keys of a config `[resources."…"]` table
//!   (limits, `http`, and `kv: true`), within the operator's `[uploads]`
//!   policy (see `runtime::config`). Refused unless it loads as that
//!   resource. The answer says what it got: its kv namespace (its own,
//!   `upload:<resource>`), http prefixes and limits.
//! - `ListTaskResources {}`, `DeleteTaskResource {resource}`.
//!
//! Errors: `ValidationException` (a bad entry, a limit over its ceiling, a
//! refused grant or module path), `AccessDeniedException` (uploads turned
//! off), `ConflictException` (a resource the operator's config defines),
//! `InvalidModule` (the bytes do not load as that resource, in one shape
//! whatever the reason), `ResourceNotFound` (deleting what is not there).

use super::protocol::{date, ApiError, Params};
use super::Api;
use crate::driver::{Clock, SystemClock};
use crate::machines::RegisterError;
use crate::runtime::config::EntryError;
use crate::store::Store;
use serde_json::{json, Value};

/// The actions this module answers.
pub const ACTIONS: &[&str] = &["PutTaskResource", "ListTaskResources", "DeleteTaskResource"];

pub fn dispatch(api: &Api, action: &str, params: Params) -> Result<Value, ApiError> {
    match action {
        "PutTaskResource" => put(api, &params),
        "ListTaskResources" => list(api),
        "DeleteTaskResource" => delete(api, &params),
        other => Err(ApiError::new(
            "UnknownOperationException",
            format!("unknown action Stepwasm.{other:?}; stepwasm's own actions are {}", ACTIONS.join(", ")),
        )),
    }
}

fn resource_name(params: &Params) -> Result<&str, ApiError> {
    let resource = params.required_str("resource")?;
    if resource.is_empty() || resource.chars().count() > 256 || resource.chars().any(char::is_control) {
        return Err(ApiError::validation(format!("resource {resource:?}: 1 to 256 characters, no control characters")));
    }
    Ok(resource)
}

fn put(api: &Api, params: &Params) -> Result<Value, ApiError> {
    use base64::Engine;
    let resource = resource_name(params)?;
    let config = params.optional_object("config")?.unwrap_or_else(|| json!({}));
    let module = match params.optional_str("moduleBytes")? {
        Some(text) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| ApiError::validation(format!("moduleBytes is not base64: {e}")))?,
        ),
        None => None,
    };
    let registered =
        api.machines.register(&*api.store, resource, &config, module.as_deref(), SystemClock.now_ms()).map_err(register_error)?;
    let (limits, grants) = (&registered.spec.limits, &registered.spec.grants);
    Ok(json!({
        "resource": resource,
        "moduleSha256": registered.module_sha256,
        "kvNamespace": grants.kv,
        "httpAllow": grants.http.as_ref().and_then(|_| config.get("http")).and_then(|h| h.get("allow")).cloned(),
        "limits": {
            "fuel": limits.fuel,
            "memory_mib": limits.memory_bytes >> 20,
            "timeout_seconds": limits.timeout.as_secs_f64(),
            "max_input_kib": limits.max_input_bytes >> 10,
            "max_output_kib": limits.max_output_bytes >> 10,
            "max_log_lines": limits.max_log_lines,
            "max_log_kib": limits.max_log_bytes >> 10,
            "max_http_calls": limits.max_http_calls,
        },
    }))
}

fn register_error(e: RegisterError) -> ApiError {
    match e {
        RegisterError::Entry(EntryError::Disabled) => ApiError::new("AccessDeniedException", EntryError::Disabled.to_string()),
        RegisterError::Entry(refused) => ApiError::validation(refused.to_string()),
        e @ RegisterError::OperatorOwned(_) => ApiError::new("ConflictException", e.to_string()),
        RegisterError::Module(message) => ApiError::new("InvalidModule", message),
        other => ApiError::internal(other),
    }
}

fn list(api: &Api) -> Result<Value, ApiError> {
    let resources: Vec<Value> = api
        .store
        .task_resources()?
        .into_iter()
        .map(|r| json!({"resource": r.resource, "config": r.config, "moduleSha256": r.module_sha256, "registeredDate": date(r.registered_ms)}))
        .collect();
    Ok(json!({"resources": resources}))
}

fn delete(api: &Api, params: &Params) -> Result<Value, ApiError> {
    let resource = resource_name(params)?;
    if api.machines.unregister(&*api.store, resource).map_err(register_error)? {
        Ok(json!({}))
    } else {
        Err(ApiError::new("ResourceNotFound", format!("no resource {resource:?} was registered through the API")))
    }
}
