//! Customer notification: composes the message the customer would be sent.
//!
//! The module has no network capability yet, so it returns the message (channel,
//! recipient, subject, body) instead of sending it, added to its input as
//! `notification`. It knows two kinds: `order-confirmed` (the default, so the
//! order itself can be its input; the amount then comes from the payment's
//! `paymentResult`) and `payment-failed`. A missing or malformed address is
//! the ASL error `NotificationFailed`.
//!
//! Built for wasm32 the crate is `no_std` (with `alloc`): its component
//! imports nothing of WASI, only `stepwasm:task`.

#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

use alloc::{boxed::Box, format, string::String};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use stepwasm_guest::{log, Context, TaskError, WholeInput};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotifyRequest {
    #[serde(default = "order_confirmed")]
    pub kind: String,
    pub order_id: String,
    pub customer: Customer,
    /// For `payment-failed`: the error output caught by the state machine.
    #[serde(default)]
    pub reason: Option<Reason>,
    /// For `order-confirmed`: the amount charged (else the payment's).
    #[serde(default)]
    pub amount: Option<f64>,
    /// The payment step's verdict, when the whole order is passed along.
    #[serde(default)]
    pub payment_result: Option<Charged>,
}

/// What notify reads of the payment's verdict.
#[derive(Debug, Deserialize)]
pub struct Charged {
    pub amount: f64,
}

fn order_confirmed() -> String {
    String::from("order-confirmed")
}

#[derive(Debug, Deserialize)]
pub struct Customer {
    pub name: String,
    pub email: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Reason {
    pub error: String,
    #[serde(default)]
    pub cause: String,
}

#[derive(Debug, Serialize)]
pub struct Message {
    pub channel: &'static str,
    pub to: String,
    pub subject: String,
    pub body: String,
}

fn valid_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((user, domain)) => !user.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.'),
        None => false,
    }
}

/// The handler: builds the message for the request's `kind` and returns the
/// input with it added as `notification`.
pub fn compose(input: WholeInput<NotifyRequest>, _ctx: &Context) -> Result<Box<RawValue>, TaskError> {
    let message = message_for(&input.request)?;
    input.with_result("notification", &message)
}

/// The message for `req`.
fn message_for(req: &NotifyRequest) -> Result<Message, TaskError> {
    if !valid_email(&req.customer.email) {
        return Err(TaskError::new(
            "NotificationFailed",
            format!("customer {} has no valid email address ({:?})", req.customer.name, req.customer.email),
        ));
    }
    let (subject, body) = match req.kind.as_str() {
        "order-confirmed" => (
            format!("Order {} confirmed", req.order_id),
            match req.amount.or(req.payment_result.as_ref().map(|p| p.amount)) {
                Some(a) => format!("Hello {}, we received your payment of {a:.2} and your order is on its way.", req.customer.name),
                None => format!("Hello {}, your order is on its way.", req.customer.name),
            },
        ),
        "payment-failed" => {
            let why = req.reason.as_ref().map(|r| if r.cause.is_empty() { r.error.as_str() } else { r.cause.as_str() });
            (
                format!("Payment for order {} failed", req.order_id),
                format!(
                    "Hello {}, we could not take payment for your order: {}. Please check your card details and try again.",
                    req.customer.name,
                    why.unwrap_or("no reason given")
                ),
            )
        }
        other => return Err(TaskError::new("NotificationFailed", format!("unknown notification kind {other:?}"))),
    };
    log::info(&format!("composed {} message for order {}", req.kind, req.order_id));
    Ok(Message { channel: "email", to: req.customer.email.clone(), subject, body })
}

stepwasm_guest::handler!(compose);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(input: serde_json::Value) -> Result<serde_json::Value, TaskError> {
        stepwasm_guest::call(compose, &input.to_string(), &Context::default()).map(|s| serde_json::from_str(&s).unwrap())
    }

    #[test]
    fn confirmation_and_failure_messages() {
        let customer = json!({"name": "Ada", "email": "ada@example.com"});
        let ok = run(json!({"kind": "order-confirmed", "orderId": "o-7", "customer": customer, "amount": 12.5})).unwrap();
        assert_eq!(ok["orderId"], "o-7", "the input is passed on");
        let ok = &ok["notification"];
        assert_eq!(ok["subject"], "Order o-7 confirmed");
        assert_eq!(ok["to"], "ada@example.com");
        assert!(ok["body"].as_str().unwrap().contains("12.50"));
        let failed = run(json!({"kind": "payment-failed", "orderId": "o-7", "customer": customer,
            "reason": {"Error": "PaymentVerificationFailed", "Cause": "card declined"}}))
        .unwrap();
        assert!(failed["notification"]["body"].as_str().unwrap().contains("card declined"));
    }

    #[test]
    fn a_whole_order_is_confirmed_with_the_amount_its_payment_charged() {
        let order = json!({"orderId": "o-8", "customer": {"name": "Ada", "email": "ada@example.com"},
            "payment": {"amount": 99.0}, "paymentResult": {"approved": true, "amount": 64.97}});
        let out = run(order).unwrap();
        assert_eq!(out["notification"]["subject"], "Order o-8 confirmed");
        assert!(out["notification"]["body"].as_str().unwrap().contains("64.97"), "{out}");
    }

    #[test]
    fn bad_address_or_kind_fails() {
        for email in ["", "ada", "ada@", "@example.com", "ada@localhost"] {
            let err = run(json!({"kind": "order-confirmed", "orderId": "o", "customer": {"name": "A", "email": email}})).unwrap_err();
            assert_eq!(err.error, "NotificationFailed", "{email}");
        }
        let err = run(json!({"kind": "sms", "orderId": "o", "customer": {"name": "A", "email": "a@b.co"}})).unwrap_err();
        assert!(err.cause.contains("\"sms\""));
    }
}
