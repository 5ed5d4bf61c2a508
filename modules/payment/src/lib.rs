//! Payment verification: approves or rejects an order's card payment.
//!
//! Rules, checked in order (the first that fails names the reason):
//! 1. the currency is one we accept;
//! 2. the card number is 12–19 digits and passes the Luhn checksum;
//! 3. the card is not on the decline list (test cards that issuers decline);
//! 4. the amount charged equals the order total (sum of price × quantity);
//! 5. the amount is positive and within the per-order limit.
//!
//! A rejection is the ASL error `PaymentVerificationFailed`; an approval returns
//! a deterministic authorisation code so replays give the same output.

use serde::{Deserialize, Serialize};
use stepwasm_guest::{log, Context, TaskError};

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
    (amount * 100.0).round() as i64
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

/// The handler: verifies `req.payment` against the rules above.
pub fn verify(req: PaymentRequest, ctx: &Context) -> Result<Verdict, TaskError> {
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
        return Err(reject(format!(
            "amount {:.2} does not match the order total {:.2}",
            charged as f64 / 100.0,
            total as f64 / 100.0
        )));
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
    let code = fnv1a(format!("{}:{}:{}", req.order_id, charged, p.currency).as_bytes());
    log::info(&format!("order {} approved on attempt {}", req.order_id, ctx.attempt));
    Ok(Verdict {
        approved: true,
        authorization_code: format!("AUTH-{:08X}", code as u32),
        amount: charged as f64 / 100.0,
        currency: p.currency.clone(),
        card_last4: card[card.len() - 4..].to_string(),
    })
}

stepwasm_guest::handler!(verify);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(input: serde_json::Value) -> Result<serde_json::Value, TaskError> {
        stepwasm_guest::call(verify, &input.to_string(), &Context::default())
            .map(|s| serde_json::from_str(&s).unwrap())
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
        let out = run(order("4111 1111 1111 1111", 60.0)).unwrap();
        assert_eq!(out["approved"], true);
        assert_eq!(out["amount"], 60.0);
        assert_eq!(out["cardLast4"], "1111");
        // Deterministic: the same order gives the same code.
        assert_eq!(out["authorizationCode"], run(order("4111111111111111", 60.0)).unwrap()["authorizationCode"]);
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
}
