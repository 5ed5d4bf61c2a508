//! Payment verification: approves or rejects an order's card payment.
//!
//! Rules, checked in order (the first that fails names the reason):
//! 1. the currency is one we accept;
//! 2. the card number is 12–19 digits and passes the Luhn checksum;
//! 3. the card is not on the decline list (test cards that issuers decline);
//! 4. the amount charged equals the order total (sum of price × quantity);
//! 5. the amount is positive and within the per-order limit.
//!
//! A rejection is the ASL error `PaymentVerificationFailed`; an approval is the
//! order itself with the verdict added as `paymentResult` (a deterministic
//! authorisation code, so replays give the same output): each step of the
//! order workflow passes the whole order on, as the seed's definition (no
//! `Parameters`, no `ResultPath`) needs; a definition that wants only the
//! verdict selects it (`ResultSelector`, see examples/order/order.asl.json).
//!
//! With an optional `gateway` (a URL) in the input, an order that passes the
//! local rules is then authorised by that gateway through the host's `http`
//! capability (the resource must be granted the URL): a POST of
//! `{"orderId", "amount", "currency", "cardLast4"}` as JSON.
//! - 2xx with `{"approved": true, "authorization": "..."}`: approved, and the
//!   output's `authorizationCode` is the gateway's;
//! - 2xx with `{"approved": false, "reason": "..."}`: `PaymentVerificationFailed`
//!   with the gateway's reason;
//! - any other status, a body of another shape, or no response at all (refused,
//!   timed out, unreachable): `PaymentGatewayUnavailable`, with a cause naming
//!   the status or the error, so a definition can Retry it.
//!
//! Built for wasm32 the crate is `no_std` (with `alloc`): its component
//! imports nothing of WASI, only `stepwasm:task`.

#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

use alloc::{
    boxed::Box,
    format,
    string::{String, ToString},
    vec::Vec,
};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use stepwasm_guest::{http, log, Context, TaskError, WholeInput};

/// Largest amount, in cents, a single order may charge.
pub const LIMIT_CENTS: i64 = 10_000_00;
/// Cards that pass the checksum but that the (simulated) issuer declines.
pub const DECLINED_CARDS: &[&str] = &["4000000000000002", "4000000000009995"];
const CURRENCIES: &[&str] = &["USD", "EUR", "GBP"];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRequest {
    pub order_id: String,
    pub payment: Payment,
    pub items: Vec<Item>,
    /// The URL of a payment gateway that must also approve the payment.
    #[serde(default)]
    pub gateway: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    pub card_number: String,
    pub amount: f64,
    pub currency: String,
}

#[derive(Debug, Deserialize)]
pub struct Item {
    pub sku: String,
    pub quantity: u32,
    pub price: f64,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    pub approved: bool,
    pub authorization_code: String,
    pub amount: f64,
    pub currency: String,
    pub card_last4: String,
}

fn to_cents(amount: f64) -> i64 {
    round_to_i64(amount * 100.0)
}

/// `x.round() as i64` (half away from zero, saturating, NaN as 0) without
/// std: `f64::round` is not in `core`. Exact: below 2^52 the fraction
/// `x - trunc(x)` is representable, and from there on every f64 is whole.
fn round_to_i64(x: f64) -> i64 {
    let whole = x as i64; // truncates toward zero, saturating; NaN is 0
    let fraction = x - whole as f64;
    if fraction >= 0.5 {
        whole.saturating_add(1)
    } else if fraction <= -0.5 {
        whole.saturating_sub(1)
    } else {
        whole
    }
}

fn luhn_ok(digits: &str) -> bool {
    let mut sum = 0;
    for (i, c) in digits.chars().rev().enumerate() {
        let mut d = c.to_digit(10).unwrap_or(0);
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

/// FNV-1a: a stable, dependency-free hash for the authorisation code.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, b| (h ^ *b as u64).wrapping_mul(0x100000001b3))
}

fn reject(cause: String) -> TaskError {
    log::warn(&format!("payment rejected: {cause}"));
    TaskError::new("PaymentVerificationFailed", cause)
}

/// The ASL error for a gateway that gave no usable answer (worth retrying).
pub const GATEWAY_UNAVAILABLE: &str = "PaymentGatewayUnavailable";

fn unavailable(cause: String) -> TaskError {
    log::warn(&format!("payment gateway unavailable: {cause}"));
    TaskError::new(GATEWAY_UNAVAILABLE, cause)
}

/// What the gateway is sent.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayRequest<'a> {
    pub order_id: &'a str,
    pub amount: f64,
    pub currency: &'a str,
    pub card_last4: &'a str,
}

