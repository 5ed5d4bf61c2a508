//! The `http` capability: outgoing requests from a module, only to the URL
//! prefixes its resource was granted.
//!
//! A prefix is matched on parsed URLs, never on strings: scheme, host and port
//! must be equal and the path must continue the prefix's path at a segment
//! boundary, so `http://127.0.0.1:8099/pay/` admits `/pay/charge` but neither
//! `http://127.0.0.1:18099/pay/`, `/payroll`, nor `http://127.0.0.1:8099@evil/`.
//! Redirects are not followed (a redirect could leave the allow-list); the
//! module sees the 3xx response. Every request runs under the grant's timeout
//! (connect to last body byte) and response size cap.

use std::time::Duration;
use url::Url;

/// Methods a module may use.
const METHODS: [&str; 6] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"];
/// Request bodies are capped like task payloads.
pub const MAX_REQUEST_BODY_BYTES: usize = 256 << 10;

/// One allowed URL prefix.
#[derive(Debug, Clone, PartialEq)]
struct AllowedPrefix {
    scheme: String,
    host: String,
    port: u16,
    /// Always ends with `/`.
    path: String,
}

/// What a resource may reach over HTTP, and under which limits.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpGrant {
    allow: Vec<AllowedPrefix>,
    pub timeout: Duration,
    pub max_response_bytes: usize,
}

impl Default for HttpGrant {
    fn default() -> Self {
        HttpGrant { allow: Vec::new(), timeout: Duration::from_secs(10), max_response_bytes: 256 << 10 }
    }
}

/// An http or https URL with a host, without user name or password.
fn parse_target(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("{text:?} is not a valid URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{text:?}: only http:// and https:// URLs are allowed, not {}://", url.scheme()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{text:?}: URLs with a user name or password are not allowed"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{text:?} has no host"));
    }
    Ok(url)
}

impl HttpGrant {
    /// Adds an allowed prefix such as `https://api.example.com/v1/`.
    pub fn allow_prefix(&mut self, prefix: &str) -> Result<(), String> {
        let url = parse_target(prefix)?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!("{prefix:?}: a prefix has no query or fragment"));
        }
        let mut path = url.path().to_string();
        if !path.ends_with('/') {
            path.push('/');
        }
        self.allow.push(AllowedPrefix {
            scheme: url.scheme().to_string(),
            host: url.host_str().unwrap_or_default().to_string(),
            port: url.port_or_known_default().unwrap_or(0),
            path,
        });
        Ok(())
    }

    /// Whether `url` falls under one of the allowed prefixes.
    fn allows(&self, url: &Url) -> bool {
        let host = url.host_str().unwrap_or_default();
        let port = url.port_or_known_default().unwrap_or(0);
        let path = url.path();
        self.allow.iter().any(|p| {
            p.scheme == url.scheme()
                && p.host.eq_ignore_ascii_case(host)
                && p.port == port
                && (path.starts_with(&p.path) || format!("{path}/") == p.path)
        })
    }

    /// Whether every URL under `prefix` falls under this grant (the upload
    /// policy checking the prefixes an upload asks for).
    pub fn covers(&self, prefix: &str) -> Result<bool, String> {
        Ok(self.allows(&parse_target(prefix)?))
    }

    /// The allowed prefixes, for messages.
    fn allowed_list(&self) -> String {
        self.allow.iter().map(|p| format!("{}://{}:{}{}", p.scheme, p.host, p.port, p.path)).collect::<Vec<_>>().join(", ")
    }
}

/// Checks the target of a standard `wasi:http` request, which goes out as the
/// guest wrote it (no URL parser normalises it on the way): `text` is the whole
/// URL, `raw_authority` and `raw_path` its parts as they will be sent. Stricter
/// than [`fetch`]'s check: besides the allow-list, the path must be in normal
/// form (no `.`/`..` segments, no percent-encoded dot, slash or backslash a
/// server could decode into one) and the authority exactly the host (and port)
/// the allow-list compares, so the URL checked is the URL reached.
pub fn check_wasi_target(grant: &HttpGrant, text: &str, raw_authority: &str, raw_path: &str) -> Result<(), String> {
    let url = parse_target(text)?;
    let lower = raw_path.to_ascii_lowercase();
    if lower.contains("%2e") || lower.contains("%2f") || lower.contains("%5c") || lower.contains('\\') {
        return Err(format!("{text}: percent-encoded dots, slashes or backslashes in the path are not allowed"));
    }
    let raw_path = if raw_path.is_empty() { "/" } else { raw_path };
    if url.path() != raw_path {
        return Err(format!("{text}: the path is not in normal form (it would be {}); dot segments are not allowed", url.path()));
    }
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(0);
    let authority = raw_authority.to_ascii_lowercase();
    if authority != host.to_ascii_lowercase() && authority != format!("{host}:{port}").to_ascii_lowercase() {
        return Err(format!("{text}: the authority {raw_authority:?} is not plainly the host {host} (and port)"));
    }
    if !grant.allows(&url) {
        return Err(format!("{text} is not in this resource's http grant (allowed: {})", grant.allowed_list()));
    }
    Ok(())
}

