//! stepwasm's own actions (`X-Amz-Target: Stepwasm.<Action>`): Task
//! resources registered through the API, so a client can deploy a module
//! without touching the host's config file.
//!
//! - `PutTaskResource {resource, config?, moduleBytes?}`: `config` has the
//!   keys of a config `[resources."…"]` table (`module`, limits, `kv`,
//!   `http` grants); the module is uploaded (`moduleBytes`, base64) or named
//!   by `config.module`. Refused unless it loads as that resource.
//! - `ListTaskResources {}`, `DeleteTaskResource {resource}`.

use super::protocol::{date, ApiError, Params};
use super::Api;
use crate::driver::{Clock, SystemClock};
use crate::machines::RegisterError;
use crate::store::Store;
use serde_json::{json, Value};

/// The actions this module answers.
pub const ACTIONS: &[&str] = &["PutTaskResource", "ListTaskResources", "DeleteTaskResource"];

pub fn dispatch(api: &Api, action: &str, params: Params) -> Result<Value, ApiError> {
    match action {
        "PutTaskResource" => put(api, &params),
        "ListTaskResources" => list(api),
        "DeleteTaskResource" => delete(api, &params),
        other => Err(ApiError::new("UnknownOperationException", format!("unknown action Stepwasm.{other:?}; stepwasm's own actions are {}", ACTIONS.join(", ")))),
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
    let spec = api.machines.register(&*api.store, resource, &config, module.as_deref(), SystemClock.now_ms()).map_err(|e| match e {
        RegisterError::Entry(message) => ApiError::validation(message),
        RegisterError::Module(message) => ApiError::new("InvalidModule", message),
        other => ApiError::internal(other),
    })?;
    Ok(json!({"resource": resource, "modulePath": spec.module_path.display().to_string()}))
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
    if api.machines.unregister(&*api.store, resource).map_err(ApiError::internal)? {
        Ok(json!({}))
    } else {
        Err(ApiError::new("ResourceNotFound", format!("no resource {resource:?} was registered through the API")))
    }
}