#[derive(Debug, Deserialize)]
struct GatewayReply {
    approved: bool,
    #[serde(default)]
    authorization: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// Reads the gateway's answer: `Ok(authorization code)` when approved.
pub fn gateway_verdict(url: &str, resp: &http::Response) -> Result<String, TaskError> {
    if !resp.is_success() {
        return Err(unavailable(format!("gateway {url} answered HTTP {}", resp.status)));
    }
    let reply: GatewayReply = resp
        .json()
        .map_err(|e| unavailable(format!("gateway {url} answered HTTP {} with an unreadable body: {}", resp.status, e.message())))?;
    match reply {
        GatewayReply { approved: true, authorization: Some(code), .. } if !code.is_empty() => Ok(code),
        GatewayReply { approved: true, .. } => {
            Err(unavailable(format!("gateway {url} approved the payment without an authorization code")))
        }
        GatewayReply { approved: false, reason, .. } => Err(reject(format!(
            "declined by the payment gateway: {}",
            reason.filter(|r| !r.is_empty()).as_deref().unwrap_or("no reason given")
        ))),
    }
}

/// Asks the gateway at `url` to authorise the payment.
fn authorise(url: &str, body: &GatewayRequest) -> Result<String, TaskError> {
    let req = http::Request::post_json(url, body)
        .map_err(|e| unavailable(format!("cannot build the gateway request: {}", e.message())))?
        .header("accept", "application/json");
    let resp = http::fetch(&req).map_err(|e| unavailable(format!("no response from gateway {url}: {}", e.message())))?;
    gateway_verdict(url, &resp)
}

/// The handler: verifies the order's payment against the rules above and
/// returns the order with the verdict added as `paymentResult`.
pub fn verify(order: WholeInput<PaymentRequest>, ctx: &Context) -> Result<Box<RawValue>, TaskError> {
    let verdict = check(&order.request, ctx)?;
    order.with_result("paymentResult", &verdict)
}

/// The verdict on `req`'s payment.
fn check(req: &PaymentRequest, ctx: &Context) -> Result<Verdict, TaskError> {
    let p = &req.payment;
    if !CURRENCIES.contains(&p.currency.as_str()) {
        return Err(reject(format!("currency {} is not accepted", p.currency)));
    }
    let card: String = p.card_number.chars().filter(|c| *c != ' ' && *c != '-').collect();
    if !(12..=19).contains(&card.len()) || !card.chars().all(|c| c.is_ascii_digit()) {
        return Err(reject("card number must be 12 to 19 digits".into()));
    }
    if !luhn_ok(&card) {
        return Err(reject("card number fails the Luhn checksum".into()));
    }
    if DECLINED_CARDS.contains(&card.as_str()) {
        return Err(reject(format!("card ending {} was declined by the issuer", &card[card.len() - 4..])));
    }
    let charged = to_cents(p.amount);
    let total: i64 = req.items.iter().map(|i| to_cents(i.price) * i.quantity as i64).sum();
    if charged != total {
        return Err(reject(format!("amount {:.2} does not match the order total {:.2}", charged as f64 / 100.0, total as f64 / 100.0)));
    }
    if charged <= 0 {
        return Err(reject("amount must be positive".into()));
    }
    if charged > LIMIT_CENTS {
        return Err(reject(format!(
            "amount {:.2} exceeds the per-order limit of {:.2}",
            charged as f64 / 100.0,
            LIMIT_CENTS as f64 / 100.0
        )));
    }
    let amount = charged as f64 / 100.0;
    let card_last4 = &card[card.len() - 4..];
    let authorization_code = match &req.gateway {
        Some(url) => authorise(url, &GatewayRequest { order_id: &req.order_id, amount, currency: &p.currency, card_last4 })?,
        None => {
            let code = fnv1a(format!("{}:{}:{}", req.order_id, charged, p.currency).as_bytes());
            format!("AUTH-{:08X}", code as u32)
        }
    };
    log::info(&format!("order {} approved on attempt {}", req.order_id, ctx.attempt));
    Ok(Verdict { approved: true, authorization_code, amount, currency: p.currency.clone(), card_last4: card_last4.to_string() })
}

stepwasm_guest::handler!(verify);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(input: serde_json::Value) -> Result<serde_json::Value, TaskError> {
        stepwasm_guest::call(verify, &input.to_string(), &Context::default()).map(|s| serde_json::from_str(&s).unwrap())
    }

    fn order(card: &str, amount: f64) -> serde_json::Value {
        json!({
            "orderId": "o-1",
            "payment": {"cardNumber": card, "amount": amount, "currency": "USD"},
            "items": [{"sku": "A", "quantity": 3, "price": 19.99}, {"sku": "B", "quantity": 1, "price": 0.03}]
        })
    }