/// A request as the module sent it.
#[derive(Debug, Clone)]
pub struct OutgoingRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The whole response.
#[derive(Debug, Clone)]
pub struct IncomingResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A request that passed [`check_request`].
pub struct Checked {
    pub url: Url,
    /// Upper case, one of [`METHODS`].
    pub method: String,
    /// The grant's timeout or the time left, whichever is sooner.
    pub timeout: Duration,
}

/// Checks `request` against `grant` (URL, method, body size) and the time
/// left; the error is the message the module receives.
pub fn check_request(grant: &HttpGrant, request: &OutgoingRequest, time_left: Duration) -> Result<Checked, String> {
    let timeout = grant.timeout.min(time_left);
    if timeout.is_zero() {
        return Err("no time left in this invocation for a request".into());
    }
    let url = parse_target(&request.url)?;
    if !grant.allows(&url) {
        return Err(format!("{} is not in this resource's http grant (allowed: {})", request.url, grant.allowed_list()));
    }
    let method = request.method.to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(format!("method {:?} is not supported (use one of {})", request.method, METHODS.join(", ")));
    }
    if request.body.len() > MAX_REQUEST_BODY_BYTES {
        return Err(format!("request body is {} bytes, over the limit of {MAX_REQUEST_BODY_BYTES}", request.body.len()));
    }
    Ok(Checked { url, method, timeout })
}

/// [`check_request`] for a module's request through `stepwasm:task/http`,
/// also refusing a percent-encoded dot, slash or backslash in the path (as
/// [`check_wasi_target`] does): the URL parser resolves `..` segments but
/// leaves `..%2f` encoded, and a server that decodes it would serve a path
/// outside the allowed prefix (`/ok/..%2fsecret` under `/ok/`). HTTP Tasks,
/// whose URLs the operator's workflows write, keep [`check_request`].
pub fn check_module_request(grant: &HttpGrant, request: &OutgoingRequest, time_left: Duration) -> Result<Checked, String> {
    let checked = check_request(grant, request, time_left)?;
    let path = checked.url.path().to_ascii_lowercase();
    if path.contains("%2e") || path.contains("%2f") || path.contains("%5c") {
        return Err(format!("{}: percent-encoded dots, slashes or backslashes in the path are not allowed", request.url));
    }
    Ok(checked)
}

/// Checks `request` against `grant` and sends it, waiting at most the grant's
/// timeout or `time_left` (the invocation's own deadline), whichever is
/// sooner. The error is the message the module receives.
pub fn fetch(grant: &HttpGrant, request: &OutgoingRequest, time_left: Duration) -> Result<IncomingResponse, String> {
    let Checked { url, method, timeout } = check_request(grant, request, time_left)?;
    let mut builder = ureq::http::Request::builder().method(method.as_str()).uri(url.as_str());
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let http_request = builder.body(request.body.clone()).map_err(|e| format!("invalid request: {e}"))?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .http_status_as_error(false)
        .allow_non_standard_methods(false)
        .build()
        .into();
    let mut response = agent.run(http_request).map_err(|e| describe(e, timeout))?;
    let status = response.status().as_u16();
    let headers =
        response.headers().iter().map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect();
    let body = response.body_mut().with_config().limit(grant.max_response_bytes as u64).read_to_vec().map_err(|e| match e {
        ureq::Error::BodyExceedsLimit(_) => {
            format!("response body from {} is over the limit of {} bytes", request.url, grant.max_response_bytes)
        }
        other => describe(other, timeout),
    })?;
    Ok(IncomingResponse { status, headers, body })
}

