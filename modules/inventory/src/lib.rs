//! Inventory update: reserves an order's items against the stock levels.
//!
//! Stock lives in the host's `kv` capability (the namespace is the resource's
//! grant in `stepwasm.toml`): the units on hand of each sku are stored under the
//! sku as a JSON number. The input is the order: its lines
//! (`{"items": [{"sku", "quantity"}, ...]}`) are reserved, and the order is
//! returned as it came with the reservation added as `inventoryResult`.
//!
//! Either every line is reserved or none is: the new levels are computed first
//! and written only when every line fits. A shortage or an unknown sku is the
//! ASL error `InventoryUpdateFailed` and nothing is written (in a component the
//! host also discards the writes of any failed attempt). A kv failure, or a
//! stored level that is not a whole number, is the ASL error `KvFailed`.
//!
//! Built for wasm32 the crate is `no_std` (with `alloc`): its component
//! imports nothing of WASI, only `stepwasm:task`.

#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

use alloc::{boxed::Box, collections::BTreeMap, format, string::String, vec::Vec};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use stepwasm_guest::{kv, log, Context, TaskError, WholeInput};

#[derive(Debug, Deserialize)]
pub struct InventoryRequest {
    pub items: Vec<Line>,
}

#[derive(Debug, Deserialize, Serialize, Clone, PartialEq)]
pub struct Line {
    pub sku: String,
    pub quantity: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reservation {
    pub reserved: Vec<Line>,
    /// The new units on hand of every sku the order touched.
    pub remaining_stock: BTreeMap<String, u64>,
}

fn fail(cause: String) -> TaskError {
    log::warn(&cause);
    TaskError::new("InventoryUpdateFailed", cause)
}

/// The handler: decrements stock for every line of the order, all or
/// nothing, and returns the order with the reservation as `inventoryResult`.
pub fn reserve(order: WholeInput<InventoryRequest>, _ctx: &Context) -> Result<Box<RawValue>, TaskError> {
    let reservation = reserve_lines(&order.request)?;
    order.with_result("inventoryResult", &reservation)
}

/// Reserves `req`'s lines.
fn reserve_lines(req: &InventoryRequest) -> Result<Reservation, TaskError> {
    // The touched skus' levels, read from kv once each, then decremented here.
    let mut stock: BTreeMap<String, u64> = BTreeMap::new();
    let mut reserved: Vec<Line> = Vec::new();
    for line in &req.items {
        if line.quantity == 0 {
            return Err(fail(format!("line for {} has quantity 0", line.sku)));
        }
        if !stock.contains_key(&line.sku) {
            let Some(units) = kv::get_json::<u64>(&line.sku)? else {
                return Err(fail(format!("unknown sku {}", line.sku)));
            };
            stock.insert(line.sku.clone(), units);
        }
        let on_hand = stock.get_mut(&line.sku).expect("loaded above");
        if *on_hand < line.quantity {
            return Err(fail(format!("insufficient stock for {}: requested {}, available {}", line.sku, line.quantity, on_hand)));
        }
        *on_hand -= line.quantity;
        // Several lines for one sku merge into one reservation.
        match reserved.iter_mut().find(|r| r.sku == line.sku) {
            Some(r) => r.quantity += line.quantity,
            None => reserved.push(line.clone()),
        }
    }
    // Every line fits: write the new levels.
    for (sku, units) in &stock {
        kv::set_json(sku, units)?;
    }
    log::info(&format!("reserved {} sku(s)", reserved.len()));
    Ok(Reservation { reserved, remaining_stock: stock })
}

stepwasm_guest::handler!(reserve);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn seed(stock: &[(&str, u64)]) {
        kv::clear_native();
        for (sku, units) in stock {
            kv::set(sku, &units.to_string()).unwrap();
        }
    }

    fn level(sku: &str) -> Option<String> {
        kv::get(sku).unwrap()
    }

    fn run(input: serde_json::Value) -> Result<serde_json::Value, TaskError> {
        stepwasm_guest::call(reserve, &input.to_string(), &Context::default()).map(|s| serde_json::from_str(&s).unwrap())
    }

    #[test]
    fn decrements_and_merges_lines() {
        seed(&[("A", 5), ("B", 4), ("C", 9)]);
        let out = run(json!({
            "items": [{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 1}, {"sku": "A", "quantity": 3}],
            "orderId": "passed-on"
        }))
        .unwrap();
        assert_eq!(out["orderId"], "passed-on");
        let out = &out["inventoryResult"];
        assert_eq!(out["reserved"], json!([{"sku": "A", "quantity": 5}, {"sku": "B", "quantity": 1}]));
        assert_eq!(out["remainingStock"], json!({"A": 0, "B": 3}));
        assert_eq!((level("A"), level("B"), level("C")), (Some("0".into()), Some("3".into()), Some("9".into())));
        // The new levels are what the next order sees.
        let err = run(json!({"items": [{"sku": "A", "quantity": 1}]})).unwrap_err();
        assert_eq!(err.cause, "insufficient stock for A: requested 1, available 0");
    }

    #[test]
    fn shortage_and_unknown_sku_fail_without_writing() {
        seed(&[("A", 2), ("B", 4)]);
        let err =
            run(json!({"items": [{"sku": "B", "quantity": 1}, {"sku": "A", "quantity": 2}, {"sku": "A", "quantity": 1}]})).unwrap_err();
        assert_eq!(err.error, "InventoryUpdateFailed");
        assert_eq!(err.cause, "insufficient stock for A: requested 1, available 0");
        let err = run(json!({"items": [{"sku": "B", "quantity": 1}, {"sku": "Z", "quantity": 1}]})).unwrap_err();
        assert_eq!(err.error, "InventoryUpdateFailed");
        assert_eq!(err.cause, "unknown sku Z");
        let err = run(json!({"items": [{"sku": "B", "quantity": 0}]})).unwrap_err();
        assert_eq!(err.cause, "line for B has quantity 0");
        // Nothing was written by the failed attempts.
        assert_eq!((level("A"), level("B")), (Some("2".into()), Some("4".into())));
    }

    #[test]
    fn a_bad_stored_level_is_kv_failed() {
        seed(&[]);
        kv::set("A", "\"lots\"").unwrap();
        let err = run(json!({"items": [{"sku": "A", "quantity": 1}]})).unwrap_err();
        assert_eq!(err.error, "KvFailed");
        assert!(err.cause.contains("\"A\""), "{}", err.cause);
    }
}
