//! Who may call the API. Open by default (the AWS CLI and SDKs sign every
//! request with whatever credentials they have, and any signature is taken);
//! with a shared secret (`--api-secret KEY_ID:SECRET`), a request must carry
//! an AWS Signature Version 4 made with that key, as the CLI and SDKs make
//! it when given those credentials, or `Authorization: Bearer <SECRET>` (the
//! console). The region a request is signed for is the region of the ARNs
//! it is answered with ([`signing_region`]).

use super::protocol::ApiError;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// How far a signed request's `X-Amz-Date` may be from now, as AWS allows.
const MAX_CLOCK_SKEW_MS: i64 = 15 * 60 * 1000;

/// The API's access rule.
#[derive(Debug, Clone)]
pub enum Access {
    Open,
    SharedSecret { key_id: String, secret: String },
}

impl Access {
    /// `KEY_ID:SECRET`, as `--api-secret` takes it.
    pub fn shared_secret(spec: &str) -> Result<Access, String> {
        match spec.split_once(':') {
            Some((key_id, secret)) if !key_id.is_empty() && !secret.is_empty() => {
                Ok(Access::SharedSecret { key_id: key_id.to_string(), secret: secret.to_string() })
            }
            _ => Err("--api-secret must be KEY_ID:SECRET (the access key id and secret key that clients sign with)".into()),
        }
    }
}

/// What the check needs of a request.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    /// Every header, names in any case.
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
    pub now_ms: i64,
}