fn describe(error: ureq::Error, timeout: Duration) -> String {
    match error {
        ureq::Error::Timeout(_) => format!("request timed out after {:.3} s", timeout.as_secs_f64()),
        other => format!("request failed: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(prefixes: &[&str]) -> HttpGrant {
        let mut g = HttpGrant::default();
        for p in prefixes {
            g.allow_prefix(p).unwrap();
        }
        g
    }

    fn allows(g: &HttpGrant, url: &str) -> bool {
        g.allows(&parse_target(url).unwrap())
    }

    #[test]
    fn prefixes_match_parsed_urls_at_segment_boundaries() {
        let g = grant(&["http://127.0.0.1:8099/pay/", "https://api.example.com"]);
        assert!(allows(&g, "http://127.0.0.1:8099/pay/charge?x=1"));
        assert!(allows(&g, "http://127.0.0.1:8099/pay"));
        assert!(!allows(&g, "http://127.0.0.1:8099/payroll"));
        assert!(!allows(&g, "http://127.0.0.1:18099/pay/"));
        assert!(!allows(&g, "https://127.0.0.1:8099/pay/"));
        assert!(allows(&g, "https://API.example.com:443/anything"));
        assert!(!allows(&g, "https://api.example.com.evil.net/"));
        assert!(!allows(&g, "http://api.example.com/"));
    }

    #[test]
    fn user_info_and_other_schemes_are_refused() {
        assert!(parse_target("http://127.0.0.1:8099@evil.net/pay/").unwrap_err().contains("user name"));
        assert!(parse_target("file:///etc/passwd").unwrap_err().contains("only http"));
        assert!(HttpGrant::default().allow_prefix("http://x/?q=1").unwrap_err().contains("query"));
    }

    #[test]
    fn a_modules_request_with_an_encoded_dot_or_slash_is_refused() {
        let g = grant(&["http://127.0.0.1:8099/ok/"]);
        let request = |url: &str| OutgoingRequest { method: "GET".into(), url: url.into(), headers: vec![], body: vec![] };
        let check = |url: &str| check_module_request(&g, &request(url), Duration::from_secs(1)).map(|c| c.url.to_string());
        assert_eq!(check("http://127.0.0.1:8099/ok/x").unwrap(), "http://127.0.0.1:8099/ok/x");
        for bypass in ["http://127.0.0.1:8099/ok/..%2fsecret", "http://127.0.0.1:8099/ok/..%5Csecret"] {
            assert!(check(bypass).unwrap_err().contains("percent-encoded"), "{bypass}");
            assert!(check_request(&g, &request(bypass), Duration::from_secs(1)).is_ok(), "HTTP Tasks keep the plain check: {bypass}");
        }
        // Dot segments, encoded or not, the parser resolves: outside the prefix.
        for outside in ["http://127.0.0.1:8099/ok/../secret", "http://127.0.0.1:8099/ok/%2E%2E/secret"] {
            assert!(check(outside).unwrap_err().contains("not in this resource's http grant"), "{outside}");
        }
    }

    #[test]
    fn wasi_targets_are_checked_as_sent() {
        let g = grant(&["http://127.0.0.1:8099/ok/"]);
        let check = |url: &str, authority: &str, path: &str| check_wasi_target(&g, url, authority, path);
        assert_eq!(check("http://127.0.0.1:8099/ok/x?q=1", "127.0.0.1:8099", "/ok/x"), Ok(()));
        let err = check("http://127.0.0.1:8099/ok/../secret", "127.0.0.1:8099", "/ok/../secret").unwrap_err();
        assert!(err.contains("not in normal form"), "{err}");
        let err = check("http://127.0.0.1:8099/ok/%2e%2e/secret", "127.0.0.1:8099", "/ok/%2e%2e/secret").unwrap_err();
        assert!(err.contains("percent-encoded"), "{err}");
        let err = check("http://127.0.0.1:8099/ok/..%2Fsecret", "127.0.0.1:8099", "/ok/..%2Fsecret").unwrap_err();
        assert!(err.contains("percent-encoded"), "{err}");
        let err = check("http://127.1:8099/ok/", "127.1:8099", "/ok/").unwrap_err();
        assert!(err.contains("not plainly the host"), "{err}");
        let err = check("http://u@127.0.0.1:8099/ok/", "u@127.0.0.1:8099", "/ok/").unwrap_err();
        assert!(err.contains("user name"), "{err}");
        let err = check("http://127.0.0.1:8098/ok/", "127.0.0.1:8098", "/ok/").unwrap_err();
        assert!(err.contains("not in this resource's http grant"), "{err}");
    }

    #[test]
    fn refused_before_any_network_traffic() {
        let g = grant(&["http://127.0.0.1:1/ok/"]);
        let req = |url: &str, method: &str| OutgoingRequest { method: method.into(), url: url.into(), headers: vec![], body: vec![] };
        let fetch = |r: &OutgoingRequest| fetch(&g, r, Duration::from_secs(1));
        let err = fetch(&req("http://10.0.0.1/", "GET")).unwrap_err();
        assert!(err.contains("not in this resource's http grant") && err.contains("http://127.0.0.1:1/ok/"), "{err}");
        let err = fetch(&req("http://127.0.0.1:1/ok/x", "CONNECT")).unwrap_err();
        assert!(err.contains("CONNECT"), "{err}");
    }
}