    #[test]
    fn approves_a_valid_order() {
        let input = order("4111 1111 1111 1111", 60.0);
        let mut out = run(input.clone()).unwrap();
        let verdict = out.as_object_mut().unwrap().remove("paymentResult").unwrap();
        assert_eq!(out, input, "the order is passed on as it came");
        assert_eq!(verdict["approved"], true);
        assert_eq!(verdict["amount"], 60.0);
        assert_eq!(verdict["cardLast4"], "1111");
        // Deterministic: the same order gives the same code.
        assert_eq!(verdict["authorizationCode"], run(order("4111111111111111", 60.0)).unwrap()["paymentResult"]["authorizationCode"]);
    }

    #[test]
    fn rejects_each_rule() {
        let cases = [
            (order("4111111111111112", 60.0), "Luhn"),
            (order("4000000000000002", 60.0), "declined"),
            (order("4111111111111111", 59.0), "does not match the order total 60.00"),
            (order("41111", 60.0), "12 to 19 digits"),
        ];
        for (input, needle) in cases {
            let err = run(input).unwrap_err();
            assert_eq!(err.error, "PaymentVerificationFailed");
            assert!(err.cause.contains(needle), "{} should mention {needle}", err.cause);
        }
        let mut big = order("4111111111111111", 20_000.0);
        big["items"] = json!([{"sku": "A", "quantity": 1, "price": 20000.0}]);
        assert!(run(big).unwrap_err().cause.contains("per-order limit"));
        let mut yen = order("4111111111111111", 60.0);
        yen["payment"]["currency"] = json!("JPY");
        assert!(run(yen).unwrap_err().cause.contains("JPY"));
    }

    #[test]
    fn gateway_fetch_errors_are_unavailable() {
        let mut input = order("4111111111111111", 60.0);
        input["gateway"] = json!("https://gateway.example.com/authorize");
        let err = run(input.clone()).unwrap_err();
        assert_eq!(err.error, "PaymentGatewayUnavailable");
        assert!(err.cause.contains("no response from gateway https://gateway.example.com/authorize"), "{}", err.cause);
        assert!(err.cause.contains("only available inside a component"), "{}", err.cause);
        // The local rules still come first.
        input["payment"]["cardNumber"] = json!("4000000000000002");
        assert_eq!(run(input).unwrap_err().error, "PaymentVerificationFailed");
    }

    #[test]
    fn rounding_matches_std() {
        let mut values = vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.5,
            -1.5,
            2.5,
            -2.5,
            0.49999999999999994,
            -0.49999999999999994,
            4503599627370495.5,
            4503599627370497.0,
            9007199254740993.0,
            1e300,
            -1e300,
            f64::MAX,
            f64::MIN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
            9.223372036854775e18,
            -9.223372036854777e18,
            5996.999999999999,
            1999.0000000000002,
            59.97 * 100.0,
            19.99 * 100.0,
            0.03 * 100.0,
        ];
        // Cents of amounts with up to 4 decimals, and a spread of magnitudes.
        let mut x = 0.0001f64;
        for i in 0..200_000 {
            values.push(i as f64 * 0.0001 * 100.0);
            values.push(-(i as f64) * 0.0137 * 100.0);
            x *= 1.0003;
            values.push(x);
        }
        for v in values {
            assert_eq!(round_to_i64(v), v.round() as i64, "{v:e}");
        }
    }

    fn reply(status: u16, body: &str) -> http::Response {
        http::Response { status, headers: vec![], body: body.as_bytes().to_vec() }
    }

    #[test]
    fn gateway_answers() {
        let url = "https://gw.test/";
        assert_eq!(gateway_verdict(url, &reply(200, r#"{"approved": true, "authorization": "GW-42"}"#)).unwrap(), "GW-42");
        let err = gateway_verdict(url, &reply(200, r#"{"approved": false, "reason": "insufficient funds"}"#)).unwrap_err();
        assert_eq!(err, TaskError::new("PaymentVerificationFailed", "declined by the payment gateway: insufficient funds"));
        for (status, body, needle) in [
            (503, r#"{"approved": true, "authorization": "GW-42"}"#, "HTTP 503"),
            (200, "<html>", "unreadable body"),
            (200, r#"{"approved": "yes"}"#, "unreadable body"),
            (201, r#"{"approved": true}"#, "without an authorization code"),
        ] {
            let err = gateway_verdict(url, &reply(status, body)).unwrap_err();
            assert_eq!(err.error, "PaymentGatewayUnavailable", "{body}");
            assert!(err.cause.contains(needle), "{} should mention {needle}", err.cause);
        }
    }
}
