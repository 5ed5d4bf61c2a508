//! Page tokens: keyset, tamper-evident, bound to their operation. A token
//! names the sort key of the last item of its page, so the next page starts
//! after that item whatever was added or deleted in between (an execution
//! started between two pages of ListExecutions shows on neither twice nor
//! pushes another onto both). It is signed with this process's secret
//! (HMAC-SHA256) together with the operation it came from: a token edited,
//! made up, or given to another operation is `InvalidToken`. Tokens do not
//! outlive the process that gave them (AWS's expire after 24 hours).

use super::protocol::ApiError;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::OnceLock;

/// The order a list is in, by its items' keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Ascending,
    Descending,
}

/// One page of `items` (in `order` by `key`) for `operation`: those after
/// the item `token` names, at most `size`, and the next page's token if
/// more follow.
pub fn page<T: Clone>(
    items: &[T],
    token: Option<&str>,
    size: usize,
    operation: &str,
    order: Order,
    key: impl Fn(&T) -> String,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let start = match token {
        None => 0,
        Some(token) => {
            let after = decode(token, operation).ok_or_else(|| {
                ApiError::new("InvalidToken", format!("Invalid Token: {token:?} is not a nextToken this API gave for {operation}"))
            })?;
            items
                .iter()
                .position(|item| match order {
                    Order::Ascending => key(item) > after,
                    Order::Descending => key(item) < after,
                })
                .unwrap_or(items.len())
        }
    };
    let end = start.saturating_add(size).min(items.len());
    let next = (end < items.len() && end > start).then(|| encode(operation, &key(&items[end - 1])));
    Ok((items[start..end].to_vec(), next))
}

/// A sort key of fixed width for a number, so keys compare as numbers do.
pub fn number_key(n: i64) -> String {
    // Offset so that negative numbers sort before positive ones.
    format!("{:020}", (n as i128) - (i64::MIN as i128))
}

fn secret() -> &'static [u8; 32] {
    static SECRET: OnceLock<[u8; 32]> = OnceLock::new();
    SECRET.get_or_init(|| {
        let mut bytes = [0u8; 32];
        bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        bytes
    })
}

fn signature(operation: &str, key: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret()).expect("HMAC takes keys of any length");
    mac.update(operation.as_bytes());
    mac.update(b"\n");
    mac.update(key.as_bytes());
    mac.finalize().into_bytes().iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn encode(operation: &str, key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{}\n{key}", signature(operation, key)))
}

fn decode(token: &str, operation: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (mac, key) = text.split_once('\n')?;
    // Compared whole; a forged key needs the process's secret.
    (mac == signature(operation, key)).then(|| key.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: &u32) -> String {
        number_key(*n as i64)
    }

    #[test]
    fn pages_follow_their_tokens_to_the_end() {
        let items: Vec<u32> = (0..5).collect();
        let (first, token) = page(&items, None, 2, "List", Order::Ascending, key).unwrap();
        assert_eq!(first, [0, 1]);
        let (second, token) = page(&items, token.as_deref(), 2, "List", Order::Ascending, key).unwrap();
        assert_eq!(second, [2, 3]);
        let (last, token) = page(&items, token.as_deref(), 2, "List", Order::Ascending, key).unwrap();
        assert_eq!((last, token), (vec![4], None));
    }

    #[test]
    fn an_item_added_or_removed_before_the_token_moves_nothing_after_it() {
        let items: Vec<u32> = vec![90, 80, 70, 60];
        let (first, token) = page(&items, None, 2, "List", Order::Descending, key).unwrap();
        assert_eq!(first, [90, 80]);
        // A newer item arrives at the front, and 80 is deleted.
        let now: Vec<u32> = vec![95, 90, 70, 60];
        let (second, token) = page(&now, token.as_deref(), 2, "List", Order::Descending, key).unwrap();
        assert_eq!((second, token), (vec![70, 60], None));
    }

    #[test]
    fn a_token_made_up_edited_or_for_another_operation_is_invalid() {
        let items: Vec<u32> = (0..5).collect();
        let (_, token) = page(&items, None, 2, "ListA", Order::Ascending, key).unwrap();
        let token = token.unwrap();
        assert_eq!(page(&items, Some(&token), 2, "ListB", Order::Ascending, key).unwrap_err().code, "InvalidToken");
        assert_eq!(page(&items, Some("made-up"), 2, "ListA", Order::Ascending, key).unwrap_err().code, "InvalidToken");
        let text = String::from_utf8(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&token).unwrap()).unwrap();
        let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text.replace(&number_key(1), &number_key(0)));
        assert_eq!(page(&items, Some(&forged), 2, "ListA", Order::Ascending, key).unwrap_err().code, "InvalidToken");
        assert!(number_key(-1) < number_key(0) && number_key(9) < number_key(10));
    }
}