impl SignedRequest<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Lets the request through, or says why not (403, AWS's codes).
pub fn check(access: &Access, request: &SignedRequest) -> Result<(), ApiError> {
    let Access::SharedSecret { key_id, secret } = access else { return Ok(()) };
    let Some(authorization) = request.header("authorization") else {
        return Err(forbidden(
            "MissingAuthenticationToken",
            "Missing Authentication Token: this API needs a signed request or a bearer secret",
        ));
    };
    if let Some(bearer) = authorization.strip_prefix("Bearer ") {
        return if equal_in_constant_time(bearer.trim().as_bytes(), secret.as_bytes()) {
            Ok(())
        } else {
            Err(forbidden("UnrecognizedClientException", "The bearer secret is not the one this API was given"))
        };
    }
    let Some(fields) = authorization.strip_prefix("AWS4-HMAC-SHA256 ") else {
        return Err(forbidden("IncompleteSignatureException", "Authorization must be an AWS4-HMAC-SHA256 signature or a Bearer secret"));
    };
    let auth = parse_authorization(fields)?;
    let scope: Vec<&str> = auth.credential.split('/').collect();
    let [given_key, date, region, service, "aws4_request"] = scope[..] else {
        return Err(forbidden(
            "IncompleteSignatureException",
            format!("Credential {:?} is not KEY/DATE/REGION/SERVICE/aws4_request", auth.credential),
        ));
    };
    if given_key != key_id {
        return Err(forbidden(
            "UnrecognizedClientException",
            "The security token included in the request is invalid: unknown access key id",
        ));
    }
    let amz_date = request
        .header("x-amz-date")
        .ok_or_else(|| forbidden("IncompleteSignatureException", "A signed request needs an X-Amz-Date header"))?;
    let signed_at = chrono::NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ")
        .map_err(|_| forbidden("IncompleteSignatureException", format!("X-Amz-Date {amz_date:?} is not YYYYMMDDTHHMMSSZ")))?
        .and_utc()
        .timestamp_millis();
    if (signed_at - request.now_ms).abs() > MAX_CLOCK_SKEW_MS {
        return Err(forbidden(
            "InvalidSignatureException",
            format!("Signature expired: X-Amz-Date {amz_date} is more than 15 minutes from the server's time"),
        ));
    }
    if !amz_date.starts_with(date) {
        return Err(forbidden("InvalidSignatureException", "The credential scope's date is not the day of X-Amz-Date"));
    }
    let mut canonical_headers = String::new();
    for name in &auth.signed_headers {
        let value = request
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>();
        if value.is_empty() {
            return Err(forbidden("InvalidSignatureException", format!("Signed header {name:?} is not in the request")));
        }
        canonical_headers.push_str(&format!("{name}:{}\n", value.join(",")));
    }
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method,
        request.path,
        canonical_query(request.query),
        canonical_headers,
        auth.signed_headers.join(";"),
        hex(&Sha256::digest(request.body))
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/{service}/aws4_request\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    for part in [region, service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let signature = decode_hex(&auth.signature).ok_or_else(|| forbidden("IncompleteSignatureException", "Signature is not hexadecimal"))?;
    let mut mac = HmacSha256::new_from_slice(&key).expect("HMAC takes keys of any length");
    mac.update(string_to_sign.as_bytes());
    mac.verify_slice(&signature).map_err(|_| {
        forbidden(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.",
        )
    })
}

/// The region a request is signed for (its SigV4 credential scope,
/// `KEY/DATE/REGION/SERVICE/aws4_request`): the region the client uses, so
/// the ARNs it is answered with carry it. `None` when the request is not
/// SigV4-signed or the scope names no valid region. Under a shared secret
/// [`check`] has verified the scope with the signature; open access takes
/// it as given, as it takes any signature.
pub fn signing_region(request: &SignedRequest) -> Option<String> {
    let fields = request.header("authorization")?.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let credential = parse_authorization(fields).ok()?.credential;
    let region = credential.split('/').nth(2)?;
    crate::engine::arn::is_region(region).then(|| region.to_string())
}

fn forbidden(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::with_status(403, code, message)
}

struct Authorization {
    credential: String,
    signed_headers: Vec<String>,
    signature: String,
}

fn parse_authorization(fields: &str) -> Result<Authorization, ApiError> {
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for field in fields.split(',') {
        match field.trim().split_once('=') {
            Some(("Credential", v)) => credential = Some(v.to_string()),
            Some(("SignedHeaders", v)) => signed_headers = Some(v.split(';').map(str::to_ascii_lowercase).collect()),
            Some(("Signature", v)) => signature = Some(v.to_string()),
            _ => {}
        }
    }
    match (credential, signed_headers, signature) {
        (Some(credential), Some(signed_headers), Some(signature)) => Ok(Authorization { credential, signed_headers, signature }),
        _ => Err(forbidden("IncompleteSignatureException", "Authorization needs Credential, SignedHeaders and Signature")),
    }
}

/// The query string with its parameters sorted (clients send them encoded).
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<String> =
        query.split('&').filter(|p| !p.is_empty()).map(|p| if p.contains('=') { p.to_string() } else { format!("{p}=") }).collect();
    pairs.sort();
    pairs.join("&")
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

fn equal_in_constant_time(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's published SigV4 example ("get-vanilla" of the SigV4 test suite):
    /// GET / of example.amazonaws.com on 2015-08-30T12:36:00Z, service
    /// "service", region us-east-1, key AKIDEXAMPLE.
    fn vanilla(signature: &str, now_ms: i64) -> SignedRequest<'static> {
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature={signature}"
        );
        SignedRequest {
            method: "GET",
            path: "/",
            query: "",
            headers: vec![
                ("Host".into(), "example.amazonaws.com".into()),
                ("X-Amz-Date".into(), "20150830T123600Z".into()),
                ("Authorization".into(), authorization),
            ],
            body: b"",
            now_ms,
        }
    }

    const VANILLA_SIGNATURE: &str = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
    const SIGNED_AT_MS: i64 = 1_440_938_160_000;

    fn example_key() -> Access {
        Access::shared_secret("AKIDEXAMPLE:wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY").unwrap()
    }

    #[test]
    fn a_signature_made_with_the_secret_is_accepted_and_any_other_refused() {
        assert_eq!(check(&example_key(), &vanilla(VANILLA_SIGNATURE, SIGNED_AT_MS)), Ok(()));
        let forged = VANILLA_SIGNATURE.replace('5', "6");
        assert_eq!(check(&example_key(), &vanilla(&forged, SIGNED_AT_MS)).unwrap_err().code, "InvalidSignatureException");
        let late = check(&example_key(), &vanilla(VANILLA_SIGNATURE, SIGNED_AT_MS + 16 * 60 * 1000)).unwrap_err();
        assert!(late.message.contains("expired"), "{late:?}");
        let other_key = Access::shared_secret("AKIDOTHER:x").unwrap();
        assert_eq!(check(&other_key, &vanilla(VANILLA_SIGNATURE, SIGNED_AT_MS)).unwrap_err().code, "UnrecognizedClientException");
    }

    #[test]
    fn the_signing_region_is_the_credential_scopes() {
        assert_eq!(signing_region(&vanilla(VANILLA_SIGNATURE, SIGNED_AT_MS)).as_deref(), Some("us-east-1"));
        let mut unsigned = vanilla("", SIGNED_AT_MS);
        unsigned.headers.retain(|(n, _)| n != "Authorization");
        assert_eq!(signing_region(&unsigned), None);
        unsigned.headers.push(("Authorization".into(), "Bearer x".into()));
        assert_eq!(signing_region(&unsigned), None);
        let odd = "AWS4-HMAC-SHA256 Credential=K/20150830/EU WEST/states/aws4_request, SignedHeaders=host, Signature=00";
        unsigned.headers.last_mut().unwrap().1 = odd.into();
        assert_eq!(signing_region(&unsigned), None, "not a region an ARN can carry");
    }

    #[test]
    fn open_access_takes_anything_and_a_secret_needs_credentials() {
        let mut unsigned = vanilla("", SIGNED_AT_MS);
        unsigned.headers.retain(|(n, _)| n != "Authorization");
        assert_eq!(check(&Access::Open, &unsigned), Ok(()));
        assert_eq!(check(&example_key(), &unsigned).unwrap_err().code, "MissingAuthenticationToken");
        unsigned.headers.push(("authorization".into(), "Bearer wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into()));
        assert_eq!(check(&example_key(), &unsigned), Ok(()));
        unsigned.headers.last_mut().unwrap().1 = "Bearer nope".into();
        assert_eq!(check(&example_key(), &unsigned).unwrap_err().status, 403);
        assert!(Access::shared_secret("no-colon").is_err());
    }
}
