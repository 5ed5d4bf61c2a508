//! Inventory update: reserves an order's items against the stock levels.
//!
//! Stock travels in the task input for now (`inventory`: sku → units on hand);
//! the kv capability will hold it later. Either every line is reserved or none
//! is: a shortage or an unknown sku is the ASL error `InventoryUpdateFailed` and
//! the stock is returned untouched by the failure (the caller keeps its input).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use stepwasm_guest::{log, Context, TaskError};

#[derive(Debug, Deserialize)]
pub struct InventoryRequest {
    pub items: Vec<Line>,
    pub inventory: BTreeMap<String, u64>,
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
    pub remaining_stock: BTreeMap<String, u64>,
}

fn fail(cause: String) -> TaskError {
    log::warn(&cause);
    TaskError::new("InventoryUpdateFailed", cause)
}

/// The handler: decrements stock for every line, all or nothing.
pub fn reserve(req: InventoryRequest, _ctx: &Context) -> Result<Reservation, TaskError> {
    let mut stock = req.inventory;
    let mut reserved: Vec<Line> = Vec::new();
    for line in &req.items {
        if line.quantity == 0 {
            return Err(fail(format!("line for {} has quantity 0", line.sku)));
        }
        let Some(on_hand) = stock.get_mut(&line.sku) else {
            return Err(fail(format!("unknown sku {}", line.sku)));
        };
        if *on_hand < line.quantity {
            return Err(fail(format!(
                "insufficient stock for {}: requested {}, available {}",
                line.sku, line.quantity, on_hand
            )));
        }
        *on_hand -= line.quantity;
        // Several lines for one sku merge into one reservation.
        match reserved.iter_mut().find(|r| r.sku == line.sku) {
            Some(r) => r.quantity += line.quantity,
            None => reserved.push(line.clone()),
        }
    }
    log::info(&format!("reserved {} sku(s)", reserved.len()));
    Ok(Reservation { reserved, remaining_stock: stock })
}

stepwasm_guest::handler!(reserve);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(input: serde_json::Value) -> Result<serde_json::Value, TaskError> {
        stepwasm_guest::call(reserve, &input.to_string(), &Context::default())
            .map(|s| serde_json::from_str(&s).unwrap())
    }

    #[test]
    fn decrements_and_merges_lines() {
        let out = run(json!({
            "items": [{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 1}, {"sku": "A", "quantity": 3}],
            "inventory": {"A": 5, "B": 4, "C": 9}
        }))
        .unwrap();
        assert_eq!(out["reserved"], json!([{"sku": "A", "quantity": 5}, {"sku": "B", "quantity": 1}]));
        assert_eq!(out["remainingStock"], json!({"A": 0, "B": 3, "C": 9}));
    }

    #[test]
    fn shortage_and_unknown_sku_fail() {
        let err = run(json!({"items": [{"sku": "A", "quantity": 2}, {"sku": "A", "quantity": 1}], "inventory": {"A": 2}}))
            .unwrap_err();
        assert_eq!(err.error, "InventoryUpdateFailed");
        assert_eq!(err.cause, "insufficient stock for A: requested 1, available 0");
        let err = run(json!({"items": [{"sku": "Z", "quantity": 1}], "inventory": {}})).unwrap_err();
        assert_eq!(err.cause, "unknown sku Z");
    }
}
